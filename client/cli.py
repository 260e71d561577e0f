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
import sys

# `_socket` is the C module under `socket`; the wrapper builds enums at import time
# and would cost the hotkey path about as much as the interpreter's own start-up.
import _socket

EXIT_OK, EXIT_NOT_RUNNING, EXIT_USAGE, EXIT_ERROR, EXIT_FOREIGN = 0, 1, 2, 3, 4
PROTOCOL_VERSION = 1  # must equal protocol.PROTOCOL_VERSION (a test checks it)
MAX_LINE = 16 * 1024 * 1024  # replies (a long history) may exceed the 64 KiB command limit
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
  completion bash|zsh    print a shell completion script

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


def connect(timeout: float = 5.0) -> _socket.socket | None:
    """A connection to the server, None when none runs; raise Foreign for another user's."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
        s.settimeout(timeout)
        try:
            s.connect(_address())
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
    cred = s.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, 12)
    pid, uid = int.from_bytes(cred[0:4], sys.byteorder), int.from_bytes(cred[4:8], sys.byteorder)
    if uid != os.getuid():
        s.close()
        raise Foreign(f"stt: the socket is served by pid {pid} of uid {uid}, not by you; refusing to talk to it")
    return s


_ESC = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def decode_flat(line: bytes) -> dict:
    """Parse a flat JSON object of strings, numbers, booleans and nulls without importing json.

    Replies to the hotkey commands are such objects; anything else falls back to json.
    """
    text = line.decode("utf-8").strip()
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


class Lines:
    """Reads newline-delimited JSON from a socket with a line limit."""

    def __init__(self, s: _socket.socket, fast: bool = False) -> None:
        self.s = s
        self.buf = b""
        self.fast = fast

    def next(self) -> dict | None:
        """The next message, or None at end of stream."""
        while b"\n" not in self.buf:
            if len(self.buf) > MAX_LINE:
                raise ValueError("reply line too long")
            chunk = self.s.recv(65536)
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        if self.fast:
            try:
                return decode_flat(line)
            except (ValueError, KeyError, IndexError):
                pass
        import json

        return json.loads(line)


def encode_command(command: dict) -> bytes:
    """One command line; plain `{"type": name}` commands skip the json import."""
    if len(command) == 1 and command.get("type", "").isalpha():
        return ('{"type":"%s","v":%d}\n' % (command["type"], PROTOCOL_VERSION)).encode()
    import json

    return json.dumps({**command, "v": PROTOCOL_VERSION}, separators=(",", ":")).encode() + b"\n"


def send(s: _socket.socket, command: dict) -> None:
    """Write one command line."""
    s.sendall(encode_command(command))


def request(command: dict, timeout: float = 5.0) -> dict | int:
    """Send one command and return the reply, or an exit code when there is none."""
    try:
        s = connect(timeout)
    except Foreign as exc:
        print(exc, file=sys.stderr)
        return EXIT_FOREIGN
    except TimeoutError as exc:
        print(f"stt: sttd did not answer within {timeout:g} s: {exc}", file=sys.stderr)
        return EXIT_ERROR
    if s is None:
        print(NOT_RUNNING, file=sys.stderr)
        return EXIT_NOT_RUNNING
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


def format_status(st: dict) -> str:
    """The one- or two-line human form of a status reply."""
    line = f"{st['state']}  pid {st['pid']}  model {st['model']}  backend {st['backend']}  injector {st['injector']}  pending {st['pending']}"
    if st.get("held"):
        line += f"  held {st['held']}"
    if st.get("error"):
        line += f"\nerror: {st['error']}"
    return line


def status_plain() -> int:
    """`stt status` with no options: kept on the fast path for status bars that poll."""
    reply = request({"type": "status"})
    if isinstance(reply, int):
        return reply
    if reply.get("type") == "error":
        return _error(reply)
    print(format_status(reply))
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
    if cmd == "status" and not rest:
        return status_plain()
    if cmd == "--version":
        from ..server import __version__

        print(f"stt {__version__}")
        return EXIT_OK
    from . import commands

    return commands.run(cmd, rest)


if __name__ == "__main__":
    sys.exit(main())
