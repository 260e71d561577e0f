"""x11: which window has focus, and binding characters the keymap lacks, against a real Xvfb (cheap: one server)."""

from __future__ import annotations

import pytest

from stt_dictation.server.x11 import KeymapError, bind_characters, bind_keysyms, focused_window, keysym

NO_FREE = 10**6
"""A `keep_free` that leaves no keycode to bind: bind_keysyms then reports only what the keymap already has."""


def test_keysyms_latin1_is_the_code_point_others_are_offset():
    assert keysym("a") == 0x61 and keysym("é") == 0xE9
    assert keysym("✓") == 0x1000000 + 0x2713
    assert keysym("\x85") == 0x1000085  # C1 controls are not Latin-1 keysyms


def test_an_unreachable_display_is_a_keymap_error():
    with pytest.raises(KeymapError, match="cannot open X display"):
        focused_window(":987654")
    with pytest.raises(KeymapError, match="cannot open X display"):
        bind_characters(":987654", "é")


def test_focus_is_none_on_pointer_root_then_the_focused_window(display):
    assert focused_window(display.env["DISPLAY"]) is None  # no window manager, nothing focused
    window = display.open_capture_window(title="x11-focus")
    assert focused_window(display.env["DISPLAY"]) == window.window_id


def test_missing_characters_are_bound_and_stay_bound(display):
    dpy = display.env["DISPLAY"]
    check, other = keysym("✓"), keysym("☃")
    assert bind_keysyms(dpy, [check, other], keep_free=NO_FREE) == []  # neither is in the keymap yet
    assert bind_characters(dpy, "ok ✓ done") == ""
    assert bind_keysyms(dpy, [check, other, keysym("o")], keep_free=NO_FREE) == [check, keysym("o")]


def test_once_no_keycode_is_free_earlier_bindings_are_reused_for_new_characters(display):
    """Xvfb has 19 unused keycodes: a session typing more distinct characters than that must not run out."""
    dpy = display.env["DISPLAY"]
    alphabet = [chr(c) for c in range(0x0400, 0x0440)]  # 64 Cyrillic letters, none in the keymap
    for i in range(0, len(alphabet), 8):
        text = "".join(alphabet[i : i + 8])
        assert bind_characters(dpy, text) == "", f"could not bind {text!r} after {i} others"
    last = alphabet[-8:]
    assert bind_keysyms(dpy, [keysym(c) for c in last], keep_free=NO_FREE) == [keysym(c) for c in last]  # still bound
