"""Typing for real: into an xterm under Xvfb, in spoken order, exactly once (issue: type it, in order, once)."""

from __future__ import annotations

import asyncio
import json
import os
import time

from stt_dictation.server.injector import XdotoolInjector
from tests.support.dictation import JFK, SHORT, audio_env, dictate, finish, history, start_recording, status
from tests.support.speech import normalise
from tests.support.wait import wait_until



def expected_typing(entries: list[dict]) -> str:
    """What the keyboard should have produced in one window: phrases joined by one space, also across
    recordings (leading_space = "auto": the last recording typed into the same window)."""
    out, last_rec = [], None
    for e in sorted(entries, key=lambda e: e["seq"]):
        if e["status"] != "typed":
            continue
        out.append((" " if last_rec is not None else "") + e["text"])
        last_rec = e["recording"]
    return "".join(out)


def test_dictation_is_typed_into_the_focused_window(sttd_factory, mic, display):
    win = display.open_capture_window()
    srv = sttd_factory(injector="xdotool", env=audio_env(mic, display), wait="idle")
    assert json.loads(srv.client("status", "--json").stdout)["injector"] == "xdotool"
    dictate(srv, mic, JFK)
    typed = win.settle(quiet=0.5, timeout=10)
    entries = history(srv)
    assert typed == expected_typing(entries)
    words = " ".join(normalise(typed))  # not "ask not": tiny.en live sometimes hears "asked not" (WER is the accuracy test's)
    assert "what your country can do for you" in words and "what you can do for your country" in words, typed
    assert all(e["typed_at"] >= e["transcribed_at"] >= e["speech_end"] for e in entries if e["status"] == "typed")
    win.close()


def test_unicode_arrives_intact_through_xdotool(display):
    """Accented letters, dashes and quotes, each text with characters the keymap has never seen."""
    win = display.open_capture_window()
    texts = [
        "Café naïve résumé — déjà vu, Zoë’s “quotes” and ASCII after it.",
        " Ångström, Ørsted and the Æsir… ",
        "Łódź: żółć – ĳ ŋ ħ, then plain words again",
    ]
    env = audio_env(display)

    async def go():
        old = dict(os.environ)
        os.environ.update(env)
        try:
            for text in texts:
                await XdotoolInjector().type(text)
        finally:
            os.environ.clear()
            os.environ.update(old)

    asyncio.run(asyncio.wait_for(go(), 30))
    want = "".join(texts)
    assert win.wait_for(want, timeout=10) == want
    win.close()


def test_replacements_and_unicode_through_the_server(sttd_factory, mic, display, tmp_path):
    cfg = tmp_path / "config.toml"
    cfg.write_text('replacements = { "americans" = "Américains —", "country" = "pays" }\n')
    win = display.open_capture_window()
    srv = sttd_factory("--config", str(cfg), injector="xdotool", env=audio_env(mic, display), wait="idle")
    dictate(srv, mic, JFK)
    typed = win.settle(quiet=0.5, timeout=10)
    assert "Américains —" in typed and "pays" in typed and "country" not in typed.lower()
    assert typed == expected_typing(history(srv))
    win.close()


def test_out_of_order_transcriptions_are_typed_in_spoken_order(sttd_factory, mic):
    # Phrase 1's result is held back 5 s, so later phrases (the next ends ~2 s later) finish first.
    # No context: phrase 2 would wait (bounded) for phrase 1's text before decoding.
    env = {**audio_env(mic), "STT_TEST_TRANSCRIBE_DELAYS": json.dumps({"1": 5.0}), "STT_CONTEXT_CHARS": "0"}
    srv = sttd_factory(injector="stdout", env=env, wait="idle")
    dictate(srv, mic, JFK)
    entries = sorted(history(srv), key=lambda e: e["seq"])
    typed = [e for e in entries if e["status"] == "typed"]
    assert len(typed) >= 3, entries
    assert typed[0]["seq"] == 1
    # The reorder buffer was exercised: phrase 2 was ready before phrase 1 ...
    assert entries[1]["transcribed_at"] < entries[0]["transcribed_at"]
    # ... yet typing followed spoken order, each phrase once.
    assert [e["typed_at"] for e in typed] == sorted(e["typed_at"] for e in typed)
    assert srv.stdout().splitlines() == [e["text"] for e in typed]


