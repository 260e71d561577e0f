"""xtest: typing in-process through XTEST, against a real Xvfb and an xterm that records what arrives."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time

import pytest

from stt_dictation.server.inject_keys import XdotoolInjector
from stt_dictation.server.x11 import KeymapError, bind_characters, keysym
from stt_dictation.server.xtest import NotTyped, _Connection, reachable, type_text
from tests.support.display import VirtualDisplay
from tests.support.env import REPO


def test_a_keysym_is_reached_on_its_keys_plain_level_before_a_shifted_one():
    rows = [[0x31, 0x21], [0x61, 0x41], [0x21, 0]]  # "1 !", "a A", a second key with "!" plain
    keys = reachable(rows, 8)
    assert keys[0x61] == (9, False) and keys[0x41] == (9, True)
    assert keys[0x21] == (10, False)  # plain on keycode 10 beats shifted on keycode 8
    assert 0x20AC not in keys


def test_shifted_symbols_and_characters_the_keymap_lacks_arrive_exactly(display):
    win = display.open_capture_window(title="xtest-text")
    text = 'Hello, World! "Quotes" (1+2=3) ~ <a|b> Café — déjà vu’s 100% {ok}? Łódź ✓'
    type_text(display.env["DISPLAY"], text)
    assert win.wait_for(text, timeout=10) == text
    win.close()


def test_a_held_modifier_is_released_for_the_text_and_held_again_after(display):
    dpy = display.env["DISPLAY"]
    win = display.open_capture_window(title="xtest-ctrl")
    display.xdotool("keydown", "ctrl")  # as if the hotkey's Ctrl were still held
    try:
        conn = _Connection(dpy)
        try:
            held = conn.held_modifiers()
            assert held, "xdotool keydown ctrl holds a modifier"
            type_text(dpy, "abc def")  # with Ctrl down these would be ^A ^B ^C ...
            assert win.wait_for("abc def", timeout=10) == "abc def"
            assert conn.held_modifiers() == held
        finally:
            conn.close()
    finally:
        display.xdotool("keyup", "ctrl")
    win.close()


def test_caps_lock_is_switched_off_for_the_text_and_back_on_after(display):
    dpy = display.env["DISPLAY"]
    win = display.open_capture_window(title="xtest-caps")
    display.xdotool("key", "Caps_Lock")
    conn = _Connection(dpy)
    try:
        assert conn.caps_locked()
        type_text(dpy, "Mixed Case words")
        assert win.wait_for("Mixed Case words", timeout=10) == "Mixed Case words"
        assert conn.caps_locked()
    finally:
        if conn.caps_locked():
            display.xdotool("key", "Caps_Lock")
        conn.close()
    win.close()


def test_stop_ends_the_typing_between_two_characters(display):
    win = display.open_capture_window(title="xtest-stop")
    text = "abcdefghij" * 20
    stop = threading.Event()
    threading.Timer(0.2, stop.set).start()
    with pytest.raises(KeymapError, match="stopped part-way") as err:
        type_text(display.env["DISPLAY"], text, delay_s=0.005, stop=stop)
    assert not isinstance(err.value, NotTyped)  # some characters went out
    typed = win.settle(quiet=0.3, timeout=5)
    assert typed and len(typed) < len(text) and text.startswith(typed)
    win.close()


def test_an_unreachable_display_types_nothing_and_says_so():
    with pytest.raises(NotTyped, match="cannot open X display"):
        type_text(":987654", "hello")


def test_a_display_that_dies_while_typing_fails_the_text_not_the_process():
    """Xlib exit()s on a lost connection unless told otherwise: a child types into a private Xvfb that is killed."""
    x = VirtualDisplay()
    x.start()
    script = (
        "import sys\n"
        "from stt_dictation.server.xtest import type_text\n"
        "from stt_dictation.server.x11 import KeymapError\n"
        "print('typing', flush=True)\n"
        "try:\n"
        "    type_text(sys.argv[1], 'a' * 100000, delay_s=0.001)\n"
        "except KeymapError as exc:\n"
        "    print('failed:', exc, flush=True)\n"
        "print('alive', flush=True)\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script, x.env["DISPLAY"]], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout.readline().strip() == "typing"
        time.sleep(1.0)  # connected and part-way through 100 s of keys
    finally:
        x.stop()
    out, err = child.communicate(timeout=30)
    assert child.returncode == 0, err
    assert "failed: the X connection was lost while typing" in out and out.rstrip().endswith("alive"), (out, err)


def test_the_injector_types_through_xdotool_when_xtest_types_nothing(display, monkeypatch):
    import stt_dictation.server.inject_keys as inject_keys

    def refuse(*_a, **_k):
        raise NotTyped("no XTEST here")

    monkeypatch.setattr(inject_keys, "type_text", refuse)
    win = display.open_capture_window(title="xtest-fallback")
    monkeypatch.setitem(os.environ, "DISPLAY", display.env["DISPLAY"])
    asyncio.run(asyncio.wait_for(XdotoolInjector().type("by the program"), 20))
    assert win.wait_for("by the program", timeout=10) == "by the program"
    win.close()


def test_characters_bound_earlier_stay_reachable_on_the_plain_level(display):
    dpy = display.env["DISPLAY"]
    assert bind_characters(dpy, "☃") == ""
    conn = _Connection(dpy)
    try:
        code, shifted = conn.keymap()[keysym("☃")]
    finally:
        conn.close()
    assert code and not shifted
