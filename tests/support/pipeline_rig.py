"""The phrase pipeline between a ledger on tmp_path and a typist on a fake keyboard."""

import asyncio
from stt_dictation.server.events import EventBus
from stt_dictation.server.ledger import Ledger
from stt_dictation.server.pipeline import Pipeline
from stt_dictation.server.resilient import ResilientTranscriber
from stt_dictation.server.segmenter import Phrase
from stt_dictation.server.settings import Settings
from stt_dictation.server.transcript import Transcriber
from stt_dictation.server.typist import Typist
from stt_dictation.server.wav import SAMPLE_RATE
from tests.support.fakes import Keyboard, clip


class Rig:
    """Ledger on tmp_path, a typist on a fake keyboard, and the pipeline under test."""

    def __init__(self, tmp_path, model: Transcriber, replacements=None, **settings):
        self.model, self.kb = model, Keyboard()
        self.ledger = Ledger(tmp_path, EventBus())
        self.typist = Typist(self.kb, self.ledger, focus_guard=False)
        self.transcriber = ResilientTranscriber(model, Settings(), sleep=lambda s: asyncio.sleep(0.01))
        self.pipeline = Pipeline(self.transcriber, self.ledger, self.typist, Settings(replacements=replacements or {}, **settings))

    async def __aenter__(self):
        await self.ledger.open()
        self.task = asyncio.create_task(self.typist.run())
        return self

    async def __aexit__(self, *exc):
        await self.settle()
        self.task.cancel()
        await self.ledger.close()

    async def settle(self):
        """Wait until every numbered phrase is typed or resolved."""
        assert await self.typist.idle(5.0)

    async def entries(self):
        await self.settle()
        return {e.seq: e for e in await self.ledger.recent(100)}


def phrase(pid: int, k: int | None = None, speculated=False) -> Phrase:
    audio = clip(k if k is not None else pid)
    return Phrase(pid, audio, speech_end=pid * SAMPLE_RATE, speech_seconds=1.0, speculated=speculated)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 20))
