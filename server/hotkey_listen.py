"""Starting the built-in hotkey: X11 where there is an X session, else evdev (Wayland, consoles).

Whichever listener it is reads keys in a thread of its own and hands each command to
this event loop; the daemon's state machine does the rest, like for `stt toggle`.
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
from .hotkey_x11 import HotkeyError, X11Hotkey

log = logging.getLogger(__name__)

COMMANDS = {"toggle": Toggle, "start": Start, "stop": Stop}


def backend(environ: dict[str, str] | None = None) -> str:
    """`x11` in an X session; `evdev` on Wayland (an X grab there only works over X windows) or without a display."""
    env = os.environ if environ is None else environ
    return "x11" if env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY") else "evdev"


async def start_hotkey(settings, handle: Callable[..., Awaitable]) -> X11Hotkey | EvdevHotkey | None:
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

    try:
        chord = parse_chord(settings.hotkey, settings.hotkey_mode)
        if backend() == "x11":
            hotkey: X11Hotkey | EvdevHotkey = X11Hotkey(os.environ["DISPLAY"], chord, settings.hotkey_mode, from_thread)
        else:
            devices = sorted(glob.glob(os.path.expanduser(settings.hotkey_device))) if settings.hotkey_device else None
            hotkey = EvdevHotkey(chord, settings.hotkey_mode, from_thread, devices)
        await asyncio.to_thread(hotkey.start)
    except (HotkeyError, ValueError) as exc:
        log.error("%s", exc)
        return None
    return hotkey
