"""hotkey_listen: X11 in an X session, evdev on Wayland or without a display; off, or a chord it cannot parse, is None."""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace

import pytest

from stt_dictation.protocol.commands import Start, Stop, Toggle
from stt_dictation.server.hotkey_listen import COMMANDS, backend, start_hotkey


@pytest.mark.parametrize(
    "env, expected",
    [
        ({"DISPLAY": ":0"}, "x11"),
        ({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"}, "evdev"),  # Xwayland: an X grab only sees X windows
        ({"WAYLAND_DISPLAY": "wayland-0"}, "evdev"),
        ({}, "evdev"),
        ({"DISPLAY": ""}, "evdev"),
    ],
)
def test_backend_by_environment(env, expected):
    assert backend(env) == expected


def test_commands_map_to_the_protocol():
    assert {k: v().type for k, v in COMMANDS.items()} == {"toggle": Toggle().type, "start": Start().type, "stop": Stop().type}


async def _never(_command):
    raise AssertionError("no key was pressed")


def test_off_is_none():
    settings = SimpleNamespace(hotkey=None, hotkey_mode="toggle", hotkey_device=None)
    assert asyncio.run(start_hotkey(settings, _never)) is None


def test_a_chord_it_cannot_parse_is_logged_and_none(caplog):
    settings = SimpleNamespace(hotkey="ctrl+hyper+", hotkey_mode="toggle", hotkey_device=None)
    with caplog.at_level(logging.ERROR, logger="stt_dictation.server.hotkey_listen"):
        assert asyncio.run(start_hotkey(settings, _never)) is None
    assert any("expected keys joined by '+'" in r.getMessage() for r in caplog.records)
