"""Start-up never loops (issue 12, defect 3): a damaged spool file or journal is set aside and
the server starts; an unusable state directory is one line and exit 5, which the generated
systemd unit does not restart (tests/server/test_service.py)."""

from __future__ import annotations

import os
import shutil

import pytest

from stt_dictation.protocol.wire import EXIT_STATE
from tests.support.dictation import JFK, audio_env, history
from tests.support.wait import wait_until


def settled(srv, n: int, timeout: float = 60.0) -> dict[int, dict]:
    """The history once it holds `n` entries, none still `recorded` (recovery runs after the server is idle,
    and a recovered phrase is journaled as `recorded` before its transcript lands)."""
    return wait_until(
        lambda: len(h := {e["seq"]: e for e in history(srv)}) == n and all(e["status"] != "recorded" for e in h.values()) and h,
        timeout, what=f"{n} settled history entries",
    )  # fmt: skip


def test_a_damaged_spool_file_is_set_aside_listed_unreadable_and_the_server_starts(sttd_factory, mic, tmp_path):
    root = tmp_path / "root"
    spool = root / "state" / "spool"
    spool.mkdir(parents=True)
    (spool / "0000000004-00000002.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt cut off here")
    shutil.copy(JFK, spool / "0000000003-00000002.wav")  # and a good one beside it, left by a crash
    srv = sttd_factory(env=audio_env(mic), state_root=root, wait="idle")
    entries = settled(srv, 2)
    aside = spool / "unreadable" / "0000000004-00000002.wav"
    assert entries[3]["status"] == "recovered" and "country" in entries[3]["text"].lower()
    assert entries[4]["status"] == "unreadable" and str(aside) in entries[4]["note"]
    assert aside.read_bytes().startswith(b"RIFF")  # kept for a person, out of the way
    assert not list(spool.glob("*.wav"))
    assert str(aside) in srv.log() and "Traceback" not in srv.log()
    listed = srv.client("history").stdout
    assert "unreadable" in listed and "0000000004-00000002.wav" in listed
    # The next start is clean: nothing to recover, nothing to set aside, the history as it was.
    srv.client("shutdown")
    assert srv.wait_exit(10) == 0
    again = sttd_factory(env=audio_env(mic), state_root=root, wait="idle")
    assert {e["seq"]: e["status"] for e in history(again)} == {3: "recovered", 4: "unreadable"}
    assert "Traceback" not in again.log() and "cannot be read" not in again.log()


def test_a_damaged_journal_is_set_aside_with_one_warning_and_a_new_one_started(sttd_factory, mic, tmp_path):
    root = tmp_path / "root"
    state = root / "state"
    (state / "spool").mkdir(parents=True)
    (state / "history.sqlite3").write_bytes(b"not a database " * 500)
    shutil.copy(JFK, state / "spool" / "0000000007-00000001.wav")  # recovery writes into the new journal
    srv = sttd_factory(env=audio_env(mic), state_root=root, wait="idle")
    [aside] = state.glob("history.sqlite3.corrupt-*[0-9]")
    assert aside.read_bytes() == b"not a database " * 500
    warnings = [line for line in srv.log().splitlines() if "damaged" in line]
    assert len(warnings) == 1 and aside.name in warnings[0], srv.log()
    entries = settled(srv, 1)
    assert entries[7]["status"] == "recovered" and "country" in entries[7]["text"].lower()
    assert "Traceback" not in srv.log()


@pytest.mark.parametrize("case", ["under a file", "is a file", "journal is a directory", "not writable"])
def test_an_unusable_state_directory_is_one_line_and_exit_5(sttd_factory, tmp_path, case):
    blocker = tmp_path / "blocker"
    blocker.write_text("a regular file\n")
    if case == "under a file":  # XDG_STATE_HOME below a regular file, state_dir unset
        env, where = {"STT_STATE_DIR": None, "XDG_STATE_HOME": str(blocker / "state")}, str(blocker)
    elif case == "is a file":
        env, where = {"STT_STATE_DIR": str(blocker)}, str(blocker)
    elif case == "journal is a directory":
        state = tmp_path / "state"
        (state / "history.sqlite3").mkdir(parents=True)
        env, where = {"STT_STATE_DIR": str(state)}, str(state / "history.sqlite3")
    else:
        if os.geteuid() == 0:
            pytest.skip("root writes into a read-only directory")
        state = tmp_path / "read-only"
        state.mkdir(mode=0o500)
        env, where = {"STT_STATE_DIR": str(state)}, str(state)
    srv = sttd_factory.spawn(env=env)
    assert srv.wait_exit(60) == EXIT_STATE, srv.log()
    log = srv.log()
    assert "Traceback" not in log
    [line] = [line for line in log.splitlines() if line.startswith("sttd: ")]
    assert where in line and "state" in line
    if case != "journal is a directory":  # that one has started logging already
        assert log.strip() == line
