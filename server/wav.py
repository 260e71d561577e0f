"""Audio as sttd handles it everywhere: 16 kHz mono float32 in memory, 16-bit PCM WAV on disk and on the wire."""

from __future__ import annotations

import io
import wave
from pathlib import Path
from typing import BinaryIO

import numpy as np

SAMPLE_RATE = 16000
"""Samples per second of all audio in sttd: the microphone, the VAD, Whisper and the remotes."""


def to_pcm16(audio: np.ndarray) -> bytes:
    """float32 [-1, 1] to little-endian 16-bit PCM (out-of-range samples clipped)."""
    a = np.asarray(audio, dtype=np.float32).reshape(-1)
    return (np.clip(a, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


def from_pcm16(pcm: bytes) -> np.ndarray:
    """Little-endian 16-bit PCM to float32 samples."""
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0


def write_wav(out: BinaryIO, audio: np.ndarray) -> None:
    """Write `audio` to an open binary file as a 16 kHz mono 16-bit WAV."""
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(to_pcm16(audio))


def wav_bytes(audio: np.ndarray) -> bytes:
    """A 16 kHz mono 16-bit WAV file in memory."""
    buf = io.BytesIO()
    write_wav(buf, audio)
    return buf.getvalue()


def read_wav(path: str | Path) -> np.ndarray:
    """The samples of a 16-bit WAV file as float32 (a spooled phrase, say)."""
    with wave.open(str(path), "rb") as w:
        frames = w.readframes(w.getnframes())
    return from_pcm16(frames)


def decode_file(path: str) -> np.ndarray:
    """Any audio file PyAV reads, resampled to 16 kHz mono float32."""
    from faster_whisper import decode_audio  # PyAV and friends: paid for only by file transcription

    return decode_audio(path, sampling_rate=SAMPLE_RATE)
