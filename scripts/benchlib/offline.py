"""Offline analysis in this process: where speech ends, how the server would cut a clip, model timings.

The model here is the server's own `LocalWhisper` with default `Settings` (same
model, compute type, thread count and decoding options as `sttd` without a config
file), so its timings are what the server's worker thread pays.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from .common import SAMPLE_RATE, log, median


@lru_cache(maxsize=1)
def settings():
    from stt_dictation.server.settings import Settings

    return Settings()


@lru_cache(maxsize=1)
def model():
    """The server's transcriber, loaded once in this process (warm-up decode included)."""
    from stt_dictation.server.transcriber import LocalWhisper

    t0 = time.monotonic()
    lw = LocalWhisper(settings())
    lw.load_blocking()  # the same synchronous load the server runs in its worker thread
    log(f"offline model loaded in {time.monotonic() - t0:.1f} s ({lw.model_name}, {lw.device}/{lw.compute_type})")
    return lw


def decode_seconds(audio: np.ndarray, reps: int) -> tuple[float, str]:
    """Median time of the server's decode (`LocalWhisper.decode`, options as in sttd) and its text."""
    lw = model()
    times, text = [], ""
    for _ in range(max(reps, 1)):
        tr = lw.decode(audio)
        times.append(tr.elapsed)
        text = tr.text
    return median(times), text


def load_audio(path) -> np.ndarray:
    from faster_whisper import decode_audio

    return decode_audio(str(path), sampling_rate=SAMPLE_RATE)


def last_speech_end(audio: np.ndarray) -> float:
    """Seconds into the clip where speech ends, by faster-whisper's Silero VAD.

    get_speech_timestamps with threshold 0.5, speech_pad_ms=0 and
    min_silence_duration_ms = the server's pause, on the clip padded with 2 s of
    silence (so a clip that stops mid-breath still gets an end that is not simply
    its last sample). The end is the first window judged silence, as in the server.
    """
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    s = settings()
    padded = np.concatenate([audio, np.zeros(2 * SAMPLE_RATE, dtype=np.float32)])
    opts = VadOptions(threshold=s.vad_threshold, speech_pad_ms=0, min_silence_duration_ms=int(s.pause * 1000))
    ts = get_speech_timestamps(padded, opts)
    if not ts:
        return len(audio) / SAMPLE_RATE
    return min(ts[-1]["end"], len(audio)) / SAMPLE_RATE


@dataclass
class ClipAnalysis:
    name: str
    seconds: float
    speech_end: float
    """Seconds into the clip where the last speech ends (offline VAD)."""
    phrases: int
    """How many phrases the server's segmenter cuts the clip into."""
    last_phrase_seconds: float
    last_phrase_speculated: bool
    floor: float
    """Model time on the last phrase, as the server cuts it."""
    naive: float
    """Model time on the whole clip in one piece."""
    naive_text: str
    segmented_text: str
    extra: dict = field(default_factory=dict)


def segment_like_server(audio: np.ndarray):
    """Phrases the server's Segmenter + StreamingVad cut from the clip followed by silence (as the mic delivers it)."""
    from stt_dictation.server.segmenter import Phrase, Segmenter, StreamingVad

    s = settings()
    seg = _segmenter_cache(StreamingVad, Segmenter, s.vad_threshold, s.pause, s.max_phrase)
    seg.reset()
    padded = np.concatenate([audio, np.zeros(int((s.pause + 1.0) * SAMPLE_RATE), dtype=np.float32)])
    events = []
    for i in range(0, len(padded), 512):  # the microphone's block size
        events += seg.feed(padded[i : i + 512])
    events += seg.flush()
    return [e for e in events if isinstance(e, Phrase)]


_SEG = {}


def _segmenter_cache(vad_cls, seg_cls, threshold, pause, max_phrase):
    key = (threshold, pause, max_phrase)
    if key not in _SEG:
        _SEG[key] = seg_cls(vad_cls(), threshold=threshold, pause=pause, max_phrase=max_phrase)
    return _SEG[key]


def analyse_clip(clip, reps: int) -> ClipAnalysis:
    audio = load_audio(clip.path)
    end = last_speech_end(audio)
    phrases = segment_like_server(audio)
    if phrases:
        last = phrases[-1]
        floor, _ = decode_seconds(last.audio, reps)
        texts = [model().decode(p.audio).text for p in phrases]
    else:
        last, floor, texts = None, None, []
    naive, naive_text = decode_seconds(audio, reps)
    return ClipAnalysis(
        name=clip.path.name,
        seconds=len(audio) / SAMPLE_RATE,
        speech_end=end,
        phrases=len(phrases),
        last_phrase_seconds=(len(last.audio) / SAMPLE_RATE) if last is not None else 0.0,
        last_phrase_speculated=bool(last.speculated) if last is not None else False,
        floor=floor,
        naive=naive,
        naive_text=naive_text,
        segmented_text=" ".join(t for t in texts if t),
        extra={"server_speech_end": (last.speech_end / SAMPLE_RATE) if last is not None else None},
    )
