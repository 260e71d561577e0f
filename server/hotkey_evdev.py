"""The built-in hotkey where X11 is not there (Wayland): key events read from /dev/input (evdev).

Each read is one `struct input_event` (time, type, code, value), parsed here with `struct`
(no python-evdev needed). The keyboard is read, never grabbed: the key also reaches the
focused window. Reading /dev/input needs the `input` group; without it, `HotkeyError`
names the fix. Like the X11 listener, a thread of its own reads and `post`s commands.
"""

from __future__ import annotations

import glob
import logging
import os
import select
import stat
import struct
import threading
import time
from collections.abc import Callable, Iterator

from .hotkey import Chord, Mode, Trigger
from .hotkey_x11 import HotkeyError

log = logging.getLogger(__name__)

EVENT = struct.Struct("llHHi")
"""struct input_event on 64-bit Linux: timeval (2 longs), type, code, value."""
EV_KEY = 1
RELEASE, PRESS, REPEAT = 0, 1, 2

MODIFIER_CODES = {"ctrl": {29, 97}, "shift": {42, 54}, "alt": {56, 100}, "super": {125, 126}}
_ROWS = {16: "qwertyuiop", 30: "asdfghjkl", 44: "zxcvbnm"}
KEY_CODES: dict[str, int] = {ch: base + i for base, row in _ROWS.items() for i, ch in enumerate(row)}
KEY_CODES |= {str(d): 2 + (d - 1) % 10 for d in range(1, 11)} | {"0": 11}
KEY_CODES |= {f"F{n}": 58 + n for n in range(1, 11)} | {"F11": 87, "F12": 88}
KEY_CODES |= {"grave": 41, "space": 57, "minus": 12, "equal": 13, "comma": 51, "period": 52, "slash": 53, "Escape": 1, "Tab": 15,
              "Return": 28, "Pause": 119, "Insert": 110, "Scroll_Lock": 70, "Menu": 127,
              "Control_L": 29, "Control_R": 97, "Shift_L": 42, "Shift_R": 54, "Alt_L": 56, "Alt_R": 100,
              "Super_L": 125, "Super_R": 126, "Meta_L": 125, "Meta_R": 126, "ISO_Level3_Shift": 100}  # fmt: skip
"""X keysym names (as `parse_chord` writes them) to Linux key codes (linux/input-event-codes.h)."""

PERMISSION_FIX = "add yourself to the input group: sudo usermod -aG input $USER, then log out and in"


def key_events(data: bytes) -> Iterator[tuple[float, int, int]]:
    """(time, code, value) of each key event in whole `input_event` records."""
    for sec, usec, kind, code, value in EVENT.iter_unpack(data):
        if kind == EV_KEY:
            yield sec + usec / 1e6, code, value


def keyboards() -> list[str]:
    """Event devices that have letter keys (so not the power button or a mouse)."""
    found = []
    for path in sorted(glob.glob("/dev/input/event*")):
        caps = f"/sys/class/input/{os.path.basename(path)}/device/capabilities/key"
        try:
            words = open(caps).read().split()
        except OSError:
            continue
        if words and int(words[-1], 16) & (0x3FF << 16):  # KEY_Q..KEY_P
            found.append(path)
    return found


class EvdevHotkey:
    """Reads key events from `devices` (every keyboard by default) in one thread; `close` ends it."""

    def __init__(self, chord: Chord, mode: Mode, post: Callable[[str, float], None], devices: list[str] | None = None) -> None:
        if chord.key not in KEY_CODES:
            raise HotkeyError(f"hotkey {chord}: no Linux key code known for {chord.key!r}")
        self.chord, self.mode, self.post = chord, mode, post
        self.code = KEY_CODES[chord.key]
        self.need = {m: MODIFIER_CODES[m] for m in chord.modifiers}
        self.devices = devices
        self.trigger = Trigger(mode)
        self.held: set[int] = set()
        self._fds: dict[int, bytes] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hotkey-evdev", daemon=True)

    def start(self) -> None:
        paths = keyboards() if self.devices is None else self.devices
        if not paths:
            raise HotkeyError("hotkey: no keyboard under /dev/input" if self.devices is None else "hotkey_device: no such device")
        denied = []
        for path in paths:
            try:
                flags = os.O_RDWR if stat.S_ISFIFO(os.stat(path).st_mode) else os.O_RDONLY  # a FIFO of recorded events never ends
                self._fds[os.open(path, flags | os.O_NONBLOCK | os.O_CLOEXEC)] = b""
            except PermissionError:
                denied.append(path)
            except OSError as exc:
                log.warning("hotkey: cannot read %s: %s", path, exc)
        if not self._fds:
            raise HotkeyError(f"hotkey: cannot read {', '.join(denied) or 'any keyboard'} (permission denied); {PERMISSION_FIX}")
        self._thread.start()
        log.info("hotkey %s (%s) on %d evdev device(s)", self.chord, self.mode, len(self._fds))

    def feed(self, code: int, value: int, now: float) -> str | None:
        """One key event into the chord matcher and the trigger; the command to run, if any."""
        if value == REPEAT:
            return None
        if code != self.code:
            if value == PRESS:
                self.held.add(code)
                self.trigger.other()
            else:
                self.held.discard(code)
            return None
        if value == RELEASE:
            return self.trigger.release(now)
        mods_ok = all(self.held & codes for codes in self.need.values())
        extra = {c for c in self.held if not any(c in codes for codes in self.need.values())}
        return self.trigger.press(now) if mods_ok and not extra else None

    def _run(self) -> None:
        try:
            while not self._stop.is_set() and self._fds:
                ready, _, _ = select.select(list(self._fds), [], [], 0.2)  # bounded: close() is seen within 0.2 s
                for fd in ready:
                    self._read(fd)
        except Exception:  # a bug here must not take the server down with it
            log.exception("the hotkey thread failed; the hotkey is off")

    def _read(self, fd: int) -> None:
        try:
            data = self._fds[fd] + os.read(fd, EVENT.size * 64)
        except BlockingIOError:
            return
        except OSError as exc:  # ENODEV: the keyboard was unplugged
            log.warning("hotkey: a keyboard went away (%s)", exc)
            data = b""
        if not data:
            os.close(fd)
            del self._fds[fd]
            return
        whole = len(data) - len(data) % EVENT.size
        self._fds[fd] = data[whole:]
        for at, code, value in key_events(data[:whole]):
            command = self.feed(code, value, at)  # the kernel's time: a replayed recording keeps its rhythm
            if command:
                self.post(command, time.monotonic())

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)
        for fd in list(self._fds):
            os.close(fd)
        self._fds.clear()
