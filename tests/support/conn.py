"""A raw blocking client of the control socket: JSON lines in and out, every read with a timeout."""

from __future__ import annotations

import json
import socket
import time


class Conn:
    """A blocking connection to an abstract socket; every read has a timeout."""

    def __init__(self, address: str, timeout: float = 5.0) -> None:
        self.address = address
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.timeout = timeout
        self.buf = b""
        self.eof = False
        # With a timeout set, a Unix connect to a full listen backlog fails with EAGAIN at
        # once instead of waiting; wait for room like a blocking connect would.
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    self.sock.connect(address)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.005)
        except BaseException:
            self.sock.close()
            raise

    def __enter__(self) -> "Conn":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        """Write raw bytes."""
        self.sock.sendall(data)

    def send_json(self, obj: object) -> None:
        """Write one object as a JSON line, exactly as given (no version added)."""
        self.send(json.dumps(obj, separators=(",", ":")).encode() + b"\n")

    def _fill(self, deadline: float) -> bool:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no complete line within the timeout (buffered {len(self.buf)} bytes)")
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        except socket.timeout as exc:
            raise TimeoutError(f"no complete line within the timeout (buffered {len(self.buf)} bytes)") from exc
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def read_line(self, timeout: float | None = None) -> bytes | None:
        """The next line without its newline, or None at end of stream; TimeoutError if none comes."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while b"\n" not in self.buf:
            if self.eof or not self._fill(deadline):
                return None
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def read_json(self, timeout: float | None = None) -> dict | None:
        """The next line parsed as JSON, or None at end of stream."""
        line = self.read_line(timeout)
        return None if line is None else json.loads(line)

    def request(self, obj: object, timeout: float | None = None) -> dict:
        """Send one JSON line and return the reply; fail if the server closes instead."""
        self.send_json(obj)
        reply = self.read_json(timeout)
        assert reply is not None, f"server closed the connection instead of answering {obj!r}"
        return reply

    def wait_closed(self, timeout: float | None = None) -> list[bytes]:
        """Read until the server closes; return the lines it sent meanwhile."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        lines = []
        while True:
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                lines.append(line)
            if self.eof or not self._fill(deadline):
                if self.buf:
                    lines.append(self.buf)
                    self.buf = b""
                return lines


def connect(socket_name: str, timeout: float = 5.0) -> Conn:
    """A raw connection to the abstract socket `socket_name`."""
    return Conn("\0" + socket_name, timeout)


__all__ = ["Conn", "connect"]
