"""Spoken commands (`commands = true`): "scratch that", "new line", "new paragraph", spoken punctuation.

A command acts only on a phrase boundary, so ordinary speech is left alone: "scratch
that", "new line" and "new paragraph" only as a phrase of their own (say them after
a pause), a punctuation word ("comma", "period", "question mark"...) only as a whole
phrase or as the last words of one. "A new line of products" is typed as said.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PUNCTUATION = {
    "comma": ",",
    "period": ".",
    "full stop": ".",
    "question mark": "?",
    "exclamation mark": "!",
    "exclamation point": "!",
    "colon": ":",
    "semicolon": ";",
}
"""Spoken punctuation and what it types."""
BREAKS = {"new line": 1, "newline": 1, "new paragraph": 2}
"""Spoken line breaks and how many."""
SCRATCH = frozenset({"scratch that"})
"""Phrases that take back the last phrase typed."""

_WORD = re.compile(r"[A-Za-z']+")


@dataclass(frozen=True)
class Spoken:
    """A phrase after its commands: the text to type, and what to do besides."""

    text: str
    scratch: bool = False
    """Take back the last phrase typed (instead of typing anything)."""
    breaks: int = 0
    """Line breaks after the text."""


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def parse(text: str) -> Spoken:
    """What a decoded phrase means when commands are on."""
    words = _words(text)
    whole = " ".join(words)
    if whole in SCRATCH:
        return Spoken("", scratch=True)
    if whole in BREAKS:
        return Spoken("", breaks=BREAKS[whole])
    for spoken, mark in PUNCTUATION.items():
        n = len(spoken.split())
        if len(words) >= n and " ".join(words[-n:]) == spoken:
            # Cut the spoken words (and whatever mark the model put after them) off the end.
            cut = _cut_last_words(text, n)
            return Spoken(cut.rstrip(" ,.;:!?") + mark)
    return Spoken(text)


def _cut_last_words(text: str, n: int) -> str:
    """`text` without its last `n` words (and what follows them)."""
    matches = list(_WORD.finditer(text))
    return text[: matches[-n].start()].rstrip()
