"""The daemon's state machine and commands, with a fake model, keyboard and microphone."""

import asyncio

from stt_dictation.protocol.commands import Cancel, GetHistory, GetStatus, Paste, Shutdown, Start, Stop, Toggle, Transcribe
from stt_dictation.protocol.messages import ErrorReply, Ok
from stt_dictation.server.events import EventBus
from stt_dictation.server.ledger import Ledger
from stt_dictation.server.transcript import TranscribeError
from tests.support.fakes import Keyboard, Model, clip
from tests.support.daemon_rig import Rig, run


def test_loading_then_idle_then_recording_then_idle_and_the_phrase_is_typed(tmp_path):
    async def main():
        rig = Rig(tmp_path)
        d = rig.daemon
        await d.open_journal()
        assert d.state == "loading"
        refused = await d.handle(Start())
        assert isinstance(refused, ErrorReply) and refused.code == "not_ready"
        assert (await d.handle(Transcribe(paths=["/a.wav"]))).code == "not_ready"
        await d.load()
        assert d.state == "idle"
        assert (await d.handle(Toggle())).message == "recording 1"
        assert d.state == "recording" and (await d.handle(Start())).message == "already recording"
        await rig.opened()
        rig.mics.mic.play(clip(1))
        assert d.status().recording_seconds > 0
        assert (await d.handle(Toggle())).message == "stopped recording 1"
        assert d.state == "idle"
        await rig.settled()
        assert (await d.handle(Stop())).message == "not recording"
        history = (await d.handle(GetHistory(limit=5))).entries
        status = d.status()
        await d.shutdown()
        return rig, history, status

    rig, history, status = run(main())
    assert rig.kb.typed == ["hello world"]
    assert [(e.seq, e.recording, e.status, e.text) for e in history] == [(1, 1, "typed", "hello world")]
    assert (status.state, status.pending, status.model, status.injector) == ("idle", 0, "fake", "keyboard")
    events = rig.events()
    assert [e["state"] for e in events if e["type"] == "state"] == ["idle", "recording", "idle"]
    assert [e["entry"]["status"] for e in events if e["type"] == "phrase"] == ["transcribed", "typed"]
    assert [e["type"] for e in events if e["type"].startswith("recording_")] == ["recording_started", "recording_stopped"]


def test_a_microphone_that_cannot_open_is_an_error_until_the_next_start(tmp_path):
    async def main():
        rig = await Rig(tmp_path, mic_fails="cannot open input device 'usb'").up()
        await rig.daemon.handle(Start())
        await rig.opened()
        after_fault = (rig.daemon.state, rig.daemon.error)
        faults = rig.events("fault")
        rig.mics.mic.fail = None  # plugged back in
        await rig.say(1)
        return rig, after_fault, faults

    rig, after_fault, faults = run(main())
    assert after_fault == ("error", "cannot open input device 'usb'")
    # Once when the audio path warmed up at start-up, once for the start.
    assert [(f["code"], f["message"]) for f in faults] == [("audio", "cannot open input device 'usb'")] * 2
    assert rig.daemon.state == "idle" and rig.kb.typed == ["hello world"]


def test_a_microphone_failing_mid_recording_ends_it_in_error_and_keeps_the_speech(tmp_path):
    async def main():
        rig = await Rig(tmp_path).up()
        await rig.daemon.handle(Start())
        await rig.opened()
        rig.mics.mic.play(clip(1))
        rig.mics.mic.on_fault("the microphone delivered no audio for 1.5 s")
        state = rig.daemon.state
        await rig.settled()
        return rig, state

    rig, state = run(main())
    assert state == "error" and "no audio" in rig.daemon.error
    assert rig.kb.typed == ["hello world"]  # what was heard before the fault is still typed


def test_a_failed_transcription_shows_as_error_then_clears_when_a_retry_works(tmp_path):
    class Once(Model):
        async def transcribe(self, audio, prompt=None, lead=None):
            if len(self.heard) == 0:
                self.heard.append(-1)
                raise TranscribeError("connection reset")
            return await super().transcribe(audio, prompt)

    async def main():
        rig = await Rig(tmp_path, model=Once({1: "hello world"})).up()
        await rig.say(1)
        return rig

    rig = run(main())
    states = [(e["state"], e["error"]) for e in rig.events("state")]
    assert ("error", "transcription of phrase 1 failed (try 1): connection reset; retrying in 0.5 s") in states
    assert states[-1] == ("idle", None) and rig.daemon.error is None
    assert rig.kb.typed == ["hello world"]


def test_typing_failures_are_an_error_with_a_fault_and_a_later_success_clears_it(tmp_path):
    async def main():
        rig = await Rig(tmp_path, keyboard=Keyboard(fail_on={"hello world"})).up()
        await rig.say(1)
        failed = (rig.daemon.state, rig.daemon.error, rig.events("fault"))
        await rig.say(2)
        return rig, failed

    rig, (state, error, faults) = run(main())
    assert state == "error" and error == "typing failed: display went away"
    assert [f["code"] for f in faults] == ["inject_failed"] and "stt history" in faults[0]["message"]
    assert rig.daemon.state == "idle" and rig.kb.typed == ["second take"]


