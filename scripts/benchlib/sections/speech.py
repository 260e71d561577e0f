"""Section 3, speech to text: end of speech -> last character, beside the floor and the naive design."""

from __future__ import annotations

import numpy as np

from .. import offline
from ..common import SAMPLE_RATE, Row, SectionResult, log, ms, pc, summary
from ..rig import Rig
from .live import ptt_clips

from tests.support.speech import wer


def naive_lengths(all_clips, decode_reps: int, lengths=(15.0, 30.0, 60.0, 120.0)) -> list[dict]:
    """The naive design's wait after the last word for recordings of these lengths (same model and options)."""
    gap = np.zeros(int(0.8 * SAMPLE_RATE), dtype=np.float32)
    audio = [offline.load_audio(c.path) for c in all_clips]
    out = []
    for target in lengths:
        parts, total, i = [], 0.0, 0
        while total < target:
            parts += [audio[i % len(audio)], gap]
            total += (len(audio[i % len(audio)]) + len(gap)) / SAMPLE_RATE
            i += 1
        t, _ = offline.decode_seconds(np.concatenate(parts), 1 if target > 30 else decode_reps)
        out.append({"seconds": total, "decode_s": t})
    return out


def _typing_fit(clips: list[dict]) -> dict | None:
    pts = [(c["last_text_chars"], c["transcribed_to_typed"]) for c in clips if c.get("last_text_chars") and c.get("transcribed_to_typed") is not None]
    if len(pts) < 3:
        return None
    xs, ys = np.array([p[0] for p in pts], float), np.array([p[1] for p in pts], float)
    if np.ptp(xs) == 0:
        return None
    slope, intercept = np.polyfit(xs, ys, 1)
    return {
        "n": len(pts),
        "intercept_s": float(intercept),
        "slope_s": float(slope),
        "chars_per_s": float(1 / slope) if slope > 0 else float("inf"),
        "chars_min": int(xs.min()),
        "chars_max": int(xs.max()),
    }


