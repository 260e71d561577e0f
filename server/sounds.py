"""Sound cues on start, stop and error (`sounds = true`), played so the microphone never hears them.

The start cue is played to its end (the output drained) before the microphone opens; the
stop cue after it has closed. Each plays on a daemon thread of its own through sounddevice
(the audio stack sttd has loaded anyway), bounded, so a wedged output device delays a start
by at most `START_WAIT` and never holds up the loop or the exit.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import wave
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

RATE = 48000
"""Sample rate of the built-in cues (the usual output rate: no resampling on the way)."""
START_WAIT = 1.0
"""Longest a start waits for its cue to finish."""
PLAY_TIMEOUT = 5.0
"""Longest any cue may take to play."""


def tone(freqs: list[float], note: float = 0.07, gap: float = 0.02) -> np.ndarray:
    """Short notes one after the other, each with a 5 ms fade in and out (no clicks)."""
    out = []
    fade = int(0.005 * RATE)
    for f in freqs:
        t = np.arange(int(note * RATE)) / RATE
        wave_ = np.sin(2 * np.pi * f * t).astype(np.float32)
        ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
        wave_[:fade] *= ramp
        wave_[-fade:] *= ramp[::-1]
        out += [wave_, np.zeros(int(gap * RATE), np.float32)]
    return np.concatenate(out)


BUILT_IN = {
    "start": lambda: tone([660.0, 990.0]),  # rising: listening
    "stop": lambda: tone([990.0, 660.0]),  # falling: done
    "error": lambda: tone([220.0, 220.0, 220.0], note=0.09),  # low and repeated: look at me
}


def read_cue(path: Path) -> tuple[np.ndarray, int]:
    """A custom cue: a 16-bit PCM WAV, mono or stereo (mixed down), at its own rate."""
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2:
            raise ValueError(f"{path}: expected 16-bit PCM WAV")
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
        channels, rate = w.getnchannels(), w.getframerate()
    return data.reshape(-1, channels).mean(axis=1), rate


class Sounds:
    """The three cues, ready to play; a no-op when `sounds` is off (sounddevice is not even asked)."""

    def __init__(self, settings, lock: asyncio.Lock) -> None:
        """`lock` is the one the microphone's open, close and device re-read hold."""
        self.enabled = settings.sounds
        self.lock = lock
        self.cues: dict[str, tuple[np.ndarray, int]] = {}
        self._tasks: set[asyncio.Task] = set()
        if not self.enabled:
            return
        custom = {"start": settings.sound_start, "stop": settings.sound_stop, "error": settings.sound_error}
        for kind, make in BUILT_IN.items():
            data, rate = make(), RATE
            if custom[kind] is not None:
                try:
                    data, rate = read_cue(custom[kind])
                except (OSError, ValueError, EOFError, wave.Error) as exc:
                    log.warning("sound_%s %s: %s; using the built-in cue", kind, custom[kind], exc)
            self.cues[kind] = (np.clip(data * settings.sound_volume, -1.0, 1.0).astype(np.float32), rate)

    def _play_in_thread(self, kind: str) -> asyncio.Future:
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        data, rate = self.cues[kind]

        def play() -> None:
            try:
                import sounddevice as sd

                with sd.OutputStream(samplerate=rate, channels=1, dtype="float32") as stream:
                    stream.write(data.reshape(-1, 1))
                    stream.stop()  # returns once every sample has been played
            except Exception as exc:  # no output device, say: a cue is never worth a failure
                log.warning("cannot play the %s cue: %s", kind, exc)
            try:
                loop.call_soon_threadsafe(lambda: done.done() or done.set_result(None))
            except RuntimeError:  # the loop closed meanwhile
                pass

        threading.Thread(target=play, name=f"cue-{kind}", daemon=True).start()
        return done

    async def play(self, kind: str, timeout: float = PLAY_TIMEOUT) -> None:
        """Play one cue and return once it has been heard (or after `timeout`)."""
        if not self.enabled:
            return
        try:
            async with asyncio.timeout(timeout):
                async with self.lock:  # PortAudio is not thread-safe: no open, close or re-read meanwhile
                    await asyncio.shield(self._play_in_thread(kind))
        except TimeoutError:
            log.warning("the %s cue did not finish within %g s", kind, timeout)

    async def start(self) -> None:
        """The start cue, to its end: the microphone opens after it."""
        await self.play("start", START_WAIT)

    def after(self, closing: asyncio.Future, kind: str = "stop") -> None:
        """Play a cue once `closing` (the microphone's close) is done, so the recording never holds it."""
        if self.enabled:
            closing.add_done_callback(lambda _f: self.cue(kind))

    def cue(self, kind: str) -> None:
        """Play a cue without waiting (stop, error)."""
        if not self.enabled:
            return
        try:
            task = asyncio.get_running_loop().create_task(self.play(kind), name=f"cue-{kind}")
        except RuntimeError:  # no running loop: shutting down
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
