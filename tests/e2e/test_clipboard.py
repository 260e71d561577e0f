"""The clipboard backend on a real X server: xclip's serving child no longer stalls typing."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time

import pytest

from stt_dictation.server.injector import BACKENDS

TEXT = r"dictated C:\Users\new \x41 text, café"


def _in_session(env: dict[str, str], coro_fn):
    """Run a coroutine with the display's variables in os.environ (the injectors read them there)."""

    async def go():
        old = dict(os.environ)
        os.environ.update(env)
        os.environ.pop("WAYLAND_DISPLAY", None)
        try:
            return await coro_fn()
        finally:
            os.environ.clear()
            os.environ.update(old)

    return asyncio.run(asyncio.wait_for(go(), 30))


XTERM_PASTE = "XTerm*VT100.translations: #override Ctrl Shift <Key>V: insert-selection(CLIPBOARD)\n"
"""xterm binds no paste to Ctrl+Shift+V by default; terminals that do (foot, kitty, GNOME's) need no such line."""


def _xclip(display, *args: str, stdin: bytes | None = None) -> bytes:
    env = {**os.environ, **display.env}
    if stdin is not None:
        subprocess.run(["xclip", "-selection", "clipboard", *args], input=stdin, env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=5, check=True)
        return b""
    return subprocess.run(["xclip", "-selection", "clipboard", "-o", *args], env=env, capture_output=True, timeout=5).stdout


def test_clipboard_backend_on_x11_pastes_into_a_terminal_and_restores_the_clipboard(display):
    if shutil.which("xrdb") is None or shutil.which("xprop") is None:
        pytest.skip("missing xrdb/xprop (x11-xserver-utils, x11-utils)")
    subprocess.run(["xrdb", "-merge"], input=XTERM_PASTE.encode(), env={**os.environ, **display.env}, timeout=5, check=True)
    win = display.open_capture_window()
    _xclip(display, "-in", stdin="copied before ✂".encode())
    t0 = time.monotonic()
    _in_session(display.env, lambda: BACKENDS["clipboard"]().type(TEXT))
    took = time.monotonic() - t0
    assert win.wait_for(TEXT, timeout=10) == TEXT  # xterm's class is a terminal's: Ctrl+Shift+V
    assert took < 3.0, f"clipboard typing took {took:.1f} s (xclip's child held a pipe?)"
    assert _xclip(display).decode() == "copied before ✂"
    win.close()


def test_backslash_sequences_are_typed_as_written_by_xdotool(display):
    win = display.open_capture_window()
    _in_session(display.env, lambda: BACKENDS["xdotool"]().type(TEXT))
    assert win.wait_for(TEXT, timeout=10) == TEXT
    win.close()
