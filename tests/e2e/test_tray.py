"""`stt tray` against a real sttd and the virtual microphone, read by a StatusNotifierWatcher stand-in (issue 14)."""

from __future__ import annotations

import asyncio
import shutil

import pytest

from tests.support.dictation import JFK, SHORT, audio_env
from tests.support.env import CLIENT_CMD, REPO, base_env
from tests.support.process import Process
from tests.support.sni import Panel, SessionBus

pytestmark = pytest.mark.skipif(not shutil.which("dbus-daemon"), reason="dbus-daemon missing: run scripts/test")


def test_tray_follows_start_stop_a_mic_fault_and_a_restart(sttd_factory, mic, tmp_path, socket_name):
    async def scenario(bus: SessionBus) -> None:
        srv = await asyncio.to_thread(sttd_factory, socket_name=socket_name, injector="stdout", env=audio_env(mic), wait="idle")
        env = base_env(socket_name, extra={"DBUS_SESSION_BUS_ADDRESS": bus.address})
        async with Panel(bus.address) as panel:
            with Process([*CLIENT_CMD, "tray"], tmp_path / "tray.log", env, REPO) as tray:
                name = await panel.wait_item()
                await panel.wait_props(name, lambda p: p["IconName"] == "audio-input-microphone", what="idle")

                # The menu's Start (a dbusmenu Event, as a panel sends it) starts a recording.
                await panel.click(name, "Start recording")
                p = await panel.wait_props(name, lambda p: p["IconName"] == "media-record", what="recording icon")
                assert p["Status"] == "NeedsAttention" and p["ToolTip"][3].startswith("recording")
                assert (await asyncio.to_thread(srv.status))["state"] == "recording"
                await asyncio.to_thread(mic.play, JFK)
                await asyncio.to_thread(mic.play_silence, 1.0)
                # The seconds tick while recording (about 12 s of audio have been played by now).
                p = await panel.props(name)
                assert int(p["ToolTip"][3].split()[1]) >= 5, p["ToolTip"]
                assert (await asyncio.to_thread(srv.client, "stop")).returncode == 0
                await panel.wait_props(name, lambda p: p["IconName"] in ("view-refresh", "audio-input-microphone"), what="stopped")
                await panel.wait_props(name, lambda p: p["IconName"] == "audio-input-microphone", timeout=60, what="idle after transcribing")
                menu = await panel.menu(name)
                assert any("country" in label.lower() for label in menu), menu.keys()

                # A microphone fault: error icon and its message in the tooltip.
                assert (await asyncio.to_thread(srv.client, "start")).returncode == 0
                await panel.wait_props(name, lambda p: p["IconName"] == "media-record", what="recording again")
                await asyncio.to_thread(mic.unload_source)
                try:
                    p = await panel.wait_props(name, lambda p: p["IconName"] == "dialog-error", what="error icon")
                    assert p["Status"] == "NeedsAttention" and p["ToolTip"][3], p
                    assert p["ToolTip"][3] == (await asyncio.to_thread(srv.status))["error"]
                finally:
                    await asyncio.to_thread(mic.reload_source)

                # sttd restarts: the tray shows it gone, then follows the new one.
                await asyncio.to_thread(srv.kill)
                await panel.wait_props(name, lambda p: p["IconName"] == "process-stop", what="not running")
                srv2 = await asyncio.to_thread(sttd_factory, socket_name=socket_name, injector="stdout", env=audio_env(mic), wait="idle")
                await panel.wait_props(name, lambda p: p["IconName"] == "audio-input-microphone", what="idle after restart")
                await panel.click(name, "Start recording")
                await panel.wait_props(name, lambda p: p["IconName"] == "media-record", what="recording after restart")
                assert (await asyncio.to_thread(srv2.status))["state"] == "recording"
                await panel.click(name, "Cancel recording")
                await panel.wait_props(name, lambda p: p["IconName"] == "audio-input-microphone", what="cancelled")
                assert tray.alive() and len(panel.watcher.items) == 1
                tray.signal(15)
                assert await asyncio.to_thread(tray.wait, 10) == 0

    with SessionBus(tmp_path) as bus:
        asyncio.run(scenario(bus))


def test_a_recent_transcript_click_copies_it(sttd_factory, mic, display, tmp_path, socket_name):
    import subprocess

    from tests.support.devices import child_env
    from tests.support.dictation import dictate, history

    async def scenario(bus: SessionBus) -> None:
        srv = await asyncio.to_thread(sttd_factory, socket_name=socket_name, injector="none", env=audio_env(mic), wait="idle")
        await asyncio.to_thread(dictate, srv, mic, SHORT)
        text = [e["text"] for e in await asyncio.to_thread(history, srv) if e["text"]][-1]
        env = base_env(socket_name, extra={"DBUS_SESSION_BUS_ADDRESS": bus.address, "DISPLAY": display.env["DISPLAY"], "WAYLAND_DISPLAY": None, "STT_TRAY_LOG": "debug"})
        async with Panel(bus.address) as panel:
            with Process([*CLIENT_CMD, "tray"], tmp_path / "tray.log", env, REPO):
                name = await panel.wait_item()
                await panel.wait_props(name, lambda p: p["IconName"] == "audio-input-microphone", what="idle")
                recent = {label: props for label, (_, props) in (await panel.menu(name)).items() if label and label[:20] in text}
                assert recent, await panel.menu(name)
                await panel.click(name, next(iter(recent)))
                for _ in range(50):
                    got = subprocess.run(["xclip", "-selection", "clipboard", "-o"], env=child_env(display), capture_output=True, text=True, timeout=5)
                    if got.stdout:
                        break
                    await asyncio.sleep(0.1)
                assert got.stdout == text

    with SessionBus(tmp_path) as bus:
        asyncio.run(scenario(bus))


def test_phrases_still_being_transcribed_show_as_transcribing(sttd_factory, mic, tmp_path, socket_name):
    import json

    from tests.support.dictation import start_recording

    async def scenario(bus: SessionBus) -> None:
        env = {**audio_env(mic), "STT_TEST_TRANSCRIBE_DELAYS": json.dumps({"1": 14.0})}  # phrase 1 (and all behind it) done ~4 s after the stop
        srv = await asyncio.to_thread(sttd_factory, socket_name=socket_name, injector="none", env=env, wait="idle")
        tray_env = base_env(socket_name, extra={"DBUS_SESSION_BUS_ADDRESS": bus.address})
        async with Panel(bus.address) as panel:
            with Process([*CLIENT_CMD, "tray"], tmp_path / "tray.log", tray_env, REPO):
                name = await panel.wait_item()
                await asyncio.to_thread(start_recording, srv)
                await asyncio.to_thread(mic.play, JFK)
                await asyncio.to_thread(mic.play_silence, 1.0)
                assert (await asyncio.to_thread(srv.client, "stop")).returncode == 0
                p = await panel.wait_props(name, lambda p: p["IconName"] == "view-refresh", what="transcribing")
                assert p["Status"] == "Active" and p["ToolTip"][3].startswith("transcribing ")
                await panel.wait_props(name, lambda p: p["IconName"] == "audio-input-microphone", timeout=60, what="idle once typed")

    with SessionBus(tmp_path) as bus:
        asyncio.run(scenario(bus))
