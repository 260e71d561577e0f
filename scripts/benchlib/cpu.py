"""CPU and memory accounting from /proc: per process, for the whole machine, and who else used the cores."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from .common import BenchError


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all threads), in seconds, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_seconds(pid: int) -> float:
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


class Contention:
    """How much CPU processes other than this benchmark's used between creation and `stop()`."""

    def __init__(self, ours: Callable[[], float]) -> None:
        """`ours`: the CPU seconds this benchmark and everything it started have used so far."""
        self._ours = ours
        self._m0 = machine_jiffies()
        self._o0 = ours()
        self._t0 = time.monotonic()
        self.result: dict | None = None

    def stop(self) -> dict:
        m1 = machine_jiffies()
        o1 = self._ours()
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
