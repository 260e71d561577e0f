"""Background tasks that are tracked, logged when they fail, and cancelled together at shutdown."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine

log = logging.getLogger(__name__)


class Tasks:
    """A set of running tasks owned by one stage."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task] = set()

    def spawn(self, coro: Coroutine, name: str) -> asyncio.Task:
        """Run `coro` in the background; a failure is logged, never lost."""
        t = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(t)
        t.add_done_callback(self._reap)
        return t

    def _reap(self, t: asyncio.Task) -> None:
        self._tasks.discard(t)
        if not t.cancelled() and t.exception() is not None:
            log.error("task %s failed", t.get_name(), exc_info=t.exception())

    async def cancel(self, why: str, timeout: float = 0.5) -> None:
        """Cancel every task and give them `timeout` seconds to finish."""
        tasks = set(self._tasks)
        for t in tasks:
            t.cancel(why)
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)

    def __len__(self) -> int:
        return len(self._tasks)
