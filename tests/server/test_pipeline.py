"""The phrase pipeline: events in, text typed in spoken order; one `to_text` for live and recovery."""

import asyncio
import time

from stt_dictation.server.pipeline import to_text
from stt_dictation.server.recorder import Recording
from stt_dictation.server.segmenter import Phrase, Retract, Speculate
from stt_dictation.server.transcript import SegmentScore, Transcript
from stt_dictation.server.wav import SAMPLE_RATE
from tests.support.fakes import SILENCE, SURE, Model, clip
from tests.support.pipeline_rig import Rig, phrase, run

def test_to_text_keeps_judges_and_cleans():
    good = to_text([SegmentScore(" ask not\x1b[2J what ", **SURE)], 1.0, {"ask": "ASK"})
    assert (good.typed, good.stored, good.status, good.reason) == ("ASK not what", "ASK not what", "transcribed", None)
    filtered = to_text([SegmentScore("Thank you.", **SILENCE)], 0.2, {})
    assert (filtered.typed, filtered.stored, filtered.status) == ("", "Thank you.", "filtered")
    assert "no_speech_prob 0.90" in filtered.reason
    empty = to_text([], 1.0, {})
    assert (empty.typed, empty.stored, empty.status) == ("", "", "empty")


def test_phrases_finishing_out_of_order_are_typed_in_spoken_order(tmp_path):
    async def main():
        model = Model({1: "one", 2: "two", 3: "three"}, delays={1: 0.3, 3: 0.1})
        async with Rig(tmp_path, model, context_chars=0) as rig:  # no context: nothing waits for the phrase before
            rec = Recording(number=1, started=time.time())
            for pid in (1, 2, 3):
                rig.pipeline.on_event(rec, phrase(pid))
            entries = await rig.entries()
        assert rig.kb.typed == ["one", " two", " three"]
        assert [entries[s].status for s in (1, 2, 3)] == ["typed"] * 3
        assert model.finished == [2, 3, 1]  # decoded at once, finished out of order
        assert [entries[s].typed_at for s in (1, 2, 3)] == sorted(entries[s].typed_at for s in (1, 2, 3))
        assert rig.ledger.spooled() == []

    run(main())


def test_a_speculation_that_holds_is_the_result_and_a_retracted_one_is_dropped(tmp_path):
    async def main():
        model = Model({1: "first", 2: "stale", 3: "second"}, delays={2: 0.2})
        async with Rig(tmp_path, model) as rig:
            rec = Recording(number=1, started=time.time())
            rig.pipeline.on_event(rec, Speculate(1, clip(1)))
            rig.pipeline.on_event(rec, phrase(1, speculated=True))
            await asyncio.sleep(0.05)
            rig.pipeline.on_event(rec, Speculate(2, clip(2)))
            spec, _context = rec.specs[2]
            await asyncio.sleep(0.01)  # the guess is under way when speech resumes
            rig.pipeline.on_event(rec, Retract(2))
            rig.pipeline.on_event(rec, phrase(2, k=3))
        assert spec.cancelled() and rec.specs == {}
        assert model.heard == [1, 2, 3]  # phrase 1 decoded once, by its speculation
        assert rig.kb.typed == ["first", " second"]

    run(main())


def test_no_speculation_while_the_model_is_busy(tmp_path):
    async def main():
        model = Model({1: "slow", 2: "guess"}, delays={1: 0.3})
        async with Rig(tmp_path, model) as rig:
            rec = Recording(number=1, started=time.time())
            rig.pipeline.on_event(rec, phrase(1))
            await asyncio.sleep(0.05)
            rig.pipeline.on_event(rec, Speculate(2, clip(2)))
            assert rec.specs == {} and model.heard == [1]
        assert rig.kb.typed == ["slow"]

    run(main())


