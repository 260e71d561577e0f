"""LocalWhisper's loading on the real embedded model."""

from __future__ import annotations

import logging

from stt_dictation.server.settings import Settings
from stt_dictation.server.transcriber import LocalWhisper
from stt_dictation.server.wav import decode_file
from tests.support.dictation import SHORT


def test_the_warm_up_decode_runs_once_not_through_every_fallback_temperature(caplog):
    """Silence fails the log-probability check at every temperature: six decodes at start-up instead of one."""
    model = LocalWhisper(Settings(device="cpu"))
    with caplog.at_level(logging.DEBUG, logger="faster_whisper"):
        model.load_blocking()
    decodes = [r for r in caplog.records if r.name == "faster_whisper" and r.getMessage().startswith("Processing segment")]
    fallbacks = [r for r in caplog.records if "is not met with temperature" in r.getMessage() and "temperature 0.0 " not in r.getMessage()]
    assert len(decodes) == 1 and not fallbacks, [r.getMessage() for r in caplog.records]
    assert "glad to see you" in model.decode(decode_file(str(SHORT))).text.lower()  # and it is ready for speech
