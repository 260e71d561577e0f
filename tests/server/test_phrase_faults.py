"""Defect 4 of issue 12: a failure on a phrase's way that is not a TranscribeError (a full disk,
too many open files, a SQLite error, a bug in the clean-up, a fallback that cannot load) never
drops the phrase: it is `failed` with the reason, its audio stays in the spool, a fault is
reported, and later phrases are still typed."""

from __future__ import annotations

import asyncio
import errno
import json
import sqlite3
import time

import pytest

from stt_dictation.server import pipeline as pipeline_module
from stt_dictation.server.events import EventBus
from stt_dictation.server.ledger import Ledger
from stt_dictation.server.pipeline import Pipeline
from stt_dictation.server.recorder import Recording
from stt_dictation.server.resilient import ResilientTranscriber
from stt_dictation.server.segmenter import Phrase
from stt_dictation.server.settings import Settings
from stt_dictation.server.transcript import ModelLoadError
from stt_dictation.server.typist import Typist
from stt_dictation.server.wav import SAMPLE_RATE
from tests.support.fakes import Keyboard, Model, clip


class Rig:
    """A pipeline on a real ledger (tmp_path) and typist; `faults` is what it reported."""

    def __init__(self, tmp_path, model: Model, **settings) -> None:
        self.model, self.kb = model, Keyboard()
        self.bus = EventBus()
        self.sub = self.bus.subscribe(lambda: None)
        self.ledger = Ledger(tmp_path, self.bus)
        self.typist = Typist(self.kb, self.ledger, focus_guard=False)
        fallback = settings.pop("fallback_factory", None)
        cfg = Settings(context_chars=0, **settings)
        self.transcriber = ResilientTranscriber(model, cfg, sleep=lambda s: asyncio.sleep(0.01), fallback=fallback)
        self.faults: list[str | None] = []
        self.pipeline = Pipeline(self.transcriber, self.ledger, self.typist, cfg, on_fault=self.faults.append)
        self.rec = Recording(number=1, started=time.time())

    async def __aenter__(self) -> "Rig":
        await self.ledger.open()
        self.task = asyncio.create_task(self.typist.run())
        return self

    async def __aexit__(self, *exc) -> None:
        self.task.cancel()
        await self.ledger.close()

    async def say(self, k: int) -> None:
        """Phrase k of the recording, and wait until it is resolved."""
        self.pipeline.on_event(self.rec, Phrase(k, clip(k), speech_end=k * SAMPLE_RATE, speech_seconds=1.0, speculated=False))
        assert await self.typist.idle(5.0)

    async def entry(self, seq: int):
        return await self.ledger.history.get(seq)

    def statuses(self) -> list[tuple[int, str]]:
        out = []
        while not self.sub.queue.empty():
            e = json.loads(self.sub.queue.get_nowait())
            out.append((e["entry"]["seq"], e["entry"]["status"]))
        return out


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 20))


def failing_once(real, exc: BaseException, when=lambda *a, **k: True):
    """`real`, except that its first call for which `when(...)` holds raises `exc`."""
    state = {"armed": True}

    async def call(*args, **kwargs):
        if state["armed"] and when(*args, **kwargs):
            state["armed"] = False
            raise exc
        return await real(*args, **kwargs)

    return call


TEXTS = {1: "first words", 2: "second words"}


def test_a_full_disk_on_the_spool_is_a_fault_and_the_phrase_is_still_typed(tmp_path):
    async def main():
        async with Rig(tmp_path, Model(TEXTS)) as rig:
            rig.ledger.spool.write = failing_once(rig.ledger.spool.write, OSError(errno.ENOSPC, "No space left on device"))
            await rig.say(1)
            after_first = list(rig.faults)
            await rig.say(2)
            return rig, after_first, await rig.entry(1), await rig.entry(2)

    rig, after_first, one, two = run(main())
    assert rig.kb.typed == ["first words", " second words"]
    assert (one.status, two.status) == ("typed", "typed")
    [message] = after_first
    assert "phrase 1" in message and "No space left on device" in message
    assert rig.faults == [message, None]  # a phrase that was kept safe again clears the fault
    assert rig.ledger.spooled() == []


