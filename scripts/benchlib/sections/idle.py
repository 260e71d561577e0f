"""Section 6, idle: sttd's CPU and memory when idle and when recording silence."""

from __future__ import annotations

import subprocess
import time

from ..common import PYTHON, REPO, Row, SectionResult, log, pc
from ..cpu import cpu_seconds, rss_bytes
from ..rig import Rig


def _cpu_over(pid: int, seconds: float, other: int | None = None) -> tuple[float, float | None]:
    t0 = time.monotonic()
    c0 = cpu_seconds(pid)
    o0 = cpu_seconds(other) if other else None
    time.sleep(seconds)
    c1 = cpu_seconds(pid)
    o1 = cpu_seconds(other) if other else None
    dt = time.monotonic() - t0
    return (c1 - c0) / dt, ((o1 - o0) / dt if other else None)


def run(rig: Rig, idle_seconds: float, silence_seconds: float) -> SectionResult:
    """CPU of sttd (and of the microphone's PulseAudio) over `idle_seconds` idle, then `silence_seconds` recording."""
    res = SectionResult("idle")
    rig.ensure_idle()
    time.sleep(2.0)
    pid = rig.pid
    pa_pid = rig.mic.pid if rig.mic is not None else None
    log(f"idle: sampling sttd CPU for {idle_seconds:g} s")
    cpu_idle, pa_idle = _cpu_over(pid, idle_seconds, pa_pid)
    rss = rss_bytes(pid)
    log(f"idle: recording silence for {silence_seconds:g} s")
    ev = rig.start_recording()
    cpu_rec, pa_rec = _cpu_over(pid, silence_seconds, pa_pid)
    rss_rec = rss_bytes(pid)
    rig.stop_recording(ev["recording"])
    log("idle: RSS of a bare process holding the same model")
    code = (
        "import sys; sys.path.insert(0, %r)\n"
        "from stt_dictation.server.settings import Settings\nfrom stt_dictation.server.transcriber import LocalWhisper\n"
        "w = LocalWhisper(Settings()); w.load_blocking()\n"
        "print([l for l in open('/proc/self/status') if l.startswith('VmRSS:')][0].split()[1])\n"
    ) % str(REPO)
    p = subprocess.run([str(PYTHON), "-c", code], cwd=REPO, env=rig.env, capture_output=True, text=True, timeout=120)
    model_rss = int(p.stdout.strip().splitlines()[-1]) * 1024 if p.returncode == 0 and p.stdout.strip() else None
    res.data = {
        "idle_cpu_fraction_of_core": cpu_idle,
        "idle_seconds": idle_seconds,
        "rss_bytes": rss,
        "recording_silence_cpu_fraction_of_core": cpu_rec,
        "recording_silence_seconds": silence_seconds,
        "rss_recording_bytes": rss_rec,
        "pulseaudio_cpu_idle": pa_idle,
        "pulseaudio_cpu_recording": pa_rec,
        "bare_model_process_rss_bytes": model_rss,
        "load_seconds": rig.load_seconds,
    }
    mib = lambda b: "n/a" if b is None else f"{b / 2**20:.0f} MiB"  # noqa: E731
    res.rows += [
        Row(
            "6 Idle",
            f"sttd CPU over {idle_seconds:g} s idle after the model loaded; RSS",
            f"**{pc(cpu_idle, 2)} of a core**; RSS {mib(rss)}",
            f"recording silence {pc(cpu_rec, 1)}; a bare process with the same model loaded: RSS {mib(model_rss)}",
            "< 1% of a core",
            cpu_idle < 0.01,
        ),
        Row(
            "6 Idle",
            f"sttd CPU while recording silence for {silence_seconds:g} s (information)",
            f"{pc(cpu_rec, 1)} of a core; RSS {mib(rss_rec)}",
            f"the virtual mic's PulseAudio daemon meanwhile {pc(pa_rec, 1)} (idle {pc(pa_idle, 1)})",
        ),
    ]
    return res
