"""The built-in hotkey on Wayland through the xdg-desktop-portal GlobalShortcuts interface.

The compositor owns the key: sttd asks the portal (session bus, dbus-fast on the event
loop, no thread) to bind one shortcut, `dictate`, with the configured chord as its
preferred trigger, and turns its Activated/Deactivated signals into commands. No
/dev/input and no `input` group. The portal reports a shortcut's press and release, never
a lone modifier's taps, so double-tap is not offered here (hotkey_listen uses evdev).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from dbus_fast import BusType, Message, MessageType, Variant
from dbus_fast.aio import MessageBus

from .hotkey import Chord, Mode
from .hotkey_x11 import HotkeyError

log = logging.getLogger(__name__)

PORTAL = "org.freedesktop.portal.Desktop"
PATH = "/org/freedesktop/portal/desktop"
IFACE = "org.freedesktop.portal.GlobalShortcuts"
REQUEST = "org.freedesktop.portal.Request"
SESSION = "org.freedesktop.portal.Session"
SHORTCUT_ID = "dictate"
DESCRIPTION = "Dictate (stt)"

CALL_TIMEOUT = 5.0
"""Seconds for a portal call, and for CreateSession's Response (no user is asked there)."""
BIND_TIMEOUT = 60.0
"""Seconds for BindShortcuts' Response: the compositor may show a dialog where the user accepts or changes the key.
Binding runs in the background (`bind_later`), so this never holds up sttd's start."""

XDG_MODIFIERS = {"ctrl": "CTRL", "alt": "ALT", "shift": "SHIFT", "super": "LOGO"}
"""Our modifier names to the shortcuts spec's (xkbcommon's XKB_MOD_NAME_*)."""


def xdg_trigger(chord: Chord) -> str:
    """The chord in the XDG shortcuts spec's syntax: ctrl+alt+d -> CTRL+ALT+d, super+grave -> LOGO+grave."""
    mods = [XDG_MODIFIERS[m] for m in ("ctrl", "alt", "shift", "super") if m in chord.modifiers]
    return "+".join([*mods, chord.key])


def _token() -> str:
    """A handle token: a valid object-path element, unique and not guessable (the spec asks for both)."""
    return "stt_" + secrets.token_hex(8)


