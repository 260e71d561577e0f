"""The ordered single writer: spoken order, exactly once, cancel, failures kept."""

import asyncio
import json

import numpy as np

from stt_dictation.server.events import EventBus
from stt_dictation.server.history import History
from stt_dictation.server.ledger import Ledger
from stt_dictation.server.typist import Ready, Typist
from tests.support.fakes import Keyboard


async def make(tmp_path, kb, first=1):
    ledger = Ledger(tmp_path, EventBus())
    await ledger.open()
    typist = Typist(kb, ledger, first_seq=first, focus_guard=False)
    task = asyncio.create_task(typist.run())
    return ledger.history, typist, task


async def settle(typist, task, hist):
    assert await typist.idle(5.0)
    task.cancel()
    await hist.close()


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 20))


def test_out_of_order_results_are_typed_in_spoken_order(tmp_path):
    async def main():
        kb = Keyboard(delay=0.01)
        hist, typist, task = await make(tmp_path, kb)
        for seq in range(1, 6):
            await hist.add(seq, 1, 1.0, None)
            typist.expect(seq)
        for seq in (5, 3, 4, 1, 2):
            typist.deliver(Ready(seq, 1, f"p{seq}"))
            await asyncio.sleep(0.005)
        await settle(typist, task, hist)
        assert kb.typed == ["p1", "p2", "p3", "p4", "p5"]  # as delivered: the pipeline joins (joiner.py)
        assert kb.max_active == 1

    run(main())


def test_a_later_recording_waits_for_the_earlier_one(tmp_path):
    async def main():
        kb = Keyboard(delay=0.02)
        hist, typist, task = await make(tmp_path, kb)
        for seq, rec in ((1, 1), (2, 1), (3, 2), (4, 2)):
            await hist.add(seq, rec, 1.0, None)
            typist.expect(seq)
        typist.deliver(Ready(3, 2, "second-a"))
        typist.deliver(Ready(4, 2, "second-b"))
        await asyncio.sleep(0.1)
        assert kb.typed == []  # recording 2 must not start before recording 1
        typist.deliver(Ready(2, 1, "first-b"))
        typist.deliver(Ready(1, 1, "first-a"))
        await settle(typist, task, hist)
        # Typed as delivered, in order: the spaces between phrases are the pipeline's (joiner.py).
        assert kb.typed == ["first-a", "first-b", "second-a", "second-b"]

    run(main())


def test_each_phrase_is_typed_once_even_if_delivered_twice(tmp_path):
    async def main():
        kb = Keyboard()
        hist, typist, task = await make(tmp_path, kb)
        await hist.add(1, 1, 1.0, None)
        typist.expect(1)
        typist.deliver(Ready(1, 1, "once"))
        typist.deliver(Ready(1, 1, "once"))
        await settle(typist, task, hist)
        assert kb.typed == ["once"]

    run(main())


def test_cancel_discards_untyped_phrases_and_empty_ones_advance(tmp_path):
    async def main():
        kb = Keyboard()
        hist, typist, task = await make(tmp_path, kb)
        for seq, rec in ((1, 1), (2, 2), (3, 3)):
            await hist.add(seq, rec, 1.0, None)
            typist.expect(seq)
        typist.cancel_recording(2)
        typist.deliver(Ready(3, 3, "kept"))
        typist.deliver(Ready(2, 2, "discarded"))
        typist.deliver(Ready(1, 1, None))  # filtered or empty: nothing to type
        await settle(typist, task, hist)
        assert kb.typed == ["kept"]

    run(main())
    statuses = asyncio.run(_statuses(tmp_path))
    assert statuses[2] == "cancelled" and statuses[3] == "typed"


async def _statuses(tmp_path):
    hist = History(tmp_path / "history.sqlite3")
    await hist.open()
    try:
        return {e.seq: e.status for e in await hist.recent(100)}
    finally:
        await hist.close()


def test_a_failed_phrase_is_kept_not_retried_and_later_ones_go_on(tmp_path):
    async def main():
        kb = Keyboard(fail_on={"bad"})
        hist, typist, task = await make(tmp_path, kb)
        for seq in (1, 2):
            await hist.add(seq, seq, 1.0, None)
            typist.expect(seq)
        typist.deliver(Ready(1, 1, "bad"))
        typist.deliver(Ready(2, 2, "good"))
        await settle(typist, task, hist)
        assert kb.typed == ["good"]

    run(main())
    hist = asyncio.run(_entries(tmp_path))
    assert hist[1].status == "failed"
    assert "display went away" in hist[1].note
    assert hist[2].status == "typed" and hist[2].typed_at is not None


async def _entries(tmp_path):
    hist = History(tmp_path / "history.sqlite3")
    await hist.open()
    try:
        return {e.seq: e for e in await hist.recent(100)}
    finally:
        await hist.close()


