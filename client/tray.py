"""`stt tray`: a StatusNotifierItem that follows sttd's events, in its own process so it never slows the server.

It subscribes like `stt tail`, asks for `status` after each event (coalesced, and once a
second while recording for the seconds), and survives sttd restarts by reconnecting.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import signal
import sys

from dbus_fast import BusType, Message, MessageType
from dbus_fast.aio import MessageBus

from ..protocol.wire import EXIT_OK
from . import tray_link
from .tray_item import ITEM_PATH, Item, Look
from .tray_menu import MENU_PATH, Item as MenuItem, Menu

log = logging.getLogger(__name__)

WATCHER = "org.kde.StatusNotifierWatcher"
RECENT = 5
"""Transcripts the Recent submenu keeps."""
RETRY = 1.0
"""Seconds between tries to reach a stopped sttd."""
TOGGLE, CANCEL, PASTE, RECENT_MENU, SEP, SHUTDOWN, QUIT = 1, 2, 3, 4, 5, 6, 7
RECENT_BASE = 100


def look(st: dict | None, fault: str | None = None) -> Look:
    """Icon, status and tooltip for a status reply (None: sttd is not running)."""
    if st is None:
        return Look("Active", "process-stop", "stt: sttd is not running", "start it with: sttd")
    state, pending = st["state"], st.get("pending", 0)
    extra = f"\nlast fault: {fault}" if fault and state != "error" else ""
    if state == "error":
        return Look("NeedsAttention", "dialog-error", "stt: error", st.get("error") or "unknown error")
    if state == "recording":
        tip = f"recording {st.get('recording_seconds', 0.0):.0f} s" + (f", {pending} phrase(s) pending" if pending else "")
        return Look("NeedsAttention", "media-record", "stt: recording", tip + extra)
    if state == "loading":
        return Look("Active", "process-working", "stt: loading", f"loading the model {st.get('model')}")
    if pending:
        return Look("Active", "view-refresh", "stt: transcribing", f"transcribing {pending} phrase(s)" + extra)
    tip = f"idle: model {st.get('model')}, typing via {st.get('injector')}"
    if st.get("held"):
        tip += f"\n{st['held']} phrase(s) held: Paste held text types them"
    return Look("Active", "audio-input-microphone", "stt: idle", tip + extra)


def menu_items(st: dict | None, recent: list[tuple[int, str]]) -> list[MenuItem]:
    """The menu for a status reply and the recent transcripts (newest first)."""
    up = st is not None
    recording = up and st["state"] == "recording"
    subs = tuple(MenuItem(RECENT_BASE + i, text if len(text) <= 60 else text[:59] + "…") for i, (_, text) in enumerate(recent))
    return [
        MenuItem(TOGGLE, "Stop recording" if recording else "Start recording", enabled=up and st["state"] in ("idle", "recording", "error")),
        MenuItem(CANCEL, "Cancel recording", enabled=recording),
        MenuItem(PASTE, f"Paste held text ({st['held']})" if up and st.get("held") else "Paste held text", visible=bool(up and st.get("held"))),
        MenuItem(RECENT_MENU, "Recent transcripts", enabled=bool(subs), children=subs),
        MenuItem(SEP, separator=True),
        MenuItem(QUIT, "Quit tray"),
        MenuItem(SHUTDOWN, "Stop sttd", enabled=up),
    ]


async def copy(text: str) -> None:
    """Put text on the clipboard with wl-copy or xclip (they keep serving it after we return)."""
    if os.environ.get("WAYLAND_DISPLAY") and shutil.which("wl-copy"):
        argv = ["wl-copy"]
    elif os.environ.get("DISPLAY") and shutil.which("xclip"):
        argv = ["xclip", "-selection", "clipboard"]
    else:
        log.warning("cannot copy: neither wl-copy (Wayland) nor xclip (X11) is available")
        return
    proc = await asyncio.create_subprocess_exec(*argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    try:
        await asyncio.wait_for(proc.communicate(text.encode()), 5.0)
    except TimeoutError:
        log.warning("%s did not take the text within 5 s", argv[0])
        return
    log.debug("copied %d characters with %s (exit %s)", len(text), argv[0], proc.returncode)


class Tray:
    """The icon, the menu and the link to sttd."""

    def __init__(self, bus: MessageBus) -> None:
        self.bus = bus
        self.name = f"org.kde.StatusNotifierItem-{os.getpid()}-1"
        self.status: dict | None = None
        self.fault: str | None = None
        self.recent: dict[int, str] = {}
        self.quit = asyncio.Event()
        self._dirty = asyncio.Event()
        self._tasks: set[asyncio.Task] = set()
        self.item = Item(look(None), lambda: self._command("toggle"))
        self.menu = Menu(self._click)
        self.menu.set(menu_items(None, []))

    def _spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _recent(self) -> list[tuple[int, str]]:
        return sorted(self.recent.items(), reverse=True)

    def render(self) -> None:
        self.item.show(look(self.status, self.fault))
        self.menu.set(menu_items(self.status, self._recent()))

    def _click(self, item_id: int) -> None:
        log.debug("menu item %d clicked", item_id)
        if item_id == TOGGLE:
            self._command("toggle")
        elif item_id == CANCEL:
            self._command("cancel")
        elif item_id == PASTE:
            self._command("paste")
        elif item_id == SHUTDOWN:
            self._command("shutdown")
        elif item_id == QUIT:
            self.quit.set()
        elif item_id >= RECENT_BASE:
            recent = self._recent()
            if item_id - RECENT_BASE < len(recent):
                self._spawn(copy(recent[item_id - RECENT_BASE][1]))

    def _command(self, name: str) -> None:
        async def send() -> None:
            try:
                reply = await tray_link.request({"type": name})
            except tray_link.Gone as exc:
                log.warning("%s: sttd is not reachable (%s)", name, exc)
                return
            if reply.get("type") == "error":
                self.fault = reply.get("message")
            self._dirty.set()

        self._spawn(send())

    def on_event(self, ev: dict) -> None:
        kind = ev.get("type")
        if kind == "phrase":
            e = ev.get("entry", {})
            if e.get("text") and e.get("status") in ("typed", "held", "transcribed", "recovered"):
                self.recent[e["seq"]] = e["text"]
                for seq in sorted(self.recent)[:-RECENT]:
                    del self.recent[seq]
        elif kind == "fault":
            self.fault = ev.get("message")
        elif kind == "recording_started":
            self.fault = None
        self._dirty.set()

    async def follow(self) -> None:
        """Events from sttd, reconnecting forever; the icon says when it is not running."""
        while True:
            try:
                async for ev in tray_link.events(RECENT):
                    self.on_event(ev)  # the first is the subscription's ok: ask for status then too
            except tray_link.Gone as exc:
                log.debug("sttd link: %s", exc)
            if self.status is not None:
                self.status = None
                self.render()
            await asyncio.sleep(RETRY)
            self._dirty.set()

    async def refresh(self) -> None:
        """Ask for status when something happened (coalesced), and every second while recording."""
        while True:
            tick = 1.0 if self.status and self.status["state"] in ("recording", "loading") else None
            try:
                await asyncio.wait_for(self._dirty.wait(), tick)
            except TimeoutError:
                pass
            self._dirty.clear()
            try:
                self.status = await tray_link.request({"type": "status"})
                if self.status.get("type") != "status":
                    self.status = None
            except tray_link.Gone:
                self.status = None
            self.render()

    async def register(self) -> None:
        """Tell the watcher about the item (again after the panel restarts)."""
        await self.bus.call(
            Message(destination=WATCHER, path="/StatusNotifierWatcher", interface=WATCHER, member="RegisterStatusNotifierItem", signature="s", body=[self.name])
        )


async def _bus_call(bus: MessageBus, member: str, signature: str, body: list) -> Message:
    return await bus.call(Message(destination="org.freedesktop.DBus", path="/org/freedesktop/DBus", interface="org.freedesktop.DBus", member=member, signature=signature, body=body))


async def serve() -> int:
    try:
        bus = await MessageBus(bus_type=BusType.SESSION).connect()
    except Exception as exc:  # no bus address, refused, ...: nothing to show an icon on
        print(f"stt tray: no D-Bus session bus ({exc}); nothing to show the icon on", file=sys.stderr)
        return EXIT_OK
    owner = await _bus_call(bus, "NameHasOwner", "s", [WATCHER])
    if owner.message_type != MessageType.METHOD_RETURN or not owner.body[0]:
        print("stt tray: no StatusNotifierWatcher on the session bus (no tray in this panel); exiting", file=sys.stderr)
        bus.disconnect()
        return EXIT_OK
    tray = Tray(bus)
    bus.export(ITEM_PATH, tray.item)
    bus.export(MENU_PATH, tray.menu)
    await bus.request_name(tray.name)

    def on_message(msg: Message) -> None:
        if msg.member == "NameOwnerChanged" and msg.body and msg.body[0] == WATCHER and msg.body[2]:
            tray._spawn(tray.register())

    bus.add_message_handler(on_message)
    await _bus_call(bus, "AddMatch", "s", [f"type='signal',interface='org.freedesktop.DBus',member='NameOwnerChanged',arg0='{WATCHER}'"])
    await tray.register()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, tray.quit.set)
    jobs = [loop.create_task(tray.follow()), loop.create_task(tray.refresh())]
    bus_gone = loop.create_task(bus.wait_for_disconnect())
    quit_ = loop.create_task(tray.quit.wait())
    await asyncio.wait([bus_gone, quit_], return_when=asyncio.FIRST_COMPLETED)
    for job in (*jobs, bus_gone, quit_):
        job.cancel()
    bus.disconnect()
    return EXIT_OK


def main(rest: list[str]) -> int:
    """`stt tray`: the panel icon; exits 0 where there is no tray to show it in."""
    argparse.ArgumentParser(prog="stt tray", description="a tray icon and menu for sttd (StatusNotifierItem)").parse_args(rest)
    logging.basicConfig(level=os.environ.get("STT_TRAY_LOG", "WARNING").upper(), format="stt tray: %(message)s")
    return asyncio.run(serve())
