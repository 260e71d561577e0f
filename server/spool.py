"""Phrase audio kept on disk until its transcript is in the history, so a crash loses no speech."""

from __future__ import annotations

import asyncio
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .wav import write_wav

log = logging.getLogger(__name__)

_NAME = re.compile(r"^(\d{10})-(\d{8})\.wav$")


@dataclass(frozen=True)
class Spooled:
    """One phrase waiting in the spool."""

    seq: int
    recording: int
    path: Path


class Spool:
    """A directory of 16-bit WAV files named by phrase and recording number."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory

    def path_for(self, seq: int, recording: int) -> Path:
        """Where a phrase's audio lives."""
        return self.dir / f"{seq:010d}-{recording:08d}.wav"

    def _write(self, seq: int, recording: int, audio: np.ndarray) -> Path:
        self.dir.mkdir(parents=True, exist_ok=True)
        final = self.path_for(seq, recording)
        tmp = final.with_suffix(".tmp")
        with open(tmp, "wb") as raw:
            write_wav(raw, audio)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, final)  # a crash leaves either no file or a whole one
        dfd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
        return final

    async def write(self, seq: int, recording: int, audio: np.ndarray) -> Path:
        """Store a phrase durably (in a worker thread)."""
        return await asyncio.to_thread(self._write, seq, recording, audio)

    async def remove(self, seq: int, recording: int) -> None:
        """Forget a phrase whose transcript is safe in the history."""
        path = self.path_for(seq, recording)
        await asyncio.to_thread(path.unlink, True)

    def pending(self) -> list[Spooled]:
        """Phrases left behind, oldest first; half-written temp files are dropped."""
        if not self.dir.is_dir():
            return []
        out = []
        for p in sorted(self.dir.iterdir()):
            m = _NAME.match(p.name)
            if m:
                out.append(Spooled(int(m.group(1)), int(m.group(2)), p))
            elif p.suffix == ".tmp":
                p.unlink(missing_ok=True)
        return out

