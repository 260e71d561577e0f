"""What every remote transcriber shares, whatever its protocol: deadlines, concurrency, file transcription.

Nothing here loads a local model. A server that is down when sttd starts is only
logged: each phrase then fails with TranscribeError (its audio stays in the spool)
until the server is back. Every call has a per-phrase deadline, so a hung server
costs one timeout per phrase, never a stuck daemon.

Remote servers report no per-segment scores, so segments carry neutral ones
(no_speech_prob 0, avg_logprob 0, compression ratio 1): the hallucination guard
then decides on the text and on the VAD's speech length alone.
"""

from __future__ import annotations

import asyncio
import time
from abc import abstractmethod

import numpy as np

from .remote_uri import RemoteTarget
from .settings import Settings
from .transcript import Lead, SegmentScore, Transcriber, TranscribeError, Transcript
from .wav import SAMPLE_RATE, decode_file

PROBE_TIMEOUT = 3.0
"""Longest start-up probe of the server; a failed probe is only logged."""


def _segments(text: str) -> list[SegmentScore]:
    """Remote servers give no scores: neutral ones, so only text and VAD signals count."""
    text = text.strip()
    return [SegmentScore(text, no_speech_prob=0.0, avg_logprob=0.0, compression_ratio=1.0)] if text else []


def _file_deadline(timeout: float, seconds: float) -> float:
    """A whole file may take the phrase timeout plus its own length (a real-time server)."""
    return timeout + seconds


class RemoteTranscriber(Transcriber):
    """A server that transcribes for us: its target, a deadline per call, at most `max_in_flight` calls at once."""

    def __init__(self, target: RemoteTarget, settings: Settings) -> None:
        self.target = target
        self.backend = target.display
        self.language = settings.language
        self.initial_prompt = settings.initial_prompt
        self.vocabulary = list(settings.vocabulary)
        self.timeout = float(settings.remote_timeout)
        # Up to `max_in_flight` phrases at once: a network round trip must not serialise
        # speech. Each phrase's deadline starts when it is sent, not while it waits here.
        self._in_flight = asyncio.Semaphore(max(1, settings.max_in_flight))

    async def transcribe(self, audio: np.ndarray, prompt: str | None = None, lead: Lead | None = None) -> Transcript:
        """Transcribe one phrase within the per-phrase timeout; `prompt` (context) goes where the protocol has room.

        No remote protocol can force the start of a transcript, so `lead` is never given here (`takes_lead` is False)."""
        async with self._in_flight:
            t0 = time.monotonic()
            text = await self._deadline(self._send(audio, self.timeout, prompt), self.timeout)
            return Transcript(_segments(text), time.monotonic() - t0)

    async def transcribe_file(self, path: str) -> tuple[str, float, float]:
        """Decode a file locally (PyAV) and send the whole audio as one request."""
        try:
            audio = await asyncio.to_thread(decode_file, path)
        except Exception as exc:
            raise TranscribeError(f"{path}: cannot decode: {exc}") from exc
        seconds = len(audio) / SAMPLE_RATE
        async with self._in_flight:
            t0 = time.monotonic()
            allowed = _file_deadline(self.timeout, seconds)
            text = await self._deadline(self._send(audio, allowed), allowed)
            return text.strip(), seconds, time.monotonic() - t0

    async def _deadline(self, coro, seconds: float) -> str:
        try:
            async with asyncio.timeout(seconds):
                return await coro
        except TimeoutError:
            raise TranscribeError(f"remote {self.backend}: no answer within {seconds:g} s") from None

    @abstractmethod
    async def _send(self, audio: np.ndarray, allowed: float, prompt: str | None = None) -> str:
        """The text for `audio`; `allowed` is the whole call's deadline in seconds; `prompt` is the context, if any."""
