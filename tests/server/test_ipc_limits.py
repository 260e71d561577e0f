"""The control socket's bounds: per-line deadlines, quiet subscribers, sandboxed peers, quiet logs.

The real ControlServer on a real abstract socket, served from a thread's event loop;
clients are plain sockets or real processes (`unshare --mount` for a sandboxed peer).
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid

import pytest

from stt_dictation.protocol.messages import Ok
from stt_dictation.server import ipc
from stt_dictation.server.events import EventBus


class _Handler:
    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay

    async def handle(self, command):
        await asyncio.sleep(self.delay)
        return Ok(state="idle")

    async def history_for_tail(self, n):
        return []

    def current_state(self):
        return "idle"


class _Served:
    """A ControlServer running in its own thread until the context ends."""

    def __init__(self, handler=None, **kwargs) -> None:
        self.address = f"\0stt-test-ipc-{uuid.uuid4().hex[:12]}"
        self.handler = handler or _Handler()
        self.kwargs = kwargs
        self.bus = EventBus()

    def __enter__(self) -> "_Served":
        self.sock = ipc.claim(self.address)
        self.loop = asyncio.new_event_loop()
        started = threading.Event()

        async def main():
            self.server = ipc.ControlServer(self.sock, self.handler, self.bus, **self.kwargs)
            await self.server.start()
            self.stop = asyncio.Event()
            started.set()
            await self.stop.wait()
            await self.server.close(grace=0.5)

        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(main(),), daemon=True)
        self.thread.start()
        assert started.wait(5)
        return self

    def __exit__(self, *exc) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(5)
        self.sock.close()

    def connect(self) -> socket.socket:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect(self.address)
        return s


def _read_json(s: socket.socket) -> dict | None:
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            return None
        buf += chunk
    return json.loads(buf)


def _closed(s: socket.socket, timeout: float) -> bool:
    s.settimeout(timeout)
    try:
        while s.recv(65536):
            pass
        return True
    except (TimeoutError, socket.timeout):
        return False
    except ConnectionResetError:
        return True


def test_a_line_trickled_byte_by_byte_still_meets_its_deadline(monkeypatch):
    """One byte every 0.15 s used to restart a per-read timeout forever."""
    monkeypatch.setattr(ipc, "READ_TIMEOUT", 0.6)
    with _Served() as srv, srv.connect() as c:
        t0 = time.monotonic()
        reply = None
        c.settimeout(0.15)
        for _ in range(40):
            try:
                c.send(b" ")
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server answered and closed between two bytes: its reply waits in our buffer
            try:
                data = c.recv(65536)
            except (TimeoutError, socket.timeout):
                continue
            except ConnectionResetError:
                break
            if data:
                reply = json.loads(data.splitlines()[0])
            break
        took = time.monotonic() - t0
        assert reply is not None and reply["code"] == "timeout", reply
        assert took < 1.5, f"the partial line lived {took:.1f} s"


def test_a_slow_command_does_not_eat_the_next_lines_time(monkeypatch):
    monkeypatch.setattr(ipc, "READ_TIMEOUT", 0.5)
    with _Served(_Handler(delay=0.8)) as srv, srv.connect() as c:
        for _ in range(2):
            c.sendall(b'{"type":"status","v":1}\n')
            assert _read_json(c)["type"] == "ok"


def test_a_subscriber_that_keeps_sending_is_dropped_not_buffered():
    with _Served() as srv, srv.connect() as c:
        c.sendall(b'{"type":"subscribe","v":1}\n')
        assert _read_json(c)["type"] == "ok"
        c.sendall(b"x" * 1000)  # a little is read and forgotten
        srv.loop.call_soon_threadsafe(srv.bus.publish, Ok(state="idle", message="still streaming"))
        assert _read_json(c)["message"] == "still streaming"
        try:
            for _ in range(64):
                c.sendall(b"y" * 65536)
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert _closed(c, timeout=3)


_CLIENT = r"""
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(5)
s.connect("\0" + sys.argv[1])
try:
    s.sendall(b'{"type":"status","v":1}\n')
except BrokenPipeError:
    pass  # refused peers are answered and closed at once
