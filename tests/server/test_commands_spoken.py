"""Spoken commands: they act on phrase boundaries only; "scratch that" and line breaks through the typist."""

import time

import pytest

from stt_dictation.server import typist as typist_module
from stt_dictation.server.commands_spoken import Spoken, parse
from stt_dictation.server.recorder import Recording
from tests.support.fakes import Model
from tests.support.pipeline_rig import Rig, phrase, run

@pytest.mark.parametrize(
    "said, means",
    [
        ("Scratch that.", Spoken("", scratch=True)),
        ("New paragraph.", Spoken("", breaks=2)),
        ("new line", Spoken("", breaks=1)),
        ("I went home period.", Spoken("I went home.")),
        ("Is it done question mark?", Spoken("Is it done?")),
        ("Comma.", Spoken(",")),
        ("First things first, comma", Spoken("First things first,")),
    ],
)
def test_commands_act_as_a_whole_phrase_or_at_its_end(said, means):
    assert parse(said) == means

@pytest.mark.parametrize(
    "said",
    ["We launched a new line of products.", "We need a new line", "Scratch that itch.", "Don't scratch that.", "A period of calm.", "The comma splice is wrong."],
)
def test_ordinary_words_are_left_alone(said):
    assert parse(said) == Spoken(said)


def test_scratch_that_takes_back_the_last_phrase_typed_and_says_so_when_it_cannot(tmp_path):
    async def main():
        model = Model({1: "Scratch that.", 2: "Hello there.", 3: "Wrong words.", 4: "Scratch that.", 5: "Right words, period."})
        async with Rig(tmp_path, model, commands=True) as rig:
            rec = Recording(number=1, started=time.time())
            for pid in (1, 2, 3, 4, 5):
                rig.pipeline.on_event(rec, phrase(pid))
            entries = await rig.entries()
        assert rig.kb.screen() == "Hello there. Right words."
        assert rig.kb.typed.count("<backspace>") == len(" Wrong words.")
        assert entries[1].status == "failed" and "scratch that: not done" in entries[1].note  # nothing to take back
        assert entries[3].text == "" and "scratch that" in entries[3].note
        assert entries[4].text == "Scratch that." and entries[5].text == "Right words."

    run(main())


def test_commands_are_off_by_default(tmp_path):
    async def main():
        async with Rig(tmp_path, Model({1: "Hello.", 2: "Scratch that."})) as rig:
            rec = Recording(number=1, started=time.time())
            for pid in (1, 2):
                rig.pipeline.on_event(rec, phrase(pid))
            await rig.settle()
        assert rig.kb.screen() == "Hello. Scratch that."

    run(main())


@pytest.mark.parametrize("window_class, typed", [("gedit", ["Dear Sam,", "<shift+return>", "<shift+return>", "Thanks."]), ("xterm", ["Dear Sam,", " Thanks."]), (None, ["Dear Sam,", " Thanks."])])
def test_new_paragraph_only_where_a_line_break_cannot_submit(tmp_path, monkeypatch, window_class, typed):
    async def focused(desktop):
        return window_class

    monkeypatch.setattr(typist_module, "focused_class", focused)

    async def main():
        async with Rig(tmp_path, Model({1: "Dear Sam,", 2: "New paragraph.", 3: "Thanks."}), commands=True) as rig:
            rec = Recording(number=1, started=time.time())
            for pid in (1, 2, 3):
                rig.pipeline.on_event(rec, phrase(pid))
            entries = await rig.entries()
        assert rig.kb.typed == typed
        assert entries[2].status == ("typed" if window_class == "gedit" else "failed")

    run(main())
