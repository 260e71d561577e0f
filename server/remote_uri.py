"""`--remote URI`: which server and protocol, parsed with the standard library alone.

    tcp://HOST:PORT, unix:///PATH       Wyoming (wyoming-faster-whisper, wyoming-whisper-cpp, ...)
    http(s)://HOST[:PORT]/v1            OpenAI-compatible /audio/transcriptions

A URI may carry secrets (userinfo, a query-string key): `display` and every error
message leave them out, so the settings and the configuration report can show a URI.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

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


def display_uri(uri: str | None) -> str | None:
    """`uri` safe to print (no userinfo, no query), whether or not it parses: for
    --print-config and configuration error messages."""
    if uri is None:
        return None
    try:
        return parse_remote(uri).display
    except ValueError:
        return _scrub(uri.strip())
