"""The benchmark sections. Each takes the rig and the options and returns a SectionResult.

Sections report figures; none asserts anything. A section that fails raises, and
the entry point turns the exception into an error row.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .common import PYTHON, REPO, SAMPLE_RATE, STT, Row, SectionResult, log, median, ms, pc, sec, summary
from .rig import BenchError, Rig, cpu_seconds, rss_bytes, stop_process

TYPED_FINAL = {"typed", "held", "failed", "empty", "filtered", "cancelled", "interrupted"}

# --- shared helpers ------------------------------------------------------------------


def _run_timed(argv: list[str], env: dict, timeout: float = 10.0) -> tuple[float, int, str]:
    t0 = time.perf_counter()
    p = subprocess.run(argv, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout)
    return time.perf_counter() - t0, p.returncode, p.stderr.decode(errors="replace").strip()


def interpreter_start(env: dict, n: int) -> list[float]:
    """Wall times of `python -c pass` with the venv's interpreter."""
    out = []
    for _ in range(n):
        t, rc, err = _run_timed([str(PYTHON), "-c", "pass"], env)
        if rc != 0:
            raise BenchError(f"python -c pass failed: {err}")
        out.append(t)
    return out


def write_wav(path: Path, audio: np.ndarray) -> None:
    pcm = np.clip(audio, -1.0, 1.0)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes((pcm * 32767).astype("<i2").tobytes())


def _phrases_of(events: list[dict], recording: int) -> dict[int, dict]:
    """Latest phrase event per seq for one recording, plus when it was transcribed."""
    out: dict[int, dict] = {}
    for ev in events:
        if ev.get("type") != "phrase":
            continue
        e = ev["entry"]
        if e.get("recording") != recording:
            continue
        cur = out.setdefault(e["seq"], {"transcribed_at": None})
        cur.update({k: v for k, v in e.items() if v is not None or k not in cur})
        if e.get("transcribed_at"):
            cur["transcribed_at"] = e["transcribed_at"]
        cur["_rx"] = ev["_rx"]
    return out


# --- 1. hotkey ---------------------------------------------------------------------------


def hotkey(rig: Rig, opts) -> SectionResult:
    n = opts.hotkey_n
    res = SectionResult("hotkey")
    env = rig.env
    _run_timed([str(PYTHON), "-c", "pass"], env)  # page cache, both ways
    _run_timed([str(STT), "status"], env)
    rig.ensure_idle()
    ref, tog, starts, stops = [], [], [], []
    assert rig.events is not None
    for i in range(n):
        ref.append(interpreter_start(env, 1)[0])
        mark = rig.events.mark()
        t, rc, err = _run_timed([str(STT), "toggle"], env)
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
    ratio = m_tog / m_ref
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
            f"`stt toggle` whole process, median of {n} (start / stop toggles)",
            f"{ms(m_tog, 1)} ({ms(median(starts), 1)} / {ms(median(stops), 1)})",
            f"`python -c pass` {ms(m_ref, 1)}; ratio **{ratio:.2f}x**",
            "ratio <= 2x (aim 1.5x)",
            ratio <= 2.0,
        )
    )
    return res


# --- 2. start --------------------------------------------------------------------------------


def start(rig: Rig, opts) -> SectionResult:
    n = opts.start_n
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


# --- virtual microphone latency ----------------------------------------------------------------


