"""inject_order: `auto`'s backends per desktop family, and which key backend presses the paste chord."""

from __future__ import annotations

import stat

import pytest

from stt_dictation.server.desktop import Desktop
from stt_dictation.server.inject_order import KEY_BACKENDS, ORDER, auto_order, key_presser


def _desk(family: str) -> Desktop:
    return Desktop("x11" if family == "x11" else "wayland", "", family, "test")


@pytest.mark.parametrize(
    "family, first",
    [("wlroots", "wtype"), ("gnome", "mutter"), ("kde", "dotool"), ("x11", "xdotool"), ("none", "none"), ("other", "wtype")],
)
def test_auto_order_per_family(family, first):
    assert auto_order(_desk(family))[0] == first


def test_an_unknown_family_tries_every_wayland_backend():
    assert auto_order(_desk("martian")) == ORDER["other"]
    assert set(ORDER["other"]) >= set(ORDER["wlroots"]) | set(ORDER["gnome"]) | set(ORDER["kde"])


def test_every_wayland_order_ends_with_the_clipboard():
    assert all(ORDER[f][-1] == "clipboard" for f in ("wlroots", "gnome", "kde", "other"))


def test_key_presser_is_the_first_usable_key_backend(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert key_presser(_desk("wlroots")).name == "wtype"  # nothing usable: the first candidate
    tool = tmp_path / "ydotool"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    from stt_dictation.server import desktop

    monkeypatch.setattr(desktop, "UINPUT", "/dev/null")
    assert key_presser(_desk("kde"), delay_ms=7).name == "ydotool"
    assert key_presser(_desk("kde"), delay_ms=7).delay_ms == 7
    assert key_presser(_desk("none")).name == "xdotool"  # no key backend in the order
    assert "clipboard" not in KEY_BACKENDS
