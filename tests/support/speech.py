"""The evaluation set in shared/eval/speech beside the checkout: references, a normaliser and word error rate."""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

SPEECH_DIR = Path(os.environ.get("STT_SPEECH_DIR", Path(__file__).resolve().parents[3] / "shared" / "eval" / "speech"))
"""Where the recordings and refs.tsv live (override with STT_SPEECH_DIR)."""


@dataclass(frozen=True)
class Clip:
    """One recording and its reference transcript."""

    path: Path
    seconds: float
    reference: str


def clips() -> list[Clip]:
    """Every clip listed in refs.tsv, in file order."""
    with open(SPEECH_DIR / "refs.tsv", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return [Clip(SPEECH_DIR / r["file"], float(r["seconds"]), r["reference"]) for r in rows]


def normalise(text: str) -> list[str]:
    """Lower case, hyphens to spaces, punctuation and apostrophes removed, split into words."""
    text = text.lower().replace("-", " ").replace("—", " ")
    text = re.sub(r"[’']", "", text)
    text = re.sub(r"[^\w\s]", " ", text)
    return text.split()


def edit_distance(ref: Sequence[str], hyp: Sequence[str]) -> int:
    """Levenshtein distance: of words for lists of words, of characters for two strings."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def wer(refs: list[str], hyps: list[str]) -> float:
    """Corpus word error rate: total edits over total reference words."""
    edits = words = 0
    for r, h in zip(refs, hyps, strict=True):
        rw, hw = normalise(r), normalise(h)
        edits += edit_distance(rw, hw)
        words += len(rw)
    return edits / max(words, 1)
