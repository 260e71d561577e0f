"""The class (X11 WM_CLASS, Wayland app_id) of the focused window, so a paste uses the chord it expects.

Terminals paste with Ctrl+Shift+V (Ctrl+V there is a literal ^V); most other
programs with Ctrl+V. X11 answers through xdotool and xprop, sway through swaymsg,
Hyprland through hyprctl; elsewhere (GNOME, KDE) no unprivileged client can ask, so
the answer is None and the chords are tried in turn.
"""

from __future__ import annotations

import glob
import json
import logging
import os
import re
import shutil

from .desktop import Desktop
from .inject_base import InjectError, run_tool

log = logging.getLogger(__name__)

TERMINALS = (
    "foot", "footclient", "xterm", "uxterm", "urxvt", "rxvt", "kitty", "alacritty", "wezterm", "org.wezfurlong.wezterm",
    "gnome-terminal", "gnome-terminal-server", "org.gnome.terminal", "org.gnome.console", "kgx", "konsole",
    "org.kde.konsole", "xfce4-terminal", "tilix", "com.gexperts.tilix", "terminator", "st", "st-256color",
    "ghostty", "com.mitchellh.ghostty", "sakura", "lxterminal", "mate-terminal", "qterminal", "terminology",
    "contour", "rio", "yakuake", "guake",
)
"""Window classes (lower-case) that paste with Ctrl+Shift+V; `terminal_classes` in the settings replaces it."""
UNKNOWN_CHORDS = ("ctrl+shift+v", "ctrl+v")
"""Chords tried in turn when the window cannot be asked, the next only when nothing read the clipboard:
Ctrl+Shift+V pastes in terminals (where Ctrl+V would put a literal ^V) and as plain text in browsers;
Ctrl+V pastes in most other programs, where Ctrl+Shift+V usually does nothing."""
TRY_WAIT = 0.4
"""Seconds a chord that is not the last to try has to make the window read the clipboard."""


def chords_for(window_class: str | None, chord: str, terminals: tuple[str, ...] | list[str]) -> list[str]:
    """The paste chords to try in order: a fixed one as configured, else by the focused window's class."""
    if chord != "auto":
        return [chord]
    if window_class is None:
        return list(UNKNOWN_CHORDS)
    return ["ctrl+shift+v" if window_class.lower() in {t.lower() for t in terminals} else "ctrl+v"]


async def focused_class(desktop: Desktop) -> str | None:
    """The focused window's class, or None where this desktop does not say."""
    try:
        if desktop.server == "x11":
            return await _x11()
        if desktop.compositor == "sway":
            return await _sway()
        if desktop.compositor == "hyprland" and shutil.which("hyprctl"):
            out = await run_tool(["hyprctl", "activewindow", "-j"], timeout=2.0)
            return json.loads(out).get("class") or None
    except (InjectError, ValueError, AttributeError) as exc:
        log.debug("cannot tell the focused window's class: %s", exc)
    return None


async def _x11() -> str | None:
    if not (shutil.which("xdotool") and shutil.which("xprop")):
        return None
    window = (await run_tool(["xdotool", "getwindowfocus"], timeout=2.0)).strip()
    if not window.isdigit():
        return None
    out = await run_tool(["xprop", "-id", window, "WM_CLASS"], timeout=2.0)
    names = re.findall(r'"([^"]*)"', out)
    return names[0] if names else None  # the instance name: "xterm", "foot", "gnome-terminal-server"


async def _sway() -> str | None:
    if not shutil.which("swaymsg"):
        return None
    sock = os.environ.get("SWAYSOCK") or _sway_socket()
    if not sock:
        return None
    out = await run_tool(["swaymsg", "-s", sock, "-t", "get_tree", "-r"], timeout=2.0)
    node = _focused(json.loads(out))
    if node is None:
        return None
    return node.get("app_id") or (node.get("window_properties") or {}).get("class")


def _sway_socket() -> str | None:
    """sway's IPC socket when SWAYSOCK is unset (a service started outside the session)."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    found = sorted(glob.glob(os.path.join(runtime, "sway-ipc.*.sock"))) if runtime else []
    return found[-1] if found else None


def _focused(node: dict) -> dict | None:
    if node.get("focused"):
        return node
    for child in node.get("nodes", []) + node.get("floating_nodes", []):
        hit = _focused(child)
        if hit is not None:
            return hit
    return None
