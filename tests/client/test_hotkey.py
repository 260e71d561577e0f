"""client/hotkey: the light path a key press runs: command lines, reply lines within the shared limit, and reaching sttd.

The import-weight checks of this path stay in test_client.py, beside the real servers they run against.
"""

from __future__ import annotations

import json
import socket
import threading

import pytest

from stt_dictation.client import hotkey
from stt_dictation.protocol import wire
from tests.support.env import unique_socket_name


def test_a_reply_line_over_the_shared_limit_is_refused():
    a, b = socket.socketpair()
    feeder = threading.Thread(target=lambda: (b.sendall(b"x" * (wire.MAX_REPLY_BYTES + 65536)), b.close()), daemon=True)
    feeder.start()
    with a, pytest.raises(ValueError, match="too long"):
        hotkey.Lines(a).next()
    feeder.join(10)


def test_a_reply_line_within_the_limit_is_read_whole():
    a, b = socket.socketpair()
    big = {"type": "history", "entries": ["x" * 1000] * 1000}  # ~1 MB: over the 64 KiB command limit
    feeder = threading.Thread(target=lambda: (b.sendall(json.dumps(big).encode() + b"\n"), b.close()), daemon=True)
    feeder.start()
    with a:
        assert hotkey.Lines(a, fast=True).next() == big  # nested: the flat parser refuses, json reads it
    feeder.join(10)


def test_a_reply_split_across_reads_and_two_in_one_read():
    a, b = socket.socketpair()
    with a, b:
        lines = hotkey.Lines(a, fast=True)
        b.sendall(b'{"type":"ok","state":"id')
        b.sendall(b'le"}\n{"type":"ok","state":"recording"}\n')
        b.shutdown(socket.SHUT_WR)
        assert lines.next() == {"type": "ok", "state": "idle"}
        assert lines.next() == {"type": "ok", "state": "recording"}
        assert lines.next() is None


@pytest.mark.parametrize("command", [{"type": "toggle"}, {"type": "history", "limit": 5}, {"type": "transcribe", "paths": ["/a b.wav"]}])
def test_command_lines_are_the_json_form_with_the_version(command):
    line = hotkey.encode_command(command)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert json.loads(line) == {**command, "v": wire.PROTOCOL_VERSION}


def test_format_status_one_line_then_held_and_error():
    st = {"state": "idle", "pid": 7, "model": "tiny.en", "backend": "local", "injector": "xdotool", "pending": 0}
    assert hotkey.format_status(st) == "idle  pid 7  model tiny.en  backend local  injector xdotool  pending 0"
    two = hotkey.format_status({**st, "held": 2, "error": "mic gone"})
    assert two.splitlines() == ["idle  pid 7  model tiny.en  backend local  injector xdotool  pending 0  held 2", "error: mic gone"]


def test_reach_without_a_server_is_exit_1_in_one_line(monkeypatch, capsys):
    monkeypatch.setenv("STT_SOCKET", unique_socket_name())
    assert hotkey.reach() == wire.EXIT_NOT_RUNNING
    assert capsys.readouterr().err == hotkey.NOT_RUNNING + "\n"


def test_reach_with_a_bad_socket_name_is_a_usage_error(monkeypatch, capsys):
    monkeypatch.setenv("STT_SOCKET", "/run/stt.sock")
    assert hotkey.reach() == wire.EXIT_USAGE
    assert capsys.readouterr().err.startswith("stt: STT_SOCKET=")


def test_simple_prints_the_reply_message(monkeypatch, capsys):
    name = unique_socket_name()
    monkeypatch.setenv("STT_SOCKET", name)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind("\0" + name)
    srv.listen(1)
    got: list[bytes] = []

    def serve_one():
        conn, _ = srv.accept()
        with conn:
            got.append(conn.recv(4096))
            conn.sendall(b'{"type":"ok","state":"recording","message":"recording 3"}\n')

    t = threading.Thread(target=serve_one, daemon=True)
    t.start()
    try:
        assert hotkey.simple("toggle") == wire.EXIT_OK
    finally:
        t.join(5)
        srv.close()
    assert json.loads(got[0]) == {"type": "toggle", "v": wire.PROTOCOL_VERSION}
    assert capsys.readouterr().out == "recording 3\n"
