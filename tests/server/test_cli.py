"""cli (sttd's entry point): flags map to settings, --print-config names sources, and the one-line exits before serving.

Run in process: every case here returns before the heavy imports and `serve`.
"""

from __future__ import annotations

import os

import pytest

from stt_dictation.protocol.wire import EXIT_CONFIG, EXIT_OK, EXIT_RUNNING
from stt_dictation.server import cli
from stt_dictation.server.ipc import claim
from stt_dictation.server.settings import Settings
from tests.support.env import unique_socket_name


@pytest.fixture
def clean_env(tmp_path, monkeypatch):
    for name in [n for n in os.environ if n.startswith("STT_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    name = unique_socket_name()
    monkeypatch.setenv("STT_SOCKET", name)
    return name


def test_every_flag_key_is_a_parser_destination_and_a_setting():
    dests = {a.dest for a in cli.build_parser()._actions}
    assert set(cli.FLAG_KEYS) <= dests
    assert set(cli.FLAG_KEYS) <= set(Settings.model_fields)


def test_print_config_shows_each_value_with_its_source(clean_env, monkeypatch, capsys):
    monkeypatch.setenv("STT_BEAM_SIZE", "3")
    assert cli.main(["--print-config", "--pause", "0.8"]) == EXIT_OK
    out = capsys.readouterr().out.splitlines()
    assert "pause = 0.8  # command line" in out
    assert "beam_size = 3  # STT_BEAM_SIZE" in out


def test_a_bad_value_is_exit_2_with_a_line_naming_the_setting(clean_env, capsys):
    assert cli.main(["--print-config", "--pause", "99"]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert err.startswith("sttd: setting 'pause' = 99.0 (from command line)")


def test_a_bad_socket_name_is_exit_2(clean_env, monkeypatch, capsys):
    monkeypatch.setenv("STT_SOCKET", "/abs/path")
    assert cli.main([]) == EXIT_CONFIG
    assert "expected an abstract socket name" in capsys.readouterr().err


def test_a_held_socket_is_exit_3_naming_the_holder(clean_env, capsys):
    held = claim("\0" + clean_env)
    try:
        assert cli.main([]) == EXIT_RUNNING
    finally:
        held.close()
    err = capsys.readouterr().err
    assert f"already running as pid {os.getpid()}" in err and "stt shutdown" in err
