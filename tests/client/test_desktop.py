"""What desktops consume: waybar JSON, --watch lines, notifications, shell completion."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time

import pytest

from tests.support.dictation import audio_env
from tests.support.env import CLIENT_CMD, REPO
from tests.support.sttd import run_client
from tests.support.wait import wait_until


def test_waybar_output_has_the_fields_waybar_reads(idle_sttd):
    r = idle_sttd.client("status", "--format", "waybar")
    assert r.returncode == 0
    obj = json.loads(r.stdout)
    assert set(obj) >= {"text", "tooltip", "class", "alt"}
    assert obj["class"] == obj["alt"] == idle_sttd.status()["state"]  # idle, or error: no microphone here
    assert "tiny.en" in obj["tooltip"]


def test_waybar_output_when_no_server_runs_is_still_json(socket_name):
    r = run_client(["status", "--format", "waybar"], socket_name)
    assert r.returncode == 1
    assert json.loads(r.stdout)["class"] == "stopped"


def test_status_watch_prints_a_line_per_state_change(sttd_factory, mic):
    """With the virtual microphone, so start really records: idle -> recording -> idle, a line each."""
    srv = sttd_factory(env=audio_env(mic), wait="idle")
    proc = subprocess.Popen(
        [*CLIENT_CMD, "status", "--watch", "--format", "json"],
        cwd=REPO, env=srv.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        time.sleep(0.5)
        assert srv.client("start").returncode == 0
        wait_until(lambda: srv.request({"type": "status"})["state"] == "recording", 5, what="recording")
        time.sleep(0.3)
        assert srv.client("stop").returncode == 0
        wait_until(lambda: srv.request({"type": "status"})["state"] == "idle", 10, what="idle again")
        time.sleep(0.3)
        srv.client("shutdown")
        out, _ = proc.communicate(timeout=10)
    finally:
        proc.kill()
    states = [json.loads(line)["state"] for line in out.splitlines()]
    assert states[:3] == ["idle", "recording", "idle"], states
    assert all(a != b for a, b in zip(states, states[1:])), states  # a line per change, not per poll


def test_notifications_go_through_notify_send(sttd_factory, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "notes.txt"
    fake = bin_dir / "notify-send"
    fake.write_text(f'#!/bin/sh\nprintf "%s|" "$@" >> {log}\necho >> {log}\n')
    fake.chmod(0o755)
    srv = sttd_factory("--notifications", env={"PATH": f"{bin_dir}:{os.environ['PATH']}"}, wait="idle")
    srv.client("start")  # no microphone in this test: the open fails, and that is notified
    text = wait_until(lambda: log.exists() and "stt: error" in log.read_text() and log.read_text(), 5, what="an error notification")
    assert "|--urgency=critical|" in text and "input device" in text


def test_a_missing_notify_send_is_skipped_and_logged_once(sttd_factory, tmp_path):
    srv = sttd_factory("--notifications", env={"PATH": str(tmp_path)}, wait="idle")
    for _ in range(3):
        srv.client("start")
        srv.client("stop")
    time.sleep(0.5)
    assert srv.alive()
    assert srv.log().count("notify-send is not installed") == 1


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_shell_completion_scripts_parse(shell):
    r = subprocess.run([*CLIENT_CMD, "completion", shell], cwd=REPO, capture_output=True, text=True, timeout=10)
    assert r.returncode == 0 and "toggle" in r.stdout
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed")
    check = subprocess.run([shell, "-n"], input=r.stdout, capture_output=True, text=True, timeout=10)
    assert check.returncode == 0, check.stderr
    if shell == "bash":
        probe = r.stdout + '\nCOMP_WORDS=(stt sta); COMP_CWORD=1; _stt; echo "${COMPREPLY[@]}"\n'
        out = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, timeout=10).stdout
        assert out.split() == ["start", "status"]
