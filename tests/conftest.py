"""Shared fixtures: real `sttd` processes on private sockets, and a raw socket client.

Every server a test starts gets its own abstract socket name (`STT_SOCKET`), its
own state directory and its own stderr log file, and is killed at teardown even
when the test fails. Every wait and every read here has a timeout.

End-to-end tests reuse these:

    def test_something(sttd_factory):
        srv = sttd_factory("--injector", "stdout", env={"DISPLAY": ":99"}, wait="idle")
        assert srv.request({"type": "status"})["state"] == "idle"
        result = srv.client("status", "--json")       # the real `stt`, same socket
        srv.wait_log("listening")                     # grep the server's stderr

For a server shared by a module, build an `SttdFactory` on a
`tmp_path_factory.mktemp(...)` directory in a module-scoped fixture and call
`close()` on it at teardown (see `tests/server/test_control_socket.py`).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
_BIN = Path(sys.executable).parent

SERVER_CMD: list[str] = [str(_BIN / "sttd")] if (_BIN / "sttd").exists() else [PYTHON, "-m", "stt_dictation.server"]
"""How `sttd` is started (the installed script, else `python -m server`)."""
CLIENT_CMD: list[str] = [str(_BIN / "stt")] if (_BIN / "stt").exists() else [PYTHON, "-m", "stt_dictation.client.cli"]
"""How `stt` is started."""

NOT_RUNNING = "sttd is not running; start it with: sttd"

# Variables of the developer's environment that would change what a test server does.
_SCRUB = ("STT_SOCKET", "STT_STATE_DIR", "STT_TEST_TRANSCRIBE_DELAYS", "STT_TEST_INJECT_DELAY")


def unique_socket_name() -> str:
    """A fresh abstract socket name no other test (or run) uses."""
    return f"stt-test-{uuid.uuid4().hex[:16]}"


def base_env(socket_name: str, state_root: Path | None = None, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a server or client of `socket_name`; `extra` wins (None values delete)."""
    env = {k: v for k, v in os.environ.items() if k not in _SCRUB}
    env["STT_SOCKET"] = socket_name
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.setdefault("HF_HUB_OFFLINE", "1")
    if state_root is not None:
        env["STT_STATE_DIR"] = str(state_root / "state")
        env["XDG_STATE_HOME"] = str(state_root / "xdg-state")
    for k, v in (extra or {}).items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return env


# --- raw socket client ----------------------------------------------------------------


class Conn:
    """A blocking connection to an abstract socket; every read has a timeout."""

    def __init__(self, address: str, timeout: float = 5.0) -> None:
        self.address = address
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.timeout = timeout
        self.buf = b""
        self.eof = False
        # With a timeout set, a Unix connect to a full listen backlog fails with EAGAIN at
        # once instead of waiting; wait for room like a blocking connect would.
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    self.sock.connect(address)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.005)
        except BaseException:
            self.sock.close()
            raise

    def __enter__(self) -> "Conn":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        """Write raw bytes."""
        self.sock.sendall(data)

    def send_json(self, obj: object) -> None:
        """Write one object as a JSON line, exactly as given (no version added)."""
        self.send(json.dumps(obj, separators=(",", ":")).encode() + b"\n")

    def _fill(self, deadline: float) -> bool:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no complete line within the timeout (buffered {len(self.buf)} bytes)")
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        except socket.timeout as exc:
            raise TimeoutError(f"no complete line within the timeout (buffered {len(self.buf)} bytes)") from exc
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def read_line(self, timeout: float | None = None) -> bytes | None:
        """The next line without its newline, or None at end of stream; TimeoutError if none comes."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while b"\n" not in self.buf:
            if self.eof or not self._fill(deadline):
                return None
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def read_json(self, timeout: float | None = None) -> dict | None:
        """The next line parsed as JSON, or None at end of stream."""
        line = self.read_line(timeout)
        return None if line is None else json.loads(line)

    def request(self, obj: object, timeout: float | None = None) -> dict:
        """Send one JSON line and return the reply; fail if the server closes instead."""
        self.send_json(obj)
        reply = self.read_json(timeout)
        assert reply is not None, f"server closed the connection instead of answering {obj!r}"
        return reply

    def wait_closed(self, timeout: float | None = None) -> list[bytes]:
        """Read until the server closes; return the lines it sent meanwhile."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        lines = []
        while True:
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                lines.append(line)
            if self.eof or not self._fill(deadline):
                if self.buf:
                    lines.append(self.buf)
                    self.buf = b""
                return lines


