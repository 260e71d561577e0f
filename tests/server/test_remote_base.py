"""What every remote shares, on a fake protocol: neutral scores, deadlines, at most `max_in_flight` calls."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from stt_dictation.server.remote_base import RemoteTranscriber
from stt_dictation.server.remote_uri import parse_remote
from stt_dictation.server.settings import Settings
from stt_dictation.server.transcript import TranscribeError
from stt_dictation.server.wav import SAMPLE_RATE, write_wav
from tests.support.speech_servers import run


class Fake(RemoteTranscriber):
    """Answers `text` after `delay` seconds and counts how many calls overlap."""

    def __init__(self, delay: float = 0.0, text: str = " hello there ", **fields) -> None:
        super().__init__(parse_remote("tcp://127.0.0.1:10300"), Settings(remote="tcp://127.0.0.1:10300", **fields))
        self.delay, self.text = delay, text
        self.now = self.most = 0
        self.allowed: list[float] = []

    async def load(self) -> None:
        pass

    async def _send(self, audio: np.ndarray, allowed: float, prompt=None) -> str:
        self.allowed.append(allowed)
        self.now += 1
        self.most = max(self.most, self.now)
        try:
            await asyncio.sleep(self.delay)
            return self.text
        finally:
            self.now -= 1


def test_a_transcript_has_neutral_scores_and_stripped_text():
    r = run(Fake().transcribe(np.zeros(SAMPLE_RATE, dtype=np.float32)), 5)
    assert r.text == "hello there" and r.elapsed >= 0
    assert [(s.text, s.no_speech_prob, s.avg_logprob, s.compression_ratio) for s in r.segments] == [("hello there", 0.0, 0.0, 1.0)]
    assert run(Fake(text="  ").transcribe(np.zeros(10, dtype=np.float32)), 5).segments == []


@pytest.mark.parametrize("limit", [1, 3])
def test_at_most_max_in_flight_calls_at_once(limit):
    t = Fake(delay=0.1, max_in_flight=limit)

    async def six():
        return await asyncio.gather(*(t.transcribe(np.zeros(100, dtype=np.float32)) for _ in range(6)))

    t0 = time.monotonic()
    out = run(six(), 10)
    assert len(out) == 6 and t.most == limit
    assert time.monotonic() - t0 >= 0.1 * (6 // limit) - 0.02
    # A phrase's deadline starts when it is sent, not while it waits its turn.
    assert all(r.elapsed < 0.1 + 0.08 for r in out)


def test_no_answer_within_the_timeout_is_a_transcribe_error():
    t = Fake(delay=5.0, remote_timeout=0.3)
    t0 = time.monotonic()
    with pytest.raises(TranscribeError, match=r"remote tcp://127.0.0.1:10300: no answer within 0.3 s"):
        run(t.transcribe(np.zeros(100, dtype=np.float32)), 5)
    assert time.monotonic() - t0 < 1.0 and t.now == 0  # the call was cancelled


def test_a_file_is_sent_whole_with_its_own_length_added_to_the_deadline(tmp_path):
    pytest.importorskip("faster_whisper")
    path = tmp_path / "two-seconds.wav"
    with open(path, "wb") as f:
        write_wav(f, np.zeros(2 * SAMPLE_RATE, dtype=np.float32))
    t = Fake(remote_timeout=3)
    text, seconds, elapsed = run(t.transcribe_file(str(path)), 5)
    assert (text, seconds) == ("hello there", 2.0) and elapsed >= 0
    assert t.allowed == [5.0]


def test_transcribe_file_that_cannot_be_decoded(tmp_path):
    bad = tmp_path / "not-audio.wav"
    bad.write_bytes(b"this is not audio")
    t = Fake()
    with pytest.raises(TranscribeError, match="not-audio.wav: cannot decode"):
        run(t.transcribe_file(str(bad)), 10)
    assert t.allowed == []
