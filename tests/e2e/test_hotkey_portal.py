"""The Wayland hotkey through the GlobalShortcuts portal: a real sttd on a fake Wayland session binds its
shortcut with the stand-in portal (tests/support/portal.py), whose Activated signals start and stop a recording."""

from __future__ import annotations

import asyncio
import shutil
import time

import pytest

from tests.support.dictation import audio_env, status
from tests.support.portal import Portal
from tests.support.sni import SessionBus
from tests.support.wait import wait_until

pytestmark = pytest.mark.skipif(not shutil.which("dbus-daemon"), reason="dbus-daemon missing: run scripts/test")


async def _state(srv, want: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while (now := (await asyncio.to_thread(status, srv))["state"]) != want:
        if time.monotonic() > deadline:
            raise AssertionError(f"state {now!r}, not {want!r}, {timeout} s on")
        await asyncio.sleep(0.05)



@pytest.mark.parametrize("delay", [1.0, 0.05], ids=["dialog-1s", "answer-50ms"])  # 50 ms: the answer lands while PortAudio starts
def test_the_portals_shortcut_toggles_a_real_sttd(sttd_factory, mic, tmp_path, delay):
    async def scenario(bus: SessionBus) -> None:
        async with Portal(bus.address, response_delay=delay) as portal:
            env = {**audio_env(mic), "DISPLAY": None, "WAYLAND_DISPLAY": "wayland-none", "DBUS_SESSION_BUS_ADDRESS": bus.address, "STT_HOTKEY": "ctrl+alt+d"}
            srv = await asyncio.to_thread(sttd_factory, injector="none", env=env, wait="idle")
            _session, asked = await portal.wait_bound(20.0)
            assert asked == {"dictate": {"description": "Dictate (stt)", "preferred_trigger": "CTRL+ALT+d"}}
            await asyncio.to_thread(srv.wait_log, r"hotkey alt\+ctrl\+d \(toggle\) through the GlobalShortcuts portal")
            assert "evdev" not in srv.log()
            portal.press()
            portal.release()
            await _state(srv, "recording")
            inside = float((await asyncio.to_thread(srv.wait_log, r"hotkey toggle: recording \d+ in ([\d.]+) ms")).group(1))
            print(f"portal Activated -> recording (server) {inside:.1f} ms")
            portal.press()
            portal.release()
            await asyncio.to_thread(wait_until, lambda: srv.log().count("hotkey toggle: ") >= 2, 10.0, what="the second toggle's reply")
            assert (await asyncio.to_thread(status, srv))["state"] != "recording"
            assert (await asyncio.to_thread(srv.client, "shutdown")).returncode == 0
            assert await asyncio.to_thread(srv.wait_exit, 5) == 0
            assert portal.closed == list(portal.sessions)  # sttd closed its session on the way out

    with SessionBus(tmp_path) as bus:
        asyncio.run(asyncio.wait_for(scenario(bus), 120.0))
