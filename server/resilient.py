"""A transcriber that never drops a phrase: retry with backoff, then maybe the embedded model.

It wraps the real transcriber (local or remote). A failed phrase is tried again
after min(0.5 * 2**(n-1), 15) seconds; after `fallback_after` failed tries, with
`fallback = "local"` and a remote backend, the embedded model takes it. A phrase
whose recording was cancelled stops retrying. Each failed try is reported to
`on_fault` (message), and the next success clears it (None).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import numpy as np

from .settings import Settings
from .transcript import Lead, Transcriber, TranscribeError, Transcript

log = logging.getLogger(__name__)

MAX_BACKOFF = 15.0
"""Longest wait between two tries of one phrase, in seconds."""


def backoff(attempt: int) -> float:
    """Seconds to wait after the `attempt`-th failed try (1-based)."""
    return min(0.5 * 2 ** (attempt - 1), MAX_BACKOFF)


def _embedded(settings: Settings) -> Transcriber:
    from .transcriber import LocalWhisper  # the model library, paid for only when needed

    return LocalWhisper(settings.model_copy(update={"model": None}))


class ResilientTranscriber(Transcriber):
    """Retry, backoff and fallback around one transcriber; counts the calls in flight."""

    def __init__(
        self,
        inner: Transcriber,
        settings: Settings,
        *,
        on_fault: Callable[[str | None], None] | None = None,
        fallback: Callable[[], Transcriber] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.inner = inner
        self.on_fault: Callable[[str | None], None] = on_fault or (lambda message: None)
        """Hears each failed try's message, and None when a retry worked; set by whoever shows faults."""
        self._fallback_after = settings.fallback_after
        self._may_fall_back = settings.fallback == "local" and inner.backend != "local"
        self._make_fallback = fallback or (lambda: _embedded(settings))
        self._fallback: Transcriber | None = None
        self._fallback_lock = asyncio.Lock()
        self._sleep = sleep
        self.inflight = 0
        """Calls on the real transcriber not yet answered."""

    @property
    def backend(self) -> str:  # type: ignore[override]
        return self.inner.backend

    @property
    def model_name(self) -> str:  # type: ignore[override]
        return self.inner.model_name

    @property
    def takes_prompt(self) -> bool:  # type: ignore[override]
        return self.inner.takes_prompt

    async def load(self) -> None:
        """Load the real transcriber (the fallback loads on first need)."""
        await self.inner.load()

    @property
    def takes_lead(self) -> bool:  # type: ignore[override]
        return self.inner.takes_lead

    async def transcribe(self, audio: np.ndarray, prompt: str | None = None, lead: Lead | None = None) -> Transcript:
        """One try on the real transcriber; TranscribeError when it fails."""
        self.inflight += 1
        try:
            return await self.inner.transcribe(audio, prompt, lead)
        finally:
            self.inflight -= 1

    async def transcribe_file(self, path: str) -> tuple[str, float, float]:
        """A whole file on the real transcriber, one try."""
        return await self.inner.transcribe_file(path)

    async def transcribe_phrase(
        self,
        seq: int,
        audio: np.ndarray,
        *,
        first: Awaitable[Transcript] | None = None,
        cancelled: Callable[[], bool] = lambda: False,
        note: Callable[[str], Awaitable[None]] | None = None,
        prompt: str | None = None,
        lead: Lead | None = None,
    ) -> Transcript | None:
        """Transcribe phrase `seq` until it works; None once `cancelled()` says its recording was cancelled.

        `first` is a decode already under way (a speculative one): it is used if it
        completes; if it was cancelled on its own, the audio is decoded afresh.
        `note` is awaited with the message of every failed try (for the journal);
        `prompt` (the context) and `lead` go with every try; the fallback gets the lead where it takes one.
        """
        attempt = 0
        while True:
            try:
                result = await (first if first is not None else self.transcribe(audio, prompt, lead))
                if attempt:
                    self.on_fault(None)
                return result
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if first is None or (task is not None and task.cancelling()):
                    raise  # this task is being cancelled (shutdown)
                first = None  # only the speculative guess was cancelled: decode for real
                continue
            except TranscribeError as exc:
                first = None
                attempt += 1
                if cancelled():
                    return None
                if self._may_fall_back and attempt >= self._fallback_after:
                    log.warning("phrase %d: %s; falling back to the embedded model", seq, exc)
                    fallback = await self._fallback_model()
                    return await fallback.transcribe(audio, prompt, lead if fallback.takes_lead else None)
                wait = backoff(attempt)
                msg = f"transcription of phrase {seq} failed (try {attempt}): {exc}; retrying in {wait:g} s"
                log.warning("%s", msg)
                self.on_fault(msg)
                if note is not None:
                    await note(msg)
                await self._sleep(wait)
                if cancelled():
                    return None

    async def _fallback_model(self) -> Transcriber:
        """The embedded model, loaded on first need."""
        async with self._fallback_lock:
            if self._fallback is None:
                model = self._make_fallback()
                await model.load()
                self._fallback = model
            return self._fallback

    async def close(self) -> None:
        """Close the real transcriber and the fallback, if it was loaded."""
        await self.inner.close()
        if self._fallback is not None:
            await self._fallback.close()
