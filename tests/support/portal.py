"""A stand-in xdg-desktop-portal offering GlobalShortcuts, for the Wayland hotkey's tests (no real backend here).

    with SessionBus(tmp_path) as bus:                      # tests/support/sni.py: a private dbus-daemon
        async with Portal(bus.address) as portal:          # owns org.freedesktop.portal.Desktop
            ...                                            # sttd or PortalHotkey connects and binds
            session, shortcuts = await portal.wait_bound()
            portal.press(); portal.release()               # Activated / Deactivated for "dictate"

It follows data/org.freedesktop.portal.{GlobalShortcuts,Request,Session}.xml: each call
answers with a Request path built from the caller's unique name and its handle_token,
then a Response signal on that object carries the results.
"""

from __future__ import annotations

import asyncio
import time

from dbus_fast import BusType, Message, MessageType, Variant
from dbus_fast.aio import MessageBus
from dbus_fast.constants import PropertyAccess
from dbus_fast.service import ServiceInterface, dbus_property, method, signal

NAME = "org.freedesktop.portal.Desktop"
PATH = "/org/freedesktop/portal/desktop"
SHORTCUTS = "org.freedesktop.portal.GlobalShortcuts"


class _Request(ServiceInterface):
    def __init__(self) -> None:
        super().__init__("org.freedesktop.portal.Request")

    @method()
    def Close(self):  # noqa: N802
        pass

    @signal()
    def Response(self, response: "u", results: "a{sv}") -> "ua{sv}":  # noqa: N802, F821
        return [response, results]


class _Session(ServiceInterface):
    def __init__(self, portal: Portal, path: str) -> None:
        super().__init__("org.freedesktop.portal.Session")
        self.portal, self.path = portal, path

    @method()
    def Close(self):  # noqa: N802
        self.portal.closed.append(self.path)

    @signal()
    def Closed(self, details: "a{sv}") -> "a{sv}":  # noqa: F821
        return details

    @dbus_property(access=PropertyAccess.READ)
    def version(self) -> "u":  # noqa: F821
        return 1


class _GlobalShortcuts(ServiceInterface):
    def __init__(self, portal: Portal) -> None:
        super().__init__(SHORTCUTS)
        self.portal = portal

    @method()
    def CreateSession(self, options: "a{sv}") -> "o":  # noqa: N802, F821
        p = self.portal
        session = f"{PATH}/session/{p.caller_path}/{options['session_handle_token'].value}"
        p.sessions[session] = _Session(p, session)
        p.bus.export(session, p.sessions[session])
        return p.respond(options, p.create_code, {"session_handle": Variant("s", session)}, silent=False)

    @method()
    def BindShortcuts(self, session_handle: "o", shortcuts: "a(sa{sv})", parent_window: "s", options: "a{sv}") -> "o":  # noqa: N802, F821
        p = self.portal
        asked = {sid: {k: v.value for k, v in opts.items()} for sid, opts in shortcuts}
        p.binds.append((session_handle, asked))
        granted = [] if p.bind_nothing else [[sid, {"description": Variant("s", o.get("description", "")), "trigger_description": Variant("s", f"Press {o.get('preferred_trigger', '?')}")}] for sid, o in asked.items()]
        if session_handle in p.sessions and p.bind_code == 0:
            p.bound[session_handle] = asked
        return p.respond(options, p.bind_code, {"shortcuts": Variant("a(sa{sv})", granted)}, silent=p.bind_silent)

    @method()
    def ListShortcuts(self, session_handle: "o", options: "a{sv}") -> "o":  # noqa: N802, F821
        p = self.portal
        listed = [[sid, {"description": Variant("s", o.get("description", ""))}] for sid, o in p.bound.get(session_handle, {}).items()]
        return p.respond(options, 0, {"shortcuts": Variant("a(sa{sv})", listed)}, silent=False)

    @signal()
    def Activated(self, session_handle: "o", shortcut_id: "s", timestamp: "t", options: "a{sv}") -> "osta{sv}":  # noqa: N802, F821
        return [session_handle, shortcut_id, timestamp, options]

    @signal()
    def Deactivated(self, session_handle: "o", shortcut_id: "s", timestamp: "t", options: "a{sv}") -> "osta{sv}":  # noqa: N802, F821
        return [session_handle, shortcut_id, timestamp, options]

    @dbus_property(access=PropertyAccess.READ)
    def version(self) -> "u":  # noqa: F821
        return self.portal.version


