"""events: every subscriber gets each event in order; one that stops reading is dropped, never waited on."""

from __future__ import annotations

import asyncio
import json

from stt_dictation.protocol.messages import ErrorCode, Fault
from stt_dictation.server.events import QUEUE_SIZE, EventBus, Subscriber


def _event(n: int):
    return Fault(code=ErrorCode.INVALID_COMMAND, message=f"fault {n}", at=float(n))


def test_fan_out_keeps_order_for_every_subscriber():
    async def go():
        bus = EventBus()
        a, b = bus.subscribe(lambda: None), bus.subscribe(lambda: None)
        for n in range(5):
            bus.publish(_event(n))
        return [[json.loads(s.queue.get_nowait())["message"] for _ in range(s.queue.qsize())] for s in (a, b)]

    a, b = asyncio.run(go())
    assert a == b == [f"fault {n}" for n in range(5)]


def test_a_stalled_subscriber_is_dropped_once_and_the_others_keep_getting_events():
    async def go():
        bus = EventBus()
        drops: list[str] = []
        stalled = bus.subscribe(lambda: drops.append("stalled"))
        reader = bus.subscribe(lambda: drops.append("reader"))
        for n in range(QUEUE_SIZE + 10):
            bus.publish(_event(n))
            reader.queue.get_nowait()  # this one keeps up
        return bus, stalled, drops

    bus, stalled, drops = asyncio.run(go())
    assert drops == ["stalled"]
    assert stalled.dropped and stalled.queue.qsize() == QUEUE_SIZE
    assert len(bus) == 1


def test_the_queue_is_bounded_by_its_size():
    drops = []
    sub = Subscriber(lambda: drops.append(1), size=2)
    for line in (b"1", b"2", b"3", b"4"):
        sub.offer(line)
    assert sub.queue.qsize() == 2 and drops == [1]


def test_unsubscribe_forgets_and_publish_without_subscribers_is_a_no_op():
    bus = EventBus()
    sub = bus.subscribe(lambda: None)
    bus.unsubscribe(sub)
    bus.publish(_event(0))
    assert len(bus) == 0 and sub.queue.empty()
