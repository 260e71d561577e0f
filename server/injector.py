"""Typing backends: each a small class that puts text into the focused window.

All of them run their tool with `asyncio.create_subprocess_exec`, one call per
phrase, with a timeout, and raise InjectError with a message a person can act on.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shutil
import sys
import tempfile
from abc import ABC, abstractmethod

log = logging.getLogger(__name__)

_ESCAPES = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)?|[@-Z\\-_])")
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b\ufeff]")
SECRET_VARIABLES = frozenset({"STT_API_KEY"})
"""Variables no helper program (typing tools, notify-send) inherits."""


class InjectError(Exception):
    """Text could not be typed; it stays in the history."""


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


def tool_env() -> dict[str, str]:
    """The environment for helper programs: ours, less the secrets they have no use for."""
    return {k: v for k, v in os.environ.items() if k not in SECRET_VARIABLES}


async def run_tool(argv: list[str], *, timeout: float, stdin: bytes | None = None, forks: bool = False) -> str:
    """Run a tool, return its stdout; raise InjectError on failure or timeout.

    A tool that `forks` a child to serve the clipboard (xclip, wl-copy) is waited for
    by its exit, not by the end of output that child keeps open: stderr goes to a file.
    """
    errfile = tempfile.TemporaryFile() if forks else None
    try:
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL if forks else asyncio.subprocess.PIPE,
                stderr=errfile if errfile is not None else asyncio.subprocess.PIPE,
                env=tool_env(),
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
            raise InjectError(f"{argv[0]} failed (exit {proc.returncode}): {msg[-1] if msg else 'no message'}")
        return (out or b"").decode(errors="replace")
    finally:
        if errfile is not None:
            errfile.close()


class Injector(ABC):
    """One way of typing text."""

    name: str = "?"
    tools: tuple[str, ...] = ()
    """Programs the backend runs; all must be on PATH."""

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

    def _timeout(self, text: str, per_char_ms: float) -> float:
        return 5.0 + len(text) * (per_char_ms + 5) / 1000.0


class XdotoolInjector(Injector):
    """X11: `xdotool type`, with characters the keymap lacks bound to spare keys first."""

    name = "xdotool"
    tools = ("xdotool",)
    FAST_DELAY_MS = 1
    """Key delay once every character is in the keymap: under Xvfb+xterm 0 and 1 ms dropped
    nothing over 20 runs of 500 characters; 1 ms leaves real applications a breath."""
    SAFE_DELAY_MS = 12
    """xdotool's default, for characters that could not be bound to a spare key."""

    def problem(self) -> str | None:
        """Missing xdotool or no DISPLAY."""
        return super().problem() or (None if os.environ.get("DISPLAY") else "DISPLAY is not set")

    async def delay_for(self, text: str) -> int:
        """The key delay for this text, binding characters the keymap lacks first.

        xdotool's own remapping of a missing character races the client and drops
        it at any delay; once bound, accented letters type as reliably as ASCII.
        """
        if self.delay_ms is not None:
            return self.delay_ms
        if text.isascii():
            return self.FAST_DELAY_MS
        from .x11 import KeymapError, bind_characters

        try:
            unbound = await asyncio.to_thread(bind_characters, os.environ.get("DISPLAY", ""), text)
        except KeymapError as exc:
            log.info("cannot extend the keymap (%s); typing non-ASCII slowly", exc)
            return self.SAFE_DELAY_MS
        return self.SAFE_DELAY_MS if unbound else self.FAST_DELAY_MS

    async def type(self, text: str) -> None:
        """One xdotool call per phrase (after `--` xdotool reads every argument as text)."""
        delay = await self.delay_for(text)
        await run_tool(["xdotool", "type", "--clearmodifiers", "--delay", str(delay), "--", text], timeout=self._timeout(text, delay))

    async def focused_window(self) -> str | None:
        """The X input focus, asked in-process (no window manager needed)."""
        from .x11 import KeymapError, focused_window

        try:
            # A thread: a wedged X server must not block the loop.
            window = await asyncio.to_thread(focused_window, os.environ.get("DISPLAY", ""))
        except KeymapError:
            return None
        return None if window is None else str(window)


