"""inject_split: printable ASCII goes out as keys, every other run is pasted, in order; no clipboard means keys for all."""

from __future__ import annotations

import asyncio

from stt_dictation.server.inject_base import Injector, runs
from stt_dictation.server.inject_split import SplitInjector


class Keys(Injector):
    name = "keys"

    def __init__(self, log: list, problem: str | None = None) -> None:
        super().__init__(12)
        self.log, self._problem = log, problem

    def problem(self):
        return self._problem

    async def type(self, text):
        self.log.append(("keys", text))

    async def press(self, chord):
        self.log.append(("press", chord))


class Clip:
    def __init__(self, log: list, problem: str | None = None) -> None:
        self.log, self._problem, self.keys = log, problem, None

    def problem(self):
        return self._problem

    async def type(self, text):
        self.log.append(("paste", text))


def test_runs_split_printable_ascii_from_the_rest():
    assert runs("abc café ✓ ok") == [(True, "abc caf"), (False, "é"), (True, " "), (False, "✓"), (True, " ok")]
    assert runs("") == []


def test_ascii_as_keys_the_rest_pasted_in_order():
    log: list = []
    keys, clip = Keys(log), Clip(log)
    split = SplitInjector(keys, clip)
    asyncio.run(split.type("naïve ok"))
    assert log == [("keys", "na"), ("paste", "ï"), ("keys", "ve ok")]
    assert clip.keys is keys  # the clipboard presses paste with the key backend
    assert (split.name, split.delay_ms) == ("keys", 12)


def test_without_a_usable_clipboard_everything_goes_to_the_keys():
    log: list = []
    asyncio.run(SplitInjector(Keys(log), Clip(log, problem="wl-copy not found")).type("über"))
    assert log == [("keys", "ü"), ("keys", "ber")]


def test_the_problem_and_presses_are_the_key_backends():
    log: list = []
    split = SplitInjector(Keys(log, problem="no uinput"), Clip(log, problem="no clipboard"))
    assert split.problem() == "no uinput"
    asyncio.run(split.press("ctrl+v"))
    assert log == [("press", "ctrl+v")]
