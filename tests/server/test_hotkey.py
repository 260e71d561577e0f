"""The built-in hotkey's parser and state machine (server/hotkey.py), fed presses and releases."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from stt_dictation.server.hotkey import Chord, Trigger, parse_chord
from stt_dictation.server.settings import Settings


@pytest.mark.parametrize(
    ("text", "mods", "key"),
    [("ctrl+alt+d", {"ctrl", "alt"}, "d"), ("Super+grave", {"super"}, "grave"), ("F9", set(), "F9"), ("mod4+shift+D", {"super", "shift"}, "d"), ("control+space", {"ctrl"}, "space")],
)
def test_chords_as_xdotool_and_i3_write_them(text, mods, key):
    assert parse_chord(text) == Chord(frozenset(mods), key)


def test_double_tap_takes_one_modifier_key():
    assert parse_chord("alt_l", "double-tap") == Chord(frozenset(), "Alt_L")
    assert parse_chord("ctrl_r", "double-tap").key == "Control_R"
    with pytest.raises(ValueError, match="double-tap takes one modifier"):
        parse_chord("ctrl+alt+d", "double-tap")


@pytest.mark.parametrize(("text", "why"), [("ctrl+", "joined by"), ("hyper+d", "not a modifier"), ("ctrl+alt", "ends in a modifier")])
def test_bad_chords_say_why(text, why):
    with pytest.raises(ValueError, match=why):
        parse_chord(text)


def test_settings_refuse_a_bad_hotkey_and_default_to_off():
    assert Settings().hotkey is None and Settings().hotkey_mode == "toggle"
    assert Settings(hotkey="alt_l", hotkey_mode="double-tap").hotkey == "alt_l"
    with pytest.raises(ValidationError, match="double-tap takes one modifier"):
        Settings(hotkey="ctrl+d", hotkey_mode="double-tap")


def test_toggle_fires_on_press_and_ignores_auto_repeat():
    t = Trigger("toggle")
    assert [t.press(0.0), t.press(0.03), t.press(0.06), t.release(0.1)] == ["toggle", None, None, None]
    assert t.press(0.2) == "toggle"


def test_push_to_talk_starts_on_press_stops_on_release():
    t = Trigger("push-to-talk")
    assert [t.press(0.0), t.press(0.5), t.release(2.0), t.release(2.1)] == ["start", None, "stop", None]


def taps(t: Trigger, *times: float) -> list[str | None]:
    out = []
    for at in times:
        out += [t.press(at), t.release(at + 0.05)]
    return [c for c in out if c]


def test_double_tap_toggles_and_a_triple_tap_does_not_flap():
    assert taps(Trigger("double-tap"), 0.0, 0.2) == ["toggle"]
    assert taps(Trigger("double-tap"), 0.0, 0.2, 0.4) == ["toggle"]
    assert taps(Trigger("double-tap"), 0.0, 0.2, 0.4, 0.6) == ["toggle", "toggle"]
    assert taps(Trigger("double-tap"), 0.0, 1.0) == []  # too slow


def test_a_held_modifier_or_a_chord_is_not_a_tap():
    t = Trigger("double-tap")
    assert [t.press(0.0), t.release(0.05)] == [None, None]
    t.press(0.2)
    t.other()  # alt+tab
    assert t.release(0.25) is None
    assert taps(t, 0.3) == []  # the chord broke the pair; this is a first tap again
    held = Trigger("double-tap")
    assert taps(held, 0.0) == [] and [held.press(0.2), held.release(1.0)] == [None, None]


def test_no_keyboard_or_no_x_server_is_logged_and_the_server_runs_on(monkeypatch, caplog, tmp_path):
    import asyncio

    from stt_dictation.server.hotkey_listen import start_hotkey

    async def handle(_cmd):
        raise AssertionError("no command without a key")

    monkeypatch.delenv("DISPLAY", raising=False)
    missing = Settings(hotkey="ctrl+alt+d", hotkey_device=str(tmp_path / "no-such-event*"))
    assert asyncio.run(start_hotkey(missing, handle)) is None
    assert "hotkey_device: no such device" in caplog.text
    monkeypatch.setenv("DISPLAY", ":987")  # no X server there
    assert asyncio.run(start_hotkey(Settings(hotkey="ctrl+alt+d"), handle)) is None
    assert "cannot open X display ':987'" in caplog.text
    assert asyncio.run(start_hotkey(Settings(), handle)) is None  # off by default


def test_backend_is_x11_only_in_an_x_session():
    from stt_dictation.server.hotkey_listen import backend

    assert backend({"DISPLAY": ":0"}) == "x11"
    assert backend({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"}) == "evdev"  # Xwayland: grabs see X windows only
    assert backend({}) == "evdev"


def test_a_bad_hotkey_in_the_configuration_is_one_line_and_exit_2(tmp_path):
    import subprocess

    from tests.support.env import PYTHON, REPO, base_env, unique_socket_name

    env = base_env(unique_socket_name(), extra={"STT_HOTKEY": "ctrl+alt", "XDG_CONFIG_HOME": str(tmp_path)})
    r = subprocess.run([PYTHON, "-m", "stt_dictation.server", "--print-config"], cwd=REPO, env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "ends in a modifier" in r.stderr and "from STT_HOTKEY" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r
