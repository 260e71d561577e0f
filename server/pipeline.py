"""The phrase pipeline: phrase events in, resolved phrases out to the typist.

For each phrase: number it, journal and spool it (the ledger), transcribe it
(retrying; the resilient transcriber), turn the transcript into text (`to_text`:
the guard, then clean-up), store that, and hand it to the typist, which types in
spoken order. A pause that may end a phrase starts a speculative decode of the
same samples, so usually only the pause stands between speech and text.
Crash recovery (`recover`) uses the same `to_text`, and never types.
"""

from __future__ import annotations

import asyncio
import logging
import time
import wave
from dataclasses import dataclass
from functools import partial

from .guard import judge
from .injector import clean
from .ledger import Ledger
from .recorder import Recording
from .resilient import ResilientTranscriber
from .segmenter import Phrase, Retract, SegEvent, Speculate
from .tasks import Tasks
from .transcript import SegmentScore, TranscribeError
from .typist import Ready, Typist
from .wav import SAMPLE_RATE, read_wav

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Text:
    """What a transcript becomes."""

    typed: str
    """What to type; empty when nothing should be."""
    stored: str
    """What the journal keeps: the typed text, or what the guard filtered out."""
    status: str
    """`transcribed`, `filtered` or `empty`."""
    reason: str | None = None
    """Why the guard filtered something, if it did."""


def to_text(segments: list[SegmentScore], speech_seconds: float, replacements: dict[str, str]) -> Text:
    """Judge the segments (drop hallucinated silence) and clean what is kept."""
    kept, dropped, reason = judge(segments, speech_seconds)
    typed = clean(kept, replacements)
    status = "transcribed" if typed else ("filtered" if dropped else "empty")
    return Text(typed, typed or clean(dropped), status, reason)


class Pipeline:
    """Numbers phrases and carries each from audio to the typist; many phrases run at once."""

    def __init__(self, transcriber: ResilientTranscriber, ledger: Ledger, typist: Typist, replacements: dict[str, str]) -> None:
        self._transcriber = transcriber
        self._ledger = ledger
        self._typist = typist
        self._replacements = replacements
        self._tasks = Tasks()
        self.next_seq = 1
        """The number the next phrase gets (set from the journal at start-up)."""

    def on_event(self, rec: Recording, ev: SegEvent) -> None:
        """One event from the recorder, in the order the segmenter made them."""
        if isinstance(ev, Speculate):
            # Only speculate on an idle model: a wasted guess must not delay a real phrase.
            if self._transcriber.inflight == 0:
                fut = asyncio.ensure_future(self._transcriber.transcribe(ev.audio))
                fut.add_done_callback(lambda f: f.cancelled() or f.exception())
                rec.specs[ev.pid] = fut
        elif isinstance(ev, Retract):
            stale = rec.specs.pop(ev.pid, None)
            if stale is not None:
                stale.cancel()  # a remote request stops; a local decode finishes unseen
        elif isinstance(ev, Phrase):
            spec = rec.specs.pop(ev.pid, None) if ev.speculated else None
            seq = self.next_seq
            self.next_seq += 1
            self._typist.expect(seq)
            self._tasks.spawn(self._phrase(rec, seq, ev, spec), f"phrase-{seq}")

    async def _phrase(self, rec: Recording, seq: int, ph: Phrase, spec: asyncio.Future | None) -> None:
        """Journal, spool, transcribe, judge and hand one phrase to the typist."""
        speech_end = (rec.t0 or rec.started) + ph.speech_end / SAMPLE_RATE
        delivered = False
        try:
            await self._ledger.record(seq, rec.number, ph.audio, speech_end)
            result = await self._transcriber.transcribe_phrase(
                seq, ph.audio, first=spec, cancelled=lambda: rec.cancelled, note=partial(self._ledger.note, seq)
            )
            if result is None:  # cancelled while it waited for a retry
                await self._ledger.unspool(seq, rec.number)
                return
            out = to_text(result.segments, ph.speech_seconds, self._replacements)
            note = f"filtered: {out.reason}" if out.reason else None
            await self._ledger.set(seq, out.status, text=out.stored, note=note, transcribed_at=time.time())
            # The transcript is durable now: hand it to the typist, then drop the audio.
            self._typist.deliver(Ready(seq, rec.number, out.typed or None, rec.window))
            delivered = True
            await self._ledger.unspool(seq, rec.number)
        finally:
            if not delivered:
                self._typist.deliver(Ready(seq, rec.number, None))

    async def shutdown(self) -> None:
        """Cancel phrases still in flight (their audio stays in the spool)."""
        await self._tasks.cancel("server shutting down")


async def recover(ledger: Ledger, transcriber: ResilientTranscriber, replacements: dict[str, str]) -> int:
    """Transcribe phrases a crash left in the spool into the journal; never type them. Return how many."""
    done = 0
    for item in ledger.spooled():
        try:
            audio = await asyncio.to_thread(read_wav, item.path)
            result = await transcriber.transcribe(audio)
        except (TranscribeError, OSError, EOFError, ValueError, wave.Error) as exc:  # left in the spool, tried again next start
            log.warning("could not recover spooled phrase %d: %s", item.seq, exc)
            continue
        seconds = len(audio) / SAMPLE_RATE
        out = to_text(result.segments, seconds, replacements)
        note = "recovered from the spool after a crash; not typed" + (f" (guard: {out.reason})" if out.reason else "")
        await ledger.recovered(item, seconds, out.stored, note)
        log.info("recovered phrase %d from the spool", item.seq)
        done += 1
    return done
