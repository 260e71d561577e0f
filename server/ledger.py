"""The one owner of phrase state: the journal, the audio spool and the phrase events.

Every change of a phrase's status goes through `Ledger.set`, which writes the
journal (fsync'd) and then publishes exactly one `PhraseEvent` for the change,
with the latency from the end of speech. No other code updates a status or
publishes a phrase event, so the journal and what `stt tail` shows cannot drift.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import numpy as np

from ..protocol.messages import HistoryEntry, PhraseEvent, PhraseStatus

from .events import EventBus
from .history import History
from .spool import Spool, Spooled
from .wav import SAMPLE_RATE

log = logging.getLogger(__name__)

QUIET: frozenset[str] = frozenset({"typing"})
"""Statuses journaled but not announced: `typing` is a write-ahead mark on the way to
the keyboard, followed at once by `typed`, `held` or `failed`, which are announced."""

SETTLED: frozenset[str] = frozenset({"transcribed", "typing", "typed", "held", "empty", "filtered", "cancelled", "recovered", "interrupted"})
"""Statuses that hold a phrase's outcome: spooled audio of such a phrase is only left over."""


class Ledger:
    """Journal + spool + events for every phrase, behind one small interface."""

    def __init__(self, state_dir: Path, bus: EventBus) -> None:
        self.history = History(state_dir / "history.sqlite3")
        self.spool = Spool(state_dir / "spool")
        self._bus = bus

    async def open(self) -> tuple[int, int]:
        """Open the journal and settle what a crash left; return the last (phrase, recording) numbers used."""
        await self.history.open()
        settled = await self.history.settle_after_crash()
        if settled:
            log.warning("%d phrase(s) were left mid-typing by a previous run; marked interrupted, not retyped", settled)
        last_seq, last_rec = await self.history.last_ids()
        spooled = self.spool.pending()
        if spooled:
            last_seq = max(last_seq, max(s.seq for s in spooled))
            last_rec = max(last_rec, max(s.recording for s in spooled))
        return last_seq, last_rec

    async def close(self) -> None:
        """Close the journal."""
        await self.history.close()

    async def recent(self, limit: int) -> list[HistoryEntry]:
        """The last `limit` phrases, oldest first."""
        return await self.history.recent(limit)

    def spooled(self) -> list[Spooled]:
        """Phrases whose audio a previous run left without a transcript, oldest first."""
        return self.spool.pending()

    async def record(self, seq: int, recording: int, audio: np.ndarray, speech_end: float | None) -> None:
        """A new phrase: journal it as `recorded` and keep its audio until its transcript is safe.

        The audio is written even when the journal fails; the first failure is raised."""
        try:
            await self.history.add(seq, recording, len(audio) / SAMPLE_RATE, speech_end)
        finally:
            await self.spool.write(seq, recording, audio)

    async def note(self, seq: int, note: str) -> None:
        """Attach a note (a failed try, say) without changing the status."""
        await self.history.update(seq, note=note)

    async def set(self, seq: int, status: PhraseStatus, **fields) -> HistoryEntry | None:
        """Change a phrase's status (and other columns); journal it, then announce it once."""
        now = time.time()
        entry = await self.history.update(seq, status=status, **fields)
        if entry is not None and status not in QUIET:
            at = fields.get("typed_at") or fields.get("transcribed_at") or now
            latency = at - entry.speech_end if entry.speech_end else None
            self._bus.publish(PhraseEvent(entry=entry, latency=latency))
        return entry

    async def unspool(self, seq: int, recording: int) -> None:
        """Forget a phrase's audio: its transcript is in the journal, or it was discarded."""
        await self.spool.remove(seq, recording)

    async def failed(self, seq: int, recording: int, audio: np.ndarray, speech_end: float | None, why: str) -> str:
        """A phrase that could not be carried to text: keep its audio (written again if it is not
        in the spool yet) and journal it as `failed`; return the note, which names the audio file."""
        path = self.spool.path_for(seq, recording)
        try:
            if not path.exists():
                await self.spool.write(seq, recording, audio)
            note = f"{why}; its audio is kept in {path}"
        except Exception as exc:  # noqa: BLE001 - the phrase is reported either way
            note = f"{why}; its audio could not be kept either ({type(exc).__name__}: {exc})"
        await self.history.add(seq, recording, len(audio) / SAMPLE_RATE, speech_end)
        await self.set(seq, "failed", note=note)
        return note

    async def holds_text(self, item: Spooled) -> bool:
        """Whether the journal already has this spooled phrase's outcome (its audio is then only left over)."""
        entry = await self.history.get(item.seq)
        if entry is None or entry.recording != item.recording:
            return False
        return entry.status in SETTLED or (entry.status == "failed" and bool(entry.text))

    async def unreadable(self, item: Spooled, why: str) -> Path:
        """Spooled audio that cannot be read: move it aside (kept) and journal the phrase as `unreadable`."""
        aside = await asyncio.to_thread(self.spool.set_aside, item)
        note = f"its spooled audio cannot be read ({why}); moved to {aside}"
        log.warning("phrase %d: %s", item.seq, note)
        await self.history.add(item.seq, item.recording, 0.0, None)
        await self.set(item.seq, "unreadable", note=note)
        return aside

    async def recovered(self, item: Spooled, audio_seconds: float, text: str, note: str) -> None:
        """A phrase a crash left in the spool, transcribed now: journal it as `recovered`, drop its audio."""
        await self.history.add(item.seq, item.recording, audio_seconds, None)
        await self.set(item.seq, "recovered", text=text, transcribed_at=time.time(), note=note)
        await self.unspool(item.seq, item.recording)
