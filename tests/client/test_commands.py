"""client/commands: the waybar object per state, and the dispatcher that ends quietly on Ctrl-C or a closed pipe."""

from __future__ import annotations

import pytest

from stt_dictation.client import commands
from stt_dictation.protocol.wire import EXIT_OK

STATUS = {"state": "idle", "model": "tiny.en", "backend": "local", "injector": "xdotool", "pending": 0}


@pytest.mark.parametrize("state, text", [("loading", "⏳"), ("idle", "🎤"), ("recording", "🔴"), ("error", "⚠")])
def test_waybar_text_and_class_per_state(state, text):
    out = commands.waybar({**STATUS, "state": state})
    assert set(out) == {"text", "alt", "tooltip", "class"}
    assert (out["text"], out["alt"], out["class"]) == (text, state, state)


def test_waybar_tooltip_names_model_typing_pending_and_error():
    out = commands.waybar({**STATUS, "state": "error", "pending": 2, "error": "mic gone"})
    assert out["tooltip"].splitlines() == [
        "sttd error", "model tiny.en (local)", "typing via xdotool", "2 phrase(s) pending", "error: mic gone",
    ]  # fmt: skip


def test_an_unknown_state_is_shown_as_an_error():
    out = commands.waybar({"state": "dreaming"})
    assert (out["text"], out["class"]) == ("?", "error")


@pytest.mark.parametrize("exc", [KeyboardInterrupt, BrokenPipeError])
def test_run_ends_quietly_on_interrupt_and_closed_pipe(monkeypatch, exc):
    def boom(rest):
        raise exc

    monkeypatch.setitem(commands.HANDLERS, "tail", boom)
    assert commands.run("tail", []) == EXIT_OK


def test_run_dispatches_with_the_rest_of_the_arguments(monkeypatch):
    seen = []
    monkeypatch.setitem(commands.HANDLERS, "history", lambda rest: seen.append(rest) or 7)
    assert commands.run("history", ["-n", "3"]) == 7 and seen == [["-n", "3"]]