def mic_latency(rig: Rig, workdir: Path, reps: int = 5) -> dict:
    """Play a click into the virtual microphone and time when its first sample reaches a reader.

    The reader is a sounddevice stream opened like the server's (16 kHz mono float32,
    512-sample blocks). A sample's arrival time is its block's callback time minus the
    samples after it in that block. Latency = arrival - (time just before paplay was
    launched + the click's offset in the file): paplay start-up, PulseAudio buffering
    and PortAudio buffering, i.e. what the virtual microphone adds to every clip.
    """
    import sounddevice as sd  # after Rig.start_devices: this process talks to the private PulseAudio

    assert rig.mic is not None
    offset = 0.3
    click = np.zeros(int(1.0 * SAMPLE_RATE), dtype=np.float32)
    n0 = int(offset * SAMPLE_RATE)
    click[n0 : n0 + 160] = 0.8 * np.sign(np.sin(2 * np.pi * 1000 * np.arange(160) / SAMPLE_RATE) + 1e-9)
    path = workdir / "click.wav"
    write_wav(path, click)
    blocks: list[tuple[float, np.ndarray]] = []

    def cb(indata, frames, time_info, status):
        blocks.append((time.time(), indata[:, 0].copy()))

    out = []
    with sd.InputStream(samplerate=SAMPLE_RATE, channels=1, dtype="float32", blocksize=512, callback=cb):
        deadline = time.monotonic() + 3.0
        while not blocks:
            if time.monotonic() > deadline:
                raise BenchError("the virtual microphone delivered no block to sounddevice within 3 s")
            time.sleep(0.01)
        time.sleep(0.3)
        for _ in range(reps):
            start_i = len(blocks)
            t_play = time.time()
            rig.mic.play(path, wait=True)
            time.sleep(0.4)
            found = None
            for t_arr, b in blocks[start_i:]:
                idx = np.flatnonzero(np.abs(b) > 0.2)
                if idx.size:
                    found = t_arr - (b.size - idx[0]) / SAMPLE_RATE
                    break
            if found is None:
                raise BenchError("click not heard through the virtual microphone")
            out.append(found - (t_play + offset))
    return {"median_s": median(out), "min_s": min(out), "max_s": max(out), "raw": out}


# --- 3 + 4. speech to text, live path -------------------------------------------------------------


def _stop_player(player) -> None:
    stop_process(player)


def _wait_clip_text(rig: Rig, mark: int, rec: int, settled: Callable[[float], bool], timeout: float):
    """Poll the capture file every 5 ms until the recording's text has all arrived; (size, last growth, timed out).

    The server is asked whether everything is resolved only once `settled(now)` says
    the audio that matters has been heard; growth counts from the file's size now.
    """
    cap = rig.window.path
    size, t_growth, timed_out = os.stat(cap).st_size, None, False
    deadline = time.monotonic() + timeout
    next_status = 0.0
    while True:
        now = time.time()
        cur = os.stat(cap).st_size
        if cur != size:
            size, t_growth = cur, now
        if settled(now) and time.monotonic() >= next_status:
            next_status = time.monotonic() + 0.1
            pending = rig.status().get("pending", 0)
            phrases = _phrases_of(rig.events.since(mark), rec)
            typed = [p for _, p in sorted(phrases.items()) if p.get("status") == "typed"]
            expected = len(" ".join(p.get("text", "") for p in typed).encode())
            unresolved = [p for p in phrases.values() if p.get("status") not in TYPED_FINAL]
            if pending == 0 and not unresolved and size >= expected and (t_growth is None or now - t_growth >= 0.5):
                break
        if time.monotonic() > deadline:
            timed_out = True
            break
        time.sleep(0.005)
    return size, t_growth, timed_out


def _begin_clip(rig: Rig, clip):
    """Clear the capture, start a recording, start playing the clip: (speech end in clip, event mark, recording, play time, player)."""
    from . import offline

    end_s = offline.last_speech_end(offline.load_audio(clip.path))
    rig.window.clear()
    mark = rig.events.mark()
    rec = rig.start_recording()["recording"]
    time.sleep(0.1)
    t_play = time.time()
    return end_s, mark, rec, t_play, rig.mic.play(clip.path, wait=False)


