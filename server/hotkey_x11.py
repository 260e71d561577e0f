"""The built-in hotkey on X11: a thread with its own X connection that only reads key events and posts commands.

A chord (toggle, push-to-talk) is a passive grab (XGrabKey on the root window), so it
works in every window and the focused one never sees it. A double-tapped modifier is
read from XInput2 raw key events instead, without a grab, so Alt keeps working
everywhere. The thread never touches the daemon: it hands each command to the event
loop with `call_soon_threadsafe` (through `post`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import select
import threading
import time
from collections.abc import Callable

from .hotkey import Chord, Mode, Trigger
from .x11 import ERROR_HANDLER, EXIT_HANDLER, IO_ERROR_HANDLER, QUIET_IO_ERROR

log = logging.getLogger(__name__)

KEY_PRESS, KEY_RELEASE, GENERIC_EVENT = 2, 3, 35
XI_RAW_KEY_PRESS, XI_RAW_KEY_RELEASE = 13, 14
XI_ALL_MASTER_DEVICES = 1
GRAB_MODE_ASYNC = 1
MASKS = {"shift": 1, "ctrl": 4, "alt": 8, "super": 64}
IGNORED = (0, 2, 16, 18)
"""CapsLock (2) and NumLock (Mod2, 16) in any combination: the chord works with them on."""


class HotkeyError(Exception):
    """The hotkey cannot be had: no display, no such key, or another program grabbed it."""


class _KeyEvent(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("serial", ctypes.c_ulong), ("send_event", ctypes.c_int), ("display", ctypes.c_void_p),
                ("window", ctypes.c_ulong), ("root", ctypes.c_ulong), ("subwindow", ctypes.c_ulong), ("time", ctypes.c_ulong),
                ("x", ctypes.c_int), ("y", ctypes.c_int), ("x_root", ctypes.c_int), ("y_root", ctypes.c_int),
                ("state", ctypes.c_uint), ("keycode", ctypes.c_uint), ("same_screen", ctypes.c_int)]  # fmt: skip


class _Cookie(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("serial", ctypes.c_ulong), ("send_event", ctypes.c_int), ("display", ctypes.c_void_p),
                ("extension", ctypes.c_int), ("evtype", ctypes.c_int), ("cookie", ctypes.c_uint), ("data", ctypes.c_void_p)]  # fmt: skip


class _RawEvent(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("serial", ctypes.c_ulong), ("send_event", ctypes.c_int), ("display", ctypes.c_void_p),
                ("extension", ctypes.c_int), ("evtype", ctypes.c_int), ("time", ctypes.c_ulong), ("deviceid", ctypes.c_int),
                ("sourceid", ctypes.c_int), ("detail", ctypes.c_int), ("flags", ctypes.c_int)]  # fmt: skip


class _EventMask(ctypes.Structure):
    _fields_ = [("deviceid", ctypes.c_int), ("mask_len", ctypes.c_int), ("mask", ctypes.POINTER(ctypes.c_ubyte))]


class _XEvent(ctypes.Union):
    _fields_ = [("key", _KeyEvent), ("cookie", _Cookie), ("pad", ctypes.c_long * 24)]


def _lib(name: str, soname: str) -> ctypes.CDLL:
    try:
        return ctypes.CDLL(ctypes.util.find_library(name) or soname)
    except OSError as exc:
        raise HotkeyError(f"cannot load {soname}: {exc}") from exc




class X11Hotkey:
    """Owns one X connection in one thread; `close` ends both within a fraction of a second."""

    def __init__(self, display: str, chord: Chord, mode: Mode, post: Callable[[str, float], None]) -> None:
        self.display, self.chord, self.mode, self.post = display, chord, mode, post
        self.trigger = Trigger(mode)
        self._stop = threading.Event()
        self._errors: list[int] = []
        self._gone = False
        # Kept referenced: Xlib calls them for as long as the connection lives.
        self._on_error = ERROR_HANDLER(lambda _d, e: self._errors.append(ctypes.cast(e, ctypes.POINTER(ctypes.c_ubyte))[32]) or 0)
        self._on_exit = EXIT_HANDLER(self._io_gone)
        self._thread = threading.Thread(target=self._run, name="hotkey-x11", daemon=True)
        x = self.x = _lib("X11", "libX11.so.6")
        x.XOpenDisplay.restype = ctypes.c_void_p
        x.XOpenDisplay.argtypes = [ctypes.c_char_p]
        for fn in ("XCloseDisplay", "XPending", "XConnectionNumber", "XDefaultRootWindow", "XFlush"):
            getattr(x, fn).argtypes = [ctypes.c_void_p]
        x.XDefaultRootWindow.restype = ctypes.c_ulong
        x.XSetErrorHandler.restype = ctypes.c_void_p
        x.XSetIOErrorExitHandler.argtypes = [ctypes.c_void_p, EXIT_HANDLER, ctypes.c_void_p]
        x.XSetIOErrorHandler.argtypes = [IO_ERROR_HANDLER]
        x.XSetIOErrorHandler.restype = ctypes.c_void_p
        x.XStringToKeysym.restype = ctypes.c_ulong
        x.XKeysymToKeycode.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
        x.XGrabKey.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint, ctypes.c_ulong, ctypes.c_int, ctypes.c_int, ctypes.c_int]
        x.XUngrabKey.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint, ctypes.c_ulong]
        x.XSync.argtypes = [ctypes.c_void_p, ctypes.c_int]
        x.XNextEvent.argtypes = [ctypes.c_void_p, ctypes.POINTER(_XEvent)]
        x.XGetEventData.argtypes = [ctypes.c_void_p, ctypes.POINTER(_Cookie)]
        x.XFreeEventData.argtypes = [ctypes.c_void_p, ctypes.POINTER(_Cookie)]
        x.XkbSetDetectableAutoRepeat.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
        x.XQueryExtension.argtypes = [ctypes.c_void_p, ctypes.c_char_p] + [ctypes.POINTER(ctypes.c_int)] * 3
        self.dpy = None
        self.xi_opcode = -1

    def _io_gone(self, _dpy, _data) -> None:
        # Instead of Xlib's exit(): the display went away (logout); the thread stops, sttd stays.
        self._gone = True
        self._stop.set()

    def start(self) -> None:
        """Open the display and take the key (HotkeyError says why not), then read events in the thread."""
        x = self.x
        dpy = self.dpy = x.XOpenDisplay(self.display.encode())
        if not dpy:
            raise HotkeyError(f"cannot open X display {self.display!r}")
        self._prev_error = x.XSetErrorHandler(self._on_error)  # Xlib's default handler would exit() the server
        x.XSetIOErrorHandler(QUIET_IO_ERROR)  # other connections keep Xlib's exit handler, which still exits
        x.XSetIOErrorExitHandler(dpy, self._on_exit, None)
        keycode = x.XKeysymToKeycode(dpy, x.XStringToKeysym(self.chord.key.encode()))
        if not keycode:
            self._close_display()
            raise HotkeyError(f"hotkey {self.chord}: no key {self.chord.key!r} on this keyboard (names as xdotool writes them)")
        self.keycode = keycode
        root = x.XDefaultRootWindow(dpy)
        if self.mode == "double-tap":
            self._select_raw(root)
        else:
            mods = sum(MASKS[m] for m in self.chord.modifiers)
            for extra in IGNORED:
                x.XGrabKey(dpy, keycode, mods | extra, root, 0, GRAB_MODE_ASYNC, GRAB_MODE_ASYNC)
            x.XkbSetDetectableAutoRepeat(dpy, 1, None)  # held keys repeat presses only, no fake releases
        x.XSync(dpy, 0)
        if self._errors:
            self._close_display()
            raise HotkeyError(f"hotkey {self.chord}: another program has grabbed it (X error {self._errors[0]}); choose another")
        self._thread.start()
        log.info("hotkey %s (%s) on X display %s", self.chord, self.mode, self.display)

    def _select_raw(self, root: int) -> None:
        x, xi = self.x, _lib("Xi", "libXi.so.6")
        opcode, ev, err = ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
        if not x.XQueryExtension(self.dpy, b"XInputExtension", ctypes.byref(opcode), ctypes.byref(ev), ctypes.byref(err)):
            self._close_display()
            raise HotkeyError("double-tap needs the X Input extension, which this X server lacks")
        self.xi_opcode = opcode.value
        bits = (ctypes.c_ubyte * 4)()
        for t in (XI_RAW_KEY_PRESS, XI_RAW_KEY_RELEASE):
            bits[t >> 3] |= 1 << (t & 7)
        mask = _EventMask(XI_ALL_MASTER_DEVICES, len(bits), bits)
        xi.XISelectEvents.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.POINTER(_EventMask), ctypes.c_int]
        xi.XISelectEvents(self.dpy, root, ctypes.byref(mask), 1)

    def _run(self) -> None:
        x, dpy = self.x, self.dpy
        fd = x.XConnectionNumber(dpy)
        event = _XEvent()
        try:
            while not self._stop.is_set():
                select.select([fd], [], [], 0.2)  # bounded: close() is seen within 0.2 s
                while not self._stop.is_set() and x.XPending(dpy):
                    x.XNextEvent(dpy, ctypes.byref(event))
                    self._dispatch(event)
        except Exception:  # a bug here must not take the server down with it
            log.exception("the hotkey thread failed; the hotkey is off")
        if self._gone:
            log.warning("the X display %s went away; the hotkey is off", self.display)

    def _dispatch(self, event: _XEvent) -> None:
        now = time.monotonic()
        kind, keycode = event.key.type, event.key.keycode
        if kind == GENERIC_EVENT and event.cookie.extension == self.xi_opcode:
            if not self.x.XGetEventData(self.dpy, ctypes.byref(event.cookie)):
                return
            try:
                raw = ctypes.cast(event.cookie.data, ctypes.POINTER(_RawEvent)).contents
                kind = {XI_RAW_KEY_PRESS: KEY_PRESS, XI_RAW_KEY_RELEASE: KEY_RELEASE}.get(raw.evtype, 0)
                keycode = raw.detail
            finally:
                self.x.XFreeEventData(self.dpy, ctypes.byref(event.cookie))
        if kind not in (KEY_PRESS, KEY_RELEASE):
            return
        if keycode != self.keycode:
            if kind == KEY_PRESS:
                self.trigger.other()
            return
        command = self.trigger.press(now) if kind == KEY_PRESS else self.trigger.release(now)
        if command:
            self.post(command, now)

    def close(self) -> None:
        """Stop the thread (bounded) and close the connection, which drops the grab."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)
        if not self._thread.is_alive():
            self._close_display()

    def _close_display(self) -> None:
        if self.dpy and not self._gone:
            self.x.XCloseDisplay(self.dpy)
        if self.dpy is not None:  # Xlib must not keep calling into this object once it is gone
            self.x.XSetErrorHandler(ctypes.c_void_p(self._prev_error))
        self.dpy = None

