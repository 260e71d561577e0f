"""The OpenAI-compatible client against a real faster-whisper-server (tiny.en) and against a fake
of our own that wants a bearer key (tests/support/fault_servers.py).

Every await runs under a timeout and every process is killed at teardown. Round-trip
times are printed (`pytest -s` shows them).
"""

from __future__ import annotations

import logging
import time

import numpy as np
import pytest

from stt_dictation.server.openai_client import API_KEY_ENV
from stt_dictation.server.transcript import ModelLoadError, TranscribeError
from stt_dictation.server.wav import SAMPLE_RATE
from tests.support.fault_servers import FakeOpenAI
from tests.support.speech import clips, normalise, wer
from tests.support.speech_servers import JFK, JFK_REF, MAX_WER, free_port, jfk_audio, phrases, remote, run

needs_jfk = pytest.mark.skipif(not JFK.exists(), reason=f"{JFK} is missing (shared/eval/speech)")


# --- OpenAI-compatible: the real server ---------------------------------------------------


@needs_jfk
def test_openai_transcribes_jfk_phrases(openai_server, monkeypatch):
    monkeypatch.delenv(API_KEY_ENV, raising=False)
    audio = jfk_audio()
    parts = phrases(audio)

    async def go():
        t = remote(openai_server, language="en", remote_timeout=20)
        await t.load()
        out = []
        try:
            for p in parts:
                out.append(await t.transcribe(p))
            whole = await t.transcribe(audio)
            f = await t.transcribe_file(str(JFK))
        finally:
            await t.close()
        return t, out, whole, f

    t, out, whole, (ftext, fsec, fel) = run(go(), 60)
    hyp = " ".join(r.text for r in out)
    err = wer([JFK_REF], [hyp])
    times = [round(r.elapsed, 2) for r in out]
    print(f"\nopenai {t.backend}: {len(parts)} phrases {times} s; whole 11 s in {whole.elapsed:.2f} s; file in {fel:.2f} s; WER {err:.1%}: {hyp!r}")
    assert err < MAX_WER, hyp
    assert wer([JFK_REF], [whole.text]) < MAX_WER, whole.text
    assert wer([JFK_REF], [ftext]) < MAX_WER and fsec == pytest.approx(11.0, abs=0.05)
    assert all(s.compression_ratio == 1.0 for r in out for s in r.segments)


# --- OpenAI-compatible: our own fake with a bearer key ----------------------------------------

RIGHT = "sk-test-RIGHT-7c1e9b2f04d6"
WRONG = "sk-test-WRONG-a83f55e01b9c"


