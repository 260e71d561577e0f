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

from .audio import AudioError, Microphone
from .events import EventBus
from .segmenter import SegEvent, Segmenter, StreamingVad
from .settings import Settings
from .tasks import Tasks
from .wav import SAMPLE_RATE

log = logging.getLogger(__name__)

FLUSH_TIMEOUT = 5.0
"""How long closing a recording waits for its last phrase to be cut."""


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
    specs: dict[int, asyncio.Future] = field(default_factory=dict)
    """Speculative decodes in flight, by segmenter phrase id (the pipeline's)."""
    queue: asyncio.Queue = field(default_factory=asyncio.Queue)
    task: asyncio.Task | None = None


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

    async def warm_up(self) -> float | None:
        """Open and close the microphone once so the first recording starts fast."""
        warm = await self._mic.warm_up()
        if warm is not None:
            log.info("audio path warmed up: first block after %.2f s", warm)
        return warm

    def begin(self, number: int) -> Recording:
        """A new recording is current at once; `open` starts the microphone."""
        rec = Recording(number=number, started=time.time())
        self.current = rec
        return rec

    async def open(self, rec: Recording) -> bool:
        """Start the microphone for `rec`; False if it ended first, or if the microphone failed (a fault)."""
        async with self._lock:
            if self.current is not rec:
                return False  # stopped before the microphone opened
            # A segmenter per recording: a flush of the last one can never mix with this one.
            seg = await self._in_vad_thread(self._new_segmenter)
            rec.task = self._tasks.spawn(self._segment(rec, seg), f"segment-{rec.number}")
            try:
                await self._mic.open()
            except AudioError as exc:
                rec.queue.put_nowait(None)
                if self.current is rec:
                    self.current = None
                self._on_fault(str(exc))
                return False
        return True

    def end(self, rec: Recording, cancel: bool) -> asyncio.Task:
        """End `rec` now (a cancelled one yields no more events); the microphone closes in the returned task."""
        if self.current is rec:
            self.current = None
        if cancel:
            rec.cancelled = True
        return self._tasks.spawn(self._close(rec), f"close-{rec.number}")

    async def _close(self, rec: Recording) -> None:
        """Close the microphone, then let the segmenter flush the last phrase (unless cancelled)."""
        async with self._lock:
            await self._mic.close()
            rec.queue.put_nowait(None)
            if rec.task is not None:
                await asyncio.wait({rec.task}, timeout=FLUSH_TIMEOUT)
        self._bus.publish(RecordingStopped(recording=rec.number, cancelled=rec.cancelled, at=time.time()))

    def _on_block(self, block: np.ndarray, now: float) -> None:
        rec = self.current
        if rec is None:
            return
        if rec.t0 is None:
            rec.t0 = now - block.size / SAMPLE_RATE
            self._bus.publish(RecordingStarted(recording=rec.number, at=rec.t0))
        rec.samples += block.size
        rec.queue.put_nowait(block)

    def _on_mic_fault(self, message: str) -> None:
        rec = self.current
        if rec is None:
            return
        self.current = None
        self._on_fault(message)
        self.end(rec, cancel=False)

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
