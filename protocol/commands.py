"""What `stt` sends to `sttd`: every command as a pydantic model.

One discriminated union on the `type` field with a module-level TypeAdapter, so one
`validate_json` call both parses and dispatches; `framing.parse_command` uses it.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import ConfigDict, Field, TypeAdapter

from .wire import PROTOCOL_VERSION
from .messages import Message


class _Command(Message):
    # Strict: "5" is not a number and true is not a version; a typed protocol says so.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    v: int = PROTOCOL_VERSION
    """Protocol version the client speaks."""


class Toggle(_Command):
    """Start recording when idle, stop when recording."""

    type: Literal["toggle"] = "toggle"


class Start(_Command):
    """Start recording; a no-op when already recording."""

    type: Literal["start"] = "start"


class Stop(_Command):
    """Stop recording and transcribe what is left; a no-op when idle."""

    type: Literal["stop"] = "stop"


class Cancel(_Command):
    """Stop recording and discard every phrase of it not yet typed."""

    type: Literal["cancel"] = "cancel"


class GetStatus(_Command):
    """Ask for a `status` reply."""

    type: Literal["status"] = "status"


class Subscribe(_Command):
    """Turn this connection into a stream of events (`stt tail`)."""

    type: Literal["subscribe"] = "subscribe"
    history: int = Field(default=0, ge=0, le=1000)
    """How many past history entries to send before the live events."""


class GetHistory(_Command):
    """Ask for the most recent history entries."""

    type: Literal["history"] = "history"
    limit: int = Field(default=20, ge=1, le=10000)
    """How many entries, newest last."""


class Transcribe(_Command):
    """Transcribe audio files with the server's warm model and reply with the text."""

    type: Literal["transcribe"] = "transcribe"
    paths: list[Annotated[str, Field(min_length=1, max_length=4096)]] = Field(
        min_length=1, max_length=64
    )
    """Absolute paths of audio files readable by the server."""


class Paste(_Command):
    """Type the held text into the window focused now."""

    type: Literal["paste"] = "paste"


class Shutdown(_Command):
    """Stop the server cleanly."""

    type: Literal["shutdown"] = "shutdown"


Command = Annotated[
    Union[Toggle, Start, Stop, Cancel, GetStatus, Subscribe, GetHistory, Transcribe, Paste, Shutdown],
    Field(discriminator="type"),
]
"""Anything a client may send."""

COMMAND_ADAPTER: TypeAdapter[Command] = TypeAdapter(Command)
"""Parses one command line: `COMMAND_ADAPTER.validate_json(line)`."""

COMMAND_TYPES: frozenset[str] = frozenset(
    m.model_fields["type"].default for m in (Toggle, Start, Stop, Cancel, GetStatus, Subscribe, GetHistory, Transcribe, Paste, Shutdown)
)
"""The `type` values of every command."""
