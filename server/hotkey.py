"""The built-in hotkey's logic: parsing `hotkey = "ctrl+alt+d"` and turning key presses into commands.

No X here: `hotkey_x11` feeds `Trigger` the presses and releases it reads, and the
commands go through the daemon's state machine like any `stt toggle` (a toggle that
arrives while a start is still opening stops it; no sleeps, no debounce timers).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Mode = Literal["toggle", "push-to-talk", "double-tap"]

MODIFIERS = {"ctrl": "ctrl", "control": "ctrl", "alt": "alt", "mod1": "alt", "shift": "shift", "super": "super", "mod4": "super", "win": "super", "meta": "super"}
"""Modifier names as xdotool and i3 write them, to one spelling."""

MODIFIER_KEYS = {"Control_L", "Control_R", "Alt_L", "Alt_R", "Shift_L", "Shift_R", "Super_L", "Super_R", "Meta_L", "Meta_R", "ISO_Level3_Shift"}
"""Keys that are modifiers on their own: what double-tap listens for."""

DOUBLE_TAP_WINDOW = 0.4
"""Seconds within which a second tap counts, and the longest press that is a tap."""


@dataclass(frozen=True)
class Chord:
    """Modifiers (ctrl, alt, shift, super) plus one key, its X keysym name."""

    modifiers: frozenset[str]
    key: str

    def __str__(self) -> str:
        return "+".join([*sorted(self.modifiers), self.key])


def keysym_name(word: str) -> str:
    """X's spelling of a key name written loosely: `alt_l` -> `Alt_L`, `f9` -> `F9`, `D` -> `d`."""
    if len(word) == 1:
        return word.lower() if word.isalpha() else word
    if word[0] in "fF" and word[1:].isdigit():
        return "F" + word[1:]
    special = {"grave": "grave", "space": "space", "minus": "minus", "equal": "equal", "comma": "comma", "period": "period", "slash": "slash"}
    if word.lower() in special:
        return special[word.lower()]
    head, _, side = word.partition("_")
    head = {"ctrl": "Control", "control": "Control", "win": "Super"}.get(head.lower(), head[:1].upper() + head[1:])
    return head + ("_" + side[:1].upper() + side[1:] if side else "")


def parse_chord(text: str, mode: Mode = "toggle") -> Chord:
    """`ctrl+alt+d`, `super+grave`, `F9`, or (double-tap) one modifier key such as `alt_l`; ValueError says what is wrong."""
    parts = [p.strip() for p in text.split("+")]
    if not text.strip() or any(not p for p in parts):
        raise ValueError(f"{text!r}: expected keys joined by '+', like 'ctrl+alt+d'")
    *mods, key = parts
    unknown = [m for m in mods if m.lower() not in MODIFIERS]
    if unknown:
        raise ValueError(f"{text!r}: {unknown[0]!r} is not a modifier (ctrl, alt, shift, super)")
    if key.lower() in MODIFIERS and mode != "double-tap":
        raise ValueError(f"{text!r}: ends in a modifier; name the key, e.g. 'ctrl+alt+d'")
    chord = Chord(frozenset(MODIFIERS[m.lower()] for m in mods), keysym_name(key))
    if mode == "double-tap" and (mods or chord.key not in MODIFIER_KEYS):
        raise ValueError(f"{text!r}: double-tap takes one modifier key, like 'alt_l' or 'ctrl_r'")
    return chord


class Trigger:
    """Presses and releases of the hotkey in, commands (`toggle`, `start`, `stop`) out.

    Key auto-repeat is ignored (a press while held); double-tap counts two short taps of
    the key within `DOUBLE_TAP_WINDOW` with no other key between, then starts counting
    afresh, so a triple tap toggles once, not twice.
    """

    def __init__(self, mode: Mode, window: float = DOUBLE_TAP_WINDOW) -> None:
        self.mode = mode
        self.window = window
        self.held = False
        self._pressed_at = 0.0
        self._last_tap: float | None = None

    def press(self, t: float) -> str | None:
        if self.held:
            return None  # auto-repeat
        self.held, self._pressed_at = True, t
        if self.mode == "toggle":
            return "toggle"
        if self.mode == "push-to-talk":
            return "start"
        return None

    def release(self, t: float) -> str | None:
        if not self.held:
            return None
        self.held = False
        if self.mode == "push-to-talk":
            return "stop"
        if self.mode != "double-tap":
            return None
        if t - self._pressed_at > self.window:  # held, not tapped (Alt for a chord, say)
            self._last_tap = None
            return None
        if self._last_tap is not None and t - self._last_tap <= self.window:
            self._last_tap = None
            return "toggle"
        self._last_tap = t
        return None

    def other(self) -> None:
        """Another key went down: whatever is being tapped is part of a chord, not a double tap."""
        self._last_tap = None
        if self.mode == "double-tap" and self.held:
            self._pressed_at = float("-inf")
