"""Section 1, hotkey: the whole `stt toggle` process against `python -c pass`.

The client's modules are byte-compiled first, as a pip install leaves them (this
environment may set PYTHONDONTWRITEBYTECODE, which would make every run compile
them from source). The ratio is taken on the stop toggles: a start toggle answers
only once the microphone delivers its first block, which is the microphone's time,
not the client's (row 2 measures that path).
"""

from __future__ import annotations

import subprocess
import time

from ..common import PYTHON, STT, BenchError, Row, SectionResult, median, ms, summary
from ..rig import Rig
from .launch import interpreter_start, run_timed


def run(rig: Rig, n: int) -> SectionResult:
    """`n` toggles (alternately starting and stopping a recording), each beside one `python -c pass`."""
    res = SectionResult("hotkey")
    env = rig.env
    compiled = "import compileall, stt_dictation.client as c, stt_dictation.protocol as p; assert all(compileall.compile_dir(d, quiet=1) for d in (*c.__path__, *p.__path__))"
    subprocess.run([str(PYTHON), "-c", compiled], env=env, check=True, timeout=60)
    run_timed([str(PYTHON), "-c", "pass"], env)  # page cache, both ways
    run_timed([str(STT), "status"], env)
    rig.ensure_idle()
    ref, tog, starts, stops = [], [], [], []
    assert rig.events is not None
    for i in range(n):
        ref.append(interpreter_start(env, 1)[0])
        mark = rig.events.mark()
        t, rc, err = run_timed([str(STT), "toggle"], env)
        if rc != 0:
            raise BenchError(f"stt toggle exited {rc}: {err}")
        tog.append(t)
        if i % 2 == 0:
            starts.append(t)
            rig.events.wait_for(lambda e: e.get("type") == "recording_started", mark, 5.0, "recording_started")
        else:
            stops.append(t)
            rig.events.wait_for(lambda e: e.get("type") == "recording_stopped", mark, 10.0, "recording_stopped")
        time.sleep(0.1)
    rig.ensure_idle()
    m_tog, m_ref = median(tog), median(ref)
    ratio = median(stops) / m_ref
    res.data = {
        "toggle_s": summary(tog),
        "toggle_start_s": summary(starts),
        "toggle_stop_s": summary(stops),
        "python_pass_s": summary(ref),
        "ratio": ratio,
        "raw": {"toggle": tog, "python_pass": ref},
    }
    res.rows.append(
        Row(
            "1 Hotkey",
            f"`stt toggle` whole process, median of {len(stops)} stop toggles (start toggles, which answer once the microphone delivers audio)",
            f"{ms(median(stops), 1)} ({ms(median(starts), 1)})",
            f"`python -c pass` {ms(m_ref, 1)}; ratio of the stop toggles **{ratio:.2f}x**",
            "ratio <= 2x (aim 1.5x)",
            ratio <= 2.0,
        )
    )
    return res
