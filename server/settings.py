"""The one typed settings object, built at the entry point and passed down."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from . import state
from .remote_uri import parse_remote
from .window_class import TERMINALS

InjectorName = Literal["auto", "xdotool", "wtype", "mutter", "dotool", "ydotool", "clipboard", "stdout", "none"]
"""Typing backends `--injector` accepts."""


def default_state_dir(socket: str = "") -> Path:
    """`$XDG_STATE_HOME/stt` (else `~/.local/state/stt`); a named profile's own `profiles/<name>` in it."""
    return state.default_state_dir(socket)


class Settings(BaseModel):
    """Everything `sttd` can be told; defaults suit a laptop with no GPU."""

    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=())

    model: str | None = None
    """faster-whisper model name or CTranslate2 directory; None is the embedded tiny.en."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """Where the model runs."""
    compute_type: str = "default"
    """CTranslate2 compute type; `default` is int8 on CPU and float16 on CUDA."""
    cpu_threads: int = Field(default=0, ge=0, le=256)
    """Model threads on CPU; 0 lets CTranslate2 pick."""
    language: str | None = "en"
    """Spoken language code, or None to detect it per phrase."""
    initial_prompt: str | None = None
    """Names and jargon the model should expect."""
    vocabulary: list[str] = Field(default_factory=list, max_length=100)
    """Rare words to expect (faster-whisper's hotwords; the OpenAI-compatible prompt)."""
    context_chars: int = Field(default=200, ge=0, le=800)
    """Characters of the recording's text so far given to the model as context; 0 decodes each phrase alone."""
    leading_space: Literal["auto", "always", "never"] = "auto"
    """Space before a recording's first phrase: `auto` when the last recording typed into the same window."""
    commands: bool = False
    """Spoken commands: "scratch that", "new line", "new paragraph", "comma", "period", "question mark"..."""
    beam_size: int = Field(default=1, ge=1, le=10)
    """Beam width; 1 is greedy, the fastest."""
    encoder_window: float = Field(default=30.0, ge=2.0, le=30.0)
    """Seconds of input the model encodes for a dictated phrase (more when the phrase is longer); 30 is Whisper's
    own window. 20 takes a third off the model's time on 2 cores, for 0.5 points of WER on the eval clips; a
    decode that fails faster-whisper's checks in the shorter window is done again in the whole one."""
    injector: InjectorName = "auto"
    """How text reaches the focused window."""
    paste_chord: Literal["auto", "ctrl+v", "ctrl+shift+v", "shift+insert"] = "auto"
    """The clipboard path's paste keys; `auto`: Ctrl+Shift+V in terminals, else Ctrl+V."""
    terminal_classes: list[str] = Field(default_factory=lambda: list(TERMINALS), max_length=200)
    """Window classes (X11 WM_CLASS, Wayland app_id) that get the terminal paste chord."""
    type_delay_ms: int | None = Field(default=None, ge=0, le=1000)
    """Delay between keystrokes; None uses the backend's measured safe default."""
    input_device: str | None = None
    """Input device name or index; None is the system default."""
    pause: float = Field(default=0.5, ge=0.1, le=5.0)
    """Seconds of silence that end a phrase."""
    max_phrase: float = Field(default=12.0, ge=2.0, le=30.0)
    """Longest phrase in seconds before it is cut at the last short pause."""
    vad_threshold: float = Field(default=0.5, gt=0.0, lt=1.0)
    """Silero speech probability above which a frame is speech."""
    replacements: dict[str, str] = Field(default_factory=dict)
    """Spoken form to written form, applied before typing."""
    notifications: bool = False
    """Desktop notifications through notify-send."""
    focus_guard: bool = True
    """Hold a phrase instead of typing it when focus moved to another window."""
    hotkey_mode: Literal["toggle", "push-to-talk", "double-tap"] = "toggle"
    """Toggle on each press, record while held, or toggle on a double tap of the key."""
    hotkey: str | None = None
    """Built-in hotkey (`ctrl+alt+d`; double-tap: one modifier such as `alt_l`); None is off. After its mode, which checks it."""
    hotkey_device: str | None = None
    """Without X11 (Wayland): the evdev keyboard(s) to read, a path or glob; None is every keyboard."""
    sounds: bool = False
    """A short sound on start, stop and error (played before the microphone opens)."""
    sound_volume: float = Field(default=0.5, ge=0.0, le=1.0)
    """Loudness of the cues, 0 to 1."""
    sound_start: Path | None = None
    """A WAV file played instead of the built-in start cue."""
    sound_stop: Path | None = None
    """A WAV file played instead of the built-in stop cue."""
    sound_error: Path | None = None
    """A WAV file played instead of the built-in error cue."""
    remote: str | None = None
    """tcp://HOST:PORT or unix:///PATH (Wyoming), http(s)://HOST[:PORT]/v1 (OpenAI-compatible); None is the local model."""
    remote_model: str | None = None
    """Model name sent to the remote (OpenAI default whisper-1; Wyoming: the server's own)."""
    api_key_file: Path | None = None
    """File holding the bearer key of an OpenAI-compatible server (else $STT_API_KEY)."""
    remote_timeout: float = Field(default=10.0, gt=0.0, le=300.0)
    """Seconds one phrase may take on the remote server."""
    max_in_flight: int = Field(default=2, ge=1, le=16)
    """Phrases sent to a remote server at once."""
    fallback: Literal["none", "local"] = "none"
    """`local`: after `fallback_after` failed tries, transcribe with the embedded model."""
    fallback_after: int = Field(default=3, ge=1, le=100)
    """Failed remote tries of one phrase before the fallback takes it."""
    state_dir: Path = Field(default_factory=default_state_dir)
    """Where the history and the audio spool live; unset: per profile (`default_state_dir` of `socket`)."""
    allow_sandboxed_clients: bool = False
    """Serve peers in another mount namespace (Flatpak, Snap, containers sharing the network)."""
    socket: str = ""
    """Abstract socket address (leading NUL); set by the entry point."""
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    """Logging verbosity on stderr."""

    @field_validator("model", "initial_prompt", "input_device", "type_delay_ms", "remote", "remote_model", "api_key_file", "hotkey", "hotkey_device", "sound_start", "sound_stop", "sound_error", mode="before")
    @classmethod
    def _empty_is_unset(cls, v):
        # TOML and the environment have no null: an empty string means "not set".
        return None if v == "" else v

    @model_validator(mode="before")
    @classmethod
    def _profile_state_dir(cls, data):
        # Each STT_SOCKET profile gets its own journal and spool unless state_dir is set.
        if isinstance(data, dict) and data.get("state_dir") in (None, ""):
            data = {**data, "state_dir": default_state_dir(data.get("socket") or "")}
        return data

    @field_validator("hotkey")
    @classmethod
    def _hotkey(cls, v: str | None, info):
        if v is not None:
            from .hotkey import parse_chord

            parse_chord(v, info.data.get("hotkey_mode", "toggle"))  # its ValueError names what is wrong
        return v

    @field_validator("api_key_file", "state_dir", "sound_start", "sound_stop", "sound_error")
    @classmethod
    def _home(cls, v: Path | None) -> Path | None:
        return v.expanduser() if v is not None else None

    @field_validator("remote")
    @classmethod
    def _remote(cls, v: str | None) -> str | None:
        if v is None:
            return None
        parse_remote(v)  # its ValueError says what is expected, without secrets
        return v.strip()

    @field_validator("language")
    @classmethod
    def _language(cls, v: str | None) -> str | None:
        if v in (None, "", "auto"):
            return None
        if not v.isalpha() or not 2 <= len(v) <= 3:
            raise ValueError("expected a language code such as 'en' or 'auto'")
        return v.lower()
