"""`stt doctor` (server/doctor.py) on a real X server, with no display at all, and against a virtual microphone.

The Wayland cases (sway, mutter) are in test_wayland.py, beside their rigs.
"""

from __future__ import annotations

import json
import math
import os
import struct
import subprocess
import wave

import pytest

from tests.support.dictation import audio_env
from tests.support.env import CLIENT_CMD

DOCTOR = [*CLIENT_CMD, "doctor", "--json"]
SESSION_VARS = ("DISPLAY", "WAYLAND_DISPLAY", "XDG_CURRENT_DESKTOP", "SWAYSOCK", "HYPRLAND_INSTANCE_SIGNATURE", "DBUS_SESSION_BUS_ADDRESS")


def doctor(env: dict[str, str], *args: str) -> tuple[int, dict]:
    base = {k: v for k, v in os.environ.items() if k not in SESSION_VARS}
    done = subprocess.run([*DOCTOR, *args], env={**base, **env}, capture_output=True, text=True, timeout=60)
    assert done.stdout, done.stderr
    return done.returncode, json.loads(done.stdout)


def problems(rep: dict) -> str:
    return "\n".join(f"{p['what']} -> {p['fix']}" for p in rep["problems"])


def test_no_display_is_one_problem_with_its_fix_and_uinput_is_reported(tmp_path):
    base = {k: v for k, v in os.environ.items() if k not in SESSION_VARS}
    done = subprocess.run([*CLIENT_CMD, "doctor", "--json", "--mic-seconds", "0"], env={**base, "XDG_CONFIG_HOME": str(tmp_path)},
                          capture_output=True, text=True, timeout=60)  # through the client: `stt doctor`
    code, rep = done.returncode, json.loads(done.stdout)
    assert code == 1
    assert rep["typing"]["display"]["server"] == "none"
    assert rep["typing"]["auto"]["chooses"] == "none"
    assert "no display" in problems(rep) and "desktop session" in problems(rep)
    uinput = rep["typing"]["uinput"]
    if not os.path.exists("/dev/uinput"):
        assert not uinput["usable"] and "does not exist" in uinput["problem"] and uinput["fix"] == "sudo modprobe uinput"


def test_kde_without_uinput_falls_to_the_clipboard_and_says_how_to_get_uinput(tmp_path):
    if os.path.exists("/dev/uinput") and os.access("/dev/uinput", os.W_OK):
        pytest.skip("this machine has a writable /dev/uinput")
    fake = tmp_path / "bin" / "dotool"  # installed, so only the device can stop it
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    env = {"XDG_CONFIG_HOME": str(tmp_path), "WAYLAND_DISPLAY": "wayland-none", "XDG_RUNTIME_DIR": str(tmp_path),
           "XDG_CURRENT_DESKTOP": "KDE", "PATH": f"{fake.parent}:{os.environ['PATH']}"}
    code, rep = doctor(env, "--mic-seconds", "0")
    assert code == 1
    assert rep["typing"]["display"]["family"] == "kde"
    assert rep["typing"]["auto"]["chooses"] == "clipboard"
    assert "passed over dotool: /dev/uinput" in rep["typing"]["auto"]["why"]
    assert "uinput" in problems(rep) and ("modprobe" in problems(rep) or "input group" in problems(rep))


def test_doctor_on_x11_picks_xdotool_and_sees_no_problem_there(display, tmp_path):
    code, rep = doctor({**display.env, "XDG_CONFIG_HOME": str(tmp_path)}, "--mic-seconds", "0")
    t = rep["typing"]
    assert (t["display"]["server"], t["display"]["problem"]) == ("x11", None)
    assert t["auto"]["chooses"] == "xdotool" and t["auto"]["problem"] is None
    assert {b["name"]: b["usable"] for b in t["backends"]}["xdotool"] is True
    assert code == 0, problems(rep)
    text = subprocess.run(DOCTOR[:-1] + ["--mic-seconds", "0"], env={**os.environ, **display.env, "XDG_CONFIG_HOME": str(tmp_path)},
                          capture_output=True, text=True, timeout=60).stdout
    assert "auto        xdotool" in text and "problems    none" in text


def test_doctor_on_a_display_that_is_gone_says_so(tmp_path):
    code, rep = doctor({"DISPLAY": ":987654", "XDG_CONFIG_HOME": str(tmp_path)}, "--mic-seconds", "0")
    assert code == 1 and "cannot open X display" in problems(rep)


def _tone(path, seconds: float = 4.0, rate: int = 16000) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"".join(struct.pack("<h", int(12000 * math.sin(2 * math.pi * 440 * i / rate))) for i in range(int(seconds * rate))))


def test_microphone_level_is_measured_and_silence_is_a_problem(mic, tmp_path):
    env = {**audio_env(mic), "XDG_CONFIG_HOME": str(tmp_path)}
    code, quiet = doctor(env, "--mic-seconds", "1")
    assert "heard nothing" in (quiet["microphone"]["problem"] or ""), quiet["microphone"]
    tone = tmp_path / "tone.wav"
    _tone(tone)
    player = mic.play(tone, wait=False)
    try:
        code, loud = doctor(env, "--mic-seconds", "1.5")
    finally:
        player.stop()
    m = loud["microphone"]
    assert m["problem"] is None, m
    assert -20 < m["peak_dbfs"] <= 0 and m["rms_dbfs"] < m["peak_dbfs"]
