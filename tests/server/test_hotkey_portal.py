"""The Wayland hotkey through the GlobalShortcuts portal (server/hotkey_portal.py), against a stand-in
portal on a private session bus (tests/support/portal.py): binding, Activated/Deactivated, fallbacks."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil

import pytest

from stt_dictation.server import hotkey_portal
from stt_dictation.server.hotkey import parse_chord
from stt_dictation.server.hotkey_evdev import EvdevHotkey
from stt_dictation.server.hotkey_listen import start_hotkey, stop_hotkey
from stt_dictation.server.hotkey_portal import PortalHotkey, xdg_trigger
from stt_dictation.server.settings import Settings
from tests.support.portal import Portal
from tests.support.sni import SessionBus

pytestmark = pytest.mark.skipif(not shutil.which("dbus-daemon"), reason="dbus-daemon missing: run scripts/test")


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30.0))


def in_wayland(monkeypatch) -> None:
    """A Wayland session as sttd sees one: no DISPLAY, a WAYLAND_DISPLAY."""
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-stt-test")


def run_in_wayland(monkeypatch, tmp_path, scenario) -> None:
    """Run `scenario(bus)` in a Wayland session whose session bus is a private dbus-daemon."""
    in_wayland(monkeypatch)
    with SessionBus(tmp_path) as bus:
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", bus.address)
        run(scenario(bus))


async def until(pred, timeout: float = 5.0, what: str = "condition") -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not pred():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what} not within {timeout} s")
        await asyncio.sleep(0.02)


class Posted:
    """What the listener posts, in order, and a fallback that notes it was asked for."""

    def __init__(self) -> None:
        self.commands: list[str] = []
        self.fallbacks = 0

    def __call__(self, command: str, _pressed: float) -> None:
        self.commands.append(command)

    async def fallback(self) -> None:
        self.fallbacks += 1


async def _bound(address: str, posted: Posted, mode: str = "toggle", chord: str = "ctrl+alt+d") -> PortalHotkey:
    hk = PortalHotkey(parse_chord(chord, mode), mode, posted, address=address)  # type: ignore[arg-type]
    await hk.start()
    hk.bind_later(posted.fallback)
    await asyncio.wait_for(hk.bound.wait(), 10.0)
    return hk


@pytest.mark.parametrize(("chord", "trigger"), [("ctrl+alt+d", "CTRL+ALT+d"), ("super+grave", "LOGO+grave"), ("F9", "F9"), ("mod4+shift+D", "SHIFT+LOGO+d")])
def test_chords_in_the_shortcuts_spec_syntax(chord, trigger):
    assert xdg_trigger(parse_chord(chord)) == trigger


@pytest.mark.parametrize("early", [False, True], ids=["response-after-reply", "response-before-reply"])
def test_binds_dictate_with_the_chord_and_closes_the_session(tmp_path, caplog, early):
    caplog.set_level(logging.INFO)

    async def scenario(bus: SessionBus) -> None:
        async with Portal(bus.address, respond_early=early) as portal:
            posted = Posted()
            hk = await _bound(bus.address, posted, chord="super+F9")
            session, asked = await portal.wait_bound()
            assert asked == {"dictate": {"description": "Dictate (stt)", "preferred_trigger": "LOGO+F9"}}
            assert session == hk.session and session in portal.sessions and hk.version == 2
            assert posted.fallbacks == 0 and hk.fallback is None
            await stop_hotkey(hk)
            assert portal.closed == [session]  # the session ends with sttd, not left to the bus

    with SessionBus(tmp_path) as bus:
        run(scenario(bus))
    assert "hotkey super+F9 (toggle) through the GlobalShortcuts portal, bound as 'Press LOGO+F9'" in caplog.text


def test_activated_toggles_through_the_daemons_handler(tmp_path, monkeypatch, caplog):
    caplog.set_level(logging.INFO)
    handled: list[str] = []

    async def handle(cmd):
        handled.append(type(cmd).__name__)
        return "ok"

    async def scenario(bus: SessionBus) -> None:
        async with Portal(bus.address) as portal:
            hk = await start_hotkey(Settings(hotkey="ctrl+alt+d"), handle)
            assert isinstance(hk, PortalHotkey)
            await asyncio.wait_for(hk.bound.wait(), 10.0)
            portal.press()
            await until(lambda: handled == ["Toggle"], what="a toggle")
            portal.release()  # toggle acts on the press only
            portal.press("something-else")  # not our shortcut
            await portal.spoof(bus.address)  # not sent by the portal
            await asyncio.sleep(0.3)
            assert handled == ["Toggle"]
            portal.press()
            await until(lambda: handled == ["Toggle", "Toggle"], what="a second toggle")
            portal.close_session()
            await until(lambda: "closed the GlobalShortcuts session" in caplog.text, what="the Closed line")
            await stop_hotkey(hk)

    run_in_wayland(monkeypatch, tmp_path, scenario)


def test_push_to_talk_starts_on_activated_and_stops_on_deactivated(tmp_path):
    async def scenario(bus: SessionBus) -> None:
        async with Portal(bus.address) as portal:
            posted = Posted()
            hk = await _bound(bus.address, posted, mode="push-to-talk")
            portal.press()
            portal.press()  # a repeated activation while held starts nothing more
            await until(lambda: posted.commands == ["start"], what="start")
            portal.release()
            await until(lambda: posted.commands == ["start", "stop"], what="stop")
            portal.release()
            await asyncio.sleep(0.2)
            assert posted.commands == ["start", "stop"]
            await stop_hotkey(hk)

    with SessionBus(tmp_path) as bus:
        run(scenario(bus))


def portal_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if "evdev" in r.getMessage() and ("trying" in r.getMessage() or "falling back" in r.getMessage())]


@pytest.mark.parametrize(
    ("portal", "mode", "why"),
    [
        (None, "toggle", "no GlobalShortcuts portal on the session bus"),
        ({"shortcuts": False}, "toggle", "no GlobalShortcuts portal on the session bus"),
        ({"create_code": 1}, "toggle", "the portal answered CreateSession with 1 (cancelled by the user)"),
        ({}, "double-tap", "double-tap needs a lone modifier's taps"),
    ],
    ids=["no-portal", "no-global-shortcuts", "create-refused", "double-tap"],
)
def test_no_portal_session_falls_back_to_evdev_with_one_line(tmp_path, monkeypatch, caplog, portal, mode, why):
    caplog.set_level(logging.INFO)
    keyboard = tmp_path / "keyboard"
    os.mkfifo(keyboard)

    async def handle(_cmd):
        raise AssertionError("no command without a key")

    async def scenario(bus: SessionBus) -> None:
        settings = Settings(hotkey="alt_l" if mode == "double-tap" else "ctrl+alt+d", hotkey_mode=mode, hotkey_device=str(keyboard))
        if portal is None:
            hk = await start_hotkey(settings, handle)
        else:
            async with Portal(bus.address, **portal) as stand_in:
                hk = await start_hotkey(settings, handle)
                assert stand_in.binds == []
                assert mode != "double-tap" or not stand_in.sessions  # not even asked
        assert isinstance(hk, EvdevHotkey)
        await stop_hotkey(hk)

    run_in_wayland(monkeypatch, tmp_path, scenario)
    lines = portal_lines(caplog)
    assert len(lines) == 1 and why in lines[0], lines
    assert "on 1 evdev device" in caplog.text


def test_no_session_bus_at_all_falls_back(tmp_path, monkeypatch, caplog):
    caplog.set_level(logging.INFO)
    keyboard = tmp_path / "keyboard"
    os.mkfifo(keyboard)
    in_wayland(monkeypatch)
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path / 'no-bus'}")

    async def scenario() -> None:
        hk = await start_hotkey(Settings(hotkey="ctrl+alt+d", hotkey_device=str(keyboard)), None)  # type: ignore[arg-type]
        assert isinstance(hk, EvdevHotkey)
        await stop_hotkey(hk)

    run(scenario())
    lines = portal_lines(caplog)
    assert len(lines) == 1 and "no session bus for the GlobalShortcuts portal" in lines[0], lines


@pytest.mark.parametrize(
    ("portal", "why"),
    [({"bind_code": 2}, "answered BindShortcuts with 2 (ended by the portal)"), ({"bind_nothing": True}, "the portal bound no shortcut"),
     ({"bind_silent": True}, "did not answer BindShortcuts within")],  # fmt: skip
    ids=["refused", "nothing-bound", "no-answer"],
)
def test_a_refused_binding_falls_back_to_evdev_with_one_line(tmp_path, monkeypatch, caplog, portal, why):
    caplog.set_level(logging.INFO)
    monkeypatch.setattr(hotkey_portal, "BIND_TIMEOUT", 0.5)

    async def scenario(bus: SessionBus) -> None:
        async with Portal(bus.address, **portal) as stand_in:
            posted = Posted()
            hk = await _bound(bus.address, posted)
            assert posted.fallbacks == 1 and hk.bus is None
            assert len(stand_in.binds) == 1
            stand_in.press(session=hk.session)  # even if the portal fires it now, the closed session is deaf
            await asyncio.sleep(0.2)
            assert posted.commands == []
            await stop_hotkey(hk)

    with SessionBus(tmp_path) as bus:
        run(scenario(bus))
    lines = [r.getMessage() for r in caplog.records if "falling back to evdev" in r.getMessage()]
    assert len(lines) == 1 and why in lines[0], lines


def test_the_bus_going_away_costs_the_key_not_the_server(tmp_path, caplog):
    caplog.set_level(logging.INFO)

    async def scenario(bus: SessionBus) -> None:
        async with Portal(bus.address) as portal:
            posted = Posted()
            hk = await _bound(bus.address, posted, mode="push-to-talk")
            portal.press()
            await until(lambda: posted.commands == ["start"], what="start")
            await asyncio.to_thread(bus.process.stop)
            await until(lambda: hk.bus is None, what="the bus seen gone")
            assert posted.commands == ["start", "stop"]  # held when the bus went: no Deactivated will come
            await stop_hotkey(hk)  # closing after is quiet

    with SessionBus(tmp_path) as bus:
        run(scenario(bus))
    assert "the session bus went away; the portal hotkey is off" in caplog.text


def test_the_bus_going_away_while_binding_falls_back_at_once(tmp_path, caplog):
    caplog.set_level(logging.INFO)

    async def scenario(bus: SessionBus) -> None:
        async with Portal(bus.address, bind_silent=True) as portal:
            posted = Posted()
            hk = PortalHotkey(parse_chord("ctrl+alt+d"), "toggle", posted, address=bus.address)
            await hk.start()
            hk.bind_later(posted.fallback)
            await portal.wait_bound()
            await asyncio.to_thread(bus.process.stop)
            await asyncio.wait_for(hk.bound.wait(), 5.0)  # not BIND_TIMEOUT (60 s)
            assert posted.fallbacks == 1
            await stop_hotkey(hk)

    with SessionBus(tmp_path) as bus:
        run(scenario(bus))
    assert "the session bus went away; falling back to evdev" in caplog.text
