"""`stt tray`: the StatusNotifierItem on a private session bus, read by a watcher stand-in (issue 14)."""

from __future__ import annotations

import asyncio
import shutil

import pytest

from stt_dictation.client.tray import look, menu_items
from tests.support.env import CLIENT_CMD, REPO, base_env
from tests.support.process import Process
from tests.support.sni import Panel, SessionBus

pytestmark = pytest.mark.skipif(not shutil.which("dbus-daemon"), reason="dbus-daemon missing: run scripts/test")


def test_look_per_state():
    base = {"model": "tiny.en", "injector": "stdout", "pending": 0}
    assert look(None).icon == "process-stop"
    assert look({**base, "state": "idle"}).icon == "audio-input-microphone"
    rec = look({**base, "state": "recording", "recording_seconds": 3.4})
    assert (rec.status, rec.icon, rec.tooltip) == ("NeedsAttention", "media-record", "recording 3 s")
    busy = look({**base, "state": "idle", "pending": 2})
    assert busy.icon == "view-refresh" and "transcribing 2" in busy.tooltip
    err = look({**base, "state": "error", "error": "audio: the microphone went away"})
    assert err.icon == "dialog-error" and err.tooltip == "audio: the microphone went away"


def test_menu_follows_state():
    labels = lambda items: {i.label: i for i in items if i.visible and not i.separator}  # noqa: E731
    down = labels(menu_items(None, []))
    assert not down["Start recording"].enabled and not down["Stop sttd"].enabled and "Paste held text" not in down
    rec = labels(menu_items({"state": "recording", "held": 0}, [(3, "hello there")]))
    assert rec["Stop recording"].enabled and rec["Cancel recording"].enabled
    assert [c.label for c in rec["Recent transcripts"].children] == ["hello there"]
    held = labels(menu_items({"state": "idle", "held": 2}, []))
    assert held["Paste held text (2)"].enabled and not held["Cancel recording"].enabled


def _tray(tmp_path, socket_name: str, bus: SessionBus) -> Process:
    env = base_env(socket_name, extra={"DBUS_SESSION_BUS_ADDRESS": bus.address})
    return Process([*CLIENT_CMD, "tray"], tmp_path / "tray.log", env, REPO)


def test_no_watcher_says_so_once_and_exits_0(tmp_path, socket_name):
    with SessionBus(tmp_path) as bus, _tray(tmp_path, socket_name, bus) as tray:
        assert tray.wait(20) == 0
        assert tray.log().count("no StatusNotifierWatcher") == 1, tray.log()


def test_registers_and_follows_a_server_that_comes_later(tmp_path, socket_name, sttd_factory):
    async def scenario() -> None:
        async with Panel(bus.address) as panel:
            with _tray(tmp_path, socket_name, bus) as tray:
                name = await panel.wait_item()
                assert name.startswith("org.kde.StatusNotifierItem-")
                p = await panel.wait_props(name, lambda p: p["IconName"] == "process-stop")
                assert "not running" in p["Title"]
                # Without a microphone here the server ends up idle or in error (no input device): either is shown.
                srv = await asyncio.to_thread(sttd_factory, socket_name=socket_name, wait="ready")
                st = await asyncio.to_thread(srv.wait_state, "idle", "error")
                want = look(st)
                p = await panel.wait_props(name, lambda p: p["IconName"] == want.icon, what=f"{st['state']} icon")
                assert (p["Status"], p["ToolTip"][3]) == (want.status, want.tooltip)
                menu = await panel.menu(name)
                assert menu["Start recording"][1]["enabled"] and menu["Stop sttd"][1]["enabled"]
                await panel.click(name, "Stop sttd")
                assert await asyncio.to_thread(srv.wait_exit, 15) == 0
                await panel.wait_props(name, lambda p: p["IconName"] == "process-stop", what="stopped icon")
                await panel.click(name, "Quit tray")
                assert await asyncio.to_thread(tray.wait, 10) == 0

    with SessionBus(tmp_path) as bus:
        asyncio.run(scenario())


def test_install_service_offers_the_tray(tmp_path):
    import subprocess

    from tests.support.env import PYTHON, unique_socket_name

    env = base_env(unique_socket_name(), extra={"XDG_CONFIG_HOME": str(tmp_path)})
    r = subprocess.run([PYTHON, "-m", "stt_dictation.server", "--install-service"], cwd=REPO, env=env, capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r.stderr
    assert "systemctl --user enable --now stt-tray" in r.stdout and f"{tmp_path}/autostart" in r.stdout
    unit = tmp_path / "systemd" / "user" / "stt-tray.service"
    exec_start = next(line for line in unit.read_text().splitlines() if line.startswith("ExecStart="))
    argv = exec_start.split("=", 1)[1].split()
    assert argv[0].startswith("/") and argv[-1] == "tray"
    desktop = (tmp_path / "stt" / "stt-tray.desktop").read_text()
    assert f"Exec={' '.join(argv)}" in desktop
    # The command the unit runs is a working `stt tray` (here: no bus, so it says why and exits 0).
    done = subprocess.run(argv, env={**env, "DBUS_SESSION_BUS_ADDRESS": f"unix:path={tmp_path}/none"}, capture_output=True, text=True, timeout=20)
    assert done.returncode == 0 and "stt tray:" in done.stderr, done
    if shutil.which("systemd-analyze"):
        v = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
        assert "stt-tray.service" not in v.stderr, v.stderr
