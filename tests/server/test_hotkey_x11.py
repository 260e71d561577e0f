"""hotkey_x11: a passive grab on a real Xvfb posts commands from its own thread; a grab already taken or no display is a HotkeyError.

The end-to-end tests drive a whole sttd through this; here only the listener, with a list as its `post`.
"""

from __future__ import annotations

import threading

import pytest

from stt_dictation.server.hotkey import parse_chord
from stt_dictation.server.hotkey_x11 import HotkeyError, X11Hotkey
from tests.support.wait import wait_until


KEPT: list[X11Hotkey] = []
"""Every listener made here stays referenced: Xlib keeps its (process-wide) error handler callback."""


def _hotkey(display: str, chord: str, post) -> X11Hotkey:
    hotkey = X11Hotkey(display, parse_chord(chord), "toggle", post)
    KEPT.append(hotkey)
    return hotkey


class Posts:
    def __init__(self) -> None:
        self.commands: list[str] = []
        self.threads: set[str] = set()

    def __call__(self, command: str, pressed: float) -> None:
        self.commands.append(command)
        self.threads.add(threading.current_thread().name)


def test_no_display_is_a_hotkey_error():
    with pytest.raises(HotkeyError, match="cannot open X display"):
        _hotkey(":987654", "ctrl+alt+d", Posts()).start()


def test_a_press_posts_from_the_listener_thread_and_a_second_grab_is_refused(display):
    dpy = display.env["DISPLAY"]
    posts = Posts()
    hotkey = _hotkey(dpy, "ctrl+alt+d", posts)
    hotkey.start()
    try:
        display.xdotool("key", "ctrl+alt+d")
        wait_until(lambda: posts.commands == ["toggle"], 5.0, what="the toggle posted")
        assert posts.threads == {"hotkey-x11"}
        display.xdotool("key", "ctrl+alt+x")  # another chord is not ours
        with pytest.raises(HotkeyError, match="another program has grabbed it"):
            _hotkey(dpy, "ctrl+alt+d", Posts()).start()
    finally:
        hotkey.close()
    assert posts.commands == ["toggle"]
    again = _hotkey(dpy, "ctrl+alt+d", Posts())
    again.start()  # closing dropped the grab
    again.close()


def test_a_listener_that_fails_to_start_gives_xlib_back_its_error_handler(display):
    """After a refused grab sttd drops the listener: Xlib must not be left calling its freed callback."""
    import ctypes

    dpy = display.env["DISPLAY"]
    holder = _hotkey(dpy, "ctrl+alt+k", Posts())
    holder.start()
    try:
        refused = _hotkey(dpy, "ctrl+alt+k", Posts())
        with pytest.raises(HotkeyError, match="grabbed"):
            refused.start()
        x = refused.x
        current = x.XSetErrorHandler(None)  # Xlib tells the handler only by swapping it
        x.XSetErrorHandler(ctypes.c_void_p(current))
        assert current != ctypes.cast(refused._on_error, ctypes.c_void_p).value
    finally:
        holder.close()
