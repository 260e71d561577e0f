"""The rig: the tests' virtual microphone and screen, one real `sttd`, control and event streams.

Everything started here is stopped by `Rig.close()`, which the entry point calls in
a `finally`. Every wait has a timeout.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import uuid
from pathlib import Path

from .common import REPO, STT, STTD, BenchError, log
from .cpu import Contention, tree_seconds
from .events import Events, read_line

from tests.support.devices import child_env, missing_binaries  # (sys.path is set by scripts/bench)
from tests.support.display import DISPLAY_BINARIES, CaptureWindow, VirtualDisplay
from tests.support.mic import MIC_BINARIES, VirtualMicrophone
from tests.support.process import Process


class Rig:
    """Virtual microphone + Xvfb with a capture xterm + one `sttd` on a private socket."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.mic: VirtualMicrophone | None = None
        self.display: VirtualDisplay | None = None
        self.window: CaptureWindow | None = None
        self.sttd: Process | None = None
        self.sttd_log: Path = workdir / "sttd.stderr"
        self.socket_name = f"stt-bench-{uuid.uuid4().hex[:12]}"
        self.env: dict[str, str] = {}
        self.events: Events | None = None
        self.load_seconds: float | None = None
        self.helpers: list[Process] = []
        """Other processes the benchmark started (speech servers): their CPU is ours too."""

    @property
    def address(self) -> str:
        return "\0" + self.socket_name

    # --- life cycle -------------------------------------------------------------

    def start_devices(self) -> None:
        missing = missing_binaries((*MIC_BINARIES, *DISPLAY_BINARIES))
        if missing:
            raise BenchError(f"missing programs: {', '.join(missing)} (scripts/test installs them)")
        log("starting the virtual microphone and Xvfb")
        self.mic = VirtualMicrophone().start()
        self.display = VirtualDisplay().start()
        self.window = self.display.open_capture_window(self.workdir / "capture.txt")
        # This process also talks to both devices (sounddevice, the injector under test).
        for name in (*self.mic.unset_env, *self.display.unset_env):
            os.environ.pop(name, None)
        os.environ.update(self.mic.env)
        os.environ.update(self.display.env)

    def start_sttd(self, *extra: str, timeout: float = 180.0) -> None:
        """Start `sttd --injector xdotool` with `extra` arguments; return once it is idle, subscribed to its events."""
        assert self.mic is not None and self.display is not None
        env = {k: v for k, v in child_env(self.mic, self.display).items() if not k.startswith("STT_")}
        env.update(
            STT_SOCKET=self.socket_name,
            STT_STATE_DIR=str(self.workdir / "state"),
            XDG_STATE_HOME=str(self.workdir / "xdg-state"),
            XDG_CONFIG_HOME=str(self.workdir / "config"),  # no user config.toml leaks in
            HF_HUB_OFFLINE="1",
            PYTHONUNBUFFERED="1",
        )
        self.env = env
        if not STTD.exists():
            raise BenchError(f"{STTD} is missing; run scripts/test once to set up .venv")
        argv = [str(STTD), "--injector", "xdotool", "--log-level", "info", *extra]
        log(f"starting sttd on @{self.socket_name}")
        t0 = time.monotonic()
        self.sttd = Process(argv, self.sttd_log, env, REPO, stdout_path=os.devnull, guard=True).start()
        deadline = time.monotonic() + timeout
        while True:
            if not self.sttd.alive():
                raise BenchError(f"sttd exited with {self.sttd.returncode}:\n{self.log_text()[-2000:]}")
            try:
                st = self.request({"type": "status"}, timeout=2.0)
                if st.get("state") == "idle":
                    break
                if st.get("state") == "error":
                    raise BenchError(f"sttd is in state error: {st.get('error')}")
            except (OSError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise BenchError(f"sttd not idle within {timeout:.0f} s:\n{self.log_text()[-2000:]}")
            time.sleep(0.05)
        self.load_seconds = time.monotonic() - t0
        log(f"sttd idle after {self.load_seconds:.1f} s (pid {self.sttd.pid})")
        self.events = Events(self.address)

    def stop_sttd(self) -> None:
        """Shut sttd down (a `shutdown` request, then signals); never raises."""
        if self.events is not None:
            self.events.close()
            self.events = None
        if self.sttd is not None and self.sttd.alive():
            try:
                self.request({"type": "shutdown"}, timeout=2.0)
                self.sttd.wait(timeout=8.0)
            except Exception:
                pass
            self.sttd.stop()

    def restart_sttd(self, *extra: str, timeout: float = 180.0) -> None:
        """Replace the running sttd by one started with `extra` arguments (the socket is a singleton)."""
        self.stop_sttd()
        self.start_sttd(*extra, timeout=timeout)

    def close(self) -> None:
        """Stop everything this rig started; never raises."""
        self.stop_sttd()
        for dev in (self.display, self.mic):
            if dev is not None:
                try:
                    dev.stop()
                except Exception as exc:  # keep cleaning up the rest
                    log(f"cleanup: {type(dev).__name__}.stop failed: {exc}")
        self.display = self.mic = self.window = None

    def our_cpu_seconds(self) -> float:
        """CPU used so far by this benchmark and everything it started (live or reaped)."""
        t = os.times()
        total = t.user + t.system + t.children_user + t.children_system
        procs = [self.sttd, *self.helpers]
        procs += self.mic.processes() if self.mic is not None else []
        procs += self.display.processes() if self.display is not None else []
        pids = [p.pid for p in procs if p is not None and p.alive()]
        return total + sum(tree_seconds(p) for p in pids)

    def contention(self) -> Contention:
        return Contention(self.our_cpu_seconds)

    # --- talking to sttd --------------------------------------------------------

    def log_text(self) -> str:
        try:
            return self.sttd_log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    @property
    def pid(self) -> int:
        assert self.sttd is not None
        return self.sttd.pid

    def alive(self) -> bool:
        return self.sttd is not None and self.sttd.alive()

    def request(self, obj: dict, timeout: float = 10.0) -> dict:
        """One command on a fresh connection, like `stt` does; the reply object."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.settimeout(timeout)
            s.connect(self.address)
            s.sendall(json.dumps({"v": 1, **obj}, separators=(",", ":")).encode() + b"\n")
            line = read_line(s, bytearray(), time.monotonic() + timeout)
        finally:
            s.close()
        if line is None:
            raise BenchError(f"sttd closed the connection instead of answering {obj}")
        return json.loads(line)

    def status(self) -> dict:
        st = self.request({"type": "status"}, timeout=5.0)
        if st.get("type") != "status":
            raise BenchError(f"status answered {st}")
        return st

    def client(self, *args: str, timeout: float = 30.0) -> subprocess.CompletedProcess:
        """The real `stt` against this server."""
        return subprocess.run([str(STT), *args], cwd=REPO, env=self.env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)

    def start_recording(self, timeout: float = 5.0) -> dict:
        """`start`; wait until the microphone delivered its first block; the recording_started event."""
        assert self.events is not None
        mark = self.events.mark()
        reply = self.request({"type": "start"})
        if reply.get("type") != "ok":
            raise BenchError(f"start answered {reply}")
        return self.events.wait_for(lambda e: e.get("type") == "recording_started", mark, timeout, "recording_started")

    def stop_recording(self, recording: int | None = None, timeout: float = 10.0) -> dict | None:
        """`stop`; wait for recording_stopped (of `recording` when given)."""
        assert self.events is not None
        mark = self.events.mark()
        reply = self.request({"type": "stop"})
        if reply.get("type") != "ok":
            raise BenchError(f"stop answered {reply}")
        if "not recording" in reply.get("message", ""):
            return None
        return self.events.wait_for(
            lambda e: e.get("type") == "recording_stopped" and (recording is None or e.get("recording") == recording),
            mark,
            timeout,
            "recording_stopped",
        )

    def ensure_idle(self) -> None:
        """Leave the server idle (stop a recording a failed section left open)."""
        try:
            if self.alive() and self.status().get("state") == "recording":
                self.stop_recording()
        except Exception as exc:
            log(f"could not return sttd to idle: {exc}")

    def wait_quiet(self, quiet: float = 0.5, timeout: float = 30.0) -> None:
        """Wait until nothing is pending and the capture file has not changed for `quiet` seconds."""
        assert self.window is not None
        deadline = time.monotonic() + timeout
        size, since = -1, time.monotonic()
        while True:
            now = time.monotonic()
            cur = self.window.path.stat().st_size
            if cur != size:
                size, since = cur, now
            if now - since >= quiet and self.status().get("pending", 0) == 0:
                return
            if now > deadline:
                raise BenchError(f"server not quiet within {timeout:.0f} s")
            time.sleep(0.05)