def test_an_injector_with_a_problem_is_an_error_once_loaded(tmp_path):
    async def main():
        return await Rig(tmp_path, keyboard=Keyboard(problem="xdotool not found on PATH")).up()

    d = run(main()).daemon
    assert (d.state, d.error) == ("error", "injector keyboard: xdotool not found on PATH")


def test_cancel_discards_the_recording(tmp_path):
    async def main():
        rig = await Rig(tmp_path).up()
        await rig.say(1, cancel=True)
        history = (await rig.daemon.handle(GetHistory(limit=5))).entries
        return rig, history

    rig, history = run(main())
    assert rig.kb.typed == [] and history == []  # cancelled before its tail became a phrase
    assert [e["cancelled"] for e in rig.events("recording_stopped")] == [True]


def test_a_crash_left_phrase_is_recovered_at_load_never_typed_and_numbering_goes_on(tmp_path):
    async def main():
        ledger = Ledger(tmp_path, EventBus())
        await ledger.open()
        await ledger.spool.write(7, 3, clip(7))
        await ledger.close()
        rig = await Rig(tmp_path, model=Model({7: "left behind", 1: "hello world"})).up()
        recovered = list(rig.kb.typed)
        await rig.say(1)
        history = (await rig.daemon.handle(GetHistory(limit=5))).entries
        return rig, recovered, history

    rig, recovered, history = run(main())
    assert recovered == []
    assert [(e.seq, e.recording, e.status, e.text) for e in history] == [
        (7, 3, "recovered", "left behind"),
        (8, 4, "typed", "hello world"),
    ]
    assert rig.kb.typed == ["hello world"] and not list((tmp_path / "spool").glob("*.wav"))


def test_shutdown_finishes_the_recording_in_progress_and_shutdown_command_asks_for_it(tmp_path):
    async def main():
        rig = await Rig(tmp_path).up()
        await rig.daemon.handle(Start())
        await rig.opened()
        rig.mics.mic.play(clip(1))
        reply = await rig.daemon.handle(Shutdown())
        assert rig.daemon.stopping.is_set() and reply.message == "shutting down"
        await rig.daemon.shutdown(grace=2.0)
        return rig

    rig = run(main())
    assert rig.kb.typed == ["hello world"] and rig.mics.mic.closed == 1


def test_status_paste_and_files(tmp_path):
    async def main():
        rig = await Rig(tmp_path).up()
        st = await rig.daemon.handle(GetStatus())
        pasted = await rig.daemon.handle(Paste())
        files = await rig.daemon.handle(Transcribe(paths=["/tmp/a.wav"]))
        relative = await rig.daemon.handle(Transcribe(paths=["a.wav"]))
        await rig.daemon.shutdown()
        return st, pasted, files, relative

    st, pasted, files, relative = run(main())
    assert st.state == "idle" and st.held == 0 and st.backend == "local"
    assert pasted.message == "typed 0 held phrase(s)"
    assert [(f.path, f.text) for f in files.files] == [("/tmp/a.wav", "file /tmp/a.wav")]
    assert relative.code == "invalid_command"


def test_status_names_the_backend_that_took_over_and_why(tmp_path):
    """A typing chain that handed over shows its new name and the refusal in `stt status`."""

    async def go():
        rig = await Rig(tmp_path).up()
        before = rig.daemon.status()
        rig.kb.name, rig.kb.note = "wtype->mutter", "wtype refused: Compositor does not support the virtual keyboard protocol"
        after = rig.daemon.status()
        await rig.daemon.shutdown()
        return before, after

    before, after = asyncio.run(go())
    assert before.injector_note is None
    assert after.injector == "wtype->mutter" and "virtual keyboard protocol" in after.injector_note


class Alerts(list):
    """Stands in for notify-send: the notifications the daemon sent."""

    async def __call__(self, summary, body, urgency):
        self.append((summary, body, urgency))


def test_a_microphone_missing_at_start_up_is_an_error_at_once_and_start_replies_with_it_each_time(tmp_path):
    async def main():
        rig = Rig(tmp_path, mic_fails="cannot open input device (default): No such entity")
        rig.daemon.notify._send = alerts = Alerts()  # notifications are off in these settings
        await rig.up()
        at_start_up = (rig.daemon.state, rig.daemon.error)
        t0 = asyncio.get_running_loop().time()
        first = await rig.daemon.handle(Toggle())
        second = await rig.daemon.handle(Toggle())
        elapsed = asyncio.get_running_loop().time() - t0
        await asyncio.sleep(0.05)  # the notification task runs
        rig.mics.mic.fail = None  # plugged in
        third = await rig.daemon.handle(Toggle())
        return rig, at_start_up, first, second, third, elapsed, alerts

    rig, at_start_up, first, second, third, elapsed, alerts = run(main())
    assert at_start_up == ("error", "cannot open input device (default): No such entity")
    for reply in (first, second):
        assert isinstance(reply, ErrorReply) and (reply.code, reply.message) == ("audio", "cannot open input device (default): No such entity")
    assert elapsed < 1.0
    # One notification for the problem although notifications are off, not one per press.
    assert alerts == [("stt: error", "cannot open input device (default): No such entity", "critical")]
    assert isinstance(third, Ok) and third.message == "recording 3" and rig.daemon.error is None


