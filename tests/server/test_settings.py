"""settings: laptop defaults, validation errors that name the field, empty means unset, a state directory per profile."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from stt_dictation.server.settings import Settings
from stt_dictation.server.window_class import TERMINALS


def _fields(exc: ValidationError) -> set[str]:
    return {str(e["loc"][0]) for e in exc.errors()}


def test_defaults_suit_a_laptop_without_a_gpu(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    s = Settings()
    assert (s.device, s.injector, s.hotkey, s.remote, s.language) == ("auto", "auto", None, None, "en")
    assert s.terminal_classes == list(TERMINALS)
    assert s.state_dir == tmp_path / "stt"


@pytest.mark.parametrize(
    "field, value",
    [("beam_size", 0), ("pause", 9.0), ("injector", "telepathy"), ("language", "english!"), ("remote", "ftp://x"), ("hotkey", "ctrl+")],
)
def test_a_bad_value_names_its_field(field, value):
    with pytest.raises(ValidationError) as info:
        Settings(**{field: value})
    assert _fields(info.value) == {field}


def test_unknown_settings_are_refused():
    with pytest.raises(ValidationError) as info:
        Settings(colour="blue")
    assert _fields(info.value) == {"colour"}


def test_empty_strings_are_unset_and_language_auto_is_detection():
    s = Settings(model="", remote="", hotkey="", language="auto")
    assert (s.model, s.remote, s.hotkey, s.language) == (None, None, None, None)
    assert Settings(language="DE").language == "de"


def test_each_profile_gets_its_own_state_dir_unless_one_is_set(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert Settings(socket="\0work").state_dir == tmp_path / "stt" / "profiles" / "work"
    assert Settings(socket="\0work", state_dir="").state_dir == tmp_path / "stt" / "profiles" / "work"
    assert Settings(socket="\0work", state_dir=tmp_path / "mine").state_dir == tmp_path / "mine"


def test_paths_expand_the_home_directory(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert Settings(state_dir="~/st").state_dir == tmp_path / "st"
    assert Settings(api_key_file="~/key").api_key_file == Path(tmp_path / "key")


def test_settings_are_frozen():
    with pytest.raises(ValidationError):
        Settings().beam_size = 3  # type: ignore[misc]
