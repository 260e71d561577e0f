"""The one child-process wrapper of the tests and the benchmark: output in a log file, bounded stop.

Every helper process (sttd, speech servers, PulseAudio, Xvfb, xterm, paplay) runs
through `Process`, so each one has its output on disk for error messages, its stdin
closed, and a stop that terminates, waits at most `timeout` seconds, then kills:

    with Process([sys.executable, "-m", "http.server"], tmp_path / "http.log") as p:
        ...                       # p.pid, p.alive(), p.log_tail()
    # stopped here, even when the block raised
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import threading
from collections.abc import Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import Self

STOP_TIMEOUT = 3.0
"""Seconds `stop()` waits after SIGTERM, and again after SIGKILL."""


def orphan_guard() -> list[str]:
    """A command prefix that sends the child SIGTERM when this process dies without cleaning up."""
    # PR_SET_PDEATHSIG fires when the *thread* that forked the child exits, so
    # only arm it from the main thread, whose exit is the process's exit.
    if threading.current_thread() is not threading.main_thread() or shutil.which("setpriv") is None:
        return []
    return ["setpriv", "--pdeathsig", "TERM", "--"]


class Process:
    """One child process with stdin closed and its output appended to `log_path`.

    `env` None inherits this process's environment; `stdout_path` splits stdout off
    into its own file (stderr stays in `log_path`); `new_session` keeps terminal signals
    meant for us away from it; `guard` prefixes `orphan_guard()`; `pass_fds` are
    inherited descriptors.
    """

    def __init__(
        self,
        argv: Sequence[str],
        log_path: str | PathLike[str],
        env: Mapping[str, str] | None = None,
        cwd: str | PathLike[str] | None = None,
        *,
        stdout_path: str | PathLike[str] | None = None,
        new_session: bool = False,
        guard: bool = False,
        pass_fds: Sequence[int] = (),
    ) -> None:
        self.argv = list(argv)
        self.log_path = Path(log_path)
        self.stdout_path = Path(stdout_path) if stdout_path is not None else None
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self._new_session = new_session
        self._guard = guard
        self._pass_fds = tuple(pass_fds)
        self._popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Self:
        """Start the process (once); returns self."""
        if self._popen is not None:
            raise RuntimeError(f"{self.argv[0]} already started")
        prefix = orphan_guard() if self._guard else []
        with contextlib.ExitStack() as files:
            err = files.enter_context(open(self.log_path, "ab"))
            out = files.enter_context(open(self.stdout_path, "ab")) if self.stdout_path is not None else err
            self._popen = subprocess.Popen(
                [*prefix, *self.argv],
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=self._new_session,
                pass_fds=self._pass_fds,
            )
        return self

    def __enter__(self) -> Self:
        return self if self._popen is not None else self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def popen(self) -> subprocess.Popen[bytes]:
        if self._popen is None:
            raise RuntimeError(f"{self.argv[0]} not started")
        return self._popen

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def returncode(self) -> int | None:
        """The exit status once it has exited (reaped here), else None."""
        return self.popen.poll()

    def alive(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    def wait(self, timeout: float | None = None) -> int:
        """The exit status; `subprocess.TimeoutExpired` if it is still running after `timeout`."""
        return self.popen.wait(timeout)

    def signal(self, sig: int) -> None:
        """Send `sig` unless it has already exited."""
        if self.alive():
            self.popen.send_signal(sig)

    def kill(self) -> None:
        """SIGKILL and reap; idempotent, never raises."""
        self._end(signal.SIGKILL, STOP_TIMEOUT)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM, up to `timeout` s to exit, then SIGKILL and reap; idempotent, never raises."""
        self._end(signal.SIGTERM, timeout)

    def _end(self, sig: int, timeout: float) -> None:
        if self._popen is None or self._popen.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            self._popen.send_signal(sig)
        try:
            self._popen.wait(timeout)
            return
        except subprocess.TimeoutExpired:
            pass
        with contextlib.suppress(ProcessLookupError):
            self._popen.kill()
        # A process still alive after SIGKILL is stuck in the kernel; nothing more to do.
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._popen.wait(STOP_TIMEOUT)

    def log(self) -> str:
        """Everything written to `log_path` so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, limit: int = 2000) -> str:
        """The last `limit` characters of the log, for error messages."""
        return self.log()[-limit:]


__all__ = ["STOP_TIMEOUT", "Process", "orphan_guard"]
