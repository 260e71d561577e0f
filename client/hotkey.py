"""What a hotkey runs: the connection to sttd and the one-line commands (toggle, start, stop, ...).

Standard library basics only, all in this one module, because every module loaded here
costs each key press about 0.25 ms: `json` is imported when a line needs it, which the
hotkey commands' lines do not. `commands` reuses the connection for the slower commands.
"""

from __future__ import annotations

import os
import sys
import time

# `_socket` is the C module under `socket`; the wrapper builds enums at import time
# and would cost the hotkey path about as much as the interpreter's own start-up.
import _socket

from ..protocol.wire import (
    EXIT_ERROR,
    EXIT_FOREIGN,
    EXIT_NOT_RUNNING,
    EXIT_OK,
    EXIT_USAGE,
    MAX_REPLY_BYTES,
    PROTOCOL_VERSION,
    decode_flat,
    peer_credentials,
    socket_address,
)

NOT_RUNNING = "sttd is not running; start it with: sttd"

SIMPLE = ("toggle", "start", "stop", "cancel", "paste", "shutdown")
"""The commands that are one line in, one line out, and take no arguments."""


class Foreign(Exception):
    """The socket is served by another user's process."""


def connect(address: str, timeout: float = 5.0) -> _socket.socket | None:
    """A connection to the server, None when none runs; raise Foreign for another user's."""
    deadline = time.monotonic() + timeout
    while True:
        s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
        s.settimeout(timeout)
        try:
            s.connect(address)
            break
        except (FileNotFoundError, ConnectionRefusedError):
            s.close()
            return None
        except BlockingIOError:
            # The server's accept queue is full (it is stuck or swamped): retry briefly.
            s.close()
            if time.monotonic() >= deadline:
                raise TimeoutError("the server accepts no connections (its queue is full)") from None
            time.sleep(0.05)
    pid, uid, _ = peer_credentials(s)
    if uid != os.getuid():
        s.close()
        raise Foreign(f"stt: the socket is served by pid {pid} of uid {uid}, not by you; refusing to talk to it")
    return s


def reach(timeout: float = 5.0) -> _socket.socket | int:
    """A connection to the server, or the exit code after one line on stderr saying why there is none."""
    try:
        address = socket_address()
    except ValueError as exc:  # STT_SOCKET names no abstract socket
        print(f"stt: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        s = connect(address, timeout)
    except Foreign as exc:
        print(exc, file=sys.stderr)
        return EXIT_FOREIGN
    except TimeoutError as exc:
        print(f"stt: sttd did not answer within {timeout:g} s: {exc}", file=sys.stderr)
        return EXIT_ERROR
    if s is None:
        print(NOT_RUNNING, file=sys.stderr)
        return EXIT_NOT_RUNNING
    return s


class Lines:
    """Reads newline-delimited JSON from a socket with a line limit."""

    def __init__(self, s: _socket.socket, fast: bool = False) -> None:
        self.s = s
        self.buf = b""
        self.fast = fast

    def next(self) -> dict | None:
        """The next message, or None at end of stream."""
        while b"\n" not in self.buf:
            if len(self.buf) > MAX_REPLY_BYTES:
                raise ValueError("reply line too long")
            chunk = self.s.recv(65536)
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        if self.fast:
            try:
                return decode_flat(line)
            except ValueError:
                pass
        import json  # only for lines the flat parser refuses: the hotkey replies never need it

        return json.loads(line)


def encode_command(command: dict) -> bytes:
    """One command line; plain `{"type": name}` commands skip the json import."""
    if len(command) == 1 and command.get("type", "").isalpha():
        return ('{"type":"%s","v":%d}\n' % (command["type"], PROTOCOL_VERSION)).encode()
    import json  # commands with arguments are the slow ones, which have imported json already

    return json.dumps({**command, "v": PROTOCOL_VERSION}, separators=(",", ":")).encode() + b"\n"


def send(s: _socket.socket, command: dict) -> None:
    """Write one command line."""
    s.sendall(encode_command(command))


def request(command: dict, timeout: float = 5.0) -> dict | int:
    """Send one command and return the reply, or an exit code when there is none."""
    s = reach(timeout)
    if isinstance(s, int):
        return s
    try:
        send(s, command)
        reply = Lines(s, fast=True).next()
    except TimeoutError:
        print(f"stt: sttd did not answer within {timeout:g} s", file=sys.stderr)
        return EXIT_ERROR
    except (ConnectionError, OSError, ValueError) as exc:
        print(f"stt: connection to sttd failed: {exc}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        s.close()
    if reply is None:
        print("stt: sttd closed the connection without answering", file=sys.stderr)
        return EXIT_ERROR
    return reply


def _error(reply: dict) -> int:
    print(f"stt: {reply.get('code')}: {reply.get('message')}", file=sys.stderr)
    return EXIT_ERROR


def simple(name: str) -> int:
    """toggle, start, stop, cancel, paste, shutdown: one line in, one line out."""
    reply = request({"type": name})
    if isinstance(reply, int):
        return reply
    if reply.get("type") == "error":
        return _error(reply)
    msg = reply.get("message") or reply.get("state", "")
    if msg:
        print(msg)
    return EXIT_OK


def status_plain() -> int:
    """`stt status` with no options: kept on the fast path for status bars that poll."""
    reply = request({"type": "status"})
    if isinstance(reply, int):
        return reply
    if reply.get("type") == "error":
        return _error(reply)
    print(format_status(reply))
    return EXIT_OK


def format_status(st: dict) -> str:
    """The one- or two-line human form of a status reply."""
    line = f"{st['state']}  pid {st['pid']}  model {st['model']}  backend {st['backend']}  injector {st['injector']}  pending {st['pending']}"
    if st.get("held"):
        line += f"  held {st['held']}"
    if st.get("error"):
        line += f"\nerror: {st['error']}"
    return line
