"""The OpenAI-compatible HTTP API: `/audio/transcriptions` over httpx, TLS verified.

The API key (env STT_API_KEY or a key file) is a secret: it goes only into the
Authorization header, never into a log line, `backend`, or an error message.
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
from urllib.parse import quote

import numpy as np

from .remote_base import PROBE_TIMEOUT, RemoteTranscriber
from .remote_uri import RemoteTarget
from .settings import Settings
from ..protocol.wire import EXIT_CONFIG

from .transcript import ModelLoadError, TranscribeError, full_prompt
from .wav import wav_bytes

log = logging.getLogger(__name__)

API_KEY_ENV = "STT_API_KEY"
"""Environment variable holding the bearer key for an OpenAI-compatible server."""
DEFAULT_OPENAI_MODEL = "whisper-1"
"""The `model` field sent to an OpenAI-compatible server when none is configured."""


class ApiKeyError(ModelLoadError):
    """The API key cannot be used (missing file, empty, a character no HTTP header carries): configuration, exit 2."""

    exit_code = EXIT_CONFIG


class OpenAITranscriber(RemoteTranscriber):
    """An OpenAI-compatible `/audio/transcriptions` endpoint over httpx (TLS verified)."""

    def __init__(self, target: RemoteTarget, settings: Settings) -> None:
        if target.protocol != "openai":
            raise ValueError(f"{target.display} is not an http(s) URI")
        super().__init__(target, settings)
        self.model = settings.remote_model or DEFAULT_OPENAI_MODEL
        self.model_name = self.model
        self.api_key_file = str(settings.api_key_file) if settings.api_key_file else None
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
        key, where = None, API_KEY_ENV
        if self.api_key_file:
            path = os.path.expanduser(self.api_key_file)
            try:
                with open(path, encoding="utf-8") as f:
                    key = f.read().strip()
                mode = os.stat(path).st_mode
            except (OSError, UnicodeDecodeError) as exc:
                raise ApiKeyError(f"cannot read the API key file {path}: {getattr(exc, 'strerror', None) or exc}") from None
            if not key:
                raise ApiKeyError(f"the API key file {path} is empty")
            where = f"the key file {path}"
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                log.warning("the API key file %s is readable by other users: chmod 600 it", path)
            if env_key and env_key != key:
                log.warning("both %s and an API key file are set; using the key file", API_KEY_ENV)
        else:
            key = env_key
        # An HTTP header carries printable ASCII only; say where the bad character is, never the key.
        bad = next((i for i, c in enumerate(key or "") if not (c.isascii() and c.isprintable())), None)
        if key and bad is not None:
            raise ApiKeyError(
                f"the API key in {where} has a character an HTTP header cannot carry "
                f"(character {bad + 1} of {len(key)} is U+{ord(key[bad]):04X}): keys are printable ASCII"
            )
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

    async def _send(self, audio: np.ndarray, allowed: float, prompt: str | None = None) -> str:
        import httpx

        self._read_key()
        data = {"model": self.model, "response_format": "json"}
        if self.language:
            data["language"] = self.language
        text_prompt = full_prompt(self.initial_prompt, prompt, self.vocabulary)  # the API's one field for all three
        if text_prompt:
            data["prompt"] = text_prompt
        files = {"file": ("phrase.wav", wav_bytes(audio), "audio/wav")}
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
