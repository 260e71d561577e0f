"""The one WAV/PCM helper: 16 kHz mono 16-bit on disk and on the wire, float32 in memory."""

from __future__ import annotations

import io
import wave

import numpy as np
import pytest

from stt_dictation.server.wav import SAMPLE_RATE, decode_file, from_pcm16, read_wav, to_pcm16, wav_bytes, write_wav


def test_pcm16_scales_clips_and_is_little_endian():
    pcm = to_pcm16(np.array([0.0, 1.0, -1.0, 2.0, -2.0, 0.5], dtype=np.float32))
    assert np.frombuffer(pcm, dtype="<i2").tolist() == [0, 32767, -32767, 32767, -32767, 16383]
    assert to_pcm16(np.array([[0.5]], dtype=np.float64)) == (16383).to_bytes(2, "little", signed=True)


def test_pcm16_round_trip_within_one_step():
    rng = np.random.default_rng(1)
    audio = rng.uniform(-1, 1, SAMPLE_RATE).astype(np.float32)
    back = from_pcm16(to_pcm16(audio))
    assert back.dtype == np.float32 and back.shape == audio.shape
    assert np.max(np.abs(back - audio)) < 2 / 32768


def test_wav_bytes_is_16k_mono_16bit():
    audio = np.full(SAMPLE_RATE // 2, 0.25, dtype=np.float32)
    with wave.open(io.BytesIO(wav_bytes(audio))) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes()) == (16000, 1, 2, SAMPLE_RATE // 2)
        assert w.readframes(1) == to_pcm16(audio[:1])


def test_write_then_read_wav(tmp_path):
    audio = np.linspace(-0.5, 0.5, 3 * SAMPLE_RATE, dtype=np.float32)
    path = tmp_path / "phrase.wav"
    with open(path, "wb") as f:
        write_wav(f, audio)
    back = read_wav(path)
    assert back.shape == audio.shape and np.max(np.abs(back - audio)) < 2 / 32768
    assert np.array_equal(read_wav(str(path)), back)


def test_decode_file_resamples_to_16k(tmp_path):
    pytest.importorskip("faster_whisper")
    path = tmp_path / "8k.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(np.zeros(8000, dtype="<i2").tobytes())
    audio = decode_file(str(path))
    assert audio.dtype == np.float32 and len(audio) == pytest.approx(SAMPLE_RATE, abs=160)