def test_filtered_speech_is_journaled_not_typed_and_replacements_apply(tmp_path):
    async def main():
        model = Model({1: "Thank you."}, scores=SILENCE)
        async with Rig(tmp_path, model, replacements={"thank": "THANK"}) as rig:
            rec = Recording(number=1, started=time.time())
            rig.pipeline.on_event(rec, Phrase(1, clip(1), SAMPLE_RATE, 0.2, False))
            entry = (await rig.entries())[1]
        assert rig.kb.typed == []
        assert (entry.status, entry.text) == ("filtered", "Thank you.")
        assert entry.note.startswith("filtered: ")

    run(main())


def test_a_cancelled_recording_stops_a_phrase_waiting_for_a_retry(tmp_path):
    async def main():
        model = Model({1: "never"}, broken={1})
        async with Rig(tmp_path, model) as rig:
            rec = Recording(number=4, started=time.time())
            rig.pipeline.on_event(rec, phrase(1))
            while len(model.heard) < 2:
                await asyncio.sleep(0.01)
            rec.cancelled = True
            rig.typist.cancel_recording(4)
            entry = (await rig.entries())[1]
            tries = len(model.heard)
            await asyncio.sleep(0.1)
        assert (entry.status, entry.note) == ("cancelled", "discarded by cancel")
        assert len(model.heard) == tries <= 3  # no try after the cancel was seen
        assert rig.kb.typed == [] and rig.ledger.spooled() == []

    run(main())


def test_each_phrase_is_decoded_after_the_recordings_text_so_far_and_joined_to_it(tmp_path):
    async def main():
        model = Model({1: "And so my fellow Americans,", 2: "Ask not what your country can do for you.", 3: "Ask what you can do.", 4: "Next time."}, delays={1: 0.2})
        async with Rig(tmp_path, model, context_chars=30) as rig:
            rec = Recording(number=1, started=time.time())
            for pid in (1, 2, 3):
                rig.pipeline.on_event(rec, phrase(pid))
            other = Recording(number=2, started=time.time())
            rig.pipeline.on_event(other, phrase(4))
            entries = await rig.entries()
        assert model.prompts[1] is None and model.prompts[4] is None  # a recording starts without context
        assert model.prompts[2] == "And so my fellow Americans,"
        assert model.prompts[3] == "your country can do for you,"  # its last 30 characters, cut at a word; the end mark may move
        assert rig.kb.typed == ["And so my fellow Americans,", " ask not what your country can do for you.", " Ask what you can do.", "Next time."]
        assert entries[2].text == "ask not what your country can do for you."  # the history holds what was typed

    run(main())


def test_a_backend_that_takes_no_prompt_decodes_each_phrase_without_waiting_for_the_last(tmp_path):
    """Wyoming has no prompt field: phrase 2 must not wait for phrase 1's text it could not send."""

    async def main():
        model = Model({1: "First part,", 2: "second part."}, delays={1: 1.5})
        model.takes_prompt = False
        async with Rig(tmp_path, model, context_chars=200) as rig:
            rec = Recording(number=1, started=time.time())
            for pid in (1, 2):
                rig.pipeline.on_event(rec, phrase(pid))
            await rig.entries()
        assert model.prompts[2] is None
        assert model.finished.index(2) < model.finished.index(1)  # decoded while phrase 1 was still in the model
        assert rig.kb.typed[0] == "First part,"  # typed in spoken order all the same

    run(main())


def test_a_speculative_decode_has_the_same_context_or_is_not_used(tmp_path):
    async def main():
        model = Model({1: "one,", 2: "So", 3: "then", 4: "Now"})
        async with Rig(tmp_path, model) as rig:
            rec = Recording(number=1, started=time.time())
            rig.pipeline.on_event(rec, phrase(1))
            await rig.settle()  # phrase 1 is resolved: the guess for phrase 2 gets its text
            rig.pipeline.on_event(rec, Speculate(2, clip(2)))
            await asyncio.sleep(0.01)
            assert model.prompts[2] == "one,"
            rig.pipeline.on_event(rec, phrase(2, speculated=True))
            await rig.settle()
            assert model.heard == [1, 2]  # the guess was the result
            rig.pipeline.on_event(rec, phrase(3))
            rig.pipeline.on_event(rec, Speculate(4, clip(4)))  # guessed before phrase 3 has text
            rig.pipeline.on_event(rec, phrase(4, speculated=True))
            await rig.settle()
        assert model.heard.count(4) == 2 and model.prompts[4] == "one, so then"  # decoded again with the context
        assert rig.kb.typed == ["one,", " so", " then", " now"]

    run(main())


