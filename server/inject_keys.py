"""The key-typing backends: xdotool (X11), wtype (wlroots), dotool and ydotool (uinput), and stdout/none.

Each can also press a chord (`ctrl+shift+v`), which is all the clipboard path needs
from it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import sys
import threading

from .desktop import uinput_problem
from .inject_base import InjectError, Injector, run_tool
from .x11 import KeymapError
from .xtest import NotTyped, type_text

log = logging.getLogger(__name__)

EVDEV_KEYS = {"ctrl": 29, "shift": 42, "alt": 56, "super": 125, "v": 47, "insert": 110, "backspace": 14}
"""Linux input keycodes of the keys a paste chord uses (ydotool 1.x takes codes, not names)."""


def chord_keys(chord: str) -> tuple[list[str], str]:
    """`ctrl+shift+v` -> (["ctrl", "shift"], "v")."""
    parts = [p.strip().lower() for p in chord.split("+") if p.strip()]
    if not parts:
        raise InjectError(f"empty key chord {chord!r}")
    return parts[:-1], parts[-1]


def _wtype_refused(err: bytes) -> bool:
    text = err.decode(errors="replace").lower()
    return any(s in text for s in ("virtual keyboard", "wayland", "compositor"))


class XdotoolInjector(Injector):
    """X11: the key events of `xdotool type --clearmodifiers`, sent in-process through XTEST (xtest.py), with
    characters the keymap lacks bound to spare keys first; the xdotool program presses chords and types what
    XTEST cannot reach (no libXtst, no spare keycode)."""

    name = "xdotool"
    tools = ("xdotool",)
    FAST_DELAY_MS = 1
    """The xdotool program's key delay once every character is in the keymap: under Xvfb+xterm 0 and 1 ms dropped
    nothing over 20 runs of 500 characters; 1 ms leaves real applications a breath."""
    SAFE_DELAY_MS = 12
    """xdotool's default, for characters that could not be bound to a spare key (the program's path)."""

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
        from .x11 import bind_characters

        try:
            unbound = await asyncio.to_thread(bind_characters, os.environ.get("DISPLAY", ""), text)
        except KeymapError as exc:
            log.info("cannot extend the keymap (%s); typing non-ASCII slowly", exc)
            return self.SAFE_DELAY_MS
        return self.SAFE_DELAY_MS if unbound else self.FAST_DELAY_MS

    async def type(self, text: str) -> None:
        """Through XTEST in a thread; else one xdotool call per phrase (after `--` xdotool reads every argument as text)."""
        if shutil.which("xdotool") is None:  # all or nothing: chords (an amend's BackSpace) and the fallback need it
            raise InjectError("xdotool is not installed or not on PATH")
        display, stop = os.environ.get("DISPLAY", ""), threading.Event()
        delay_s, timeout = (self.delay_ms or 0) / 1000.0, self._timeout(text, self.delay_ms or 0)
        try:
            await asyncio.wait_for(asyncio.to_thread(type_text, display, text, delay_s, stop), timeout)
            return
        except NotTyped as exc:
            log.info("XTEST typed nothing (%s); typing through the xdotool program", exc)
        except TimeoutError:
            stop.set()  # the thread stops before its next character
            raise InjectError(f"typing through XTEST did not finish within {timeout:.1f} s") from None
        except KeymapError as exc:
            raise InjectError(f"typing through XTEST failed part-way: {exc}") from exc
        delay = await self.delay_for(text)
        await run_tool(["xdotool", "type", "--clearmodifiers", "--delay", str(delay), "--", text], timeout=self._timeout(text, delay))

    async def press(self, chord: str) -> None:
        """`xdotool key` (X keysym names: Insert, v)."""
        mods, key = chord_keys(chord)
        name = "BackSpace" if key == "backspace" else key.capitalize() if len(key) > 1 else key  # X keysyms are case-sensitive
        await run_tool(["xdotool", "key", "--clearmodifiers", "+".join([*mods, name])], timeout=5.0)

    async def focused_window(self) -> str | None:
        """The X input focus, asked in-process (no window manager needed)."""
        from .x11 import focused_window

        try:
            # A thread: a wedged X server must not block the loop.
            window = await asyncio.to_thread(focused_window, os.environ.get("DISPLAY", ""))
        except KeymapError:
            return None
        return None if window is None else str(window)


class WtypeInjector(Injector):
    """Wayland (wlroots compositors): `wtype`; a compositor without the virtual-keyboard protocol refuses it."""

    name = "wtype"
    tools = ("wtype",)
    SETTLE_MS = 20
    """Pause between wtype's new virtual keyboard and its first key: under headless sway with foot,
    0 ms lost the first character of 20 out of 40 phrases, 5 and 10 ms none of 60; 20 leaves a margin."""

    def problem(self) -> str | None:
        """Missing wtype or no WAYLAND_DISPLAY."""
        return super().problem() or (None if os.environ.get("WAYLAND_DISPLAY") else "WAYLAND_DISPLAY is not set")

    async def type(self, text: str) -> None:
        """Type with wtype, after letting the compositor take in its new keyboard."""
        argv = ["wtype", "-s", str(self.SETTLE_MS)] if self.SETTLE_MS else ["wtype"]  # wtype refuses "-s 0"
        if self.delay_ms:
            argv += ["-d", str(self.delay_ms)]
        await run_tool(argv + ["--", text], timeout=self._timeout(text, self.delay_ms or 1), refusal=_wtype_refused)

    async def press(self, chord: str) -> None:
        """Hold the modifiers, tap the key, release them."""
        mods, key = chord_keys(chord)
        name = "BackSpace" if key == "backspace" else key.capitalize() if len(key) > 1 else key
        argv = ["wtype", "-s", str(self.SETTLE_MS)] if self.SETTLE_MS else ["wtype"]
        for m in mods:
            argv += ["-M", m]
        argv += ["-k", name]
        for m in reversed(mods):
            argv += ["-m", m]
        await run_tool(argv, timeout=5.0, refusal=_wtype_refused)


class DotoolInjector(Injector):
    """uinput through `dotool`, which honours the XKB layout."""

    name = "dotool"
    tools = ("dotool",)

    def problem(self) -> str | None:
        """Missing dotool, or a /dev/uinput it cannot write (checked before any typing)."""
        return super().problem() or uinput_problem()

    async def type(self, text: str) -> None:
        """Feed dotool its command language on stdin."""
        script = ""
        if self.delay_ms is not None:
            script += f"typedelay {self.delay_ms}\n"
        script += f"type {text}\n"
        await self._run(script, self._timeout(text, self.delay_ms or 2))

    async def press(self, chord: str) -> None:
        """dotool's `key` command takes the chord as written."""
        mods, key = chord_keys(chord)
        await self._run(f"key {'+'.join([*mods, key])}\n", 5.0)

    async def _run(self, script: str, timeout: float) -> None:
        problem = uinput_problem()
        if problem:
            raise InjectError(f"dotool: {problem}")
        await run_tool(["dotool"], stdin=script.encode(), timeout=timeout, extra_env=uinput_layout())


