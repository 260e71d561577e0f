"""The Wyoming client against a real wyoming-faster-whisper (tiny.en) and against servers of our
own that misbehave on purpose (tests/support/fault_servers.py): dead, killed, restarted,
silent or garbage-speaking.

Every await runs under a timeout and every process is killed at teardown. Round-trip
times are printed (`pytest -s` shows them).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time

import numpy as np
import pytest

from stt_dictation.server.transcript import TranscribeError
from stt_dictation.server.wav import SAMPLE_RATE
from tests.support.fault_servers import WyomingFault
from tests.support.speech import wer
from tests.support.speech_servers import JFK, JFK_REF, MAX_WER, free_port, jfk_audio, phrases, remote, run, start_wyoming, wait_wyoming

needs_jfk = pytest.mark.skipif(not JFK.exists(), reason=f"{JFK} is missing (shared/eval/speech)")


@pytest.fixture(scope="module")
def wyoming_unix(tmp_path_factory):
    """A real wyoming-faster-whisper on a unix socket, shared by this module."""
    d = tmp_path_factory.mktemp("wy")
    uri = f"unix://{d}/wyoming.sock"
    srv = start_wyoming(uri, d, d / "server.log")
    try:
        wait_wyoming(srv, uri)
        yield uri
    finally:
        srv.kill()


# --- Wyoming: the real server --------------------------------------------------------------


@needs_jfk
def test_wyoming_transcribes_jfk_phrases(wyoming_unix):
    audio = jfk_audio()
    parts = phrases(audio)
    assert 3 <= len(parts) <= 4

    async def go():
        t = remote(wyoming_unix, language="en", remote_timeout=20)
        await t.load()
        assert t.model_name != "(server default)"  # named by the server's Info
        out = []
        try:
            for p in parts:
                out.append(await t.transcribe(p))
            whole = await t.transcribe(audio)
        finally:
            await t.close()
        return t, out, whole

    t, out, whole = run(go(), 60)
    hyp = " ".join(r.text for r in out)
    err = wer([JFK_REF], [hyp])
    print(f"\nwyoming {t.backend}: {len(parts)} phrases {[round(r.elapsed, 2) for r in out]} s; whole 11 s in {whole.elapsed:.2f} s; WER {err:.1%}: {hyp!r}")
    assert err < MAX_WER, hyp
    assert wer([JFK_REF], [whole.text]) < MAX_WER, whole.text
    for r in out:
        assert r.elapsed > 0
        for s in r.segments:
            assert (s.no_speech_prob, s.avg_logprob, s.compression_ratio) == (0.0, 0.0, 1.0)


@needs_jfk
def test_wyoming_transcribe_file_sends_the_whole_file(wyoming_unix):
    async def go():
        t = remote(wyoming_unix, language="en", remote_timeout=20)
        await t.load()
        try:
            return await t.transcribe_file(str(JFK))
        finally:
            await t.close()

    text, seconds, elapsed = run(go(), 60)
    assert seconds == pytest.approx(11.0, abs=0.05)
    assert elapsed > 0
    assert wer([JFK_REF], [text]) < MAX_WER, text


def test_transcribe_file_that_cannot_be_decoded(tmp_path):
    bad = tmp_path / "not-audio.wav"
    bad.write_bytes(b"this is not audio")
    t = remote(f"unix://{tmp_path}/nobody.sock", remote_timeout=5)
    with pytest.raises(TranscribeError, match="not-audio.wav"):
        run(t.transcribe_file(str(bad)), 10)


@needs_jfk
def test_wyoming_server_killed_mid_phrase_then_down_then_restarted(tmp_path):
    """SIGKILL during a phrase and while idle: quick TranscribeErrors; after a restart the
    next phrase works on a new connection."""
    port = free_port()
    uri = f"tcp://127.0.0.1:{port}"
    log_path = tmp_path / "server.log"
    srv = start_wyoming(uri, tmp_path, log_path)
    audio = jfk_audio()
    long = np.concatenate([audio, audio])  # 22 s: the server takes a while on it
    try:
        wait_wyoming(srv, uri)
        t = remote(uri, language="en", remote_timeout=20)

        async def killed_mid_phrase():
            seen = srv.log().count("Audio stopped")
            call = asyncio.create_task(t.transcribe(long))
            while srv.log().count("Audio stopped") == seen:  # the server has the whole phrase
                assert not call.done(), "the call finished before the server saw the audio"
                await asyncio.sleep(0.005)
            srv.signal(signal.SIGKILL)
            t_kill = time.monotonic()
            with pytest.raises(TranscribeError) as err:
                await call
            return time.monotonic() - t_kill, str(err.value)

        after_kill, msg = run(killed_mid_phrase(), 30)
        srv.kill()
        assert after_kill < 2.0, f"the dropped connection took {after_kill:.2f} s to notice"
        assert "closed the connection" in msg or "dropped" in msg, msg

        # Down: connection refused, at once, and the message names the server.
        t0 = time.monotonic()
        with pytest.raises(TranscribeError, match=f"cannot connect to Wyoming server tcp://127.0.0.1:{port}"):
            run(t.transcribe(audio[: SAMPLE_RATE * 2]), 10)
        assert time.monotonic() - t0 < 2.0

        # Back up on the same address: the next phrase simply connects again.
        srv = start_wyoming(uri, tmp_path, log_path)
        wait_wyoming(srv, uri)
        r = run(t.transcribe(audio), 30)
        assert wer([JFK_REF], [r.text]) < MAX_WER, r.text
    finally:
        srv.kill()


def test_wyoming_load_with_the_server_down_only_logs(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="stt_dictation.server.wyoming_client")
    for uri in (f"tcp://127.0.0.1:{free_port()}", f"unix://{tmp_path}/nobody.sock"):
        t = remote(uri, language="en", remote_timeout=5)
        t0 = time.monotonic()
        run(t.load(), 10)  # must not raise
        assert time.monotonic() - t0 < 2.0
        assert f"Wyoming server {uri} is not reachable now" in caplog.text
        with pytest.raises(TranscribeError, match="cannot connect"):
            run(t.transcribe(np.zeros(SAMPLE_RATE, dtype=np.float32)), 10)


# --- Wyoming: servers that misbehave ------------------------------------------------------


@pytest.mark.parametrize("mode", ["silent", "deaf"])
def test_wyoming_per_phrase_timeout(mode, tmp_path):
    """Accepts, never answers (reading or not): the timeout fires within timeout + 1 s, twice."""
    with WyomingFault(mode, tmp_path / "fault.sock") as srv:
        t = remote(srv.uri, language="en", remote_timeout=1.0)
        run(t.load(), 10)  # the probe times out too, and only logs
        audio = np.zeros(SAMPLE_RATE * 12, dtype=np.float32)  # 384 kB: more than the socket buffers
        for _ in range(2):  # the first timeout leaves nothing stuck behind
            t0 = time.monotonic()
            with pytest.raises(TranscribeError, match=r"no answer within 1 s"):
                run(t.transcribe(audio), 10)
            took = time.monotonic() - t0
            assert 0.9 <= took < 2.0, took
        assert srv.connections >= 3  # a fresh connection per phrase


@pytest.mark.parametrize("mode, says", [("hangup", "closed the connection|dropped"), ("garbage", "closed the connection|malformed|dropped")])
def test_wyoming_hangup_and_garbage_fail_fast(mode, says):
    with WyomingFault(mode) as srv:
        t = remote(srv.uri, language="en", remote_timeout=5.0)
        t0 = time.monotonic()
        with pytest.raises(TranscribeError, match=says):
            run(t.transcribe(np.zeros(SAMPLE_RATE, dtype=np.float32)), 10)
        assert time.monotonic() - t0 < 2.0
