"""Starting the built-in hotkey: X11 in an X session; on Wayland the GlobalShortcuts portal where
offered, else evdev (also on consoles).

The X11 and evdev listeners read keys in a thread of their own and hand each command to this
event loop; the portal listener is on this loop already. The daemon's state machine does the
rest, like for `stt toggle`.
"""

from __future__ import annotations

import asyncio
import glob
import logging
import os
import time
from collections.abc import Awaitable, Callable

from ..protocol.commands import Start, Stop, Toggle
from .hotkey import parse_chord
from .hotkey_evdev import EvdevHotkey
from .hotkey_portal import PortalHotkey
from .hotkey_x11 import HotkeyError, X11Hotkey

log = logging.getLogger(__name__)

COMMANDS = {"toggle": Toggle, "start": Start, "stop": Stop}


def backend(environ: dict[str, str] | None = None) -> str:
    """`x11` in an X session; `evdev` on Wayland (an X grab there only works over X windows) or without a display.

    On Wayland `start_hotkey` asks the GlobalShortcuts portal first; evdev is what is left without one.
    """
    env = os.environ if environ is None else environ
    return "x11" if env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY") else "evdev"


Listener = X11Hotkey | EvdevHotkey | PortalHotkey


async def stop_hotkey(hotkey: Listener) -> None:
    """X11 and evdev join their thread (off the loop); the portal closes its session on the loop."""
    if isinstance(hotkey, PortalHotkey):
        await hotkey.aclose()
    else:
        await asyncio.to_thread(hotkey.close)


async def start_hotkey(settings, handle: Callable[..., Awaitable]) -> Listener | None:
    """The configured hotkey, listening; None when it is off or cannot be had (logged: sttd runs on without it).

    `handle` is the daemon's command handler: each press becomes a task on this loop.
    """
    if not settings.hotkey:
        return None
    loop = asyncio.get_running_loop()
    tasks: set[asyncio.Task] = set()

    async def run(command: str, pressed: float) -> None:
        reply = await handle(COMMANDS[command]())
        # For start: the reply comes once the microphone delivers audio, so this is press -> recording.
        log.info("hotkey %s: %s in %.1f ms", command, getattr(reply, "message", reply), 1000 * (time.monotonic() - pressed))

    def post(command: str, pressed: float) -> None:
        task = loop.create_task(run(command, pressed))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    def from_thread(command: str, pressed: float) -> None:
        loop.call_soon_threadsafe(post, command, pressed)

    async def evdev() -> EvdevHotkey | None:
        devices = sorted(glob.glob(os.path.expanduser(settings.hotkey_device))) if settings.hotkey_device else None
        try:
            hotkey = EvdevHotkey(chord, settings.hotkey_mode, from_thread, devices)
            await asyncio.to_thread(hotkey.start)
        except HotkeyError as exc:
            log.error("%s", exc)
            return None
        return hotkey

    try:
        chord = parse_chord(settings.hotkey, settings.hotkey_mode)
        if backend() == "x11":
            hotkey = X11Hotkey(os.environ["DISPLAY"], chord, settings.hotkey_mode, from_thread)
            await asyncio.to_thread(hotkey.start)
            return hotkey
        if os.environ.get("WAYLAND_DISPLAY"):
            portal = await _portal(chord, settings.hotkey_mode, post)
            if portal is not None:
                portal.bind_later(evdev)  # a dialog may wait for the user: sttd starts meanwhile
                return portal
        return await evdev()
    except (HotkeyError, ValueError) as exc:
        log.error("%s", exc)
        return None


async def _portal(chord, mode, post: Callable[[str, float], None]) -> PortalHotkey | None:
    """A GlobalShortcuts session, or None (one log line says why) for evdev to take over."""
    if mode == "double-tap":
        log.info("hotkey: double-tap needs a lone modifier's taps, which the GlobalShortcuts portal does not report; trying evdev")
        return None
    portal = PortalHotkey(chord, mode, post)
    try:
        await portal.start()
    except HotkeyError as exc:
        log.info("%s; trying evdev", exc)
        return None
    return portal
