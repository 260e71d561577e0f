"""Suspend: on logind's PrepareForSleep the recording in progress ends and the microphone closes before the machine sleeps.

A stream left open across a suspend stalls (the watchdog then calls it an error);
closing it first keeps what was said. While sttd runs it holds a logind "delay"
inhibitor, so the system waits (up to logind's InhibitDelayMaxSec) until the
microphone is closed; the lock is taken again on resume. Where there is no system
bus or no logind, one INFO line says so and nothing else changes.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable

from .tasks import Tasks

log = logging.getLogger(__name__)

LOGIND = "org.freedesktop.login1"
LOGIND_PATH = "/org/freedesktop/login1"
MANAGER = "org.freedesktop.login1.Manager"
DEFAULT_SYSTEM_BUS = "unix:path=/run/dbus/system_bus_socket"
BUS_TIMEOUT = 2.0
"""Every call on the system bus is bounded by this."""


class SleepWatch:
    """Calls `before_sleep` (bounded) when logind announces a suspend, holding a delay lock meanwhile."""

    def __init__(self, before_sleep: Callable[[], Awaitable[None]]) -> None:
        self._before_sleep = before_sleep
        self._bus = None
        self._fd: int | None = None
        self._tasks = Tasks()

    async def start(self) -> bool:
        """Listen on the system bus; False where there is none (then suspend is left to the watchdog)."""
        address = os.environ.get("DBUS_SYSTEM_BUS_ADDRESS") or DEFAULT_SYSTEM_BUS
        try:
            from dbus_fast import Message
            from dbus_fast.aio import MessageBus

            self._bus = await asyncio.wait_for(MessageBus(bus_address=address, negotiate_unix_fd=True).connect(), BUS_TIMEOUT)
            rule = f"type='signal',sender='{LOGIND}',interface='{MANAGER}',member='PrepareForSleep',path='{LOGIND_PATH}'"
            await self._call(Message(destination="org.freedesktop.DBus", path="/org/freedesktop/DBus", interface="org.freedesktop.DBus",
                                     member="AddMatch", signature="s", body=[rule]))  # fmt: skip
            self._bus.add_message_handler(self._on_message)
        except Exception as exc:
            log.info("no suspend signal from logind (%s); a recording open across a suspend ends as an error", exc)
            await self.close()
            return False
        await self._inhibit()
        return True

    async def _call(self, message):
        from dbus_fast import MessageType

        reply = await asyncio.wait_for(self._bus.call(message), BUS_TIMEOUT)
        if reply.message_type == MessageType.ERROR:
            raise RuntimeError(f"{message.member}: {reply.error_name} {reply.body}")
        return reply

    async def _inhibit(self) -> None:
        """Take the delay lock (logind hands over a file descriptor; closing it releases the lock)."""
        from dbus_fast import Message

        try:
            reply = await self._call(Message(destination=LOGIND, path=LOGIND_PATH, interface=MANAGER, member="Inhibit", signature="ssss",
                                             body=["sleep", "stt", "close the microphone before sleep", "delay"]))  # fmt: skip
        except Exception as exc:
            log.info("no sleep delay lock from logind (%s); the microphone closes as the machine sleeps", exc)
            return
        fds = reply.unix_fds or []
        index = reply.body[0] if reply.body else None
        self._release()
        self._fd = fds[index] if isinstance(index, int) and 0 <= index < len(fds) else None

    def _release(self) -> None:
        if self._fd is not None:
            try:
                os.close(self._fd)
            except OSError:
                pass
            self._fd = None

    def _on_message(self, msg) -> bool:
        if msg.interface == MANAGER and msg.member == "PrepareForSleep" and msg.body:
            if msg.body[0]:
                self._tasks.spawn(self._sleeping(), "before-sleep")
            else:
                log.info("resumed from suspend")
                self._tasks.spawn(self._inhibit(), "inhibit")
        return False  # others may handle it too

    async def _sleeping(self) -> None:
        log.info("the system is going to sleep: closing the microphone")
        try:
            await asyncio.wait_for(self._before_sleep(), BUS_TIMEOUT)
        except Exception as exc:
            log.warning("getting ready for sleep failed: %s", exc)
        finally:
            self._release()  # let it sleep

    async def close(self) -> None:
        """Stop listening and release the lock."""
        await self._tasks.cancel("server shutting down")
        self._release()
        if self._bus is not None:
            self._bus.disconnect()
            self._bus = None
