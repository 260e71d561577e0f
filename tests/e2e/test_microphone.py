"""The microphone as a person meets it: missing at start-up, answering `start` only once audio flows."""

from __future__ import annotations

import subprocess
import time

from tests.support.dictation import audio_env, status
from tests.support.wait import wait_until


def test_no_microphone_is_an_error_from_start_up_and_toggle_exits_3_with_it_every_time(sttd_factory, mic):
    mic.unload_source()
    try:
        srv = sttd_factory(injector="none", env=audio_env(mic), wait="error")
        st = status(srv)
        assert st["state"] == "error" and "input device" in st["error"], st  # not `idle` with an INFO line in the log
        for _ in range(2):  # the second press must not look like a working one either
            t0 = time.monotonic()
            done = srv.client("toggle")
            took = time.monotonic() - t0
            assert done.returncode == 3, (done.stdout, done.stderr)
            assert done.stdout == "" and "audio" in done.stderr and "input device" in done.stderr, done.stderr
            assert took < 1.5, took
            assert status(srv)["state"] == "error"
    finally:
        if not mic.present:
            mic.reload_source()
    # Plugged back in: the next press records, and the error is gone.
    done = srv.client("toggle")
    assert done.returncode == 0 and done.stdout.strip() == "recording 3", (done.stdout, done.stderr)
    st = status(srv)
    assert st["state"] == "recording" and st["error"] is None
    assert srv.client("cancel").returncode == 0
    wait_until(lambda: status(srv)["state"] == "idle", 5.0, what="idle")


def test_start_returns_once_the_first_block_is_captured(sttd_factory, mic):
    srv = sttd_factory(injector="none", env=audio_env(mic), wait="idle")
    sub = srv.connect()
    try:
        assert sub.request({"type": "subscribe", "v": 1})["type"] == "ok"
        for n in (1, 2, 3):
            t_launch = time.time()
            done = srv.client("start")
            t_exit = time.time()
            assert done.returncode == 0 and done.stdout.strip() == f"recording {n}", (done.stdout, done.stderr)
            ev = wait_until(lambda: (e := sub.read_json(timeout=2.0)) and e["type"] == "recording_started" and e, 5.0, what="recording_started")
            # `at` is the first sample's time: the block arrived one block (32 ms) later, before the reply.
            assert ev["recording"] == n and t_launch - 0.1 < ev["at"] and ev["at"] + 0.032 <= t_exit
            assert t_exit - t_launch < 1.0, t_exit - t_launch  # the client's own start-up plus ~20 ms of opening
            assert srv.client("stop").returncode == 0
            wait_until(lambda: status(srv)["state"] == "idle", 5.0, what="idle")
    finally:
        sub.close()


def test_the_next_recording_follows_a_new_default_source_without_a_restart(sttd_factory, mic):
    """The desktop's sound settings pick another input between two recordings: the second one hears it."""
    from tests.support.devices import child_env
    from tests.support.dictation import JFK, finish, history, start_recording
    from tests.support.mic import KEEPALIVE_SINK_NAME, SOURCE_NAME

    srv = sttd_factory(injector="stdout", env=audio_env(mic), wait="idle")
    modules = []
    try:
        for module in (
            ["module-null-sink", "sink_name=stt_sink2", "rate=48000", "channels=2"],
            ["module-remap-source", "master=stt_sink2.monitor", "source_name=stt_mic2"],
            ["module-loopback", "source=stt_sink2.monitor", f"sink={KEEPALIVE_SINK_NAME}", "latency_msec=10", "source_dont_move=true", "sink_dont_move=true"],
        ):
            modules.append(mic._pactl("load-module", *module).strip())
        mic._pactl("suspend-sink", "stt_sink2", "1")
        mic._pactl("suspend-sink", "stt_sink2", "0")

        def record_from(sink: str) -> list[str]:
            before = {e["seq"] for e in history(srv)}
            start_recording(srv)
            subprocess.run(["paplay", f"--device={sink}", str(JFK)], env=child_env(mic), check=True, timeout=60)
            finish(srv)
            return [e["text"] for e in history(srv) if e["seq"] not in before and e["text"]]

        # The first recording hears the default source (stt_mic); a clip played into the other input is not heard.
        assert record_from("stt_sink2") == []
        mic._pactl("set-default-source", "stt_mic2")  # the user picks the other input
        heard = record_from("stt_sink2")
        assert "country" in " ".join(heard).lower(), heard
        assert srv.alive() and status(srv)["state"] == "idle"
    finally:
        mic._pactl("set-default-source", SOURCE_NAME)
        for index in reversed(modules):
            mic._pactl("unload-module", index)


def test_a_wedged_sound_server_is_an_error_within_a_bound_and_sigterm_still_exits_within_2_s(sttd_factory, mic):
    """PulseAudio stopped (SIGSTOP) answers nothing: `start` says so instead of hanging, and shutdown does not wait on it."""
    import os
    import signal
    import threading

    srv = sttd_factory(injector="none", env=audio_env(mic), wait="idle")
    os.kill(mic.pid, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        done = srv.client("start", timeout=10)
        took = time.monotonic() - t0
        assert done.returncode == 3 and "did not answer" in done.stderr, (done.stdout, done.stderr)
        assert took < 4.0, took
        # A second start while the first open is still stuck in the sound server: SIGTERM meanwhile.
        pressed = threading.Thread(target=srv.client, args=("start",), kwargs={"timeout": 10})
        pressed.start()
        time.sleep(0.3)
        t0 = time.monotonic()
        srv.signal(signal.SIGTERM)
        code = srv.wait_exit(timeout=5.0)
        took = time.monotonic() - t0
        pressed.join(10)
        assert code == 0 and took < 2.0, (code, took)
    finally:
        os.kill(mic.pid, signal.SIGCONT)
