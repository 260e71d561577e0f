"""The one place a remote transcriber is built: the protocol comes from the `--remote` URI's scheme."""

from __future__ import annotations

import logging

from .openai_client import OpenAITranscriber
from .remote_base import RemoteTranscriber
from .remote_uri import parse_remote
from .settings import Settings
from .wyoming_client import WyomingTranscriber

log = logging.getLogger(__name__)


def make_remote(settings: Settings) -> RemoteTranscriber:
    """The transcriber for `settings.remote`; ValueError (with what is expected) for a URI it cannot use."""
    target = parse_remote(settings.remote or "")
    if target.protocol == "wyoming":
        if settings.api_key_file:
            log.warning("an API key file means nothing to a Wyoming server (%s); it is not read", target.display)
        return WyomingTranscriber(target, settings)
    return OpenAITranscriber(target, settings)
