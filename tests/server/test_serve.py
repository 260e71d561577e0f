"""serve: the daemon behind a claimed socket until `shutdown`, then everything closed; a start-up failure is raised after an orderly shutdown.

A fake model, keyboard and microphone stand in (the devices are not the point), and
the logind sleep watch is a no-op stand-in.
"""

from __future__ import annotations

import asyncio
import functools
import json

import pytest

from stt_dictation.server import serve as serve_mod
from stt_dictation.server.daemon import Daemon
from stt_dictation.server.ipc import claim
from stt_dictation.server.resilient import ResilientTranscriber
from stt_dictation.server.settings import Settings
from stt_dictation.server.transcript import ModelLoadError
from tests.support.env import unique_socket_name
from tests.support.fakes import Keyboard, Mics, Model, WholeTake


class NoSleep:
    def __init__(self, before_sleep) -> None:
        self.closed = False

    async def start(self) -> None:
        await asyncio.Event().wait()

    async def close(self) -> None:
        self.closed = True


class Broken(Model):
    async def load(self):
        raise ModelLoadError("no such model")


@pytest.fixture
def rigged(monkeypatch, tmp_path):
    monkeypatch.setattr(serve_mod, "Daemon", functools.partial(Daemon, microphone=Mics(), segmenter=WholeTake))
    monkeypatch.setattr(serve_mod, "SleepWatch", NoSleep)
    address = "\0" + unique_socket_name()
    settings = Settings(state_dir=tmp_path, socket=address)
    return address, settings


async def _ask(address: str, command: dict) -> dict:
    reader, writer = await asyncio.open_unix_connection(address)
    writer.write(json.dumps(command).encode() + b"\n")
    line = await reader.readline()
    writer.close()
    return json.loads(line)


async def _until_idle(address: str) -> None:
    for _ in range(500):
        if (await _ask(address, {"type": "status"})).get("state") == "idle":
            return
        await asyncio.sleep(0.01)
    raise AssertionError("never idle")


def test_serves_until_shutdown_then_the_socket_is_gone(rigged):
    address, settings = rigged

    async def go():
        server = asyncio.create_task(serve_mod.serve(settings, claim(address), ResilientTranscriber(Model({}), settings), Keyboard()))
        await _until_idle(address)
        reply = await _ask(address, {"type": "shutdown"})
        await asyncio.wait_for(server, 10)
        with pytest.raises(OSError):
            await asyncio.open_unix_connection(address)
        return reply

    reply = asyncio.run(asyncio.wait_for(go(), 30))
    assert reply["type"] == "ok" and reply["message"] == "shutting down"


def test_a_model_that_fails_to_load_is_raised_after_an_orderly_shutdown(rigged):
    address, settings = rigged

    async def go():
        await serve_mod.serve(settings, claim(address), ResilientTranscriber(Broken({}), settings), Keyboard())

    with pytest.raises(ModelLoadError, match="no such model"):
        asyncio.run(asyncio.wait_for(go(), 30))
    again = claim(address)  # the name was let go
    again.close()
