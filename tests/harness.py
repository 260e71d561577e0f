"""Real virtual devices for end-to-end tests: an isolated PulseAudio microphone and an Xvfb display."""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import wave
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import IO, Any, Self

SINK_NAME = "stt_sink"
SOURCE_NAME = "stt_mic"
KEEPALIVE_SINK_NAME = "stt_keepalive"

MIC_BINARIES = ("pulseaudio", "pactl", "paplay")
DISPLAY_BINARIES = ("Xvfb", "xterm", "xdotool")

# The ALSA library reads this top-level file unless ALSA_CONFIG_PATH replaces it.
_ALSA_TOP_CONFIG = Path("/usr/share/alsa/alsa.conf")
# sockaddr_un.sun_path is 108 bytes including the terminating NUL.
_MAX_SOCKET_PATH = 107
_COMMAND_TIMEOUT = 10.0
_STOP_TIMEOUT = 3.0


class HarnessError(RuntimeError):
    """A virtual device failed to start, respond or clean up."""


class HarnessTimeout(HarnessError, TimeoutError):
    """An expected condition on a virtual device did not happen in time."""


def missing_binaries(names: Iterable[str]) -> list[str]:
    """Return the executables in names that are not on PATH."""
    return [name for name in names if shutil.which(name) is None]


