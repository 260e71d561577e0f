"""Phrase audio kept on disk until its transcript is in the history, so a crash loses no speech."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .wav import SAMPLE_RATE, from_pcm16, write_wav

log = logging.getLogger(__name__)

_NAME = re.compile(r"^(\d{10})-(\d{8})\.wav$")
UNREADABLE = "unreadable"
"""Where spooled files that cannot be read are moved, under the spool: kept, never read again."""


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

    def read(self, item: Spooled) -> np.ndarray:
        """The samples of a spooled phrase; wave.Error (or OSError, EOFError) when the file is not
        one this spool wrote: 16 kHz mono 16-bit with at least one sample."""
        with wave.open(str(item.path), "rb") as w:
            shape = (w.getnchannels(), w.getsampwidth(), w.getframerate())
            if shape != (1, 2, SAMPLE_RATE):
                raise wave.Error(f"{shape[0]} channel(s), {8 * shape[1]}-bit, {shape[2]} Hz; expected mono 16-bit {SAMPLE_RATE} Hz")
            frames = w.readframes(w.getnframes())
        if len(frames) < 2 or len(frames) % 2:
            raise wave.Error(f"{len(frames)} bytes of samples")
        return from_pcm16(frames)

    def set_aside(self, item: Spooled) -> Path:
        """Move a file that cannot be read to `unreadable/` beside the spool (kept for a person); return where."""
        aside = self.dir / UNREADABLE
        aside.mkdir(exist_ok=True)
        dest, n = aside / item.path.name, 1
        while dest.exists():
            dest, n = aside / f"{item.path.stem}.{n}{item.path.suffix}", n + 1
        os.replace(item.path, dest)
        return dest

    def pending(self) -> list[Spooled]:
        """Phrases left behind, oldest first; half-written temp files are dropped."""
        try:
            entries = sorted(self.dir.iterdir()) if self.dir.is_dir() else []
        except OSError as exc:  # a spool that cannot be listed must not stop the server
            log.warning("cannot list the spool %s: %s", self.dir, exc)
            return []
        out = []
        for p in entries:
            m = _NAME.match(p.name)
            if m:
                out.append(Spooled(int(m.group(1)), int(m.group(2)), p))
            elif p.suffix == ".tmp":
                try:
                    p.unlink(missing_ok=True)
                except OSError as exc:
                    log.warning("cannot remove the half-written %s: %s", p, exc)
        return out

