"""Section 2, start: launch of `stt start` -> the first captured sample."""

from __future__ import annotations

import subprocess
import time

from ..common import REPO, STT, BenchError, Row, SectionResult, median, ms, sec, summary
from ..rig import Rig
from .launch import interpreter_start


def run(rig: Rig, n: int) -> SectionResult:
    """`n` recordings started by `stt start`, timed to the server's `recording_started` event."""
    res = SectionResult("start")
    assert rig.events is not None
    rig.ensure_idle()
    lat, rx, client = [], [], []
    for _ in range(n):
        mark = rig.events.mark()
        t_launch = time.time()
        p = subprocess.run([str(STT), "start"], cwd=REPO, env=rig.env, stdin=subprocess.DEVNULL, capture_output=True, timeout=10)
        t_exit = time.time()
        if p.returncode != 0:
            raise BenchError(f"stt start exited {p.returncode}: {p.stderr.decode(errors='replace')}")
        ev = rig.events.wait_for(lambda e: e.get("type") == "recording_started", mark, 5.0, "recording_started")
        lat.append(ev["at"] - t_launch)
        rx.append(ev["_rx"] - t_launch)
        client.append(t_exit - t_launch)
        rig.stop_recording(ev["recording"])
        time.sleep(0.3)
    py = interpreter_start(rig.env, 10)
    warm = None
    for line in rig.log_text().splitlines():
        if "audio path warmed up" in line:
            try:
                warm = float(line.rsplit("after", 1)[1].split()[0])
            except (IndexError, ValueError):
                pass
    s = summary(lat)
    res.data = {
        "start_to_first_sample_s": s,
        "start_to_event_received_s": summary(rx),
        "stt_start_process_s": summary(client),
        "python_pass_s": summary(py),
        "server_warmup_first_block_s": warm,
        "raw": lat,
    }
    res.rows.append(
        Row(
            "2 Start",
            f"launch of `stt start` -> first captured sample (`recording_started.at`), p50 / p95 of {n}",
            f"{ms(s['p50'])} / {ms(s['p95'])}",
            f"`stt start` process alone {ms(median(client))}; `python -c pass` {ms(median(py))}; server's audio warm-up at load {sec(warm)}",
            "p50 < 100 ms",
            s["p50"] is not None and s["p50"] < 0.100,
        )
    )
    return res
