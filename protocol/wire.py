"""What both programs agree on and the client needs without pydantic: standard library only.

Constants, the socket address, the peer's credentials and a flat-JSON parser. The
hotkey path of `stt` imports this module, so it imports only what the interpreter has
loaded at start-up, plus `_socket`. It is one module, not four, because each module
the hotkey path loads costs it about 0.25 ms (`scripts/bench --only hotkey`).
"""

from __future__ import annotations

import os
import sys

# `_socket` is the C module under `socket`; the wrapper builds enums at import time
# and would cost the client's hotkey path about as much as the interpreter's own start-up.
import _socket

__version__ = "0.1.0"
"""The distribution's version: `sttd` reports it, `stt --version` prints it, pyproject.toml reads it."""

PROTOCOL_VERSION = 1
"""Bumped on any incompatible change; a command from another version is refused."""

MAX_LINE_BYTES = 64 * 1024
"""Longest command line (without its newline) the server accepts."""
MAX_REPLY_BYTES = 16 * 1024 * 1024
"""Longest line the client accepts: a long history reply may exceed the command limit."""

COMMAND_NAMES = ("toggle", "start", "stop", "cancel", "status", "subscribe", "history", "transcribe", "paste", "shutdown")
"""The `type` of every command a client may send (a test checks the pydantic union against it)."""

# Exit codes of `stt`.
EXIT_OK = 0
"""Done (both programs: `sttd` shut down cleanly)."""
EXIT_NOT_RUNNING = 1
"""`stt`: sttd is not running."""
EXIT_USAGE = 2
"""`stt`: usage error."""
EXIT_ERROR = 3
"""`stt`: the server answered with an error, or did not answer."""
EXIT_FOREIGN = 4
"""`stt`: the socket belongs to another user (refused)."""

# Exit codes of `sttd`.
EXIT_FAILURE = 1
"""`sttd`: unexpected failure."""
EXIT_CONFIG = 2
"""`sttd`: bad option, configuration or environment."""
EXIT_RUNNING = 3
"""`sttd`: another sttd already serves this socket, or uses this state directory."""
EXIT_MODEL = 4
"""`sttd`: the model failed to load."""
EXIT_STATE = 5
"""`sttd`: the state directory cannot be used (not a directory, not writable, its journal cannot be opened)."""


# --- the control socket ---------------------------------------------------------------

ENV_VAR = "STT_SOCKET"
"""Environment variable naming another abstract socket (tests, second profiles)."""


def socket_address(environ: dict[str, str] | None = None, uid: int | None = None) -> str:
    """The abstract socket address (leading NUL) the server binds and clients reach.

    `STT_SOCKET=name` or `STT_SOCKET=@name` picks `\\0name`; a leading `/` is
    refused because only the abstract namespace vanishes with its process.
    """
    env = os.environ if environ is None else environ
    name = env.get(ENV_VAR, "").strip()
    if not name:
        return f"\0stt-{os.getuid() if uid is None else uid}"
    if name.startswith("@"):
        name = name[1:]
    if not name or "/" in name[:1] or "\0" in name or len(name.encode()) > 100:
        raise ValueError(f"{ENV_VAR}={name!r}: expected an abstract socket name like 'stt-test' (no leading '/')")
    return "\0" + name


def display_address(address: str) -> str:
    """The address as a person reads it: `@name` for abstract names."""
    return "@" + address[1:] if address.startswith("\0") else address


def peer_credentials(sock: _socket.socket) -> tuple[int, int, int]:
    """(pid, uid, gid) of the process on the other end of a Unix socket (SO_PEERCRED: three C ints)."""
    raw = sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, 12)
    pid, uid, gid = (int.from_bytes(raw[i : i + 4], sys.byteorder, signed=True) for i in (0, 4, 8))
    return pid, uid, gid


# --- flat JSON ------------------------------------------------------------------------
# `import json` pulls in `re`, `enum` and `functools`: about half the interpreter's own
# start-up again. The replies to the hotkey commands (`ok`, `error`, `status`) are flat
# objects of strings, numbers, booleans and nulls; the client parses them with
# `decode_flat` and falls back to `json` for anything it refuses.

_ESC = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def decode_flat(line: bytes) -> dict:
    """Parse one flat JSON object; raise ValueError for anything else (nested values included)."""
    try:
        return _decode(line.decode("utf-8").strip())
    except (KeyError, IndexError) as exc:
        raise ValueError(f"not a flat JSON object: {exc!r}") from None


def _decode(text: str) -> dict:
    out: dict = {}
    i, n = 1, len(text)
    if not text.startswith("{") or not text.endswith("}"):
        raise ValueError("not an object")
    expect_key = True
    key = None
    while i < n - 1:
        c = text[i]
        if c in " ,:\t":
            i += 1
            continue
        if c == '"':
            buf = []
            i += 1
            while text[i] != '"':
                if text[i] == "\\":
                    e = text[i + 1]
                    if e == "u":
                        code = int(text[i + 2 : i + 6], 16)
                        i += 6
                        if 0xD800 <= code < 0xDC00 and text[i : i + 2] == "\\u":
                            low = int(text[i + 2 : i + 6], 16)
                            if 0xDC00 <= low < 0xE000:  # a pair; a lone high surrogate stays alone
                                code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                                i += 6
                        buf.append(chr(code))
                        continue
                    buf.append(_ESC[e])
                    i += 2
                else:
                    buf.append(text[i])
                    i += 1
            i += 1
            value: object = "".join(buf)
        elif c in "{[":
            raise ValueError("nested value")
        else:
            j = i
            while j < n - 1 and text[j] not in ",}":
                j += 1
            word = text[i:j].strip()
            i = j
            value = {"null": None, "true": True, "false": False}.get(word, word)
            if isinstance(value, str):
                value = float(value) if any(ch in word for ch in ".eE") else int(word)
        if expect_key:
            if not isinstance(value, str):
                raise ValueError("key is not a string")
            key = value
        else:
            out[key] = value
        expect_key = not expect_key
    return out
