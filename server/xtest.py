"""Typing on X11 through the XTEST extension, in-process: the key events xdotool sends, without a process per phrase.

Spawning xdotool and its 1 ms between keys cost 16 ms + 1.5 ms a character on this
project's bench (about 110 ms for a sentence), the largest part of speech end -> text
after the model. Here one connection per phrase sends every key, and a round trip
after each character (XSync) keeps the server's queue short and the order the
spoken one. Characters are reached on the first two levels of a key (plain, Shift);
what the keymap lacks is bound to a spare keycode first (x11.bind_keysyms), the
binding left in place. Held modifiers are released for the text and pressed again
after it, and Caps Lock is switched off and on again, as `xdotool type --clearmodifiers` does.

Xlib's default reaction to a lost connection or a protocol error is exit(): this connection
has its own exit handler and the error handler is ours while it lives, so a display that goes
away fails a phrase, not sttd.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
import time

from .x11 import ERROR_HANDLER, EXIT_HANDLER, IO_ERROR_HANDLER, QUIET_IO_ERROR, KeymapError, bind_keysyms, keyboard_rows, keysym, load_xlib

SHIFT_L, CAPS_LOCK = 0xFFE1, 0xFFE5
LOCK_MASK = 1 << 1


class NotTyped(KeymapError):
    """Nothing was typed: no libXtst or XTEST, a libX11 too old to survive a lost connection, or a character no key reaches."""


def _libs() -> tuple[ctypes.CDLL, ctypes.CDLL]:
    try:
        xlib = load_xlib()
    except KeymapError as exc:
        raise NotTyped(str(exc)) from exc
    try:
        xtst = ctypes.CDLL(ctypes.util.find_library("Xtst") or "libXtst.so.6")
    except OSError as exc:
        raise NotTyped(f"cannot load libXtst: {exc}") from exc
    if not hasattr(xlib, "XSetIOErrorExitHandler"):  # libX11 < 1.7 exits on a lost connection
        raise NotTyped("libX11 older than 1.7")
    xlib.XSetErrorHandler.argtypes = [ctypes.c_void_p]
    xlib.XSetIOErrorHandler.restype = ctypes.c_void_p
    xlib.XSetIOErrorHandler.argtypes = [IO_ERROR_HANDLER]
    xlib.XSetIOErrorExitHandler.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    xlib.XQueryKeymap.argtypes = [ctypes.c_void_p, ctypes.c_char * 32]
    xlib.XGetModifierMapping.restype = ctypes.POINTER(_ModifierKeymap)
    xlib.XGetModifierMapping.argtypes = [ctypes.c_void_p]
    xlib.XFreeModifiermap.argtypes = [ctypes.POINTER(_ModifierKeymap)]
    xlib.XDefaultRootWindow.restype = ctypes.c_ulong
    xlib.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
    u, i = ctypes.c_ulong, ctypes.c_int
    xlib.XQueryPointer.argtypes = [ctypes.c_void_p, u, *[ctypes.POINTER(u)] * 2, *[ctypes.POINTER(i)] * 4, ctypes.POINTER(ctypes.c_uint)]
    xtst.XTestQueryExtension.argtypes = [ctypes.c_void_p, *[ctypes.POINTER(ctypes.c_int)] * 4]
    xtst.XTestFakeKeyEvent.argtypes = [ctypes.c_void_p, ctypes.c_uint, ctypes.c_int, ctypes.c_ulong]
    return xlib, xtst


class _ModifierKeymap(ctypes.Structure):
    _fields_ = [("max_keypermod", ctypes.c_int), ("modifiermap", ctypes.POINTER(ctypes.c_ubyte))]


def reachable(rows: list[list[int]], low: int) -> dict[int, tuple[int, bool]]:
    """keysym -> (keycode, needs Shift) for every keysym on a key's first two levels; the plain level wins."""
    out: dict[int, tuple[int, bool]] = {}
    for level in (1, 0):  # the plain level last, so it overwrites a shifted one
        for i, row in enumerate(rows):
            if len(row) > level and row[level]:
                out[row[level]] = (low + i, level == 1)
    return out


