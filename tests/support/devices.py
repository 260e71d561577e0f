"""What the virtual devices share: their errors, their environment for clients, and how they run helpers."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol, Self, TypeVar

from tests.support.process import Process

T = TypeVar("T")

COMMAND_TIMEOUT = 10.0
"""Seconds a one-shot command (pactl, xdotool) may take."""


class HarnessError(RuntimeError):
    """A virtual device failed to start, respond or clean up."""


class HarnessTimeout(HarnessError, TimeoutError):
    """An expected condition on a virtual device did not happen in time."""


class Device(Protocol):
    """A virtual device: the variables its clients need, and the ones that would mislead them."""

    env: dict[str, str]
    unset_env: tuple[str, ...]


class VirtualDevice:
    """A device run by one main process with a private directory: started once, stopped whole on any failure."""

    LOG_NAME = "device.log"
    """The main process's log file in the private directory."""

    def __init__(self, start_timeout: float) -> None:
        self._start_timeout = start_timeout
        self._tmp: Path | None = None
        self._main: Process | None = None
        self.env: dict[str, str] = {}

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def pid(self) -> int | None:
        """The main process's id while it runs."""
        return self._main.pid if self._main is not None else None

    @property
    def temp_dir(self) -> Path | None:
        """The private directory holding sockets, capture files and logs."""
        return self._tmp

    @property
    def log_path(self) -> Path | None:
        """The main process's log file."""
        return self._tmp / self.LOG_NAME if self._tmp else None

    def start(self) -> Self:
        """Start the device; whatever part of it started is stopped again if starting fails."""
        if self._main is not None:
            raise HarnessError(f"{type(self).__name__} already started")
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError


def missing_binaries(names: Iterable[str]) -> list[str]:
    """Return the executables in names that are not on PATH."""
    return [name for name in names if shutil.which(name) is None]


def running(make: Callable[[], AbstractContextManager[T]], binaries: Iterable[str], hint: str = "run scripts/test, which installs them") -> Iterator[T]:
    """What a device fixture yields: the device `make` starts, stopped afterwards; the test is skipped, saying
    what to install, when an executable it needs is missing."""
    import pytest

    missing = missing_binaries(binaries)
    if missing:
        pytest.skip(f"missing {missing}: {hint}")
    with make() as device:
        yield device


def child_env(*devices: Device, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return base (default os.environ) with each device's variables set and its conflicting ones removed."""
    env = dict(os.environ if base is None else base)
    for device in devices:
        for name in device.unset_env:
            env.pop(name, None)
        env.update(device.env)
    return env


def spawn(argv: Sequence[str], log_path: Path, env: Mapping[str, str], **kwargs: Any) -> Process:
    """Start a device's helper in its own session (terminal signals stay with us), killed if we die.

    It runs in / unless told otherwise: a helper dropped to another user cannot enter a clone kept private.
    """
    kwargs.setdefault("cwd", "/")
    return Process(argv, log_path, env, new_session=True, guard=True, **kwargs).start()


def wait_until(predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.01) -> None:
    """Poll predicate until it is true, raising HarnessTimeout after timeout seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            raise HarnessTimeout(f"timed out after {timeout:.1f}s waiting for {what}")
        time.sleep(interval)


def tail(path: Path | None, limit: int = 2000) -> str:
    """Return the end of a log file for error messages."""
    if path is None or not path.exists():
        return ""
    return path.read_text(errors="replace")[-limit:]


__all__ = ["COMMAND_TIMEOUT", "Device", "HarnessError", "HarnessTimeout", "child_env", "missing_binaries", "spawn", "tail", "wait_until"]
