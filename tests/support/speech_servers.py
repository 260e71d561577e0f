"""Real speech servers for the remote-backend tests and the benchmark: the launch lines of
wyoming-faster-whisper and faster-whisper-server, the servers as child processes on the
embedded tiny.en model, and the JFK clip they are checked with.

Each server runs offline (HF_HUB_OFFLINE) without the tests' API key in its environment;
`serve_openai` is the body of the `openai_server` fixture in tests/conftest.py.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from stt_dictation.server.openai_client import API_KEY_ENV
from stt_dictation.server.remote_base import RemoteTranscriber
from stt_dictation.server.remote_factory import make_remote
from stt_dictation.server.settings import Settings
from stt_dictation.server.transcriber import embedded_model_path
from stt_dictation.server.wav import SAMPLE_RATE, decode_file
from tests.support.process import Process
from tests.support.speech import SPEECH_DIR

JFK = SPEECH_DIR / "jfk_jfk.wav"
JFK_REF = "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."
MAX_WER = 0.15
"""Word error rate a server must stay under on JFK with tiny.en."""


def run(coro, timeout: float = 30.0):
    """Run one coroutine on a fresh uvloop loop (what sttd runs on), bounded by `timeout`."""
    import uvloop

    async def bounded():
        async with asyncio.timeout(timeout):
            return await coro

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(bounded())


def remote(uri: str, **fields) -> RemoteTranscriber:
    """The transcriber sttd would build for `--remote uri` and these settings."""
    return make_remote(Settings(remote=uri, **fields))


# --- the clip ---------------------------------------------------------------------------------


def jfk_audio() -> np.ndarray:
    return decode_file(str(JFK))


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


# --- the servers ------------------------------------------------------------------------------


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wyoming_server_argv(uri: str, model_dir: Path, data_dir: Path, cpu_threads: int, *extra: str) -> list[str]:
    """wyoming-faster-whisper on `uri`, offline, greedy, int8, like the local backend."""
    return [sys.executable, "-m", "wyoming_faster_whisper", "--uri", uri, "--model", str(model_dir),
            "--data-dir", str(data_dir), "--local-files-only", "--language", "en",
            "--beam-size", "1", "--cpu-threads", str(cpu_threads), "--compute-type", "int8", *extra]  # fmt: skip


def openai_server_argv(model_dir: Path, port: int, log_level: str = "info") -> list[str]:
    """faster-whisper-server (OpenAI-compatible /v1/audio/transcriptions) on a loopback port."""
    return [sys.executable, "-m", "faster_whisper_server", str(model_dir), "--host", "127.0.0.1", "--port", str(port), "--log-level", log_level]


def _server(argv: list[str], log_path: Path, env: dict[str, str] | None = None) -> Process:
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1", **(env or {})}
    full_env.pop(API_KEY_ENV, None)
    return Process(argv, log_path, full_env).start()


def start_wyoming(uri: str, data_dir: Path, log_path: Path) -> Process:
    """wyoming-faster-whisper on `uri` (tcp:// or unix://); skips the test when it is not installed."""
    pytest.importorskip("wyoming_faster_whisper", reason="wyoming-faster-whisper is not installed (pip install wyoming-faster-whisper)")
    return _server(wyoming_server_argv(uri, embedded_model_path(), data_dir, 2, "--debug"), log_path)


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


def wait_wyoming(srv: Process, uri: str, timeout: float = 40.0) -> None:
    """Until the server answers Describe (it loads the model before listening)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not srv.alive():
            raise AssertionError(f"wyoming-faster-whisper exited with {srv.returncode}:\n{srv.log()}")
        try:
            if asyncio.run(_describe(uri)):
                return
        except (OSError, TimeoutError, EOFError):
            pass
        time.sleep(0.1)
    raise AssertionError(f"wyoming-faster-whisper did not answer within {timeout} s:\n{srv.log()}")


def serve_openai(tmp_dir: Path) -> Iterator[str]:
    """A real faster-whisper-server on a free loopback port, model loaded: yields its /v1 URI."""
    pytest.importorskip("faster_whisper_server", reason="faster-whisper-server is not installed (pip install faster-whisper-server)")
    import httpx

    port = free_port()
    srv = _server(openai_server_argv(embedded_model_path(), port), tmp_dir / "server.log", env={"OMP_NUM_THREADS": "2"})
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 40
        while True:
            if not srv.alive():
                raise AssertionError(f"faster-whisper-server exited with {srv.returncode}:\n{srv.log()}")
            try:
                if httpx.get(f"{base}/health", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"faster-whisper-server did not answer /health:\n{srv.log()}")
            time.sleep(0.1)
        # The model loads on the first request: pay for that here, not in a timed test.
        t = remote(f"{base}/v1", language="en", remote_timeout=60)

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
