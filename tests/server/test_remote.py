"""Remote transcription against real servers: wyoming-faster-whisper and faster-whisper-server
as real processes on the embedded tiny.en model, plus misbehaving servers of our own
(tests/server/fault_servers.py): a dead, killed, restarted, silent or garbage-speaking
Wyoming server and an OpenAI-style API that wants a bearer key.

Every await runs under a timeout and every process is killed at teardown. Round-trip
times are printed (`pytest -s` shows them).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from stt_dictation.server.remote import (
    API_KEY_ENV,
    OpenAITranscriber,
    WyomingTranscriber,
    display_uri,
    make_remote,
    parse_remote,
)
from stt_dictation.server.transcriber import SAMPLE_RATE, ModelLoadError, TranscribeError, embedded_model_path
from tests.harness import free_port, openai_server_argv, wyoming_server_argv
from tests.server.fault_servers import FakeOpenAI, WyomingFault
from tests.speech import SPEECH_DIR, normalise, wer

JFK = SPEECH_DIR / "jfk_jfk.wav"
JFK_REF = "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."
MAX_WER = 0.15

needs_jfk = pytest.mark.skipif(not JFK.exists(), reason=f"{JFK} is missing (shared/eval/speech)")


def run(coro, timeout: float = 30.0):
    """Run one coroutine on a fresh uvloop loop (what sttd runs on), bounded by `timeout`."""
    import uvloop

    async def bounded():
        async with asyncio.timeout(timeout):
            return await coro

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(bounded())


def jfk_audio() -> np.ndarray:
    from faster_whisper import decode_audio

    return decode_audio(str(JFK), sampling_rate=SAMPLE_RATE)


def phrases(audio: np.ndarray, n: int = 4) -> list[np.ndarray]:
    """Cut at the middle of the longest interior pauses, as the segmenter would."""
    frame = SAMPLE_RATE // 50
    rms = np.sqrt(np.mean(audio[: len(audio) // frame * frame].reshape(-1, frame) ** 2, axis=1))
    quiet = rms < 2 * np.percentile(rms, 20)
    runs, start = [], None
    for i, q in enumerate(quiet):
        if q and start is None:
            start = i
        elif not q and start is not None:
            if start > 0:  # interior only
                runs.append((i - start, (start + i) // 2))
            start = None
    cuts = sorted(mid * frame for _, mid in sorted(runs, reverse=True)[: n - 1])
    return [p for p in np.split(audio, cuts) if len(p) > SAMPLE_RATE // 4]


# --- real server processes ----------------------------------------------------------------


class Proc:
    """One server process with its output in a log file; `kill()` is idempotent."""

    def __init__(self, argv: list[str], log_path: Path, env: dict[str, str] | None = None) -> None:
        self.argv = argv
        self.log_path = log_path
        full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1", **(env or {})}
        full_env.pop(API_KEY_ENV, None)
        with open(log_path, "ab") as out:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=full_env)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL is always delivered
            pass


def start_wyoming(uri: str, data_dir: Path, log_path: Path) -> Proc:
    pytest.importorskip("wyoming_faster_whisper", reason="wyoming-faster-whisper is not installed (pip install wyoming-faster-whisper)")
    return Proc(wyoming_server_argv(uri, embedded_model_path(), data_dir, 2, "--debug"), log_path)


async def _describe(uri: str) -> bool:
    from wyoming.client import AsyncClient
    from wyoming.info import Describe, Info

    client = AsyncClient.from_uri(uri)
    async with asyncio.timeout(1.0):
        await client.connect()
        try:
            await client.write_event(Describe().event())
            event = await client.read_event()
            return event is not None and Info.is_type(event.type)
        finally:
            await client.disconnect()


def wait_wyoming(srv: Proc, uri: str, timeout: float = 40.0) -> None:
    """Until the server answers Describe (it loads the model before listening)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not srv.alive():
            raise AssertionError(f"wyoming-faster-whisper exited with {srv.proc.returncode}:\n{srv.log()}")
        try:
            if asyncio.run(_describe(uri)):
                return
        except (OSError, TimeoutError, EOFError):
            pass
        time.sleep(0.1)
    raise AssertionError(f"wyoming-faster-whisper did not answer within {timeout} s:\n{srv.log()}")


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


