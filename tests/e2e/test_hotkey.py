"""The built-in hotkey on Xvfb: xdotool presses keys, a real sttd records from the virtual microphone (issue 14)."""

from __future__ import annotations

import time

from tests.support.dictation import audio_env, status
from tests.support.wait import wait_until


class Events:
    """The server's recording_started/stopped events, as they come."""

    def __init__(self, srv) -> None:
        self.conn = srv.connect()
        assert self.conn.request({"type": "subscribe", "v": 1})["type"] == "ok"
        self.seen: list[tuple[str, float]] = []

    def poll(self, seconds: float) -> list[str]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                ev = self.conn.read_json(timeout=0.1)
            except TimeoutError:
                continue
            if ev and ev["type"] in ("recording_started", "recording_stopped"):
                self.seen.append((ev["type"], time.monotonic()))
        return [k for k, _ in self.seen]

    def wait(self, kind: str, count: int, timeout: float = 10.0) -> float:
        """When the `count`-th event of this kind arrived."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            hits = [t for k, t in self.seen if k == kind]
            if len(hits) >= count:
                return hits[count - 1]
            self.poll(0.1)
        raise AssertionError(f"{count} x {kind} not within {timeout} s; seen {self.seen}")


def _server(sttd_factory, mic, display, hotkey: str, mode: str):
    env = {**audio_env(mic, display), "STT_HOTKEY": hotkey, "STT_HOTKEY_MODE": mode}
    srv = sttd_factory(injector="none", env=env, wait="idle")
    srv.wait_log(r"hotkey .* on X display")
    return srv, Events(srv)


def test_chord_toggles_in_every_window_and_never_reaches_it(sttd_factory, mic, display):
    win = display.open_capture_window()
    srv, events = _server(sttd_factory, mic, display, "ctrl+alt+d", "toggle")
    t0 = time.monotonic()
    display.xdotool("keydown", "ctrl+alt+d")
    started = events.wait("recording_started", 1)
    display.xdotool("keyup", "ctrl+alt+d")
    inside = float(srv.wait_log(r"hotkey toggle: recording \d+ in ([\d.]+) ms").group(1))
    print(f"hotkey: xdotool keydown -> recording_started event {1000 * (started - t0):.0f} ms; X event -> recording (server) {inside:.1f} ms")
    assert status(srv)["state"] == "recording"
    display.xdotool("key", "ctrl+alt+d")
    events.wait("recording_stopped", 1)
    # Two presses in quick succession: the state machine starts and stops, nothing flaps after.
    display.xdotool("key", "--delay", "30", "ctrl+alt+d", "ctrl+alt+d")
    events.wait("recording_stopped", 2)
    assert events.poll(1.0) == ["recording_started", "recording_stopped"] * 2
    assert status(srv)["state"] == "idle"
    time.sleep(0.3)
    assert win.read() == ""  # grabbed: the focused xterm never saw a key
    display.xdotool("type", "x")
    win.wait_for("x")  # other keys still reach it
    # A second server with the same hotkey on the same display cannot grab it: it says so and serves on.
    other, _ = sttd_factory(injector="none", env={**audio_env(mic, display), "STT_HOTKEY": "ctrl+alt+d"}, wait="idle"), None
    other.wait_log("another program has grabbed it")
    assert other.status()["state"] == "idle"
    assert srv.client("shutdown").returncode == 0
    assert srv.wait_exit(5) == 0  # the hotkey thread ends with the server


def test_hold_is_push_to_talk(sttd_factory, mic, display):
    srv, events = _server(sttd_factory, mic, display, "super+grave", "push-to-talk")
    display.xdotool("keydown", "super+grave")
    events.wait("recording_started", 1)
    assert events.poll(1.5) == ["recording_started"]  # held for 1.5 s: still recording
    assert status(srv)["state"] == "recording"
    display.xdotool("keyup", "super+grave")
    events.wait("recording_stopped", 1)
    assert status(srv)["state"] == "idle"


def test_double_tap_toggles_and_a_triple_tap_does_not_flap(sttd_factory, mic, display):
    win = display.open_capture_window()
    srv, events = _server(sttd_factory, mic, display, "alt_l", "double-tap")

    def tap(n: int) -> None:
        display.xdotool(*["keydown", "Alt_L", "keyup", "Alt_L"] * n)  # one xdotool: taps ~25 ms apart

    tap(2)
    events.wait("recording_started", 1)
    tap(3)  # toggles once (stop); the third tap only begins a new pair
    events.wait("recording_stopped", 1)
    assert events.poll(1.0) == ["recording_started", "recording_stopped"]
    assert status(srv)["state"] == "idle"
    tap(1)  # the triple's leftover tap is over 0.4 s old: this is a first tap, no toggle
    assert events.poll(0.6) == ["recording_started", "recording_stopped"]
    tap(2)
    events.wait("recording_started", 2)
    tap(2)
    events.wait("recording_stopped", 2)
    # Alt used for a chord (alt+x), then one tap: no toggle; Alt is not grabbed, so the window got alt+x.
    display.xdotool("key", "alt+x")
    tap(1)
    assert events.poll(1.0) == ["recording_started", "recording_stopped"] * 2
    wait_until(lambda: win.read(), 5.0, what="alt+x in the window")  # xterm writes it as ESC x or as 'ø'



def test_the_display_going_away_costs_the_key_not_the_server(sttd_factory, mic):
    from tests.support.display import VirtualDisplay

    with VirtualDisplay() as gone:
        srv, _ = _server(sttd_factory, mic, gone, "ctrl+alt+d", "toggle")
    srv.wait_log("went away; the hotkey is off")  # Xlib would have exit()ed the server
    assert srv.alive() and srv.status()["state"] == "idle"
    assert srv.client("shutdown").returncode == 0 and srv.wait_exit(5) == 0


def test_evdev_on_wayland_double_tap_from_a_pipe_of_key_events(sttd_factory, mic, tmp_path):
    import os

    from tests.support.evdev_events import ALT, recording, taps

    fifo = tmp_path / "keyboard"
    os.mkfifo(fifo)
    env = {**audio_env(mic), "DISPLAY": None, "WAYLAND_DISPLAY": "wayland-none", "STT_HOTKEY": "alt_l", "STT_HOTKEY_MODE": "double-tap", "STT_HOTKEY_DEVICE": str(fifo)}
    srv = sttd_factory(injector="none", env=env, wait="idle")
    srv.wait_log(r"hotkey Alt_L \(double-tap\) on 1 evdev device")
    events = Events(srv)
    with open(fifo, "wb", buffering=0) as keyboard:
        now = time.time()
        keyboard.write(recording(*taps(ALT, now, now + 0.2)))
        events.wait("recording_started", 1)
        now = time.time()
        keyboard.write(recording(*taps(ALT, now, now + 0.2, now + 0.4)))  # a triple tap toggles once
        events.wait("recording_stopped", 1)
        assert events.poll(1.0) == ["recording_started", "recording_stopped"]
    assert status(srv)["state"] == "idle"
