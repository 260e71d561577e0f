"""The Wyoming protocol (wyoming-faster-whisper, wyoming-whisper-cpp, ...): one connection per phrase."""

from __future__ import annotations

import asyncio
import logging

import numpy as np

from .remote_base import PROBE_TIMEOUT, RemoteTranscriber
from .remote_uri import RemoteTarget
from .settings import Settings
from .transcript import ModelLoadError, TranscribeError
from .wav import SAMPLE_RATE, to_pcm16

log = logging.getLogger(__name__)

CHUNK_SAMPLES = 1024
"""Samples per Wyoming audio-chunk event."""


def _why(exc: BaseException) -> str:
    """An OS error's reason without the errno number, else the exception's text."""
    return (exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)) or type(exc).__name__


class WyomingTranscriber(RemoteTranscriber):
    """A Wyoming ASR server (tcp:// or unix://), through the `wyoming` package's client.

    Wyoming ASR servers (wyoming-faster-whisper among them) close the connection after
    each transcript, as Home Assistant's client expects, so each phrase opens its own
    connection: a server that restarted or dropped a connection costs at most the
    phrase that was in flight, and the next phrase simply connects again.
    """

    takes_prompt = False  # the Transcribe event has no prompt field

    def __init__(self, target: RemoteTarget, settings: Settings) -> None:
        if target.protocol != "wyoming":
            raise ValueError(f"{target.display} is not a Wyoming URI")
        super().__init__(target, settings)
        self.model = settings.remote_model
        self.model_name = self.model or "(server default)"

    def _new_client(self):
        try:
            from wyoming.client import AsyncTcpClient, AsyncUnixClient
        except ImportError as exc:
            raise ModelLoadError("the Wyoming backend needs the `wyoming` package: pip install 'stt-dictation[remote]'") from exc
        if self.target.scheme == "unix":
            return AsyncUnixClient(self.target.path)
        return AsyncTcpClient(self.target.host, self.target.port)

    async def load(self) -> None:
        """Probe the server with Describe; a server that is down is logged, not fatal."""
        self._new_client()  # the package is missing: that can never work
        if self.initial_prompt or self.vocabulary:
            log.warning("the Wyoming protocol has no prompt: initial_prompt, vocabulary and the context are not sent; set them on the Wyoming server")
        try:
            async with asyncio.timeout(min(self.timeout, PROBE_TIMEOUT)):
                names = await self._describe()
        except (OSError, EOFError, TimeoutError, TranscribeError) as exc:
            why = "no answer" if isinstance(exc, TimeoutError) else _why(exc)
            log.warning("Wyoming server %s is not reachable now (%s); phrases will fail until it is up", self.backend, why)
            return
        if not self.model and names:
            self.model_name = names[0]
        log.info("Wyoming server %s answers; models: %s", self.backend, ", ".join(names) or "(none listed)")

    async def _describe(self) -> list[str]:
        from wyoming.info import Describe, Info

        client = self._new_client()
        await client.connect()
        try:
            await client.write_event(Describe().event())
            while True:
                event = await client.read_event()
                if event is None:
                    raise TranscribeError("the server closed the connection instead of describing itself")
                if Info.is_type(event.type):
                    info = Info.from_event(event)
                    return [m.name for asr in info.asr for m in asr.models if getattr(m, "installed", True)]
        finally:
            _drop(client)

    async def _send(self, audio: np.ndarray, allowed: float, prompt: str | None = None) -> str:
        # Wyoming's Transcribe event has no prompt field: the context and the vocabulary cannot be sent.
        from wyoming.asr import Transcribe, Transcript as WyTranscript
        from wyoming.audio import AudioChunk, AudioStart, AudioStop
        from wyoming.error import Error

        pcm = to_pcm16(audio)
        step = CHUNK_SAMPLES * 2
        client = self._new_client()
        try:
            try:
                await client.connect()
            except OSError as exc:
                raise TranscribeError(f"cannot connect to Wyoming server {self.backend}: {_why(exc)}") from exc
            await client.write_event(Transcribe(name=self.model, language=self.language).event())
            await client.write_event(AudioStart(rate=SAMPLE_RATE, width=2, channels=1).event())
            for i in range(0, len(pcm), step):
                await client.write_event(AudioChunk(rate=SAMPLE_RATE, width=2, channels=1, audio=pcm[i : i + step]).event())
            await client.write_event(AudioStop().event())
            while True:
                event = await client.read_event()
                if event is None:
                    raise TranscribeError(f"Wyoming server {self.backend} closed the connection before sending a transcript")
                if WyTranscript.is_type(event.type):
                    return WyTranscript.from_event(event).text or ""
                if Error.is_type(event.type):
                    err = Error.from_event(event)
                    raise TranscribeError(f"Wyoming server {self.backend} reported an error: {err.text}" + (f" ({err.code})" if err.code else ""))
                # transcript-start / transcript-chunk and anything else: the final transcript follows.
        except TranscribeError:
            raise
        except (OSError, EOFError) as exc:
            raise TranscribeError(f"Wyoming server {self.backend} dropped the connection: {_why(exc)}") from exc
        except (KeyError, TypeError, ValueError) as exc:
            raise TranscribeError(f"Wyoming server {self.backend} sent a malformed event: {exc!r}") from exc
        finally:
            # Also on cancellation (a timeout): each phrase drops its own connection.
            _drop(client)


def _drop(client) -> None:
    """Abort a Wyoming client's connection at once: a graceful close could wait on a hung peer."""
    writer = getattr(client, "_writer", None)
    client._reader = client._writer = None
    if writer is not None:
        writer.transport.abort()
