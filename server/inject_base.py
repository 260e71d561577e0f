"""What every typing backend shares: the errors, text clean-up, running a tool, the base class.

Backends run their tool with `asyncio.create_subprocess_exec`, one call per phrase,
with a timeout, and raise InjectError with a message a person can act on; Refused
when the desktop turned them away before a single key went out.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable

log = logging.getLogger(__name__)

_ESCAPES = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)?|[@-Z\\-_])")
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b\ufeff]")
SECRET_VARIABLES = frozenset({"STT_API_KEY"})
"""Variables no helper program (typing tools, notify-send) inherits."""


class InjectError(Exception):
    """Text could not be typed; it stays in the history."""


class Refused(InjectError):
    """The desktop refused this backend before anything was typed: the next backend may take over."""


def clean(text: str, replacements: dict[str, str] | None = None) -> str:
    """Strip escape sequences and control characters, apply replacements, normalise spaces.

    Dictation must never press Enter or send an escape sequence into a terminal, so
    the text is stripped again after the replacements, which are literal text (a
    backslash in one is a backslash, never a regex template escape).
    """
    text = _strip(text)
    for spoken, written in (replacements or {}).items():
        if spoken:
            text = re.sub(rf"(?<!\w){re.escape(spoken)}(?!\w)", lambda _m, w=written: w, text, flags=re.IGNORECASE)
    return " ".join(_strip(text).split())


def _strip(text: str) -> str:
    return _CONTROLS.sub(" ", _ESCAPES.sub(" ", text))


def runs(text: str) -> list[tuple[bool, str]]:
    """Split text into (printable ASCII, part) runs, in order: what every layout's keys can be trusted with, and the rest."""
    out: list[tuple[bool, str]] = []
    for ch in text:
        keys = 0x20 <= ord(ch) <= 0x7E
        if out and out[-1][0] == keys:
            out[-1] = (keys, out[-1][1] + ch)
        else:
            out.append((keys, ch))
    return out


def tool_env() -> dict[str, str]:
    """The environment for helper programs: ours, less the secrets they have no use for."""
    return {k: v for k, v in os.environ.items() if k not in SECRET_VARIABLES}


async def run_tool(
    argv: list[str],
    *,
    timeout: float,
    stdin: bytes | None = None,
    forks: bool = False,
    refusal: Callable[[bytes], bool] | None = None,
    extra_env: dict[str, str] | None = None,
) -> str:
    """Run a tool, return its stdout; raise InjectError on failure or timeout.

    A tool that `forks` a child to serve the clipboard (xclip, wl-copy) is waited for
    by its exit, not by the end of output that child keeps open: stderr goes to a file.
    A failure whose stderr `refusal` recognises raises Refused instead.
    """
    errfile = tempfile.TemporaryFile() if forks else None
    try:
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL if forks else asyncio.subprocess.PIPE,
                stderr=errfile if errfile is not None else asyncio.subprocess.PIPE,
                env={**tool_env(), **(extra_env or {})},
            )
        except FileNotFoundError as exc:
            raise InjectError(f"{argv[0]} is not installed or not on PATH") from exc
        except OSError as exc:
            raise InjectError(f"cannot run {argv[0]}: {exc}") from exc
        try:
            out, err = await asyncio.wait_for(proc.communicate(stdin), timeout)
        except TimeoutError:
            if proc.returncode is None:
                try:
                    proc.kill()
                except ProcessLookupError:
                    pass  # it exited between the timeout and the kill
            await proc.wait()
            raise InjectError(f"{argv[0]} did not finish within {timeout:.1f} s") from None
        if errfile is not None:
            errfile.seek(0)
            err = errfile.read(64 * 1024)
        if proc.returncode != 0:
            msg = (err or b"").decode(errors="replace").strip().splitlines()
            text = f"{argv[0]} failed (exit {proc.returncode}): {msg[-1] if msg else 'no message'}"
            raise (Refused if refusal is not None and refusal(err or b"") else InjectError)(text)
        return (out or b"").decode(errors="replace")
    finally:
        if errfile is not None:
            errfile.close()


class Injector(ABC):
    """One way of typing text."""

    name: str = "?"
    tools: tuple[str, ...] = ()
    """Programs the backend runs; all must be on PATH."""

    note: str | None = None
    """Why typing goes another way than the first choice (a fallback's reason), for `stt status`."""

    def __init__(self, delay_ms: int | None = None) -> None:
        self.delay_ms = delay_ms

    def problem(self) -> str | None:
        """Why this backend cannot work right now, or None."""
        missing = [t for t in self.tools if shutil.which(t) is None]
        return f"{', '.join(missing)} not found on PATH" if missing else None

    @abstractmethod
    async def type(self, text: str) -> None:
        """Type `text` into the focused window."""

    async def focused_window(self) -> str | None:
        """An id of the focused window, or None where the backend cannot tell."""
        return None

    async def press(self, chord: str) -> None:
        """Press a chord such as `ctrl+shift+v` (the clipboard path's paste key)."""
        raise InjectError(f"{self.name} cannot press keys")

    async def aclose(self) -> None:
        """Release what the backend holds (a D-Bus connection); typing again reopens it."""

    def _timeout(self, text: str, per_char_ms: float) -> float:
        return 5.0 + len(text) * (per_char_ms + 5) / 1000.0
