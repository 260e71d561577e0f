"""sttd: the dictation daemon."""

from ..protocol.wire import __version__

__all__ = ["__version__"]
