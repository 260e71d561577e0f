"""Section 2, start: launch of `stt start` -> the first captured sample; and sttd's own start -> idle."""

from __future__ import annotations

import re
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
    warm = logged_seconds(rig.log_text(), r"audio path warmed up: first block after ([\d.]+) s")
    model_load = logged_seconds(rig.log_text(), r"model \S+ loaded on \S+ in ([\d.]+) s")
    s = summary(lat)
    res.data = {
        "start_to_first_sample_s": s,
        "start_to_event_received_s": summary(rx),
        "stt_start_process_s": summary(client),
        "python_pass_s": summary(py),
        "server_warmup_first_block_s": warm,
        "sttd_start_to_idle_s": rig.load_seconds,
        "model_load_s": model_load,
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
    # The rig timed its sttd from launch to the first `idle` status; the log of that same
    # process says how long the model alone took (it loads while the audio path warms up).
    res.rows.append(
        Row(
            "2 Start-up",
            "launch of `sttd` -> state `idle` (model, VAD and audio warm-up at once; spool recovery after)",
            sec(rig.load_seconds),
            f"the model's own load {sec(model_load)}; audio warm-up {sec(warm)}",
            "< 2 s",
            rig.load_seconds is not None and rig.load_seconds < 2.0,
        )
    )
    return res


def logged_seconds(log: str, pattern: str) -> float | None:
    """The last figure the sttd log gives for `pattern` (one group: seconds), None if absent."""
    found = re.findall(pattern, log)
    return float(found[-1]) if found else None