def test_openai_wrong_key_is_an_authentication_error_and_never_shown(monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    with FakeOpenAI(key=RIGHT) as fake:
        monkeypatch.setenv(API_KEY_ENV, WRONG)
        t = remote(fake.uri, language="en", remote_timeout=5)

        async def go():
            await t.load()  # the probe gets a 401: a warning, not a failure
            try:
                with pytest.raises(TranscribeError) as err:
                    await t.transcribe(np.zeros(SAMPLE_RATE, dtype=np.float32))
                return err.value
            finally:
                await t.close()

        exc = run(go(), 15)
    msg = str(exc)
    assert "authentication failed (HTTP 401)" in msg and API_KEY_ENV in msg, msg
    assert "[redacted]" in msg  # the server echoed the key back; we did not
    everything = "\n".join([msg, repr(exc), repr(exc.__cause__), repr(exc.__context__), caplog.text, t.backend, t.model_name])
    everything += "\n".join(f"{r.getMessage()} {r.args!r}" for r in caplog.records)
    assert WRONG not in everything
    assert "authentication failed" in caplog.text  # the start-up probe said so
    assert fake.uploads == []


def test_openai_right_key_gets_the_served_text_and_sends_the_fields(monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    with FakeOpenAI(key=RIGHT, text=" Deploy the Kubernetes cluster. ") as fake:
        monkeypatch.setenv(API_KEY_ENV, RIGHT)
        t = remote(fake.uri, language="de", initial_prompt="Kubernetes, Grafana", remote_model="large-v3", remote_timeout=5)

        async def go():
            await t.load()
            try:
                return await t.transcribe(np.full(SAMPLE_RATE * 2, 0.1, dtype=np.float32))
            finally:
                await t.close()

        r = run(go(), 15)
    assert r.text == "Deploy the Kubernetes cluster."
    assert [s.text for s in r.segments] == ["Deploy the Kubernetes cluster."] and r.elapsed > 0
    (up,) = fake.uploads
    assert up.authorization == f"Bearer {RIGHT}"
    assert up.fields == {"model": "large-v3", "language": "de", "prompt": "Kubernetes, Grafana", "response_format": "json"}
    assert (up.wav_rate, up.wav_channels, up.wav_width, up.wav_frames) == (16000, 1, 2, 2 * SAMPLE_RATE)
    assert up.filename.endswith(".wav")
    assert RIGHT not in caplog.text


def test_openai_prompt_carries_the_configured_prompt_the_vocabulary_and_the_context(monkeypatch):
    with FakeOpenAI(key=RIGHT, text="ask not") as fake:
        monkeypatch.setenv(API_KEY_ENV, RIGHT)
        t = remote(fake.uri, initial_prompt="A speech.", vocabulary=["Kubernetes", "PostgreSQL"], remote_timeout=5)

        async def go():
            try:
                await t.transcribe(np.full(SAMPLE_RATE, 0.1, dtype=np.float32), "And so my fellow Americans,")
                await t.transcribe(np.full(SAMPLE_RATE, 0.1, dtype=np.float32))
            finally:
                await t.close()

        run(go(), 15)
    with_context, alone = (up.fields["prompt"] for up in fake.uploads)
    assert with_context == "A speech. Kubernetes, PostgreSQL. And so my fellow Americans,"
    assert alone == "A speech. Kubernetes, PostgreSQL."


def test_openai_key_file_is_read_once_and_stripped(tmp_path, monkeypatch):
    monkeypatch.setenv(API_KEY_ENV, WRONG)  # the key file wins
    key_file = tmp_path / "key"
    key_file.write_text(f"  {RIGHT}\n\n")
    key_file.chmod(0o600)
    with FakeOpenAI(key=RIGHT, text="from the key file") as fake:
        t = remote(fake.uri, language=None, api_key_file=str(key_file), remote_timeout=5)

        async def go():
            await t.load()
            key_file.write_text("changed after start")  # read once: this is not seen
            try:
                return await t.transcribe(np.zeros(SAMPLE_RATE, dtype=np.float32))
            finally:
                await t.close()

        assert run(go(), 15).text == "from the key file"
        assert "language" not in fake.uploads[0].fields and "prompt" not in fake.uploads[0].fields


def test_openai_missing_or_empty_key_file_cannot_work(tmp_path):
    t = remote("http://127.0.0.1:9/v1", api_key_file=str(tmp_path / "absent"), remote_timeout=2)
    with pytest.raises(ModelLoadError, match="cannot read the API key file"):
        run(t.load(), 5)
    (tmp_path / "empty").write_text(" \n")
    t = remote("http://127.0.0.1:9/v1", api_key_file=str(tmp_path / "empty"), remote_timeout=2)
    with pytest.raises(ModelLoadError, match="is empty"):
        run(t.load(), 5)


def test_openai_server_error_and_timeout_and_refused(monkeypatch):
    monkeypatch.setenv(API_KEY_ENV, RIGHT)
    audio = np.zeros(SAMPLE_RATE, dtype=np.float32)
    with FakeOpenAI(key=RIGHT, status=503) as fake:
        with pytest.raises(TranscribeError, match=r"server error \(HTTP 503\): .*failing on purpose"):
            run(remote(fake.uri, remote_timeout=5).transcribe(audio), 10)
    with FakeOpenAI(key=RIGHT, delay=3.0) as fake:
        t = remote(fake.uri, remote_timeout=1.0)
        t0 = time.monotonic()
        with pytest.raises(TranscribeError, match="no answer within 1 s"):
            run(t.transcribe(audio), 10)
        assert 0.9 <= time.monotonic() - t0 < 2.0
    t = remote(f"http://127.0.0.1:{free_port()}/v1", remote_timeout=5)

    async def down():
        await t.load()  # down at start: only logged
        try:
            with pytest.raises(TranscribeError, match="cannot reach http://127.0.0.1"):
                await t.transcribe(audio)
        finally:
            await t.close()

    t0 = time.monotonic()
    run(down(), 10)
    assert time.monotonic() - t0 < 2.0


def test_normalised_reference_sanity():
    # The reference the WER checks use is the one the evaluation set holds.
    jfk = [c for c in clips() if c.path.name == JFK.name]
    if jfk:
        assert normalise(jfk[0].reference) == normalise(JFK_REF)


# --- a key no HTTP header can carry (issue 12, defect 12) ------------------------------------

ODD_KEY = "sk-test-\u2019quoted\u2019-key"
"""A key pasted with typographic quotes: httpx raised UnicodeEncodeError from the first request."""


def test_a_non_ascii_key_is_a_configuration_error_that_never_shows_the_key(tmp_path, monkeypatch):
    from stt_dictation.server.openai_client import ApiKeyError

    monkeypatch.setenv(API_KEY_ENV, ODD_KEY)
    t = remote("http://127.0.0.1:9/v1", remote_timeout=2)
    with pytest.raises(ApiKeyError, match=r"in STT_API_KEY .*character 9 of 20 is U\+2019") as err:
        run(t.load(), 5)
    assert "quoted" not in str(err.value) and err.value.exit_code == 2
    key_file = tmp_path / "key"
    key_file.write_text("sk-tab\there\n")
    key_file.chmod(0o600)
    t = remote("http://127.0.0.1:9/v1", api_key_file=str(key_file), remote_timeout=2)
    with pytest.raises(ApiKeyError, match=f"in the key file {key_file} .*U\\+0009"):
        run(t.load(), 5)


def test_sttd_with_a_non_ascii_key_exits_2_with_one_error_line(sttd_factory):
    srv = sttd_factory.spawn("--remote", "http://127.0.0.1:9/v1", env={API_KEY_ENV: ODD_KEY})
    assert srv.wait_exit(60) == 2, srv.log()
    log = srv.log()
    assert "Traceback" not in log and "UnicodeEncodeError" not in log and "quoted" not in log
    [line] = [line for line in log.splitlines() if "ERROR" in line]
    assert "API key" in line and "U+2019" in line
