"""Suspend: a stand-in logind on a private bus announces sleep; the recording ends, the microphone closes, the delay lock is let go."""

import asyncio
import os

import pytest
from dbus_fast.aio import MessageBus
from dbus_fast.service import ServiceInterface, method, signal

from stt_dictation.protocol.commands import Start
from stt_dictation.server.sleep import SleepWatch
from tests.support.fakes import clip
from tests.support.daemon_rig import Rig
from tests.support.devices import missing_binaries
from tests.support.sni import SessionBus


class Logind(ServiceInterface):
    """What sttd uses of org.freedesktop.login1.Manager: Inhibit and PrepareForSleep."""

    def __init__(self):
        super().__init__("org.freedesktop.login1.Manager")
        self.inhibits: list[tuple[str, str]] = []

    @method()
    def Inhibit(self, what: "s", who: "s", why: "s", mode: "s") -> "h":  # noqa: N802, F821
        self.inhibits.append((what, mode))
        r, w = os.pipe()
        os.close(r)
        return w

    @signal()
    def PrepareForSleep(self, start: bool) -> "b":  # noqa: N802, F821
        return start


async def until(pred, timeout=5.0):
    for _ in range(int(timeout / 0.01)):
        if pred():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met")


@pytest.mark.skipif(bool(missing_binaries(("dbus-daemon",))), reason="dbus-daemon is not installed")
def test_prepare_for_sleep_ends_the_recording_closes_the_microphone_and_lets_the_machine_sleep(tmp_path, monkeypatch):
    with SessionBus(tmp_path) as bus:
        monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", bus.address)

        async def main():
            service = await MessageBus(bus_address=bus.address, negotiate_unix_fd=True).connect()
            logind = Logind()
            service.export("/org/freedesktop/login1", logind)
            await service.request_name("org.freedesktop.login1")
            rig = await Rig(tmp_path / "state").up()
            watch = SleepWatch(rig.daemon.before_sleep)
            assert await watch.start()
            locked = watch._fd is not None
            assert (await rig.daemon.handle(Start())).message == "recording 1"
            rig.mics.mic.play(clip(1))
            logind.PrepareForSleep(True)
            await until(lambda: rig.mics.mic.closed == 1 and watch._fd is None)
            state = rig.daemon.state
            await rig.settled()
            logind.PrepareForSleep(False)  # resumed: the lock is taken again
            await until(lambda: watch._fd is not None)
            await watch.close()
            service.disconnect()
            return rig, logind, locked, state

        rig, logind, locked, state = asyncio.run(asyncio.wait_for(main(), 30))
    assert locked and logind.inhibits == [("sleep", "delay")] * 2
    assert state == "idle" and rig.kb.typed == ["hello world"]  # stopped, not failed: what was said is typed


def test_without_a_system_bus_the_watch_says_so_and_does_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", f"unix:path={tmp_path / 'no-bus'}")

    async def main():
        watch = SleepWatch(lambda: asyncio.sleep(0))
        started = await watch.start()
        await watch.close()
        return started

    assert asyncio.run(asyncio.wait_for(main(), 10)) is False
