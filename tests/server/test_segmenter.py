"""The streaming VAD and the phrase segmenter, on real speech from the evaluation set."""

import numpy as np
import pytest

from stt_dictation.server.segmenter import Phrase, Retract, Segmenter, Speculate, StreamingVad
from stt_dictation.server.wav import SAMPLE_RATE
from tests.support.speech import SPEECH_DIR

faster_whisper = pytest.importorskip("faster_whisper")


@pytest.fixture(scope="module")
def jfk() -> np.ndarray:
    return faster_whisper.decode_audio(str(SPEECH_DIR / "jfk_jfk.wav"))


def feed_all(seg: Segmenter, audio: np.ndarray, block: int = 512) -> list:
    events = []
    for i in range(0, audio.size, block):
        events += seg.feed(audio[i : i + block])
    return events + seg.flush()


def test_streaming_vad_matches_offline_vad(jfk):
    from faster_whisper.vad import get_vad_model

    offline = get_vad_model()(np.pad(jfk, (0, 512 - jfk.size % 512))).reshape(-1)
    vad = StreamingVad()
    # Odd block sizes: windows straddle feeds, the context must carry over.
    online = np.concatenate([vad.feed(jfk[i : i + 700]) for i in range(0, jfk.size, 700)])
    assert online.size == jfk.size // 512
    np.testing.assert_allclose(online, offline[: online.size], atol=1e-5)


def test_phrases_cut_at_pauses_cover_all_speech(jfk):
    seg = Segmenter(StreamingVad(), pause=0.5)
    phrases = [e for e in feed_all(seg, jfk) if isinstance(e, Phrase)]
    assert 2 <= len(phrases) <= 6
    ends = [p.speech_end / SAMPLE_RATE for p in phrases]
    assert ends == sorted(ends)
    # The clip's speech ends near 10.5 s: the last phrase must reach it.
    assert ends[-1] > 10.0
    assert all(p.audio.size <= 12.5 * SAMPLE_RATE for p in phrases)
    assert sum(p.speech_seconds for p in phrases) > 6.0


def test_speculation_offers_the_exact_final_audio(jfk):
    seg = Segmenter(StreamingVad(), pause=0.5, speculate_after=0.15)
    events = feed_all(seg, jfk)
    last_spec: dict[int, np.ndarray] = {}
    checked = 0
    for ev in events:
        if isinstance(ev, Speculate):
            last_spec[ev.pid] = ev.audio
        elif isinstance(ev, Retract):
            last_spec.pop(ev.pid, None)
        elif isinstance(ev, Phrase) and ev.speculated:
            np.testing.assert_array_equal(last_spec[ev.pid], ev.audio)
            checked += 1
    assert checked >= 2


def test_a_longer_pause_setting_gives_fewer_phrases(jfk):
    short = [e for e in feed_all(Segmenter(StreamingVad(), pause=0.3), jfk) if isinstance(e, Phrase)]
    long = [e for e in feed_all(Segmenter(StreamingVad(), pause=2.0), jfk) if isinstance(e, Phrase)]
    assert len(long) < len(short)


def test_max_phrase_cuts_long_speech(jfk):
    seg = Segmenter(StreamingVad(), pause=3.0, max_phrase=4.0)
    phrases = [e for e in feed_all(seg, jfk) if isinstance(e, Phrase)]
    assert len(phrases) >= 3
    assert all(p.audio.size <= 4.5 * SAMPLE_RATE for p in phrases)
    # Cutting loses nothing: consecutive phrases abut.
    total = sum(p.audio.size for p in phrases)
    assert total >= 0.85 * jfk.size - 0.3 * SAMPLE_RATE


def test_silence_and_noise_make_no_phrase():
    rng = np.random.default_rng(1)
    silence = np.zeros(5 * SAMPLE_RATE, dtype=np.float32)
    noise = (rng.standard_normal(5 * SAMPLE_RATE) * 0.05).astype(np.float32)
    for audio in (silence, noise):
        events = feed_all(Segmenter(StreamingVad()), audio)
        assert not [e for e in events if isinstance(e, Phrase)]


def test_flush_ends_speech_in_progress(jfk):
    seg = Segmenter(StreamingVad(), pause=0.5)
    events = []
    for i in range(0, 2 * SAMPLE_RATE, 512):  # stop mid-sentence
        events += seg.feed(jfk[i : i + 512])
    assert seg.in_phrase
    tail = seg.flush()
    assert len(tail) == 1 and isinstance(tail[0], Phrase)
    assert tail[0].audio.size > SAMPLE_RATE
    assert seg.flush() == []
