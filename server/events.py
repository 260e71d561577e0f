"""Fan-out of events to `stt tail` subscribers, each with a bounded queue."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from pydantic import BaseModel

from ..protocol.framing import encode

log = logging.getLogger(__name__)

QUEUE_SIZE = 256
"""Events a subscriber may lag behind before it is dropped."""


class Subscriber:
    """One `tail` connection: a bounded queue of encoded lines and a drop callback."""

    def __init__(self, on_drop: Callable[[], None], size: int = QUEUE_SIZE) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=size)
        self._on_drop = on_drop
        self.dropped = False

    def offer(self, line: bytes) -> None:
        """Queue a line without waiting; a full queue drops the subscriber."""
        if self.dropped:
            return
        try:
            self.queue.put_nowait(line)
        except asyncio.QueueFull:
            self.dropped = True
            log.warning("dropping a tail subscriber that stopped reading")
            self._on_drop()


class EventBus:
    """Publishes events to every subscriber; never waits on any of them."""

    def __init__(self) -> None:
        self._subscribers: set[Subscriber] = set()

    def subscribe(self, on_drop: Callable[[], None]) -> Subscriber:
        """Register a new subscriber."""
        sub = Subscriber(on_drop)
        self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        """Forget a subscriber."""
        self._subscribers.discard(sub)

    def publish(self, event: BaseModel) -> None:
        """Encode once and offer to every subscriber."""
        if not self._subscribers:
            return
        line = encode(event)
        for sub in list(self._subscribers):
            sub.offer(line)
            if sub.dropped:
                self._subscribers.discard(sub)

    def __len__(self) -> int:
        return len(self._subscribers)