class PortalHotkey:
    """One GlobalShortcuts session: `start` opens it (HotkeyError when the portal is missing or refuses),
    `bind_later` binds the shortcut, `aclose` ends it all. Commands go to `post` on this loop."""

    def __init__(self, chord: Chord, mode: Mode, post: Callable[[str, float], None], address: str | None = None) -> None:
        if mode == "double-tap":
            raise HotkeyError("hotkey: double-tap needs a lone modifier's taps, which the GlobalShortcuts portal does not report")
        self.chord, self.mode, self.post, self.address = chord, mode, post, address
        self.trigger = xdg_trigger(chord)
        self.bus: MessageBus | None = None
        self.session: str | None = None
        self.version = 0
        self.owner = ""  # the portal's unique name: only its signals count
        self.held = False
        self.bound = asyncio.Event()  # set once the shortcut is bound or the binding gave up (then see `fallback`)
        self.fallback: Any = None  # the listener used instead when the portal would not bind
        self._responses: dict[str, asyncio.Future] = {}
        self._tasks: set[asyncio.Task] = set()

    async def _call(self, dest: str, path: str, iface: str, member: str, sig: str = "", body: list | None = None) -> list:
        if self.bus is None:
            raise HotkeyError(f"hotkey: {member}: the session bus is gone")
        msg = Message(destination=dest, path=path, interface=iface, member=member, signature=sig, body=body or [])
        try:
            reply = await asyncio.wait_for(self.bus.call(msg), CALL_TIMEOUT)
        except asyncio.TimeoutError:
            raise HotkeyError(f"hotkey: no answer to {member} within {CALL_TIMEOUT:.0f} s") from None
        except Exception as exc:  # the connection dropped under the call
            raise HotkeyError(f"hotkey: {member} failed: {exc or type(exc).__name__}") from exc
        if reply is None or reply.message_type == MessageType.ERROR:
            detail = reply.body[0] if reply is not None and reply.body else ""
            raise HotkeyError(f"hotkey: {member} failed: {reply.error_name if reply else 'no reply'} {detail}".rstrip())
        return reply.body

    async def start(self) -> None:
        """Connect to the session bus, check the portal offers GlobalShortcuts, and create a session."""
        try:
            kwargs = {"bus_address": self.address} if self.address else {}
            self.bus = await asyncio.wait_for(MessageBus(bus_type=BusType.SESSION, **kwargs).connect(), CALL_TIMEOUT)
        except Exception as exc:  # no DBUS_SESSION_BUS_ADDRESS, a dead socket, a timeout
            raise HotkeyError(f"hotkey: no session bus for the GlobalShortcuts portal ({exc or type(exc).__name__})") from exc
        try:
            try:  # the property, not introspection: xdg-desktop-portal exports the interface only with a backend for it
                (version,) = await self._call(PORTAL, PATH, "org.freedesktop.DBus.Properties", "Get", "ss", [IFACE, "version"])
                (self.owner,) = await self._call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "GetNameOwner", "s", [PORTAL])
            except HotkeyError as exc:
                raise HotkeyError(f"hotkey: no GlobalShortcuts portal on the session bus ({str(exc).removeprefix('hotkey: ')})") from exc
            self.version = version.value
            self.bus.add_message_handler(self._on_message)
            for rule in (f"type='signal',interface='{REQUEST}',member='Response'", f"type='signal',interface='{IFACE}'",
                         f"type='signal',interface='{SESSION}',member='Closed'"):  # fmt: skip
                await self._call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "AddMatch", "s", [rule])
            results = await self._request("CreateSession", "a{sv}", [{"session_handle_token": Variant("s", _token())}], CALL_TIMEOUT)
            if "session_handle" not in results:
                raise HotkeyError("hotkey: the portal's CreateSession gave no session handle")
            self.session = str(results["session_handle"].value)
        except Exception as exc:  # a refusal, or an answer not shaped as the spec says: either way, no portal hotkey
            await self._disconnect()
            if isinstance(exc, HotkeyError):
                raise
            raise HotkeyError(f"hotkey: the GlobalShortcuts portal answered oddly ({exc!r})") from exc
        self._watch(self.bus.wait_for_disconnect(), self._bus_gone)
        log.info("hotkey: GlobalShortcuts portal version %d, session %s", self.version, self.session)

    async def _request(self, member: str, sig: str, body: list, timeout: float) -> dict[str, Variant]:
        """Call a portal method that answers through a Request object, and wait for its Response's results.

        The handler listens for the Request path built from our handle token before the call,
        so a Response that comes before the reply is not lost; an older portal's other path is used too.
        """
        if self.bus is None or not self.bus.unique_name:
            raise HotkeyError(f"hotkey: {member}: the session bus is gone")
        token = _token()
        expected = f"{PATH}/request/{self.bus.unique_name[1:].replace('.', '_')}/{token}"
        future = asyncio.get_running_loop().create_future()
        self._responses[expected] = future
        try:
            body[-1] = {**body[-1], "handle_token": Variant("s", token)}
            (handle,) = await self._call(PORTAL, PATH, IFACE, member, sig, body)
            if handle != expected:
                self._responses[handle] = future
            code, results = await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            raise HotkeyError(f"hotkey: the portal did not answer {member} within {timeout:g} s") from None
        finally:
            self._responses = {p: f for p, f in self._responses.items() if f is not future}
        if code != 0:
            why = {1: "cancelled by the user", 2: "ended by the portal"}.get(code, "refused")
            raise HotkeyError(f"hotkey: the portal answered {member} with {code} ({why})")
        return results

    async def bind(self) -> None:
        """BindShortcuts for `dictate`; HotkeyError when refused, timed out, or the user bound nothing."""
        shortcut = [SHORTCUT_ID, {"description": Variant("s", DESCRIPTION), "preferred_trigger": Variant("s", self.trigger)}]
        results = await self._request("BindShortcuts", "oa(sa{sv})sa{sv}", [self.session, [shortcut], "", {}], BIND_TIMEOUT)
        bound = {sid: opts for sid, opts in results["shortcuts"].value} if "shortcuts" in results else {}
        if SHORTCUT_ID not in bound:
            raise HotkeyError("hotkey: the portal bound no shortcut (declined in its dialog?)")
        how = bound[SHORTCUT_ID].get("trigger_description")
        log.info("hotkey %s (%s) through the GlobalShortcuts portal, bound as %r", self.chord, self.mode, how.value if how else self.trigger)
        self.bound.set()

    def bind_later(self, fallback: Callable[[], Awaitable[Any]]) -> None:
        """Bind in the background; if the portal will not, log one line and use what `fallback()` gives (evdev)."""

        async def run() -> None:
            try:
                await self.bind()
            except Exception as exc:  # noqa: BLE001 - a refusal, a timeout, the bus gone, a malformed answer: all mean evdev
                log.warning("%s; falling back to evdev", exc if isinstance(exc, HotkeyError) else f"hotkey: binding failed ({exc!r})")
                await self._disconnect()
                self.fallback = await fallback()
                self.bound.set()

        self._watch(run())

    def _watch(self, coro: Awaitable, then: Callable[[], None] | None = None) -> None:
        """Run `coro` as a task this object cancels at close; `then()` when it ends by itself."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)

        def done(t: asyncio.Task) -> None:
            self._tasks.discard(t)
            if not t.cancelled():
                t.exception()  # retrieved: a dropped connection ends wait_for_disconnect with one
                if then is not None:
                    then()

        task.add_done_callback(done)

    def _bus_gone(self) -> None:
        if self.bus is None:  # our own disconnect
            return
        log.warning("hotkey: the session bus went away; the portal hotkey is off")
        self.bus = None
        for future in self._responses.values():  # a binding waiting on its Response gives up now, not at BIND_TIMEOUT
            if not future.done():
                future.set_exception(HotkeyError("hotkey: the session bus went away"))
        if self.held:  # push-to-talk held: no Deactivated will come
            self.held = False
            self.post("stop", time.monotonic())

    def _on_message(self, msg: Message) -> None:
        if msg.message_type != MessageType.SIGNAL or msg.sender != self.owner:
            return
        if msg.interface == REQUEST and msg.member == "Response":
            future = self._responses.get(msg.path)
            if future is not None and not future.done():
                future.set_result((msg.body[0], msg.body[1]))
        elif msg.interface == SESSION and msg.member == "Closed" and msg.path == self.session:
            log.warning("hotkey: the portal closed the GlobalShortcuts session; the portal hotkey is off")
        elif msg.interface == IFACE and msg.member in ("Activated", "Deactivated") and msg.body[:2] == [self.session, SHORTCUT_ID]:
            command = self._command(msg.member == "Activated")
            if command:
                self.post(command, time.monotonic())

    def _command(self, activated: bool) -> str | None:
        """Toggle: every activation (a compositor may never send Deactivated). Push-to-talk: start once while held, stop on release."""
        if self.mode == "toggle":
            return "toggle" if activated else None
        if activated == self.held:
            return None
        self.held = activated
        return "start" if activated else "stop"

    async def _disconnect(self) -> None:
        bus, self.bus = self.bus, None
        if bus is None:
            return
        if self.session:
            msg = Message(destination=PORTAL, path=self.session, interface=SESSION, member="Close")
            try:
                await asyncio.wait_for(bus.call(msg), 1.0)
            except Exception:  # noqa: BLE001 - the portal or bus may be gone already; the session ends with our connection anyway
                pass
        bus.disconnect()

    async def aclose(self) -> None:
        """Stop binding, close the session and the bus connection, and any fallback listener."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._disconnect()
        if self.fallback is not None:
            await asyncio.to_thread(self.fallback.close)
