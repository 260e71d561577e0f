"""Section 5, keeping up: minutes of continuous speech in one recording; the backlog must stay bounded."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .. import offline
from ..common import SAMPLE_RATE, BenchError, Row, SectionResult, log, ms, pc, sec, summary
from ..rig import Rig
from .live import phrases_of, write_wav

from tests.support.speech import wer


def run(rig: Rig, clips_all, target_s: float, workdir: Path, mic_s: float | None = None) -> SectionResult:
    """`clips_all` joined into one recording of at least `target_s` (written to `workdir`), played without a stop;
    the last word's latency also less the microphone's own `mic_s` when given."""
    assert rig.events is not None and rig.window is not None and rig.mic is not None
    res = SectionResult("keepup")
    gap = np.zeros(int(0.8 * SAMPLE_RATE), dtype=np.float32)
    parts, refs, ends, total, i = [], [], [], 0.0, 0
    while total < target_s:
        c = clips_all[i % len(clips_all)]
        a = offline.load_audio(c.path)
        ends.append(total + offline.last_speech_end(a))
        parts += [a, gap]
        refs.append(c.reference)
        total += (len(a) + len(gap)) / SAMPLE_RATE
        i += 1
    audio = np.concatenate(parts)
    path = workdir / "keepup.wav"
    write_wav(path, audio)
    log(f"keep-up: {total:.0f} s of speech ({i} clips, 0.8 s gaps) in one recording")
    rig.ensure_idle()
    rig.window.clear()
    mark = rig.events.mark()
    started = rig.start_recording()
    rec = started["recording"]
    time.sleep(0.1)
    t_play = time.time()
    player = rig.mic.play(path, wait=False)
    # Poll the capture file every 5 ms (time of the last growth) and `status` every 0.5 s (backlog).
    cap = rig.window.path
    samples: list[tuple[float, int]] = []
    size, t_growth, t_end = cap.stat().st_size, None, None
    deadline = time.monotonic() + total + 60
    next_t = time.monotonic()
    try:
        while True:
            now = time.time()
            cur = cap.stat().st_size
            if cur != size:
                size, t_growth = cur, now
            if t_end is None and not player.alive():
                t_end = now
            if time.monotonic() >= next_t:
                next_t += 0.5
                pending = rig.status().get("pending", 0)
                samples.append((now - t_play, pending))
                if t_end is not None and now - t_end > 1.5 and pending == 0 and now - (t_growth or t_end) >= 0.5:
                    break
            if time.monotonic() > deadline:
                raise BenchError("keep-up: playback plus the backlog did not finish within 60 s of the audio's length")
            time.sleep(0.005)
    finally:
        player.stop()
    rig.stop_recording(rec)
    time.sleep(0.2)
    text = rig.window.read()
    phrases = phrases_of(rig.events.since(mark), rec)
    typed = [p for _, p in sorted(phrases.items()) if p.get("status") == "typed"]
    lat = [p["typed_at"] - p["speech_end"] for p in typed if p.get("typed_at") and p.get("speech_end")]
    s = summary(lat)
    play_backlog = [p for t, p in samples if t <= t_end - t_play]
    backlog = [p for _, p in samples]
    max_backlog = max(backlog) if backlog else None
    q = max(1, len(play_backlog) // 4)
    first_q, last_q = play_backlog[:q], play_backlog[-q:]
    last_e2e = (t_growth - (t_play + ends[-1])) if t_growth else None
    w = wer([" ".join(refs)], [text])
    log("keep-up: offline whole-stream decode (the naive design's cost after the last word)")
    naive, _ = offline.decode_seconds(audio, 1)
    bounded = max_backlog is not None and max_backlog <= 3
    res.data = {
        "seconds": total,
        "clips": i,
        "phrases": len(phrases),
        "typed": len(typed),
        "statuses": {st: sum(1 for p in phrases.values() if p.get("status") == st) for st in {p.get("status") for p in phrases.values()}},
        "backlog_max": max_backlog,
        "backlog_mean": (sum(play_backlog) / len(play_backlog)) if play_backlog else None,
        "drain_after_playback_s": (t_growth - t_end) if t_growth else None,
        "backlog_first_quarter_max": max(first_q) if first_q else None,
        "backlog_last_quarter_max": max(last_q) if last_q else None,
        "phrase_end_to_typed_s": s,
        "last_word_e2e_raw_s": last_e2e,
        "last_word_e2e_minus_mic_s": (last_e2e - mic_s) if last_e2e is not None and mic_s is not None else None,
        "wer": w,
        "naive_whole_stream_decode_s": naive,
        "backlog_samples": samples,
        "latencies": lat,
    }
    res.rows += [
        Row(
            "5 Keep-up",
            f"{total:.0f} s of continuous speech in one recording: backlog (`pending`, sampled every 0.5 s) max / mean",
            f"{max_backlog} / {res.data['backlog_mean']:.2f} ({len(typed)} of {len(phrases)} phrases typed, WER {pc(w)})",
            f"naive design: whole recording decoded after the last word {sec(naive, 1)}",
            "bounded (max pending <= 3)",
            bounded,
        ),
        Row(
            "5 Keep-up",
            "phrase speech end -> typed (server clocks), p50 / p95 / max",
            f"{ms(s['p50'])} / {ms(s['p95'])} / **{ms(s['max'])}**",
            f"last word -> last character in file {ms(last_e2e)} (raw, incl. virtual mic)",
            "max <= 2 s",
            s["max"] is not None and s["max"] <= 2.0,
        ),
    ]
    return res
