"""window_class: the paste chord per focused window (terminals Ctrl+Shift+V), and asking sway for the class."""

from __future__ import annotations

import asyncio
import stat
import sys

from stt_dictation.server.desktop import Desktop
from stt_dictation.server.window_class import TERMINALS, UNKNOWN_CHORDS, chords_for, focused_class


def test_a_terminal_gets_ctrl_shift_v_whatever_the_case():
    assert chords_for("Alacritty", "auto", TERMINALS) == ["ctrl+shift+v"]
    assert chords_for("foot", "auto", ["FOOT"]) == ["ctrl+shift+v"]


def test_other_windows_get_ctrl_v():
    assert chords_for("firefox", "auto", TERMINALS) == ["ctrl+v"]
    assert chords_for("kitty", "auto", ["foot"]) == ["ctrl+v"]  # the setting replaces the list


def test_an_unknown_window_tries_both_terminal_first():
    assert chords_for(None, "auto", TERMINALS) == list(UNKNOWN_CHORDS) == ["ctrl+shift+v", "ctrl+v"]


def test_a_configured_chord_wins():
    assert chords_for("foot", "shift+insert", TERMINALS) == ["shift+insert"]
    assert chords_for(None, "ctrl+v", TERMINALS) == ["ctrl+v"]


def test_terminal_classes_are_lower_case():
    assert all(t == t.lower() for t in TERMINALS)


_SWAYMSG = """#!{python}
import json
print(json.dumps({{"nodes": [{{"nodes": [{{"focused": False, "app_id": "firefox"}}],
    "floating_nodes": [{{"focused": True, "app_id": None, "window_properties": {{"class": "XTerm"}}}}]}}]}}))
"""


def test_sway_is_asked_for_the_focused_node(tmp_path, monkeypatch):
    tool = tmp_path / "swaymsg"
    tool.write_text(_SWAYMSG.format(python=sys.executable))
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("SWAYSOCK", str(tmp_path / "sock"))
    sway = Desktop("wayland", "sway", "wlroots", "test")
    assert asyncio.run(focused_class(sway)) == "XTerm"


def test_desktops_that_cannot_say_give_none(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no tools at all
    for desk in (Desktop("wayland", "mutter", "gnome", "t"), Desktop("x11", "", "x11", "t"), Desktop("wayland", "sway", "wlroots", "t")):
        assert asyncio.run(focused_class(desk)) is None
