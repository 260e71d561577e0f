"""`make_remote`: one constructor path from the settings to the right protocol's transcriber."""

from __future__ import annotations

import logging

import pytest
from pydantic import ValidationError

from stt_dictation.server.openai_client import OpenAITranscriber
from stt_dictation.server.remote_factory import make_remote
from stt_dictation.server.settings import Settings
from stt_dictation.server.wyoming_client import WyomingTranscriber
from tests.support.speech_servers import remote


def test_make_remote_picks_the_protocol_and_takes_the_settings():
    w = remote("unix:///tmp/x.sock", language="en", remote_model="tiny-int8", remote_timeout=3, max_in_flight=4)
    assert isinstance(w, WyomingTranscriber) and w.model_name == "tiny-int8" and w.backend == "unix:///tmp/x.sock"
    assert (w.language, w.timeout, w._in_flight._value) == ("en", 3.0, 4)
    o = remote("http://127.0.0.1:9/v1", language=None, initial_prompt="Kubernetes", remote_timeout=3)
    assert isinstance(o, OpenAITranscriber) and o.language is None and o.timeout == 3
    assert o.initial_prompt == "Kubernetes" and o.model == "whisper-1" and o._in_flight._value == 2
    # The settings refuse an unusable URI; make_remote refuses it too when handed one anyway.
    with pytest.raises(ValidationError, match="expected tcp://HOST:PORT"):
        remote("mqtt://broker:1883")
    with pytest.raises(ValueError, match="expected tcp://HOST:PORT"):
        make_remote(Settings.model_construct(remote="mqtt://broker:1883"))


def test_backend_strips_secrets():
    tr = remote("https://alice:sk-uri-secret@api.example.com/v1?api-key=q-secret", language="en", remote_timeout=5)
    assert tr.backend == "https://api.example.com/v1" and tr.model_name == "whisper-1"
    assert "sk-uri-secret" not in repr(tr.target) and "q-secret" not in repr(tr.target)


def test_an_api_key_file_for_a_wyoming_server_is_only_warned_about(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="stt_dictation.server.remote_factory")
    t = remote("tcp://127.0.0.1:10300", api_key_file=tmp_path / "absent")
    assert isinstance(t, WyomingTranscriber)
    assert "an API key file means nothing to a Wyoming server (tcp://127.0.0.1:10300)" in caplog.text


def test_plain_http_to_another_host_warns_once_and_loopback_does_not(caplog):
    caplog.set_level(logging.WARNING, logger="stt_dictation.server.openai_client")
    remote("http://127.0.0.1:8000/v1", remote_timeout=3)
    remote("http://localhost:8000/v1", remote_timeout=3)
    remote("https://whisper.example.com/v1", remote_timeout=3)
    assert "unencrypted" not in caplog.text
    # Constructing does not connect, so no traffic goes to this documentation address.
    remote("http://192.0.2.7:8000/v1", remote_timeout=3)
    assert caplog.text.count("unencrypted") == 1 and "http://192.0.2.7:8000/v1" in caplog.text
