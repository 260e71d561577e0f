"""The journal survives kill -9 at any moment with nothing lost or corrupted."""

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time

from stt_dictation.server.history import History

WRITER = r"""
import asyncio, sys
from pathlib import Path
from stt_dictation.server.history import History

async def main():
    h = History(Path(sys.argv[1]))
    await h.open()
    seq = 0
    while True:
        seq += 1
        await h.add(seq, 1, 1.0, None)
        await h.update(seq, status="transcribed", text=f"phrase {seq}")
        await h.update(seq, status="typing")
        await h.update(seq, status="typed", typed_at=1.0)
        print(seq, flush=True)  # only after the commit returned

asyncio.run(main())
"""


def test_kill_9_while_writing_loses_no_committed_row(tmp_path):
    db = tmp_path / "history.sqlite3"
    for round_ in range(3):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(db)], stdout=subprocess.PIPE, text=True)
        time.sleep(0.8 + 0.1 * round_)
        os.kill(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate(timeout=10)
        committed = [int(x) for x in out.split()]
        assert committed, "the writer committed nothing before it was killed"
        con = sqlite3.connect(db)
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = dict(con.execute("SELECT seq, status FROM phrases"))
        con.close()
        for seq in committed:
            assert rows.get(seq) == "typed"
        db.unlink()
        for extra in ("-wal", "-shm"):
            (tmp_path / f"history.sqlite3{extra}").unlink(missing_ok=True)


def test_settle_after_crash_marks_half_typed_phrases_and_never_retypes(tmp_path):
    async def main():
        h = History(tmp_path / "h.sqlite3")
        await h.open()
        await h.add(1, 1, 1.0, None)
        await h.update(1, status="typing", text="half")
        await h.add(2, 1, 1.0, None)
        await h.update(2, status="transcribed", text="never typed")
        await h.add(3, 1, 1.0, None)
        await h.update(3, status="typed", text="done")
        assert await h.settle_after_crash() == 2
        got = {e.seq: e.status for e in await h.recent(10)}
        assert got == {1: "interrupted", 2: "interrupted", 3: "typed"}
        assert await h.last_ids() == (3, 1)
        await h.close()

    asyncio.run(asyncio.wait_for(main(), 10))


def test_update_returns_the_row_as_stored_and_rejects_unknown_columns(tmp_path):
    async def main():
        h = History(tmp_path / "h.sqlite3")
        await h.open()
        await h.add(1, 2, 1.5, 100.0)
        entry = await h.update(1, status="transcribed", text="hello", transcribed_at=100.5)
        missing = await h.update(9, status="typed")
        try:
            await h.update(1, colour="blue")
        except ValueError as exc:
            refused = str(exc)
        await h.close()
        return entry, missing, refused

    entry, missing, refused = asyncio.run(asyncio.wait_for(main(), 10))
    assert (entry.seq, entry.recording, entry.status, entry.text, entry.speech_end) == (1, 2, "transcribed", "hello", 100.0)
    assert missing is None
    assert "colour" in refused


# --- a damaged journal, an unusable place (issue 12, defect 3) ----------------------------


def _open_and_count(path):
    async def main():
        h = History(path)
        await h.open()
        n = len(await h.recent(1000))
        await h.add(1, 1, 1.0, None)  # and it takes new rows
        await h.close()
        return n

    return asyncio.run(main())


def test_a_file_that_is_no_database_is_moved_aside_and_a_new_journal_started(tmp_path, caplog):
    db = tmp_path / "history.sqlite3"
    db.write_bytes(b"this is not SQLite " * 200)
    assert _open_and_count(db) == 0
    [aside] = tmp_path.glob("history.sqlite3.corrupt-*[0-9]")
    assert aside.read_bytes() == b"this is not SQLite " * 200  # kept as it was
    [warning] = [r.getMessage() for r in caplog.records if "damaged" in r.getMessage()]
    assert aside.name in warning and "\n" not in warning


def test_damaged_pages_are_found_at_open_and_the_journal_moved_aside(tmp_path):
    db = tmp_path / "history.sqlite3"

    async def fill():
        h = History(db)
        await h.open()
        for seq in range(1, 400):
            await h.add(seq, 1, 1.0, None)
            await h.update(seq, status="typed", text="words " * 20)
        await h.close()

    asyncio.run(fill())
    raw = bytearray(db.read_bytes())
    page = 4096
    assert len(raw) > 8 * page
    raw[3 * page : 6 * page] = os.urandom(3 * page)  # a disk that lost some blocks
    db.write_bytes(bytes(raw))
    assert _open_and_count(db) == 0
    assert len(list(tmp_path.glob("history.sqlite3.corrupt-*"))) == 1


def test_a_journal_that_cannot_be_opened_is_a_state_directory_error(tmp_path):
    import pytest

    from stt_dictation.server.state import StateDirError

    (tmp_path / "history.sqlite3").mkdir()  # a directory where the file should be
    with pytest.raises(StateDirError, match="cannot open the journal"):
        _open_and_count(tmp_path / "history.sqlite3")
    (tmp_path / "file").write_text("")
    with pytest.raises(StateDirError, match="not a directory"):
        _open_and_count(tmp_path / "file" / "stt" / "history.sqlite3")
