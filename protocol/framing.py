"""Newline-delimited JSON framing with a hard line limit, and command parsing.

Pure functions and a push decoder: no sockets here, so both the asyncio server
and the blocking client use the same rules, and tests drive them from memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel, ValidationError

from .commands import COMMAND_ADAPTER, Command
from .wire import MAX_LINE_BYTES, PROTOCOL_VERSION
from .messages import ErrorCode, ErrorReply


def _short(value: object, limit: int = 60) -> str:
    """A value for an error message, cut so a reply never outgrows the line it answers."""
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class LineTooLong:
    """Marker the decoder yields in place of a line that exceeded the limit."""

    __slots__ = ("size",)

    def __init__(self, size: int) -> None:
        self.size = size

    def __repr__(self) -> str:
        return f"LineTooLong({self.size})"


@dataclass
class LineDecoder:
    """Splits a byte stream into lines, discarding any line over `limit` bytes."""

    limit: int = MAX_LINE_BYTES
    _buf: bytearray = field(default_factory=bytearray)
    _skipping: int = 0  # bytes of an oversized line dropped so far; >0 means "skip to newline"

    def feed(self, data: bytes) -> list[bytes | LineTooLong]:
        """Add bytes; return the complete lines (without newline) now available."""
        out: list[bytes | LineTooLong] = []
        start = 0
        while True:
            nl = data.find(b"\n", start)
            chunk = data[start:] if nl < 0 else data[start:nl]
            if self._skipping:
                self._skipping += len(chunk)
            elif len(self._buf) + len(chunk) > self.limit:
                # Never hold more than the limit: an endless line must not grow memory.
                self._skipping = len(self._buf) + len(chunk)
                self._buf.clear()
            else:
                self._buf += chunk
            if nl < 0:
                return out
            if self._skipping:
                out.append(LineTooLong(self._skipping))
                self._skipping = 0
            else:
                out.append(bytes(self._buf))
                self._buf.clear()
            start = nl + 1

    @property
    def pending(self) -> int:
        """Bytes buffered for an incomplete line."""
        return len(self._buf)


def encode(message: BaseModel) -> bytes:
    """One message as a JSON line."""
    return message.model_dump_json(exclude_none=False).encode() + b"\n"


def parse_command(line: bytes) -> Command | ErrorReply:
    """Parse one line into a command, or the typed error reply that says what was wrong."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return ErrorReply(code=ErrorCode.BAD_FRAME, message=f"line is not valid UTF-8 (byte {exc.start})")
    try:
        return COMMAND_ADAPTER.validate_json(text)
    except ValidationError as exc:
        return _validation_reply(exc)


def _validation_reply(exc: ValidationError) -> ErrorReply:
    err = exc.errors(include_url=False)[0]
    kind = err["type"]
    if kind == "json_invalid":
        return ErrorReply(code=ErrorCode.BAD_FRAME, message=f"line is not valid JSON: {err['msg']}")
    if kind == "union_tag_invalid":
        tag = _short(err.get("ctx", {}).get("tag", "?"))
        expected = err.get("ctx", {}).get("expected_tags", "")
        return ErrorReply(
            code=ErrorCode.UNKNOWN_COMMAND,
            message=f"field 'type': unknown command {tag!s}; expected one of {expected}",
            field="type",
        )
    if kind == "union_tag_not_found":
        return ErrorReply(
            code=ErrorCode.INVALID_COMMAND,
            message="field 'type': missing; every command needs a 'type' string",
            field="type",
        )
    loc = tuple(err["loc"])[1:]  # drop the union tag
    if not loc:
        return ErrorReply(code=ErrorCode.INVALID_COMMAND, message=f"a command must be a JSON object with a 'type' ({err['msg']})")
    path = _short(".".join(str(p) for p in loc))
    got = _short(repr(err.get("input")))
    return ErrorReply(
        code=ErrorCode.INVALID_COMMAND,
        message=f"field '{path}': {err['msg']} (got {got})",
        field=path,
    )


def check_version(command: Command) -> ErrorReply | None:
    """The error reply for a command of another protocol version, else None."""
    if command.v != PROTOCOL_VERSION:
        return ErrorReply(
            code=ErrorCode.VERSION_MISMATCH,
            message=f"field 'v': protocol version {command.v} is not supported; expected {PROTOCOL_VERSION}",
            field="v",
        )
    return None
