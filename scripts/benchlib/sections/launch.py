"""Timing a process launch: what the hotkey path costs, against the interpreter's own start-up."""

from __future__ import annotations

import subprocess
import time

from ..common import PYTHON, REPO, BenchError


def run_timed(argv: list[str], env: dict, timeout: float = 10.0) -> tuple[float, int, str]:
    """Wall time, exit status and stderr of one process run to completion."""
    t0 = time.perf_counter()
    p = subprocess.run(argv, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout)
    return time.perf_counter() - t0, p.returncode, p.stderr.decode(errors="replace").strip()


def interpreter_start(env: dict, n: int) -> list[float]:
    """Wall times of `python -c pass` with the venv's interpreter."""
    out = []
    for _ in range(n):
        t, rc, err = run_timed([str(PYTHON), "-c", "pass"], env)
        if rc != 0:
            raise BenchError(f"python -c pass failed: {err}")
        out.append(t)
    return out
