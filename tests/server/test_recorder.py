"""The recorder: a (fake) microphone's blocks through the VAD into phrase events, and its faults."""

import asyncio
import json

import numpy as np
import pytest

from stt_dictation.server.events import EventBus
from stt_dictation.server.recorder import Recorder
from stt_dictation.server.segmenter import Phrase, Segmenter, StreamingVad
from stt_dictation.server.settings import Settings
from stt_dictation.server.wav import read_wav
from tests.support.fakes import Mics, WholeTake
from tests.support.speech import SPEECH_DIR


class Rig:
    def __init__(self, segmenter=WholeTake, fail: str | None = None):
        self.events: list = []
        self.faults: list[str] = []
        self.bus = EventBus()
        self.sub = self.bus.subscribe(lambda: None)
        self.mics = Mics(fail)
        self.recorder = Recorder(
            Settings(), self.bus, lambda rec, ev: self.events.append((rec.number, ev)), self.faults.append,
            microphone=self.mics, segmenter=segmenter,
        )  # fmt: skip

    @property
    def mic(self):
        return self.mics.mic

    def published(self) -> list[dict]:
        out = []
        while not self.sub.queue.empty():
            out.append(json.loads(self.sub.queue.get_nowait()))
        return [e for e in out if e["type"] in ("recording_started", "recording_stopped")]


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


def test_real_speech_through_the_real_vad_becomes_ordered_phrases_and_the_last_is_flushed_at_stop():
    speech = read_wav(SPEECH_DIR / "jfk_jfk.wav")

    async def main():
        rig = Rig(segmenter=lambda: Segmenter(StreamingVad(), pause=0.5))
        await rig.recorder.load()
        rec = rig.recorder.begin(1)
        rig.mic.preroll = speech[:512]  # the first block arrives as the stream opens
        assert await rig.recorder.open(rec) is None and rig.mic.is_open
        rig.mic.play(speech[512:])
        await rig.recorder.end(rec, cancel=False)
        await rig.recorder.shutdown()
        return rig, rec

    rig, rec = run(main())
    phrases = [ev for n, ev in rig.events if isinstance(ev, Phrase)]
    assert 2 <= len(phrases) <= 6 and {n for n, _ in rig.events} == {1}
    assert [p.pid for p in phrases] == sorted(p.pid for p in phrases)
    assert phrases[-1].speech_end > 0.8 * speech.size  # the tail, cut by the flush at stop
    assert rec.samples == speech.size and rec.t0 == pytest.approx(1000.0)
    assert rig.mic.closed == 1 and rig.recorder.current is None
    assert [(e["type"], e["recording"]) for e in rig.published()] == [("recording_started", 1), ("recording_stopped", 1)]


def test_a_cancelled_recording_hands_on_nothing_more():
    async def main():
        rig = Rig()
        rec = rig.recorder.begin(2)
        await rig.recorder.open(rec)
        rig.mic.play(np.ones(4096, dtype=np.float32))
        await rig.recorder.end(rec, cancel=True)
        return rig, rec

    rig, rec = run(main())
    assert rec.cancelled and rig.events == []  # the tail is not flushed into a phrase
    assert [(e["type"], e.get("cancelled")) for e in rig.published()] == [("recording_started", None), ("recording_stopped", True)]


def test_a_microphone_that_fails_mid_recording_ends_it_reports_it_and_keeps_what_was_heard():
    async def main():
        rig = Rig()
        rec = rig.recorder.begin(3)
        await rig.recorder.open(rec)
        rig.mic.play(np.full(2048, 0.5, dtype=np.float32))
        rig.mic.on_fault("the input stream ended unexpectedly")
        assert rig.recorder.current is None  # at once, so a status reply sees it
        rig.mic.on_fault("a second report is ignored")
        while rig.mic.closed == 0 or not rig.events:
            await asyncio.sleep(0.01)
        await rig.recorder.shutdown()
        return rig

    rig = run(main())
    assert rig.faults == ["the input stream ended unexpectedly"]
    [(number, phrase)] = rig.events
    assert number == 3 and phrase.audio.size == 512 + 2048  # the first block, then the played ones


def test_a_microphone_that_cannot_open_is_a_fault_and_no_recording():
    async def main():
        rig = Rig(fail="cannot open input device 'nope'")
        rec = rig.recorder.begin(4)
        problem = await rig.recorder.open(rec)
        await rig.recorder.shutdown()
        return rig, problem

    rig, problem = run(main())
    assert problem == "cannot open input device 'nope'" and rig.recorder.current is None
    assert rig.faults == ["cannot open input device 'nope'"] and rig.events == []


def test_a_recording_ended_before_its_microphone_opened_never_opens_it_and_stray_blocks_are_dropped():
    async def main():
        rig = Rig()
        rec = rig.recorder.begin(5)
        closing = rig.recorder.end(rec, cancel=False)
        assert await rig.recorder.open(rec) is None
        await closing
        rig.mic.play(np.ones(1024, dtype=np.float32))  # no recording: ignored
        return rig, rec

    rig, rec = run(main())
    assert rig.mic.opened == 0 and rec.samples == 0 and rig.faults == []


def test_the_device_list_is_refreshed_after_a_recording_and_after_a_failed_open():
    async def main():
        rig = Rig()
        rec = rig.recorder.begin(6)
        assert await rig.recorder.open(rec) is None
        assert rig.mic.refreshed == 0  # never on the way to the first block
        await rig.recorder.end(rec, cancel=False)
        for _ in range(100):
            if rig.mic.refreshed:
                break
            await asyncio.sleep(0.01)
        after_recording = rig.mic.refreshed
        rig.mic.fail = "cannot open input device (default): No such entity"
        rec = rig.recorder.begin(7)
        assert await rig.recorder.open(rec) == rig.mic.fail
        for _ in range(100):
            if rig.mic.refreshed > after_recording:
                break
            await asyncio.sleep(0.01)
        await rig.recorder.shutdown()
        return after_recording, rig.mic.refreshed

    after_recording, total = run(main())
    assert (after_recording, total) == (1, 2)
