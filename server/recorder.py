"""The first stage: the microphone and the VAD, from a press of start to phrase events.

A `Recording` lives from start until stop. Captured blocks queue up on it; one
task per recording feeds them through a fresh segmenter in the VAD thread and
hands the resulting Speculate / Retract / Phrase events, in order, to `on_event`.
A microphone that fails ends the recording and is reported to `on_fault`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from ..protocol.messages import RecordingStarted, RecordingStopped

from .audio import DEVICE_TIMEOUT, FIRST_BLOCK_TIMEOUT, AudioError, Microphone
from .events import EventBus
from .segmenter import SegEvent, Segmenter, StreamingVad
from .settings import Settings
from .tasks import Tasks
from .wav import SAMPLE_RATE

log = logging.getLogger(__name__)

FLUSH_TIMEOUT = 5.0
"""How long closing a recording waits for its last phrase to be cut."""
FIRST_BLOCK_WAIT = 0.3
"""How long `start` waits for the opened microphone's first block (18 ms on a working one)."""


@dataclass
class Recording:
    """One press of start until stop."""

    number: int
    started: float
    t0: float | None = None
    """Wall-clock time of stream sample 0."""
    samples: int = 0
    window: str | None = None
    """Window focused when the microphone opened (for the focus guard)."""
    cancelled: bool = False
    specs: dict[int, tuple[asyncio.Future, str | None]] = field(default_factory=dict)
    """Speculative decodes in flight with the context each had, by segmenter phrase id (the pipeline's)."""
    queue: asyncio.Queue = field(default_factory=asyncio.Queue)
    task: asyncio.Task | None = None
    opening: asyncio.Task | None = None
    settled: asyncio.Event = field(default_factory=asyncio.Event)
    """Set at the first block, or when the recording ends or fails: what `open` waits for."""
    error: str | None = None
    """Why the microphone failed this recording."""


OnEvent = Callable[[Recording, SegEvent], None]
MicFactory = Callable[[Callable[[np.ndarray, float], None], Callable[[str], None]], Microphone]
"""Makes the microphone from the recorder's block and fault callbacks."""
SegmenterFactory = Callable[[], Segmenter]
"""Makes a fresh segmenter for each recording (it runs in the VAD thread)."""