@pytest.fixture(scope="module")
def openai_server(tmp_path_factory):
    """A real faster-whisper-server on a free loopback port, model loaded."""
    pytest.importorskip("faster_whisper_server", reason="faster-whisper-server is not installed (pip install faster-whisper-server)")
    import httpx

    d = tmp_path_factory.mktemp("fws")
    port = free_port()
    srv = Proc(openai_server_argv(embedded_model_path(), port), d / "server.log", env={"OMP_NUM_THREADS": "2"})
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 40
        while True:
            if not srv.alive():
                raise AssertionError(f"faster-whisper-server exited with {srv.proc.returncode}:\n{srv.log()}")
            try:
                if httpx.get(f"{base}/health", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"faster-whisper-server did not answer /health:\n{srv.log()}")
            time.sleep(0.1)
        # The model loads on the first request: pay for that here, not in a timed test.
        t = make_remote(f"{base}/v1", language="en", timeout=60)

        async def warm():
            await t.load()
            try:
                await t.transcribe(np.zeros(SAMPLE_RATE // 2, dtype=np.float32))
            finally:
                await t.close()

        run(warm(), 90)
        yield f"{base}/v1"
    finally:
        srv.kill()


# --- parse_remote ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "uri, protocol, display",
    [
        ("tcp://127.0.0.1:10300", "wyoming", "tcp://127.0.0.1:10300"),
        ("tcp://whisper.lan:10300/", "wyoming", "tcp://whisper.lan:10300"),
        ("tcp://[::1]:10300", "wyoming", "tcp://[::1]:10300"),
        ("unix:///run/user/1000/wyoming.sock", "wyoming", "unix:///run/user/1000/wyoming.sock"),
        ("http://localhost:8000/v1", "openai", "http://localhost:8000/v1"),
        ("http://127.0.0.1:8000/v1/", "openai", "http://127.0.0.1:8000/v1"),
        ("https://api.openai.com/v1", "openai", "https://api.openai.com/v1"),
        ("https://api.groq.com/openai/v1", "openai", "https://api.groq.com/openai/v1"),
        ("HTTPS://api.example.com/v1", "openai", "https://api.example.com/v1"),
    ],
)
def test_parse_remote_accepts(uri, protocol, display):
    t = parse_remote(uri)
    assert t.protocol == protocol
    assert t.display == display


@pytest.mark.parametrize(
    "uri, says",
    [
        ("", "no scheme"),
        ("localhost:10300", "no scheme"),
        ("whisper.lan", "no scheme"),
        ("ftp://host/v1", "expected tcp://HOST:PORT"),
        ("ws://host:8000/v1", "expected tcp://HOST:PORT"),
        ("stdio://", "expected tcp://HOST:PORT"),
        ("tcp://host", "tcp://HOST:PORT"),
        ("tcp://:10300", "tcp://HOST:PORT"),
        ("tcp://host:0", "port 0"),
        ("tcp://host:notaport", "expected tcp://HOST:PORT"),
        ("tcp://host:70000", "expected tcp://HOST:PORT"),
        ("tcp://host:10300/path", "no path"),
        ("unix://relative/sock", "unix:///PATH"),
        ("unix://", "unix:///PATH"),
        ("http://host", "/v1"),
        ("https://", "needs a host"),
    ],
)
def test_parse_remote_rejects_with_what_is_expected(uri, says):
    with pytest.raises(ValueError) as err:
        parse_remote(uri)
    assert says in str(err.value)


def test_display_and_backend_strip_secrets():
    t = parse_remote("https://alice:sk-uri-secret@api.example.com:8443/v1?api-key=q-secret&x=1")
    assert t.display == "https://api.example.com:8443/v1"
    assert "sk-uri-secret" not in repr(t) and "q-secret" not in repr(t)
    w = parse_remote("tcp://bob:pw-secret@10.0.0.5:10300?token=t-secret")
    assert w.display == "tcp://10.0.0.5:10300"
    tr = make_remote("https://alice:sk-uri-secret@api.example.com/v1?api-key=q-secret", language="en", timeout=5)
    assert tr.backend == "https://api.example.com/v1" and tr.model_name == "whisper-1"
    # A URI that does not parse is echoed without its secrets too.
    with pytest.raises(ValueError) as err:
        parse_remote("htps://alice:sk-bad-secret@host/v1?k=q-bad-secret")
    assert "sk-bad-secret" not in str(err.value) and "q-bad-secret" not in str(err.value)
    assert display_uri("htps://alice:sk-bad-secret@host/v1?k=q-bad-secret") == "htps://host/v1"
    assert display_uri("https://alice:sk-uri-secret@api.example.com/v1?k=q") == "https://api.example.com/v1"
    assert display_uri(None) is None


def test_make_remote_picks_the_protocol():
    w = make_remote("unix:///tmp/x.sock", language="en", remote_model="tiny-int8", timeout=3)
    assert isinstance(w, WyomingTranscriber) and w.model_name == "tiny-int8" and w.backend == "unix:///tmp/x.sock"
    o = make_remote("http://127.0.0.1:9/v1", language=None, initial_prompt="Kubernetes", timeout=3)
    assert isinstance(o, OpenAITranscriber) and o.language is None and o.timeout == 3
    with pytest.raises(ValueError):
        make_remote("mqtt://broker:1883", language="en", timeout=3)


def test_plain_http_to_another_host_warns_once_and_loopback_does_not(caplog):
    caplog.set_level(logging.WARNING, logger="stt_dictation.server.remote")
    make_remote("http://127.0.0.1:8000/v1", timeout=3)
    make_remote("http://localhost:8000/v1", timeout=3)
    make_remote("https://whisper.example.com/v1", timeout=3)
    assert "unencrypted" not in caplog.text
    # Constructing does not connect, so no traffic goes to this documentation address.
    make_remote("http://192.0.2.7:8000/v1", timeout=3)
    assert caplog.text.count("unencrypted") == 1 and "http://192.0.2.7:8000/v1" in caplog.text


# --- Wyoming: the real server --------------------------------------------------------------


@needs_jfk
def test_wyoming_transcribes_jfk_phrases(wyoming_unix):
    audio = jfk_audio()
    parts = phrases(audio)
    assert 3 <= len(parts) <= 4

    async def go():
        t = make_remote(wyoming_unix, language="en", timeout=20)
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
        t = make_remote(wyoming_unix, language="en", timeout=20)
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
    t = make_remote(f"unix://{tmp_path}/nobody.sock", timeout=5)
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
        t = make_remote(uri, language="en", timeout=20)

        async def killed_mid_phrase():
            seen = srv.log().count("Audio stopped")
            call = asyncio.create_task(t.transcribe(long))
            while srv.log().count("Audio stopped") == seen:  # the server has the whole phrase
                assert not call.done(), "the call finished before the server saw the audio"
                await asyncio.sleep(0.005)
            srv.proc.send_signal(signal.SIGKILL)
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
    caplog.set_level(logging.INFO, logger="stt_dictation.server.remote")
    for uri in (f"tcp://127.0.0.1:{free_port()}", f"unix://{tmp_path}/nobody.sock"):
        t = make_remote(uri, language="en", timeout=5)
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
        t = make_remote(srv.uri, language="en", timeout=1.0)
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
        t = make_remote(srv.uri, language="en", timeout=5.0)
        t0 = time.monotonic()
        with pytest.raises(TranscribeError, match=says):
            run(t.transcribe(np.zeros(SAMPLE_RATE, dtype=np.float32)), 10)
        assert time.monotonic() - t0 < 2.0


# --- OpenAI-compatible: the real server ---------------------------------------------------


@needs_jfk
def test_openai_transcribes_jfk_phrases(openai_server, monkeypatch):
    monkeypatch.delenv(API_KEY_ENV, raising=False)
    audio = jfk_audio()
    parts = phrases(audio)

    async def go():
        t = make_remote(openai_server, language="en", timeout=20)
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
        t = make_remote(fake.uri, language="en", timeout=5)

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
        t = make_remote(fake.uri, language="de", initial_prompt="Kubernetes, Grafana", remote_model="large-v3", timeout=5)

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


def test_openai_key_file_is_read_once_and_stripped(tmp_path, monkeypatch):
    monkeypatch.setenv(API_KEY_ENV, WRONG)  # the key file wins
    key_file = tmp_path / "key"
    key_file.write_text(f"  {RIGHT}\n\n")
    key_file.chmod(0o600)
    with FakeOpenAI(key=RIGHT, text="from the key file") as fake:
        t = make_remote(fake.uri, language=None, api_key_file=str(key_file), timeout=5)

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
    t = make_remote("http://127.0.0.1:9/v1", api_key_file=str(tmp_path / "absent"), timeout=2)
    with pytest.raises(ModelLoadError, match="cannot read the API key file"):
        run(t.load(), 5)
    (tmp_path / "empty").write_text(" \n")
    t = make_remote("http://127.0.0.1:9/v1", api_key_file=str(tmp_path / "empty"), timeout=2)
    with pytest.raises(ModelLoadError, match="is empty"):
        run(t.load(), 5)


def test_openai_server_error_and_timeout_and_refused(monkeypatch):
    monkeypatch.setenv(API_KEY_ENV, RIGHT)
    audio = np.zeros(SAMPLE_RATE, dtype=np.float32)
    with FakeOpenAI(key=RIGHT, status=503) as fake:
        with pytest.raises(TranscribeError, match=r"server error \(HTTP 503\): .*failing on purpose"):
            run(make_remote(fake.uri, timeout=5).transcribe(audio), 10)
    with FakeOpenAI(key=RIGHT, delay=3.0) as fake:
        t = make_remote(fake.uri, timeout=1.0)
        t0 = time.monotonic()
        with pytest.raises(TranscribeError, match="no answer within 1 s"):
            run(t.transcribe(audio), 10)
        assert 0.9 <= time.monotonic() - t0 < 2.0
    t = make_remote(f"http://127.0.0.1:{free_port()}/v1", timeout=5)

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
    from tests.speech import clips

    jfk = [c for c in clips() if c.path.name == JFK.name]
    if jfk:
        assert normalise(jfk[0].reference) == normalise(JFK_REF)