def test_start_replies_once_audio_flows_and_a_silent_device_is_an_error_within_a_bound(tmp_path):
    async def main():
        rig = await Rig(tmp_path).up()
        rig.daemon.notify._send = alerts = Alerts()
        ok = await rig.daemon.handle(Start())
        flowing = rig.daemon.recorder.current.t0 is not None  # the first block came before the reply
        await rig.daemon.handle(Cancel())
        await rig.settled()
        rig.mics.mic.preroll = None  # opens, then delivers nothing
        t0 = asyncio.get_running_loop().time()
        silent = await rig.daemon.handle(Toggle())
        elapsed = asyncio.get_running_loop().time() - t0
        state = (rig.daemon.state, rig.daemon.error)
        await asyncio.sleep(0.05)
        return rig, ok, flowing, silent, elapsed, state, alerts

    rig, ok, flowing, silent, elapsed, state, alerts = run(main())
    assert isinstance(ok, Ok) and ok.message == "recording 1" and flowing
    assert isinstance(silent, ErrorReply) and silent.code == "audio" and "no audio within 0.3 s" in silent.message
    assert 0.25 < elapsed < 1.0
    assert state == ("error", silent.message) and rig.mics.mic.closed == 2  # the silent stream was closed
    assert [body for _, body, _ in alerts] == [silent.message]


def test_shutdown_with_a_wedged_microphone_open_takes_under_two_seconds(tmp_path):
    async def main():
        rig = await Rig(tmp_path).up()
        rig.mics.mic.wedged = asyncio.Event()  # open never returns
        loop = asyncio.get_running_loop()
        starting = asyncio.create_task(rig.daemon.handle(Start()))
        await asyncio.sleep(0.1)
        assert rig.daemon.state == "recording"
        t0 = loop.time()
        await rig.daemon.shutdown(grace=0.8)
        took = loop.time() - t0
        reply = await asyncio.wait_for(starting, 1.0)
        return took, reply

    took, reply = run(main())
    assert took < 2.0
    assert isinstance(reply, Ok) and "ended before the microphone delivered audio" in reply.message


def test_a_wedged_microphone_open_is_an_audio_error_within_a_bound_and_stop_is_prompt(tmp_path):
    async def main():
        rig = await Rig(tmp_path).up()
        rig.mics.mic.wedged = asyncio.Event()
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        reply = await rig.daemon.handle(Start())
        took = loop.time() - t0
        starting = asyncio.create_task(rig.daemon.handle(Start()))
        await asyncio.sleep(0.1)
        t1 = loop.time()
        stopped = await rig.daemon.handle(Stop())
        started = await asyncio.wait_for(starting, 1.0)
        stop_took = loop.time() - t1
        return took, reply, stopped, started, stop_took

    took, reply, stopped, started, stop_took = run(main())
    assert isinstance(reply, ErrorReply) and reply.code == "audio" and "did not open within" in reply.message
    assert 2.0 <= took < 4.0
    assert stopped.message == "stopped recording 2" and "ended before the microphone delivered audio" in started.message and stop_took < 0.5


def test_the_model_loads_while_the_audio_warms_up_and_recovery_runs_after_ready(tmp_path):
    async def main():
        ledger = Ledger(tmp_path, EventBus())
        await ledger.open()
        await ledger.spool.write(7, 3, clip(7))
        await ledger.close()
        rig = Rig(tmp_path, model=Model({7: "left behind", 1: "hello world"}, delays={7: 1.5}))
        rig.model.load_seconds = rig.mics.mic.warm_seconds = 0.6
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        await rig.up()
        ready_after = loop.time() - t0
        idle_while_recovering = rig.daemon.state == "idle" and not rig.daemon.recovering.done()
        await rig.say(1)  # dictation works while recovery runs
        await rig.daemon.recovering
        history = (await rig.daemon.handle(GetHistory(limit=5))).entries
        return rig, ready_after, idle_while_recovering, history

    rig, ready_after, idle_while_recovering, history = run(main())
    assert ready_after < 1.0  # 0.6 s + 0.6 s one after the other would be 1.2 s
    assert idle_while_recovering
    assert sorted((e.seq, e.status, e.text) for e in history) == [(7, "recovered", "left behind"), (8, "typed", "hello world")]
    assert rig.kb.typed == ["hello world"]
