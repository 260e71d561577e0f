"""The microphone: a sounddevice input stream, open only while recording.

PortAudio calls `_callback` on its own thread. It copies the block and hands it
to the event loop; it never blocks and never calls the model. A watchdog on the
loop notices a stream that goes quiet without reporting an error (a device that
vanished under PulseAudio does exactly that).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .wav import SAMPLE_RATE

log = logging.getLogger(__name__)

BLOCK = 512
"""Samples per callback: one VAD window, 32 ms."""
STALL_SECONDS = 1.5
"""A stream that delivers nothing for this long has failed."""
FIRST_BLOCK_TIMEOUT = 3.0
"""How long a newly opened stream may take to deliver its first block."""


class AudioError(Exception):
    """The microphone cannot be opened or stopped working."""


def parse_device(spec: str | None) -> int | str | None:
    """`--input-device` as sounddevice wants it: an index, a name fragment, or None."""
    if spec is None or spec == "":
        return None
    return int(spec) if spec.strip().isdigit() else spec


def list_devices() -> str:
    """A table of input devices for `sttd --list-devices`."""
    import sounddevice as sd

    lines = []
    default_in = sd.default.device[0] if sd.default.device else None
    for i, dev in enumerate(sd.query_devices()):
        if dev["max_input_channels"] > 0:
            mark = "*" if i == default_in else " "
            lines.append(f"{mark}{i:3d}  {dev['name']}  ({dev['max_input_channels']} in, {dev['default_samplerate']:.0f} Hz)")
    return "\n".join(lines) if lines else "no input devices found"


class Microphone:
    """Opens, watches and closes one input stream; blocks go to `on_block` on the loop."""

    def __init__(
        self,
        device: str | None,
        on_block: Callable[[np.ndarray, float], None],
        on_fault: Callable[[str], None],
    ) -> None:
        self._device = parse_device(device)
        self._on_block = on_block
        self._on_fault = on_fault
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="audio")
        self._stream = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._last_block = 0.0
        self._watchdog: asyncio.Task | None = None
        self._generation = 0  # blocks from a stream we already closed are ignored
        self._closing = False

    def _callback(self, indata, frames, time_info, status) -> None:  # PortAudio thread
        if status:
            log.debug("audio status: %s", status)
        block = indata[:, 0].copy()
        gen = self._generation
        loop = self._loop
        if loop is not None:
            try:
                loop.call_soon_threadsafe(self._deliver, gen, block)
            except RuntimeError:  # loop closed during shutdown
                pass

    def _deliver(self, gen: int, block: np.ndarray) -> None:
        if gen != self._generation or self._stream is None:
            return
        self._last_block = time.monotonic()
        self._on_block(block, time.time())

    def _finished(self) -> None:  # PortAudio thread: the stream ended on its own or was closed
        loop = self._loop
        gen = self._generation
        if loop is not None:
            try:
                loop.call_soon_threadsafe(self._ended, gen)
            except RuntimeError:
                pass

    def _ended(self, gen: int) -> None:
        if gen == self._generation and self._stream is not None and not self._closing:
            self._on_fault("the input stream ended unexpectedly")

    def _open(self):
        import sounddevice as sd

        stream = sd.InputStream(
            samplerate=SAMPLE_RATE,
            channels=1,
            dtype="float32",
            blocksize=BLOCK,
            device=self._device,
            callback=self._callback,
            finished_callback=self._finished,
        )
        stream.start()
        return stream

    async def open(self) -> None:
        """Open and start the stream; raise AudioError when there is no usable device."""
        if self._stream is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._generation += 1
        try:
            self._stream = await self._loop.run_in_executor(self._pool, self._open)
        except Exception as exc:
            raise AudioError(f"cannot open input device {self._device if self._device is not None else '(default)'}: {exc}") from exc
        self._last_block = time.monotonic() + FIRST_BLOCK_TIMEOUT - STALL_SECONDS
        self._watchdog = asyncio.create_task(self._watch(), name="audio-watchdog")

    async def _watch(self) -> None:
        while self._stream is not None:
            await asyncio.sleep(0.25)
            if self._stream is not None and time.monotonic() - self._last_block > STALL_SECONDS:
                self._on_fault(f"the microphone delivered no audio for {STALL_SECONDS:g} s")
                return

    async def close(self) -> None:
        """Stop the stream, letting blocks already captured reach the loop, then close it."""
        stream = self._stream
        if stream is None:
            return
        self._closing = True
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        loop = asyncio.get_running_loop()
        try:
            # stop() drains PortAudio's buffers through the callback; those blocks are
            # queued on the loop ahead of this await's wake-up, so none is lost.
            await asyncio.wait_for(loop.run_in_executor(self._pool, stream.stop, True), 3.0)
        except Exception as exc:  # a wedged device must not wedge the server
            log.warning("stopping the input stream failed: %s", exc)
        self._generation += 1
        self._stream = None
        self._closing = False
        try:
            await asyncio.wait_for(loop.run_in_executor(self._pool, stream.close, True), 3.0)
        except Exception as exc:
            log.warning("closing the input stream failed: %s", exc)

    async def warm_up(self) -> float | None:
        """Open a stream, wait for its first block, close it: later opens start fast."""
        got = asyncio.Event()
        saved = self._on_block, self._on_fault
        self._on_block = lambda block, now: got.set()
        self._on_fault = lambda msg: None
        t0 = time.monotonic()
        try:
            await self.open()
            await asyncio.wait_for(got.wait(), FIRST_BLOCK_TIMEOUT)
            return time.monotonic() - t0
        except (AudioError, TimeoutError) as exc:
            log.info("audio warm-up failed (recording will retry): %s", exc)
            return None
        finally:
            await self.close()
            self._on_block, self._on_fault = saved

    def shutdown(self) -> None:
        """Release the worker thread."""
        self._pool.shutdown(wait=False, cancel_futures=True)
