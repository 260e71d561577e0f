"""The test rigs themselves (tests/support): a real virtual microphone that records what is played, a real window that captures typing."""

from __future__ import annotations

import contextlib
import ctypes.util
import json
import os
import select
import subprocess
import sys
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.support.devices import HarnessError, child_env, missing_binaries
from tests.support.dictation import JFK
from tests.support.display import DISPLAY_BINARIES, VirtualDisplay
from tests.support.mic import MIC_BINARIES, VirtualMicrophone
from tests.support.process import Process

RATE = 16000

# Runs in a child with the microphone's environment: records RATE Hz mono
# float32 from PortAudio's default input, like sttd does. Protocol on stdout:
# READY once audio flows, then a JSON summary; samples and their arrival
# times (CLOCK_MONOTONIC, shared with the parent) go to the .npy path.
RECORDER = r"""
import json, sys, time
import numpy as np
import sounddevice as sd

rate, seconds, out = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
blocks = []
opened = time.monotonic()
stream = sd.InputStream(samplerate=rate, channels=1, dtype="float32",
                        callback=lambda data, frames, t, status: blocks.append((time.monotonic(), data[:, 0].copy())))
stream.start()
while not blocks and time.monotonic() - opened < 10:
    time.sleep(0.001)
first_block = blocks[0][0] - opened
print("READY", flush=True)
time.sleep(seconds)
stream.stop()
stream.close()
times = np.concatenate([t - (len(d) - 1 - np.arange(len(d))) / rate for t, d in blocks])
np.save(out, np.stack([times, np.concatenate([d for _, d in blocks])]))
print(json.dumps({"first_block": first_block, "device": sd.query_devices(kind="input")["name"]}), flush=True)
"""

# Driven over stdin: checks what a recording process sees when the microphone is unplugged and plugged back.
UNPLUG_PROBE = r"""
import sys, time
import sounddevice as sd

def say(word):
    print(word, flush=True)

def record_briefly():
    try:
        sd.rec(1600, samplerate=16000, channels=1, dtype="float32", blocking=True)
        return "RECORDED"
    except sd.PortAudioError:
        return "OPEN_FAILED"

stream = sd.InputStream(samplerate=16000, channels=1, dtype="float32", callback=lambda *a: None)
stream.start()
say("RUNNING")
sys.stdin.readline()  # unplugged
deadline = time.monotonic() + 5
while stream.active and time.monotonic() < deadline:
    time.sleep(0.01)
say("STREAM_ENDED" if not stream.active else "STREAM_STILL_ACTIVE")
stream.close()
say(record_briefly())
sys.stdin.readline()  # plugged back
say(record_briefly())
"""


def _skip_without(binaries: tuple[str, ...]) -> None:
    missing = missing_binaries(binaries)
    if missing:
        pytest.skip(f"missing executables: {', '.join(missing)}")


