"""The durable journal of every phrase: SQLite in WAL mode, fsync'd on each commit.

A row is written when a phrase is recorded, updated when it is transcribed and
again around typing, so a `kill -9` at any moment leaves a consistent record and
a restart can tell what was typed, what was not, and what may have been half typed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..protocol.messages import HistoryEntry, PhraseStatus

from .state import StateDirError, unusable

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS phrases (
    seq INTEGER PRIMARY KEY,
    recording INTEGER NOT NULL,
    status TEXT NOT NULL,
    text TEXT NOT NULL DEFAULT '',
    audio_seconds REAL NOT NULL DEFAULT 0,
    speech_end REAL,
    transcribed_at REAL,
    typed_at REAL,
    note TEXT,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS phrases_recording ON phrases(recording);
"""

_COLUMNS = ("seq", "recording", "status", "text", "audio_seconds", "speech_end", "transcribed_at", "typed_at", "note")


class History:
    """Async facade over one SQLite connection owned by one worker thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # One thread owns the connection: SQLite objects must not cross threads,
        # and a single writer keeps the journal's order equal to the call order.
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="history")
        self._db: sqlite3.Connection | None = None

    def _open(self) -> None:
        """Open the journal; a damaged one is moved aside and a new one started, an unusable place is StateDirError."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._db = self._connect()
            except sqlite3.DatabaseError as exc:
                if _code(exc) not in DAMAGED:
                    raise
                aside = self._set_aside()
                log.warning("the journal %s is damaged (%s): moved it to %s and started a new one", self.path, exc, aside.name)
                self._db = self._connect()
        except OSError as exc:
            raise unusable(self.path.parent, exc) from None
        except sqlite3.DatabaseError as exc:
            raise StateDirError(f"cannot open the journal {self.path}: {exc}; check the state directory (state_dir)") from None

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")  # fsync on every commit: a transcript is never lost
            db.execute("PRAGMA busy_timeout=5000")
            db.executescript(_SCHEMA)
            problems = [row[0] for row in db.execute("PRAGMA quick_check(3)")]
            if problems != ["ok"]:
                raise Damaged("; ".join(problems))
        except BaseException:
            db.close()
            raise
        return db

    def _set_aside(self) -> Path:
        """Rename the damaged journal (and its WAL) to history.sqlite3.corrupt-<time>, kept for a person."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        aside, n = self.path.with_name(f"{self.path.name}.corrupt-{stamp}"), 1
        while aside.exists():
            aside, n = self.path.with_name(f"{self.path.name}.corrupt-{stamp}.{n}"), n + 1
        os.replace(self.path, aside)
        for suffix in ("-wal", "-shm"):
            extra = self.path.with_name(self.path.name + suffix)
            if extra.exists():
                os.replace(extra, aside.with_name(aside.name + suffix))
        return aside

    async def _run(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def open(self) -> None:
        """Create or open the journal."""
        await self._run(self._open)

    async def close(self) -> None:
        """Close the journal and its thread."""
        def _close() -> None:
            if self._db is not None:
                self._db.close()
                self._db = None

        await self._run(_close)
        self._pool.shutdown(wait=True)

    async def last_ids(self) -> tuple[int, int]:
        """(highest phrase number, highest recording number) so far."""
        def q() -> tuple[int, int]:
            assert self._db is not None
            row = self._db.execute("SELECT COALESCE(MAX(seq),0), COALESCE(MAX(recording),0) FROM phrases").fetchone()
            return int(row[0]), int(row[1])

        return await self._run(q)

    async def add(self, seq: int, recording: int, audio_seconds: float, speech_end: float | None, status: PhraseStatus = "recorded") -> None:
        """Record a new phrase before it is transcribed."""
        def q() -> None:
            assert self._db is not None
            self._db.execute(
                "INSERT OR IGNORE INTO phrases(seq, recording, status, audio_seconds, speech_end, created) VALUES (?,?,?,?,?,?)",
                (seq, recording, status, audio_seconds, speech_end, time.time()),
            )

        await self._run(q)

    async def update(self, seq: int, **fields) -> HistoryEntry | None:
        """Set some columns of one phrase; return the phrase as now stored (None if there is none)."""
        bad = set(fields) - set(_COLUMNS)
        if bad:
            raise ValueError(f"unknown history columns {sorted(bad)}")

        def q():
            assert self._db is not None
            cols = ", ".join(f"{k}=?" for k in fields)
            self._db.execute(f"UPDATE phrases SET {cols} WHERE seq=?", (*fields.values(), seq))
            # Read back in the same worker call: no second hop through the thread.
            return self._db.execute(f"SELECT {', '.join(_COLUMNS)} FROM phrases WHERE seq=?", (seq,)).fetchone()

        row = await self._run(q)
        return _entry(row) if row else None

    async def get(self, seq: int) -> HistoryEntry | None:
        """One phrase, or None."""
        def q():
            assert self._db is not None
            return self._db.execute(f"SELECT {', '.join(_COLUMNS)} FROM phrases WHERE seq=?", (seq,)).fetchone()

        row = await self._run(q)
        return _entry(row) if row else None

    async def recent(self, limit: int) -> list[HistoryEntry]:
        """The last `limit` phrases, oldest first."""
        def q():
            assert self._db is not None
            return self._db.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM phrases ORDER BY seq DESC LIMIT ?", (limit,)
            ).fetchall()

        return [_entry(r) for r in reversed(await self._run(q))]

    async def settle_after_crash(self) -> int:
        """Mark phrases a previous process left mid-typing or transcribed-but-untyped; never retype them."""
        def q() -> int:
            assert self._db is not None
            cur = self._db.execute(
                "UPDATE phrases SET status='interrupted', note=COALESCE(note, 'the server stopped before this phrase was fully typed') "
                "WHERE status IN ('typing', 'transcribed')"
            )
            return cur.rowcount

        return await self._run(q)


class Damaged(sqlite3.DatabaseError):
    """The integrity check found problems."""

    sqlite_errorcode = 11  # SQLITE_CORRUPT


DAMAGED = frozenset({11, 26})
"""SQLite's primary codes for a damaged file: SQLITE_CORRUPT and SQLITE_NOTADB."""


def _code(exc: sqlite3.DatabaseError) -> int:
    return (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF


def _entry(row) -> HistoryEntry:
    return HistoryEntry(**dict(zip(_COLUMNS, row)))