def live_clips(rig: Rig, opts, clips) -> dict:
    """Per clip: start recording, play it, wait for all its text, stop. Times from the capture file."""
    assert rig.events is not None and rig.window is not None and rig.mic is not None
    from . import offline

    pause = offline.settings().pause
    rig.ensure_idle()
    out = []
    for k, clip in enumerate(clips):
        end_s, mark, rec, t_play, player = _begin_clip(rig, clip)
        play_end: list[float] = []

        def played_and_paused(now: float) -> bool:
            if not play_end and player.poll() is not None:
                play_end.append(now)
            return bool(play_end) and now - play_end[0] > pause + 0.6

        try:
            size, t_growth, timed_out = _wait_clip_text(rig, mark, rec, played_and_paused, clip.seconds + 30.0)
        finally:
            _stop_player(player)
        rig.stop_recording(rec)
        time.sleep(0.2)
        text = rig.window.read()
        phrases = _phrases_of(rig.events.since(mark), rec)
        typed = [p for _, p in sorted(phrases.items()) if p.get("status") == "typed"]
        last = typed[-1] if typed else None
        speech_end_wall = t_play + end_s
        r = {
            "clip": clip.path.name,
            "seconds": clip.seconds,
            "reference": clip.reference,
            "text": text,
            "speech_end_in_clip": end_s,
            "e2e_raw": (t_growth - speech_end_wall) if t_growth is not None else None,
            "timed_out": timed_out,
            "load1": os.getloadavg()[0],
            "phrases": len(phrases),
            "statuses": sorted({p.get("status") for p in phrases.values()}),
        }
        if last is not None and last.get("speech_end"):
            r["server_speech_end_minus_bench"] = last["speech_end"] - speech_end_wall
            r["server_end_to_transcribed"] = (last["transcribed_at"] - last["speech_end"]) if last.get("transcribed_at") else None
            r["transcribed_to_typed"] = (last["typed_at"] - last["transcribed_at"]) if last.get("transcribed_at") and last.get("typed_at") else None
            r["server_end_to_typed"] = last["typed_at"] - last["speech_end"] if last.get("typed_at") else None
            r["last_text_chars"] = len(last.get("text") or "") + (1 if len(typed) > 1 else 0)
            r["typed_to_file"] = (t_growth - last["typed_at"]) if t_growth is not None and last.get("typed_at") else None
        out.append(r)
        log(f"  clip {k + 1}/{len(clips)} {clip.path.name}: e2e {ms(r['e2e_raw'])} raw, {len(phrases)} phrase(s){' TIMEOUT' if timed_out else ''}")
        time.sleep(0.3)
    return {"clips": out}


def ptt_clips(rig: Rig, opts, clips, mic_s: float) -> list[dict]:
    """Push-to-talk: per clip, `stop` as soon as the end of speech has reached the server; stop -> last character.

    This is the moment the naive design (record, transcribe at stop) starts its work,
    so the two are compared from the same instant.
    """
    assert rig.events is not None and rig.window is not None and rig.mic is not None
    rig.ensure_idle()
    out = []
    for k, clip in enumerate(clips):
        end_s, mark, rec, t_play, player = _begin_clip(rig, clip)
        try:
            while time.time() < t_play + end_s + mic_s:
                time.sleep(0.002)
            t_stop = time.time()
            reply = rig.request({"type": "stop"})
            if reply.get("type") != "ok":
                raise BenchError(f"stop answered {reply}")
            _, t_growth, timed_out = _wait_clip_text(rig, mark, rec, lambda now: now - t_stop > 0.2, 30.0)
        finally:
            _stop_player(player)
        phrases = _phrases_of(rig.events.since(mark), rec)
        last = max(phrases.items())[1] if phrases else None
        r = {
            "clip": clip.path.name,
            "seconds": clip.seconds,
            "text": rig.window.read(),
            "stop_to_last_char": (t_growth - t_stop) if t_growth is not None else None,
            "timed_out": timed_out,
            "last_status": last.get("status") if last else None,
            "phrases": len(phrases),
        }
        out.append(r)
        log(f"  push-to-talk {k + 1}/{len(clips)} {clip.path.name}: stop -> last char {ms(r['stop_to_last_char'])}")
        time.sleep(0.3)
    return out


def naive_lengths(opts, lengths=(15.0, 30.0, 60.0, 120.0)) -> list[dict]:
    """The naive design's wait after the last word for recordings of these lengths (same model and options)."""
    from tests.speech import clips as all_clips

    from . import offline

    gap = np.zeros(int(0.8 * SAMPLE_RATE), dtype=np.float32)
    audio = [offline.load_audio(c.path) for c in all_clips()]
    out = []
    for target in lengths:
        parts, total, i = [], 0.0, 0
        while total < target:
            parts += [audio[i % len(audio)], gap]
            total += (len(audio[i % len(audio)]) + len(gap)) / SAMPLE_RATE
            i += 1
        t, _ = offline.decode_seconds(np.concatenate(parts), 1 if opts.quick or target > 30 else opts.decode_reps)
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


