"""The phrase pipeline: events in, text typed in spoken order; one `to_text` for live and recovery."""

import asyncio
import time

import numpy as np

from stt_dictation.server.events import EventBus
from stt_dictation.server.ledger import Ledger
from stt_dictation.server.pipeline import Pipeline, recover, to_text
from stt_dictation.server.recorder import Recording
from stt_dictation.server.resilient import ResilientTranscriber
from stt_dictation.server.segmenter import Phrase, Retract, Speculate
from stt_dictation.server.settings import Settings
from stt_dictation.server.transcript import SegmentScore, Transcriber
from stt_dictation.server.typist import Typist
from stt_dictation.server.wav import SAMPLE_RATE
from tests.server.fakes import SILENCE, SURE, Keyboard, Model, clip

class Rig:
    """Ledger on tmp_path, a typist on a fake keyboard, and the pipeline under test."""

    def __init__(self, tmp_path, model: Transcriber, replacements=None):
        self.model, self.kb = model, Keyboard()
        self.ledger = Ledger(tmp_path, EventBus())
        self.typist = Typist(self.kb, self.ledger, focus_guard=False)
        self.transcriber = ResilientTranscriber(model, Settings(), sleep=lambda s: asyncio.sleep(0.01))
        self.pipeline = Pipeline(self.transcriber, self.ledger, self.typist, replacements or {})

    async def __aenter__(self):
        await self.ledger.open()
        self.task = asyncio.create_task(self.typist.run())
        return self

    async def __aexit__(self, *exc):
        await self.settle()
        self.task.cancel()
        await self.ledger.close()

    async def settle(self):
        """Wait until every numbered phrase is typed or resolved."""
        assert await self.typist.idle(5.0)

    async def entries(self):
        await self.settle()
        return {e.seq: e for e in await self.ledger.recent(100)}


def phrase(pid: int, k: int | None = None, speculated=False) -> Phrase:
    audio = clip(k if k is not None else pid)
    return Phrase(pid, audio, speech_end=pid * SAMPLE_RATE, speech_seconds=1.0, speculated=speculated)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 20))


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
        async with Rig(tmp_path, model) as rig:
            rec = Recording(number=1, started=time.time())
            for pid in (1, 2, 3):
                rig.pipeline.on_event(rec, phrase(pid))
            entries = await rig.entries()
        assert rig.kb.typed == ["one", " two", " three"]
        assert [entries[s].status for s in (1, 2, 3)] == ["typed"] * 3
        assert entries[2].transcribed_at < entries[3].transcribed_at < entries[1].transcribed_at
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
            spec = rec.specs[2]
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


def test_recovery_journals_spooled_phrases_as_recovered_and_keeps_what_it_cannot_read(tmp_path):
    async def main():
        ledger = Ledger(tmp_path, EventBus())
        await ledger.open()
        await ledger.spool.write(5, 2, clip(5, 2.0))
        await ledger.spool.write(6, 2, clip(6))
        bad = ledger.spool.path_for(7, 2)
        bad.write_bytes(b"not a wav file")
        transcriber = ResilientTranscriber(Model({5: "ask not", 6: "Thank you."}), Settings())
        assert await recover(ledger, transcriber, {"ask": "Ask"}) == 2
        entries = {e.seq: e for e in await ledger.recent(10)}
        await ledger.close()
        return entries, [s.seq for s in ledger.spooled()]

    entries, left = run(main())
    assert (entries[5].status, entries[5].text, entries[5].audio_seconds) == ("recovered", "Ask not", 2.0)
    assert entries[5].note == "recovered from the spool after a crash; not typed"
    assert entries[6].status == "recovered" and entries[6].text == "Thank you."
    assert 7 not in entries and left == [7]
