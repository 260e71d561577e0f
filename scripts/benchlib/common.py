"""Paths, logging, small statistics, the benchmark's error and the row type every section returns."""

from __future__ import annotations

import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VENV = REPO / ".venv"
VENV_BIN = VENV / "bin"
PYTHON = VENV_BIN / "python"
STT = VENV_BIN / "stt"
STTD = VENV_BIN / "sttd"
SAMPLE_RATE = 16000

_T0 = time.monotonic()


def log(msg: str) -> None:
    """Progress on stderr (stdout carries only the table)."""
    print(f"[bench {time.monotonic() - _T0:7.1f}s] {msg}", file=sys.stderr, flush=True)


def pct(values: list[float], q: float) -> float | None:
    """The q-th percentile (0..100), linear interpolation; None for no values."""
    vals = sorted(v for v in values if v is not None and not math.isnan(v))
    if not vals:
        return None
    if len(vals) == 1:
        return vals[0]
    pos = (len(vals) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(vals) - 1)
    return vals[lo] + (vals[hi] - vals[lo]) * (pos - lo)


def median(values: list[float]) -> float | None:
    return pct(values, 50)


def summary(values: list[float]) -> dict:
    """n, p50, p95, min, max, mean of a list (seconds or whatever unit it is in)."""
    vals = [v for v in values if v is not None]
    return {
        "n": len(vals),
        "p50": pct(vals, 50),
        "p95": pct(vals, 95),
        "min": min(vals) if vals else None,
        "max": max(vals) if vals else None,
        "mean": (sum(vals) / len(vals)) if vals else None,
    }


def ms(seconds: float | None, digits: int = 0) -> str:
    """Seconds as a millisecond string."""
    return "n/a" if seconds is None else f"{seconds * 1000:.{digits}f} ms"


def sec(seconds: float | None, digits: int = 2) -> str:
    return "n/a" if seconds is None else f"{seconds:.{digits}f} s"


def pc(fraction: float | None, digits: int = 1) -> str:
    return "n/a" if fraction is None else f"{fraction * 100:.{digits}f}%"


class BenchError(RuntimeError):
    """Something the benchmark needs did not happen."""


@dataclass
class Row:
    """One line of the table."""

    section: str
    figure: str
    measured: str
    reference: str = ""
    target: str = ""
    met: bool | None = None
    """None where there is no target (information only)."""

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class SectionResult:
    """What one section produced: rows for the table and raw figures for the JSON."""

    name: str
    rows: list[Row] = field(default_factory=list)
    data: dict = field(default_factory=dict)
    error: str | None = None
    seconds: float = 0.0