def speech(rig: Rig, opts, clips, shared: dict) -> SectionResult:
    from . import offline

    res = SectionResult("speech")
    pause = offline.settings().pause
    log("measuring the virtual microphone's own latency")
    mic = mic_latency(rig, opts.workdir, reps=3 if opts.quick else 5)
    shared["mic_latency"] = mic
    log(f"virtual microphone latency {ms(mic['median_s'])}; playing {len(clips)} clip(s) through it")
    live = shared.get("live") or live_clips(rig, opts, clips)
    shared["live"] = live
    log("offline: segmenting each clip like the server and timing the model on its last phrase and on the whole clip")
    analyses = shared.get("analyses") or [offline.analyse_clip(c, opts.decode_reps) for c in clips]
    shared["analyses"] = analyses
    log("push-to-talk: `stop` at the end of speech of each clip")
    ptt = ptt_clips(rig, opts, clips, mic["median_s"])
    log("offline: the naive design on longer recordings (the clips joined with 0.8 s gaps)")
    naive_by_length = naive_lengths(opts)
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
    from tests.speech import wer

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


def accuracy(rig: Rig, opts, clips, shared: dict) -> SectionResult:
    from tests.speech import wer

    res = SectionResult("accuracy")
    live = shared.get("live")
    if live is None:
        log("accuracy: running the live clips (speech section not selected)")
        live = shared["live"] = live_clips(rig, opts, clips)
    refs = [c.reference for c in clips]
    hyps_live = [c["text"] for c in live["clips"]]
    log("accuracy: `stt transcribe` of the same files through the server")
    p = rig.client("transcribe", "--json", *[str(c.path) for c in clips], timeout=900)
    if p.returncode != 0:
        raise BenchError(f"stt transcribe exited {p.returncode}: {p.stderr.strip()}")
    import json

    files = json.loads(p.stdout)
    hyps_off = [f["text"] for f in files]
    w_live, w_off = wer(refs, hyps_live), wer(refs, hyps_off)
    diff = (w_live - w_off) * 100
    extra = {}
    analyses = shared.get("analyses")
    if analyses:
        extra["wer_offline_whole_clip_no_vad"] = wer(refs, [a.naive_text for a in analyses])
        extra["wer_offline_server_segmentation"] = wer(refs, [a.segmented_text for a in analyses])
    res.data = {
        "wer_live": w_live,
        "wer_offline_stt_transcribe": w_off,
        "difference_points": diff,
        **extra,
        "per_clip": [
            {"clip": c.path.name, "reference": c.reference, "live": hl, "offline": ho, "wer_live": wer([c.reference], [hl]), "wer_offline": wer([c.reference], [ho])}
            for c, hl, ho in zip(clips, hyps_live, hyps_off)
        ],
    }
    ref_extra = ""
    if extra:
        ref_extra = (
            f"; offline with the server's own phrase cuts {pc(extra['wer_offline_server_segmentation'])}, whole clip without VAD {pc(extra['wer_offline_whole_clip_no_vad'])}"
        )
    res.rows += [
        Row(
            "4 Accuracy",
            f"WER of the live path (text typed into the xterm), {len(clips)} clips",
            f"**{pc(w_live)}**",
            f"offline `stt transcribe` (same model, VAD-chunked) {pc(w_off)}; difference {diff:+.1f} points" + ref_extra,
            "within 2 points of offline",
            diff <= 2.0,
        ),
        Row(
            "4 Accuracy",
            "RealtimeSTT bar from the project brief (quoted, not measured here; 2-core machine, tiny.en)",
            "quoted: 1.6 s p50 end of speech -> text (1.3 s tuned), 5.9% WER, idle 2.5% of a core",
            "compare: rows 3, 4 and 6 of this table",
        ),
    ]
    return res


# --- 3r. remote backends -------------------------------------------------------------------------


