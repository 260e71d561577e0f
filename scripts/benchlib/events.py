"""sttd's event stream (`subscribe`) read by a background thread, and reading one reply line with a deadline."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable

from .common import BenchError


def read_line(sock: socket.socket, buf: bytearray, deadline: float) -> bytes | None:
    while b"\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no reply line in time")
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except socket.timeout as exc:
            raise TimeoutError("no reply line in time") from exc
        if not chunk:
            return None
        buf += chunk
    i = buf.index(b"\n")
    line = bytes(buf[:i])
    del buf[: i + 1]
    return line


class Events:
    """A `subscribe` stream read by a background thread; every event is stamped with its receive time."""

    def __init__(self, address: str, timeout: float = 5.0) -> None:
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout)
        self._sock.connect(address)
        self._sock.sendall(b'{"type":"subscribe","v":1}\n')
        self._buf = bytearray()
        first = read_line(self._sock, self._buf, time.monotonic() + timeout)
        if first is None or json.loads(first).get("type") != "ok":
            raise BenchError(f"subscription refused: {first!r}")
        self.events: list[dict] = []
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="bench-events", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        self._sock.settimeout(0.5)
        while not self._closed:
            try:
                chunk = self._sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            now = time.time()
            if not chunk:
                break
            self._buf += chunk
            new = []
            while b"\n" in self._buf:
                i = self._buf.index(b"\n")
                line = bytes(self._buf[:i])
                del self._buf[: i + 1]
                try:
                    ev = json.loads(line)
                except ValueError:
                    continue
                ev["_rx"] = now
                new.append(ev)
            if new:
                with self._cond:
                    self.events.extend(new)
                    self._cond.notify_all()
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def mark(self) -> int:
        """An index: events after it are the ones that arrive from now on."""
        with self._cond:
            return len(self.events)

    def since(self, index: int) -> list[dict]:
        with self._cond:
            return list(self.events[index:])

    def wait_for(self, pred: Callable[[dict], bool], since: int, timeout: float, what: str) -> dict:
        """The first event after `since` that satisfies pred; BenchError after timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            i = since
            while True:
                while i < len(self.events):
                    if pred(self.events[i]):
                        return self.events[i]
                    i += 1
                left = deadline - time.monotonic()
                if left <= 0 or self._closed:
                    raise BenchError(f"no {what} event within {timeout:.1f} s" + (" (stream closed)" if self._closed else ""))
                self._cond.wait(left)

    def close(self) -> None:
        self._closed = True
        try:
            self._sock.close()
        except OSError:
            pass
        self._thread.join(timeout=2.0)
