"""Recorded evdev key events, as `cat /dev/input/eventN` gives them, for the hotkey tests."""

from __future__ import annotations

from stt_dictation.server.hotkey_evdev import EVENT, EV_KEY, KEY_CODES

ALT, CTRL, D, X = KEY_CODES["Alt_L"], KEY_CODES["Control_L"], KEY_CODES["d"], KEY_CODES["x"]
SYN = EVENT.pack(0, 0, 0, 0, 0)


def recording(*events: tuple[float, int, int]) -> bytes:
    """What `cat /dev/input/eventN` gives: key events (at, code, value), each followed by a SYN_REPORT."""
    out = b""
    for at, code, value in events:
        sec = int(at)
        out += EVENT.pack(sec, int((at - sec) * 1e6), EV_KEY, code, value) + SYN
    return out


def taps(code: int, *times: float) -> list[tuple[float, int, int]]:
    return [e for t in times for e in ((t, code, 1), (t + 0.05, code, 0))]