def remote(rig: Rig, opts, clips, shared: dict) -> SectionResult:
    """The speech-to-text and accuracy figures again with `sttd --remote` on each real server."""
    from stt_dictation.server.transcriber import embedded_model_path
    from tests.speech import wer

    from . import servers

    res = SectionResult("remote")
    mic = shared.get("mic_latency") or mic_latency(rig, opts.workdir, reps=3 if opts.quick else 5)
    shared["mic_latency"] = mic
    m = mic["median_s"]
    refs = [c.reference for c in clips]
    local = shared.get("live")
    local_e2e = summary([c["e2e_raw"] - m for c in local["clips"] if c["e2e_raw"] is not None]) if local else None
    local_wer = wer(refs, [c["text"] for c in local["clips"]]) if local else None
    res.data = {"local_e2e_minus_mic_s": local_e2e, "local_wer": local_wer, "backends": {}}
    starters = {"wyoming": servers.start_wyoming, "openai": servers.start_openai}
    try:
        for name, start_server in starters.items():
            srv = start_server(opts.workdir, embedded_model_path())
            rig.helpers.append(srv.proc)
            try:
                ready = srv.wait_ready()
                log(f"{srv.name} answered after {ready:.1f} s; restarting sttd with --remote {srv.uri}")
                rig.restart_sttd("--remote", srv.uri)
                backend = rig.status().get("backend")
                log(f"remote {name}: playing {len(clips)} clip(s)")
                live = live_clips(rig, opts, clips)
            finally:
                srv.stop()
            raw = [c["e2e_raw"] for c in live["clips"]]
            e2e = summary([v - m for v in raw if v is not None])
            w = wer(refs, [c["text"] for c in live["clips"]])
            to_transcribed = summary([c.get("server_end_to_transcribed") for c in live["clips"]])
            res.data["backends"][name] = {
                "server": srv.name,
                "uri": srv.uri,
                "status_backend": backend,
                "ready_s": ready,
                "e2e_minus_mic_s": e2e,
                "wer": w,
                "server_end_to_transcribed_s": to_transcribed,
                "clips_without_text": sum(1 for v in raw if v is None),
                "per_clip": live["clips"],
            }
            ref = f"local backend (row 3) {ms(local_e2e['p50'])} / {ms(local_e2e['p95'])}" if local_e2e else "local backend: run with the speech section"
            wref = f"local live {pc(local_wer)}; difference {(w - local_wer) * 100:+.1f} points" if local_wer is not None else ""
            res.rows += [
                Row(
                    "3r Remote",
                    f"`--remote` {srv.name} on loopback (same tiny.en, int8): end of speech -> last character, p50 / p95 of {len(clips)} clips (virtual-mic latency subtracted)",
                    f"**{ms(e2e['p50'])}** / {ms(e2e['p95'])}",
                    ref + f"; speech end -> transcribed p50 {ms(to_transcribed['p50'])}",
                ),
                Row(
                    "3r Remote",
                    f"`--remote` {srv.name}: WER of the text typed into the xterm",
                    f"**{pc(w)}**",
                    wref,
                    "within 1 point of local" if local_wer is not None else "",
                    (abs(w - local_wer) <= 0.01) if local_wer is not None else None,
                ),
            ]
    finally:
        log("remote: back to the local backend")
        rig.restart_sttd()
    return res


# --- 5. keeping up ---------------------------------------------------------------------------------


