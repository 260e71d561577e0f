"""Real speech servers for the remote rows: wyoming-faster-whisper and faster-whisper-server.

Both run as processes on loopback with the embedded tiny.en model, the same int8
compute type and thread count as the local backend, so the rows compare the
transport and the server, not the model. Each start waits until the server has
answered one real transcription, so no timed clip pays for its model loading.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import numpy as np

from .common import SAMPLE_RATE, BenchError, log

from tests.support.process import Process  # (sys.path is set by scripts/bench)
from tests.support.speech_servers import free_port, openai_server_argv, wyoming_server_argv


class SpeechServer:
    """One server process, its URI for `sttd --remote`, and its log; `stop()` is idempotent."""

    def __init__(self, name: str, argv: list[str], uri: str, log_path: Path) -> None:
        self.name = name
        self.uri = uri
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": str(os.cpu_count() or 1)}
        env.pop("STT_API_KEY", None)
        self.process = Process(argv, log_path, env).start()

    def stop(self) -> None:
        self.process.stop()

    def wait_ready(self, timeout: float = 90.0) -> float:
        """Until one half-second of silence comes back transcribed; the seconds it took."""
        from stt_dictation.server.remote_factory import make_remote
        from stt_dictation.server.settings import Settings

        t0 = time.monotonic()
        deadline = t0 + timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            if not self.process.alive():
                raise BenchError(f"{self.name} exited with {self.process.returncode}:\n{self.process.log_tail()}")

            async def probe() -> None:
                t = make_remote(Settings(remote=self.uri, language="en", remote_timeout=30.0))
                try:
                    async with asyncio.timeout(40.0):
                        await t.load()
                        await t.transcribe(np.zeros(SAMPLE_RATE // 2, dtype=np.float32))
                finally:
                    await t.close()

            try:
                asyncio.run(probe())
                return time.monotonic() - t0
            except Exception as exc:  # not listening yet, or still loading the model
                last = f"{type(exc).__name__}: {exc}"
                time.sleep(0.3)
        raise BenchError(f"{self.name} not ready within {timeout:.0f} s ({last}):\n{self.process.log_tail()}")


def start_wyoming(workdir: Path, model_dir: Path) -> SpeechServer:
    """wyoming-faster-whisper on a loopback TCP port."""
    uri = f"tcp://127.0.0.1:{free_port()}"
    data = workdir / "wyoming-data"
    data.mkdir(exist_ok=True)
    argv = wyoming_server_argv(uri, model_dir, data, os.cpu_count() or 1)
    log(f"starting wyoming-faster-whisper on {uri}")
    return SpeechServer("wyoming-faster-whisper", argv, uri, workdir / "wyoming.log")


def start_openai(workdir: Path, model_dir: Path) -> SpeechServer:
    """faster-whisper-server (OpenAI-compatible /v1/audio/transcriptions) on a loopback port."""
    port = free_port()
    argv = openai_server_argv(model_dir, port, log_level="warning")
    uri = f"http://127.0.0.1:{port}/v1"
    log(f"starting faster-whisper-server on {uri}")
    return SpeechServer("faster-whisper-server", argv, uri, workdir / "openai.log")
