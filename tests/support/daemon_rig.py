"""A Daemon on tmp_path with a fake model, keyboard and microphone; what `tail` would see."""

import asyncio
import json
from stt_dictation.protocol.commands import Cancel, Start, Stop
from stt_dictation.protocol.messages import Ok
from stt_dictation.server.daemon import Daemon
from stt_dictation.server.events import EventBus
from stt_dictation.server.resilient import ResilientTranscriber
from stt_dictation.server.settings import Settings
from tests.support.fakes import Keyboard, Mics, Model, WholeTake, clip


class Rig:
    """A daemon on tmp_path; `events` are what a `tail` subscriber would see."""

    def __init__(self, tmp_path, model=None, keyboard=None, mic_fails=None):
        self.model = model or Model({1: "hello world", 2: "second take"})
        self.kb = keyboard or Keyboard()
        self.bus = EventBus()
        self.sub = self.bus.subscribe(lambda: None)
        self.mics = Mics(mic_fails)
        transcriber = ResilientTranscriber(self.model, Settings(), sleep=lambda s: asyncio.sleep(0.01))
        settings = Settings(state_dir=tmp_path, focus_guard=False)
        self.daemon = Daemon(settings, transcriber, self.kb, self.bus, microphone=self.mics, segmenter=WholeTake)

    async def up(self):
        await self.daemon.open_journal()
        await self.daemon.load()
        return self

    def events(self, kind: str | None = None) -> list[dict]:
        out = []
        while not self.sub.queue.empty():
            out.append(json.loads(self.sub.queue.get_nowait()))
        return [e for e in out if kind is None or e["type"] == kind]

    async def say(self, k: int, cancel=False):
        """One recording of clip k, stopped (or cancelled), then wait for it to be resolved."""
        assert isinstance(await self.daemon.handle(Start()), Ok)
        await self.opened()
        self.mics.mic.play(clip(k))
        await self.daemon.handle(Cancel() if cancel else Stop())
        await self.settled()

    async def opened(self):
        while self.mics.mic is None or not (self.mics.mic.is_open or self.daemon.state == "error"):
            await asyncio.sleep(0.005)

    async def settled(self):
        """The recording's tail flushed into phrases, and every phrase typed or resolved."""
        for _ in range(500):
            if not len(self.daemon.recorder._tasks):
                break
            await asyncio.sleep(0.01)
        assert await self.daemon.typist.idle(5.0)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))
