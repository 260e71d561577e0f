"""Hallucination guard: drop Whisper's inventions on silence without losing real speech.

No single signal may discard words. A segment is filtered only when at least two
independent signals agree (the model thinks it heard no speech, it is unsure of
its words, the text is a known silence phrase, the VAD heard almost no speech).
Whatever is filtered is returned with the reason so it lands in the history.
Conditioning on the text said before (the context) has its own failure, the model
reading the context back: `repeats` sees it, and it is one more signal.
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


REPEAT_WORDS = 4
"""A run of this many words that the context already holds is read back, not heard."""


def repeats(text: str, context: str | None) -> bool:
    """Whether `text` reads the context back: a run of REPEAT_WORDS words the context holds, or a short text (2-3 words) equal to the context's last words."""
    words, before = _normal(text).split(), _normal(context or "").split()
    if len(words) < 2 or not before:
        return False  # one word said again ("No. No.") is speech
    if len(words) < REPEAT_WORDS:
        return words == before[-len(words) :]
    n = REPEAT_WORDS
    seen = {tuple(before[i : i + n]) for i in range(len(before) - n + 1)}
    return any(tuple(words[i : i + n]) in seen for i in range(len(words) - n + 1))


def signals(seg: SegmentScore, speech_seconds: float, context: str | None = None) -> list[str]:
    """The reasons, possibly none, to doubt a segment."""
    out = []
    if repeats(seg.text, context):
        out.append("repeats the context")
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


def judge(segments: list[SegmentScore], speech_seconds: float, context: str | None = None) -> tuple[str, str, str | None]:
    """Split segments into (kept text, filtered text, reason or None); `context` is the prompt the model had."""
    kept, dropped, reasons = [], [], []
    for seg in segments:
        doubts = signals(seg, speech_seconds, context)
        if len(doubts) >= 2 or not seg.text.strip():
            if seg.text.strip():
                dropped.append(seg.text.strip())
                reasons.append(", ".join(doubts))
        else:
            kept.append(seg.text.strip())
    return " ".join(kept), " ".join(dropped), ("; ".join(reasons) or None)
