"""A real virtual screen for end-to-end tests: an Xvfb display with xterms that record what is typed into them."""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests.support.capture import TypedFile
from tests.support.devices import COMMAND_TIMEOUT, HarnessError, HarnessTimeout, VirtualDevice, child_env, spawn, tail, wait_until
from tests.support.process import Process

DISPLAY_BINARIES = ("Xvfb", "xterm", "xdotool")


class CaptureWindow(TypedFile):
    """An xterm whose keyboard input is appended, byte for byte, to a file."""

    def __init__(self, display: VirtualDisplay, process: Process, path: Path, title: str, window_id: int) -> None:
        super().__init__(process, path, title)
        self.display = display
        self.window_id = window_id

    def __repr__(self) -> str:
        return f"CaptureWindow(title={self.title!r}, window_id={self.window_id}, path={str(self.path)!r})"

    def focus(self) -> None:
        """Give this window the keyboard focus and wait until the X server confirms it."""
        self.display.xdotool("windowfocus", "--sync", str(self.window_id))
        wait_until(lambda: self.display.focused_window() == self.window_id, COMMAND_TIMEOUT, f"focus on {self.title}")

    def has_focus(self) -> bool:
        """Whether this window currently has the keyboard focus."""
        return self.display.focused_window() == self.window_id


