"""Text clean-up and backend choice."""

import pytest

from stt_dictation.server.injector import BACKENDS, NullInjector, XdotoolInjector, choose, clean


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("  hello   world ", "hello world"),
        ("line one\nline two\r\n", "line one line two"),
        ("tab\there", "tab here"),
        ("red \x1b[31mtext\x1b[0m end", "red text end"),
        ("bell\x07 and nul\x00", "bell and nul"),
        ("café — naïve", "café — naïve"),
        ("a\u2028b", "a b"),
    ],
)
def test_clean_strips_controls_and_keeps_unicode(raw, expected):
    assert clean(raw) == expected


def test_clean_never_leaves_a_newline_or_escape():
    out = clean("x\n\x1b]0;title\x07y\x1bcz\x7f")
    assert "\n" not in out and "\x1b" not in out and "\x7f" not in out


def test_replacements_apply_to_whole_words_case_insensitively():
    assert clean("New line please, comma here", {"comma": ",", "new line": "⏎"}) == "⏎ please, , here"
    assert clean("commander", {"comma": ","}) == "commander"


def test_xdotool_delay_ascii_fast_and_a_fixed_delay_wins(monkeypatch):
    import asyncio

    assert asyncio.run(XdotoolInjector().delay_for("plain ascii, ok")) == XdotoolInjector.FAST_DELAY_MS
    assert asyncio.run(XdotoolInjector(delay_ms=7).delay_for("café")) == 7
    monkeypatch.setenv("DISPLAY", ":987654")  # no such display: the keymap cannot be extended
    assert asyncio.run(XdotoolInjector().delay_for("café")) == XdotoolInjector.SAFE_DELAY_MS


def test_auto_choice_follows_the_session(monkeypatch):
    assert isinstance(choose("auto", environ={}), NullInjector)
    x11 = choose("auto", environ={"DISPLAY": ":9"})
    assert x11.name == "xdotool"
    assert set(BACKENDS) == {"xdotool", "wtype", "mutter", "dotool", "ydotool", "clipboard", "stdout", "none"}


def test_xdotool_reports_a_missing_tool(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setenv("DISPLAY", ":9")
    assert "xdotool" in (XdotoolInjector().problem() or "")


@pytest.mark.parametrize(
    "replacements, raw, expected",
    [
        ({"zz": "\\"}, "a zz b", "a \\ b"),
        ({"users": "C:\\Users"}, "open users now", "open C:\\Users now"),
        ({"bell": "\\a"}, "ring bell", "ring \\a"),  # two characters, never BEL
        ({"group": "\\1 \\g<0>"}, "group", "\\1 \\g<0>"),  # no template references either
    ],
)
def test_replacements_are_literal_text(replacements, raw, expected):
    assert clean(raw, replacements) == expected


def test_control_characters_in_replacements_are_stripped_too():
    out = clean("say esc and enter", {"esc": "\x1b[2J", "enter": "line\nbreak\x07"})
    assert "\x1b" not in out and "\n" not in out and "\x07" not in out
    assert out == "say and line break"  # the whole escape sequence goes, not just ESC