class WtypeInjector(Injector):
    """Wayland (wlroots compositors): `wtype`."""

    name = "wtype"
    tools = ("wtype",)

    async def type(self, text: str) -> None:
        """Type with wtype."""
        argv = ["wtype"]
        if self.delay_ms:
            argv += ["-d", str(self.delay_ms)]
        await run_tool(argv + ["--", text], timeout=self._timeout(text, self.delay_ms or 1))


class DotoolInjector(Injector):
    """uinput through `dotool`, which honours the XKB layout."""

    name = "dotool"
    tools = ("dotool",)

    async def type(self, text: str) -> None:
        """Feed dotool its command language on stdin."""
        script = ""
        if self.delay_ms is not None:
            script += f"typedelay {self.delay_ms}\n"
        script += f"type {text}\n"
        await run_tool(["dotool"], stdin=script.encode(), timeout=self._timeout(text, self.delay_ms or 2))


class YdotoolInjector(Injector):
    """uinput through `ydotool` (needs ydotoold)."""

    name = "ydotool"
    tools = ("ydotool",)

    async def type(self, text: str) -> None:
        """Type with ydotool."""
        argv = ["ydotool", "type", "--escape=0"]  # else 1.x turns a typed "\n" into Enter
        if self.delay_ms is not None:
            argv += ["--key-delay", str(self.delay_ms)]
        await run_tool(argv + ["--", text], timeout=self._timeout(text, self.delay_ms or 12))


class ClipboardInjector(Injector):
    """Copy with xclip or wl-copy, then paste with the paste key."""

    name = "clipboard"

    def _wayland(self) -> bool:
        return bool(os.environ.get("WAYLAND_DISPLAY"))

    def problem(self) -> str | None:
        """The copy tool and the key tool for this session type."""
        need = ("wl-copy", "wtype") if self._wayland() else ("xclip", "xdotool")
        missing = [t for t in need if shutil.which(t) is None]
        return f"{', '.join(missing)} not found on PATH" if missing else None

    async def type(self, text: str) -> None:
        """Set the clipboard and press the paste key."""
        if self._wayland():
            await run_tool(["wl-copy", "--", text], timeout=5.0, forks=True)
            await run_tool(["wtype", "-M", "ctrl", "-M", "shift", "v", "-m", "shift", "-m", "ctrl"], timeout=5.0)
        else:
            await run_tool(["xclip", "-selection", "clipboard", "-in"], stdin=text.encode(), timeout=5.0, forks=True)
            await run_tool(["xdotool", "key", "--clearmodifiers", "ctrl+shift+v"], timeout=5.0)


class StdoutInjector(Injector):
    """Print each phrase on sttd's standard output, one line each (pipelines, tests)."""

    name = "stdout"

    def problem(self) -> str | None:
        """Never a problem."""
        return None

    async def type(self, text: str) -> None:
        """Write a line and flush, in a thread: a reader that stalls must not stall the loop."""
        try:
            await asyncio.to_thread(_write_line, text.strip())
        except (OSError, ValueError) as exc:
            raise InjectError(f"cannot write to standard output: {exc}") from exc


def _write_line(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


class NullInjector(Injector):
    """Type nothing; transcripts only go to the history and `stt tail`."""

    name = "none"

    def problem(self) -> str | None:
        """Never a problem."""
        return None

    async def type(self, text: str) -> None:
        """Do nothing."""


BACKENDS: dict[str, type[Injector]] = {
    cls.name: cls
    for cls in (XdotoolInjector, WtypeInjector, DotoolInjector, YdotoolInjector, ClipboardInjector, StdoutInjector, NullInjector)
}
"""Injectors by their `--injector` name."""


def choose(name: str, delay_ms: int | None = None, environ: dict[str, str] | None = None) -> Injector:
    """The injector asked for, or for `auto` the first that fits the session and is installed."""
    if name != "auto":
        return BACKENDS[name](delay_ms)
    env = os.environ if environ is None else environ
    order: list[str] = []
    if env.get("WAYLAND_DISPLAY"):
        order += ["wtype", "dotool", "ydotool"]
    if env.get("DISPLAY"):
        order += ["xdotool"]
    for candidate in order:
        inj = BACKENDS[candidate](delay_ms)
        if shutil.which(inj.tools[0]) is not None:
            return inj
    if order:
        # A desktop session without its tool: pick the natural backend anyway so
        # status and every typing attempt say what to install, rather than go quiet.
        return BACKENDS[order[0]](delay_ms)
    return NullInjector(delay_ms)
