"""What `sttd` writes on the control socket, replies and events, as pydantic models.

The commands that `stt` sends are in `commands`. Each family is a discriminated
union on the `type` field with a module-level TypeAdapter, so one `validate_json`
call both parses and dispatches.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

State = Literal["loading", "idle", "recording", "error"]
"""What the server is doing: loading the model, waiting, listening, or stuck on a fault."""

PhraseStatus = Literal[
    "recorded",
    "transcribed",
    "typing",
    "typed",
    "held",
    "failed",
    "empty",
    "filtered",
    "cancelled",
    "recovered",
    "interrupted",
    "unreadable",
]
"""Where a phrase is in its life; see `server.history` for the transitions."""


class ErrorCode(StrEnum):
    """Documented error codes of an `error` reply; scripts may match on them."""

    BAD_FRAME = "bad_frame"
    """The line was not UTF-8 JSON."""
    LINE_TOO_LONG = "line_too_long"
    """The line exceeded `MAX_LINE_BYTES`; it was discarded up to its newline."""
    UNKNOWN_COMMAND = "unknown_command"
    """The `type` field named no command this server knows."""
    INVALID_COMMAND = "invalid_command"
    """A field was missing or had the wrong type or value; `field` names it."""
    VERSION_MISMATCH = "version_mismatch"
    """The client speaks another protocol version."""
    FORBIDDEN = "forbidden"
    """The peer runs as another user; the connection is closed."""
    NOT_READY = "not_ready"
    """The model is still loading or failed to load."""
    AUDIO = "audio"
    """The microphone could not be opened or stopped delivering audio."""
    TRANSCRIBE_FAILED = "transcribe_failed"
    """The model could not transcribe the input (unreadable file, model fault)."""
    INJECT_FAILED = "inject_failed"
    """Text could not be typed; it is kept in the history."""
    PHRASE_FAILED = "phrase_failed"
    """A phrase could not be kept or carried to text (a full disk, a journal error, a fallback
    that would not load): it is marked `failed` in the history and its audio stays in the spool."""
    TIMEOUT = "timeout"
    """The peer sent nothing for too long; the connection is closed."""
    BUSY = "busy"
    """The server has as many connections open as it serves; this one is closed. Try again."""
    INTERNAL = "internal"
    """A bug in the server; the message says what failed. The server stays up."""


class Message(BaseModel):
    """Every message: unknown fields are refused and instances are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --- replies ------------------------------------------------------------------


class Ok(Message):
    """A command was carried out; `state` is the server state after it."""

    type: Literal["ok"] = "ok"
    state: State
    """Server state after the command."""
    message: str = ""
    """A short human-readable note ("recording", "already idle")."""


class ErrorReply(Message):
    """A command failed or could not be parsed; the connection stays usable unless noted."""

    type: Literal["error"] = "error"
    code: ErrorCode
    """Machine-readable reason, one of `ErrorCode`."""
    message: str
    """What was wrong, naming the field and what was expected."""
    field: str | None = None
    """Dotted path of the offending field, when one is to blame."""


class Status(Message):
    """Everything `stt status` shows."""

    type: Literal["status"] = "status"
    state: State
    """What the server is doing."""
    pid: int
    """Server process id (`kill PID` stops it)."""
    version: str
    """Server package version."""
    model: str
    """Model name or path in use."""
    backend: str
    """`local`, or the remote URI without secrets."""
    injector: str
    """The typing backend chosen (`xdotool`, `stdout`, ...); `wtype->mutter` after a hand-over."""
    injector_note: str | None = None
    """Why the typing backend is the one it is (a refusal and who took over), when there is a reason."""
    pending: int
    """Phrases recorded but not yet typed or resolved."""
    held: int = 0
    """Phrases held back because focus moved; `stt paste` types them."""
    error: str | None = None
    """The last fault, while one is active."""
    input_device: str | None = None
    """The input device asked for, or None for the default."""
    recording_seconds: float = 0.0
    """How long the current recording has run."""
    uptime: float = 0.0
    """Seconds since the server started."""


class HistoryEntry(Message):
    """One phrase as stored in the history journal."""

    seq: int
    """Phrase number, increasing in spoken order across recordings."""
    recording: int
    """Recording number the phrase belongs to."""
    status: PhraseStatus
    """Where the phrase ended up."""
    text: str = ""
    """The transcript, as typed (after clean-up)."""
    audio_seconds: float = 0.0
    """Length of the phrase audio."""
    speech_end: float | None = None
    """Wall-clock time (epoch seconds) the phrase's speech ended."""
    transcribed_at: float | None = None
    """When the transcript was ready."""
    typed_at: float | None = None
    """When typing finished."""
    note: str | None = None
    """Why it was filtered, held or failed."""


class History(Message):
    """Reply to `history`."""

    type: Literal["history"] = "history"
    entries: list[HistoryEntry]
    """Oldest first."""


class FileTranscript(Message):
    """The text of one file given to `transcribe`."""

    path: str
    """The file as given."""
    text: str
    """Its transcript."""
    seconds: float
    """Audio length."""
    elapsed: float
    """Time the model took."""


class Transcripts(Message):
    """Reply to `transcribe`."""

    type: Literal["transcripts"] = "transcripts"
    files: list[FileTranscript]
    """One per path, in the order asked."""


Reply = Annotated[Union[Ok, ErrorReply, Status, History, Transcripts], Field(discriminator="type")]
"""Anything the server answers a command with."""


# --- events -------------------------------------------------------------------


class StateChanged(Message):
    """The server changed state."""

    type: Literal["state"] = "state"
    state: State
    """The new state."""
    error: str | None = None
    """The fault that caused state `error`."""
    at: float
    """Epoch seconds."""


class RecordingStarted(Message):
    """The microphone opened."""

    type: Literal["recording_started"] = "recording_started"
    recording: int
    """Recording number."""
    at: float
    """Epoch seconds."""


class RecordingStopped(Message):
    """The microphone closed."""

    type: Literal["recording_stopped"] = "recording_stopped"
    recording: int
    """Recording number."""
    cancelled: bool = False
    """True when `cancel` discarded the rest."""
    at: float
    """Epoch seconds."""


class PhraseEvent(Message):
    """A phrase changed status (transcribed, typed, held, filtered, failed...)."""

    type: Literal["phrase"] = "phrase"
    entry: HistoryEntry
    """The phrase as now stored."""
    latency: float | None = None
    """Seconds from end of speech to this event."""


class Fault(Message):
    """Something went wrong; the server stays up."""

    type: Literal["fault"] = "fault"
    code: ErrorCode
    """What kind of fault."""
    message: str
    """What happened and what to do."""
    at: float
    """Epoch seconds."""


Event = Annotated[
    Union[StateChanged, RecordingStarted, RecordingStopped, PhraseEvent, Fault],
    Field(discriminator="type"),
]
"""Anything a `subscribe` stream carries after its `ok`."""

ServerMessage = Annotated[
    Union[Ok, ErrorReply, Status, History, Transcripts, StateChanged, RecordingStarted, RecordingStopped, PhraseEvent, Fault],
    Field(discriminator="type"),
]
"""Anything the server writes: replies and events."""

REPLY_ADAPTER: TypeAdapter[Reply] = TypeAdapter(Reply)
"""Parses one reply line."""

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)
"""Parses one event line."""

SERVER_MESSAGE_ADAPTER: TypeAdapter[ServerMessage] = TypeAdapter(ServerMessage)
"""Parses any line the server writes."""