class Recorder:
    """Owns the microphone, the VAD thread and the recording in progress."""

    def __init__(
        self,
        settings: Settings,
        bus: EventBus,
        on_event: OnEvent,
        on_fault: Callable[[str], None],
        *,
        microphone: MicFactory | None = None,
        segmenter: SegmenterFactory | None = None,
    ) -> None:
        self._settings = settings
        self._bus = bus
        self._on_event = on_event
        self._on_fault = on_fault
        make_mic = microphone or (lambda on_block, on_fault: Microphone(settings.input_device, on_block, on_fault))
        self._mic = make_mic(self._on_block, self._on_mic_fault)
        self._new_segmenter = segmenter or self._default_segmenter
        self._lock = asyncio.Lock()  # one open or close of the microphone at a time
        self._vad_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vad")
        self._tasks = Tasks()
        self.current: Recording | None = None

    def _default_segmenter(self) -> Segmenter:
        s = self._settings
        return Segmenter(StreamingVad(), threshold=s.vad_threshold, pause=s.pause, max_phrase=s.max_phrase)

    async def _in_vad_thread(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._vad_pool, fn, *args)

    async def load(self) -> None:
        """Load the VAD model (in its thread)."""
        await self._in_vad_thread(self._new_segmenter)

    async def warm_up(self) -> str | None:
        """Open and close the microphone once so the first recording starts fast; the problem, if any."""
        try:
            async with self._lock:
                warm = await asyncio.wait_for(self._mic.warm_up(), FIRST_BLOCK_TIMEOUT + 3 * DEVICE_TIMEOUT)
        except TimeoutError:
            return f"the microphone did not answer within {FIRST_BLOCK_TIMEOUT + 3 * DEVICE_TIMEOUT:g} s"
        except AudioError as exc:
            return str(exc)
        log.info("audio path warmed up: first block after %.2f s", warm)
        return None

    def begin(self, number: int) -> Recording:
        """A new recording is current at once; `open` starts the microphone."""
        rec = Recording(number=number, started=time.time())
        self.current = rec
        return rec

    async def open(self, rec: Recording) -> str | None:
        """Start the microphone for `rec` and wait (bounded) for its first block.

        Return the microphone's problem (reported as a fault; the recording is over), or None:
        audio flows, or the recording ended first. `end` cancels an open still in progress,
        so a wedged device never holds up a stop or a shutdown.
        """
        rec.opening = self._tasks.spawn(self._open(rec), f"open-{rec.number}")
        await asyncio.wait({rec.opening})
        if rec.opening.cancelled() or rec.error or self.current is not rec:
            return rec.error
        try:
            await asyncio.wait_for(rec.settled.wait(), FIRST_BLOCK_WAIT)
        except TimeoutError:
            self._fail(rec, f"the microphone delivered no audio within {FIRST_BLOCK_WAIT:g} s of opening")
        return rec.error

    async def _open(self, rec: Recording) -> None:
        async with self._lock:
            if self.current is not rec:
                return  # stopped before the microphone opened
            # A segmenter per recording: a flush of the last one can never mix with this one.
            seg = await self._in_vad_thread(self._new_segmenter)
            rec.task = self._tasks.spawn(self._segment(rec, seg), f"segment-{rec.number}")
            try:
                await asyncio.wait_for(self._mic.open(), DEVICE_TIMEOUT + 0.5)
            except (AudioError, TimeoutError) as exc:
                message = str(exc) or f"the microphone did not open within {DEVICE_TIMEOUT + 0.5:g} s"
                rec.queue.put_nowait(None)
                self._fail(rec, message, close=False)
                self._tasks.spawn(self.refresh(), "refresh-devices")  # a device plugged in later is found

    def _fail(self, rec: Recording, message: str, close: bool = True) -> None:
        """The microphone failed `rec`: it ends now, and the fault is reported once."""
        if rec.error is not None:
            return
        rec.error = message
        rec.settled.set()
        if self.current is rec:
            self.current = None
        self._on_fault(message)
        if close:
            self.end(rec, cancel=False)

    async def refresh(self) -> None:
        """Let the microphone re-read the device list between recordings (after the lock's holder)."""
        refresh = getattr(self._mic, "refresh", None)
        if refresh is not None:
            async with self._lock:
                await refresh()

    def end(self, rec: Recording, cancel: bool) -> asyncio.Task:
        """End `rec` now (a cancelled one yields no more events); the microphone closes in the returned task."""
        if self.current is rec:
            self.current = None
        if cancel:
            rec.cancelled = True
        rec.settled.set()
        if rec.opening is not None and not rec.opening.done():
            rec.opening.cancel("the recording ended while the microphone was opening")
        return self._tasks.spawn(self._close(rec), f"close-{rec.number}")

    async def _close(self, rec: Recording) -> None:
        """Close the microphone, then let the segmenter flush the last phrase (unless cancelled)."""
        async with self._lock:
            await self._mic.close()
            rec.queue.put_nowait(None)
            if rec.task is not None:
                await asyncio.wait({rec.task}, timeout=FLUSH_TIMEOUT)
        self._bus.publish(RecordingStopped(recording=rec.number, cancelled=rec.cancelled, at=time.time()))
        if rec.t0 is not None:  # it worked: read the device list afresh for the next start, off its path
            self._tasks.spawn(self.refresh(), "refresh-devices")

    def _on_block(self, block: np.ndarray, now: float) -> None:
        rec = self.current
        if rec is None:
            return
        if rec.t0 is None:
            rec.t0 = now - block.size / SAMPLE_RATE
            rec.settled.set()
            self._bus.publish(RecordingStarted(recording=rec.number, at=rec.t0))
        rec.samples += block.size
        rec.queue.put_nowait(block)

    def _on_mic_fault(self, message: str) -> None:
        rec = self.current
        if rec is not None:
            self._fail(rec, message)

    async def _segment(self, rec: Recording, seg: Segmenter) -> None:
        """Feed captured blocks through the VAD; hand on the phrase events in order."""
        while True:
            first = await rec.queue.get()
            blocks = [first]
            while not rec.queue.empty():
                blocks.append(rec.queue.get_nowait())
            end = any(b is None for b in blocks)
            audio = [b for b in blocks if b is not None]
            events: list[SegEvent] = []
            if audio:
                events += await self._in_vad_thread(seg.feed, np.concatenate(audio))
            if end and not rec.cancelled:
                events += await self._in_vad_thread(seg.flush)
            if not rec.cancelled:
                for ev in events:
                    self._on_event(rec, ev)
            if end:
                return

    async def shutdown(self) -> None:
        """Cancel what still runs and release the microphone and VAD threads."""
        await self._tasks.cancel("server shutting down")
        self._mic.shutdown()
        self._vad_pool.shutdown(wait=False, cancel_futures=True)
