"""The one writer: types transcripts strictly in spoken order, each exactly once.

Phrases are numbered when recorded. Results may arrive in any order; a reorder
buffer keyed by number releases them to a single consumer task, which is the
only code in the process that ever calls an injector. A phrase is marked
`typing` in the ledger before the tool runs and `typed` after; nothing is ever
retried, so a failure or a crash can lose a keystroke but never double one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from .injector import InjectError, Injector
from .joiner import Amend
from .desktop import detect
from .window_class import TERMINALS, focused_class
from .ledger import Ledger

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ready:
    """A resolved phrase: text to type, or None when there is nothing to type."""

    seq: int
    recording: int
    text: str | None
    window: str | None = None
    """Window focused when the recording started (focus guard)."""
    amend: Amend | None = None
    """A change to the end of the phrase typed before, made first (joiner.py); None for none."""
    breaks: int = 0
    """Line breaks after the text (spoken "new line"/"new paragraph"), never into a terminal."""


class Typist:
    """Reorder buffer plus the single consumer that types."""

    def __init__(
        self,
        injector: Injector,
        ledger: Ledger,
        *,
        first_seq: int = 1,
        focus_guard: bool = True,
        on_error: Callable[[str | None], None] = lambda msg: None,
        notify: Callable[[str, str], Awaitable[None]] | None = None,
    ) -> None:
        """`on_error` hears a typing failure's message, and None after the next success."""
        self.injector = injector
        self._ledger = ledger
        self._next = first_seq  # numbers never handed out (a restart's) are skipped
        self._expected: set[int] = set()
        self._results: dict[int, Ready] = {}
        self._cancelled: set[int] = set()
        self._wake = asyncio.Event()
        self._focus_guard = focus_guard
        self._on_error = on_error
        self._notify = notify
        self._last_recording: int | None = None
        self._last_typed: int | None = None  # the phrase last typed in full, if nothing came after it
        self._broke_line = False  # the last thing typed was a line break
        self.terminals = set(TERMINALS)
        """Window classes that never get a line break (the daemon sets `terminal_classes`)."""
        self.held: list[Ready] = []
        self._lock = asyncio.Lock()  # serialises the consumer and `paste` on the keyboard

    @property
    def pending(self) -> int:
        """Phrases numbered but not yet typed or resolved."""
        return len(self._expected)

    def expect(self, seq: int) -> None:
        """A phrase was numbered; typing will wait for it."""
        self._expected.add(seq)

    def deliver(self, ready: Ready) -> None:
        """A phrase is resolved (in any order)."""
        if ready.seq not in self._expected or ready.seq in self._results:
            return  # resolved already: never twice
        self._results[ready.seq] = ready
        self._wake.set()

    def cancel_recording(self, recording: int) -> None:
        """Discard every phrase of this recording not yet typed."""
        self._cancelled.add(recording)

    async def idle(self, timeout: float) -> bool:
        """Wait until nothing is pending; False on timeout."""
        deadline = time.monotonic() + timeout
        while self._expected and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        return not self._expected

    async def run(self) -> None:
        """Consume resolved phrases in number order, forever."""
        while True:
            while self._next not in self._results:
                if self._expected and self._next not in self._expected:
                    # Numbers are contiguous per process; skip any never handed out.
                    self._next = min(self._expected)
                    continue
                self._wake.clear()
                await self._wake.wait()
            ready = self._results.pop(self._next)
            try:
                async with self._lock:
                    await self._consume(ready)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("typing phrase %d failed unexpectedly", ready.seq)
            finally:
                self._expected.discard(ready.seq)
                self._next = ready.seq + 1

    async def _consume(self, r: Ready) -> None:
        if r.recording in self._cancelled:
            await self._ledger.set(r.seq, "cancelled", note="discarded by cancel")
            return
        if not r.text and r.amend is None and not r.breaks:
            return  # empty or filtered: already in the history with its reason
        text = r.text or ""  # joined already (pipeline, joiner.py): its leading space, if any, included
        guard = self._focus_guard and r.window is not None
        if r.amend is not None:  # first: a held phrase before it was not the last typed, so it is never amended
            text, done = await self._amend(r, guard)
            if not done and not r.text:  # "scratch that" could not be done
                await self._refuse(r, "scratch that: not done, something was typed after that phrase or focus moved")
                return
            if not done:  # typed (or held) as plainly joined: the history says so
                r = Ready(r.seq, r.recording, text, r.window, None, r.breaks)
                await self._ledger.set(r.seq, "typing", text=text.strip())
        before = next((h for h in self.held if h.recording == r.recording), None)
        if before is not None:  # never type a phrase ahead of an earlier one of its recording
            await self._hold(r, text, f"phrase {before.seq} of this recording is held before it", quiet=True)
            return
        if not text:
            await self._line_breaks(r)
            return
        if self._broke_line:  # a new line starts with the word, not a space
            text, self._broke_line = text.lstrip(" "), False
        await self._ledger.set(r.seq, "typing")
        # With the guard on, type in word-aligned chunks and look at the focus before
        # each: a window switch mid-phrase holds the rest instead of typing it there.
        chunks = split_chunks(text) if guard else [text]
        for i, chunk in enumerate(chunks):
            if guard:
                now = await self.injector.focused_window()
                if now is not None and now != r.window:
                    rest = "".join(chunks[i:]).strip()
                    done = len(text) - len("".join(chunks[i:]))
                    await self._hold(r, rest, f"focus moved from window {r.window} to {now} after {done} of {len(text)} characters")
                    return
            if not await self._inject(r, chunk):
                return
        self._last_recording = r.recording
        self._last_typed = r.seq
        await self._line_breaks(r)
        plain = {"text": text.strip()} if text != r.text else {}  # the amend was not made: the history says what was typed
        await self._ledger.set(r.seq, "typed", typed_at=time.time(), **plain)

    async def _amend(self, r: Ready, guard: bool) -> tuple[str, bool]:
        """Erase the end of the phrase before (its history follows): (r.text, True); or (the plain text, False) where that is unsafe."""
        a = r.amend
        assert a is not None
        if self._last_typed != a.seq or (guard and await self.injector.focused_window() not in (None, r.window)):
            return a.plain, False  # something else was typed after it, or focus moved: never erase blind
        try:
            for _ in range(a.chars):
                await self.injector.press("backspace")
        except InjectError as exc:
            log.info("phrase %d: could not amend phrase %d (%s); typed as is", r.seq, a.seq, exc)
            return a.plain, False
        await self._ledger.set(a.seq, "typed", text=a.text, **({} if a.text else {"note": f"taken back by phrase {r.seq} (scratch that)"}))
        self._last_typed = None if not a.text else self._last_typed
        return r.text or "", True

    async def _line_breaks(self, r: Ready) -> None:
        """Shift+Return `r.breaks` times where that cannot submit anything: a known window class that is no terminal."""
        if not r.breaks:
            return
        cls = await focused_class(detect())
        if cls is None or cls.lower() in self.terminals:
            await self._refuse(r, f"new line: not typed into {cls or 'a window whose class cannot be read'} (it could submit)")
            return
        try:
            for _ in range(r.breaks):
                await self.injector.press("shift+return")
        except InjectError as exc:
            await self._refuse(r, f"new line: {exc}")
            return
        self._last_typed = None  # a line break is not a phrase: nothing before it may be amended
        self._broke_line = True
        await self._ledger.set(r.seq, "typed", typed_at=time.time())

    async def _refuse(self, r: Ready, why: str) -> None:
        """A spoken command that was not done: said in the history, `stt status` and a notification."""
        log.info("phrase %d: %s", r.seq, why)
        await self._ledger.set(r.seq, "failed", note=why)
        self._on_error(why)
        if self._notify is not None:
            await self._notify("stt: command not done", why)

    async def _hold(self, r: Ready, rest: str, why: str, quiet: bool = False) -> None:
        self.held.append(Ready(r.seq, r.recording, rest, r.window))
        await self._ledger.set(r.seq, "held", note=f"{why}; `stt paste` types the rest")
        if self._notify is not None and not quiet:
            await self._notify("stt: text held", "Focus moved while you spoke; run `stt paste` to type it.")

    async def _inject(self, r: Ready, text: str) -> bool:
        try:
            await self.injector.type(text)
        except InjectError as exc:
            msg = f"typing failed: {exc}"
            log.warning("phrase %d: %s", r.seq, msg)
            await self._ledger.set(r.seq, "failed", note=msg)
            self._on_error(msg)
            return False
        self._on_error(None)
        return True

    async def paste(self) -> int:
        """Type the held phrases, in order, into the window focused now; return how many.

        Each leaves the held list only once typed: a failure keeps it and those after it
        held (its note says why), for a later `stt paste`.
        """
        async with self._lock:
            done = 0
            self._last_typed = None  # typed elsewhere now: nothing before it may be amended
            while self.held:
                r = self.held[0]
                try:
                    await self.injector.type(r.text or "")  # joined to the held one before it already
                except InjectError as exc:
                    msg = f"`stt paste` failed: {exc}"
                    log.warning("phrase %d: %s", r.seq, msg)
                    await self._ledger.note(r.seq, f"{msg}; still held for the next `stt paste`")
                    self._on_error(msg)
                    break
                self._on_error(None)
                self.held.pop(0)
                await self._ledger.set(r.seq, "typed", typed_at=time.time(), note="typed by `stt paste`")
                done += 1
            return done


CHUNK = 48
"""Characters typed between two focus checks."""


def split_chunks(text: str, size: int = CHUNK) -> list[str]:
    """Cut text into pieces of about `size` characters at spaces; joined they give the text back."""
    out: list[str] = []
    while len(text) > size:
        cut = text.rfind(" ", 1, size)
        cut = size if cut <= 0 else cut
        out.append(text[:cut])
        text = text[cut:]
    if text:
        out.append(text)
    return out