def test_focus_moved_mid_phrase_holds_the_rest_and_paste_types_it(tmp_path):
    class Switching(Keyboard):
        async def type(self, text):
            await super().type(text)
            self.window = "B"  # the user clicked elsewhere after the first chunk

    async def main():
        kb = Switching()
        kb.window = "A"
        bus = EventBus()
        sub = bus.subscribe(lambda: None)
        ledger = Ledger(tmp_path, bus)
        await ledger.open()
        typist = Typist(kb, ledger, focus_guard=True)
        task = asyncio.create_task(typist.run())
        words = " ".join(f"word{i}" for i in range(30))
        await ledger.record(1, 1, np.zeros(160, dtype=np.float32), speech_end=1.0)
        typist.expect(1)
        typist.deliver(Ready(1, 1, words, window="A"))
        assert await typist.idle(5.0)
        held = (await ledger.history.get(1)).status
        assert len(kb.typed) == 1 and len(typist.held) == 1
        assert await typist.paste() == 1
        entry = await ledger.history.get(1)
        task.cancel()
        await ledger.close()
        statuses = [json.loads(sub.queue.get_nowait())["entry"]["status"] for _ in range(sub.queue.qsize())]
        return kb, held, entry, statuses, words

    kb, held, entry, statuses, words = run(main())
    assert held == "held"
    assert kb.typed[0] + " " + kb.typed[1] == words  # the rest, typed by paste where focus is now
    assert (entry.status, entry.note) == ("typed", "typed by `stt paste`")
    assert statuses == ["held", "typed"]  # one event per change, through the ledger (typing is a quiet mark)


class Desk(Keyboard):
    """A keyboard whose focus moves to window B once `switch_after` typing calls went through."""

    def __init__(self, switch_after: int, **kw):
        super().__init__(**kw)
        self.window, self.switch_after = "A", switch_after

    async def type(self, text):
        await super().type(text)
        if len(self.typed) >= self.switch_after:
            self.window = "B"


async def guarded(tmp_path, kb, n):
    ledger = Ledger(tmp_path, EventBus())
    await ledger.open()
    typist = Typist(kb, ledger, focus_guard=True)
    task = asyncio.create_task(typist.run())
    for seq in range(1, n + 1):
        await ledger.record(seq, 1, np.zeros(160, dtype=np.float32), speech_end=1.0)
        typist.expect(seq)
    return ledger, typist, task


def test_once_a_phrase_is_held_the_later_ones_of_its_recording_are_held_behind_it(tmp_path):
    async def main():
        kb = Desk(switch_after=1)
        ledger, typist, task = await guarded(tmp_path, kb, 3)
        typist.deliver(Ready(1, 1, "one", window="A"))
        await asyncio.sleep(0.05)  # typed into A; then the user clicked into B
        typist.deliver(Ready(2, 1, " two", window="A"))
        await asyncio.sleep(0.05)
        kb.window = "A"  # and back: phrase 3 must still not jump ahead of phrase 2
        typist.deliver(Ready(3, 1, " three", window="A"))
        assert await typist.idle(5.0)
        before_paste = list(kb.typed)
        statuses = [(await ledger.history.get(s)).status for s in (1, 2, 3)]
        assert await typist.paste() == 2
        after = [(await ledger.history.get(s)).status for s in (1, 2, 3)]
        task.cancel()
        await ledger.close()
        return kb, before_paste, statuses, after, typist

    kb, before_paste, statuses, after, typist = run(main())
    assert before_paste == ["one"]  # "three" was not typed into A ahead of "two"
    assert statuses == ["typed", "held", "held"]
    # The held rest starts the new window bare; the phrase behind it keeps its joining space.
    assert kb.typed == ["one", "two", " three"] and after == ["typed"] * 3 and typist.held == []


def test_a_paste_that_fails_keeps_that_phrase_and_the_rest_held_in_order(tmp_path):
    async def main():
        kb = Desk(switch_after=0, fail_on={"two"})
        kb.window = "B"  # focus moved before the first phrase: all three are held
        ledger, typist, task = await guarded(tmp_path, kb, 3)
        for seq, text in ((1, "one"), (2, " two"), (3, " three")):
            typist.deliver(Ready(seq, 1, text, window="A"))
        assert await typist.idle(5.0)
        first = await typist.paste()  # "one" types, "two" fails
        held = [r.seq for r in typist.held]
        note = (await ledger.history.get(2)).note
        kb.fail_on = set()
        second = await typist.paste()
        statuses = [(await ledger.history.get(s)).status for s in (1, 2, 3)]
        task.cancel()
        await ledger.close()
        return kb, first, held, note, second, statuses

    kb, first, held, note, second, statuses = run(main())
    assert first == 1 and held == [2, 3] and "paste` failed: display went away" in note
    assert second == 2 and kb.typed == ["one", " two", " three"] and statuses == ["typed"] * 3
