"""Vocabulary: rare words in the config reach faster-whisper as hotwords, so tiny.en spells them right.

The clips are spoken by espeak-ng (no real clip in the eval set says these words)
and resampled to 16 kHz mono with sox; tiny.en mishears each without the list.
"""

from __future__ import annotations

import subprocess

import pytest

from stt_dictation.server.settings import Settings
from stt_dictation.server.transcript import Lead
from stt_dictation.server.transcriber import LocalWhisper
from stt_dictation.server.wav import decode_file

SAID = {
    "Kubernetes": "We run the cluster on Kubernetes every day.",
    "Grafana": "Open the Grafana dashboard please.",
}
VOCABULARY = ["Kubernetes", "PostgreSQL", "Grafana", "Nginx"]


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    out = {}
    d = tmp_path_factory.mktemp("espeak")
    for term, sentence in SAID.items():
        raw, wav = d / f"{term}-raw.wav", d / f"{term}.wav"
        subprocess.run(["espeak-ng", "-w", str(raw), sentence], check=True, timeout=30, capture_output=True)
        subprocess.run(["sox", str(raw), "-r", "16000", "-c", "1", str(wav)], check=True, timeout=30, capture_output=True)
        out[term] = decode_file(str(wav))
    return out


def _model(**settings) -> LocalWhisper:
    m = LocalWhisper(Settings(cpu_threads=1, device="cpu", **settings))
    m.load_blocking()
    return m


def test_a_rare_term_is_right_with_the_vocabulary_and_wrong_without(clips):
    plain, taught = _model(), _model(vocabulary=VOCABULARY)
    for term, audio in clips.items():
        assert term not in plain.decode(audio).text, term  # the clip is a real test: tiny.en alone mishears it
        assert term in taught.decode(audio).text, term


def test_the_context_prompt_reaches_the_model():
    m = _model()
    opts = m._options("And so my fellow Americans,")
    assert opts["initial_prompt"] == "And so my fellow Americans," and opts["hotwords"] is None
    with_config = LocalWhisper(Settings(initial_prompt="A speech.", vocabulary=["Grafana"]))._options("ask not")
    assert with_config["initial_prompt"] == "A speech. ask not" and with_config["hotwords"] == "Grafana"


def test_the_vocabulary_still_counts_in_a_led_decode(clips):
    """faster-whisper drops hotwords when a prefix is forced: the vocabulary goes into the prompt instead."""
    taught = _model(vocabulary=VOCABULARY)
    lead = Lead(1, clips["Grafana"], "Open the Grafana dashboard please")
    out = taught.decode(clips["Kubernetes"], None, lead)
    assert out.after_lead and "Kubernetes" in out.text and "Grafana" not in out.text, out.text
    assert taught._options(None, "a prefix")["hotwords"] is None
    assert "Kubernetes" in (taught._options(None, "a prefix")["initial_prompt"] or "")
