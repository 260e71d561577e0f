"""Which desktop this is: display server, compositor, and whether /dev/uinput can be written.

The compositor is asked, not guessed: the process at the other end of the Wayland
socket (SO_PEERCRED) names it even where XDG_CURRENT_DESKTOP is unset or wrong (a
bare `sway` from a TTY, a service started before the session). The environment's
hints are the fallback where the socket cannot be reached.
"""

from __future__ import annotations

import os
import socket
import stat
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

WLROOTS = frozenset({"sway", "hyprland", "river", "labwc", "wayfire", "niri", "dwl", "cage", "hikari", "qtile", "phoc"})
"""Compositors that speak the virtual-keyboard protocol wtype needs (niri and phoc are not wlroots but do too)."""
MUTTER = frozenset({"mutter", "gnome-shell", "gnome"})
KDE = frozenset({"kwin", "kwin_wayland", "kde", "plasma"})

UINPUT = "/dev/uinput"
UINPUT_FIX = (
    "add yourself to the input group (sudo usermod -aG input $USER, then log in again) with a udev rule "
    '/etc/udev/rules.d/80-uinput.rules: KERNEL=="uinput", GROUP="input", MODE="0660", OPTIONS+="static_node=uinput"'
)


@dataclass(frozen=True)
class Desktop:
    """The session typing happens in."""

    server: str
    """`wayland`, `x11` or `none`."""
    compositor: str
    """Lower-case name (`sway`, `mutter`, `kwin`, ...), `unknown` where nothing says, `` without Wayland."""
    family: str
    """`wlroots`, `gnome`, `kde`, `other` on Wayland; `x11`; `none`."""
    how: str
    """How the compositor was identified, for `stt doctor`."""


def family_of(compositor: str) -> str:
    """The backend family of a compositor name."""
    name = compositor.lower()
    if name in WLROOTS:
        return "wlroots"
    if name in MUTTER:
        return "gnome"
    if name in KDE:
        return "kde"
    return "other"


def wayland_socket(env: Mapping[str, str]) -> Path | None:
    """The Wayland socket WAYLAND_DISPLAY names (absolute, or under XDG_RUNTIME_DIR)."""
    name = env.get("WAYLAND_DISPLAY")
    if not name:
        return None
    if name.startswith("/"):
        return Path(name)
    runtime = env.get("XDG_RUNTIME_DIR")
    return Path(runtime) / name if runtime else None


def socket_peer(path: Path, timeout: float = 1.0) -> int | None:
    """The pid listening on a Unix socket, or None where it cannot be reached."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.settimeout(timeout)
        s.connect(str(path))
        pid, _uid, _gid = struct.unpack("3i", s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
        return pid or None
    except OSError:
        return None
    finally:
        s.close()


def process_name(pid: int) -> str | None:
    """`comm` of a process, lower-case, or None when it is gone or hidden."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip().lower() or None
    except OSError:
        return None


def _from_env(env: Mapping[str, str]) -> str | None:
    if env.get("SWAYSOCK"):
        return "sway"
    if env.get("HYPRLAND_INSTANCE_SIGNATURE"):
        return "hyprland"
    desktop = (env.get("XDG_CURRENT_DESKTOP") or env.get("XDG_SESSION_DESKTOP") or env.get("DESKTOP_SESSION") or "").lower()
    for part in desktop.replace(":", " ").split():
        if part in ("gnome", "ubuntu", "unity", "pop"):
            return "gnome"
        if part in ("kde", "plasma"):
            return "kde"
        if family_of(part) != "other":
            return part
    return None


def detect(environ: Mapping[str, str] | None = None) -> Desktop:
    """This session's display server and compositor (a socket connect and a /proc read, no more)."""
    env = os.environ if environ is None else environ
    path = wayland_socket(env)
    if path is not None:
        pid = socket_peer(path)
        name = process_name(pid) if pid else None
        if name:
            return Desktop("wayland", name, family_of(name), f"the process behind {path} is {name} (pid {pid})")
        hint = _from_env(env)
        if hint:
            return Desktop("wayland", hint, family_of(hint), f"{path} did not answer; the environment names {hint}")
        return Desktop("wayland", "unknown", "other", f"{path} did not answer and no variable names the compositor")
    if env.get("DISPLAY"):
        return Desktop("x11", "", "x11", f"DISPLAY={env['DISPLAY']} and no WAYLAND_DISPLAY")
    return Desktop("none", "", "none", "neither WAYLAND_DISPLAY nor DISPLAY is set")


def uinput_problem(path: str | None = None) -> str | None:
    """Why the uinput tools (dotool, ydotool) cannot create a keyboard here, or None when they can."""
    path = path or UINPUT
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return f"{path} does not exist (load the module: sudo modprobe uinput)"
    except OSError as exc:
        return f"cannot look at {path}: {exc.strerror}"
    if not stat.S_ISCHR(st.st_mode):
        return f"{path} is not a character device"
    if not os.access(path, os.W_OK):
        return f"{path} is not writable by this user: {UINPUT_FIX}"
    return None
