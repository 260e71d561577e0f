"""Sound cues for real: they play on the virtual speaker, and the microphone that hears that speaker never records them (issue 14)."""

from __future__ import annotations

import subprocess
import time
import wave

import numpy as np

from tests.support.devices import child_env
from tests.support.dictation import SHORT, audio_env, finish, history, start_recording, status
from tests.support.mic import SINK_NAME
from tests.support.process import Process


def _level(samples: np.ndarray, rate: int, freq: float) -> float:
    """Magnitude of one frequency (per sample), like a tuner."""
    t = np.arange(len(samples)) / rate
    return float(abs(np.sum(samples * np.exp(-2j * np.pi * freq * t))) / max(1, len(samples)))


def _record_speaker(mic, path):
    """parecord of the speaker's monitor: what anyone in the room would hear."""
    return Process(["parecord", f"--device={SINK_NAME}.monitor", "--rate=48000", "--channels=1", "--format=s16le", "--file-format=wav", str(path)], path.with_suffix(".log"), child_env(mic)).start()


def _read(path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0, w.getframerate()


def test_start_and_stop_cues_play_on_the_speaker(sttd_factory, mic, tmp_path):
    cfg = tmp_path / "config.toml"
    cfg.write_text("sounds = true\nsound_volume = 0.8\n")
    srv = sttd_factory("--config", str(cfg), injector="none", env=audio_env(mic), wait="idle")
    rec = _record_speaker(mic, tmp_path / "speaker.wav")
    try:
        time.sleep(0.5)
        t0 = time.monotonic()
        start_recording(srv)
        start_ms = 1000 * (time.monotonic() - t0)
        time.sleep(0.5)
        finish(srv)
        time.sleep(0.8)
    finally:
        rec.signal(2)  # parecord finishes the WAV header on SIGINT
        rec.wait(5)
    audio, rate = _read(tmp_path / "speaker.wav")
    assert len(audio) > rate, "parecord recorded nothing"
    print(f"start with its cue: {start_ms:.0f} ms (start -> microphone delivering)")
    # Two bursts: rising (660 then 990 Hz) at start, falling (990 then 660 Hz) at stop.
    assert [order for _, order in _bursts(audio, rate)] == [(660, 990), (990, 660)]
    assert status(srv)["state"] == "idle"


def _bursts(audio: np.ndarray, rate: int) -> list[tuple[float, tuple[int, ...]]]:
    """(start time, tones in the order they sound) of each cue in a recording of the speaker."""
    hop = int(0.01 * rate)
    out: list[tuple[float, list[int]]] = []
    last = -1.0
    for i in range(0, len(audio) - 2 * hop, hop):
        frame = audio[i : i + 2 * hop]
        levels = {f: _level(frame, rate, f) for f in (660, 990)}
        loudest = max(levels, key=levels.get)
        if levels[loudest] < 0.02:
            continue
        t = i / rate
        if t - last > 0.3:
            out.append((t, []))
        last = t
        tones = out[-1][1]
        if not tones or tones[-1] != loudest:
            tones.append(loudest)
    return [(t, tuple(tones)) for t, tones in out]


def test_a_start_cue_is_never_in_the_transcript(sttd_factory, mic, tmp_path):
    # The cue is a spoken word: were the microphone to hear any of it, the transcript would say it.
    cue = tmp_path / "cue.wav"
    subprocess.run(["espeak-ng", "-w", str(cue), "Hello. This is a test."], check=True, timeout=30)
    # It is loud enough to be transcribed when the microphone does hear it (the test can fail).
    plain = sttd_factory(injector="none", env=audio_env(mic), wait="idle")
    start_recording(plain)
    mic.play(cue)
    mic.play_silence(1.0)
    finish(plain)
    heard = " ".join(e["text"] for e in history(plain)).lower()
    assert "hello" in heard or "test" in heard, heard
    plain.client("shutdown")
    plain.wait_exit(10)

    cfg = tmp_path / "config.toml"
    cfg.write_text(f'sounds = true\nsound_volume = 1.0\nsound_start = "{cue}"\n')
    srv = sttd_factory("--config", str(cfg), injector="none", env=audio_env(mic), wait="idle")
    speaker = _record_speaker(mic, tmp_path / "speaker.wav")
    try:
        time.sleep(0.3)
        start_recording(srv)  # returns once the microphone delivers: after the cue
    finally:
        speaker.signal(2)
        speaker.wait(5)
    played, _ = _read(tmp_path / "speaker.wav")
    assert np.sqrt(np.mean(played**2)) > 0.01, "the cue did not play on the speaker"
    mic.play(SHORT)  # dictated right after start
    mic.play_silence(1.0)
    finish(srv)
    text = " ".join(e["text"] for e in history(srv)).lower()
    assert "glad" in text and "hello" not in text and "test" not in text, text
