"""Transcription on another machine: a Wyoming server or an OpenAI-compatible HTTP API.

`--remote URI` picks the protocol from the scheme:

    tcp://HOST:PORT, unix:///PATH       Wyoming (wyoming-faster-whisper, wyoming-whisper-cpp, ...)
    http(s)://HOST[:PORT]/v1            OpenAI-compatible /audio/transcriptions

Nothing here loads a local model. A server that is down when sttd starts is only
logged: each phrase then fails with TranscribeError (its audio stays in the spool)
until the server is back. Every call has a per-phrase deadline, so a hung server
costs one timeout per phrase, never a stuck daemon.

Remote servers report no per-segment scores, so segments carry neutral ones
(no_speech_prob 0, avg_logprob 0, compression ratio 1): the hallucination guard
then decides on the text and on the VAD's speech length alone.

The API key (env STT_API_KEY or a key file) is a secret: it goes only into the
Authorization header, never into a log line, `backend`, or an error message.
"""

from __future__ import annotations

import asyncio
import io
import ipaddress
import logging
import os
import re
import stat
import time
import wave
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import quote, urlsplit

import numpy as np

from .guard import SegmentScore
from .transcriber import SAMPLE_RATE, ModelLoadError, Transcriber, TranscribeError, Transcript

log = logging.getLogger(__name__)

API_KEY_ENV = "STT_API_KEY"
"""Environment variable holding the bearer key for an OpenAI-compatible server."""
DEFAULT_OPENAI_MODEL = "whisper-1"
"""The `model` field sent to an OpenAI-compatible server when none is configured."""
DEFAULT_TIMEOUT = 10.0
"""Seconds one phrase may take, connection and answer included."""
CHUNK_SAMPLES = 1024
"""Samples per Wyoming audio-chunk event."""
PROBE_TIMEOUT = 3.0
"""Longest start-up probe of the server; a failed probe is only logged."""

EXPECTED = "expected tcp://HOST:PORT or unix:///PATH (Wyoming) or http(s)://HOST[:PORT]/v1 (OpenAI-compatible API)"

_USERINFO = re.compile(r"(?<=//)[^/@?#]*@")


def _scrub(uri: str) -> str:
    """`uri` without userinfo or query, for messages about a URI that did not parse."""
    return _USERINFO.sub("", uri.split("?", 1)[0].split("#", 1)[0])


@dataclass(frozen=True)
class RemoteTarget:
    """A parsed `--remote` URI. `display` is safe to show; the rest may hold secrets."""

    protocol: Literal["wyoming", "openai"]
    scheme: str
    host: str = ""
    port: int | None = None
    path: str = ""
    """The socket path (unix://) or the API base path (http), without a trailing slash."""
    query: str = field(default="", repr=False)
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)

    @property
    def _netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port is None else f"{host}:{self.port}"

    @property
    def display(self) -> str:
        """The URI without userinfo or query string."""
        if self.scheme == "unix":
            return f"unix://{self.path}"
        return f"{self.scheme}://{self._netloc}{self.path}"

    @property
    def base_url(self) -> str:
        """http(s) API base without userinfo or query (the query travels as params)."""
        return f"{self.scheme}://{self._netloc}{self.path}"

    @property
    def loopback(self) -> bool:
        """The host is this machine (unix sockets always are)."""
        if self.scheme == "unix":
            return True
        if self.host.lower() == "localhost" or self.host.lower().endswith(".localhost"):
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    def secrets(self) -> list[str]:
        """Strings from the URI that must never be shown."""
        return [s for s in (self.password, self.username, self.query) if s]


def parse_remote(uri: str) -> RemoteTarget:
    """Parse a `--remote` URI; ValueError saying what is expected for anything else."""
    uri = (uri or "").strip()
    shown = _scrub(uri)
    if "://" not in uri:
        raise ValueError(f"remote URI {shown!r} has no scheme: {EXPECTED}")
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"invalid remote URI {shown!r} ({exc}): {EXPECTED}") from None
    scheme = parts.scheme.lower()
    user, password = parts.username, parts.password
    if scheme == "tcp":
        if not parts.hostname or port is None:
            raise ValueError(f"remote URI {shown!r} needs a host and a port: tcp://HOST:PORT")
        if parts.path not in ("", "/"):
            raise ValueError(f"remote URI {shown!r}: a tcp:// URI has no path; expected tcp://HOST:PORT")
        if port == 0:
            raise ValueError(f"remote URI {shown!r}: port 0 is not a server port")
        return RemoteTarget("wyoming", "tcp", parts.hostname, port, "", parts.query, user, password)
    if scheme == "unix":
        if parts.netloc or not parts.path.startswith("/") or parts.path == "/":
            raise ValueError(f"remote URI {shown!r} needs an absolute socket path: unix:///PATH (three slashes)")
        return RemoteTarget("wyoming", "unix", "", None, parts.path, parts.query)
    if scheme in ("http", "https"):
        if not parts.hostname:
            raise ValueError(f"remote URI {shown!r} needs a host: {scheme}://HOST[:PORT]/v1")
        path = parts.path.rstrip("/")
        if not path:
            raise ValueError(f"remote URI {shown!r} needs the API base path, e.g. {scheme}://{parts.hostname}/v1")
        if port == 0:
            raise ValueError(f"remote URI {shown!r}: port 0 is not a server port")
        return RemoteTarget("openai", scheme, parts.hostname, port, path, parts.query, user, password)
    raise ValueError(f"unsupported remote URI scheme {scheme + '://'!r} in {shown!r}: {EXPECTED}")


