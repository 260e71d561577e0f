"""A led decode on the real model: the phrase before is heard again in front, its text forced, and only what follows comes back."""

from __future__ import annotations

import numpy as np
import pytest

from stt_dictation.server.segmenter import Phrase, Segmenter, StreamingVad
from stt_dictation.server.settings import Settings
from stt_dictation.server.transcriber import LEAD_ROOM, LocalWhisper
from stt_dictation.server.transcript import Lead
from stt_dictation.server.wav import SAMPLE_RATE, decode_file
from tests.support.dictation import JFK


@pytest.fixture(scope="module")
def model() -> LocalWhisper:
    m = LocalWhisper(Settings(cpu_threads=1, device="cpu"))
    m.load_blocking()
    return m


@pytest.fixture(scope="module")
def phrases() -> list[np.ndarray]:
    """JFK's sentence cut at its pauses as the server cuts it."""
    audio = decode_file(str(JFK))
    seg = Segmenter(StreamingVad())
    stream = np.concatenate([audio, np.zeros(SAMPLE_RATE, dtype=np.float32)])
    out = [ev.audio for i in range(0, len(stream), 1024) for ev in seg.feed(stream[i : i + 1024]) if isinstance(ev, Phrase)]
    assert len(out) >= 3, "JFK is spoken in pauses"
    return out


def test_a_led_decode_returns_the_new_phrase_after_the_mark_between_them(model, phrases):
    first = model.decode(phrases[0]).text
    assert "Americans" in first
    stem = first.rstrip(".,!?")
    out = model.decode(phrases[1], None, Lead(1, phrases[0], stem))
    assert out.after_lead
    text = out.text
    assert "Americans" not in text and "fellow" not in text, text  # the lead's words are not given back
    assert "ask not" in text.lower(), text
    assert not text[:1].isalpha() or text[:1].islower(), text  # the sentence goes on: no capital after no mark


def test_a_lead_that_would_not_fit_one_window_is_left_out(model, phrases):
    long = np.zeros(LEAD_ROOM, dtype=np.float32)
    out = model.decode(phrases[1], "And so my fellow Americans", Lead(1, long, "And so my fellow Americans"))
    assert not out.after_lead and "ask" in out.text.lower(), out.text


def test_only_the_leads_last_words_are_forced_and_the_rest_joins_the_prompt(model, phrases, monkeypatch):
    """Forced tokens cost a decoder step each; the prompt's are nearly free."""
    seen = {}
    real = model._segments

    def spy(audio, prompt, prefix=None):
        seen.update(prompt=prompt, prefix=prefix, samples=len(audio))
        return real(audio, prompt, prefix)

    monkeypatch.setattr(model, "_segments", spy)
    out = model.decode(phrases[1], "Earlier text.", Lead(1, phrases[0], "And so my fellow Americans"))
    assert (seen["prompt"], seen["prefix"]) == ("Earlier text. And", "so my fellow Americans")
    assert seen["samples"] == len(phrases[0]) + len(phrases[1]) and out.after_lead
