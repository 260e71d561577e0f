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

    @property
    def text(self) -> str:
        """All segment texts joined."""
        return " ".join(s.text.strip() for s in self.segments if s.text.strip())


class Transcriber(ABC):
    """Anything that turns 16 kHz mono float32 audio into text."""

    backend: str = "local"
    """`local` or a remote URI without secrets, for `stt status`."""
    model_name: str = ""
    """What `stt status` shows as the model."""

    @abstractmethod
    async def load(self) -> None:
        """Get ready; raise ModelLoadError when that is impossible."""

    @abstractmethod
    async def transcribe(self, audio: np.ndarray) -> Transcript:
        """Transcribe one phrase."""

    @abstractmethod
    async def transcribe_file(self, path: str) -> tuple[str, float, float]:
        """(text, audio seconds, elapsed) for an audio file of any common format."""

    async def close(self) -> None:
        """Release resources."""
