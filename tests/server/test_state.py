"""state: one state directory per profile, usable or a clear error, and held by one sttd at a time (a flock)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from stt_dictation.server.state import StateDirBusy, StateDirError, claim, default_state_dir, profile_name

_HOLDER = """
import sys, time
from pathlib import Path
from stt_dictation.server.state import claim
print(claim(Path(sys.argv[1])), flush=True)
sys.stdin.readline()
"""


def test_default_and_profile_directories():
    env = {"XDG_STATE_HOME": "/x/state"}
    assert default_state_dir("", env) == Path("/x/state/stt")
    assert default_state_dir(f"\0stt-{os.getuid()}", env) == Path("/x/state/stt")
    assert default_state_dir("\0work", env) == Path("/x/state/stt/profiles/work")
    assert default_state_dir("", {"HOME": "/h"}).parts[-3:] == (".local", "state", "stt")


def test_profile_names_are_one_safe_path_component():
    assert profile_name("\0a/b c") == "a%2Fb%20c"
    assert profile_name("\0..") == "%2E."
    assert profile_name("\0") is None


def test_claim_creates_the_directory(tmp_path):
    d = tmp_path / "a" / "b"
    assert claim(d) is None
    assert d.is_dir() and not list(d.iterdir())  # the write probe is gone


def test_a_file_in_the_way_is_a_one_line_error(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(StateDirError, match="not a directory"):
        claim(tmp_path / "file" / "stt")


def test_a_second_holder_is_refused_naming_the_pid_and_the_lock_dies_with_the_holder(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(tmp_path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "None"  # it holds the lock now
        with pytest.raises(StateDirBusy, match=rf"pid {holder.pid}\).*{tmp_path}"):
            claim(tmp_path)
    finally:
        holder.stdin.close()
        holder.wait(10)
    assert claim(tmp_path) is None  # freed by the kernel when the holder exited