def connect(socket_name: str, timeout: float = 5.0) -> Conn:
    """A raw connection to the abstract socket `socket_name`."""
    return Conn("\0" + socket_name, timeout)


# --- server processes -------------------------------------------------------------------


class Sttd:
    """One `sttd` process started by a test."""

    def __init__(self, proc: subprocess.Popen, socket_name: str, env: dict[str, str], root: Path, args: Sequence[str]) -> None:
        self.proc = proc
        self.socket_name = socket_name
        self.env = env
        self.root = root
        self.args = list(args)
        self.stderr_path = root / "sttd.stderr"
        self.stdout_path = root / "sttd.stdout"
        self.state_dir = Path(env["STT_STATE_DIR"]) if "STT_STATE_DIR" in env else None

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def address(self) -> str:
        return "\0" + self.socket_name

    def log(self) -> str:
        """Everything the server wrote to stderr so far."""
        try:
            return self.stderr_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stdout(self) -> str:
        """Everything the server wrote to stdout so far."""
        try:
            return self.stdout_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def alive(self) -> bool:
        return self.proc.poll() is None

    def connect(self, timeout: float = 5.0) -> Conn:
        return Conn(self.address, timeout)

    def request(self, obj: dict, timeout: float = 5.0) -> dict:
        """One command on a fresh connection (adds `v` unless given)."""
        with self.connect(timeout) as c:
            return c.request({"v": 1, **obj}, timeout)

    def status(self, timeout: float = 5.0) -> dict:
        reply = self.request({"type": "status"}, timeout)
        assert reply.get("type") == "status", reply
        return reply

    def wait_ready(self, timeout: float = 15.0) -> dict:
        """Wait until `status` answers; return it. Fails if the process exits first."""
        deadline = time.monotonic() + timeout
        last: BaseException | None = None
        while time.monotonic() < deadline:
            if not self.alive():
                raise AssertionError(f"sttd exited with {self.proc.returncode} before answering; stderr:\n{self.log()}")
            try:
                return self.status(timeout=max(0.2, deadline - time.monotonic()))
            except (OSError, TimeoutError, AssertionError) as exc:
                last = exc
                time.sleep(0.02)
        raise AssertionError(f"sttd did not answer status within {timeout} s ({last!r}); stderr:\n{self.log()}")

    def wait_state(self, *states: str, timeout: float = 30.0) -> dict:
        """Poll `status` until its state is one of `states` (default: idle)."""
        want = states or ("idle",)
        deadline = time.monotonic() + timeout
        st = self.wait_ready(timeout)
        while st["state"] not in want:
            if time.monotonic() > deadline:
                raise AssertionError(f"state {st['state']!r}, wanted {want} within {timeout} s; stderr:\n{self.log()}")
            time.sleep(0.05)
            if not self.alive():
                raise AssertionError(f"sttd exited with {self.proc.returncode}; stderr:\n{self.log()}")
            st = self.status()
        return st

    def wait_log(self, pattern: str, timeout: float = 10.0) -> re.Match:
        """Wait until the stderr log matches the regular expression `pattern`."""
        deadline = time.monotonic() + timeout
        while True:
            m = re.search(pattern, self.log())
            if m:
                return m
            if time.monotonic() > deadline:
                raise AssertionError(f"{pattern!r} not in the sttd log within {timeout} s; stderr:\n{self.log()}")
            time.sleep(0.05)

    def wait_exit(self, timeout: float = 5.0) -> int:
        """The exit code; fail if the process is still running after `timeout`."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"sttd pid {self.pid} still running after {timeout} s; stderr:\n{self.log()}") from None

    def signal(self, sig: int) -> None:
        if self.alive():
            self.proc.send_signal(sig)

    def kill(self) -> None:
        """SIGKILL and reap (idempotent)."""
        if self.proc.poll() is None:
            try:
                self.proc.kill()
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:  # pragma: no cover - the kernel always delivers SIGKILL
            pass

    def rss_kib(self) -> int:
        """Resident memory of the server process (VmRSS, KiB)."""
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS line")

    def client(self, *args: str, timeout: float = 15.0, env: dict[str, str] | None = None, **kw) -> subprocess.CompletedProcess:
        """Run the real `stt` against this server; returns the completed process (text mode)."""
        return run_client(args, self.socket_name, timeout=timeout, env={**self.env, **(env or {})}, **kw)


class SttdFactory:
    """Starts `sttd` processes under `base` and kills every one of them at `close()`."""

    def __init__(self, base: Path) -> None:
        self.base = Path(base)
        self.started: list[Sttd] = []

    def spawn(
        self,
        *args: str,
        env: dict[str, str | None] | None = None,
        socket_name: str | None = None,
        injector: str | None = "none",
        state_root: Path | None = None,
        cmd: Sequence[str] | None = None,
    ) -> Sttd:
        """Start one server without waiting. `--injector none` unless `injector` says otherwise
        (None leaves the option out); `env` adds or (with None) removes variables; servers
        given the same `socket_name` compete for it; `state_root` shares a state directory."""
        name = socket_name or unique_socket_name()
        root = self.base / f"sttd-{len(self.started)}-{uuid.uuid4().hex[:6]}"
        root.mkdir(parents=True)
        full_env = base_env(name, state_root or root, env)
        argv = list(cmd or SERVER_CMD)
        if injector is not None:
            argv += ["--injector", injector]
        argv += list(args)
        with open(root / "sttd.stderr", "wb") as err, open(root / "sttd.stdout", "wb") as out:
            proc = subprocess.Popen(argv, cwd=REPO, env=full_env, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        srv = Sttd(proc, name, full_env, root, argv)
        self.started.append(srv)
        return srv

    def __call__(self, *args: str, wait: str | None = "ready", timeout: float = 30.0, **kw) -> Sttd:
        """Start a server and wait: "ready" (status answers), "idle" (model loaded) or None."""
        srv = self.spawn(*args, **kw)
        if wait == "ready":
            srv.wait_ready(timeout)
        elif wait == "idle":
            srv.wait_state("idle", timeout=timeout)
        elif wait is not None:
            srv.wait_state(wait, timeout=timeout)
        return srv

    def close(self) -> None:
        for srv in self.started:
            srv.kill()


def run_client(
    args: Sequence[str],
    socket_name: str,
    *,
    timeout: float = 15.0,
    env: dict[str, str] | None = None,
    **kw,
) -> subprocess.CompletedProcess:
    """Run `stt ARGS` against `socket_name` with a timeout; text output captured."""
    full_env = dict(env) if env is not None else base_env(socket_name)
    full_env["STT_SOCKET"] = socket_name
    kw.setdefault("capture_output", True)
    return subprocess.run([*CLIENT_CMD, *args], cwd=REPO, env=full_env, text=True, timeout=timeout, stdin=subprocess.DEVNULL, **kw)


@pytest.fixture
def socket_name() -> str:
    """A fresh abstract socket name."""
    return unique_socket_name()


@pytest.fixture
def sttd_factory(tmp_path: Path) -> Iterator[SttdFactory]:
    """Call it to start `sttd` processes; all are killed when the test ends."""
    factory = SttdFactory(tmp_path)
    try:
        yield factory
    finally:
        factory.close()


@pytest.fixture
def sttd(sttd_factory: SttdFactory) -> Sttd:
    """One `sttd --injector none` that answers `status` (possibly still loading)."""
    return sttd_factory()


@pytest.fixture
def idle_sttd(sttd_factory: SttdFactory) -> Sttd:
    """One `sttd --injector none` with its model loaded."""
    return sttd_factory(wait="idle")


def wait_until(pred: Callable[[], object], timeout: float, interval: float = 0.02, what: str = "condition") -> object:
    """Poll `pred` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout} s")
        time.sleep(interval)


def setpriv_cmd(uid: int = 65534) -> list[str]:
    """The prefix that runs a command as `uid` with no supplementary groups."""
    return ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]


__all__ = [
    "CLIENT_CMD",
    "NOT_RUNNING",
    "PYTHON",
    "REPO",
    "SERVER_CMD",
    "Conn",
    "Sttd",
    "SttdFactory",
    "base_env",
    "connect",
    "run_client",
    "setpriv_cmd",
    "unique_socket_name",
    "wait_until",
]
