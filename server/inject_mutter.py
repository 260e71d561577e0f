"""GNOME (Mutter): typing through the remote-desktop D-Bus interface, no root, no uinput, no extra tool.

A remote-desktop session dies with the D-Bus connection that created it, so one
connection and one session are kept for the daemon's life and made again when
either is lost. Characters are sent as keysyms; those the keymap may lack (anything
beyond printable ASCII: Mutter drops a keysym it cannot map, silently) go through
the session's own clipboard and a paste chord, the old clipboard served again after.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os

from .inject_base import InjectError, Injector, Refused, runs
from .inject_keys import chord_keys
from .window_class import TRY_WAIT, chords_for

log = logging.getLogger(__name__)

BUS_NAME = "org.gnome.Mutter.RemoteDesktop"
OBJECT = "/org/gnome/Mutter/RemoteDesktop"
SESSION = "org.gnome.Mutter.RemoteDesktop.Session"
TEXT_TYPES = ["text/plain;charset=utf-8", "text/plain", "UTF8_STRING", "STRING", "TEXT"]
KEYSYMS = {"ctrl": 0xFFE3, "shift": 0xFFE1, "alt": 0xFFE9, "super": 0xFFEB, "insert": 0xFF63, "v": 0x76}
SETTLE = 0.15
"""Seconds between Session.Start and the first key: mutter 43 lost the very first key sent at once."""
CALL_TIMEOUT = 5.0
PASTE_TIMEOUT = 2.0
"""Seconds the focused window has to ask for pasted text before that part counts as not typed."""
MANAGER_WAIT = 0.2
"""Seconds to wait for Mutter's clipboard manager to read a new selection before pressing paste."""


def keysym(char: str) -> int:
    """The X keysym of a character: Latin-1 is its code point, the rest 0x01000000 + code point."""
    code = ord(char)
    return code if 0x20 <= code <= 0x7E or 0xA0 <= code <= 0xFF else 0x01000000 + code


