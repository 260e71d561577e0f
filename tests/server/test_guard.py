"""The hallucination guard never drops words on one signal alone."""

from stt_dictation.server.guard import judge, signals
from stt_dictation.server.transcript import SegmentScore


def seg(text, nsp=0.1, lp=-0.3, cr=1.2):
    return SegmentScore(text, nsp, lp, cr)


def test_confident_speech_is_kept_even_with_high_no_speech_prob():
    # A peer lost a whole sentence this way: no-speech rose because silence followed.
    kept, dropped, reason = judge([seg(" Please add a footer.", nsp=0.9)], speech_seconds=1.8)
    assert kept == "Please add a footer."
    assert dropped == "" and reason is None


def test_silence_phrase_with_a_second_signal_is_filtered_with_a_reason():
    kept, dropped, reason = judge([seg(" Thank you.", nsp=0.8)], speech_seconds=0.3)
    assert kept == ""
    assert dropped == "Thank you."
    assert "no_speech_prob" in reason and "silence phrase" in reason


def test_a_real_short_thank_you_is_kept():
    kept, _, _ = judge([seg(" Thank you.", nsp=0.05, lp=-0.2)], speech_seconds=0.9)
    assert kept == "Thank you."


def test_unsure_and_no_speech_together_filter():
    kept, dropped, _ = judge([seg(" Whatever this is", nsp=0.7, lp=-1.4)], speech_seconds=2.0)
    assert kept == "" and dropped == "Whatever this is"


def test_only_doubtful_segments_are_dropped():
    kept, dropped, _ = judge([seg(" Hello there."), seg(" you", nsp=0.9, lp=-1.5)], speech_seconds=1.5)
    assert kept == "Hello there." and dropped == "you"


def test_signals_are_named():
    assert signals(seg("x", nsp=0.7, lp=-2.0, cr=3.0), 0.1) == [
        "no_speech_prob 0.70",
        "avg_logprob -2.00",
        "compression_ratio 3.00",
        "only 0.10 s of speech",
    ]


def test_a_phrase_reading_its_context_back_is_seen():
    from stt_dictation.server.guard import repeats

    context = "And so my fellow Americans, ask not what your country can do for you"
    assert repeats("Ask not what your country can do for you, ask not what", context)
    assert repeats("do for you.", context)  # a short text equal to the context's end
    assert not repeats("ask what you can do for your country.", context)
    assert not repeats("you", context)  # one word said again is speech
    assert not repeats("ask not what your country", None)
    seg = SegmentScore("ask not what your country can do", 0.1, -0.2, 1.2)
    assert "repeats the context" in signals(seg, 2.0, context) and "repeats the context" not in signals(seg, 2.0)
