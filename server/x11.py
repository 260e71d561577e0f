"""Two small Xlib calls through ctypes: extending the keymap, and asking which window has focus.

Binding characters that the X keymap lacks to spare keycodes makes xdotool type them reliably.

For a character missing from the keymap, xdotool binds it to a scratch keycode,
sends the key and reverts the binding at once; when the focused client reads the
key after the revert, the character is dropped or becomes another one, at any
key delay (measured here under Xvfb with xterm). A character that is in the
keymap is typed like plain ASCII. So before typing, the injector binds what is
missing to keycodes no key uses, leaving the bindings in place: they cost
nothing, touch no existing key, and a layout change simply drops them.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Sequence


class KeymapError(Exception):
    """The X server could not be reached or refused the change."""


ERROR_HANDLER = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)
"""XSetErrorHandler's callback: (display, XErrorEvent*) -> int."""
EXIT_HANDLER = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)
"""XSetIOErrorExitHandler's callback: (display, user data)."""
IO_ERROR_HANDLER = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)
QUIET_IO_ERROR = IO_ERROR_HANDLER(lambda _d: 0)
"""Xlib's default I/O error handler prints and exit()s; this one returns, so each display's exit handler decides
(set for the process and left: Xlib's default exit handler still exits for a connection that sets none)."""


def load_xlib() -> ctypes.CDLL:
    """libX11 with the signatures of the calls this module and xtest.py share (the keyboard map among them)."""
    name = ctypes.util.find_library("X11") or "libX11.so.6"
    try:
        xlib = ctypes.CDLL(name)
    except OSError as exc:
        raise KeymapError(f"cannot load libX11: {exc}") from exc
    xlib.XOpenDisplay.restype = ctypes.c_void_p
    xlib.XOpenDisplay.argtypes = [ctypes.c_char_p]
    xlib.XCloseDisplay.argtypes = [ctypes.c_void_p]
    xlib.XSetErrorHandler.restype = ctypes.c_void_p
    xlib.XSync.argtypes = [ctypes.c_void_p, ctypes.c_int]
    xlib.XFree.argtypes = [ctypes.c_void_p]
    xlib.XDisplayKeycodes.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int)]
    xlib.XGetKeyboardMapping.restype = ctypes.POINTER(ctypes.c_ulong)
    xlib.XGetKeyboardMapping.argtypes = [ctypes.c_void_p, ctypes.c_ubyte, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
    return xlib


def keyboard_rows(xlib: ctypes.CDLL, dpy: int) -> tuple[int, list[list[int]]]:
    """(the lowest keycode, one row of keysyms per keycode from it on) of an open display's keyboard map."""
    low, high, per = ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
    xlib.XDisplayKeycodes(dpy, ctypes.byref(low), ctypes.byref(high))
    count = high.value - low.value + 1
    mapping = xlib.XGetKeyboardMapping(dpy, low.value, count, ctypes.byref(per))
    if not mapping:
        raise KeymapError("the X server sent no keyboard map")
    rows = [[mapping[i * per.value + j] for j in range(per.value)] for i in range(count)]
    xlib.XFree(mapping)
    return low.value, rows


def focused_window(display: str) -> int | None:
    """The window holding keyboard focus (XGetInputFocus), or None for none or PointerRoot.

    In-process, so the focus guard costs a fraction of a millisecond rather than
    a process spawn before every chunk of typing.
    """
    xlib = load_xlib()
    xlib.XGetInputFocus.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_ulong), ctypes.POINTER(ctypes.c_int)]
    dpy = xlib.XOpenDisplay(display.encode())
    if not dpy:
        raise KeymapError(f"cannot open X display {display!r}")
    try:
        window, revert = ctypes.c_ulong(), ctypes.c_int()
        xlib.XGetInputFocus(dpy, ctypes.byref(window), ctypes.byref(revert))
    finally:
        xlib.XCloseDisplay(dpy)
    return window.value if window.value > 1 else None  # 0 None, 1 PointerRoot


def keysym(char: str) -> int:
    """The X keysym of a character (Latin-1 keysyms equal the code point, others are 0x1000000 + it)."""
    code = ord(char)
    return code if 0x20 <= code <= 0x7E or 0xA0 <= code <= 0xFF else 0x1000000 + code


def _ours(row: Sequence[int]) -> bool:
    """Whether a keymap row is a binding `bind_keysyms` made: one character keysym, shifted and unshifted, and
    nothing else (the server copies it into the second group)."""
    sym = row[0] if row else 0
    return (0xA0 <= sym <= 0xFF or sym >= 0x1000000) and len(row) >= 2 and row[1] == sym and all(s in (0, sym) for s in row)


def bind_keysyms(display: str, keysyms: Sequence[int], keep_free: int = 1) -> list[int]:
    """Bind keysyms missing from the keyboard map to unused keycodes; return those present or bound.

    `keep_free` keycodes stay unused for xdotool's own scratch bindings. When no unused keycode is
    left (Xvfb has 19), a keycode bound earlier this way to a character this text does not need is
    bound again: otherwise, after a session's first eighteen or so distinct characters, every new
    one would fall back to xdotool's own remapping, which drops characters.
    """
    xlib = load_xlib()
    xlib.XChangeKeyboardMapping.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.c_ulong), ctypes.c_int]
    # Xlib's default error handler calls exit(); record errors instead.
    x_errors: list[int] = []
    handler = ERROR_HANDLER(lambda _d, _e: x_errors.append(1) or 0)

    dpy = xlib.XOpenDisplay(display.encode())
    if not dpy:
        raise KeymapError(f"cannot open X display {display!r}")
    previous = xlib.XSetErrorHandler(handler)
    try:
        low, rows = keyboard_rows(xlib, dpy)
        per = len(rows[0])
        present = {sym for row in rows for sym in row[:2]}  # a key's plain and shifted levels: what a typist reaches
        free = [low + i for i, row in enumerate(rows) if not any(row)]
        missing = [sym for sym in dict.fromkeys(keysyms) if sym not in present]
        wanted = set(keysyms)
        ours = [low + i for i, row in enumerate(rows) if _ours(row) and row[0] not in wanted]
        usable = free[keep_free:] + (ours if len(free) >= keep_free else [])  # never the keycodes kept free
        bound = missing[: len(usable)]
        for keycode, sym in zip(usable, bound, strict=False):
            # The same keysym shifted and unshifted, so a held Shift cannot change it.
            entry = (ctypes.c_ulong * per)(*([sym, sym] + [0] * (per - 2)))
            xlib.XChangeKeyboardMapping(dpy, keycode, per, entry, 1)
        xlib.XSync(dpy, 0)
    finally:
        xlib.XSetErrorHandler(ctypes.c_void_p(previous))
        xlib.XCloseDisplay(dpy)
    if x_errors:
        raise KeymapError(f"the X server rejected {len(x_errors)} keyboard map change(s)")
    return [sym for sym in keysyms if sym in present or sym in bound]


def bind_characters(display: str, text: str) -> str:
    """Make every printable character of text typeable; return those that could not be bound."""
    printable = [c for c in dict.fromkeys(text) if c.isprintable()]
    ok = set(bind_keysyms(display, [keysym(c) for c in printable]))
    return "".join(c for c in printable if keysym(c) not in ok)
