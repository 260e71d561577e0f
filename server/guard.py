"""Hallucination guard: drop Whisper's inventions on silence without losing real speech.

No single signal may discard words. A segment is filtered only when at least two
independent signals agree (the model thinks it heard no speech, it is unsure of
its words, the text is a known silence phrase, the VAD heard almost no speech).
Whatever is filtered is returned with the reason so it lands in the history.
"""

from __future__ import annotations

import re

from .transcript import SegmentScore

NO_SPEECH_PROB = 0.6
"""Whisper's own no-speech threshold."""
LOW_LOGPROB = -1.0
"""Average token log-probability under which the model is guessing."""
HIGH_COMPRESSION = 2.4
"""gzip compression ratio over which text is repetitive (a decoding loop)."""
LITTLE_SPEECH_S = 0.6
"""VAD speech shorter than this is too little for a sentence."""

SILENCE_PHRASES = frozenset(
    {
        "you",
        "thank you",
        "thanks",
        "thank you very much",
        "thanks for watching",
        "thank you for watching",
        "please subscribe",
        "bye",
        "okay",
        "so",
        "uh",
        "um",
        "hmm",
        "",
    }
)
"""Texts Whisper is known to produce on silence and noise."""

_NON_WORD = re.compile(r"[^\w\s']+")


def _normal(text: str) -> str:
    return " ".join(_NON_WORD.sub(" ", text.lower()).split())


def signals(seg: SegmentScore, speech_seconds: float) -> list[str]:
    """The reasons, possibly none, to doubt a segment."""
    out = []
    if seg.no_speech_prob > NO_SPEECH_PROB:
        out.append(f"no_speech_prob {seg.no_speech_prob:.2f}")
    if seg.avg_logprob < LOW_LOGPROB:
        out.append(f"avg_logprob {seg.avg_logprob:.2f}")
    if seg.compression_ratio > HIGH_COMPRESSION:
        out.append(f"compression_ratio {seg.compression_ratio:.2f}")
    if _normal(seg.text) in SILENCE_PHRASES:
        out.append("a known silence phrase")
    if speech_seconds < LITTLE_SPEECH_S:
        out.append(f"only {speech_seconds:.2f} s of speech")
    return out


def judge(segments: list[SegmentScore], speech_seconds: float) -> tuple[str, str, str | None]:
    """Split segments into (kept text, filtered text, reason or None)."""
    kept, dropped, reasons = [], [], []
    for seg in segments:
        doubts = signals(seg, speech_seconds)
        if len(doubts) >= 2 or not seg.text.strip():
            if seg.text.strip():
                dropped.append(seg.text.strip())
                reasons.append(", ".join(doubts))
        else:
            kept.append(seg.text.strip())
    return " ".join(kept), " ".join(dropped), ("; ".join(reasons) or None)
