"""The resilient transcriber: retry with backoff, fall back, stop for a cancelled recording."""

import asyncio

import numpy as np
import pytest

from stt_dictation.server.resilient import ResilientTranscriber, backoff
from stt_dictation.server.settings import Settings
from stt_dictation.server.transcript import SegmentScore, Transcriber, TranscribeError, Transcript

AUDIO = np.zeros(1600, dtype=np.float32)


def said(text: str) -> Transcript:
    return Transcript([SegmentScore(text, 0.0, -0.1, 1.0)])


class Flaky(Transcriber):
    """Fails the first `failures` calls, then answers `text`; optionally slow."""

    def __init__(self, failures: int = 0, text: str = "hello", backend: str = "local", delay: float = 0.0):
        self.failures, self.text, self.backend, self.delay = failures, text, backend, delay
        self.model_name = f"flaky-{text}"
        self.calls = 0
        self.loaded = self.closed = 0

    async def load(self):
        self.loaded += 1

    async def transcribe(self, audio, prompt=None, lead=None):
        self.calls += 1
        await asyncio.sleep(self.delay)
        if self.calls <= self.failures:
            raise TranscribeError(f"connection refused ({self.calls})")
        return said(self.text)

    async def transcribe_file(self, path):
        return self.text, 1.0, 0.1

    async def close(self):
        self.closed += 1


class Reports:
    """Collects what the wrapper reports: faults, notes and the waits it asked for."""

    def __init__(self):
        self.faults: list = []
        self.notes: list[str] = []
        self.waits: list[float] = []

    async def note(self, msg):
        self.notes.append(msg)

    async def sleep(self, seconds):
        self.waits.append(seconds)


def wrap(inner, rec: Reports, embedded=None, **settings) -> ResilientTranscriber:
    return ResilientTranscriber(inner, Settings(**settings), on_fault=rec.faults.append, fallback=embedded, sleep=rec.sleep)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 20))


def test_backoff_doubles_from_half_a_second_up_to_fifteen():
    assert [backoff(n) for n in range(1, 9)] == [0.5, 1, 2, 4, 8, 15, 15, 15]


def test_failed_tries_are_retried_with_backoff_reported_and_cleared_on_success():
    rec = Reports()
    inner = Flaky(failures=6)
    t = wrap(inner, rec)
    result = run(t.transcribe_phrase(3, AUDIO, note=rec.note))
    assert result.text == "hello" and inner.calls == 7
    assert rec.waits == [0.5, 1, 2, 4, 8, 15]
    assert len(rec.notes) == 6 and rec.faults[:-1] == rec.notes and rec.faults[-1] is None
    assert rec.notes[0] == "transcription of phrase 3 failed (try 1): connection refused (1); retrying in 0.5 s"
    assert "(try 6)" in rec.notes[-1] and rec.notes[-1].endswith("retrying in 15 s")


def test_a_first_try_that_works_reports_nothing():
    rec = Reports()
    assert run(wrap(Flaky(), rec).transcribe_phrase(1, AUDIO, note=rec.note)).text == "hello"
    assert rec.faults == [] and rec.notes == [] and rec.waits == []


def test_a_remote_falls_back_to_the_embedded_model_after_fallback_after_tries_loaded_once():
    rec = Reports()
    made = []

    def embedded():
        made.append(Flaky(text="local words"))
        return made[-1]

    remote = Flaky(failures=100, backend="tcp://127.0.0.1:9")
    t = wrap(remote, rec, embedded, fallback="local", fallback_after=2)

    async def main():
        first = await t.transcribe_phrase(1, AUDIO, note=rec.note)
        second = await t.transcribe_phrase(2, AUDIO, note=rec.note)
        await t.close()
        return first, second

    first, second = run(main())
    assert first.text == second.text == "local words"
    assert remote.calls == 4 and rec.waits == [0.5, 0.5]  # two tries per phrase, one wait between
    assert len(made) == 1 and made[0].loaded == 1 and made[0].calls == 2
    assert remote.closed == 1 and made[0].closed == 1


@pytest.mark.parametrize(
    "settings",
    [dict(fallback="none", fallback_after=1), dict(fallback="local", fallback_after=1, backend="local")],
    ids=["fallback off", "already local"],
)
def test_no_fallback_when_it_is_off_or_the_backend_is_already_local(settings):
    rec = Reports()
    backend = settings.pop("backend", "tcp://127.0.0.1:9")
    t = wrap(Flaky(failures=3, backend=backend), rec, lambda: pytest.fail("fell back"), **settings)
    assert run(t.transcribe_phrase(1, AUDIO)).text == "hello"
    assert rec.waits == [0.5, 1, 2]


def test_a_cancelled_recording_stops_retrying_before_and_after_the_wait():
    rec = Reports()
    inner = Flaky(failures=100)
    assert run(wrap(inner, rec).transcribe_phrase(1, AUDIO, cancelled=lambda: True)) is None
    assert inner.calls == 1 and rec.waits == []  # cancelled already: not even one wait

    rec, inner = Reports(), Flaky(failures=100)
    t = wrap(inner, rec)
    flag = {"cancelled": False}

    async def cancel_during_wait(seconds):
        rec.waits.append(seconds)
        flag["cancelled"] = len(rec.waits) == 2

    t._sleep = cancel_during_wait
    assert run(t.transcribe_phrase(1, AUDIO, cancelled=lambda: flag["cancelled"])) is None
    assert inner.calls == 2 and rec.waits == [0.5, 1]


def test_a_speculative_result_is_used_without_a_second_decode():
    rec = Reports()
    inner = Flaky()
    t = wrap(inner, rec)

    async def main():
        spec = asyncio.ensure_future(t.transcribe(AUDIO))
        return await t.transcribe_phrase(1, AUDIO, first=spec)

    assert run(main()).text == "hello" and inner.calls == 1


def test_a_cancelled_speculation_is_decoded_afresh_but_a_cancelled_task_stops():
    rec = Reports()
    inner = Flaky(delay=0.05)
    t = wrap(inner, rec)

    async def retracted():
        spec = asyncio.ensure_future(t.transcribe(AUDIO))
        asyncio.get_running_loop().call_later(0.01, spec.cancel)
        return await t.transcribe_phrase(1, AUDIO, first=spec)

    assert run(retracted()).text == "hello" and inner.calls == 2

    async def shutdown():
        spec = asyncio.ensure_future(t.transcribe(AUDIO))
        task = asyncio.ensure_future(t.transcribe_phrase(2, AUDIO, first=spec))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return t.inflight

    assert run(shutdown()) == 0


def test_inflight_counts_calls_on_the_real_transcriber():
    t = wrap(Flaky(delay=0.05), Reports())

    async def main():
        calls = [asyncio.ensure_future(t.transcribe(AUDIO)) for _ in range(3)]
        await asyncio.sleep(0.01)
        during = t.inflight
        await asyncio.gather(*calls)
        return during, t.inflight

    assert run(main()) == (3, 0)
    assert (t.backend, t.model_name) == ("local", "flaky-hello")
