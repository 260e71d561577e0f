"""The control socket's name (`\\0stt-<uid>` unless `STT_SOCKET` overrides it) and who is on its other end."""

from __future__ import annotations

import os
import sys

# `_socket` is the C module under `socket`; the wrapper builds enums at import time
# and would cost the client's hotkey path about as much as the interpreter's own start-up.
import _socket

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