def _why(exc: BaseException) -> str:
    """An OS error's reason without the errno number, else the exception's text."""
    return (exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)) or type(exc).__name__


def display_uri(uri: str | None) -> str | None:
    """`uri` safe to print (no userinfo, no query), whether or not it parses: for
    --print-config and configuration error messages."""
    if uri is None:
        return None
    try:
        return parse_remote(uri).display
    except ValueError:
        return _scrub(uri.strip())


def _segments(text: str) -> list[SegmentScore]:
    """Remote servers give no scores: neutral ones, so only text and VAD signals count."""
    text = text.strip()
    return [SegmentScore(text, no_speech_prob=0.0, avg_logprob=0.0, compression_ratio=1.0)] if text else []


def _pcm16(audio: np.ndarray) -> bytes:
    """float32 [-1, 1] to little-endian 16-bit PCM."""
    a = np.asarray(audio, dtype=np.float32).reshape(-1)
    return (np.clip(a, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


def _wav(audio: np.ndarray) -> bytes:
    """A 16 kHz mono 16-bit WAV file in memory."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(_pcm16(audio))
    return buf.getvalue()


def _decode_file(path: str) -> np.ndarray:
    from faster_whisper import decode_audio

    return decode_audio(path, sampling_rate=SAMPLE_RATE)


def _file_deadline(timeout: float, seconds: float) -> float:
    """A whole file may take the phrase timeout plus its own length (a real-time server)."""
    return timeout + seconds


class _Remote(Transcriber):
    """What both protocols share: the target, a deadline, one phrase at a time."""

    def __init__(self, target: RemoteTarget, *, language: str | None, timeout: float, max_in_flight: int = 2) -> None:
        if not timeout > 0:
            raise ValueError("the remote timeout must be positive")
        self.target = target
        self.backend = target.display
        self.language = language
        self.timeout = float(timeout)
        # Up to `max_in_flight` phrases at once: a network round trip must not serialise
        # speech. Each phrase's deadline starts when it is sent, not while it waits here.
        self._lock = asyncio.Semaphore(max(1, max_in_flight))

    async def transcribe(self, audio: np.ndarray) -> Transcript:
        """Transcribe one phrase within the per-phrase timeout."""
        async with self._lock:
            t0 = time.monotonic()
            text = await self._deadline(self._send(audio, self.timeout), self.timeout)
            return Transcript(_segments(text), time.monotonic() - t0)

    async def transcribe_file(self, path: str) -> tuple[str, float, float]:
        """Decode a file locally (PyAV) and send the whole audio as one request."""
        try:
            audio = await asyncio.to_thread(_decode_file, path)
        except Exception as exc:
            raise TranscribeError(f"{path}: cannot decode: {exc}") from exc
        seconds = len(audio) / SAMPLE_RATE
        async with self._lock:
            t0 = time.monotonic()
            allowed = _file_deadline(self.timeout, seconds)
            text = await self._deadline(self._send(audio, allowed), allowed)
            return text.strip(), seconds, time.monotonic() - t0

    async def _deadline(self, coro, seconds: float) -> str:
        try:
            async with asyncio.timeout(seconds):
                return await coro
        except TimeoutError:
            await self._abort()
            raise TranscribeError(f"remote {self.backend}: no answer within {seconds:g} s") from None

    async def _send(self, audio: np.ndarray, allowed: float) -> str:
        """The text for `audio`; `allowed` is the whole call's deadline in seconds."""
        raise NotImplementedError

    async def _abort(self) -> None:
        """Drop whatever connection a timed-out call left."""


class WyomingTranscriber(_Remote):
    """A Wyoming ASR server (tcp:// or unix://), through the `wyoming` package's client.

    Wyoming ASR servers (wyoming-faster-whisper among them) close the connection after
    each transcript, as Home Assistant's client expects, so each phrase opens its own
    connection: a server that restarted or dropped a connection costs at most the
    phrase that was in flight, and the next phrase simply connects again.
    """

    def __init__(
        self,
        target: RemoteTarget,
        *,
        language: str | None = "en",
        model: str | None = None,
        initial_prompt: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_in_flight: int = 2,
    ) -> None:
        if target.protocol != "wyoming":
            raise ValueError(f"{target.display} is not a Wyoming URI")
        super().__init__(target, language=language, timeout=timeout, max_in_flight=max_in_flight)
        self.model = model
        self.model_name = model or "(server default)"
        self.initial_prompt = initial_prompt

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
        if self.initial_prompt:
            log.warning("the Wyoming protocol has no prompt: set --initial-prompt on the Wyoming server instead")
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

    async def _send(self, audio: np.ndarray, allowed: float) -> str:
        from wyoming.asr import Transcribe, Transcript as WyTranscript
        from wyoming.audio import AudioChunk, AudioStart, AudioStop
        from wyoming.error import Error

        pcm = _pcm16(audio)
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


class OpenAITranscriber(_Remote):
    """An OpenAI-compatible `/audio/transcriptions` endpoint over httpx (TLS verified)."""

    def __init__(
        self,
        target: RemoteTarget,
        *,
        language: str | None = "en",
        model: str | None = None,
        initial_prompt: str | None = None,
        api_key_file: str | os.PathLike | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_in_flight: int = 2,
    ) -> None:
        if target.protocol != "openai":
            raise ValueError(f"{target.display} is not an http(s) URI")
        super().__init__(target, language=language, timeout=timeout, max_in_flight=max_in_flight)
        self.model = model or DEFAULT_OPENAI_MODEL
        self.model_name = self.model
        self.initial_prompt = initial_prompt
        self.api_key_file = str(api_key_file) if api_key_file else None
        self._key: str | None = None
        self._key_read = False
        self._http = None
        self._url = f"{target.base_url}/audio/transcriptions"
        if target.scheme == "http" and not target.loopback:
            # Allowed (a LAN server without TLS is common) but said once, when configured.
            log.warning("remote %s is plain http to another host: the audio and any API key travel unencrypted", self.backend)
        # httpx logs every request's URL at INFO (a query-string secret with it): keep
        # that out of sttd's log unless someone configured the logger on purpose.
        httpx_log = logging.getLogger("httpx")
        if httpx_log.level == logging.NOTSET:
            httpx_log.setLevel(logging.WARNING)

    # --- the key -----------------------------------------------------------------------

    def _read_key(self) -> None:
        """Read the key once: the key file when given, else $STT_API_KEY, else none."""
        if self._key_read:
            return
        env_key = os.environ.get(API_KEY_ENV, "").strip() or None
        key = None
        if self.api_key_file:
            path = os.path.expanduser(self.api_key_file)
            try:
                with open(path, encoding="utf-8") as f:
                    key = f.read().strip()
                mode = os.stat(path).st_mode
            except (OSError, UnicodeDecodeError) as exc:
                raise ModelLoadError(f"cannot read the API key file {path}: {getattr(exc, 'strerror', None) or exc}") from None
            if not key:
                raise ModelLoadError(f"the API key file {path} is empty")
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                log.warning("the API key file %s is readable by other users: chmod 600 it", path)
            if env_key and env_key != key:
                log.warning("both %s and an API key file are set; using the key file", API_KEY_ENV)
        else:
            key = env_key
        if key and any(c in key for c in "\r\n\0"):
            raise ModelLoadError("the API key contains a line break or NUL; check the key file or " + API_KEY_ENV)
        self._key = key
        self._key_read = True

    def _redact(self, text: str) -> str:
        for secret in [self._key or "", *self.target.secrets()]:
            if secret:
                text = text.replace(secret, "[redacted]")
                q = quote(secret, safe="")
                if q != secret:
                    text = text.replace(q, "[redacted]")
        return text

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._key}"} if self._key else {}

    def _auth(self):
        # URI userinfo (a reverse proxy's basic auth) counts only when no bearer key is set.
        t = self.target
        if not self._key and (t.username or t.password):
            return (t.username or "", t.password or "")
        return None

    # --- the client --------------------------------------------------------------------

    def _client(self):
        if self._http is None:
            try:
                import httpx
            except ImportError as exc:
                raise ModelLoadError("the OpenAI-compatible backend needs `httpx`: pip install 'stt-dictation[remote]'") from exc
            self._http = httpx.AsyncClient(
                timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, 5.0)),
                verify=True,
                follow_redirects=False,
                params=self.target.query or None,
                auth=self._auth(),
            )
        return self._http

    async def load(self) -> None:
        """Read the key, set up the client, probe `{base}/models`; only a missing key file is fatal."""
        self._read_key()
        self._client()
        t = self.target
        if t.username or t.password:
            log.info("remote %s: credentials in the URI are %s", self.backend, "ignored (an API key is set)" if self._key else "sent as basic auth")
        log.info("remote %s: model %s, API key %s", self.backend, self.model, "set" if self._key else "not set")
        await self._probe()

    async def _probe(self) -> None:
        import httpx

        try:
            async with asyncio.timeout(min(self.timeout, PROBE_TIMEOUT)):
                r = await self._client().get(f"{self.target.base_url}/models", headers=self._headers())
        except (httpx.HTTPError, TimeoutError, OSError) as exc:
            why = "no answer" if isinstance(exc, (TimeoutError, httpx.TimeoutException)) else self._redact(str(exc) or type(exc).__name__)
            log.warning("remote %s is not reachable now (%s); phrases will fail until it is up", self.backend, why)
            return
        if r.status_code in (401, 403):
            log.warning("remote %s: authentication failed (HTTP %d): check %s or the API key file", self.backend, r.status_code, API_KEY_ENV)
        else:
            log.info("remote %s answers (HTTP %d)", self.backend, r.status_code)

    def _body(self, r) -> str:
        try:
            text = r.text
        except Exception:  # undecodable body
            text = ""
        text = " ".join(self._redact(text).split())
        return text[:300] + ("..." if len(text) > 300 else "")

    async def _send(self, audio: np.ndarray, allowed: float) -> str:
        import httpx

        self._read_key()
        data = {"model": self.model, "response_format": "json"}
        if self.language:
            data["language"] = self.language
        if self.initial_prompt:
            data["prompt"] = self.initial_prompt
        files = {"file": ("phrase.wav", _wav(audio), "audio/wav")}
        try:
            r = await self._client().post(
                self._url,
                data=data,
                files=files,
                headers=self._headers(),
                timeout=httpx.Timeout(allowed, connect=min(allowed, 5.0)),
            )
        except httpx.TimeoutException:
            raise TranscribeError(f"{self.backend}: no answer within {allowed:g} s") from None
        except httpx.HTTPError as exc:
            raise TranscribeError(f"cannot reach {self.backend}: {self._redact(str(exc) or type(exc).__name__)}") from None
        if r.status_code in (401, 403):
            raise TranscribeError(
                f"{self.backend}: authentication failed (HTTP {r.status_code}): check {API_KEY_ENV} or the API key file"
                + (f"; server said: {self._body(r)}" if r.content else "")
            )
        if r.status_code >= 400:
            kind = "server error" if r.status_code >= 500 else "request rejected"
            raise TranscribeError(f"{self.backend}: {kind} (HTTP {r.status_code}): {self._body(r) or r.reason_phrase}")
        if r.status_code != 200:
            raise TranscribeError(f"{self.backend}: unexpected HTTP {r.status_code}: {self._body(r)}")
        try:
            body = r.json()
            text = body["text"]
            if not isinstance(text, str):
                raise TypeError("text is not a string")
        except (ValueError, KeyError, TypeError) as exc:
            raise TranscribeError(f"{self.backend}: unexpected response ({exc!r}): {self._body(r)}") from None
        return text

    async def close(self) -> None:
        """Close the connection pool."""
        http, self._http = self._http, None
        if http is not None:
            try:
                async with asyncio.timeout(1.0):
                    await http.aclose()
            except Exception:  # closing must not fail a shutdown
                pass


def make_remote(
    uri: str,
    *,
    language: str | None = "en",
    initial_prompt: str | None = None,
    remote_model: str | None = None,
    api_key_file: str | os.PathLike | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    max_in_flight: int = 2,
) -> Transcriber:
    """The transcriber for `uri`; ValueError (with what is expected) for a URI it cannot use."""
    target = parse_remote(uri)
    if target.protocol == "wyoming":
        if api_key_file:
            log.warning("an API key file means nothing to a Wyoming server (%s); it is not read", target.display)
        return WyomingTranscriber(
            target, language=language, model=remote_model, initial_prompt=initial_prompt, timeout=timeout, max_in_flight=max_in_flight
        )
    return OpenAITranscriber(
        target,
        language=language,
        model=remote_model,
        initial_prompt=initial_prompt,
        api_key_file=api_key_file,
        timeout=timeout,
        max_in_flight=max_in_flight,
    )
