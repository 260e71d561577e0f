"""notify: notifications through notify-send when on; an alert once per problem even when off; a missing tool logged once.

A stand-in notify-send on PATH records its arguments (the pattern of test_inject_keys.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
import stat
import sys

import pytest

from stt_dictation.server.notify import Notifier

_RECORDER = """#!{python}
import json, os, sys
with open(os.environ["FAKE_TOOL_LOG"], "a") as f:
    f.write(json.dumps(sys.argv[1:]) + "\\n")
"""


@pytest.fixture
def notify_send(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tool = bin_dir / "notify-send"
    tool.write_text(_RECORDER.format(python=sys.executable))
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / "calls.jsonl"
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("FAKE_TOOL_LOG", str(log))
    return lambda: [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_enabled_sends_with_summary_body_and_urgency(notify_send):
    asyncio.run(Notifier(True)("stt: listening", "recording 1"))
    (argv,) = notify_send()
    assert "--urgency=normal" in argv and "--app-name=stt" in argv
    assert argv[-2:] == ["stt: listening", "recording 1"]


def test_disabled_sends_nothing(notify_send):
    asyncio.run(Notifier(False)("stt: listening", "recording 1"))
    assert notify_send() == []


def test_an_alert_shows_even_when_off_but_once_per_problem_until_cleared(notify_send):
    async def go():
        n = Notifier(False)
        await n.alert("stt: microphone", "no device")
        await n.alert("stt: microphone", "no device")
        await n.alert("stt: microphone", "device busy")
        n.clear_alert()
        await n.alert("stt: microphone", "device busy")

    asyncio.run(go())
    calls = notify_send()
    assert [c[-1] for c in calls] == ["no device", "device busy", "device busy"]
    assert all("--urgency=critical" in c for c in calls)


def test_a_missing_notify_send_is_logged_once_and_never_raises(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing there

    async def go():
        n = Notifier(True)
        await n("one")
        await n("two")
        await n.alert("three", "problem")

    with caplog.at_level(logging.INFO, logger="stt_dictation.server.notify"):
        asyncio.run(go())
    lines = [r.getMessage() for r in caplog.records if r.name == "stt_dictation.server.notify"]
    assert len(lines) == 1 and "notify-send is not installed" in lines[0]
