"""The microphone as a person meets it: missing at start-up, answering `start` only once audio flows."""

from __future__ import annotations

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
            assert ev["recording"] == n and t_launch < ev["at"] <= t_exit  # the first sample came before the reply
            assert t_exit - t_launch < 1.0, t_exit - t_launch  # the client's own start-up plus ~20 ms of opening
            assert srv.client("stop").returncode == 0
            wait_until(lambda: status(srv)["state"] == "idle", 5.0, what="idle")
    finally:
        sub.close()
