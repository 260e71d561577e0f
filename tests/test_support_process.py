"""The one child-process wrapper of the tests and the bench (tests/support/process.py): logs, closed stdin, bounded stop."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

import pytest

from tests.support.process import Process
from tests.support.wait import wait_until

# Prints a line on each stream, reports what stdin holds, then waits to be stopped.
CHATTY = "import sys, time; print('out', flush=True); print('err', file=sys.stderr, flush=True); print(repr(sys.stdin.read()), flush=True); time.sleep(60)"
STUBBORN = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(60)"


def test_output_goes_to_the_log_and_stdin_is_closed(tmp_path: Path) -> None:
    with Process([sys.executable, "-c", CHATTY], tmp_path / "chatty.log") as p:
        wait_until(lambda: "''" in p.log(), 10, what="the child to read stdin")
        assert p.alive()
        assert p.log().splitlines() == ["out", "err", "''"]
        assert p.log_tail(3) == "''\n"


def test_stdout_path_splits_stdout_from_the_log(tmp_path: Path) -> None:
    with Process([sys.executable, "-c", CHATTY], tmp_path / "err.log", stdout_path=tmp_path / "out.log") as p:
        wait_until(lambda: "''" in (tmp_path / "out.log").read_text(), 10, what="the child to read stdin")
        assert p.log() == "err\n"
        assert (tmp_path / "out.log").read_text() == "out\n''\n"


def test_stop_kills_a_child_that_ignores_sigterm_within_the_bound(tmp_path: Path) -> None:
    p = Process([sys.executable, "-c", STUBBORN], tmp_path / "stubborn.log").start()
    wait_until(lambda: "ready" in p.log(), 10, what="the child to ignore SIGTERM")
    t0 = time.monotonic()
    p.stop(timeout=0.5)
    assert 0.5 <= time.monotonic() - t0 < 3.0
    assert p.returncode == -signal.SIGKILL
    p.stop()  # idempotent
    p.kill()


def test_a_well_behaved_child_ends_with_sigterm(tmp_path: Path) -> None:
    p = Process([sys.executable, "-c", "import time; time.sleep(60)"], tmp_path / "sleep.log").start()
    p.stop()
    assert p.returncode == -signal.SIGTERM


def test_the_context_manager_stops_the_child_when_the_block_raises(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="boom"), Process([sys.executable, "-c", "import time; time.sleep(60)"], tmp_path / "x.log") as p:
        assert p.alive()
        raise RuntimeError("boom")
    assert not p.alive() and p.returncode is not None


def test_env_and_cwd_are_the_childs(tmp_path: Path) -> None:
    code = "import os; print(os.getcwd(), os.environ.get('PROBE'), flush=True)"
    p = Process([sys.executable, "-c", code], tmp_path / "env.log", {"PROBE": "42", "PATH": "/usr/bin:/bin"}, cwd=tmp_path).start()
    assert p.wait(10) == 0
    assert p.log() == f"{tmp_path} 42\n"


def test_start_twice_and_use_before_start_are_errors(tmp_path: Path) -> None:
    p = Process([sys.executable, "-c", "pass"], tmp_path / "once.log")
    assert not p.alive()
    with pytest.raises(RuntimeError, match="not started"):
        p.pid
    p.start()
    with pytest.raises(RuntimeError, match="already started"):
        p.start()
    assert p.wait(10) == 0
