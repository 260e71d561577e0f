"""tasks: background work is tracked, a failure is logged (never lost), and cancel ends everything within its bound."""

from __future__ import annotations

import asyncio
import logging
import time

from stt_dictation.server.tasks import Tasks


def test_spawn_tracks_until_done():
    async def go():
        tasks = Tasks()
        t = tasks.spawn(asyncio.sleep(0.01, "done"), "nap")
        during = len(tasks)
        result = await t
        await asyncio.sleep(0)  # the done callback runs
        return during, result, len(tasks), t.get_name()

    assert asyncio.run(go()) == (1, "done", 0, "nap")


def test_a_failure_is_logged_with_the_task_name(caplog):
    async def boom():
        raise RuntimeError("kaput")

    async def go():
        tasks = Tasks()
        t = tasks.spawn(boom(), "exploder")
        await asyncio.wait({t})
        await asyncio.sleep(0)

    with caplog.at_level(logging.ERROR, logger="stt_dictation.server.tasks"):
        asyncio.run(go())
    (rec,) = [r for r in caplog.records if r.name == "stt_dictation.server.tasks"]
    assert "exploder" in rec.getMessage() and "kaput" in str(rec.exc_info[1])


def test_cancel_ends_every_task_and_a_stubborn_one_does_not_hold_it_past_the_timeout(caplog):
    async def stubborn():
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            await asyncio.sleep(0.6)  # slow to stop: longer than cancel waits

    async def go():
        tasks = Tasks()
        plain = tasks.spawn(asyncio.sleep(10), "plain")
        hard = tasks.spawn(stubborn(), "stubborn")
        await asyncio.sleep(0)
        t0 = time.monotonic()
        await tasks.cancel("shutdown", timeout=0.2)
        took = time.monotonic() - t0
        state = (plain.cancelled(), hard.done())
        return took, state

    with caplog.at_level(logging.ERROR):
        took, (plain_cancelled, hard_done) = asyncio.run(go())
    assert plain_cancelled and not hard_done
    assert 0.15 < took < 1.0
    assert not [r for r in caplog.records if r.name == "stt_dictation.server.tasks"]  # a cancel is no failure