def test_a_phrase_reading_its_context_back_is_decoded_again_alone(tmp_path):
    class Echo(Model):
        async def transcribe(self, audio, prompt=None, lead=None):
            t = await super().transcribe(audio, prompt)
            if prompt:  # the conditioning loop: the context comes back
                return Transcript([SegmentScore(prompt + " " + prompt, **SURE)])
            return t

    async def main():
        model = Echo({1: "We shipped the release today.", 2: "It went well."})
        async with Rig(tmp_path, model) as rig:
            rec = Recording(number=1, started=time.time())
            rig.pipeline.on_event(rec, phrase(1))
            rig.pipeline.on_event(rec, phrase(2))
            entries = await rig.entries()
        assert model.heard == [1, 2, 2]
        assert rig.kb.typed == ["We shipped the release today.", " It went well."]
        assert "repeats the context" in (entries[2].note or "")

    run(main())


def test_the_first_phrase_of_a_recording_follows_leading_space(tmp_path):
    async def dictate(rule, windows):
        model = Model({1: "Hello there", 2: "And more."})
        async with Rig(tmp_path / rule / "-".join(map(str, windows)), model, leading_space=rule) as rig:
            for n, (k, window) in enumerate(zip((1, 2), windows), 1):
                rec = Recording(number=n, started=time.time(), window=window)
                rig.pipeline.on_event(rec, phrase(k))
                await rig.settle()
        return rig.kb.typed

    async def main():
        assert await dictate("never", ("w1", "w1")) == ["Hello there", "And more."]
        assert await dictate("always", ("w1", "w2")) == [" Hello there", " And more."]
        # auto: a space only where the last recording typed into the same window; the case stays the model's
        assert await dictate("auto", ("w1", "w1")) == ["Hello there", " And more."]
        assert await dictate("auto", ("w1", "w2")) == ["Hello there", "And more."]

    run(main())


def test_a_phrase_that_goes_on_with_the_sentence_turns_the_end_mark_before_it_into_a_comma(tmp_path):
    async def main():
        model = Model({1: "And so my fellow Americans.", 2: "ask not what your country can do for you.", 3: "Ask what you can do."})
        async with Rig(tmp_path, model) as rig:
            rec = Recording(number=1, started=time.time())
            for pid in (1, 2, 3):
                rig.pipeline.on_event(rec, phrase(pid))
            entries = await rig.entries()
        assert model.prompts[2] == "And so my fellow Americans,"  # the model may go on with the sentence
        assert rig.kb.typed == ["And so my fellow Americans.", "<backspace>", ", ask not what your country can do for you.", " Ask what you can do."]
        assert rig.kb.screen() == "And so my fellow Americans, ask not what your country can do for you. Ask what you can do."
        assert [entries[s].text for s in (1, 2, 3)] == ["And so my fellow Americans,", "ask not what your country can do for you.", "Ask what you can do."]
        assert model.prompts[3] == "And so my fellow Americans, ask not what your country can do for you,"

    run(main())


class Led(Model):
    """A model that takes a lead: with one, clip k says `led[k]` (the mark between the phrases, then its words)."""

    takes_lead = True

    def __init__(self, texts, led):
        super().__init__(texts)
        self.led, self.leads = led, {}

    async def transcribe(self, audio, prompt=None, lead=None):
        plain = await super().transcribe(audio, prompt)
        k = self.heard[-1]
        self.leads[k] = lead
        if lead is not None and k in self.led:
            return Transcript([SegmentScore(self.led[k], **SURE)], after_lead=True)
        return plain