def keepup(rig: Rig, opts, clips_all, shared: dict) -> SectionResult:
    from tests.speech import wer

    from . import offline

    assert rig.events is not None and rig.window is not None and rig.mic is not None
    res = SectionResult("keepup")
    target_s = opts.keepup_seconds
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
    path = opts.workdir / "keepup.wav"
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
            if t_end is None and player.poll() is not None:
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
        _stop_player(player)
    rig.stop_recording(rec)
    time.sleep(0.2)
    text = rig.window.read()
    phrases = _phrases_of(rig.events.since(mark), rec)
    typed = [p for _, p in sorted(phrases.items()) if p.get("status") == "typed"]
    lat = [p["typed_at"] - p["speech_end"] for p in typed if p.get("typed_at") and p.get("speech_end")]
    s = summary(lat)
    play_backlog = [p for t, p in samples if t <= t_end - t_play]
    backlog = [p for _, p in samples]
    max_backlog = max(backlog) if backlog else None
    q = max(1, len(play_backlog) // 4)
    first_q, last_q = play_backlog[:q], play_backlog[-q:]
    mic_m = (shared.get("mic_latency") or {}).get("median_s")
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
        "last_word_e2e_minus_mic_s": (last_e2e - mic_m) if last_e2e is not None and mic_m is not None else None,
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


# --- 6. idle ---------------------------------------------------------------------------------------


def _cpu_over(pid: int, seconds: float, other: int | None = None) -> tuple[float, float | None]:
    t0 = time.monotonic()
    c0 = cpu_seconds(pid)
    o0 = cpu_seconds(other) if other else None
    time.sleep(seconds)
    c1 = cpu_seconds(pid)
    o1 = cpu_seconds(other) if other else None
    dt = time.monotonic() - t0
    return (c1 - c0) / dt, ((o1 - o0) / dt if other else None)


def idle(rig: Rig, opts) -> SectionResult:
    res = SectionResult("idle")
    rig.ensure_idle()
    time.sleep(2.0)
    pid = rig.pid
    pa_pid = getattr(getattr(rig.mic, "_daemon", None), "pid", None)
    log(f"idle: sampling sttd CPU for {opts.idle_seconds:g} s")
    cpu_idle, pa_idle = _cpu_over(pid, opts.idle_seconds, pa_pid)
    rss = rss_bytes(pid)
    log(f"idle: recording silence for {opts.silence_seconds:g} s")
    ev = rig.start_recording()
    cpu_rec, pa_rec = _cpu_over(pid, opts.silence_seconds, pa_pid)
    rss_rec = rss_bytes(pid)
    rig.stop_recording(ev["recording"])
    log("idle: RSS of a bare process holding the same model")
    code = (
        "import sys; sys.path.insert(0, %r)\n"
        "from stt_dictation.server.settings import Settings\nfrom stt_dictation.server.transcriber import LocalWhisper\n"
        "w = LocalWhisper(Settings()); w._load()\n"
        "print([l for l in open('/proc/self/status') if l.startswith('VmRSS:')][0].split()[1])\n"
    ) % str(REPO)
    p = subprocess.run([str(PYTHON), "-c", code], cwd=REPO, env=rig.env, capture_output=True, text=True, timeout=120)
    model_rss = int(p.stdout.strip().splitlines()[-1]) * 1024 if p.returncode == 0 and p.stdout.strip() else None
    res.data = {
        "idle_cpu_fraction_of_core": cpu_idle,
        "idle_seconds": opts.idle_seconds,
        "rss_bytes": rss,
        "recording_silence_cpu_fraction_of_core": cpu_rec,
        "recording_silence_seconds": opts.silence_seconds,
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
            f"sttd CPU over {opts.idle_seconds:g} s idle after the model loaded; RSS",
            f"**{pc(cpu_idle, 2)} of a core**; RSS {mib(rss)}",
            f"recording silence {pc(cpu_rec, 1)}; a bare process with the same model loaded: RSS {mib(model_rss)}",
            "< 1% of a core",
            cpu_idle < 0.01,
        ),
        Row(
            "6 Idle",
            f"sttd CPU while recording silence for {opts.silence_seconds:g} s (information)",
            f"{pc(cpu_rec, 1)} of a core; RSS {mib(rss_rec)}",
            f"the virtual mic's PulseAudio daemon meanwhile {pc(pa_rec, 1)} (idle {pc(pa_idle, 1)})",
        ),
    ]
    return res


# --- 7. typing -----------------------------------------------------------------------------------


ACCENTED = (
    "Déjà vu at the café — naïve façade, crème brûlée and a piñata; "
    "señor Müller’s résumé, São Paulo, Zürich — voilà, coöperate."
)


def ascii_text(clips, n: int = 500) -> str:
    words = " ".join(c.reference for c in clips).split()
    out = ""
    for w in words:
        nxt = (out + " " + w) if out else w
        if len(nxt) > n:
            break
        out = nxt
    out = "".join(ch if 32 <= ord(ch) < 127 else " " for ch in out)
    return (out + " " + "x" * n)[:n] if len(out) < n else out