def child_env(*devices: VirtualMicrophone | VirtualDisplay, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return base (default os.environ) with each device's variables set and its conflicting ones removed."""
    env = dict(os.environ if base is None else base)
    for device in devices:
        for name in device.unset_env:
            env.pop(name, None)
        env.update(device.env)
    return env


def _orphan_guard() -> list[str]:
    """Return a command prefix that kills the child if this process dies without cleaning up."""
    # PR_SET_PDEATHSIG fires when the *thread* that forked the child exits, so
    # only arm it from the main thread, whose exit is the process's exit.
    if threading.current_thread() is not threading.main_thread() or shutil.which("setpriv") is None:
        return []
    return ["setpriv", "--pdeathsig", "TERM", "--"]


def _spawn(cmd: list[str], *, env: Mapping[str, str], log: IO[bytes] | int, **kwargs: Any) -> subprocess.Popen[bytes]:
    """Start cmd in its own session so terminal signals do not kill it behind the harness's back."""
    return subprocess.Popen(
        [*_orphan_guard(), *cmd],
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        start_new_session=True,
        **kwargs,
    )


def stop_process(proc: subprocess.Popen[Any] | None) -> None:
    """Terminate proc, escalating to SIGKILL if it does not exit promptly; never raises."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=_STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        # A process still alive after SIGKILL is stuck in the kernel; nothing more to do.
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=_STOP_TIMEOUT)


def _wait_until(predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.01) -> None:
    """Poll predicate until it is true, raising HarnessTimeout after timeout seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            raise HarnessTimeout(f"timed out after {timeout:.1f}s waiting for {what}")
        time.sleep(interval)


def _tail(path: Path | None, limit: int = 2000) -> str:
    """Return the end of a log file for error messages."""
    if path is None or not path.exists():
        return ""
    return path.read_text(errors="replace")[-limit:]


def _wav_duration(path: Path) -> float | None:
    """Return the duration of a PCM WAV file in seconds, or None if the wave module cannot parse it."""
    try:
        with wave.open(str(path), "rb") as wav:
            return wav.getnframes() / wav.getframerate()
    except (wave.Error, EOFError):
        return None


class VirtualMicrophone:
    """An isolated PulseAudio daemon whose default source hears whatever is played into its sink."""

    # Variables that would steer PulseAudio clients away from the virtual devices.
    unset_env = ("PULSE_SOURCE", "PULSE_SINK")

    def __init__(self, *, start_timeout: float = 5.0) -> None:
        self._start_timeout = start_timeout
        self._tmp: Path | None = None
        self._daemon: subprocess.Popen[bytes] | None = None
        self._daemon_log: IO[bytes] | None = None
        self._player_log: IO[bytes] | None = None
        self._players: list[subprocess.Popen[bytes]] = []
        self._modules: list[str] = []
        self.env: dict[str, str] = {}

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def present(self) -> bool:
        """Whether the virtual source is currently plugged in."""
        return bool(self._modules)

    @property
    def pid(self) -> int | None:
        """The PulseAudio daemon's process id while it runs."""
        return self._daemon.pid if self._daemon is not None else None

    @property
    def temp_dir(self) -> Path | None:
        """The private directory holding the socket, cookie, ALSA config and logs."""
        return self._tmp

    @property
    def log_path(self) -> Path | None:
        """The PulseAudio daemon's log file."""
        return self._tmp / "pulseaudio.log" if self._tmp else None

    def start(self) -> Self:
        """Start the daemon and plug in the virtual microphone."""
        if self._daemon is not None:
            raise HarnessError("VirtualMicrophone already started")
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        tmp = self._tmp = Path(tempfile.mkdtemp(prefix="stt-mic-"))
        socket = tmp / "native"
        if len(str(socket)) > _MAX_SOCKET_PATH:
            raise HarnessError(f"socket path {socket} is too long for AF_UNIX; set TMPDIR to a shorter directory")
        cookie = tmp / "cookie"
        self.env = {"PULSE_SERVER": f"unix:{socket}", "PULSE_COOKIE": str(cookie)}
        if _ALSA_TOP_CONFIG.exists():
            # Debian's /etc/alsa/conf.d/99-pulse.conf already routes ALSA's
            # "default" to PulseAudio when PULSE_SERVER answers, but other
            # hooks (pipewire-alsa, a user's ~/.asoundrc) can win; force it.
            asound = tmp / "asound.conf"
            asound.write_text(
                f"<{_ALSA_TOP_CONFIG}>\n"
                'pcm.!default { type pulse hint { show on description "stt virtual microphone" } }\n'
                "ctl.!default { type pulse }\n"
            )
            self.env["ALSA_CONFIG_PATH"] = str(asound)

        # Point every per-user path at the temp dir so the daemon neither sees
        # nor disturbs a desktop PulseAudio/PipeWire, and refuse the session
        # bus so it cannot register itself there.
        daemon_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "HOME": str(tmp),
            "XDG_RUNTIME_DIR": str(tmp),
            "XDG_CONFIG_HOME": str(tmp / "config"),
            "XDG_STATE_HOME": str(tmp / "state"),
            "XDG_CACHE_HOME": str(tmp / "cache"),
            "PULSE_RUNTIME_PATH": str(tmp / "runtime"),
            "PULSE_STATE_PATH": str(tmp / "state"),
            "PULSE_COOKIE": str(cookie),
            "DBUS_SESSION_BUS_ADDRESS": f"unix:path={tmp / 'no-session-bus'}",
        }
        cmd = [
            "pulseaudio",
            "-n",  # no default.pa: only the modules loaded here exist
            "--daemonize=no",
            "--use-pid-file=false",
            "--exit-idle-time=-1",
            "--disallow-exit",
            "--realtime=false",
            "--high-priority=false",
            # The CPU limiter SIGKILLs the daemon when a loaded CI box starves it.
            "--no-cpu-limit",
            "--log-target=stderr",
            "-L",
            f'module-native-protocol-unix socket="{socket}" auth-anonymous=1',
        ]
        # Running as root only earns a warning in per-user mode; no flag needed.
        # Both stay open for the daemon's lifetime and are closed by stop().
        self._daemon_log = open(tmp / "pulseaudio.log", "wb")  # noqa: SIM115
        self._player_log = open(tmp / "paplay.log", "wb")  # noqa: SIM115
        self._daemon = _spawn(cmd, env=daemon_env, log=self._daemon_log)

        def answering() -> bool:
            if self._daemon is not None and self._daemon.poll() is not None:
                raise HarnessError(f"pulseaudio exited with {self._daemon.returncode}:\n{_tail(self.log_path)}")
            if not socket.is_socket():
                return False
            # The socket file appears at bind(), a moment before listen(): until
            # then connections are refused, so ask the daemon itself.
            try:
                self._pactl("info")
            except HarnessError:
                return False
            return True

        _wait_until(answering, self._start_timeout, "the PulseAudio daemon to answer")
        self._load_devices()

    def _pactl(self, *args: str) -> str:
        """Run pactl against this daemon and return its stdout."""
        try:
            done = subprocess.run(
                ["pactl", *args],
                check=False,
                env=child_env(self),
                capture_output=True,
                text=True,
                timeout=_COMMAND_TIMEOUT,
            )
        except subprocess.TimeoutExpired as exc:
            raise HarnessTimeout(f"pactl {' '.join(args)} timed out") from exc
        if done.returncode != 0:
            raise HarnessError(f"pactl {' '.join(args)} failed: {done.stderr.strip()}\n{_tail(self.log_path)}")
        return done.stdout

    def _load_devices(self) -> None:
        """Create the sink, the microphone on its monitor, and the keep-alive loopback."""
        for module in (
            [
                "module-null-sink",
                f"sink_name={SINK_NAME}",
                "rate=48000",
                "channels=2",
                "sink_properties=device.description=stt_virtual_speaker",
            ],
            # A plain source on top of the monitor: desktop apps that hide
            # monitor sources from their microphone lists still offer it.
            [
                "module-remap-source",
                f"master={SINK_NAME}.monitor",
                f"source_name={SOURCE_NAME}",
                "source_properties=device.description=stt_virtual_microphone",
            ],
            # A null sink with no low-latency client renders 2 s blocks, so a new
            # recording stream would wait up to 2 s for its first buffer (a real
            # microphone starts in ~20 ms). A permanent low-latency reader on the
            # monitor keeps the blocks small; its output goes to a second sink.
            ["module-null-sink", f"sink_name={KEEPALIVE_SINK_NAME}", "sink_properties=device.description=stt_keepalive"],
            [
                "module-loopback",
                f"source={SINK_NAME}.monitor",
                f"sink={KEEPALIVE_SINK_NAME}",
                "latency_msec=10",
                "source_dont_move=true",
                "sink_dont_move=true",
            ],
        ):
            self._modules.append(self._pactl("load-module", *module).strip())
        self._pactl("set-default-sink", SINK_NAME)
        self._pactl("set-default-source", SOURCE_NAME)
        # The sink's timer is still armed for the 2 s block it rendered at
        # creation; a suspend/resume cycle restarts it with the small block size.
        self._pactl("suspend-sink", SINK_NAME, "1")
        self._pactl("suspend-sink", SINK_NAME, "0")

    def _unload_devices(self) -> None:
        """Unload the device modules in reverse order, ignoring ones already gone."""
        while self._modules:
            index = self._modules.pop()
            try:
                self._pactl("unload-module", index)
            except HarnessError:
                if self._daemon is not None and self._daemon.poll() is None:
                    raise

    def unload_source(self) -> None:
        """Unplug the microphone: afterwards PulseAudio has no source at all and recording streams die."""
        # Unloading only the remap source is not enough: PulseAudio would
        # silently move recording streams to the sink's monitor, so the sink
        # goes too and no source is left to rescue streams onto.
        if not self.present:
            raise HarnessError("the virtual microphone is already unplugged")
        self._stop_players()
        self._unload_devices()
        leftover = self._pactl("list", "short", "sources").strip()
        if leftover:
            raise HarnessError(f"sources still present after unload: {leftover}")

    def reload_source(self) -> None:
        """Plug the microphone back in after unload_source()."""
        if self.present:
            raise HarnessError("the virtual microphone is already plugged in")
        self._load_devices()

    def play(self, wav_path: str | os.PathLike[str], *, wait: bool = True) -> subprocess.Popen[bytes] | None:
        """Play a WAV file into the microphone; block until done unless wait is False, then return the Popen."""
        if not self.present:
            raise HarnessError("cannot play: the virtual microphone is unplugged")
        path = Path(wav_path)
        if not path.is_file():
            raise FileNotFoundError(path)
        assert self._player_log is not None
        player = _spawn(["paplay", f"--device={SINK_NAME}", str(path)], env=child_env(self), log=self._player_log)
        self._players = [p for p in self._players if p.poll() is None] + [player]
        if not wait:
            return player
        duration = _wav_duration(path)
        timeout = 60.0 if duration is None else duration + _COMMAND_TIMEOUT
        try:
            returncode = player.wait(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            stop_process(player)
            raise HarnessTimeout(f"paplay {path} did not finish within {timeout:.0f}s") from exc
        if returncode != 0:
            log = self._tmp / "paplay.log" if self._tmp else None
            raise HarnessError(f"paplay {path} exited with {returncode}:\n{_tail(log)}")
        return None

    def play_silence(self, seconds: float, *, wait: bool = True) -> subprocess.Popen[bytes] | None:
        """Play digital silence for the given duration (useful to keep a sequence of clips in order)."""
        assert self._tmp is not None
        path = self._tmp / f"silence-{seconds:.3f}s.wav"
        if not path.exists():
            rate = 16000
            with wave.open(str(path), "wb") as wav:
                wav.setnchannels(1)
                wav.setsampwidth(2)
                wav.setframerate(rate)
                wav.writeframes(b"\0\0" * round(seconds * rate))
        return self.play(path, wait=wait)

    def _stop_players(self) -> None:
        for player in self._players:
            stop_process(player)
        self._players = []

    def stop(self) -> None:
        """Kill players and the daemon and delete the temp dir; safe to call twice."""
        try:
            self._stop_players()
            stop_process(self._daemon)
        finally:
            self._daemon = None
            self._modules = []
            for log in (self._daemon_log, self._player_log):
                if log is not None:
                    log.close()
            self._daemon_log = self._player_log = None
            if self._tmp is not None:
                shutil.rmtree(self._tmp, ignore_errors=True)
                self._tmp = None


class CaptureWindow:
    """An xterm whose keyboard input is appended, byte for byte, to a file."""

    def __init__(self, display: VirtualDisplay, process: subprocess.Popen[bytes], path: Path, title: str, window_id: int) -> None:
        self.display = display
        self.process = process
        self.path = path
        self.title = title
        self.window_id = window_id

    def __repr__(self) -> str:
        return f"CaptureWindow(title={self.title!r}, window_id={self.window_id}, path={str(self.path)!r})"

    def read(self) -> str:
        """Return everything typed into the window so far."""
        # A read can land between the bytes of one UTF-8 character; the
        # replacement character then only lasts until the next poll.
        return self.path.read_bytes().decode("utf-8", errors="replace")

    def clear(self) -> None:
        """Forget what was typed so far."""
        # cat opened the file with O_APPEND, so its next write lands at offset 0.
        os.truncate(self.path, 0)

    def focus(self) -> None:
        """Give this window the keyboard focus and wait until the X server confirms it."""
        self.display.xdotool("windowfocus", "--sync", str(self.window_id))
        _wait_until(lambda: self.display.focused_window() == self.window_id, _COMMAND_TIMEOUT, f"focus on {self.title}")

    def has_focus(self) -> bool:
        """Whether this window currently has the keyboard focus."""
        return self.display.focused_window() == self.window_id

    def wait_for(self, text: str, timeout: float = 5.0) -> str:
        """Wait until text appears in the window and return the whole content."""
        return self._wait(lambda content: text in content, timeout, f"{text!r}")

    def wait_for_length(self, n: int, timeout: float = 5.0) -> str:
        """Wait until at least n characters have been typed and return the content."""
        return self._wait(lambda content: len(content) >= n, timeout, f"{n} characters")

    def settle(self, quiet: float = 0.3, timeout: float = 10.0) -> str:
        """Wait until nothing new has been typed for quiet seconds and return the content."""
        deadline = time.monotonic() + timeout
        content, since = self.read(), time.monotonic()
        while time.monotonic() - since < quiet:
            if time.monotonic() >= deadline:
                raise HarnessTimeout(f"{self.title} kept changing for {timeout:.1f}s; last content {content!r}")
            time.sleep(0.02)
            current = self.read()
            if current != content:
                content, since = current, time.monotonic()
        return content

    def _wait(self, done: Callable[[str], bool], timeout: float, what: str) -> str:
        deadline = time.monotonic() + timeout
        while True:
            content = self.read()
            if done(content):
                return content
            if self.process.poll() is not None:
                raise HarnessError(f"{self.title} exited with {self.process.returncode}; content {content!r}")
            if time.monotonic() >= deadline:
                raise HarnessTimeout(f"timed out after {timeout:.1f}s waiting for {what} in {self.title}; content {content!r}")
            time.sleep(0.02)

    def close(self) -> None:
        """Close the xterm."""
        stop_process(self.process)


class VirtualDisplay:
    """An Xvfb server (no window manager) with helpers to open xterms that record what is typed."""

    # A Wayland session variable would make clients pick a Wayland backend.
    unset_env = ("WAYLAND_DISPLAY",)

    def __init__(self, *, size: tuple[int, int] = (1280, 800), start_timeout: float = 5.0) -> None:
        self._size = size
        self._start_timeout = start_timeout
        self._tmp: Path | None = None
        self._server: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._windows: list[CaptureWindow] = []
        self.display_number: int | None = None
        self.env: dict[str, str] = {}

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def pid(self) -> int | None:
        """The Xvfb process id while it runs."""
        return self._server.pid if self._server is not None else None

    @property
    def temp_dir(self) -> Path | None:
        """The private directory holding capture files and logs."""
        return self._tmp

    @property
    def log_path(self) -> Path | None:
        """The Xvfb log file."""
        return self._tmp / "xvfb.log" if self._tmp else None

    def start(self) -> Self:
        """Start Xvfb on a display number it picks itself."""
        if self._server is not None:
            raise HarnessError("VirtualDisplay already started")
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        self._tmp = Path(tempfile.mkdtemp(prefix="stt-x11-"))
        self._log = open(self._tmp / "xvfb.log", "wb")  # noqa: SIM115  (closed by stop())
        width, height = self._size
        read_fd, write_fd = os.pipe()
        try:
            self._server = _spawn(
                [
                    "Xvfb",
                    "-displayfd", str(write_fd),  # Xvfb picks a free display and writes its number here once ready
                    "-screen", "0", f"{width}x{height}x24",
                    "-nolisten", "tcp",
                    "-noreset",  # keep the server (and its keymap) when the last client disconnects
                ],
                env=os.environ,
                log=self._log,
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
                raise HarnessTimeout(f"Xvfb did not report a display within {self._start_timeout:.1f}s:\n{_tail(self.log_path)}")
            ready, _, _ = select.select([fd], [], [], remaining)
            if ready:
                chunk = os.read(fd, 64)
                if not chunk:  # Xvfb exited before it was ready
                    raise HarnessError(f"Xvfb failed to start:\n{_tail(self.log_path)}")
                data += chunk
        return data.decode().strip()

    def xdotool(self, *args: str, timeout: float = _COMMAND_TIMEOUT) -> str:
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
                timeout=_COMMAND_TIMEOUT,
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
        if self._tmp is None or self._server is None:
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
        assert self._log is not None
        offset = 20 + 40 * (index % 10)  # cascade, but stay on screen however many windows a display opens
        process = _spawn(
            [
                "xterm",
                "-u8",
                "-T", title,
                "-n", title,
                "-geometry", f"80x10+{offset}+{offset}",
                "-e", "sh", "-c", script, "sh", str(capture), str(ready),
            ],
            env=env,
            log=self._log,
        )
        try:
            window = CaptureWindow(self, process, capture, title, self._find_window(title, process))
            _wait_until(ready.exists, self._start_timeout, f"{title} to start reading input")
            if focus:
                window.focus()
        except BaseException:
            stop_process(process)
            raise
        self._windows.append(window)
        return window

    def _find_window(self, title: str, process: subprocess.Popen[bytes]) -> int:
        """Wait for the window titled title to exist and return its id."""
        # Polls itself because `xdotool search --sync` retries only every 0.5 s.
        deadline = time.monotonic() + self._start_timeout
        while True:
            if process.poll() is not None:
                raise HarnessError(f"xterm for {title} exited with {process.returncode}:\n{_tail(self.log_path)}")
            found = subprocess.run(
                ["xdotool", "search", "--limit", "1", "--name", f"^{title}$"],
                check=False,
                env=child_env(self),
                capture_output=True,
                text=True,
                timeout=_COMMAND_TIMEOUT,
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
            stop_process(self._server)
        finally:
            self._windows = []
            self._server = None
            if self._log is not None:
                self._log.close()
                self._log = None
            if self._tmp is not None:
                shutil.rmtree(self._tmp, ignore_errors=True)
                self._tmp = None


# --- real speech servers (remote-backend tests and the benchmark) ---------------------------


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wyoming_server_argv(uri: str, model_dir: Path, data_dir: Path, cpu_threads: int, *extra: str) -> list[str]:
    """wyoming-faster-whisper on `uri`, offline, greedy, int8, like the local backend."""
    return [sys.executable, "-m", "wyoming_faster_whisper", "--uri", uri, "--model", str(model_dir),
            "--data-dir", str(data_dir), "--local-files-only", "--language", "en",
            "--beam-size", "1", "--cpu-threads", str(cpu_threads), "--compute-type", "int8", *extra]  # fmt: skip


def openai_server_argv(model_dir: Path, port: int, log_level: str = "info") -> list[str]:
    """faster-whisper-server (OpenAI-compatible /v1/audio/transcriptions) on a loopback port."""
    return [sys.executable, "-m", "faster_whisper_server", str(model_dir), "--host", "127.0.0.1", "--port", str(port), "--log-level", log_level]


__all__ = [
    "DISPLAY_BINARIES",
    "MIC_BINARIES",
    "SINK_NAME",
    "SOURCE_NAME",
    "CaptureWindow",
    "HarnessError",
    "HarnessTimeout",
    "VirtualDisplay",
    "VirtualMicrophone",
    "child_env",
    "free_port",
    "missing_binaries",
    "openai_server_argv",
    "stop_process",
    "wyoming_server_argv",
]
