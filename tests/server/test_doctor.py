"""doctor: a one-line fix for each kind of problem, and the report of a session with no display (no tools, no microphone)."""

from __future__ import annotations

import os

import pytest

from stt_dictation.server import doctor
from stt_dictation.server.desktop import UINPUT_FIX


@pytest.mark.parametrize(
    "problem, fix",
    [
        ("/dev/uinput does not exist (load the module: sudo modprobe uinput)", "sudo modprobe uinput"),
        ("/dev/uinput is not writable by this user: ...", UINPUT_FIX),
        ("the dbus-fast Python package is not installed", "pip install dbus-fast (in sttd's environment)"),
        ("wtype not found on PATH", "sudo apt install wtype"),
        ("wl-copy, wl-paste not found on PATH", "sudo apt install wl-clipboard"),
        ("kwin does not offer the virtual-keyboard protocol wtype needs", "nothing to fix: auto uses dotool/ydotool or the clipboard"),
        ("DISPLAY is not set", "run sttd inside the desktop session, where the display variables are set"),
        ("something new", "see the thing section of the README"),
    ],
)
def test_fix_for(problem, fix):
    assert doctor.fix_for("thing", problem) == fix


def test_no_display_is_reported_with_its_fix(tmp_path, monkeypatch):
    for name in [n for n in os.environ if n.startswith("STT_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))  # no typing tool installed
    rep = doctor.report(mic_seconds=0, environ={})
    typing = rep["typing"]
    assert typing["display"]["server"] == "none"
    assert typing["auto"]["chooses"] == "none" and typing["auto"]["why"].startswith("no display")
    by_name = {b["name"]: b for b in typing["backends"]}
    assert not by_name["xdotool"]["installed"] and by_name["xdotool"]["fix"] == "sudo apt install xdotool"
    assert rep["microphone"] is None
    assert rep["problems"][0]["what"].startswith("no display")
    text = doctor.render(rep)
    assert text.splitlines()[0] == "display     none"
    assert "  xdotool   not installed: xdotool not found on PATH" in text
    assert "problems\n  - no display" in text