def run(rig: Rig, clips, all_clips, pause: float, mic: dict, live: dict, analyses: list[offline.ClipAnalysis], decode_reps: int) -> SectionResult:
    """The live pass over `clips` (`live`, with the microphone's latency `mic`) beside their offline `analyses`;
    measures push-to-talk on `clips` and the naive design on recordings made of `all_clips`."""
    res = SectionResult("speech")
    log("push-to-talk: `stop` at the end of speech of each clip")
    ptt = ptt_clips(rig, clips, mic["median_s"])
    log("offline: the naive design on longer recordings (the clips joined with 0.8 s gaps)")
    naive_by_length = naive_lengths(all_clips, decode_reps)
    m = mic["median_s"]
    raw = [c["e2e_raw"] for c in live["clips"]]
    corr = [v - m if v is not None else None for v in raw]
    floor = [a.floor for a in analyses if a.floor is not None]
    floor_pause = [f + pause for f in floor]
    naive = [a.naive for a in analyses]
    naive_long = [a.naive for a in analyses if a.seconds > 10.0]
    s_corr, s_raw, s_floor, s_fp, s_naive, s_long = map(summary, (corr, raw, floor, floor_pause, naive, naive_long))
    s_ptt = summary([c["stop_to_last_char"] for c in ptt])
    s_ptt_long = summary([c["stop_to_last_char"] for c in ptt if c["seconds"] > 10.0])
    ptt_wer = wer([c.reference for c in clips], [c["text"] for c in ptt])
    target = 1.5 * s_fp["p50"] if s_fp["p50"] is not None else None
    missing = sum(1 for v in raw if v is None)

    def part(key):
        return summary([c.get(key) for c in live["clips"] if c.get(key) is not None])

    parts = {k: part(k) for k in ("server_speech_end_minus_bench", "server_end_to_transcribed", "transcribed_to_typed", "server_end_to_typed", "typed_to_file")}
    fit = _typing_fit(live["clips"])
    # The naive design must type the whole transcript once it has it: at the server's own
    # measured typing rate (the fit above), that is what it would add after its decode.
    naive_typed = [a.naive + fit["intercept_s"] + fit["slope_s"] * len(a.naive_text) for a in analyses] if fit else []
    naive_typed_long = [v for v, a in zip(naive_typed, analyses) if a.seconds > 10.0]
    s_nt, s_nt_long = summary(naive_typed), summary(naive_typed_long)
    res.data = {
        "typing_fit_last_phrase": fit,
        "mic_latency": mic,
        "e2e_minus_mic_s": s_corr,
        "e2e_raw_s": s_raw,
        "floor_s": s_floor,
        "floor_plus_pause_s": s_fp,
        "target_s": target,
        "naive_whole_clip_s": s_naive,
        "naive_whole_clip_over_10s_s": s_long,
        "breakdown_last_phrase_s": parts,
        "naive_by_recording_length_s": naive_by_length,
        "push_to_talk": {"stop_to_last_char_s": s_ptt, "wer": ptt_wer, "per_clip": ptt},
        "naive_decode_plus_typing_estimate_s": s_nt,
        "clips_without_text": missing,
        "per_clip": [
            {**c, "floor": a.floor, "naive": a.naive, "phrases_offline": a.phrases, "last_phrase_seconds": a.last_phrase_seconds}
            for c, a in zip(live["clips"], analyses)
        ],
        "end_of_speech_method": "faster_whisper.vad.get_speech_timestamps(threshold 0.5, speech_pad_ms 0, min_silence_duration_ms 500) on the clip + 2 s silence: end of the last segment",
    }
    n = len(clips)
    res.rows += [
        Row(
            "3 Speech->text",
            f"end of speech -> last character in the xterm, p50 / p95 of {n} clips (virtual-mic latency subtracted)"
            + (f"; {missing} clip(s) typed nothing" if missing else ""),
            f"**{ms(s_corr['p50'])}** / {ms(s_corr['p95'])}",
            f"floor (model alone on the last phrase) {ms(s_floor['p50'])} / {ms(s_floor['p95'])}; floor + pause {pause:g} s {ms(s_fp['p50'])} / {ms(s_fp['p95'])}",
            f"p50 <= 1.5 x (floor + pause) = {ms(target)}",
            (s_corr["p50"] is not None and target is not None and s_corr["p50"] <= target),
        ),
        Row(
            "3 Speech->text",
            "same, raw (virtual-mic latency included), p50 / p95",
            f"{ms(s_raw['p50'])} / {ms(s_raw['p95'])}",
            f"virtual mic play->capture latency {ms(m)} (median of {len(mic['raw'])} clicks, {ms(mic['min_s'])}..{ms(mic['max_s'])})",
        ),
        Row(
            "3 Speech->text",
            "naive design: transcribe the whole clip in one piece after it ends, p50 / p95 (clips > 10 s: p50 / max)",
            f"{ms(s_naive['p50'])} / {ms(s_naive['p95'])} ({ms(s_long['p50'])} / {ms(s_long['max'])}, n={s_long['n']})",
            f"streaming path above {ms(s_corr['p50'])} / {ms(s_corr['p95'])}; its floor + pause {ms(s_fp['p50'])}",
        ),
        Row(
            "3 Speech->text",
            f"push-to-talk: `stop` sent once the end of speech reached the server -> last character, p50 / p95 of {s_ptt['n']} clips (clips > 10 s: p50 / max)",
            f"**{ms(s_ptt['p50'])}** / {ms(s_ptt['p95'])} ({ms(s_ptt_long['p50'])} / {ms(s_ptt_long['max'])}, n={s_ptt_long['n']}); WER {pc(ptt_wer)}",
            f"naive design from the same instant, its decode alone: {ms(s_naive['p50'])} / {ms(s_naive['p95'])} ({ms(s_long['p50'])} / {ms(s_long['max'])})"
            + (f"; decode + typing its whole text at the server's typing rate (fit below): {ms(s_nt['p50'])} / {ms(s_nt['p95'])} ({ms(s_nt_long['p50'])} / {ms(s_nt_long['max'])})" if fit else ""),
        ),
        Row(
            "3 Speech->text",
            "naive design by recording length: decode of the whole recording after its last word, "
            + " / ".join(f"{n['seconds']:.0f} s" for n in naive_by_length),
            " / ".join(ms(n["decode_s"]) for n in naive_by_length),
            f"streaming path: only the last phrase is left, p50 {ms(s_corr['p50'])} whatever the length (row 5: 300 s)",
        ),
        Row(
            "3 Speech->text",
            "where the time goes (last phrase, server clocks), p50: speech end -> transcribed | transcribed -> typed | typed -> in file",
            f"{ms(parts['server_end_to_transcribed']['p50'])} | {ms(parts['transcribed_to_typed']['p50'])} | {ms(parts['typed_to_file']['p50'])}",
            f"pause {pause:g} s; model on last phrase {ms(s_floor['p50'])}; server's speech end is {ms(parts['server_speech_end_minus_bench']['p50'])} after the bench's",
        ),
    ]
    if fit:
        res.rows.append(
            Row(
                "3 Speech->text",
                f"typing inside the server: least-squares fit of transcribed -> typed against the last phrase's length ({fit['n']} clips, {fit['chars_min']}..{fit['chars_max']} chars)",
                f"{ms(fit['intercept_s'])} + {fit['slope_s'] * 1000:.2f} ms/char ({fit['chars_per_s']:.0f} chars/s)",
                "the injector alone: row 7",
            )
        )
    return res
