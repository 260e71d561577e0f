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
"""How long a newly opened stream may take to deliver its first block before the watchdog calls it stalled."""
DEVICE_TIMEOUT = 2.0
"""Every call into PortAudio (open, stop, close, re-initialise) is abandoned after this long."""


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
        self._fresh = False  # PortAudio's device list was re-read since the last stream closed

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

    async def _call(self, what: str, fn, *args):
        """`fn` in the audio thread, bounded by DEVICE_TIMEOUT; AudioError when the device does not answer.

        A call that times out (or whose caller is cancelled) keeps running in the thread; later
        calls queue behind it and time out too, so a wedged device never wedges the loop.
        """
        fut = asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)
        try:
            return await asyncio.wait_for(asyncio.shield(fut), DEVICE_TIMEOUT)
        except (TimeoutError, asyncio.CancelledError) as exc:
            fut.add_done_callback(self._discard_late)
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise AudioError(f"the audio device did not answer within {DEVICE_TIMEOUT:g} s ({what})") from None

    def _discard_late(self, fut) -> None:
        """A stream that opened after its caller gave up is closed (in the audio thread, after the wedged call)."""
        if fut.cancelled() or fut.exception() is not None:
            return
        late = fut.result()
        if late is not None and hasattr(late, "close"):
            log.warning("an input stream opened after its open timed out; closing it")
            self._pool.submit(_close_quietly, late)

    async def open(self) -> None:
        """Open and start the stream; raise AudioError when there is no usable device or it does not answer."""
        if self._stream is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._generation += 1
        self._fresh = False
        try:
            self._stream = await self._call("open", self._open)
        except Exception as exc:
            raise AudioError(f"cannot open input device {self._device_name()}: {exc}") from exc
        self._last_block = time.monotonic() + FIRST_BLOCK_TIMEOUT - STALL_SECONDS
        self._watchdog = asyncio.create_task(self._watch(), name="audio-watchdog")

    def _device_name(self) -> str:
        return repr(self._device) if self._device is not None else "(default)"

    async def refresh(self) -> None:
        """Re-read PortAudio's device list while no stream is open: a new default source or a
        device plugged in since is found by the next open. Bounded; a failure is only logged."""
        if self._stream is not None or self._fresh:
            return
        try:
            await self._call("re-initialise", _reinitialise)
            self._fresh = True
        except Exception as exc:
            log.warning("re-reading the audio devices failed: %s", exc)

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
        wedged = False
        try:
            # stop() drains PortAudio's buffers through the callback; those blocks are
            # queued on the loop ahead of this await's wake-up, so none is lost.
            await self._call("stop", stream.stop, True)
        except Exception as exc:  # a wedged device must not wedge the server
            log.warning("stopping the input stream failed: %s", exc)
            wedged = isinstance(exc, AudioError)
        self._generation += 1
        self._stream = None
        self._closing = False
        if wedged:  # the close would only queue behind the stuck stop: let it run when it can
            self._pool.submit(_close_quietly, stream)
            return
        try:
            await self._call("close", stream.close, True)
        except Exception as exc:
            log.warning("closing the input stream failed: %s", exc)

    async def warm_up(self) -> float:
        """Open a stream, wait for its first block, close it: later opens start fast.
        Return the seconds to the first block; AudioError when the microphone is unusable."""
        got = asyncio.Event()
        saved = self._on_block, self._on_fault
        self._on_block = lambda block, now: got.set()
        self._on_fault = lambda msg: None
        t0 = time.monotonic()
        try:
            await self.open()
            try:
                await asyncio.wait_for(got.wait(), FIRST_BLOCK_TIMEOUT)
            except TimeoutError:
                raise AudioError(f"input device {self._device_name()} delivered no audio within {FIRST_BLOCK_TIMEOUT:g} s") from None
            return time.monotonic() - t0
        finally:
            await self.close()
            self._on_block, self._on_fault = saved

    def shutdown(self) -> None:
        """Release the worker thread."""
        self._pool.shutdown(wait=False, cancel_futures=True)


def _reinitialise() -> None:  # audio thread
    import sounddevice as sd

    sd._terminate()
    sd._initialize()


def _close_quietly(stream) -> None:  # audio thread
    try:
        stream.close(True)
    except Exception as exc:
        log.warning("closing a late input stream failed: %s", exc)
