"""Runs a section by name with its inputs: measurements that several sections use are taken once, here, and passed on.

The virtual microphone's latency, the live pass over the clips and their offline
analyses are measured by the first section that needs them, in the run order of
scripts/bench (speech, accuracy, keepup, remote); a later section that can use one
is given it, so nothing is measured twice.
"""

from __future__ import annotations

from . import offline
from .common import SectionResult, log, ms
from .rig import Rig
from .sections import accuracy, hotkey, idle, keepup, live, remote, speech, start, typing_speed


class Runner:
    """The rig, the options of scripts/bench, the clips, and the measurements taken so far."""

    def __init__(self, rig: Rig, opts, clips, all_clips) -> None:
        self.rig = rig
        self.opts = opts
        self.clips = clips
        self.all_clips = all_clips
        self.mic: dict | None = None
        """The virtual microphone's play -> capture latency (speech, remote; keepup subtracts it when known)."""
        self.live: dict | None = None
        """The local live pass over `clips` (speech, accuracy; remote compares with it when known)."""
        self.analyses: list[offline.ClipAnalysis] | None = None
        """The offline analysis of each clip (speech; accuracy adds their WER when known)."""

    def run(self, name: str) -> SectionResult:
        return getattr(self, f"_{name}")()

    @property
    def pause(self) -> float:
        """The server's pause that ends a phrase (default settings, as the rig's sttd runs)."""
        return offline.settings().pause

    def _mic_latency(self) -> dict:
        if self.mic is None:
            self.mic = live.mic_latency(self.rig, self.opts.workdir, reps=3 if self.opts.quick else 5)
        return self.mic

    def _live(self) -> dict:
        if self.live is None:
            self.live = live.live_clips(self.rig, self.clips, self.pause)
        return self.live

    def _hotkey(self) -> SectionResult:
        return hotkey.run(self.rig, self.opts.hotkey_n)

    def _start(self) -> SectionResult:
        return start.run(self.rig, self.opts.start_n)

    def _idle(self) -> SectionResult:
        return idle.run(self.rig, self.opts.idle_seconds, self.opts.silence_seconds)

    def _typing(self) -> SectionResult:
        return typing_speed.run(self.rig, self.all_clips, self.opts.typing_reps)

    def _speech(self) -> SectionResult:
        log("measuring the virtual microphone's own latency")
        mic = self._mic_latency()
        log(f"virtual microphone latency {ms(mic['median_s'])}; playing {len(self.clips)} clip(s) through it")
        live_pass = self._live()
        log("offline: segmenting each clip like the server and timing the model on its last phrase and on the whole clip")
        if self.analyses is None:
            self.analyses = [offline.analyse_clip(c, self.opts.decode_reps) for c in self.clips]
        return speech.run(self.rig, self.clips, self.all_clips, self.pause, mic, live_pass, self.analyses, self.opts.decode_reps)

    def _accuracy(self) -> SectionResult:
        if self.live is None:
            log("accuracy: running the live clips (speech section not selected)")
        return accuracy.run(self.rig, self.clips, self._live(), self.analyses)

    def _keepup(self) -> SectionResult:
        mic_s = self.mic["median_s"] if self.mic is not None else None
        return keepup.run(self.rig, self.all_clips, self.opts.keepup_seconds, self.opts.workdir, mic_s)

    def _remote(self) -> SectionResult:
        return remote.run(self.rig, self.clips, self.pause, self.opts.workdir, self._mic_latency(), self.live)