def _type_once(rig: Rig, inj, text: str, timeout: float) -> dict:
    assert rig.window is not None
    rig.window.clear()
    rig.window.focus()
    time.sleep(0.1)
    cap = rig.window.path
    want = len(text.encode())
    t0 = time.time()
    asyncio.run(inj.type(text))
    t_call = time.time() - t0
    size, t_growth = cap.stat().st_size, time.time()
    deadline = time.monotonic() + timeout
    while True:
        cur = cap.stat().st_size
        now = time.time()
        if cur != size:
            size, t_growth = cur, now
        if (size >= want and now - t_growth > 0.3) or now - t_growth > 2.0:
            break
        if time.monotonic() > deadline:
            break
        time.sleep(0.005)
    got = rig.window.read()
    wall = t_growth - t0
    diff = _char_edits(text, got)
    return {"chars": len(text), "call_s": t_call, "to_last_char_s": wall, "cps": len(text) / wall, "exact": got == text, "mismatches": diff, "got": got[:3000]}


def _char_edits(a: str, b: str) -> int:
    """Character-level Levenshtein distance: characters lost, added or changed."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
        prev = cur
    return prev[-1]


def _type_reps(rig: Rig, inj, text: str, reps: int) -> dict:
    runs = [_type_once(rig, inj, text, 30) for _ in range(reps)]
    return {
        "chars": len(text),
        "reps": reps,
        "cps_median": median([r["cps"] for r in runs]),
        "to_last_char_s_median": median([r["to_last_char_s"] for r in runs]),
        "exact_runs": sum(1 for r in runs if r["exact"]),
        "char_errors": sum(r["mismatches"] for r in runs),
        "runs": runs,
    }


def typing(rig: Rig, opts, clips) -> SectionResult:
    from stt_dictation.server.injector import XdotoolInjector

    res = SectionResult("typing")
    rig.ensure_idle()
    text = ascii_text(clips)
    fast = XdotoolInjector()
    default = XdotoolInjector(delay_ms=12)  # xdotool's own default key delay
    reps = opts.typing_reps
    log(f"typing: 500 ASCII characters x{reps} with the injector's own delays, then with xdotool's default 12 ms")
    a_ref = _type_reps(rig, default, text, reps)
    a = _type_reps(rig, fast, text, reps)
    log(f"typing: accented text with em dashes x{reps} (the 12 ms reference first: the injector may extend the keymap for good)")
    b_ref = _type_reps(rig, default, ACCENTED, reps)
    b = _type_reps(rig, fast, ACCENTED, reps)
    focus = []
    for _ in range(10):
        t0 = time.perf_counter()
        asyncio.run(fast.focused_window())
        focus.append(time.perf_counter() - t0)
    res.data = {
        "ascii": a,
        "ascii_default_delay": a_ref,
        "accented": b,
        "accented_default_delay": b_ref,
        "accented_text": ACCENTED,
        "injector_delays_ms": {k: getattr(XdotoolInjector, k, None) for k in ("FAST_DELAY_MS", "SAFE_DELAY_MS")},
        "focused_window_s": summary(focus),
    }

    def arrived(r):
        if r["exact_runs"] == r["reps"]:
            return f"all arrived in {r['reps']} of {r['reps']} runs"
        return f"**{r['char_errors']} char(s) lost or wrong** over {r['reps']} runs ({r['reps'] - r['exact_runs']} runs not exact)"

    res.rows += [
        Row(
            "7 Typing",
            f"XdotoolInjector.type, {a['chars']} ASCII chars -> last char in the xterm, median of {reps}",
            f"**{a['cps_median']:.0f} chars/s** ({sec(a['to_last_char_s_median'])}; {arrived(a)})",
            f"xdotool default delay (12 ms): {a_ref['cps_median']:.0f} chars/s ({arrived(a_ref)})",
            "every character arrives",
            a["exact_runs"] == a["reps"],
        ),
        Row(
            "7 Typing",
            f"same, {b['chars']} chars with accents and em dashes",
            f"**{b['cps_median']:.0f} chars/s** ({sec(b['to_last_char_s_median'])}; {arrived(b)})",
            f"xdotool default delay (12 ms): {b_ref['cps_median']:.0f} chars/s ({arrived(b_ref)})",
            "every character arrives",
            b["exact_runs"] == b["reps"],
        ),
        Row(
            "7 Typing",
            "XdotoolInjector.focused_window() (the focus guard's check before each typed chunk), median of 10",
            ms(median(focus), 1),
            f"one `python -c pass` for scale: {ms(median(interpreter_start(rig.env, 5)), 1)}",
        ),
    ]
    return res
