"""Text as a person writes it, end to end: JFK's sentence, spoken with pauses, typed as one sentence."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.e2e.test_typing import expected_typing
from tests.support.dictation import JFK, audio_env, dictate, history, sox
from tests.support.speech import normalise


HEARD_FIRST = "and so my fellow americans"
"""JFK's first phrase. Through the virtual microphone tiny.en hears it as "And so am I fellow Americans?" in
about half the runs here (one block phase in sixteen offline): a question, whose mark the model then keeps."""


def test_the_jfk_sentence_is_typed_as_one_sentence(sttd_factory, mic, display):
    # The joining is under test, not recognition (WER is the accuracy test's): up to three dictations, each
    # into a new window of a new server, until the first phrase is heard as spoken; none: the test is skipped.
    misheard = []
    for _ in range(3):
        win = display.open_capture_window()
        srv = sttd_factory(injector="xdotool", env=audio_env(mic, display), wait="idle")
        dictate(srv, mic, JFK)
        typed = win.settle(quiet=0.5, timeout=15)
        raw = win.raw()
        entries = history(srv)
        win.close()
        first = [e["text"] for e in entries if e["status"] == "typed"][:1]
        if first and " ".join(normalise(first[0])).startswith(HEARD_FIRST):
            break
        misheard.append(typed)
        srv.process.stop()
    else:
        pytest.skip(f"tiny.en misheard the first phrase in all three dictations: {misheard}")
    words = " ".join(normalise(typed))
    assert "what your country can do for you" in words and "what you can do for your country" in words, typed
    assert len([e for e in entries if e["status"] == "typed"]) >= 2, entries  # it was spoken in phrases
    assert raw != typed, raw  # a pause's full stop was erased on the screen (BackSpace went through)
    body = typed.strip()
    assert body[:1].isupper() and body[-1] in ".!?", typed
    assert not re.search(r"[.!?]\s", body), f"more than one sentence: {typed!r}"
    assert "  " not in typed and not re.search(r"\s[,.!?;:]", typed), typed
    assert typed == expected_typing(entries), (raw, entries)  # the history holds what is on the screen


def test_xdotool_backspace_takes_back_characters_in_the_focused_window(display):
    """The key the typist amends and scratches with, on X11: BackSpace by its keysym (xdotool ignores 'Backspace')."""
    import asyncio
    import os

    from stt_dictation.server.injector import XdotoolInjector

    win = display.open_capture_window()

    async def go():
        old = dict(os.environ)
        os.environ.update(audio_env(display))
        try:
            kb = XdotoolInjector()
            await kb.type("Americans.")
            await kb.press("backspace")
            await kb.type(", ask not")
        finally:
            os.environ.clear()
            os.environ.update(old)

    asyncio.run(asyncio.wait_for(go(), 30))
    assert win.wait_for("ask not", timeout=10) == "Americans, ask not"
    assert win.raw() != win.read()  # the DEL reached the window
    win.close()


def test_a_rare_word_and_scratch_that_through_the_microphone(sttd_factory, mic, display, tmp_path):
    """End to end with `vocabulary` and `commands = true`: the rare word is spelt right, and a phrase
    followed by a spoken "scratch that" is erased from the window. flite's slt voice speaks (no real clip
    says these; tiny.en hears espeak-ng's "scratch that" as "scratch mat" once a vocabulary is set)."""
    parts = []
    for n, sentence in enumerate(["We run the cluster on Kubernetes every day.", "This part is wrong.", "Scratch that."]):
        raw, wav = tmp_path / f"{n}-raw.wav", tmp_path / f"{n}.wav"
        subprocess.run(["flite", "-voice", "slt", "-t", sentence, "-o", str(raw)], check=True, timeout=30, capture_output=True)
        sox(str(raw), "-r", "16000", "-c", "1", str(wav), "pad", "0.3", "1.2")  # a pause of its own after each
        parts.append(wav)
    win = display.open_capture_window()
    env = {**audio_env(mic, display), "STT_COMMANDS": "true", "STT_VOCABULARY": '["Kubernetes", "Grafana"]'}
    srv = sttd_factory(injector="xdotool", env=env, wait="idle")
    dictate(srv, mic, *parts)
    typed = win.settle(quiet=0.5, timeout=15)
    entries = history(srv)
    win.close()
    assert "Kubernetes" in typed, (typed, entries)  # tiny.en alone hears "Cabernet's"
    assert "wrong" not in typed.lower() and "scratch" not in typed.lower(), (typed, entries)
    assert typed.strip().startswith("We run the cluster on Kubernetes every day"), (typed, entries)
    assert any("scratch that" in (e.get("note") or "") for e in entries), entries  # the history says what was erased
