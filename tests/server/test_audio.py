"""The real Microphone class over a stand-in sounddevice: every device call is bounded."""

import asyncio
import sys
import threading
import time
import types

import pytest

from stt_dictation.server import audio
from stt_dictation.server.audio import AudioError, Microphone


class Stream:
    """An input stream whose `start` blocks until `release` is set (a wedged device)."""

    made: list["Stream"] = []

    def __init__(self, release: threading.Event, **kw):
        self.release, self.closed = release, False
        Stream.made.append(self)

    def start(self):
        self.release.wait(10)

    def stop(self, ignore_errors=True):
        pass

    def close(self, ignore_errors=True):
        self.closed = True


@pytest.fixture
def wedged(monkeypatch):
    release = threading.Event()
    Stream.made = []
    fake = types.SimpleNamespace(InputStream=lambda **kw: Stream(release, **kw), _terminate=lambda: None, _initialize=lambda: None)
    monkeypatch.setitem(sys.modules, "sounddevice", fake)
    monkeypatch.setattr(audio, "DEVICE_TIMEOUT", 0.3)
    yield release
    release.set()


def test_an_open_that_hangs_is_an_audio_error_within_the_bound_and_the_late_stream_is_closed(wedged):
    async def main():
        faults = []
        mic = Microphone(None, lambda block, now: None, faults.append)
        t0 = time.monotonic()
        with pytest.raises(AudioError, match="did not answer within 0.3 s"):
            await mic.open()
        took = time.monotonic() - t0
        await mic.close()  # nothing open: returns at once
        wedged.set()  # the device answers after all
        for _ in range(100):
            if Stream.made and Stream.made[0].closed:
                break
            await asyncio.sleep(0.01)
        mic.shutdown()
        return took

    took = asyncio.run(asyncio.wait_for(main(), 10))
    assert 0.25 < took < 1.0
    assert Stream.made[0].closed  # not left open and capturing


def test_a_cancelled_open_returns_at_once(wedged):
    async def main():
        mic = Microphone(None, lambda block, now: None, lambda msg: None)
        opening = asyncio.create_task(mic.open())
        await asyncio.sleep(0.05)
        t0 = time.monotonic()
        opening.cancel()
        with pytest.raises(asyncio.CancelledError):
            await opening
        took = time.monotonic() - t0
        mic.shutdown()
        return took

    assert asyncio.run(asyncio.wait_for(main(), 10)) < 0.1


def test_the_device_list_is_read_afresh_between_streams_never_under_an_open_one(monkeypatch):
    calls = []

    class Flowing:
        def __init__(self, **kw):
            self.callback = kw["callback"]

        def start(self):
            calls.append("start")

        def stop(self, ignore_errors=True):
            calls.append("stop")

        def close(self, ignore_errors=True):
            calls.append("close")

    fake = types.SimpleNamespace(InputStream=Flowing, _terminate=lambda: calls.append("terminate"), _initialize=lambda: calls.append("initialize"))
    monkeypatch.setitem(sys.modules, "sounddevice", fake)

    async def main():
        mic = Microphone(None, lambda block, now: None, lambda msg: None)
        await mic.open()
        await mic.refresh()  # a stream is open: PortAudio must not be re-initialised under it
        await mic.close()
        await mic.refresh()
        await mic.refresh()  # once is enough until the next stream
        await mic.open()
        await mic.close()
        await mic.refresh()
        mic.shutdown()

    asyncio.run(asyncio.wait_for(main(), 10))
    assert calls == ["start", "stop", "close", "terminate", "initialize", "start", "stop", "close", "terminate", "initialize"]


def test_a_stop_that_hangs_costs_one_bound_and_the_stream_is_still_closed_later(monkeypatch):
    release = threading.Event()
    closed = []

    class StuckStop:
        def __init__(self, **kw):
            pass

        def start(self):
            pass

        def stop(self, ignore_errors=True):
            release.wait(10)

        def close(self, ignore_errors=True):
            closed.append(True)

    monkeypatch.setitem(sys.modules, "sounddevice", types.SimpleNamespace(InputStream=StuckStop))
    monkeypatch.setattr(audio, "DEVICE_TIMEOUT", 0.3)

    async def main():
        mic = Microphone(None, lambda block, now: None, lambda msg: None)
        await mic.open()
        t0 = time.monotonic()
        await mic.close()
        took = time.monotonic() - t0
        release.set()
        for _ in range(100):
            if closed:
                break
            await asyncio.sleep(0.01)
        mic.shutdown()
        return took

    took = asyncio.run(asyncio.wait_for(main(), 10))
    assert 0.25 < took < 0.6 and closed == [True]