class MutterInjector(Injector):
    """`org.gnome.Mutter.RemoteDesktop` on the session bus, through dbus-fast."""

    name = "mutter"

    def __init__(self, delay_ms: int | None = None, paste_chord: str = "auto") -> None:
        super().__init__(delay_ms)
        self.paste_chord = paste_chord
        self._bus = None
        self._session: str | None = None
        self._lock = asyncio.Lock()
        self._clipboard = False
        self._serving: bytes = b""
        self._owner = False
        self._held: bytes | None = None
        """What another program had copied, served by us since our last paste put it back."""
        self._foreign: list[str] = []
        self._pasted = asyncio.Event()

    def problem(self) -> str | None:
        """No dbus-fast, or no session bus to find Mutter on."""
        try:
            import dbus_fast  # noqa: F401
        except ImportError:
            return "the dbus-fast Python package is not installed"
        runtime = os.environ.get("XDG_RUNTIME_DIR")
        if not os.environ.get("DBUS_SESSION_BUS_ADDRESS") and not (runtime and os.path.exists(os.path.join(runtime, "bus"))):
            return "no session D-Bus (DBUS_SESSION_BUS_ADDRESS is not set)"
        return None

    async def type(self, text: str) -> None:
        """Keysyms for ASCII, the session clipboard for the rest, one phrase at a time."""
        async with self._lock:
            await self._ensure()
            for keys, part in runs(text):
                if keys:
                    for ch in part:
                        await self._tap(keysym(ch))
                        if self.delay_ms:
                            await asyncio.sleep(self.delay_ms / 1000)
                else:
                    await self._paste(part)

    async def press(self, chord: str) -> None:
        """Hold the modifiers, tap the key, release them."""
        async with self._lock:
            await self._ensure()
            await self._chord(chord)

    async def aclose(self) -> None:
        """Stop the session and drop the connection."""
        bus, session = self._bus, self._session
        self._bus, self._session, self._clipboard = None, None, False
        if bus is not None:
            if session is not None and bus.connected:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._call(session, SESSION, "Stop", bus=bus), CALL_TIMEOUT)
            bus.disconnect()

    # -- the session -------------------------------------------------------

    async def _ensure(self) -> None:
        if self._bus is not None and self._bus.connected and self._session is not None:
            return
        await self.aclose()
        from dbus_fast import BusType
        from dbus_fast.aio import MessageBus

        try:
            bus = await asyncio.wait_for(MessageBus(bus_type=BusType.SESSION, negotiate_unix_fd=True).connect(), CALL_TIMEOUT)
        except Exception as exc:  # OSError, a timeout, or dbus-fast's own authentication errors
            raise Refused(f"mutter: cannot reach the session bus: {exc}") from exc
        try:
            path = (await self._call(OBJECT, BUS_NAME, "CreateSession", bus=bus, refused=True)).body[0]
            bus.add_message_handler(self._on_message)
            await self._call("/org/freedesktop/DBus", "org.freedesktop.DBus", "AddMatch", "s",
                             [f"type='signal',sender='{BUS_NAME}',path='{path}'"], bus=bus, destination="org.freedesktop.DBus")
            await self._call(path, SESSION, "Start", bus=bus, refused=True)
        except BaseException:
            bus.disconnect()
            raise
        self._bus, self._session = bus, path
        log.info("mutter remote-desktop session %s started", path)
        # The compositor adds a new virtual keyboard; a key sent before it settles is lost.
        await self._tap(KEYSYMS["shift"])
        await asyncio.sleep(SETTLE)

    async def _call(self, path: str, interface: str, member: str, signature: str = "", body: list | None = None, *,
                    bus=None, destination: str = BUS_NAME, refused: bool = False):
        """One method call, its reply message back; a D-Bus error raises (Refused where `refused`)."""
        from dbus_fast import Message, MessageType

        bus = bus or self._bus
        if bus is None or not bus.connected:
            self._session = None
            raise InjectError("mutter: the D-Bus connection was lost")
        msg = Message(destination=destination, path=path, interface=interface, member=member, signature=signature, body=body or [])
        try:
            reply = await asyncio.wait_for(bus.call(msg), CALL_TIMEOUT)
        except TimeoutError:
            raise InjectError(f"mutter: {member} got no answer within {CALL_TIMEOUT:.0f} s") from None
        except Exception as exc:  # the connection broke under the call
            self._session = None
            raise InjectError(f"mutter: {member} failed: {exc}") from exc
        if reply.message_type == MessageType.ERROR:
            detail = f"mutter: {member}: {reply.error_name}: {reply.body[0] if reply.body else ''}"
            raise (Refused if refused else InjectError)(detail)
        return reply

    async def _tap(self, sym: int) -> None:
        await self._call(self._session, SESSION, "NotifyKeyboardKeysym", "ub", [sym, True])
        await self._call(self._session, SESSION, "NotifyKeyboardKeysym", "ub", [sym, False])

    async def _chord(self, chord: str) -> None:
        mods, key = chord_keys(chord)
        syms = [KEYSYMS.get(k) or keysym(k) for k in (*mods, key)]
        for sym in syms:
            await self._call(self._session, SESSION, "NotifyKeyboardKeysym", "ub", [sym, True])
        for sym in reversed(syms):
            await self._call(self._session, SESSION, "NotifyKeyboardKeysym", "ub", [sym, False])

    # -- the session's clipboard ---------------------------------------------

    async def _paste(self, text: str) -> None:
        """Offer text as the clipboard, press the paste chord, wait for the window to take it, restore."""
        from dbus_fast import Variant

        if not self._clipboard:
            try:
                await self._call(self._session, SESSION, "EnableClipboard", "a{sv}", [{}])
            except InjectError as exc:
                if "already enabled" not in str(exc).lower():  # mutter 43 after DisableClipboard
                    raise
            self._clipboard = True
            await asyncio.sleep(0.05)  # the current owner's types arrive as a signal
        saved = self._held if self._owner else await self._read_foreign()
        self._serving, self._owner = text.encode(), True
        await self._call(self._session, SESSION, "SetSelection", "a{sv}", [{"mime-types": Variant("as", TEXT_TYPES)}])
        # Mutter's own clipboard manager reads every new text selection; wait for that read
        # (or a moment) so that only a transfer after the chord counts as the paste.
        self._pasted.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._pasted.wait(), MANAGER_WAIT)
        chords = chords_for(None, self.paste_chord, ())  # Mutter does not say which window has focus
        for chord in chords:
            self._pasted.clear()
            await self._chord(chord)
            try:
                await asyncio.wait_for(self._pasted.wait(), PASTE_TIMEOUT if chord == chords[-1] else TRY_WAIT)
                break
            except TimeoutError:
                if chord == chords[-1]:
                    raise InjectError(f"mutter: the focused window did not paste within {PASTE_TIMEOUT:.0f} s ({' or '.join(chords)})") from None
        if self._owner and saved is not None:
            self._serving = self._held = saved
            await self._call(self._session, SESSION, "SetSelection", "a{sv}", [{"mime-types": Variant("as", TEXT_TYPES)}])
        elif self._owner:
            await self._call(self._session, SESSION, "DisableClipboard")
            self._clipboard = self._owner = False
            self._held = None

    async def _read_foreign(self) -> bytes | None:
        """What another program holds on the clipboard as text, to put back after the paste."""
        if self._owner or not self._foreign or not any(t in self._foreign for t in TEXT_TYPES):
            return None
        mime = next(t for t in TEXT_TYPES if t in self._foreign)
        try:
            reply = await self._call(self._session, SESSION, "SelectionRead", "s", [mime])
        except InjectError as exc:
            log.info("cannot save the clipboard before pasting: %s", exc)
            return None
        fd = reply.unix_fds[reply.body[0]] if reply.unix_fds else None
        if fd is None:
            return None
        return await asyncio.to_thread(_read_all, fd, 16 << 20, PASTE_TIMEOUT)

    def _on_message(self, msg) -> None:
        from dbus_fast import MessageType

        if msg.message_type != MessageType.SIGNAL or msg.path != self._session:
            return
        log.debug("mutter signal %s %s", msg.member, msg.body)
        if msg.member == "Closed":
            log.warning("mutter closed the remote-desktop session; the next phrase opens another")
            self._session = None
        elif msg.member == "SelectionOwnerChanged":
            opts = msg.body[0] if msg.body else {}
            mine = opts.get("session-is-owner")
            if mine is not None and not mine.value:
                self._owner, self._held = False, None
                types = opts.get("mime-types")
                value = types.value if types is not None else []
                if isinstance(value, tuple) and len(value) == 1 and isinstance(value[0], list):
                    value = value[0]  # mutter 43 wraps the list in a struct, (as)
                self._foreign = [str(t) for t in value]
        elif msg.member == "SelectionTransfer":
            mime, serial = msg.body
            asyncio.ensure_future(self._transfer(serial, self._serving))

    async def _transfer(self, serial: int, data: bytes) -> None:
        ok = False
        try:
            reply = await self._call(self._session, SESSION, "SelectionWrite", "u", [serial])
            fd = reply.unix_fds[reply.body[0]]
            await asyncio.to_thread(_write_all, fd, data)
            ok = True
        except (InjectError, OSError, IndexError) as exc:
            log.warning("clipboard transfer %d failed: %s", serial, exc)
        finally:
            with contextlib.suppress(InjectError):
                await self._call(self._session, SESSION, "SelectionWriteDone", "ub", [serial, ok])
        if ok:
            self._pasted.set()


def _write_all(fd: int, data: bytes) -> None:
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _read_all(fd: int, limit: int, timeout: float) -> bytes | None:
    import select
    import time

    deadline = time.monotonic() + timeout
    chunks, size = [], 0
    with os.fdopen(fd, "rb", buffering=0) as f:
        while size <= limit:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([f], [], [], left)[0]:
                return None
            chunk = f.read(65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            size += len(chunk)
    return None
