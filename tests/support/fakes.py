"""Stand-ins for the devices around the server's stages: a model, a keyboard, a microphone, a segmenter.

The unit tests of the stages and of the daemon use these where a real device is not
the point; the end-to-end tests use the real ones.
"""

from __future__ import annotations

import asyncio

import numpy as np

from stt_dictation.server.audio import AudioError
from stt_dictation.server.injector import InjectError, Injector
from stt_dictation.server.segmenter import Phrase
from stt_dictation.server.transcript import SegmentScore, Transcriber, TranscribeError, Transcript
from stt_dictation.server.wav import SAMPLE_RATE

SURE = dict(no_speech_prob=0.01, avg_logprob=-0.1, compression_ratio=1.2)
"""Scores of a segment the guard keeps."""
SILENCE = dict(no_speech_prob=0.9, avg_logprob=-1.5, compression_ratio=1.0)
"""Scores of a segment the guard drops (with a known silence phrase or little speech)."""


def clip(k: int, seconds: float = 1.0) -> np.ndarray:
    """Audio that names phrase k by its (peak) level, so `Model` knows what it "hears"."""
    return np.full(int(seconds * SAMPLE_RATE), k / 100, dtype=np.float32)


class Model(Transcriber):
    """Says `texts[k]` for clip k after `delays[k]` seconds; fails for clips in `broken`."""

    def __init__(self, texts: dict[int, str], delays: dict[int, float] | None = None, broken=(), scores=SURE):
        self.texts, self.delays, self.broken, self.scores = texts, delays or {}, set(broken), scores
        self.heard: list[int] = []
        self.prompts: dict[int, str | None] = {}
        """The prompt (context) each clip was last decoded with."""
        self.finished: list[int] = []
        """Clips in the order their decodes ended."""
        self.model_name = "fake"
        self.load_seconds = 0.0

    async def load(self):
        await asyncio.sleep(self.load_seconds)

    async def transcribe(self, audio, prompt=None, lead=None):
        k = round(float(np.max(audio)) * 100) if audio.size else 0  # the level, whatever silence leads
        self.heard.append(k)
        self.prompts[k] = prompt
        await asyncio.sleep(self.delays.get(k, 0.0))
        self.finished.append(k)
        if k in self.broken:
            raise TranscribeError("server down")
        return Transcript([SegmentScore(self.texts[k], **self.scores)])

    async def transcribe_file(self, path):
        return f"file {path}", 1.0, 0.1


class Keyboard(Injector):
    """An in-process injector that records what it was asked to type."""

    name = "keyboard"

    def __init__(self, fail_on: set[str] = frozenset(), delay: float = 0.0, problem: str | None = None):
        super().__init__()
        self.typed: list[str] = []
        self.fail_on, self.delay, self._problem = set(fail_on), delay, problem
        self.window: str | None = None
        self.active = self.max_active = 0

    def problem(self):
        return self._problem

    async def focused_window(self):
        return self.window

    async def press(self, chord):
        """Recorded among the typed texts as `<chord>`; `screen` applies a backspace."""
        self.typed.append(f"<{chord}>")

    def screen(self) -> str:
        """What a text field would show after the typed texts and backspaces."""
        out = ""
        for t in self.typed:
            out = out[:-1] if t == "<backspace>" else out + t
        return out

    async def type(self, text):
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            await asyncio.sleep(self.delay)
            if text.strip() in self.fail_on:
                raise InjectError("display went away")
            self.typed.append(text)
        finally:
            self.active -= 1


class FakeMic:
    """Stands in for the sound card: `play` delivers blocks the way the stream callback would."""

    def __init__(self, on_block, on_fault, fail: str | None = None):
        self.on_block, self.on_fault, self.fail = on_block, on_fault, fail
        self.is_open = False
        self.opened = self.closed = self.refreshed = 0
        self.wedged: asyncio.Event | None = None
        """An event here makes `open` hang until it is set (a wedged device)."""
        self.preroll: np.ndarray | None = np.zeros(512, dtype=np.float32)
        """The block an opened stream delivers at once (a real one does in ~18 ms); None: a silent device."""
        self.warm_seconds = 0.0

    async def open(self):
        if self.wedged is not None:
            await self.wedged.wait()
        if self.fail:
            raise AudioError(self.fail)
        self.is_open, self.opened = True, self.opened + 1
        if self.preroll is not None:
            asyncio.get_running_loop().call_soon(self.on_block, self.preroll, 1000.0 + self.preroll.size / SAMPLE_RATE)

    async def refresh(self):
        self.refreshed += 1

    async def close(self):
        if self.is_open:
            self.is_open, self.closed = False, self.closed + 1

    async def warm_up(self):
        if self.wedged is not None:
            await self.wedged.wait()
        await asyncio.sleep(self.warm_seconds)
        if self.fail:
            raise AudioError(self.fail)
        return 0.01

    def shutdown(self):
        pass

    def play(self, audio: np.ndarray, block: int = 512, t0: float = 1000.0):
        for i in range(0, audio.size, block):
            self.on_block(audio[i : i + block], t0 + (i + block) / SAMPLE_RATE)


class Mics:
    """A microphone factory for the recorder that keeps the microphone it made."""

    def __init__(self, fail: str | None = None):
        self.fail = fail
        self.mic: FakeMic | None = None

    def __call__(self, on_block, on_fault) -> FakeMic:
        self.mic = FakeMic(on_block, on_fault, self.fail)
        return self.mic


class WholeTake:
    """A segmenter that cuts nothing: the whole recording is one phrase, at flush."""

    def __init__(self):
        self.fed: list[np.ndarray] = []

    def feed(self, audio):
        self.fed.append(audio)
        return []

    def flush(self):
        audio = np.concatenate(self.fed) if self.fed else np.zeros(0, dtype=np.float32)
        return [Phrase(1, audio, audio.size, audio.size / SAMPLE_RATE, False)] if audio.size else []
