"""`auto`'s backends per desktop family, best first, and the key backend the clipboard path presses paste with."""

from __future__ import annotations

from .desktop import Desktop
from .inject_base import Injector
from .inject_keys import DotoolInjector, WtypeInjector, XdotoolInjector, YdotoolInjector
from .inject_mutter import MutterInjector

ORDER = {
    "wlroots": ("wtype", "dotool", "ydotool", "clipboard"),
    "gnome": ("mutter", "dotool", "ydotool", "clipboard"),
    "kde": ("dotool", "ydotool", "clipboard"),
    "other": ("wtype", "mutter", "dotool", "ydotool", "clipboard"),
    "x11": ("xdotool",),
    "none": ("none",),
}
"""Candidates by desktop family; an unknown Wayland compositor tries every one."""

KEY_BACKENDS: dict[str, type[Injector]] = {
    cls.name: cls for cls in (XdotoolInjector, WtypeInjector, MutterInjector, DotoolInjector, YdotoolInjector)
}
"""Backends that can press a chord."""


def auto_order(desktop: Desktop) -> tuple[str, ...]:
    """`auto`'s candidates for a desktop."""
    return ORDER.get(desktop.family, ORDER["other"])


def key_presser(desktop: Desktop, delay_ms: int | None = None) -> Injector:
    """What presses the paste chord on this desktop: the first usable key backend of its order."""
    names = [n for n in auto_order(desktop) if n in KEY_BACKENDS] or ["xdotool"]
    candidates = [KEY_BACKENDS[n](delay_ms) for n in names]
    return next((c for c in candidates if c.problem() is None), candidates[0])
