"""Every typing backend hands text to its tool byte for byte, and tools never see our secrets.

Each tool is replaced on PATH by a stand-in that records its arguments, standard input
and environment, so what reaches the tool is checked exactly (no display needed).
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
import sys
import time

import pytest

from stt_dictation.server import desktop
from stt_dictation.server.injector import BACKENDS, InjectError, run_tool
from stt_dictation.server.notify import Notifier

TRICKY = r"C:\Users\new\table \x41 \t \\ end \a"
"""Backslash sequences that ydotool 1.x (and any shell-ish expansion) would turn into keys."""

_RECORDER = """#!{python}
import json, os, sys
data = sys.stdin.buffer.read().decode() if not sys.stdin.isatty() else ""
with open(os.environ["FAKE_TOOL_LOG"], "a") as f:
    f.write(json.dumps({{"argv": sys.argv, "stdin": data, "env": dict(os.environ)}}) + "\\n")
"""


@pytest.fixture
def fake_tools(tmp_path, monkeypatch):
    """Stand-ins for every tool the backends run; returns a reader of their calls."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.jsonl"
    for name in ("xdotool", "wtype", "dotool", "ydotool", "xclip", "wl-copy", "notify-send"):
        tool = bin_dir / name
        tool.write_text(_RECORDER.format(python=sys.executable))
        tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("FAKE_TOOL_LOG", str(log))
    monkeypatch.setattr(desktop, "UINPUT", "/dev/null")  # a writable character device stands in for uinput
    monkeypatch.setenv("STT_API_KEY", "sk-secret-never-inherited")

    def calls() -> list[dict]:
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    return calls


@pytest.mark.parametrize("backend", ["xdotool", "wtype", "dotool", "ydotool"])
def test_backslash_sequences_reach_the_tool_unchanged(fake_tools, monkeypatch, backend):
    monkeypatch.setenv("DISPLAY", ":987654")  # xdotool: ASCII text needs no keymap, so no X call
    asyncio.run(BACKENDS[backend]().type(TRICKY))
    (call,) = fake_tools()
    if backend == "dotool":
        assert call["stdin"] == f"type {TRICKY}\n"
    else:
        argv = call["argv"]
        assert argv[argv.index("--") + 1 :] == [TRICKY]
    if backend == "ydotool":
        assert "--escape=0" in call["argv"][: call["argv"].index("--")]
    assert "STT_API_KEY" not in call["env"]


def test_notifications_do_not_inherit_the_api_key(fake_tools):
    asyncio.run(Notifier(True)("stt: listening", "recording 1"))
    (call,) = fake_tools()
    assert call["argv"][-2:] == ["stt: listening", "recording 1"]
    assert "STT_API_KEY" not in call["env"]
    assert os.environ["STT_API_KEY"]  # the server itself keeps it


def test_a_forking_tool_is_waited_for_by_its_exit_not_its_childs_pipes():
    """xclip forks a child that keeps stdout open to serve the clipboard; the old wait took the whole timeout."""
    t0 = time.monotonic()
    asyncio.run(run_tool(["sh", "-c", "(sleep 3; echo late) & echo served"], timeout=2.5, forks=True))
    assert time.monotonic() - t0 < 1.5


def test_a_forking_tool_that_fails_reports_its_stderr():
    with pytest.raises(InjectError, match=r"exit 3\): no clipboard owner"):
        asyncio.run(run_tool(["sh", "-c", "(sleep 3) & echo 'no clipboard owner' >&2; exit 3"], timeout=2.5, forks=True))


def test_a_hung_tool_times_out_as_an_inject_error():
    t0 = time.monotonic()
    with pytest.raises(InjectError, match="did not finish within 0.3 s"):
        asyncio.run(run_tool(["sleep", "10"], timeout=0.3))
    assert time.monotonic() - t0 < 2.0


def test_stdout_backend_does_not_block_the_loop(monkeypatch):
    """A reader that stalls (a full pipe) holds the writing thread, never the event loop."""
    import threading

    release = threading.Event()

    class StalledStdout:
        def __init__(self) -> None:
            self.lines: list[str] = []

        def write(self, s: str) -> int:
            release.wait(5)
            self.lines.append(s)
            return len(s)

        def flush(self) -> None:
            pass

    out = StalledStdout()
    monkeypatch.setattr(sys, "stdout", out)

    async def go() -> int:
        ticks = 0
        typing = asyncio.ensure_future(BACKENDS["stdout"]().type(" hello "))
        for _ in range(10):
            await asyncio.sleep(0.01)
            ticks += 1
        release.set()
        await typing
        return ticks

    assert asyncio.run(asyncio.wait_for(go(), 5)) == 10
    assert out.lines == ["hello\n"]
