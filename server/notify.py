"""Optional desktop notifications through `notify-send`; a missing tool is skipped quietly."""

from __future__ import annotations

import asyncio
import logging
import shutil

from .injector import tool_env

log = logging.getLogger(__name__)


class Notifier:
    """Sends notifications when enabled; never blocks the loop and never raises."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._warned = False
        self._alerted: str | None = None

    async def __call__(self, summary: str, body: str = "", urgency: str = "normal") -> None:
        """Show one notification when enabled, fire and forget (bounded to 2 s)."""
        if self.enabled:
            await self._send(summary, body, urgency)

    async def alert(self, summary: str, body: str) -> None:
        """A problem the user must see (the microphone failed): shown even when notifications
        are off, but once per distinct problem until `clear_alert`, so repeated presses do not pile up."""
        if body == self._alerted:
            return
        self._alerted = body
        await self._send(summary, body, "critical")

    def clear_alert(self) -> None:
        """The problem went away: the next one is shown again."""
        self._alerted = None

    async def _send(self, summary: str, body: str, urgency: str) -> None:
        if shutil.which("notify-send") is None:
            if not self._warned:
                log.info("notify-send is not installed; desktop notifications are skipped")
                self._warned = True
            return
        try:
            proc = await asyncio.create_subprocess_exec(
                "notify-send", "--app-name=stt", f"--urgency={urgency}", "--expire-time=3000", summary, body,
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
                env=tool_env(),
            )  # fmt: skip
            await asyncio.wait_for(proc.wait(), 2.0)
        except (OSError, TimeoutError) as exc:
            if not self._warned:
                log.info("notify-send failed (%s); later failures are not logged", exc)
                self._warned = True