@pytest.mark.parametrize(
    "where",
    ["clean-up", "journal", "open files"],
)
def test_a_failure_after_the_transcript_marks_the_phrase_failed_keeps_its_audio_and_later_phrases_type(tmp_path, monkeypatch, where):
    async def main():
        async with Rig(tmp_path, Model(TEXTS)) as rig:
            if where == "clean-up":
                real_clean = pipeline_module.clean

                def clean(text, *args):
                    if "first" in text:
                        raise KeyError("a bug in the clean-up")
                    return real_clean(text, *args)

                monkeypatch.setattr(pipeline_module, "clean", clean)
            elif where == "journal":
                rig.ledger.set = failing_once(rig.ledger.set, sqlite3.OperationalError("disk I/O error"), lambda seq, status, **kw: status == "transcribed")
            else:  # EMFILE on the spool, then again when the audio is stored: both fail
                write = failing_once(rig.ledger.spool.write, OSError(errno.EMFILE, "Too many open files"))
                rig.ledger.spool.write = write
                monkeypatch.setattr(pipeline_module, "to_text", lambda *a: (_ for _ in ()).throw(RuntimeError("model output unreadable")))
            await rig.say(1)
            if where == "open files":
                monkeypatch.undo()
            await rig.say(2)
            return rig, await rig.entry(1), await rig.entry(2)

    rig, one, two = run(main())
    assert one.status == "failed" and one.text == ""
    reason = {"clean-up": "KeyError", "journal": "OperationalError: disk I/O error", "open files": "RuntimeError: model output unreadable"}[where]
    assert reason in one.note
    # The audio is in the spool (written again where the first write failed), and the note names it.
    [kept] = rig.ledger.spooled()
    assert (kept.seq, kept.recording) == (1, 1) and str(kept.path) in one.note
    assert rig.ledger.spool.read(kept).size == SAMPLE_RATE
    # Later phrases still type; the fault was reported with the same words, then cleared.
    assert rig.kb.typed == ["second words"] and two.status == "typed"
    assert any(f and reason in f and str(kept.path) in f for f in rig.faults), rig.faults
    assert rig.faults[-1] is None
    assert (1, "failed") in rig.statuses()


def test_a_fallback_model_that_cannot_load_fails_the_phrase_not_the_server(tmp_path):
    async def main():
        model = Model(TEXTS, broken={1})
        model.backend = "tcp://gpu-box:10300"

        def no_model():
            raise ModelLoadError("the embedded model is missing")

        async with Rig(tmp_path, model, fallback="local", fallback_after=1, fallback_factory=no_model) as rig:
            await rig.say(1)
            await rig.say(2)
            return rig, await rig.entry(1), await rig.entry(2)

    rig, one, two = run(main())
    assert one.status == "failed" and "ModelLoadError: the embedded model is missing" in one.note
    assert [s.seq for s in rig.ledger.spooled()] == [1]
    assert rig.kb.typed == ["second words"] and two.status == "typed"


def test_the_daemon_shows_a_failed_phrase_in_status_and_tail_and_recovers_with_the_next(tmp_path, monkeypatch):
    from tests.support.daemon_rig import Rig as DaemonRig

    real_clean = pipeline_module.clean

    def clean(text, *args):
        if "hello" in text:
            raise ValueError("clean-up broke")
        return real_clean(text, *args)

    monkeypatch.setattr(pipeline_module, "clean", clean)

    async def main():
        rig = await DaemonRig(tmp_path).up()
        await rig.say(1)
        during = rig.daemon.status()
        faults = rig.events("fault")
        await rig.say(2)
        after = rig.daemon.status()
        history = await rig.daemon.ledger.recent(10)
        return rig, during, faults, after, history

    rig, during, faults, after, history = run(main())
    assert during.state == "error" and "phrase 1 failed: ValueError: clean-up broke" in during.error
    assert [f["code"] for f in faults] == ["phrase_failed"] and faults[0]["message"] == during.error
    assert after.state == "idle" and after.error is None
    assert [(e.seq, e.status) for e in history] == [(1, "failed"), (2, "typed")]
    assert rig.kb.typed == ["second take"]
    assert [s.seq for s in rig.daemon.ledger.spooled()] == [1]


def test_ledger_record_keeps_the_audio_when_the_journal_fails(tmp_path):
    async def main():
        ledger = Ledger(tmp_path, EventBus())
        await ledger.open()
        ledger.history.add = failing_once(ledger.history.add, sqlite3.OperationalError("database is locked"))
        with pytest.raises(sqlite3.OperationalError):
            await ledger.record(3, 1, clip(3), None)
        left = [s.seq for s in ledger.spooled()]
        await ledger.close()
        return left

    assert run(main()) == [3]