class _Other(ServiceInterface):
    """What a portal without a GlobalShortcuts backend still has at its path."""

    def __init__(self) -> None:
        super().__init__("org.freedesktop.portal.Settings")

    @dbus_property(access=PropertyAccess.READ)
    def version(self) -> "u":  # noqa: F821
        return 2


class Portal:
    """Owns org.freedesktop.portal.Desktop on `address`; with `shortcuts=False` it offers no GlobalShortcuts.

    create_code / bind_code: the Response codes (0 success, 1 cancelled, 2 other); bind_nothing: the
    user bound nothing; bind_silent: no Response to BindShortcuts (a dialog nobody answers); respond_early: send
    the Response before the method's reply (a caller that subscribes after its call misses it).
    """

    def __init__(self, address: str, shortcuts: bool = True, version: int = 2, create_code: int = 0, bind_code: int = 0,
                 bind_nothing: bool = False, bind_silent: bool = False, respond_early: bool = False, response_delay: float = 0.05) -> None:  # fmt: skip
        self.address, self.shortcuts, self.version = address, shortcuts, version
        self.create_code, self.bind_code, self.bind_nothing, self.bind_silent, self.respond_early = create_code, bind_code, bind_nothing, bind_silent, respond_early
        self.response_delay = response_delay  # seconds from a method's reply to its Response (a dialog takes longer)
        self.iface = _GlobalShortcuts(self)
        self.sessions: dict[str, _Session] = {}
        self.binds: list[tuple[str, dict]] = []  # (session, {shortcut id: {description, preferred_trigger}}) per BindShortcuts
        self.bound: dict[str, dict] = {}  # session -> what was bound there
        self.closed: list[str] = []  # sessions the client closed
        self.caller_path = ""  # the caller's unique name, ':' dropped and '.' as '_', for the method being run
        self.bus: MessageBus = None  # type: ignore[assignment]

    async def __aenter__(self) -> Portal:
        self.bus = await MessageBus(bus_address=self.address, bus_type=BusType.SESSION).connect()
        self.bus.add_message_handler(self._note_caller)
        self.bus.export(PATH, self.iface if self.shortcuts else _Other())
        await self.bus.request_name(NAME)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.bus.disconnect()

    def _note_caller(self, msg: Message) -> None:
        """Runs just before the exported method for the same message: the service API does not pass the sender."""
        if msg.message_type == MessageType.METHOD_CALL and msg.sender:
            self.caller_path = msg.sender[1:].replace(".", "_")

    def respond(self, options: dict, code: int, results: dict, silent: bool) -> str:
        """The Request path for this call; its Response follows the reply (or precedes it, with respond_early)."""
        path = f"{PATH}/request/{self.caller_path}/{options['handle_token'].value}"
        request = _Request()
        self.bus.export(path, request)

        def send() -> None:
            request.Response(code, results)
            self.bus.unexport(path, request)

        if silent:
            pass
        elif self.respond_early:
            send()
        else:
            asyncio.get_running_loop().call_later(self.response_delay, send)
        return path

    async def wait_bound(self, timeout: float = 10.0) -> tuple[str, dict]:
        """The session and shortcuts of the first BindShortcuts call."""
        deadline = time.monotonic() + timeout
        while not self.binds:
            if time.monotonic() > deadline:
                raise AssertionError(f"no BindShortcuts within {timeout} s (sessions: {list(self.sessions)})")
            await asyncio.sleep(0.02)
        return self.binds[0]

    def _session(self, session: str | None) -> str:
        if session is None:
            assert self.bound, "nothing bound yet"
            session = next(iter(self.bound))
        return session

    def press(self, shortcut_id: str = "dictate", session: str | None = None) -> None:
        """The user pressed the shortcut: Activated."""
        self.iface.Activated(self._session(session), shortcut_id, int(time.monotonic() * 1000), {})

    def release(self, shortcut_id: str = "dictate", session: str | None = None) -> None:
        """The user let go of it: Deactivated."""
        self.iface.Deactivated(self._session(session), shortcut_id, int(time.monotonic() * 1000), {})

    def close_session(self, session: str | None = None) -> None:
        """The portal ends the session (the compositor restarted, say): Closed."""
        self.sessions[self._session(session)].Closed({})

    async def spoof(self, address: str, session: str | None = None) -> None:
        """Activated for our session, sent by another connection than the portal's: must be ignored."""
        other = await MessageBus(bus_address=address, bus_type=BusType.SESSION).connect()
        try:
            await other.send(Message.new_signal(PATH, SHORTCUTS, "Activated", "osta{sv}", [self._session(session), "dictate", 0, {}]))
        finally:
            other.disconnect()