def test_back_to_back_recordings_are_typed_one_after_the_other(sttd_factory, mic, display):
    win = display.open_capture_window()
    # The first recording's last phrase (4 for this clip) is slow; the second recording's must wait.
    env = {**audio_env(mic, display), "STT_TEST_TRANSCRIBE_DELAYS": json.dumps({"4": 3.0})}
    srv = sttd_factory(injector="xdotool", env=env, wait="idle")
    start_recording(srv)
    mic.play(JFK)
    mic.play_silence(0.8)
    assert srv.client("stop").returncode == 0
    start_recording(srv)
    mic.play(SHORT)
    mic.play_silence(0.8)
    finish(srv)
    typed = win.settle(quiet=0.5, timeout=15)
    entries = sorted(history(srv), key=lambda e: e["seq"])
    recs = sorted({e["recording"] for e in entries})
    assert len(recs) == 2, entries
    first = [e for e in entries if e["recording"] == recs[0] and e["status"] == "typed"]
    second = [e for e in entries if e["recording"] == recs[1] and e["status"] == "typed"]
    assert first and second
    assert max(e["typed_at"] for e in first) <= min(e["typed_at"] for e in second)
    assert typed == expected_typing(entries)
    assert "glad to see you" in " ".join(normalise(typed.split("country")[-1]))
    win.close()


def test_missing_xdotool_keeps_text_in_history_and_nothing_is_retyped_later(sttd_factory, mic, display, tmp_path):
    win = display.open_capture_window()
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    state = tmp_path / "state-root"
    # A missing tool is visible before anyone speaks: state error, naming it.
    srv = sttd_factory(injector="xdotool", env={**audio_env(mic, display), "PATH": str(empty_bin)}, state_root=state, wait="error")
    st = status(srv)
    assert "xdotool" in (st["error"] or "")
    dictate(srv, mic, SHORT)
    failed = [e for e in history(srv) if e["status"] == "failed"]
    assert failed and "glad" in failed[0]["text"].lower()
    assert "xdotool" in failed[0]["note"]
    assert status(srv)["state"] == "error" and "xdotool" in status(srv)["error"]
    assert win.read() == ""
    srv.client("shutdown")
    assert srv.wait_exit(5) == 0
    # The tool is back: new speech is typed, the failed phrase is not replayed.
    again = sttd_factory(injector="xdotool", env=audio_env(mic, display), state_root=state, wait="idle")
    dictate(again, mic, JFK)
    typed = win.settle(quiet=0.5, timeout=10)
    assert "glad" not in typed.lower() and "country" in typed.lower()
    win.close()


def test_kill_9_during_typing_then_restart_types_nothing_again(sttd_factory, mic, tmp_path):
    state = tmp_path / "state-root"
    # Each typing call waits 30 s after the phrase is marked `typing`: kill it there.
    env = {**audio_env(mic), "STT_TEST_INJECT_DELAY": "30"}
    srv = sttd_factory(injector="stdout", env=env, state_root=state, wait="idle")
    start_recording(srv)
    mic.play(SHORT)
    mic.play_silence(1.0)
    wait_until(lambda: any(e["status"] == "typing" for e in history(srv)), 15.0, what="a phrase being typed")
    srv.kill()
    again = sttd_factory(injector="stdout", env=audio_env(mic), state_root=state, wait="idle")
    time.sleep(1.0)
    assert again.stdout() == ""
    entries = history(again)
    assert [e["status"] for e in entries] == ["interrupted"]
    assert "glad" in entries[0]["text"].lower()


def test_focus_moved_mid_dictation_holds_text_and_paste_types_it(sttd_factory, mic, display):
    first = display.open_capture_window()
    second = display.open_capture_window(focus=False)
    first.focus()
    srv = sttd_factory(injector="xdotool", env=audio_env(mic, display), wait="idle")
    start_recording(srv)
    player = mic.play(JFK, wait=False)
    # Switch once the first phrase is fully typed: a switch in the middle of one
    # xdotool call cannot be undone by anyone (the guard checks between chunks).
    wait_until(lambda: any(e["status"] == "typed" for e in history(srv)), 12.0, what="the first phrase typed")
    second.focus()
    player.wait(timeout=20)
    mic.play_silence(1.0)
    finish(srv)
    entries = history(srv)
    held = [e for e in entries if e["status"] == "held"]
    assert held, entries
    assert second.read() == ""  # never into the window that took focus
    assert first.read() == expected_typing(entries)
    assert status(srv)["held"] == len(held)
    # `stt paste` types the held text where focus is now.
    assert srv.client("paste").returncode == 0
    pasted = second.settle(quiet=0.5, timeout=10)
    assert pasted == " ".join(e["text"] for e in sorted(held, key=lambda e: e["seq"]))
    first.close()
    second.close()


def test_focus_guard_off_types_wherever_focus_is(sttd_factory, mic, display):
    first = display.open_capture_window()
    second = display.open_capture_window(focus=False)
    first.focus()
    srv = sttd_factory("--no-focus-guard", injector="xdotool", env=audio_env(mic, display), wait="idle")
    start_recording(srv)
    second.focus()
    mic.play(SHORT)
    mic.play_silence(1.0)
    finish(srv)
    assert "glad" in second.settle(quiet=0.5, timeout=10).lower()
    assert not [e for e in history(srv) if e["status"] == "held"]
    first.close()
    second.close()