class _Child:
    """A Python snippet in a subprocess, talked to in lines over stdin/stdout."""

    def __init__(self, script: str, *args: str, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", script, *args],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self._buffer = b""

    def send(self, line: str) -> None:
        """Write one line to the child's stdin."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def read_line(self, timeout: float) -> str:
        """Return the child's next stdout line, failing after timeout seconds."""
        # Reads the raw fd: select() on a buffered file object misses lines
        # that an earlier readline() already pulled into the buffer.
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([fd], [], [], max(remaining, 0))
            if not ready:
                raise AssertionError(f"child printed no line within {timeout}s (partial: {self._buffer!r})")
            chunk = os.read(fd, 4096)
            if not chunk:
                raise AssertionError(f"child exited ({self.proc.wait(timeout=5)}) before printing a line")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line.decode().strip()

    def wait(self, timeout: float) -> int:
        """Wait for the child to exit and return its status."""
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        """Kill the child if it still runs and close its pipes."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=5)
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                pipe.close()


@contextlib.contextmanager
def _python_child(script: str, *args: str, env: dict[str, str]) -> Iterator[_Child]:
    """Run a Python snippet as a _Child and kill it at exit."""
    child = _Child(script, *args, env=env)
    try:
        yield child
    finally:
        child.kill()


def _reference() -> np.ndarray:
    with wave.open(str(JFK), "rb") as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (RATE, 1, 2)
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.float32) / 32768


def _best_alignment(recording: np.ndarray, reference: np.ndarray) -> tuple[int, float]:
    """Return the lag of reference inside recording and the normalised correlation there."""
    size = 1 << (len(recording) + len(reference)).bit_length()
    corr = np.fft.irfft(np.fft.rfft(recording, size) * np.conj(np.fft.rfft(reference, size)), size)
    lag = int(np.argmax(corr[: len(recording) - len(reference) + 1]))
    window = recording[lag : lag + len(reference)]
    return lag, float(np.dot(window, reference) / (np.linalg.norm(window) * np.linalg.norm(reference) + 1e-12))


@pytest.fixture
def mic() -> Iterator[VirtualMicrophone]:
    _skip_without(MIC_BINARIES)
    if ctypes.util.find_library("portaudio") is None:
        pytest.skip("libportaudio2 is not installed")
    with VirtualMicrophone() as microphone:
        yield microphone


@pytest.fixture
def display() -> Iterator[VirtualDisplay]:
    _skip_without(DISPLAY_BINARIES)
    with VirtualDisplay() as virtual_display:
        yield virtual_display


def test_microphone_starts_fast_and_cleans_up() -> None:
    _skip_without(MIC_BINARIES)
    started = time.monotonic()
    with VirtualMicrophone() as microphone:
        assert time.monotonic() - started < 2.0
        pid, temp_dir = microphone.pid, microphone.temp_dir
        assert pid is not None and Path(f"/proc/{pid}").exists()
        assert temp_dir is not None and temp_dir.is_dir()
        assert set(microphone.env) >= {"PULSE_SERVER", "PULSE_COOKIE"}
    assert microphone.pid is None
    assert not Path(f"/proc/{pid}").exists()
    assert not temp_dir.exists()


def test_recording_hears_the_played_clip(mic: VirtualMicrophone, tmp_path: Path) -> None:
    reference = _reference()
    # The first 2.5 s of the clip, so the player finishes inside the 3 s recording.
    excerpt = tmp_path / "jfk-excerpt.wav"
    with wave.open(str(excerpt), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes((reference[: int(2.5 * RATE)] * 32768).astype("<i2").tobytes())
    out = tmp_path / "recording.npy"
    with _python_child(RECORDER, str(RATE), "3.0", str(out), env=child_env(mic)) as recorder:
        assert recorder.read_line(15) == "READY"
        played_at = time.monotonic()
        player = mic.play(excerpt, wait=False)
        assert isinstance(player, Process)
        summary = json.loads(recorder.read_line(15))
        assert recorder.wait(timeout=10) == 0
        assert player.wait(timeout=5) == 0

    times, samples = np.load(out)
    # A fresh stream must start like a real microphone, not after the null
    # sink's 2 s render block (what the keep-alive loopback prevents).
    assert summary["first_block"] < 0.5, summary
    assert summary["device"] == "default"
    before = samples[times < played_at]
    after = samples[times >= played_at]
    assert before.size and float(np.sqrt(np.mean(before**2))) < 1e-3
    assert float(np.sqrt(np.mean(after**2))) > 0.05
    lag, correlation = _best_alignment(samples, reference[: 2 * RATE])
    assert correlation > 0.9
    latency = times[lag] - played_at
    assert 0 <= latency < 0.5, f"clip reached the recording {latency:.3f}s after play()"


def test_unplugging_ends_streams_and_replugging_restores_them(mic: VirtualMicrophone) -> None:
    with _python_child(UNPLUG_PROBE, env=child_env(mic)) as probe:
        assert probe.read_line(15) == "RUNNING"
        mic.unload_source()
        assert not mic.present
        probe.send("unplugged")
        assert probe.read_line(10) == "STREAM_ENDED"
        assert probe.read_line(10) == "OPEN_FAILED"
        with pytest.raises(HarnessError):
            mic.play_silence(0.1)
        mic.reload_source()
        assert mic.present
        probe.send("plugged")
        assert probe.read_line(10) == "RECORDED"
        assert probe.wait(timeout=10) == 0


def test_play_blocks_for_the_clip(mic: VirtualMicrophone) -> None:
    started = time.monotonic()
    assert mic.play_silence(0.3) is None
    assert time.monotonic() - started >= 0.3


def test_display_starts_fast_and_cleans_up() -> None:
    _skip_without(DISPLAY_BINARIES)
    started = time.monotonic()
    with VirtualDisplay() as virtual_display:
        window = virtual_display.open_capture_window()
        assert time.monotonic() - started < 5.0
        pid, temp_dir = virtual_display.pid, virtual_display.temp_dir
        assert pid is not None and temp_dir is not None
        assert virtual_display.env["DISPLAY"] == f":{virtual_display.display_number}"
        assert window.has_focus()
    assert not Path(f"/proc/{pid}").exists()
    assert window.process.returncode is not None
    assert not temp_dir.exists()


def test_typed_text_reads_back_exactly(display: VirtualDisplay) -> None:
    window = display.open_capture_window()
    ascii_text = "Hello, world! It's 10:45 (roughly); \"quotes\" & [brackets] -- ok? #1 50% a/b\\c ~ `x` {y} <z> |"
    display.xdotool("type", "--delay", "1", "--", ascii_text)
    assert window.wait_for(ascii_text) == ascii_text

    window.clear()
    accented = "café — naïve résumé, déjà vu"
    assert display.map_characters(accented) == ""
    display.xdotool("type", "--delay", "1", "--", accented + "\nnext line")
    assert window.wait_for("next line") == accented + "\nnext line"


def test_focus_decides_which_window_receives_text(display: VirtualDisplay) -> None:
    first = display.open_capture_window()
    second = display.open_capture_window()
    assert second.has_focus() and not first.has_focus()
    display.xdotool("type", "--", "to the second")
    second.wait_for("to the second")

    first.focus()
    assert first.has_focus()
    display.xdotool("type", "--", "to the first")
    assert first.wait_for("to the first") == "to the first"
    assert second.settle() == "to the second"


def test_windows_get_distinct_titles_files_and_ids(display: VirtualDisplay) -> None:
    first, second = (display.open_capture_window(focus=False) for _ in range(2))
    assert first.title != second.title
    assert first.path != second.path
    assert first.window_id != second.window_id
