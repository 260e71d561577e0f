"""Dictation as an end-to-end test drives it: record from the virtual microphone, stop, read the history."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from tests.support.devices import Device, child_env
from tests.support.mic import VirtualMicrophone
from tests.support.speech import SPEECH_DIR
from tests.support.sttd import Sttd
from tests.support.wait import wait_until

JFK = SPEECH_DIR / "jfk_jfk.wav"
SHORT = SPEECH_DIR / "cmu-arctic_cmu_arctic_us_axb_a0004.wav"
"""One 3 s phrase, "Lord, but I'm glad to see you again, Phil.": for tests that need speech heard, not a sentence's phrases."""


def audio_env(*devices: Device) -> dict[str, str]:
    """The variables a server needs to record from the virtual microphone (and type on the screen)."""
    base = child_env(*devices)
    keys = {k for d in devices for k in d.env}
    return {k: base[k] for k in keys}


def status(srv: Sttd) -> dict:
    return srv.request({"type": "status"})


def start_recording(srv: Sttd, timeout: float = 5.0) -> None:
    """`stt start`, then wait until the microphone delivers audio (its `recording_started` event)."""
    sub = srv.connect(timeout=timeout)
    try:
        assert sub.request({"type": "subscribe", "v": 1})["type"] == "ok"
        assert srv.client("start").returncode == 0
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                ev = sub.read_json(timeout=0.2)
            except TimeoutError:
                ev = None
            if ev and ev.get("type") == "recording_started":
                return
            if ev and ev.get("type") == "fault":
                raise AssertionError(f"recording failed: {ev['message']}")
        raise AssertionError(f"the microphone never delivered audio; status {status(srv)}")
    finally:
        sub.close()


def finish(srv: Sttd, timeout: float = 30.0, command: str = "stop") -> None:
    """Stop recording and wait until every phrase is resolved."""
    assert srv.client(command).returncode == 0
    wait_until(lambda: (s := status(srv))["state"] != "recording" and s["pending"] == 0, timeout, what="pending phrases to finish")


def dictate(srv: Sttd, mic: VirtualMicrophone, *wavs: Path, tail: float = 1.0) -> None:
    """Record while playing the clips, then stop and wait for the text."""
    start_recording(srv)
    for w in wavs:
        mic.play(w)
    mic.play_silence(tail)  # let the last pause be heard as a pause
    finish(srv)


def history(srv: Sttd, n: int = 200) -> list[dict]:
    return json.loads(srv.client("history", "-n", str(n), "--json").stdout)


def sox(*args: str) -> None:
    subprocess.run(["sox", *args], check=True, timeout=30, capture_output=True)


__all__ = ["JFK", "SHORT", "audio_env", "dictate", "finish", "history", "sox", "start_recording", "status"]
