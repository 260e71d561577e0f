"""transcript: what every transcriber returns, and the prompt a model gets."""

from __future__ import annotations

from stt_dictation.server.transcript import SegmentScore, Transcript, full_prompt

SCORES = dict(no_speech_prob=0.1, avg_logprob=-0.2, compression_ratio=1.1)


def test_text_joins_the_segments_stripped_and_skips_empty_ones():
    t = Transcript([SegmentScore(" Hello", **SCORES), SegmentScore("  ", **SCORES), SegmentScore("world. ", **SCORES)])
    assert t.text == "Hello world."


def test_no_segments_is_no_text():
    assert Transcript().text == "" and Transcript().elapsed == 0.0


def test_full_prompt_orders_configured_vocabulary_and_context():
    assert full_prompt("Names: Ada.", "said before", [" Kubernetes", "", "gRPC"]) == "Names: Ada. Kubernetes, gRPC. said before"


def test_full_prompt_is_none_when_there_is_nothing():
    assert full_prompt(None, None) is None
    assert full_prompt("  ", "", ["  "]) is None
    assert full_prompt(None, " context ") == "context"
