"""Word error rate of live dictation, local and remote, against offline transcription.

One playback of the 30 recordings is heard at once by three servers recording from
the same virtual microphone: the local model, a real wyoming-faster-whisper and a
real faster-whisper-server. The same speech, the same segmentation, three backends.
"""

from __future__ import annotations

import json
import sys
import wave

import numpy as np
import pytest

from stt_dictation.server.joiner import _NO_SPACE_BEFORE
from tests.support.dictation import audio_env, finish, history, start_recording
from tests.support.speech import clips, wer
from tests.support.speech_servers import free_port, start_wyoming, wait_wyoming


WER_TOLERANCE = 0.02
"""Most a backend's live WER may exceed the offline decode's."""


def concat(paths, out, gap_s: float) -> None:
    """Write the clips one after another with silence between."""
    frames = []
    gap = np.zeros(int(16000 * gap_s), dtype=np.int16)
    for p in paths:
        with wave.open(str(p)) as w:
            assert w.getframerate() == 16000 and w.getnchannels() == 1
            frames += [np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16), gap]
    with wave.open(str(out), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(np.concatenate(frames).tobytes())


@pytest.fixture(scope="module")
def wyoming_tcp(tmp_path_factory):
    d = tmp_path_factory.mktemp("wy-e2e")
    uri = f"tcp://127.0.0.1:{free_port()}"
    srv = start_wyoming(uri, d, d / "server.log")
    try:
        wait_wyoming(srv, uri)
        yield uri
    finally:
        srv.kill()


def running(pieces) -> str:
    """Phrases as one text, the way the typist joins them: a space between two, none before one that
    starts with punctuation (the mark a led decode put after the phrase before: ", on the whole";
    a model's "...and which")."""
    out = ""
    for piece in (p.strip() for p in pieces):
        if piece:
            out += piece if out and piece[0] in _NO_SPACE_BEFORE else (" " if out else "") + piece
    return out


def live_text(srv) -> str:
    """What the stdout backend wrote, a line a phrase."""
    return running(srv.stdout().splitlines())


def test_live_word_error_rate_local_and_remote(sttd_factory, mic, tmp_path, wyoming_tcp, openai_server):
    items = clips()
    assert len(items) == 30
    long_wav = tmp_path / "all.wav"
    concat([c.path for c in items], long_wav, gap_s=1.2)
    env = audio_env(mic)
    servers = {
        "local": sttd_factory(injector="stdout", env=env, wait="idle"),
        "wyoming": sttd_factory("--remote", wyoming_tcp, injector="stdout", env=env, wait="idle"),
        "openai": sttd_factory("--remote", openai_server, injector="stdout", env=env, wait="idle"),
    }
    assert json.loads(servers["wyoming"].client("status", "--json").stdout)["backend"] == wyoming_tcp
    for srv in servers.values():
        start_recording(srv)
    mic.play(long_wav)
    mic.play_silence(1.5)
    for srv in servers.values():
        finish(srv, timeout=60)
    offline = servers["local"].client("transcribe", "--json", *[str(c.path) for c in items], timeout=300)
    assert offline.returncode == 0, offline.stderr
    reference = " ".join(c.reference for c in items)
    offline_wer = wer([reference], [" ".join(f["text"] for f in json.loads(offline.stdout))])
    got = {name: wer([reference], [live_text(srv)]) for name, srv in servers.items()}
    print(f"offline {offline_wer:.2%}; live " + ", ".join(f"{k} {v:.2%}" for k, v in got.items()), file=sys.stderr)
    assert offline_wer < 0.12
    # Every backend's live text against the same offline decode, the one reference that does not
    # move: two points, not one: each server cuts its own stream, and the block phase alone moves
    # this corpus's WER by 0.6 points; on identical cuts wyoming-faster-whisper's own decode options
    # (timestamps, temperature fallback) came out 0.2 to 1.5 points worse than ours. Not against the
    # local live text: its led decode (which no remote API offers) has put it 1.3 points below
    # offline in one run, and a remote backend 2.1 points above it while 0.8 above offline.
    # A lost or doubled phrase is caught exactly by the history checks below, not by WER.
    for name in ("local", "wyoming", "openai"):
        assert got[name] <= offline_wer + WER_TOLERANCE, name
    for name, srv in servers.items():
        # Every typed phrase is in the history in order; nothing is left in the spool.
        entries = history(srv, 500)
        typed = [e["text"] for e in entries if e["status"] == "typed"]
        assert running(typed) == live_text(srv), name
        # Phrase numbers are contiguous and every phrase was typed (or judged silence, with its reason).
        seqs = [e["seq"] for e in entries]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), name
        assert all(e["status"] == "typed" or (e["status"] in ("empty", "filtered") and e["audio_seconds"] < 2.0) for e in entries), name
        assert not list((srv.root / "state" / "spool").glob("*.wav")), name
