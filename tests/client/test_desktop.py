"""What desktops consume: waybar JSON, --watch lines, notifications, shell completion."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time

import pytest

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


def test_status_watch_prints_a_line_per_state_change(idle_sttd):
    proc = subprocess.Popen(
        [*CLIENT_CMD, "status", "--watch", "--format", "json"],
        cwd=REPO, env=idle_sttd.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        time.sleep(0.5)
        assert idle_sttd.client("start").returncode in (0, 3)  # 3: no microphone here, an error state change
        wait_until(lambda: idle_sttd.request({"type": "status"})["state"] != "idle", 5, what="leaving idle")
        time.sleep(0.3)
        idle_sttd.client("stop")
        time.sleep(0.5)
        idle_sttd.client("shutdown")
        out, _ = proc.communicate(timeout=10)
    finally:
        proc.kill()
    states = [json.loads(line)["state"] for line in out.splitlines()]
    assert states[0] in ("idle", "error")  # error: no microphone here, from start-up
    assert len(states) >= 2 and all(a != b for a, b in zip(states, states[1:])) or len(set(states)) > 1
    assert any(s in ("recording", "error") for s in states[1:])


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
