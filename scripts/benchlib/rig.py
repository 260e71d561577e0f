"""The rig: the tests' virtual microphone and screen, one real `sttd`, control and event streams.

Everything started here is stopped by `Rig.close()`, which the entry point calls in
a `finally`. Every wait has a timeout.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from .common import REPO, STT, STTD, log

from tests.harness import (  # noqa: E402  (sys.path is set by scripts/bench)
    DISPLAY_BINARIES,
    MIC_BINARIES,
    CaptureWindow,
    VirtualDisplay,
    VirtualMicrophone,
    child_env,
    missing_binaries,
    stop_process,
)


class BenchError(RuntimeError):
    """Something the benchmark needs did not happen."""


def _orphan_guard() -> list[str]:
    """Kill the child with SIGTERM if the benchmark dies without cleaning up (main thread only)."""
    if threading.current_thread() is threading.main_thread() and shutil.which("setpriv"):
        return ["setpriv", "--pdeathsig", "TERM", "--"]
    return []


def _read_line(sock: socket.socket, buf: bytearray, deadline: float) -> bytes | None:
    while b"\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no reply line in time")
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except socket.timeout as exc:
            raise TimeoutError("no reply line in time") from exc
        if not chunk:
            return None
        buf += chunk
    i = buf.index(b"\n")
    line = bytes(buf[:i])
    del buf[: i + 1]
    return line


class Events:
    """A `subscribe` stream read by a background thread; every event is stamped with its receive time."""

    def __init__(self, address: str, timeout: float = 5.0) -> None:
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout)
        self._sock.connect(address)
        self._sock.sendall(b'{"type":"subscribe","v":1}\n')
        self._buf = bytearray()
        first = _read_line(self._sock, self._buf, time.monotonic() + timeout)
        if first is None or json.loads(first).get("type") != "ok":
            raise BenchError(f"subscription refused: {first!r}")
        self.events: list[dict] = []
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="bench-events", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        self._sock.settimeout(0.5)
        while not self._closed:
            try:
                chunk = self._sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            now = time.time()
            if not chunk:
                break
            self._buf += chunk
            new = []
            while b"\n" in self._buf:
                i = self._buf.index(b"\n")
                line = bytes(self._buf[:i])
                del self._buf[: i + 1]
                try:
                    ev = json.loads(line)
                except ValueError:
                    continue
                ev["_rx"] = now
                new.append(ev)
            if new:
                with self._cond:
                    self.events.extend(new)
                    self._cond.notify_all()
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def mark(self) -> int:
        """An index: events after it are the ones that arrive from now on."""
        with self._cond:
            return len(self.events)

    def since(self, index: int) -> list[dict]:
        with self._cond:
            return list(self.events[index:])

    def wait_for(self, pred: Callable[[dict], bool], since: int, timeout: float, what: str) -> dict:
        """The first event after `since` that satisfies pred; BenchError after timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            i = since
            while True:
                while i < len(self.events):
                    if pred(self.events[i]):
                        return self.events[i]
                    i += 1
                left = deadline - time.monotonic()
                if left <= 0 or self._closed:
                    raise BenchError(f"no {what} event within {timeout:.1f} s" + (" (stream closed)" if self._closed else ""))
                self._cond.wait(left)

    def close(self) -> None:
        self._closed = True
        try:
            self._sock.close()
        except OSError:
            pass
        self._thread.join(timeout=2.0)


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all threads), in seconds, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _tree_seconds(pid: int) -> float:
    """utime + stime + cutime + cstime of a live process (its reaped children included)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def machine_jiffies() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine, all cores, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    hz = os.sysconf("SC_CLK_TCK")
    idle = v[3] + v[4]
    return (sum(v) - idle) / hz, sum(v) / hz


def rss_bytes(pid: int) -> int:
    """VmRSS of a process."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise BenchError(f"no VmRSS for pid {pid}")


class Rig:
    """Virtual microphone + Xvfb with a capture xterm + one `sttd` on a private socket."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.mic: VirtualMicrophone | None = None
        self.display: VirtualDisplay | None = None
        self.window: CaptureWindow | None = None
        self.sttd: subprocess.Popen | None = None
        self.sttd_log: Path = workdir / "sttd.stderr"
        self.socket_name = f"stt-bench-{uuid.uuid4().hex[:12]}"
        self.env: dict[str, str] = {}
        self.events: Events | None = None
        self.load_seconds: float | None = None
        self.helpers: list[subprocess.Popen] = []
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
        argv = [*_orphan_guard(), str(STTD), "--injector", "xdotool", "--log-level", "info", *extra]
        log(f"starting sttd on @{self.socket_name}")
        t0 = time.monotonic()
        with open(self.sttd_log, "ab") as err:
            self.sttd = subprocess.Popen(argv, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + timeout
        while True:
            if self.sttd.poll() is not None:
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
        if self.sttd is not None and self.sttd.poll() is None:
            try:
                self.request({"type": "shutdown"}, timeout=2.0)
                self.sttd.wait(timeout=8.0)
            except Exception:
                pass
            stop_process(self.sttd)

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
        pids = []
        if self.sttd is not None and self.sttd.poll() is None:
            pids.append(self.sttd.pid)
        for proc in (getattr(self.mic, "_daemon", None), getattr(self.display, "_server", None)):
            if proc is not None and proc.poll() is None:
                pids.append(proc.pid)
        for w in getattr(self.display, "_windows", None) or []:
            if w.process.poll() is None:
                pids.append(w.process.pid)
        pids += [p.pid for p in self.helpers if p.poll() is None]
        return total + sum(_tree_seconds(p) for p in pids)

    def contention(self) -> "Contention":
        return Contention(self)

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
        return self.sttd is not None and self.sttd.poll() is None

    def request(self, obj: dict, timeout: float = 10.0) -> dict:
        """One command on a fresh connection, like `stt` does; the reply object."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.settimeout(timeout)
            s.connect(self.address)
            s.sendall(json.dumps({"v": 1, **obj}, separators=(",", ":")).encode() + b"\n")
            line = _read_line(s, bytearray(), time.monotonic() + timeout)
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


class Contention:
    """How much CPU processes other than this benchmark's used between creation and `stop()`."""

    def __init__(self, rig: Rig) -> None:
        self._rig = rig
        self._m0 = machine_jiffies()
        self._o0 = rig.our_cpu_seconds()
        self._t0 = time.monotonic()
        self.result: dict | None = None

    def stop(self) -> dict:
        m1 = machine_jiffies()
        o1 = self._rig.our_cpu_seconds()
        wall = time.monotonic() - self._t0
        busy = m1[0] - self._m0[0]
        ours = o1 - self._o0
        self.result = {
            "wall_s": wall,
            "machine_busy_cores": busy / wall if wall > 0 else None,
            "ours_cores": ours / wall if wall > 0 else None,
            "others_cores": max(busy - ours, 0.0) / wall if wall > 0 else None,
        }
        return self.result
