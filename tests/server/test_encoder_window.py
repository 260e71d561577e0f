"""The encoder window: a dictated phrase encoded in less than Whisper's 30 s, and the whole window when that goes wrong."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from stt_dictation.server.segmenter import Phrase, Segmenter, StreamingVad
from stt_dictation.server.settings import Settings
from stt_dictation.server.transcriber import WHOLE_WINDOW, LocalWhisper, audio_window
from stt_dictation.server.wav import SAMPLE_RATE, decode_file
from tests.support.dictation import JFK
from tests.support.speech import normalise


def padded(used: int) -> np.ndarray:
    """Features as faster-whisper hands them to the encoder: `used` frames of audio, then pad_or_trim's zeros."""
    f = np.zeros((80, WHOLE_WINDOW), dtype=np.float32)
    f[:, :used] = np.random.default_rng(used).uniform(-1.0, 1.0, (80, used))
    return f


def test_the_window_is_the_least_asked_for_or_the_audio_and_a_second_in_whole_seconds():
    assert audio_window(padded(234), 2000).shape == (80, 2000)
    assert audio_window(padded(234), 300).shape == (80, 400)  # 234 frames + 100 of margin, rounded up
    assert audio_window(padded(1950), 1500).shape == (80, 2100)
    assert audio_window(padded(0), 500).shape == (80, 500)
    assert audio_window(padded(234), 1234).shape == (80, 1300)  # a window of 12.34 s is encoded as 13 s


def test_a_column_of_silence_inside_the_audio_is_not_taken_for_padding():
    f = padded(1200)
    f[:, 1000:1150] = 0.0  # real audio can be quiet; only the zeros after the last sound are padding
    assert audio_window(f, 200).shape == (80, 1300)


def test_a_window_that_would_not_be_shorter_leaves_the_features_as_they_are():
    f = padded(2950)
    assert audio_window(f, 2000) is f
    f3 = padded(100)[None]  # a batch of one, as faster-whisper's batched path passes
    assert audio_window(f3, 2000).shape == (1, 80, 2000)


@pytest.fixture(scope="module")
def jfk_phrases() -> list[np.ndarray]:
    """JFK cut as the server cuts it, after half a second of silence."""
    audio = decode_file(str(JFK))
    stream = np.concatenate([np.zeros(SAMPLE_RATE // 2, dtype=np.float32), audio, np.zeros(SAMPLE_RATE, dtype=np.float32)])
    seg = Segmenter(StreamingVad())
    out = [ev.audio for i in range(0, len(stream), 1024) for ev in seg.feed(stream[i : i + 1024]) if isinstance(ev, Phrase)]
    assert len(out) >= 3, "JFK is spoken in pauses"
    return out


def loaded(window: float) -> LocalWhisper:
    m = LocalWhisper(Settings(cpu_threads=1, device="cpu", encoder_window=window))
    m.load_blocking()
    return m


def spy_frames(model: LocalWhisper, monkeypatch) -> list[int]:
    """The number of frames each encoder call is given."""
    seen: list[int] = []
    inner = model._model.encode

    def encode(features):
        out = inner(features)
        seen.append(int(out.shape[1]) * 2)  # the encoder halves the frames (its second convolution's stride)
        return out

    monkeypatch.setattr(model._model, "encode", encode)
    return seen


def test_a_phrase_is_encoded_in_the_shorter_window_with_the_words_of_the_whole_one(jfk_phrases, monkeypatch):
    whole, short = loaded(30.0), loaded(20.0)
    seen_whole, seen_short = spy_frames(whole, monkeypatch), spy_frames(short, monkeypatch)
    for audio in jfk_phrases[1:]:
        assert normalise(short.decode(audio).text) == normalise(whole.decode(audio).text)
    assert seen_whole and set(seen_whole) == {WHOLE_WINDOW}
    assert seen_short and set(seen_short) == {2000}


def test_a_loop_in_a_short_window_is_decoded_again_in_the_whole_one(jfk_phrases, monkeypatch, caplog):
    """tiny.en repeats itself on a 2.3 s phrase in a 4 s window: the checks catch it and the whole window decides."""
    model = loaded(4.0)
    seen = spy_frames(model, monkeypatch)
    with caplog.at_level(logging.INFO, logger="stt_dictation.server.transcriber"):
        text = model.decode(jfk_phrases[0]).text
    assert seen[0] == 400 and WHOLE_WINDOW in seen[1:], seen
    assert "failed the checks" in caplog.text
    words = normalise(text)
    assert words.count("americans") == 1, text
    assert "fellow americans" in " ".join(words), text



def test_nothing_heard_in_the_short_window_is_decoded_again_in_the_whole_one(jfk_phrases, monkeypatch):
    """An empty transcript is not trusted from a cut window: the VAD sent the phrase because it heard speech.
    (Real audio gave no empty decode to test with; the short window's answer is made empty here.)"""
    model = loaded(20.0)
    windows = []
    real = model._run

    def run(audio, prompt, prefix, window, **extra):
        windows.append(window)
        return [] if window is not None else real(audio, prompt, prefix, window, **extra)

    monkeypatch.setattr(model, "_run", run)
    text = model.decode(jfk_phrases[1]).text
    assert windows == [2000, None] and "ask not" in text.lower(), (windows, text)
