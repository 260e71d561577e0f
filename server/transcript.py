"""What every transcriber promises, local or remote: the interface, its result and its errors.

Kept apart from any backend so that the guard, the pipeline and the remote clients
can name these types without importing a model, a settings object or each other.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np


class ModelLoadError(Exception):
    """The model could not be loaded; the server cannot work."""


class TranscribeError(Exception):
    """One call failed; the phrase is kept and may be retried."""


@dataclass(frozen=True)
class SegmentScore:
    """What the model reported about one decoded segment."""

    text: str
    no_speech_prob: float
    avg_logprob: float
    compression_ratio: float


@dataclass(frozen=True)
class Transcript:
    """What a transcriber returns for one piece of audio."""

    segments: list[SegmentScore] = field(default_factory=list)
    elapsed: float = 0.0
    after_lead: bool = False
    """The text follows a `Lead`'s: it starts with the mark between the two phrases, if any."""

    @property
    def text(self) -> str:
        """All segment texts joined."""
        return " ".join(s.text.strip() for s in self.segments if s.text.strip())


@dataclass(frozen=True, eq=False)
class Lead:
    """The phrase before, decoded again in front of this one so the model hears across the pause.

    The transcriber decodes `audio` followed by the phrase with `text` forced as the start
    of the transcript (faster-whisper's prefix) and returns only what follows it: the
    punctuation between the two phrases and the new phrase's words, in the case that
    continues the sentence. `seq` names the phrase it came from.
    """

    seq: int
    audio: np.ndarray
    text: str


class Transcriber(ABC):
    """Anything that turns 16 kHz mono float32 audio into text."""

    backend: str = "local"
    """`local` or a remote URI without secrets, for `stt status`."""
    model_name: str = ""
    """What `stt status` shows as the model."""
    takes_prompt: bool = True
    """Whether a prompt reaches the model; where none can (Wyoming), no phrase waits for its context."""
    takes_lead: bool = False
    """Whether `transcribe` can decode a phrase after the one before it (a `Lead`): the local model only."""

    @abstractmethod
    async def load(self) -> None:
        """Get ready; raise ModelLoadError when that is impossible."""

    @abstractmethod
    async def transcribe(self, audio: np.ndarray, prompt: str | None = None, lead: Lead | None = None) -> Transcript:
        """Transcribe one phrase; `prompt` is the text said before it (context), if any; `lead` only where `takes_lead`."""

    @abstractmethod
    async def transcribe_file(self, path: str) -> tuple[str, float, float]:
        """(text, audio seconds, elapsed) for an audio file of any common format."""

    async def close(self) -> None:
        """Release resources."""


def full_prompt(configured: str | None, context: str | None, vocabulary: list[str] | None = None) -> str | None:
    """The prompt a model gets: the configured one (and the vocabulary where no hotwords exist), then the context."""
    words = ", ".join(w.strip() for w in vocabulary or [] if w.strip())
    parts = [p.strip() for p in (configured, words and words + ".", context) if p and p.strip()]
    return " ".join(parts) or None