print(s.recv(65536).decode().strip())
"""


def _client_in_own_mount_namespace(address: str) -> dict:
    p = subprocess.run(["unshare", "--mount", sys.executable, "-c", _CLIENT, address.lstrip("\0")], capture_output=True, text=True, timeout=15)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


needs_unshare = pytest.mark.skipif(
    shutil.which("unshare") is None or subprocess.run(["unshare", "--mount", "true"]).returncode != 0,
    reason="unshare --mount is not permitted here",
)


@needs_unshare
def test_a_peer_in_another_mount_namespace_is_refused(caplog):
    caplog.set_level(logging.WARNING, logger="stt_dictation.server.ipc")
    with _Served() as srv:
        reply = _client_in_own_mount_namespace(srv.address)
        assert reply["type"] == "error" and reply["code"] == "forbidden"
        assert "mount namespace" in reply["message"]
        with srv.connect() as c:  # a peer beside us still gets in
            c.sendall(b'{"type":"status","v":1}\n')
            assert _read_json(c)["type"] == "ok"


@needs_unshare
def test_sandboxed_peers_get_in_when_allowed():
    with _Served(allow_sandboxed=True) as srv:
        assert _client_in_own_mount_namespace(srv.address)["type"] == "ok"


@needs_unshare
def test_refusals_are_logged_once_per_interval(caplog, monkeypatch):
    caplog.set_level(logging.WARNING, logger="stt_dictation.server.ipc")
    with _Served() as srv:
        for _ in range(5):
            assert _client_in_own_mount_namespace(srv.address)["code"] == "forbidden"
        lines = [r for r in caplog.records if "refused connection" in r.getMessage()]
        assert len(lines) == 1, [r.getMessage() for r in lines]
        monkeypatch.setattr(ipc, "REFUSAL_LOG_INTERVAL", 0.0)
        assert _client_in_own_mount_namespace(srv.address)["code"] == "forbidden"
        lines = [r.getMessage() for r in caplog.records if "refused connection" in r.getMessage()]
        assert len(lines) == 2 and "(4 more refused" in lines[1], lines


def test_refusal_reasons():
    me = subprocess.os.getuid()
    assert "uid 4242" in ipc.refusal(1, 4242, me, allow_sandboxed=True)
    assert ipc.refusal(subprocess.os.getpid(), me, me, allow_sandboxed=False) is None
    assert "cannot tell" in ipc.refusal(2**22 + 12345, me, me, allow_sandboxed=False)


def test_connections_past_the_cap_are_told_busy_and_closed_and_a_freed_slot_serves_again(monkeypatch, caplog):
    caplog.set_level(logging.WARNING, logger="stt_dictation.server.ipc")
    monkeypatch.setattr(ipc, "MAX_CONNECTIONS", 5)
    with _Served() as srv:
        held = [srv.connect() for _ in range(5)]
        for c in held:  # each is served: the server answers it
            c.sendall(b'{"type":"status","v":1}\n')
            assert _read_json(c)["type"] == "ok"
        for _ in range(3):
            with srv.connect() as extra:
                reply = _read_json(extra)
                assert reply["type"] == "error" and reply["code"] == "busy" and "5 connections" in reply["message"]
                assert _closed(extra, timeout=2)
        assert srv.server.connections == 5
        busy = [r.getMessage() for r in caplog.records if "connections are open" in r.getMessage()]
        assert len(busy) == 1  # logged once per interval, not once per refusal
        held.pop().close()
        deadline = time.monotonic() + 5
        while srv.server.connections >= 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        with srv.connect() as again:
            again.sendall(b'{"type":"status","v":1}\n')
            assert _read_json(again)["type"] == "ok"
        for c in held:
            c.close()


def test_the_cap_leaves_room_for_many_idle_clients():
    assert ipc.MAX_CONNECTIONS >= 200  # a status bar, hotkeys and `tail`s; tests open 100 idle ones


@needs_unshare
def test_sttd_takes_allow_sandboxed_clients_from_its_configuration(sttd_factory):
    strict = sttd_factory()
    assert _client_in_own_mount_namespace(strict.address)["code"] == "forbidden"
    open_ = sttd_factory(env={"STT_ALLOW_SANDBOXED_CLIENTS": "true"})
    assert _client_in_own_mount_namespace(open_.address)["type"] == "status"