def test_a_led_decode_puts_the_models_mark_between_the_phrases(tmp_path):
    async def main():
        model = Led(
            {1: "And so my fellow Americans.", 2: "Ask not what your country can do for you.", 3: "Ask what you can do.", 4: "Thank you."},
            {2: ", ask not what your country can do for you.", 3: " ask what you can do.", 4: ". Thank you."},
        )
        async with Rig(tmp_path, model) as rig:
            rec = Recording(number=1, started=time.time())
            for pid in (1, 2, 3, 4):
                rig.pipeline.on_event(rec, phrase(pid))
            entries = await rig.entries()
        assert model.leads[1] is None and model.prompts[1] is None
        lead = model.leads[2]
        assert (lead.seq, lead.text, round(float(lead.audio.max()) * 100)) == (1, "And so my fellow Americans", 1)  # phrase 1's audio
        assert model.prompts[2] is None  # nothing was said before the lead
        assert model.leads[3].text == "ask not what your country can do for you"
        assert model.prompts[3] == "And so my fellow Americans,"  # the text before the lead, as it reads now
        assert rig.kb.typed == [
            "And so my fellow Americans.", "<backspace>", ", ask not what your country can do for you.",
            "<backspace>", " ask what you can do.", " Thank you.",
        ]  # fmt: skip
        assert rig.kb.screen() == "And so my fellow Americans, ask not what your country can do for you ask what you can do. Thank you."
        assert [entries[s].text for s in (1, 2, 3, 4)] == [
            "And so my fellow Americans,", "ask not what your country can do for you", "ask what you can do.", "Thank you.",
        ]  # fmt: skip

    run(main())


def test_the_history_holds_a_led_phrase_as_typed_when_its_new_mark_changes_the_case(tmp_path):
    """A full stop the model put between two phrases gives the next word its capital on the screen and in the history."""

    async def main():
        model = Led({1: "as regards the letters", 2: "And type was used.", 3: "So it went."}, {2: ". and type was used.", 3: ", So it went."})
        async with Rig(tmp_path, model) as rig:
            rec = Recording(number=1, started=time.time())
            for pid in (1, 2, 3):
                rig.pipeline.on_event(rec, phrase(pid))
            entries = await rig.entries()
        assert rig.kb.screen() == "as regards the letters. And type was used, so it went.", rig.kb.typed
        assert [entries[s].text for s in (1, 2, 3)] == ["as regards the letters.", "And type was used,", "so it went."]

    run(main())


def test_a_led_decode_with_no_words_of_its_own_is_decoded_again_alone(tmp_path):
    async def main():
        model = Led({1: "We shipped it.", 2: "It went well."}, {2: "."})
        async with Rig(tmp_path, model) as rig:
            rec = Recording(number=1, started=time.time())
            rig.pipeline.on_event(rec, phrase(1))
            rig.pipeline.on_event(rec, phrase(2))
            await rig.entries()
        assert model.heard == [1, 2, 2] and model.prompts[2] == "We shipped it"  # the lead's text became context
        assert rig.kb.typed == ["We shipped it.", " It went well."]

    run(main())


def test_a_speculative_decode_with_the_same_lead_is_the_result(tmp_path):
    async def main():
        model = Led({1: "One.", 2: "Two."}, {2: ", two."})
        async with Rig(tmp_path, model) as rig:
            rec = Recording(number=1, started=time.time())
            rig.pipeline.on_event(rec, phrase(1))
            await rig.settle()
            rig.pipeline.on_event(rec, Speculate(2, clip(2)))
            await asyncio.sleep(0.01)
            rig.pipeline.on_event(rec, phrase(2, speculated=True))
            await rig.settle()
        assert model.heard == [1, 2] and model.leads[2].seq == 1
        assert rig.kb.screen() == "One, two."

    run(main())


def test_a_spoken_mark_said_alone_takes_the_place_of_the_one_typed(tmp_path):
    async def main():
        model = Model({1: "Hello.", 2: "Comma.", 3: "and more.", 4: "Period."})
        async with Rig(tmp_path, model, commands=True) as rig:
            rec = Recording(number=1, started=time.time())
            for pid in (1, 2, 3, 4):
                rig.pipeline.on_event(rec, phrase(pid))
            await rig.entries()
        assert rig.kb.screen() == "Hello, and more.", rig.kb.typed  # not "Hello.," nor "more.."

    run(main())
