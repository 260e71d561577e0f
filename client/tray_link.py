"""The tray's asyncio connection to sttd: one-line commands and the event stream, each wait bounded."""

from __future__ import annotations

import asyncio
import json
import os
import socket
from collections.abc import AsyncIterator

from ..protocol.wire import MAX_REPLY_BYTES, PROTOCOL_VERSION, peer_credentials, socket_address

TIMEOUT = 5.0
"""Seconds a connect or a reply may take before the server counts as gone."""


class Gone(Exception):
    """sttd is not running, went away, or is not ours."""


async def _open() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    sock.setblocking(False)
    try:
        await asyncio.wait_for(asyncio.get_running_loop().sock_connect(sock, socket_address()), TIMEOUT)
        pid, uid, _ = peer_credentials(sock)
        if uid != os.getuid():
            raise Gone(f"the socket is served by pid {pid} of uid {uid}, not by you")
        return await asyncio.open_unix_connection(sock=sock, limit=MAX_REPLY_BYTES)
    except (OSError, TimeoutError) as exc:
        sock.close()
        raise Gone(str(exc) or type(exc).__name__) from None
    except Gone:
        sock.close()
        raise


def _line(command: dict) -> bytes:
    return json.dumps({**command, "v": PROTOCOL_VERSION}, separators=(",", ":")).encode() + b"\n"


async def _read(reader: asyncio.StreamReader, timeout: float | None) -> dict:
    try:
        raw = await asyncio.wait_for(reader.readline(), timeout)
    except (OSError, ValueError, TimeoutError, asyncio.IncompleteReadError) as exc:
        raise Gone(f"reading from sttd failed: {exc!r}") from None
    if not raw:
        raise Gone("sttd closed the connection")
    return json.loads(raw)


async def request(command: dict) -> dict:
    """Send one command on a fresh connection and return the reply; raise Gone when there is none."""
    reader, writer = await _open()
    try:
        writer.write(_line(command))
        return await _read(reader, TIMEOUT)
    finally:
        writer.close()


async def events(history: int) -> AsyncIterator[dict]:
    """The subscription's `ok`, then its events (the last `history` phrases first) until sttd goes; raise Gone then."""
    reader, writer = await _open()
    try:
        writer.write(_line({"type": "subscribe", "history": history}))
        first = await _read(reader, TIMEOUT)
        if first.get("type") != "ok":
            raise Gone(f"subscription refused: {first}")
        yield first
        while True:
            yield await _read(reader, None)
    finally:
        writer.close()
