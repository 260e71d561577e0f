"""said: a recording's text so far as typed (for context and joining), and the bounded wait for it."""

from __future__ import annotations

import asyncio

from stt_dictation.server.said import KEPT, Said, after, wait


def test_phrases_of_one_recording_accumulate():
    one = after(1, "w", None, seq=1, typed="Hello", amended=False)
    two = after(1, "w", one, seq=2, typed=" world", amended=False)
    assert two.text == "Hello world"
    assert (two.last, two.last_text, two.last_len) == (2, "world", 6)


def test_a_new_recording_starts_from_nothing():
    old = Said(1, "w", "Earlier text.", 4, "text.", 6)
    new = after(2, "w", old, seq=5, typed="Fresh", amended=False)
    assert (new.recording, new.text, new.last) == (2, "Fresh", 5)


def test_scratch_that_takes_the_last_phrase_off_the_text():
    one = after(1, None, None, 1, "Keep this.", False)
    two = after(1, None, one, 2, " Drop this.", False)
    gone = after(1, None, two, 3, "", True)
    assert gone.text == "Keep this." and gone.last is None


def test_an_amend_erases_the_end_mark_before_the_typed_text():
    one = after(1, None, None, 1, "Hello.", False)
    two = after(1, None, one, 2, ", and more", True)
    assert two.text == "Hello, and more" and two.last_text == "and more"


def test_a_phrase_that_typed_nothing_keeps_the_last_one():
    one = after(1, None, None, 1, "Hello", False)
    quiet = after(1, None, one, 2, "", False)
    assert (quiet.text, quiet.last, quiet.last_text) == ("Hello", 1, "Hello")


def test_the_text_is_bounded():
    one = after(1, None, None, 1, "x" * KEPT, False)
    two = after(1, None, one, 2, " tail", False)
    assert len(two.text) == KEPT and two.text.endswith(" tail")


def test_wait_gives_the_result_or_none_after_the_timeout_without_cancelling():
    async def go():
        loop = asyncio.get_running_loop()
        fut: asyncio.Future = loop.create_future()
        late = await wait(fut, 0.05)
        fut.set_result(Said(1, None, "done"))
        return late, await wait(fut, 1.0), await wait(None, 1.0), fut.cancelled()

    late, got, none, cancelled = asyncio.run(go())
    assert late is None and got.text == "done" and none is None and not cancelled
