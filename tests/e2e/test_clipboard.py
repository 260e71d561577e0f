"""The clipboard backend on a real X server: xclip's serving child no longer stalls typing."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time

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


def test_clipboard_backend_on_x11_returns_at_once_and_holds_the_text(display):
    win = display.open_capture_window()
    t0 = time.monotonic()
    _in_session(display.env, lambda: BACKENDS["clipboard"]().type(TEXT))
    took = time.monotonic() - t0
    assert took < 2.0, f"clipboard typing took {took:.1f} s (xclip's child held the pipe)"
    held = subprocess.run(
        ["xclip", "-selection", "clipboard", "-out"], env={**os.environ, **display.env}, capture_output=True, timeout=5
    )
    assert held.stdout.decode() == TEXT
    win.close()


def test_backslash_sequences_are_typed_as_written_by_xdotool(display):
    win = display.open_capture_window()
    _in_session(display.env, lambda: BACKENDS["xdotool"]().type(TEXT))
    assert win.wait_for(TEXT, timeout=10) == TEXT
    win.close()
