"""Hooks for the end-to-end tests only: slow a phrase's transcription or each typing call.

`sttd` builds these wrappers at its entry point when a test sets the variables;
nothing on the production path knows about them.

  STT_TEST_TRANSCRIBE_DELAYS  JSON object, phrase number -> extra seconds before its
                              transcript is handed on (e.g. {"1": 5.0}: phrase 1 finishes late)
  STT_TEST_INJECT_DELAY       seconds each typing call waits, after the phrase is marked `typing`
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping

import numpy as np

from .injector import Injector
from .resilient import ResilientTranscriber
from .settings import Settings
from .transcript import Transcriber, Transcript

VARIABLES = ("STT_TEST_TRANSCRIBE_DELAYS", "STT_TEST_INJECT_DELAY")


class SlowPhrases(ResilientTranscriber):
    """Holds back the transcripts of chosen phrases for a while after they are ready."""

    def __init__(self, inner: Transcriber, settings: Settings, delays: Mapping[int, float]) -> None:
        super().__init__(inner, settings)
        self.delays = dict(delays)

    async def transcribe_phrase(self, seq: int, audio: np.ndarray, **kwargs) -> Transcript | None:
        result = await super().transcribe_phrase(seq, audio, **kwargs)
        if self.delays.get(seq):
            await asyncio.sleep(self.delays[seq])
        return result


class SlowInjector(Injector):
    """Waits before every typing call of the injector it wraps."""

    def __init__(self, inner: Injector, delay: float) -> None:
        super().__init__(inner.delay_ms)
        self.inner = inner
        self.delay = delay

    @property
    def name(self) -> str:  # type: ignore[override]  # follows a hand-over in the wrapped chain
        return self.inner.name

    @property
    def note(self) -> str | None:  # type: ignore[override]
        return self.inner.note

    def problem(self) -> str | None:
        return self.inner.problem()

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def press(self, chord: str) -> None:
        await self.inner.press(chord)

    async def focused_window(self) -> str | None:
        return await self.inner.focused_window()

    async def type(self, text: str) -> None:
        await asyncio.sleep(self.delay)
        await self.inner.type(text)


def with_test_hooks(
    transcriber: Transcriber, injector: Injector, settings: Settings, environ: Mapping[str, str]
) -> tuple[ResilientTranscriber, Injector]:
    """The resilient transcriber and the injector, slowed where the STT_TEST_* variables ask."""
    raw = environ.get("STT_TEST_TRANSCRIBE_DELAYS")
    if raw:
        delays = {int(k): float(v) for k, v in json.loads(raw).items()}
        resilient: ResilientTranscriber = SlowPhrases(transcriber, settings, delays)
    else:
        resilient = ResilientTranscriber(transcriber, settings)
    pause = float(environ.get("STT_TEST_INJECT_DELAY") or 0)
    if pause > 0:
        injector = SlowInjector(injector, pause)
    return resilient, injector
