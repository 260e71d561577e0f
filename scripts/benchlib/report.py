"""The one markdown table, the JSON file and the BENCHMARKS.md results block."""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import sys
from pathlib import Path

from .common import Row, SectionResult

BEGIN = "<!-- bench:results:begin (scripts/bench --write-md replaces this block) -->"
END = "<!-- bench:results:end -->"


def machine() -> dict:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "loadavg_start": load,
    }


def _cell(s: str) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


def table(results: list[SectionResult]) -> str:
    lines = [
        "| # | Figure | Measured | Reference (same run) | Target | Met |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        rows: list[Row] = r.rows
        if r.error:
            rows = [Row(r.name, "section failed", f"ERROR: {r.error}", "", "", None)] + rows
        cont = (r.data or {}).get("contention")
        if cont and cont.get("others_cores") is not None and rows:
            rows = list(rows)
            rows[0] = Row(**{**rows[0].as_dict(), "figure": rows[0].figure + f" [others used {cont['others_cores']:.2f} cores meanwhile]"})
        for row in rows:
            met = "" if row.met is None else ("yes" if row.met else "**NO**")
            lines.append("| " + " | ".join(_cell(x) for x in (row.section, row.figure, row.measured, row.reference, row.target, met)) + " |")
    return "\n".join(lines)


def machine_line(m: dict, quick: bool) -> str:
    load_s = ""
    during = m.get("loadavg_during") or {}
    if during.get("mean") is not None:
        load_s = f"; 1-min load average during the run mean {during['mean']:.1f}, max {during['max']:.1f}"
    if m.get("others_cores_during") is not None:
        load_s += f"; processes other than this benchmark's used {m['others_cores_during']:.2f} of {m['cores']} cores on average"
    return (
        f"Machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}, Linux {m['kernel']}; {m['date']}"
        f"{load_s}; {'--quick run' if quick else 'full run'} ({m.get('wall_s', 0):.0f} s)."
    )


def write_json(path: Path, m: dict, args: dict, results: list[SectionResult]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    out = {
        "machine": m,
        "args": args,
        "sections": {
            r.name: {"error": r.error, "seconds": r.seconds, "rows": [row.as_dict() for row in r.rows], "data": r.data} for r in results
        },
    }
    path.write_text(json.dumps(out, indent=2, default=str, ensure_ascii=False) + "\n")


def write_md(path: Path, block: str) -> None:
    """Replace the results block of BENCHMARKS.md (create the file from the template if it lacks one)."""
    body = f"{BEGIN}\n{block.rstrip()}\n{END}"
    if path.exists():
        text = path.read_text()
        if BEGIN in text and END in text:
            head, rest = text.split(BEGIN, 1)
            tail = rest.split(END, 1)[1]
            path.write_text(head + body + tail)
            return
        text = text.rstrip() + "\n\n## Results\n\n" + body + "\n"
        path.write_text(text)
        return
    path.write_text(TEMPLATE.replace("@@RESULTS@@", body))
    print(f"wrote {path}", file=sys.stderr)


TEMPLATE = """# Benchmarks

Run `scripts/bench` (after `scripts/test` has set up `.venv`). See the how-to below.

## Results

@@RESULTS@@
"""
