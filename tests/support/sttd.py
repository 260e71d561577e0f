"""Real `sttd` processes on private sockets for tests, and the real `stt` run against them.

Every server gets its own abstract socket name (`STT_SOCKET`), its own state directory
and its own stderr log file; an `SttdFactory` kills every server it started at
`close()`, even when the test failed. Every wait here has a timeout.

    srv = factory("--injector", "stdout", env={"DISPLAY": ":99"}, wait="idle")
    assert srv.request({"type": "status"})["state"] == "idle"
    result = srv.client("status", "--json")       # the real `stt`, same socket
    srv.wait_log("listening")                     # grep the server's stderr
"""

from __future__ import annotations

import re
import subprocess
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from tests.support.conn import Conn
from tests.support.env import CLIENT_CMD, REPO, SERVER_CMD, base_env, unique_socket_name
from tests.support.process import Process


class Sttd:
    """One `sttd` process started by a test: its socket, environment, files and status."""

    def __init__(self, process: Process, socket_name: str, env: dict[str, str], root: Path) -> None:
        self.process = process
        self.socket_name = socket_name
        self.env = env
        self.root = root
        self.args = process.argv
        self.stderr_path = process.log_path
        self.stdout_path = root / "sttd.stdout"
        self.state_dir = Path(env["STT_STATE_DIR"]) if "STT_STATE_DIR" in env else None

    @property
    def proc(self) -> subprocess.Popen[bytes]:
        """The raw process, for tests that signal or reap it themselves."""
        return self.process.popen

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def address(self) -> str:
        return "\0" + self.socket_name

    def log(self) -> str:
        """Everything the server wrote to stderr so far."""
        return self.process.log()

    def stdout(self) -> str:
        """Everything the server wrote to stdout so far."""
        try:
            return self.stdout_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def alive(self) -> bool:
        return self.process.alive()

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
                raise AssertionError(f"sttd exited with {self.process.returncode} before answering; stderr:\n{self.log()}")
            try:
                return self.status(timeout=max(0.2, deadline - time.monotonic()))
            except (OSError, TimeoutError, AssertionError) as exc:
                last = exc
                time.sleep(0.02)
        raise AssertionError(f"sttd did not answer status within {timeout} s ({last!r}); stderr:\n{self.log()}")

    def no_microphone(self, st: dict) -> bool:
        """A server started without the virtual microphone has no input device: sttd reports that as its
        error from start-up; for a test that is not about audio that server is as good as idle."""
        return st["state"] == "error" and "PULSE_SERVER" not in self.env and "input device" in (st.get("error") or "")

    def wait_state(self, *states: str, timeout: float = 30.0) -> dict:
        """Poll `status` until its state is one of `states` (default: idle)."""
        want = states or ("idle",)
        deadline = time.monotonic() + timeout
        st = self.wait_ready(timeout)
        while st["state"] not in want and not ("idle" in want and self.no_microphone(st)):
            if time.monotonic() > deadline:
                raise AssertionError(f"state {st['state']!r}, wanted {want} within {timeout} s; stderr:\n{self.log()}")
            time.sleep(0.05)
            if not self.alive():
                raise AssertionError(f"sttd exited with {self.process.returncode}; stderr:\n{self.log()}")
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
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"sttd pid {self.pid} still running after {timeout} s; stderr:\n{self.log()}") from None

    def signal(self, sig: int) -> None:
        self.process.signal(sig)

    def kill(self) -> None:
        """SIGKILL and reap (idempotent)."""
        self.process.kill()

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
    """Starts `sttd` processes under `base` and kills every one of them at `close()`.

    For a server shared by a module, build one on a `tmp_path_factory.mktemp(...)`
    directory in a module-scoped fixture and call `close()` at teardown.
    """

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
        process = Process(argv, root / "sttd.stderr", full_env, REPO, stdout_path=root / "sttd.stdout").start()
        srv = Sttd(process, name, full_env, root)
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


__all__ = ["Sttd", "SttdFactory", "run_client"]
