"""testing: the e2e hooks slow a chosen phrase or every typing call, and otherwise delegate unchanged."""

from __future__ import annotations

import asyncio
import time

import numpy as np

from stt_dictation.server.inject_base import Injector
from stt_dictation.server.resilient import ResilientTranscriber
from stt_dictation.server.settings import Settings
from stt_dictation.server.testing import SlowInjector, SlowPhrases, with_test_hooks
from stt_dictation.server.transcript import SegmentScore, Transcriber, Transcript


class Model(Transcriber):
    model_name = "fake"

    async def load(self):
        pass

    async def transcribe(self, audio, prompt=None, lead=None):
        return Transcript([SegmentScore(f"said {len(audio)}", 0.0, 0.0, 1.0)])

    async def transcribe_file(self, path):
        return path, 1.0, 0.1


class Keys(Injector):
    name = "keys"
    note = "a fallback"

    def __init__(self) -> None:
        super().__init__(9)
        self.typed: list[str] = []
        self.pressed: list[str] = []

    def problem(self):
        return "inner problem"

    async def type(self, text):
        self.typed.append(text)

    async def press(self, chord):
        self.pressed.append(chord)

    async def focused_window(self):
        return "42"


def _timed(coro):
    t0 = time.monotonic()
    result = asyncio.run(coro)
    return result, time.monotonic() - t0


def test_no_variables_no_wrappers(tmp_path):
    keys = Keys()
    resilient, injector = with_test_hooks(Model(), keys, Settings(state_dir=tmp_path), {})
    assert type(resilient) is ResilientTranscriber and injector is keys


def test_a_chosen_phrase_is_held_back_and_the_others_are_not(tmp_path):
    resilient, _ = with_test_hooks(Model(), Keys(), Settings(state_dir=tmp_path), {"STT_TEST_TRANSCRIBE_DELAYS": '{"2": 0.3}'})
    assert isinstance(resilient, SlowPhrases) and resilient.delays == {2: 0.3}
    audio = np.zeros(160, dtype=np.float32)
    fast, quick = _timed(resilient.transcribe_phrase(1, audio))
    slow, late = _timed(resilient.transcribe_phrase(2, audio))
    assert fast.text == slow.text == "said 160"
    assert quick < 0.2 and late >= 0.3


def test_the_slow_injector_waits_then_delegates_everything(tmp_path):
    keys = Keys()
    _, slow = with_test_hooks(Model(), keys, Settings(state_dir=tmp_path), {"STT_TEST_INJECT_DELAY": "0.2"})
    assert isinstance(slow, SlowInjector) and slow.delay == 0.2
    _, took = _timed(slow.type("hello"))
    assert keys.typed == ["hello"] and took >= 0.2
    asyncio.run(slow.press("ctrl+v"))
    assert keys.pressed == ["ctrl+v"]
    assert (slow.name, slow.note, slow.problem(), slow.delay_ms) == ("keys", "a fallback", "inner problem", 9)
    assert asyncio.run(slow.focused_window()) == "42"