class YdotoolInjector(Injector):
    """uinput through `ydotool` (needs ydotoold)."""

    name = "ydotool"
    tools = ("ydotool",)

    def problem(self) -> str | None:
        """Missing ydotool, or no /dev/uinput for ydotoold (0.1.8 exits 0 without one and types nothing useful)."""
        return super().problem() or uinput_problem()

    async def type(self, text: str) -> None:
        """Type with ydotool."""
        problem = uinput_problem()
        if problem:
            raise InjectError(f"ydotool: {problem}")
        argv = ["ydotool", "type", "--escape=0"]  # else 1.x turns a typed "\n" into Enter
        if self.delay_ms is not None:
            argv += ["--key-delay", str(self.delay_ms)]
        await run_tool(argv + ["--", text], timeout=self._timeout(text, self.delay_ms or 12))

    async def press(self, chord: str) -> None:
        """ydotool 1.x `key` takes evdev codes: every key down in order, then up in reverse."""
        mods, key = chord_keys(chord)
        try:
            codes = [EVDEV_KEYS[k] for k in (*mods, key)]
        except KeyError as exc:
            raise InjectError(f"ydotool: no keycode for {exc.args[0]!r}") from None
        steps = [f"{c}:1" for c in codes] + [f"{c}:0" for c in reversed(codes)]
        await run_tool(["ydotool", "key", *steps], timeout=5.0)


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


def uinput_layout() -> dict[str, str]:
    """The XKB layout for dotool, which otherwise assumes US keys on any layout."""
    out = {}
    for ours, theirs in (("XKB_DEFAULT_LAYOUT", "DOTOOL_XKB_LAYOUT"), ("XKB_DEFAULT_VARIANT", "DOTOOL_XKB_VARIANT")):
        if os.environ.get(ours) and not os.environ.get(theirs):
            out[theirs] = os.environ[ours]
    return out


class NullInjector(Injector):
    """Type nothing; transcripts only go to the history and `stt tail`."""

    name = "none"

    def problem(self) -> str | None:
        """Never a problem."""
        return None

    async def type(self, text: str) -> None:
        """Do nothing."""
