"""tray_link: one line per command with the protocol version; every way of not getting an answer is Gone."""

from __future__ import annotations

import asyncio
import json

import pytest

from stt_dictation.client.tray_link import Gone, _line, _read, events, request
from stt_dictation.protocol.wire import PROTOCOL_VERSION
from tests.support.env import unique_socket_name


def test_a_command_is_one_compact_line_with_the_version():
    line = _line({"type": "history", "limit": 3})
    assert line.endswith(b"\n") and line.count(b"\n") == 1 and b" " not in line
    assert json.loads(line) == {"type": "history", "limit": 3, "v": PROTOCOL_VERSION}


def _reader(data: bytes) -> asyncio.StreamReader:
    r = asyncio.StreamReader()
    r.feed_data(data)
    r.feed_eof()
    return r


def test_read_gives_the_reply_and_end_of_stream_is_gone():
    async def go():
        first = await _read(_reader(b'{"type": "ok"}\n'), 1.0)
        with pytest.raises(Gone, match="closed the connection"):
            await _read(_reader(b""), 1.0)
        return first

    assert asyncio.run(go()) == {"type": "ok"}


def test_a_silent_server_is_gone_after_the_timeout():
    async def go():
        with pytest.raises(Gone, match="reading from sttd failed"):
            await _read(asyncio.StreamReader(), 0.05)

    asyncio.run(go())


def test_no_server_is_gone(monkeypatch):
    monkeypatch.setenv("STT_SOCKET", unique_socket_name())

    async def go():
        with pytest.raises(Gone):
            await request({"type": "status"})
        with pytest.raises(Gone):
            await anext(events(0))

    asyncio.run(go())
