"""The daemon: the state machine, the command handler and the life cycle.

The work happens in stages, data flowing one way:
recorder (microphone, VAD) -> pipeline (transcribe, judge, clean) -> typist,
with the ledger owning every phrase's journal row, spooled audio and events.
The daemon wires them, derives its state from their facts, and answers commands.
All of it runs on the event loop thread.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from functools import partial

from pydantic import BaseModel

from ..protocol.commands import Cancel, Command, GetHistory, GetStatus, Paste, Shutdown, Start, Stop, Toggle, Transcribe
from ..protocol.messages import ErrorCode, ErrorReply, Fault, History as HistoryReply, Ok, PhraseEvent, State, StateChanged, Status

from . import __version__
from .events import EventBus
from .files import transcribe_files
from .injector import Injector
from .ledger import Ledger
from .notify import Notifier
from .pipeline import Pipeline
from .recovery import recover
from .recorder import MicFactory, Recorder, Recording, SegmenterFactory
from .resilient import ResilientTranscriber
from .settings import Settings
from .sounds import Sounds
from .tasks import Tasks
from .typist import Typist

log = logging.getLogger(__name__)

NOT_READY = "the model is still loading; try again in a moment"


class Daemon:
    """The server's state machine; the stages do the work."""

    def __init__(
        self, settings: Settings, transcriber: ResilientTranscriber, injector: Injector, bus: EventBus,
        *, microphone: MicFactory | None = None, segmenter: SegmenterFactory | None = None,
    ) -> None:  # fmt: skip
        """`microphone` and `segmenter` replace the recorder's real ones where a test fakes them."""
        self.settings, self.transcriber, self.injector, self.bus = settings, transcriber, injector, bus
        self.notify = Notifier(settings.notifications)
        self.state: State = "loading"
        self.error: str | None = None
        self._errors: dict[str, str | None] = dict.fromkeys(("audio", "backend", "inject"))
        """What is wrong now, by source; the first one is the state's error."""
        self.started = time.time()
        self.stopping = asyncio.Event()
        self.ready = asyncio.Event()
        self.recovering: asyncio.Task | None = None
        """Recovery of the spool, started once ready."""
        self._last_recording = 0
        self._ended: Recording | None = None  # the last recording stopped, for a `cancel` after `stop`
        self._tasks = Tasks()
        transcriber.on_fault = partial(self._report, "backend", ErrorCode.TRANSCRIBE_FAILED)  # a try failed, or None: one worked
        self.ledger = Ledger(settings.state_dir, bus)
        self.typist = Typist(injector, self.ledger, focus_guard=settings.focus_guard, on_error=self._on_inject_error, notify=self.notify)
        self.typist.terminals = {c.lower() for c in settings.terminal_classes}  # never a spoken line break there
        self.pipeline = Pipeline(transcriber, self.ledger, self.typist, settings, on_fault=partial(self._report, "phrase", ErrorCode.PHRASE_FAILED))
        self.recorder = Recorder(settings, bus, self.pipeline.on_event, self._on_audio_fault, microphone=microphone, segmenter=segmenter)
        self.sounds = Sounds(settings, self.recorder._lock)  # cues take turns with the microphone's PortAudio calls

    # --- state ------------------------------------------------------------------

    def _refresh(self) -> None:
        """Derive state and error from the facts, and publish a change."""
        error = next(filter(None, self._errors.values()), None)
        if not self.ready.is_set():
            state: State = "loading"
        elif self.recorder.current is not None:
            state = "recording"
        elif error:
            state = "error"
        else:
            state = "idle"
        changed = state != self.state or error != self.error
        self.state, self.error = state, error
        if changed:
            self.bus.publish(StateChanged(state=state, error=error, at=time.time()))

    def _report(self, source: str, code: ErrorCode, message: str | None, shown: str | None = None) -> None:
        """A stage's problem (`message`, published as a fault, `shown` if given) or its end (None)."""
        if message:
            self.bus.publish(Fault(code=code, message=shown or message, at=time.time()))
        self._errors[source] = message
        self._refresh()

    def _on_audio_fault(self, message: str) -> None:
        """The microphone failed to open or warm up, or failed and the recorder ended the recording."""
        log.error("%s", message)
        self.sounds.cue("error")
        # Shown even with notifications off: a hotkey press must never fail unseen.
        self._tasks.spawn(self.notify.alert("stt: error", message), "notify")
        self._report("audio", ErrorCode.AUDIO, message)

    def _on_inject_error(self, message: str | None) -> None:
        """Typing failed (message), or worked again (None)."""
        self._report("inject", ErrorCode.INJECT_FAILED, message, f"{message}; the text is in `stt history`")

    # --- life cycle -------------------------------------------------------------

    async def open_journal(self) -> None:
        """Open the ledger, number on from where the last run stopped, and start the typist."""
        last_seq, self._last_recording = await self.ledger.open()
        self.pipeline.next_seq = last_seq + 1
        self._tasks.spawn(self.typist.run(), "typist")

    async def load(self) -> None:
        """Load the VAD and the model while the audio path warms up; become idle, then recover the spool.

        A microphone that fails to warm up is an error from the start (the server still
        becomes ready: the next `start` tries again). Recovery runs after `ready`, in the background.
        """
        _, _, audio_problem = await asyncio.gather(self.recorder.load(), self.transcriber.load(), self.recorder.warm_up())
        if audio_problem:
            self._on_audio_fault(audio_problem)
        problem = self.injector.problem()
        if problem:
            self._errors["inject"] = f"injector {self.injector.name}: {problem}"
            log.warning("%s", self._errors["inject"])
        self.ready.set()
        self._refresh()
        self.recovering = self._tasks.spawn(recover(self.ledger, self.transcriber, self.settings.replacements), "recover")

    async def before_sleep(self) -> None:
        """The machine is about to sleep: end the recording (what was said is kept) and close the microphone."""
        rec = self.recorder.current
        if rec is not None:
            await asyncio.wait({self._end(rec, cancel=False)}, timeout=1.5)

    async def shutdown(self, grace: float = 1.0) -> None:
        """Stop recording, give its close and pending phrases `grace` seconds in all, then cancel the rest."""
        deadline = time.monotonic() + grace
        rec = self.recorder.current
        if rec is not None:
            await asyncio.wait({self._end(rec, cancel=False)}, timeout=grace)  # a wedged device waits no longer
        await self.typist.idle(max(0.0, deadline - time.monotonic()))
        await asyncio.gather(self.pipeline.shutdown(), self.recorder.shutdown(), self._tasks.cancel("server shutting down"))
        await asyncio.gather(self.transcriber.close(), self.injector.aclose())  # aclose ends a Mutter session
        await self.ledger.close()

    # --- commands ---------------------------------------------------------------

    def current_state(self) -> str:
        """The state, for replies."""
        return self.state

    async def history_for_tail(self, n: int) -> list[BaseModel]:
        """Past entries as phrase events, for a new `tail`."""
        return [PhraseEvent(entry=e) for e in await self.ledger.recent(n)]

    async def handle(self, cmd: Command) -> BaseModel:
        """Carry out one command."""
        match cmd:
            case GetStatus():
                return self.status()
            case Toggle():
                return await (self.stop() if self.recorder.current is not None else self.start())
            case Start():
                return await self.start()
            case Stop():
                return await self.stop()
            case Cancel():
                return await self.stop(cancel=True)
            case GetHistory(limit=limit):
                return HistoryReply(entries=await self.ledger.recent(limit))
            case Transcribe(paths=paths):
                if not self.ready.is_set():
                    return ErrorReply(code=ErrorCode.NOT_READY, message=NOT_READY)
                return await transcribe_files(self.transcriber, paths)
            case Paste():
                n = await self.typist.paste()
                if self.typist.held:  # typing failed: the rest stays held for another try
                    return ErrorReply(code=ErrorCode.INJECT_FAILED, message=f"typed {n} held phrase(s), {len(self.typist.held)} still held: {self._errors['inject']}")
                return Ok(state=self.state, message=f"typed {n} held phrase(s)")
            case Shutdown():
                self.stopping.set()
                return Ok(state=self.state, message="shutting down")
        return ErrorReply(code=ErrorCode.UNKNOWN_COMMAND, message=f"field 'type': {cmd.type} is not handled")

    def status(self) -> Status:
        """The `status` reply."""
        rec = self.recorder.current
        return Status(
            state=self.state, error=self.error, pid=os.getpid(), version=__version__, uptime=time.time() - self.started,
            model=self.transcriber.model_name, backend=self.transcriber.backend, injector=self.injector.name,
            injector_note=self.injector.note,
            pending=self.typist.pending, held=len(self.typist.held), input_device=self.settings.input_device,
            recording_seconds=(time.time() - rec.started) if rec else 0.0,
        )  # fmt: skip

    async def start(self) -> BaseModel:
        """Begin a recording; reply once the microphone delivers audio, or with its error (bounded)."""
        if self.state == "loading":
            return ErrorReply(code=ErrorCode.NOT_READY, message=NOT_READY)
        if self.recorder.current is not None:
            return Ok(state=self.state, message="already recording")
        self._last_recording += 1
        rec = self.recorder.begin(self._last_recording)
        self._refresh()
        await self.sounds.start()  # to its end: the microphone must not hear it
        problem = await self.recorder.open(rec)
        if problem:
            return ErrorReply(code=ErrorCode.AUDIO, message=problem)
        if rec.t0 is None:  # stopped (or the server shut down) while the microphone opened or before its first block
            return Ok(state=self.state, message=f"recording {rec.number} ended before the microphone delivered audio")
        self.notify.clear_alert()
        self._errors["audio"] = None
        self._refresh()
        self._tasks.spawn(self._opened(rec), f"opened-{rec.number}")
        return Ok(state=self.state, message=f"recording {rec.number}")

    async def _opened(self, rec: Recording) -> None:
        self._tasks.spawn(self.notify("stt: listening", f"recording {rec.number}"), "notify")
        if self.settings.focus_guard:
            rec.window = await self.injector.focused_window()

    async def stop(self, cancel: bool = False) -> BaseModel:
        """End the recording; the tail of it is segmented and transcribed in the background."""
        rec = self.recorder.current
        if rec is None:
            if cancel and self._ended is not None and self.pipeline.discard(self._ended):
                return Ok(state=self.state, message=f"cancelled what was not typed yet of recording {self._ended.number}")
            return Ok(state=self.state, message="not recording")
        self._end(rec, cancel)
        return Ok(state=self.state, message=("cancelled" if cancel else "stopped") + f" recording {rec.number}")

    def _end(self, rec: Recording, cancel: bool) -> asyncio.Task:
        """A recording's end, booked at once so replies see the new state; the microphone closes in the task."""
        closing = self.recorder.end(rec, cancel)
        self._ended = rec
        self.sounds.after(closing)  # once the microphone is closed
        if cancel:
            self.typist.cancel_recording(rec.number)
        self._refresh()
        self._tasks.spawn(self.notify("stt: stopped", "cancelled" if cancel else f"recording {rec.number}"), "notify")
        return closing
