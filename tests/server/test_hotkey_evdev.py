"""The evdev hotkey (server/hotkey_evdev.py) fed recorded input events from a file, and its permission fix."""

from __future__ import annotations

import os
import time

import pytest

from stt_dictation.server.hotkey import parse_chord
from stt_dictation.server.hotkey_evdev import KEY_CODES, PERMISSION_FIX, EvdevHotkey
from stt_dictation.server.hotkey_x11 import HotkeyError
from tests.support.evdev_events import ALT, CTRL, D, X, recording, taps

def replay(tmp_path, hotkey: str, mode: str, data: bytes) -> list[str]:
    path = tmp_path / "events"
    path.write_bytes(data)
    got: list[str] = []
    hk = EvdevHotkey(parse_chord(hotkey, mode), mode, lambda c, _t: got.append(c), devices=[str(path)])
    hk.start()
    deadline = time.monotonic() + 5
    while hk._fds and time.monotonic() < deadline:  # a file ends: its descriptor is dropped
        time.sleep(0.01)
    hk.close()
    return got


def test_double_tap_from_a_recording_keeps_its_rhythm(tmp_path):
    t0 = 1_700_000_000.0
    assert replay(tmp_path, "alt_l", "double-tap", recording(*taps(ALT, t0, t0 + 0.2))) == ["toggle"]
    assert replay(tmp_path, "alt_l", "double-tap", recording(*taps(ALT, t0, t0 + 0.2, t0 + 0.4))) == ["toggle"]  # no flap
    assert replay(tmp_path, "alt_l", "double-tap", recording(*taps(ALT, t0, t0 + 1.0))) == []  # a second apart
    # Alt+x between two taps: a chord, not a double tap.
    alt_x = [(t0 + 0.1, ALT, 1), (t0 + 0.12, X, 1), (t0 + 0.14, X, 0), (t0 + 0.16, ALT, 0)]
    assert replay(tmp_path, "alt_l", "double-tap", recording(*taps(ALT, t0), *alt_x, *taps(ALT, t0 + 0.3))) == []


def test_chord_needs_its_modifiers_and_no_others_and_ignores_auto_repeat(tmp_path):
    t = 1_700_000_000.0
    chord = [(t, CTRL, 1), (t + 0.01, ALT, 1), (t + 0.02, D, 1), (t + 0.05, D, 2), (t + 0.08, D, 2), (t + 0.1, D, 0), (t + 0.11, ALT, 0), (t + 0.12, CTRL, 0)]
    assert replay(tmp_path, "ctrl+alt+d", "toggle", recording(*chord)) == ["toggle"]
    assert replay(tmp_path, "ctrl+alt+d", "toggle", recording((t, D, 1), (t + 0.1, D, 0))) == []  # d alone types d
    shifted = [(t - 0.01, KEY_CODES["Shift_L"], 1), *chord]
    assert replay(tmp_path, "ctrl+alt+d", "toggle", recording(*shifted)) == []  # ctrl+alt+shift+d is another chord
    assert replay(tmp_path, "ctrl+alt+d", "push-to-talk", recording(*chord)) == ["start", "stop"]


def test_an_unreadable_keyboard_names_the_fix(tmp_path, monkeypatch):
    dev = tmp_path / "event3"
    dev.write_bytes(b"")

    def denied(*_a, **_k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "open", denied)
    with pytest.raises(HotkeyError) as err:
        EvdevHotkey(parse_chord("F9"), "toggle", lambda *_: None, devices=[str(dev)]).start()
    assert str(err.value).count("\n") == 0 and PERMISSION_FIX in str(err.value) and "event3" in str(err.value)
