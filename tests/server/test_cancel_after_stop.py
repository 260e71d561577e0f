"""`cancel` after `stop` (issue 12, defect 14): what of that recording is still on its way (being
cut, transcribed or waiting to be typed) is discarded and marked `cancelled`, never typed."""

from __future__ import annotations

import asyncio

from stt_dictation.protocol.commands import Cancel, Start, Stop
from stt_dictation.protocol.messages import Ok
from tests.support.fakes import Keyboard, Model, clip
from tests.support.daemon_rig import Rig


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


async def history(rig) -> list[tuple[int, str]]:
    return [(e.seq, e.status) for e in await rig.daemon.ledger.recent(10)]


async def record(rig, k: int) -> None:
    assert isinstance(await rig.daemon.handle(Start()), Ok)
    await rig.opened()
    rig.mics.mic.play(clip(k))
    assert (await rig.daemon.handle(Stop())).message == f"stopped recording {rig.daemon._last_recording}"


def test_cancel_after_stop_discards_a_phrase_still_being_transcribed(tmp_path):
    async def main():
        rig = await Rig(tmp_path, model=Model({1: "hello world", 2: "second take"}, delays={1: 0.6})).up()
        await record(rig, 1)
        while not rig.daemon.typist.pending or not await history(rig):  # cut and numbered, not transcribed
            await asyncio.sleep(0.01)
        reply = await rig.daemon.handle(Cancel())
        await rig.settled()
        first = await history(rig)
        await rig.say(2)  # the next recording is not touched
        return rig, reply, first, await rig.daemon.ledger.recent(10)

    rig, reply, first, entries = run(main())
    assert isinstance(reply, Ok) and reply.message == "cancelled what was not typed yet of recording 1"
    assert first == [(1, "cancelled")]
    assert [(e.seq, e.status) for e in entries] == [(1, "cancelled"), (2, "typed")]
    assert rig.kb.typed == ["second take"]
    assert rig.daemon.ledger.spooled() == []


def test_cancel_after_stop_discards_phrases_waiting_to_be_typed(tmp_path):
    async def main():
        slow = Keyboard(delay=0.5)  # phrase 1 types slowly; phrase 2 waits behind it
        rig = await Rig(tmp_path, model=Model({1: "hello world", 2: "second take"}), keyboard=slow).up()
        await record(rig, 1)
        await record(rig, 2)
        while slow.active == 0:  # phrase 1 is being typed
            await asyncio.sleep(0.005)
        reply = await rig.daemon.handle(Cancel())  # recording 2 is the one that was stopped last
        await rig.settled()
        return rig, reply, await history(rig)

    rig, reply, entries = run(main())
    assert reply.message == "cancelled what was not typed yet of recording 2"
    assert entries == [(1, "typed"), (2, "cancelled")]  # what was typing goes on; what waited is discarded
    assert rig.kb.typed == ["hello world"]


def test_cancel_when_everything_is_typed_changes_nothing(tmp_path):
    async def main():
        rig = await Rig(tmp_path).up()
        await rig.say(1)
        reply = await rig.daemon.handle(Cancel())
        return reply, await history(rig)

    reply, entries = run(main())
    assert reply.message == "not recording" and entries == [(1, "typed")]
