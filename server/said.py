"""The recording's text so far, as typed: what each phrase waits for (bounded) to be decoded and joined after."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import numpy as np

from .joiner import split_lead

CONTEXT_WAIT = 3.0
"""Seconds a phrase waits for the one before it to be its context; then it is decoded alone."""
JOIN_WAIT = 60.0
"""Seconds a phrase waits for the one before it to be joined to it; then it only gets a space."""
KEPT = 1000
"""Characters of a recording's text kept for context and joining."""


@dataclass(frozen=True)
class Said:
    """A recording's text so far, as typed, once a phrase of it is resolved."""

    recording: int
    window: str | None
    text: str
    last: int | None = None
    """The number of the recording's last phrase that typed text, if any."""
    last_text: str = ""
    """That phrase's text, as the history has it."""
    last_len: int = 0
    """How many characters that phrase put on the screen (its leading space included)."""
    last_audio: np.ndarray | None = None
    """That phrase's audio, for the next phrase's led decode."""


def after(number: int, window: str | None, before: Said | None, seq: int, typed: str, erased: int, audio: np.ndarray | None = None) -> Said:
    """The recording's text after phrase `seq` typed `typed` from `audio`, having first erased `erased` characters
    of the phrase before (its end mark, or the whole phrase: scratch that)."""
    same = before is not None and before.recording == number
    so_far = before.text if same else ""
    if erased and not typed and same and before.last_len:  # scratch that: the last phrase is gone
        return Said(number, window, so_far[: -before.last_len])
    if erased and so_far:
        so_far = so_far.rstrip()[:-erased]
    if not typed:
        return Said(number, window, so_far, before.last if same else None, before.last_text if same else "",
                    before.last_len if same else 0, before.last_audio if same else None)  # fmt: skip
    return Said(number, window, (so_far + typed)[-KEPT:], seq, split_lead(typed)[1], len(typed), audio)  # its words, not the mark before them


async def wait(fut: asyncio.Future | None, timeout: float) -> Said | None:
    """The previous phrase's Said within `timeout` seconds, else None."""
    if fut is None:
        return None
    try:
        return await asyncio.wait_for(asyncio.shield(fut), timeout)
    except TimeoutError:
        return None