class _Connection:
    """One display connection with Xlib's fatal handlers replaced; `dead` once it broke."""

    def __init__(self, display: str) -> None:
        self.xlib, self.xtst = _libs()
        self.errors = 0
        self.dead = False
        self.dpy = None
        # Kept referenced while Xlib may call them; errors on other connections go to the handler before ours.
        self._on_error_c, self._on_exit_c = ERROR_HANDLER(self._on_error), EXIT_HANDLER(self._on_io_exit)
        previous = self.xlib.XSetErrorHandler(self._on_error_c)
        self._previous = ERROR_HANDLER(previous) if previous else None
        self.xlib.XSetIOErrorHandler(QUIET_IO_ERROR)
        self.dpy = self.xlib.XOpenDisplay(display.encode())
        if not self.dpy:
            self._restore()
            raise NotTyped(f"cannot open X display {display!r}")
        self.xlib.XSetIOErrorExitHandler(self.dpy, self._on_exit_c, None)
        n = [ctypes.c_int() for _ in range(4)]
        if not self.xtst.XTestQueryExtension(self.dpy, *map(ctypes.byref, n)):
            self.close()
            raise NotTyped("the X server has no XTEST extension")

    def _on_error(self, dpy, event) -> int:
        if dpy != self.dpy and self._previous is not None:
            return self._previous(dpy, event)
        self.errors += 1
        return 0

    def _on_io_exit(self, _dpy, _data) -> None:
        self.dead = True

    def _restore(self) -> None:
        self.xlib.XSetErrorHandler(ctypes.cast(self._previous, ctypes.c_void_p) if self._previous else None)

    def close(self) -> None:
        """Close the connection (a dead one too) and put the error handler back."""
        try:
            self.xlib.XCloseDisplay(self.dpy)
        finally:
            self._restore()

    def check(self) -> None:
        """Raise if the connection broke or the server rejected a request."""
        if self.dead:
            raise KeymapError("the X connection was lost while typing")
        if self.errors:
            raise KeymapError(f"the X server rejected {self.errors} request(s) while typing")

    def keymap(self) -> dict[int, tuple[int, bool]]:
        try:
            low, rows = keyboard_rows(self.xlib, self.dpy)
        except KeymapError:
            self.check()  # a lost connection says so first
            raise
        return reachable(rows, low)

    def held_modifiers(self) -> list[int]:
        """Keycodes of modifier keys held down now (Shift, Ctrl, Alt, Super...)."""
        keys = (ctypes.c_char * 32)()
        self.xlib.XQueryKeymap(self.dpy, keys)
        down = {i * 8 + b for i, byte in enumerate(keys.raw) for b in range(8) if byte >> b & 1}
        mods = self.xlib.XGetModifierMapping(self.dpy)
        if not mods:
            return []
        per = mods.contents.max_keypermod
        codes = {mods.contents.modifiermap[i] for i in range(8 * per)} - {0}
        self.xlib.XFreeModifiermap(mods)
        return sorted(codes & down)

    def caps_locked(self) -> bool:
        u, i = ctypes.c_ulong(), ctypes.c_int()
        mask = ctypes.c_uint()
        self.xlib.XQueryPointer(self.dpy, self.xlib.XDefaultRootWindow(self.dpy), *[ctypes.byref(u)] * 2, *[ctypes.byref(i)] * 4, ctypes.byref(mask))
        return bool(mask.value & LOCK_MASK)

    def key(self, keycode: int, down: bool) -> None:
        self.xtst.XTestFakeKeyEvent(self.dpy, keycode, int(down), 0)

    def tap(self, keycode: int) -> None:
        self.key(keycode, True)
        self.key(keycode, False)

    def sync(self) -> None:
        self.xlib.XSync(self.dpy, 0)
        self.check()


def type_text(display: str, text: str, delay_s: float = 0.0, stop: threading.Event | None = None) -> None:
    """Type `text` into the focused X window, blocking (call it from a thread); stop between characters once `stop` is set.

    NotTyped: nothing went out, another way may type the text. KeymapError: the connection
    failed part-way (or `stop` came), some characters may have arrived.
    """
    wanted = [keysym(c) for c in text]
    conn = _Connection(display)
    try:
        try:
            keys = conn.keymap()
        except KeymapError as exc:
            raise NotTyped(str(exc)) from exc
        if any(s not in keys for s in wanted):
            try:
                bind_keysyms(display, wanted)  # all of them: a binding this text uses must not be recycled
                keys = conn.keymap()
            except KeymapError as exc:
                raise NotTyped(str(exc)) from exc
        missing = "".join(sorted({c for c in text if keysym(c) not in keys}))
        if missing:
            raise NotTyped(f"no key for {missing!r} and no spare keycode to bind it to")
        shift = keys.get(SHIFT_L, (0, False))[0]
        if not shift and any(keys[s][1] for s in wanted):
            raise NotTyped("no Shift key in the keyboard map")
        held = conn.held_modifiers()
        caps = keys.get(CAPS_LOCK, (0, False))[0] if conn.caps_locked() else 0
        for code in held:
            conn.key(code, False)
        if caps:
            conn.tap(caps)
        try:
            for sym in wanted:
                if stop is not None and stop.is_set():
                    raise KeymapError("stopped part-way")
                code, shifted = keys[sym]
                if shifted:
                    conn.key(shift, True)
                conn.tap(code)
                if shifted:
                    conn.key(shift, False)
                conn.sync()  # a round trip a character: the server has each key before the next is sent
                if delay_s:
                    time.sleep(delay_s)
        finally:
            if not conn.dead:  # the keyboard as it was: Caps Lock back on, held modifiers down again
                if caps:
                    conn.tap(caps)
                for code in held:
                    conn.key(code, True)
                conn.xlib.XSync(conn.dpy, 0)
        conn.check()
    finally:
        conn.close()
