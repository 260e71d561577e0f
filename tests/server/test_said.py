"""said: a recording's text so far as typed (for context and joining), and the bounded wait for it."""

from __future__ import annotations

import asyncio

from stt_dictation.server.said import KEPT, Said, after, wait


def test_phrases_of_one_recording_accumulate():
    one = after(1, "w", None, seq=1, typed="Hello", erased=0)
    two = after(1, "w", one, seq=2, typed=" world", erased=0)
    assert two.text == "Hello world"
    assert (two.last, two.last_text, two.last_len) == (2, "world", 6)


def test_a_new_recording_starts_from_nothing():
    old = Said(1, "w", "Earlier text.", 4, "text.", 6)
    new = after(2, "w", old, seq=5, typed="Fresh", erased=0)
    assert (new.recording, new.text, new.last) == (2, "Fresh", 5)


def test_scratch_that_takes_the_last_phrase_off_the_text():
    one = after(1, None, None, 1, "Keep this.", 0)
    two = after(1, None, one, 2, " Drop this.", 0)
    gone = after(1, None, two, 3, "", len(" Drop this."))
    assert gone.text == "Keep this." and gone.last is None


def test_an_amend_erases_the_end_mark_before_the_typed_text():
    one = after(1, None, None, 1, "Hello.", 0)
    two = after(1, None, one, 2, ", and more", 1)
    assert two.text == "Hello, and more" and two.last_text == "and more"


def test_an_amend_may_erase_a_longer_mark_or_none():
    one = after(1, None, None, 1, "Wait...", 0)
    assert after(1, None, one, 2, "? Really", 3).text == "Wait? Really"
    assert after(1, None, one, 2, ", then", 0).text == "Wait..., then"


def test_the_last_phrase_keeps_its_audio_for_the_next_led_decode():
    import numpy as np

    audio = np.ones(4, dtype=np.float32)
    one = after(1, None, None, 1, "Hello.", 0, audio)
    quiet = after(1, None, one, 2, "", 0, np.zeros(2, dtype=np.float32))
    assert one.last_audio is audio and quiet.last_audio is audio and quiet.last_len == one.last_len


def test_a_phrase_that_typed_nothing_keeps_the_last_one():
    one = after(1, None, None, 1, "Hello", 0)
    quiet = after(1, None, one, 2, "", 0)
    assert (quiet.text, quiet.last, quiet.last_text) == ("Hello", 1, "Hello")


def test_the_text_is_bounded():
    one = after(1, None, None, 1, "x" * KEPT, 0)
    two = after(1, None, one, 2, " tail", 0)
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
