"""Real Wayland desktops for end-to-end tests: a headless sway and a headless mutter, each with a foot window that records what is typed.

sway refuses to run as root, so it and its foot run as an unprivileged user
(`setpriv`, uid 65534) with a runtime directory that user owns; the tests, as root,
still reach its socket. mutter runs on a private session bus of its own, where it
owns `org.gnome.Mutter.RemoteDesktop`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Self

from tests.support.capture import TypedFile
from tests.support.devices import HarnessError, HarnessTimeout, spawn, tail, wait_until
from tests.support.process import Process

SWAY_BINARIES = ("sway", "foot", "setpriv")
MUTTER_BINARIES = ("mutter", "foot", "dbus-daemon", "dbus-send")
NOBODY = 65534
START_TIMEOUT = 15.0


class Capture(TypedFile):
    """A foot terminal whose keyboard input is appended, byte for byte, to a file."""

    WAIT = 10.0
    QUIET = 0.4

    def __init__(self, process: Process, path: Path, log: Path) -> None:
        super().__init__(process, path, "foot", log)


class WaylandSession:
    """A headless compositor in a private runtime directory; `env` is what a client needs to reach it."""

    unset_env = ("DISPLAY", "SWAYSOCK", "HYPRLAND_INSTANCE_SIGNATURE", "XDG_CURRENT_DESKTOP")
    binaries: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.tmp: Path | None = None
        self.runtime: Path | None = None
        self.env: dict[str, str] = {}
        self._processes: list[Process] = []
        self._captures = 0

    def __enter__(self) -> Self:
        try:
            self.tmp = Path(tempfile.mkdtemp(prefix=f"stt-{type(self).__name__.lower()}-"))
            self.runtime = self.tmp / "run"
            self.runtime.mkdir(mode=0o700)
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _start(self) -> None:
        raise NotImplementedError

    def _client_prefix(self) -> list[str]:
        return []

    def _base_env(self) -> dict[str, str]:
        assert self.runtime is not None
        return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.runtime), "XDG_RUNTIME_DIR": str(self.runtime),
                "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}

    def _wait_socket(self, server: Process, log: Path) -> str:
        assert self.runtime is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            found = sorted(p.name for p in self.runtime.glob("wayland-*") if not p.name.endswith(".lock"))
            if found:
                return found[0]
            if not server.alive():
                raise HarnessError(f"{server.argv[0]} exited ({server.returncode}):\n{tail(log)}")
            time.sleep(0.05)
        raise HarnessTimeout(f"no Wayland socket after {START_TIMEOUT:.0f} s:\n{tail(log)}")

    def open_capture(self, foot_ini: str = "") -> Capture:
        """A foot terminal reading keys into a file; returns once it reads, focused (new windows take focus).

        `foot_ini` is foot's configuration (key bindings, say); empty is foot's defaults.
        """
        assert self.tmp is not None
        n = self._captures
        self._captures += 1
        folder = self.tmp / "captures"
        if not folder.exists():
            folder.mkdir()
            os.chown(folder, *self._owner())  # foot's cat writes here as the compositor's user
        path, ready, log = folder / f"capture-{n}.txt", folder / f"capture-{n}.ready", self.tmp / f"foot-{n}.log"
        path.write_bytes(b"")
        os.chown(path, *self._owner())
        script = 'stty -icanon min 1 time 0 && : > "$2" && exec cat >> "$1"'
        env = {**self._base_env(), **self.env}
        ini = folder / f"foot-{n}.ini"
        ini.write_text(foot_ini)
        os.chown(ini, *self._owner())
        argv = ["foot", "--config", str(ini), "-e", "sh", "-c", script, "sh", str(path), str(ready)]
        proc = spawn([*self._client_prefix(), *argv], log, env)
        self._processes.append(proc)
        wait_until(lambda: ready.exists() or not proc.alive(), START_TIMEOUT, "foot to read its input")
        if not proc.alive():
            raise HarnessError(f"foot exited ({proc.returncode}):\n{tail(log)}")
        time.sleep(0.3)  # the new window takes the keyboard focus
        return Capture(proc, path, log)

    def _owner(self) -> tuple[int, int]:
        return (os.getuid(), os.getgid())

    def processes(self) -> list[Process]:
        return [p for p in self._processes if p.alive()]

    def stop(self) -> None:
        for proc in reversed(self._processes):
            proc.stop()
        self._processes = []
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None


class SwaySession(WaylandSession):
    """Headless sway (pixman, no input devices) run as uid 65534."""

    binaries = SWAY_BINARIES

    def _owner(self) -> tuple[int, int]:
        return (NOBODY, NOBODY)

    def _client_prefix(self) -> list[str]:
        return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]

    def _start(self) -> None:
        assert self.tmp is not None and self.runtime is not None
        os.chmod(self.tmp, 0o755)
        os.chown(self.runtime, NOBODY, NOBODY)
        config = self.tmp / "sway.conf"
        config.write_text("")  # no bar, no key bindings: nothing but the windows the tests open
        env = {**self._base_env(), "WLR_BACKENDS": "headless", "WLR_LIBINPUT_NO_DEVICES": "1", "WLR_RENDERER": "pixman"}
        log = self.tmp / "sway.log"
        server = spawn([*self._client_prefix(), "sway", "-c", str(config)], log, env)
        self._processes.append(server)
        display = self._wait_socket(server, log)
        wait_until(lambda: any(self.runtime.glob("sway-ipc.*.sock")), START_TIMEOUT, "sway's IPC socket")
        self.env = {"WAYLAND_DISPLAY": display, "XDG_RUNTIME_DIR": str(self.runtime), "XDG_SESSION_TYPE": "wayland",
                    "SWAYSOCK": str(next(self.runtime.glob("sway-ipc.*.sock")))}


class MutterSession(WaylandSession):
    """Headless mutter (Wayland only, one virtual monitor) on a private session bus."""

    binaries = MUTTER_BINARIES

    def _start(self) -> None:
        assert self.tmp is not None and self.runtime is not None
        bus_path = self.runtime / "bus"
        address = f"unix:path={bus_path}"
        env = self._base_env()
        bus_log = self.tmp / "dbus.log"
        bus = spawn(["dbus-daemon", "--session", "--nofork", "--nopidfile", f"--address={address}"], bus_log, env)
        self._processes.append(bus)
        wait_until(lambda: bus_path.exists() or not bus.alive(), START_TIMEOUT, "the session bus")
        env["DBUS_SESSION_BUS_ADDRESS"] = address
        log = self.tmp / "mutter.log"
        server = spawn(["mutter", "--headless", "--wayland", "--no-x11", "--virtual-monitor", "1280x800"], log, env)
        self._processes.append(server)
        display = self._wait_socket(server, log)
        self.env = {"WAYLAND_DISPLAY": display, "XDG_RUNTIME_DIR": str(self.runtime), "XDG_SESSION_TYPE": "wayland",
                    "DBUS_SESSION_BUS_ADDRESS": address}
        wait_until(lambda: self.owns("org.gnome.Mutter.RemoteDesktop") or not server.alive(), START_TIMEOUT,
                   "mutter to own org.gnome.Mutter.RemoteDesktop")
        if not server.alive():
            raise HarnessError(f"mutter exited ({server.returncode}):\n{tail(log)}")

    def owns(self, name: str) -> bool:
        """Whether `name` has an owner on this session's bus."""
        done = subprocess.run(
            ["dbus-send", "--session", "--print-reply", "--dest=org.freedesktop.DBus", "/org/freedesktop/DBus",
             "org.freedesktop.DBus.NameHasOwner", f"string:{name}"],
            env={**os.environ, **self.env}, capture_output=True, text=True, timeout=5,
        )
        return "boolean true" in done.stdout


__all__ = ["MUTTER_BINARIES", "SWAY_BINARIES", "Capture", "MutterSession", "SwaySession", "WaylandSession"]
