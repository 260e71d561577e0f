"""The ledger: the one writer of phrase state, one event per change with its latency."""

import ast
import asyncio
import json
from pathlib import Path

import numpy as np

from stt_dictation.server.events import EventBus
from stt_dictation.server.ledger import Ledger
from stt_dictation.server.wav import SAMPLE_RATE

SERVER = Path(__file__).resolve().parents[2] / "server"


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 20))


def drain(sub) -> list[dict]:
    out = []
    while not sub.queue.empty():
        out.append(json.loads(sub.queue.get_nowait()))
    return out


async def opened(tmp_path):
    bus = EventBus()
    sub = bus.subscribe(lambda: None)
    ledger = Ledger(tmp_path, bus)
    await ledger.open()
    return ledger, sub


def test_each_status_change_is_journaled_and_announced_once_with_its_latency(tmp_path):
    async def main():
        ledger, sub = await opened(tmp_path)
        audio = np.full(SAMPLE_RATE, 0.25, dtype=np.float32)
        await ledger.record(1, 7, audio, speech_end=1000.0)
        assert (await ledger.history.get(1)).status == "recorded"
        assert (await ledger.history.get(1)).audio_seconds == 1.0
        assert ledger.spool.path_for(1, 7).exists()
        assert drain(sub) == []  # numbering a phrase is no change of status

        await ledger.set(1, "transcribed", text="hello", transcribed_at=1000.4)
        await ledger.set(1, "typing")
        await ledger.note(1, "just a note")
        await ledger.set(1, "typed", typed_at=1000.9)
        events = drain(sub)
        assert [e["entry"]["status"] for e in events] == ["transcribed", "typed"]
        assert [round(e["latency"], 3) for e in events] == [0.4, 0.9]
        assert all(e["type"] == "phrase" and e["entry"]["text"] == "hello" for e in events)
        entry = await ledger.history.get(1)
        assert (entry.status, entry.note, entry.typed_at) == ("typed", "just a note", 1000.9)

        await ledger.unspool(1, 7)
        assert not ledger.spool.path_for(1, 7).exists()
        await ledger.close()

    run(main())


def test_changes_without_a_timestamp_measure_latency_from_now_and_unknown_phrases_publish_nothing(tmp_path):
    async def main():
        ledger, sub = await opened(tmp_path)
        await ledger.record(1, 1, np.zeros(160, dtype=np.float32), speech_end=None)
        await ledger.record(2, 1, np.zeros(160, dtype=np.float32), speech_end=1.0)
        await ledger.set(1, "failed", note="typing failed: gone")
        await ledger.set(2, "held", note="focus moved")
        assert await ledger.set(99, "typed") is None
        events = drain(sub)
        assert [(e["entry"]["seq"], e["entry"]["status"]) for e in events] == [(1, "failed"), (2, "held")]
        assert events[0]["latency"] is None  # no end of speech known
        assert events[1]["latency"] > 1e9  # seconds since the (epoch-relative) end of speech
        await ledger.close()

    run(main())


def test_open_settles_a_crash_and_numbers_on_from_the_journal_and_the_spool(tmp_path):
    async def main():
        ledger, _ = await opened(tmp_path)
        await ledger.record(3, 2, np.zeros(160, dtype=np.float32), None)
        await ledger.set(3, "typing")
        await ledger.spool.write(9, 5, np.zeros(160, dtype=np.float32))  # audio whose row never committed
        await ledger.close()

        again = Ledger(tmp_path, EventBus())
        assert await again.open() == (9, 5)  # the last phrase and recording numbers used
        assert (await again.history.get(3)).status == "interrupted"
        await again.close()

    run(main())


def test_recovered_phrase_is_journaled_announced_and_its_audio_dropped(tmp_path):
    async def main():
        ledger, sub = await opened(tmp_path)
        await ledger.spool.write(4, 2, np.zeros(SAMPLE_RATE, dtype=np.float32))
        [item] = ledger.spooled()
        await ledger.recovered(item, 1.0, "found words", "recovered from the spool after a crash; not typed")
        entry = await ledger.history.get(4)
        assert (entry.status, entry.text, entry.recording) == ("recovered", "found words", 2)
        assert entry.transcribed_at is not None
        assert ledger.spooled() == []
        [event] = drain(sub)
        assert event["entry"]["status"] == "recovered" and event["latency"] is None
        await ledger.close()

    run(main())


def _imports_and_calls(path: Path) -> tuple[set[str], set[str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    modules = {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    calls = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    return modules, calls


def test_no_other_server_module_writes_the_journal_or_announces_a_phrase_change():
    for path in sorted(SERVER.glob("*.py")):
        if path.name in ("ledger.py", "history.py"):
            continue
        modules, calls = _imports_and_calls(path)
        assert "history" not in modules, f"{path.name} imports the journal directly; go through the ledger"
        if path.name != "daemon.py":  # the daemon replays past entries to a new `tail`, it changes nothing
            assert "PhraseEvent" not in calls, f"{path.name} publishes a phrase event; only the ledger may"
