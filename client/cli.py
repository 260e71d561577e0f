"""`stt`: the thin client. The hotkey commands import nothing but the standard library's basics.

Exit codes:
  0  done
  1  sttd is not running
  2  usage error
  3  the server answered with an error
  4  the socket belongs to another user (refused)
"""

from __future__ import annotations

import os
import socket
import struct
import sys

EXIT_OK, EXIT_NOT_RUNNING, EXIT_USAGE, EXIT_ERROR, EXIT_FOREIGN = 0, 1, 2, 3, 4
PROTOCOL_VERSION = 1  # must equal protocol.PROTOCOL_VERSION (a test checks it)
MAX_LINE = 64 * 1024
NOT_RUNNING = "sttd is not running; start it with: sttd"

USAGE = """usage: stt COMMAND [options]

commands:
  toggle                 start recording, or stop if recording (bind this to a key)
  start | stop           start or stop recording (push-to-talk: start on press, stop on release)
  cancel                 stop recording and discard what was not typed yet
  status [--json] [--format waybar] [--watch]
                         server state; --watch prints a line per change (status bars)
  tail [--json] [-n N]   live events (transcripts, latency, errors); -n shows N past entries first
  history [-n N] [--json]
                         recent transcripts from the journal
  transcribe FILE...     transcribe audio files with the server's warm model
  paste                  type the text held back because focus moved
  shutdown               stop the server

examples:
  stt toggle             # in your window manager: bindsym $mod+d exec stt toggle
  stt tail               # watch what you say become text
  stt history -n 5 --json | jq -r '.[].text'

exit codes: 0 ok, 1 sttd not running, 2 usage, 3 error from the server, 4 socket owned by another user
"""


class Foreign(Exception):
    """The socket is served by another user's process."""


def _address() -> str:
    name = os.environ.get("STT_SOCKET", "").strip()
    if not name:
        return f"\0stt-{os.getuid()}"
    return "\0" + (name[1:] if name.startswith("@") else name)


def connect(timeout: float = 5.0) -> socket.socket | None:
    """A connection to the server, None when none runs; raise Foreign for another user's."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    s.settimeout(timeout)
    try:
        s.connect(_address())
    except (FileNotFoundError, ConnectionRefusedError):
        s.close()
        return None
    pid, uid, _ = struct.unpack("3i", s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
    if uid != os.getuid():
        s.close()
        raise Foreign(f"stt: the socket is served by pid {pid} of uid {uid}, not by you; refusing to talk to it")
    return s


class Lines:
    """Reads newline-delimited JSON from a socket with a line limit."""

    def __init__(self, s: socket.socket) -> None:
        self.s = s
        self.buf = b""

    def next(self) -> dict | None:
        """The next message, or None at end of stream."""
        import json

        while b"\n" not in self.buf:
            if len(self.buf) > MAX_LINE:
                raise ValueError("reply line too long")
            chunk = self.s.recv(65536)
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)


def send(s: socket.socket, command: dict) -> None:
    """Write one command line."""
    import json

    s.sendall(json.dumps({**command, "v": PROTOCOL_VERSION}, separators=(",", ":")).encode() + b"\n")


def request(command: dict, timeout: float = 5.0) -> dict | int:
    """Send one command and return the reply, or an exit code when there is none."""
    try:
        s = connect(timeout)
    except Foreign as exc:
        print(exc, file=sys.stderr)
        return EXIT_FOREIGN
    if s is None:
        print(NOT_RUNNING, file=sys.stderr)
        return EXIT_NOT_RUNNING
    try:
        send(s, command)
        reply = Lines(s).next()
    except (TimeoutError, socket.timeout):
        print(f"stt: sttd did not answer within {timeout:g} s", file=sys.stderr)
        return EXIT_ERROR
    except (ConnectionError, OSError) as exc:
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


def main(argv: list[str] | None = None) -> int:
    """Entry point of `stt`."""
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help", "help"):
        print(USAGE, end="")
        return EXIT_OK if args else EXIT_USAGE
    cmd, rest = args[0], args[1:]
    if cmd in ("toggle", "start", "stop", "cancel", "paste", "shutdown") and not rest:
        return simple(cmd)
    if cmd == "--version":
        from server import __version__

        print(f"stt {__version__}")
        return EXIT_OK
    from . import commands

    return commands.run(cmd, rest)


if __name__ == "__main__":
    sys.exit(main())
