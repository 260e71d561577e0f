"""The phrase pipeline: phrase events in, resolved phrases out to the typist.

For each phrase: number it, journal and spool it (the ledger), transcribe it
(retrying; the resilient transcriber), turn the transcript into text (`to_text`:
the guard, then clean-up), store that, and hand it to the typist, which types in
spoken order. A pause that may end a phrase starts a speculative decode of the
same samples, so usually only the pause stands between speech and text.
Each phrase is decoded with the text said before it in the same recording as the
prompt (context), and joined to it (joiner.py): phrase n waits, bounded, for phrase
n-1's text. Where the model allows (the local one), phrase n-1 is decoded again in
front of phrase n with its last words forced (a `Lead`), so the model hears across
the pause and puts the punctuation between the two as it would in one piece.
Crash recovery (recovery.py) uses the same `to_text`, and never types.
Anything but a cancel that goes wrong on the way marks the phrase `failed` with the
reason, its audio kept in the spool, and reports a fault; later phrases go on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

from .commands_spoken import parse as parse_commands
from .guard import judge, repeats
from .injector import clean
from .joiner import Amend, as_context, goes_on, join, relead, split_lead, tail, without_mark
from .ledger import Ledger
from .recorder import Recording
from .resilient import ResilientTranscriber
from .said import CONTEXT_WAIT, JOIN_WAIT, Said, after, wait
from .segmenter import Phrase, Retract, SegEvent, Speculate
from .settings import Settings
from .tasks import Tasks
from .transcript import Lead, SegmentScore, Transcript
from .typist import Ready, Typist
from .wav import SAMPLE_RATE

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

    def __init__(
        self, transcriber: ResilientTranscriber, ledger: Ledger, typist: Typist, settings: Settings,
        on_fault: Callable[[str | None], None] = lambda message: None,
    ) -> None:  # fmt: skip
        """`on_fault` hears why a phrase failed or could not be spooled, and None after a phrase that went through."""
        self._on_fault = on_fault
        self._transcriber = transcriber
        self._ledger = ledger
        self._typist = typist
        self._replacements = settings.replacements
        self._context_chars = settings.context_chars if transcriber.takes_prompt else 0  # Wyoming: no wait for context it cannot send
        self._leading = settings.leading_space
        self._commands = settings.commands
        self._said: dict[int, asyncio.Future[Said]] = {}  # by phrase number, the last few
        self._last_recording: int | None = None
        self._tasks = Tasks()
        self.next_seq = 1
        """The number the next phrase gets (set from the journal at start-up)."""

    def on_event(self, rec: Recording, ev: SegEvent) -> None:
        """One event from the recorder, in the order the segmenter made them."""
        if isinstance(ev, Speculate):
            # Only speculate on an idle model: a wasted guess must not delay a real phrase.
            if self._transcriber.inflight == 0:
                prev = self._said.get(self.next_seq - 1)
                context = self._context(rec, prev.result() if prev is not None and prev.done() else None, self.next_seq)
                fut = asyncio.ensure_future(self._transcriber.transcribe(ev.audio, *context))
                fut.add_done_callback(lambda f: f.cancelled() or f.exception())
                rec.specs[ev.pid] = (fut, _key(context))
        elif isinstance(ev, Retract):
            stale = rec.specs.pop(ev.pid, None)
            if stale is not None:
                stale[0].cancel()  # a remote request stops; a local decode finishes unseen
        elif isinstance(ev, Phrase):
            spec = rec.specs.pop(ev.pid, (None, None)) if ev.speculated else (None, None)
            seq = self.next_seq
            self.next_seq += 1
            first = self._last_recording != rec.number
            self._last_recording = rec.number
            prev = self._said.get(seq - 1)
            mine = self._said[seq] = asyncio.get_running_loop().create_future()
            self._said.pop(seq - 8, None)  # later phrases already hold what they wait for
            self._typist.expect(seq)
            self._tasks.spawn(self._phrase(rec, seq, ev, spec, (prev, mine), first), f"phrase-{seq}")

    def _context(self, rec: Recording, before: Said | None, seq: int) -> tuple[str | None, Lead | None]:
        """(prompt, lead) for phrase `seq` of `rec`: the end of its text so far, and phrase seq-1 to lead it where it can."""
        if before is None or before.recording != rec.number or not self._context_chars:
            return None, None
        if self._transcriber.takes_lead and before.last == seq - 1 and before.last_audio is not None:
            earlier = before.text[: len(before.text) - len(before.last_text)]  # the mark before the lead stays
            lead = Lead(seq - 1, before.last_audio, without_mark(before.last_text))
            return tail(earlier, self._context_chars) or None, lead
        return as_context(tail(before.text, self._context_chars)) or None, None

    def _joined(self, rec: Recording, before: Said | None, first: bool, text: str) -> str:
        """`text` in its place after what was typed before it (joiner.py), with the leading-space rule for a first phrase."""
        if before is not None and before.recording == rec.number:
            return join(before.text, text)
        if first and before is not None and self._leading == "auto" and rec.window is not None and before.window == rec.window:
            return join(None, text, space=bool(before.text))  # goes on where the last recording typed; its case is the model's
        return join(None, text, space=self._leading == "always" or not first)

    async def _decode(self, rec: Recording, seq: int, ph: Phrase, spec: tuple, context: tuple) -> tuple[Transcript | None, str | None]:
        """Transcribe with the context; a result that reads the context back is decoded again without it (and a note says so);
        a led decode that adds no words of its own is decoded again alone."""
        first, spec_key = spec
        if first is not None and spec_key != _key(context):
            first.cancel()  # guessed with other context: a local decode finishes unseen
            first = None
        again = partial(
            self._transcriber.transcribe_phrase, seq, ph.audio, cancelled=lambda: rec.cancelled, note=partial(self._ledger.note, seq)
        )
        prompt, lead = context
        result = await again(first=first, prompt=prompt, lead=lead)
        if result is not None and result.after_lead and lead is not None:
            words = split_lead(result.text)[1]
            if words and not repeats(words, f"{prompt or ''} {lead.text}"):
                return result, None
            log.info("phrase %d: led by phrase %d it read %r; decoding it alone", seq, lead.seq, result.text[:80])
            prompt = " ".join(p for p in (prompt, lead.text) if p)
            result = await again(prompt=prompt)
        if result is not None and prompt and repeats(result.text, prompt):
            log.info("phrase %d read its context back (%r); decoding it again alone", seq, result.text[:80])
            return await again(prompt=None), f"guard: {result.text[:80]!r} repeats the context; decoded again without it"
        return result, None

    async def _phrase(self, rec: Recording, seq: int, ph: Phrase, spec: tuple, said: tuple, first: bool) -> None:
        """Journal, spool, transcribe with context, judge, join and hand one phrase to the typist.

        `said` is (the previous phrase's Said future or None, this phrase's, resolved here whatever happens).
        """
        prev, mine = said
        speech_end = (rec.t0 or rec.started) + ph.speech_end / SAMPLE_RATE
        delivered = False
        before: Said | None = None
        typed = ""
        amend: Amend | None = None
        try:
            kept = await self._keep(seq, rec.number, ph.audio, speech_end)
            before = await wait(prev, CONTEXT_WAIT) if self._context_chars else None
            result, readback = await self._decode(rec, seq, ph, spec, self._context(rec, before, seq))
            if result is None:  # cancelled while it waited for a retry
                await self._drop_audio(seq, rec.number)
                return
            out = to_text(result.segments, ph.speech_seconds, self._replacements)
            mark = None  # after a led decode: the mark the model put between the phrase before and this one
            if result.after_lead and out.typed:
                mark, body = split_lead(out.typed)
                out = Text(body, body or out.stored, out.status if body else "empty", out.reason)
            done_at = time.time()  # transcribed now, whatever joining waits for
            said = parse_commands(out.typed) if self._commands and out.typed else None
            if said is not None and (said.scratch or said.breaks):
                before = before or await wait(prev, JOIN_WAIT)
                same = before is not None and before.recording == rec.number and before.last is not None
                if said.scratch:  # phrase 0 never was: with nothing of this recording typed, the typist says it is not done
                    amend = Amend(before.last if same else 0, before.last_len if same else 0, "", plain="")
                await self._ledger.set(seq, out.status, text=out.typed, note=f"spoken command: {out.typed}", transcribed_at=done_at)
                self._typist.deliver(Ready(seq, rec.number, None, rec.window, amend, said.breaks))
                delivered = True
                await self._drop_audio(seq, rec.number)
                return
            words: str | None = None  # with a mark: the words relead types after it
            if said is not None:
                out = Text(said.text, said.text, out.status, out.reason)
                if said.text and not split_lead(said.text)[1]:  # a spoken mark alone takes the place of the one typed before it
                    mark, words = said.text, ""
            if out.typed:
                before = before or await wait(prev, JOIN_WAIT)  # (a led decode had it already)
                typed = self._joined(rec, before, first, out.typed)
                if mark is not None and before is not None and before.recording == rec.number and before.last is not None:
                    amend, typed = relead(before.text, before.last, before.last_text, mark, out.typed if words is None else words)
                elif self._context_chars and before is not None and before.recording == rec.number and before.last is not None:
                    if goes_on(before.last_text, out.typed):  # the sentence goes on: its end mark becomes a comma
                        fixed = before.last_text.rstrip()[:-1] + ","
                        amend = Amend(before.last, 1, fixed, plain=typed)
                        typed = ", " + out.typed
            note = "; ".join(n for n in (readback, f"filtered: {out.reason}" if out.reason else None) if n) or None
            # After an amend the phrase's own words as typed (the mark before them is the amended phrase's): the
            # joiner may have changed their case ("and" after a new full stop is typed "And"). A spoken mark said
            # alone has no words and keeps its mark.
            own = (split_lead(typed)[1] or out.typed) if amend else typed.strip() or out.stored
            await self._ledger.set(seq, out.status, text=own, note=note, transcribed_at=done_at)
            # The transcript is durable now: hand it to the typist, then drop the audio.
            self._typist.deliver(Ready(seq, rec.number, typed or None, rec.window, amend))
            delivered = True
            if kept:
                self._on_fault(None)
            await self._drop_audio(seq, rec.number)
        except Exception as exc:  # anything but a cancel: the phrase is failed, never dropped unseen
            typed, amend = "", None
            await self._failed(seq, rec.number, ph, speech_end, exc)
        finally:
            if not delivered:
                self._typist.deliver(Ready(seq, rec.number, None))
            if not mine.done():
                mine.set_result(after(rec.number, rec.window, before, seq, typed, amend.chars if amend else 0, ph.audio))

    def discard(self, rec: Recording) -> bool:
        """`cancel` after `stop`: what of `rec` is not typed yet is discarded (each phrase marked
        `cancelled` in its turn, retries stopped, the tail not cut); False when nothing is left."""
        if rec.cancelled or not (self._typist.pending or (rec.task is not None and not rec.task.done())):
            return False
        rec.cancelled = True  # the recorder cuts no more phrases of it, retries stop
        self._typist.cancel_recording(rec.number)
        return True

    async def _keep(self, seq: int, recording: int, audio: np.ndarray, speech_end: float) -> bool:
        """Journal and spool a phrase; True when both worked. A failure is a fault, and the phrase
        goes on (it may still be typed; a later failure writes its audio again)."""
        try:
            await self._ledger.record(seq, recording, audio, speech_end)
            return True
        except Exception as exc:
            message = f"phrase {seq} could not be kept safe ({_why(exc)}); transcribing it anyway"
            log.error("%s", message)
            self._on_fault(message)
            return False

    async def _drop_audio(self, seq: int, recording: int) -> None:
        """Forget a resolved phrase's audio; a file left over is only cleaned at the next start."""
        try:
            await self._ledger.unspool(seq, recording)
        except Exception as exc:
            log.warning("phrase %d: could not remove its spooled audio: %s", seq, _why(exc))

    async def _failed(self, seq: int, recording: int, ph: Phrase, speech_end: float, exc: Exception) -> None:
        """Mark a phrase `failed` with the reason, its audio kept in the spool, and report the fault."""
        why = f"phrase {seq} failed: {_why(exc)}"
        log.error("%s", why, exc_info=exc)
        try:
            message = await self._ledger.failed(seq, recording, ph.audio, speech_end, why)
        except Exception as again:
            message = f"{why}; the journal cannot record it either ({_why(again)})"
            log.error("%s", message)
        self._on_fault(message)

    async def shutdown(self) -> None:
        """Cancel phrases still in flight (their audio stays in the spool)."""
        await self._tasks.cancel("server shutting down")


def _key(context: tuple[str | None, Lead | None]) -> tuple:
    """What makes two contexts the same: the prompt and the phrase that leads (its text is final once typed)."""
    prompt, lead = context
    return prompt, lead.seq if lead is not None else None, lead.text if lead is not None else None


def _why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
