"""The daemon: owns the microphone, the model and the typist, and answers commands.

Data flows one way: microphone -> segmenter -> transcriber -> typist, with every
step journaled and every change published to `tail` subscribers. All state lives
on this object and is touched only from the event loop thread.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from pydantic import BaseModel

from ..protocol.messages import (
    Cancel,
    Command,
    ErrorCode,
    ErrorReply,
    Fault,
    FileTranscript,
    GetHistory,
    GetStatus,
    History as HistoryReply,
    Ok,
    Paste,
    PhraseEvent,
    RecordingStarted,
    RecordingStopped,
    Shutdown,
    Start,
    State,
    StateChanged,
    Status,
    Stop,
    Toggle,
    Transcribe,
    Transcripts,
)

from . import __version__
from .audio import AudioError, Microphone
from .events import EventBus
from .guard import judge
from .history import History
from .injector import Injector, clean
from .notify import Notifier
from .segmenter import SAMPLE_RATE, Phrase, Retract, Segmenter, Speculate, StreamingVad
from .settings import Settings
from .spool import Spool, read_wav
from .transcriber import ModelLoadError, Transcriber, TranscribeError
from .typist import Ready, Typist

log = logging.getLogger(__name__)


@dataclass
class Recording:
    """One press of start until stop: its audio queue, segmenter task and speculative decodes."""

    number: int
    started: float
    queue: asyncio.Queue = field(default_factory=asyncio.Queue)
    t0: float | None = None
    """Wall-clock time of stream sample 0."""
    samples: int = 0
    window: str | None = None
    cancelled: bool = False
    specs: dict[int, asyncio.Future] = field(default_factory=dict)
    task: asyncio.Task | None = None


class Daemon:
    """The server's state machine and pipeline."""

    def __init__(self, settings: Settings, transcriber: Transcriber, injector: Injector, bus: EventBus) -> None:
        self.settings = settings
        self.transcriber = transcriber
        self.injector = injector
        self.bus = bus
        self.history = History(settings.state_dir / "history.sqlite3")
        self.spool = Spool(settings.state_dir / "spool")
        self.state: State = "loading"
        self.error: str | None = None
        self._audio_error: str | None = None
        self._backend_error: str | None = None
        self._fallback: Transcriber | None = None
        self._fallback_lock = asyncio.Lock()
        self.notify = Notifier(settings.notifications)
        self._inject_error: str | None = None
        self.started = time.time()
        self.stopping = asyncio.Event()
        self.ready = asyncio.Event()
        self.recording: Recording | None = None
        self._mic = Microphone(settings.input_device, self._on_block, self._on_fault)
        self._mic_lock = asyncio.Lock()
        self._vad_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vad")
        self._next_seq = 1
        self._last_recording = 0
        self._inflight = 0
        self._tasks: set[asyncio.Task] = set()
        self.typist: Typist | None = None
        self.exit_code = 0

    # --- life cycle -------------------------------------------------------------

    def _spawn(self, coro, name: str) -> asyncio.Task:
        t = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(t)
        t.add_done_callback(self._reap)
        return t

    def _reap(self, t: asyncio.Task) -> None:
        self._tasks.discard(t)
        if not t.cancelled() and t.exception() is not None:
            log.error("task %s failed", t.get_name(), exc_info=t.exception())

    def _refresh(self) -> None:
        """Derive state and error from the facts, and publish a change."""
        error = self._audio_error or self._backend_error or self._inject_error
        if not self.ready.is_set():
            state: State = "loading"
        elif self.recording is not None:
            state = "recording"
        elif error:
            state = "error"
        else:
            state = "idle"
        changed = state != self.state or error != self.error
        self.state, self.error = state, error
        if changed:
            self.bus.publish(StateChanged(state=state, error=error, at=time.time()))

    async def open_journal(self) -> None:
        """Open the history, settle what a crash left, and number from where it stopped."""
        await self.history.open()
        settled = await self.history.settle_after_crash()
        if settled:
            log.warning("%d phrase(s) were left mid-typing by a previous run; marked interrupted, not retyped", settled)
        last_seq, last_rec = await self.history.last_ids()
        spooled = self.spool.pending()
        if spooled:
            last_seq = max(last_seq, max(s.seq for s in spooled))
            last_rec = max(last_rec, max(s.recording for s in spooled))
        self._next_seq, self._last_recording = last_seq + 1, last_rec
        self.typist = Typist(
            self.injector,
            self.history,
            self.bus,
            first_seq=self._next_seq,
            focus_guard=self.settings.focus_guard,
            on_error=self._on_inject_error,
            notify=self.notify,
            pre_type_delay=self.settings.test_inject_delay,
        )
        self._spawn(self.typist.run(), "typist")

    async def load(self) -> None:
        """Load the model, warm the audio path, recover the spool; then become idle."""
        await asyncio.get_running_loop().run_in_executor(self._vad_pool, self._new_segmenter)  # loads the VAD
        await self.transcriber.load()
        warm = await self._mic.warm_up()
        if warm is not None:
            log.info("audio path warmed up: first block after %.2f s", warm)
        await self._recover()
        problem = self.injector.problem()
        if problem:
            self._inject_error = f"injector {self.injector.name}: {problem}"
            log.warning("%s", self._inject_error)
        self.ready.set()
        self._refresh()

    async def _recover(self) -> None:
        """Transcribe phrases a crash left in the spool into the history; never type them."""
        for item in self.spool.pending():
            try:
                audio = await asyncio.to_thread(read_wav, item.path)
                result = await self.transcriber.transcribe(audio)
            except (TranscribeError, OSError, EOFError, ValueError) as exc:
                log.warning("could not recover spooled phrase %d: %s", item.seq, exc)
                continue
            text, dropped, reason = judge(result.segments, speech_seconds=len(audio) / SAMPLE_RATE)
            await self.history.add(item.seq, item.recording, len(audio) / SAMPLE_RATE, None)
            await self.history.update(
                item.seq,
                status="recovered",
                text=clean(text or dropped, self.settings.replacements),
                transcribed_at=time.time(),
                note="recovered from the spool after a crash; not typed" + (f" (guard: {reason})" if reason else ""),
            )
            await self.spool.remove(item.seq, item.recording)
            log.info("recovered phrase %d from the spool", item.seq)

    async def shutdown(self, grace: float = 1.0) -> None:
        """Stop recording, give pending phrases a bounded time, then cancel the rest."""
        rec = self.recording
        if rec is not None:
            self._end(rec, cancel=False)
            await self._close(rec)
        if self.typist is not None:
            await self.typist.idle(grace)
        for t in list(self._tasks):
            t.cancel("server shutting down")
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=0.5)
        self._mic.shutdown()
        self._vad_pool.shutdown(wait=False, cancel_futures=True)
        await self.transcriber.close()
        if self._fallback is not None:
            await self._fallback.close()
        await self.history.close()

    # --- commands ---------------------------------------------------------------

    def current_state(self) -> str:
        """The state, for replies."""
        return self.state

    async def history_for_tail(self, n: int) -> list[BaseModel]:
        """Past entries as phrase events, for a new `tail`."""
        return [PhraseEvent(entry=e) for e in await self.history.recent(n)]

    async def handle(self, cmd: Command) -> BaseModel:
        """Carry out one command."""
        match cmd:
            case GetStatus():
                return self.status()
            case Toggle():
                return await (self.stop() if self.recording is not None else self.start())
            case Start():
                return await self.start()
            case Stop():
                return await self.stop()
            case Cancel():
                return await self.stop(cancel=True)
            case GetHistory(limit=limit):
                return HistoryReply(entries=await self.history.recent(limit))
            case Transcribe(paths=paths):
                return await self.transcribe_files(paths)
            case Paste():
                assert self.typist is not None
                n = await self.typist.paste()
                return Ok(state=self.state, message=f"typed {n} held phrase(s)")
            case Shutdown():
                self.stopping.set()
                return Ok(state=self.state, message="shutting down")
        return ErrorReply(code=ErrorCode.UNKNOWN_COMMAND, message=f"field 'type': {cmd.type} is not handled")

    def status(self) -> Status:
        """The `status` reply."""
        rec = self.recording
        return Status(
            state=self.state,
            pid=os.getpid(),
            version=__version__,
            model=self.transcriber.model_name,
            backend=self.transcriber.backend,
            injector=self.injector.name,
            pending=self.typist.pending if self.typist else 0,
            held=len(self.typist.held) if self.typist else 0,
            error=self.error,
            input_device=self.settings.input_device,
            recording_seconds=(time.time() - rec.started) if rec else 0.0,
            uptime=time.time() - self.started,
        )

    async def start(self) -> BaseModel:
        """Begin a recording; the microphone opens in the background so the hotkey returns at once."""
        if self.state == "loading":
            return ErrorReply(code=ErrorCode.NOT_READY, message="the model is still loading; try again in a moment")
        if self.recording is not None:
            return Ok(state=self.state, message="already recording")
        self._last_recording += 1
        rec = Recording(number=self._last_recording, started=time.time())
        self.recording = rec
        self._audio_error = None
        self._refresh()
        self._spawn(self._open(rec), f"open-{rec.number}")
        return Ok(state=self.state, message=f"recording {rec.number}")

    async def _open(self, rec: Recording) -> None:
        async with self._mic_lock:
            if self.recording is not rec:
                return  # stopped before the microphone opened
            # A segmenter per recording: a flush of the last one can never mix with this one.
            seg = await asyncio.get_running_loop().run_in_executor(self._vad_pool, self._new_segmenter)
            rec.task = self._spawn(self._segment(rec, seg), f"segment-{rec.number}")
            try:
                await self._mic.open()
            except AudioError as exc:
                rec.queue.put_nowait(None)
                self.recording = None
                self._fault(ErrorCode.AUDIO, str(exc))
                return
        self._spawn(self.notify("stt: listening", f"recording {rec.number}"), "notify")
        if self.settings.focus_guard:
            rec.window = await self.injector.focused_window()

    def _on_block(self, block: np.ndarray, now: float) -> None:
        rec = self.recording
        if rec is None:
            return
        if rec.t0 is None:
            rec.t0 = now - block.size / SAMPLE_RATE
            self.bus.publish(RecordingStarted(recording=rec.number, at=rec.t0))
        rec.samples += block.size
        rec.queue.put_nowait(block)

    def _on_fault(self, message: str) -> None:
        if self.recording is None:
            return
        rec = self.recording
        self._end(rec, cancel=False, fault=message)
        self._spawn(self._close(rec), f"close-{rec.number}")

    def _fault(self, code: ErrorCode, message: str) -> None:
        log.error("%s", message)
        self.bus.publish(Fault(code=code, message=message, at=time.time()))
        self._spawn(self.notify("stt: error", message, "critical"), "notify")
        if code == ErrorCode.AUDIO:
            self._audio_error = message
        self._refresh()

    def _on_inject_error(self, message: str | None) -> None:
        if message != self._inject_error:
            self._inject_error = message
            self._refresh()

    async def stop(self, cancel: bool = False) -> BaseModel:
        """End the recording; the tail of it is segmented and transcribed in the background."""
        if self.recording is None:
            return Ok(state=self.state, message="not recording")
        rec = self.recording
        self._end(rec, cancel=cancel)
        self._spawn(self._close(rec), f"close-{rec.number}")
        return Ok(state=self.state, message=("cancelled" if cancel else "stopped") + f" recording {rec.number}")

    def _end(self, rec: Recording, cancel: bool, fault: str | None = None) -> None:
        """The bookkeeping of a recording's end, done at once so replies see the new state."""
        self.recording = None
        if cancel:
            rec.cancelled = True
            assert self.typist is not None
            self.typist.cancel_recording(rec.number)
        if fault is not None:
            self._fault(ErrorCode.AUDIO, fault)
        else:
            self._refresh()
            self._spawn(self.notify("stt: stopped", "cancelled" if cancel else f"recording {rec.number}"), "notify")

    async def _close(self, rec: Recording) -> None:
        """Close the microphone, then let the segmenter flush the last phrase (unless cancelled)."""
        async with self._mic_lock:
            await self._mic.close()
            rec.queue.put_nowait(None)
            if rec.task is not None:
                await asyncio.wait({rec.task}, timeout=5.0)
        self.bus.publish(RecordingStopped(recording=rec.number, cancelled=rec.cancelled, at=time.time()))

    # --- the pipeline -------------------------------------------------------------

    def _new_segmenter(self) -> Segmenter:
        return Segmenter(
            StreamingVad(),
            threshold=self.settings.vad_threshold,
            pause=self.settings.pause,
            max_phrase=self.settings.max_phrase,
        )

    async def _segment(self, rec: Recording, seg: Segmenter) -> None:
        """Feed captured blocks through the VAD; act on the phrase events in order."""
        loop = asyncio.get_running_loop()
        while True:
            first = await rec.queue.get()
            blocks = [first]
            while not rec.queue.empty():
                blocks.append(rec.queue.get_nowait())
            end = any(b is None for b in blocks)
            audio = [b for b in blocks if b is not None]
            events = []
            if audio:
                events += await loop.run_in_executor(self._vad_pool, seg.feed, np.concatenate(audio))
            if end and not rec.cancelled:
                events += await loop.run_in_executor(self._vad_pool, seg.flush)
            if not rec.cancelled:
                for ev in events:
                    self._on_segment_event(rec, ev)
            if end:
                return

    def _on_segment_event(self, rec: Recording, ev) -> None:
        if isinstance(ev, Speculate):
            # Only speculate on an idle model: a wasted guess must not delay a real phrase.
            if self._inflight == 0:
                fut = asyncio.ensure_future(self._decode(ev.audio))
                fut.add_done_callback(lambda f: f.cancelled() or f.exception())
                rec.specs[ev.pid] = fut
        elif isinstance(ev, Retract):
            stale = rec.specs.pop(ev.pid, None)
            if stale is not None:
                stale.cancel()  # a remote request stops; a local decode finishes unseen
        elif isinstance(ev, Phrase):
            spec = rec.specs.pop(ev.pid, None) if ev.speculated else None
            seq = self._next_seq
            self._next_seq += 1
            assert self.typist is not None
            self.typist.expect(seq)
            self._spawn(self._phrase(rec, seq, ev, spec), f"phrase-{seq}")

    async def _decode(self, audio: np.ndarray):
        self._inflight += 1
        try:
            return await self.transcriber.transcribe(audio)
        finally:
            self._inflight -= 1

    async def _phrase(self, rec: Recording, seq: int, ph: Phrase, spec: asyncio.Future | None) -> None:
        """Journal, spool, transcribe, judge and hand one phrase to the typist."""
        assert self.typist is not None
        speech_end = (rec.t0 or rec.started) + ph.speech_end / SAMPLE_RATE
        delivered = False
        try:
            await self.history.add(seq, rec.number, len(ph.audio) / SAMPLE_RATE, speech_end)
            await self.spool.write(seq, rec.number, ph.audio)
            result = await self._transcribe(rec, seq, ph.audio, spec)
            if result is None:  # cancelled while it waited for a retry
                await self.spool.remove(seq, rec.number)
                return
            delay = self.settings.test_transcribe_delays.get(seq)
            if delay:
                await asyncio.sleep(delay)
            kept, dropped, reason = judge(result.segments, ph.speech_seconds)
            text = clean(kept, self.settings.replacements)
            status = "transcribed" if text else ("filtered" if dropped else "empty")
            await self.history.update(
                seq,
                status=status,
                text=text or clean(dropped),
                note=(f"filtered: {reason}" if reason else None),
                transcribed_at=time.time(),
            )
            # The transcript is durable now: hand it to the typist first, then tidy up
            # (the spool file and the event are off the path to the keyboard).
            self.typist.deliver(Ready(seq, rec.number, text or None, speech_end, rec.window))
            delivered = True
            await self.spool.remove(seq, rec.number)
            entry = await self.history.get(seq)
            if entry is not None and entry.status == "transcribed":
                self.bus.publish(PhraseEvent(entry=entry, latency=entry.transcribed_at - speech_end))
        finally:
            if not delivered:
                self.typist.deliver(Ready(seq, rec.number, None, speech_end))

    async def _transcribe(self, rec: Recording, seq: int, audio: np.ndarray, spec: asyncio.Future | None):
        """Transcribe, retrying with backoff until it works; None if the recording was cancelled.

        A phrase is never dropped for a failed call: its audio stays in the spool, later
        phrases wait behind it in the typist, and after `fallback_after` tries the
        embedded model may take over.
        """
        attempt = 0
        while True:
            try:
                result = await (spec if spec is not None else self._decode(audio))
                if attempt:
                    self._backend_error = None
                    self._refresh()
                return result
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if spec is None or (task is not None and task.cancelling()):
                    raise  # this task is being cancelled (shutdown)
                spec = None  # only the speculative guess was cancelled: decode for real
                continue
            except TranscribeError as exc:
                spec = None
                attempt += 1
                if rec.cancelled:
                    return None
                if self.settings.fallback == "local" and attempt >= self.settings.fallback_after and self.transcriber.backend != "local":
                    log.warning("phrase %d: %s; falling back to the embedded model", seq, exc)
                    return await (await self._fallback_model()).transcribe(audio)
                wait = min(0.5 * 2 ** (attempt - 1), 15.0)
                msg = f"transcription of phrase {seq} failed (try {attempt}): {exc}; retrying in {wait:g} s"
                log.warning("%s", msg)
                self._backend_error = msg
                self.bus.publish(Fault(code=ErrorCode.TRANSCRIBE_FAILED, message=msg, at=time.time()))
                self._refresh()
                await self.history.update(seq, note=msg)
                await asyncio.sleep(wait)
                if rec.cancelled:
                    return None

    async def _fallback_model(self) -> Transcriber:
        """The embedded model, loaded on first need."""
        async with self._fallback_lock:
            if self._fallback is None:
                from .transcriber import LocalWhisper

                model = LocalWhisper(self.settings.model_copy(update={"model": None}))
                await model.load()
                self._fallback = model
            return self._fallback

    async def transcribe_files(self, paths: list[str]) -> BaseModel:
        """`stt transcribe`: the warm model on whole files."""
        if not self.ready.is_set():
            return ErrorReply(code=ErrorCode.NOT_READY, message="the model is still loading; try again in a moment")
        out = []
        for path in paths:
            if not os.path.isabs(path):
                return ErrorReply(code=ErrorCode.INVALID_COMMAND, message=f"field 'paths': {path!r} is not an absolute path", field="paths")
            try:
                text, seconds, elapsed = await self.transcriber.transcribe_file(path)
            except TranscribeError as exc:
                return ErrorReply(code=ErrorCode.TRANSCRIBE_FAILED, message=str(exc), field="paths")
            out.append(FileTranscript(path=path, text=text, seconds=seconds, elapsed=elapsed))
        return Transcripts(files=out)


async def serve(settings: Settings, sock, transcriber: Transcriber, injector: Injector) -> int:
    """Run the daemon on an already-claimed socket until a signal or `shutdown`; return the exit code."""
    import signal

    from .ipc import ControlServer

    bus = EventBus()
    daemon = Daemon(settings, transcriber, injector, bus)
    control = ControlServer(sock, daemon, bus)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, daemon.stopping.set)
    await daemon.open_journal()
    await control.start()
    log.info("sttd %s listening (pid %d)", __version__, os.getpid())
    loader = asyncio.create_task(daemon.load(), name="load")
    stopper = asyncio.create_task(daemon.stopping.wait(), name="stopping")
    done, _ = await asyncio.wait({loader, stopper}, return_when=asyncio.FIRST_COMPLETED)
    code = 0
    if loader in done and loader.exception() is not None:
        exc = loader.exception()
        if isinstance(exc, ModelLoadError):
            log.error("%s", exc)
            code = 4
        else:
            log.error("start-up failed", exc_info=exc)
            code = 1
    elif loader in done:
        await stopper
    else:
        loader.cancel("server shutting down")
    log.info("shutting down")
    await control.close(grace=0.5)
    await daemon.shutdown(grace=0.8)
    return code
