"""The live passes over clips played into the virtual microphone, and what the microphone itself adds.

Used by the speech, accuracy, remote and keep-up sections: each pass returns its
per-clip figures, which the runner hands to the sections that report them.
"""

from __future__ import annotations

import os
import time
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .. import offline
from ..common import SAMPLE_RATE, BenchError, log, median, ms
from ..rig import Rig

TYPED_FINAL = {"typed", "held", "failed", "empty", "filtered", "cancelled", "interrupted"}


def write_wav(path: Path, audio: np.ndarray) -> None:
    """Float samples (clipped to [-1, 1]) as a 16-bit mono WAV at the server's rate, for paplay."""
    pcm = np.clip(audio, -1.0, 1.0)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes((pcm * 32767).astype("<i2").tobytes())


def phrases_of(events: list[dict], recording: int) -> dict[int, dict]:
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
            phrases = phrases_of(rig.events.since(mark), rec)
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
    end_s = offline.last_speech_end(offline.load_audio(clip.path))
    rig.window.clear()
    mark = rig.events.mark()
    rec = rig.start_recording()["recording"]
    time.sleep(0.1)
    t_play = time.time()
    return end_s, mark, rec, t_play, rig.mic.play(clip.path, wait=False)


def live_clips(rig: Rig, clips, pause: float) -> dict:
    """Per clip: start recording, play it, wait for all its text (the server's `pause` after the audio), stop. Times from the capture file."""
    assert rig.events is not None and rig.window is not None and rig.mic is not None
    rig.ensure_idle()
    out = []
    for k, clip in enumerate(clips):
        end_s, mark, rec, t_play, player = _begin_clip(rig, clip)
        play_end: list[float] = []

        def played_and_paused(now: float) -> bool:
            if not play_end and not player.alive():
                play_end.append(now)
            return bool(play_end) and now - play_end[0] > pause + 0.6

        try:
            size, t_growth, timed_out = _wait_clip_text(rig, mark, rec, played_and_paused, clip.seconds + 30.0)
        finally:
            player.stop()
        rig.stop_recording(rec)
        time.sleep(0.2)
        text = rig.window.read()
        phrases = phrases_of(rig.events.since(mark), rec)
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


def ptt_clips(rig: Rig, clips, mic_s: float) -> list[dict]:
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
            player.stop()
        phrases = phrases_of(rig.events.since(mark), rec)
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
