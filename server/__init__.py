"""sttd: the dictation daemon."""

__version__ = "0.1.0"
