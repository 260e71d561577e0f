"""The stt wire protocol: messages, framing and the socket name. Pure, no I/O."""

from .address import socket_address
from .framing import MAX_LINE_BYTES, LineDecoder, LineTooLong, encode, parse_command
from .messages import PROTOCOL_VERSION, ErrorCode

__all__ = [
    "MAX_LINE_BYTES",
    "PROTOCOL_VERSION",
    "ErrorCode",
    "LineDecoder",
    "LineTooLong",
    "encode",
    "parse_command",
    "socket_address",
]