class VirtualDisplay(VirtualDevice):
    """An Xvfb server (no window manager) with helpers to open xterms that record what is typed."""

    # A Wayland session variable would make clients pick a Wayland backend.
    unset_env = ("WAYLAND_DISPLAY",)

    LOG_NAME = "xvfb.log"

    def __init__(self, *, size: tuple[int, int] = (1280, 800), start_timeout: float = 5.0) -> None:
        super().__init__(start_timeout)
        self._size = size
        self._windows: list[CaptureWindow] = []
        self.display_number: int | None = None

    def processes(self) -> list[Process]:
        """Xvfb and the capture xterms that still run, for whoever accounts for CPU."""
        return [p for p in (self._main, *(w.process for w in self._windows)) if p is not None and p.alive()]

    def _start(self) -> None:
        self._tmp = Path(tempfile.mkdtemp(prefix="stt-x11-"))
        width, height = self._size
        read_fd, write_fd = os.pipe()
        try:
            self._main = spawn(
                [
                    "Xvfb",
                    "-displayfd", str(write_fd),  # Xvfb picks a free display and writes its number here once ready
                    "-screen", "0", f"{width}x{height}x24",
                    "-nolisten", "tcp",
                    "-noreset",  # keep the server (and its keymap) when the last client disconnects
                ],
                self._tmp / self.LOG_NAME,
                os.environ,
                pass_fds=(write_fd,),
            )
            os.close(write_fd)
            write_fd = -1
            self.display_number = int(self._read_display_number(read_fd))
        finally:
            os.close(read_fd)
            if write_fd >= 0:
                os.close(write_fd)
        self.env = {"DISPLAY": f":{self.display_number}", "XDG_SESSION_TYPE": "x11"}

    def _read_display_number(self, fd: int) -> str:
        deadline = time.monotonic() + self._start_timeout
        data = b""
        while not data.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise HarnessTimeout(f"Xvfb did not report a display within {self._start_timeout:.1f}s:\n{tail(self.log_path)}")
            ready, _, _ = select.select([fd], [], [], remaining)
            if ready:
                chunk = os.read(fd, 64)
                if not chunk:  # Xvfb exited before it was ready
                    raise HarnessError(f"Xvfb failed to start:\n{tail(self.log_path)}")
                data += chunk
        return data.decode().strip()

    def xdotool(self, *args: str, timeout: float = COMMAND_TIMEOUT) -> str:
        """Run xdotool on this display and return its stdout."""
        try:
            done = subprocess.run(
                ["xdotool", *args], check=False, env=child_env(self), capture_output=True, text=True, timeout=timeout
            )
        except subprocess.TimeoutExpired as exc:
            raise HarnessTimeout(f"xdotool {' '.join(args)} timed out after {timeout:.0f}s") from exc
        if done.returncode != 0:
            raise HarnessError(f"xdotool {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
        return done.stdout

    def focused_window(self) -> int | None:
        """Return the window with keyboard focus, or None when focus is PointerRoot/None."""
        # getactivewindow needs a window manager (_NET_ACTIVE_WINDOW); there is
        # none here, so ask the X server directly. It reports PointerRoot as 1.
        try:
            done = subprocess.run(
                ["xdotool", "getwindowfocus", "-f"],
                check=False,
                env=child_env(self),
                capture_output=True,
                text=True,
                timeout=COMMAND_TIMEOUT,
            )
        except subprocess.TimeoutExpired as exc:
            raise HarnessTimeout("xdotool getwindowfocus timed out") from exc
        value = done.stdout.strip()
        return int(value) if done.returncode == 0 and value.isdigit() and int(value) > 1 else None

    def map_characters(self, text: str) -> str:
        """Add the keymap entries text needs so xdotool types it without temporary remapping; return unmappable chars."""
        # For a character missing from the keymap, xdotool binds it to a
        # scratch keycode, sends the key and reverts the binding within the
        # --delay; when the client reads the key after the revert the
        # character is dropped or replaced, at any delay. Characters that are
        # in the keymap are typed like plain ASCII, reliably.
        from stt_dictation.server.x11 import KeymapError, bind_characters

        try:
            return bind_characters(self.env["DISPLAY"], text)
        except KeymapError as exc:
            raise HarnessError(str(exc)) from exc

    def open_capture_window(
        self, path: str | os.PathLike[str] | None = None, *, title: str | None = None, focus: bool = True
    ) -> CaptureWindow:
        """Open an xterm that appends typed text to path (emptied first), wait until it reads input, and focus it."""
        if self._tmp is None or self._main is None:
            raise HarnessError("VirtualDisplay is not started")
        index = len(self._windows)
        title = title or f"stt-capture-{self.display_number}-{index}"
        capture = Path(path) if path is not None else self._tmp / f"capture-{index}.txt"
        capture.write_bytes(b"")
        ready = self._tmp / f"capture-{index}.ready"
        ready.unlink(missing_ok=True)
        # -icanon: pass each key through immediately instead of holding the line
        # until Enter; cat >> (O_APPEND) lets clear() truncate the file safely.
        # The marker is written after stty, so no keystroke can hit a cooked tty.
        script = 'stty -icanon min 1 time 0 && : > "$2" && exec cat >> "$1"'
        env = child_env(self)
        env["LC_ALL"] = "C.UTF-8"  # xterm encodes keyboard input in the locale's charset
        offset = 20 + 40 * (index % 10)  # cascade, but stay on screen however many windows a display opens
        process = spawn(
            [
                "xterm",
                "-u8",
                "-T", title,
                "-n", title,
                "-geometry", f"80x10+{offset}+{offset}",
                "-e", "sh", "-c", script, "sh", str(capture), str(ready),
            ],
            self._tmp / self.LOG_NAME,
            env,
        )
        try:
            window = CaptureWindow(self, process, capture, title, self._find_window(title, process))
            wait_until(ready.exists, self._start_timeout, f"{title} to start reading input")
            if focus:
                window.focus()
        except BaseException:
            process.stop()
            raise
        self._windows.append(window)
        return window

    def _find_window(self, title: str, process: Process) -> int:
        """Wait for the window titled title to exist and return its id."""
        # Polls itself because `xdotool search --sync` retries only every 0.5 s.
        deadline = time.monotonic() + self._start_timeout
        while True:
            if not process.alive():
                raise HarnessError(f"xterm for {title} exited with {process.returncode}:\n{tail(self.log_path)}")
            found = subprocess.run(
                ["xdotool", "search", "--limit", "1", "--name", f"^{title}$"],
                check=False,
                env=child_env(self),
                capture_output=True,
                text=True,
                timeout=COMMAND_TIMEOUT,
            ).stdout.split()
            if found:
                return int(found[0])
            if time.monotonic() >= deadline:
                raise HarnessTimeout(f"no window titled {title} after {self._start_timeout:.1f}s")
            time.sleep(0.02)

    def stop(self) -> None:
        """Close all windows, stop Xvfb and delete the temp dir; safe to call twice."""
        try:
            for window in self._windows:
                window.close()
            if self._main is not None:
                self._main.stop()
        finally:
            self._windows = []
            self._main = None
            if self._tmp is not None:
                shutil.rmtree(self._tmp, ignore_errors=True)
                self._tmp = None



__all__ = ["DISPLAY_BINARIES", "CaptureWindow", "VirtualDisplay"]
