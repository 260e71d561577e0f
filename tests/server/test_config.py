"""Configuration: flags over STT_* variables over the file over defaults, and one-line errors."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from stt_dictation.server.config import ConfigError, configurable, env_name, load, render
from tests.support.env import PYTHON, REPO, base_env, unique_socket_name

# Each option, a value for the file, the environment and the command line, all different from the default.
VALUES = {
    "model": ("/models/a", "/models/b", "/models/c"),
    "device": ("cpu", "cuda", "auto"),
    "compute_type": ("int8", "float16", "int8_float32"),
    "language": ("de", "fr", "es"),
    "initial_prompt": ("Kubernetes", "PostgreSQL", "Wyoming"),
    "beam_size": (2, "3", 4),
    "injector": ("stdout", "wtype", "xdotool"),
    "type_delay_ms": (3, "4", 5),
    "input_device": ("mic-a", "mic-b", "7"),
    "pause": (0.6, "0.7", 0.8),
    "max_phrase": (8.0, "9", 10.0),
    "notifications": (True, "false", True),
    "focus_guard": (False, "true", False),
    "remote": ("tcp://a:1", "unix:///b.sock", "http://127.0.0.1:8000/v1"),
    "remote_timeout": (3.0, "4", 5.0),
    "log_level": ("debug", "warning", "error"),
    "allow_sandboxed_clients": (True, "false", True),
    "context_chars": (100, "0", 300),
    "leading_space": ("always", "never", "auto"),
}


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"'
    return str(v)


def write(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "config.toml"
    p.write_text(body)
    return p


@pytest.mark.parametrize("key", sorted(VALUES))
def test_each_option_from_each_source_in_precedence_order(tmp_path, key):
    file_v, env_v, flag_v = VALUES[key]
    cfg = write(tmp_path, f"{key} = {toml_value(file_v)}\n")
    env = {env_name(key): str(env_v)}
    only_file = load({}, config_path=cfg, environ={})
    assert only_file.sources[key] == f"file {cfg}"
    file_and_env = load({}, config_path=cfg, environ=env)
    assert file_and_env.sources[key] == env_name(key)
    all_three = load({key: flag_v}, config_path=cfg, environ=env)
    assert all_three.sources[key] == "command line"
    got = [getattr(x.settings, key) for x in (only_file, file_and_env, all_three)]
    assert got[0] != got[1] != got[2], got
    assert load({}, environ={"XDG_CONFIG_HOME": str(tmp_path / "none")}).sources[key] == "default"


def test_vocabulary_from_file_and_environment(tmp_path):
    cfg = write(tmp_path, 'vocabulary = ["Kubernetes", "PostgreSQL"]\n')
    assert load({}, config_path=cfg, environ={}).settings.vocabulary == ["Kubernetes", "PostgreSQL"]
    assert load({}, config_path=cfg, environ={"STT_VOCABULARY": '["Grafana"]'}).settings.vocabulary == ["Grafana"]
    with pytest.raises(ConfigError, match="STT_VOCABULARY.*JSON list"):
        load({}, config_path=cfg, environ={"STT_VOCABULARY": "Grafana, Loki"})


def test_replacements_from_file_and_environment(tmp_path):
    cfg = write(tmp_path, 'replacements = { "new paragraph" = " ", "stt" = "STT" }\n')
    assert load({}, config_path=cfg, environ={}).settings.replacements == {"new paragraph": " ", "stt": "STT"}
    env = {"STT_REPLACEMENTS": '{"comma": ","}'}
    assert load({}, config_path=cfg, environ=env).settings.replacements == {"comma": ","}
    with pytest.raises(ConfigError, match="STT_REPLACEMENTS"):
        load({}, config_path=cfg, environ={"STT_REPLACEMENTS": "not json"})


@pytest.mark.parametrize(
    "body, says",
    [
        ("paws = 0.5\n", "unknown key 'paws'"),
        ("pause = 99\n", "setting 'pause' = 99 (from file"),
        ('injector = "telepathy"\n', "setting 'injector' = 'telepathy'"),
        ('remote = "ftp://x"\n', "setting 'remote'"),
        ("pause = [\n", "not valid TOML"),
        ('language = "english!"\n', "setting 'language'"),
    ],
)
def test_bad_values_are_one_clear_line(tmp_path, body, says):
    cfg = write(tmp_path, body)
    with pytest.raises(ConfigError) as err:
        load({}, config_path=cfg, environ={})
    assert says in str(err.value)
    assert all("\n" not in line for line in err.value.lines)


def test_remote_credentials_never_shown(tmp_path):
    loaded = load({"remote": "https://user:hunter2@example.org/v1"}, environ={"XDG_CONFIG_HOME": str(tmp_path)})
    assert "hunter2" not in render(loaded)


def test_every_configurable_key_is_rendered(tmp_path):
    out = render(load({}, environ={"XDG_CONFIG_HOME": str(tmp_path)}))
    for key in configurable():
        assert key in out


def sttd(*args: str, env: dict | None = None, timeout: float = 20) -> subprocess.CompletedProcess:
    full = base_env(unique_socket_name(), extra=env)
    return subprocess.run([PYTHON, "-m", "stt_dictation.server", *args], cwd=REPO, env=full, capture_output=True, text=True, timeout=timeout)


def test_sttd_refuses_a_bad_config_with_exit_2_and_one_line(tmp_path):
    cfg = write(tmp_path, "pause = 99\n")
    r = sttd("--config", str(cfg))
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "pause" in r.stderr and "99" in r.stderr
    assert "Traceback" not in r.stderr
    r = sttd(env={"STT_BEAM_SIZE": "many", "XDG_CONFIG_HOME": str(tmp_path / "x")})
    assert r.returncode == 2 and "STT_BEAM_SIZE" in r.stderr


def test_print_config_shows_values_and_their_sources(tmp_path):
    (tmp_path / "stt").mkdir()
    (tmp_path / "stt" / "config.toml").write_text("pause = 0.7\n")
    r = sttd("--print-config", "--language", "de", env={"XDG_CONFIG_HOME": str(tmp_path), "STT_BEAM_SIZE": "2"})
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert 'language = "de"  # command line' in lines
    assert "beam_size = 2  # STT_BEAM_SIZE" in lines
    assert any(line.startswith("pause = 0.7  # file ") for line in lines)
    assert "max_phrase = 12.0  # default" in lines


def test_each_profile_has_its_own_state_directory_unless_one_is_set(tmp_path, monkeypatch):
    import os

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))

    def state_dir(socket: str, **environ) -> Path:
        return load({}, environ={"XDG_CONFIG_HOME": str(tmp_path / "none"), **environ}, fixed={"socket": socket}).settings.state_dir

    assert state_dir(f"\0stt-{os.getuid()}") == state_dir("") == tmp_path / "stt"  # the default socket
    assert state_dir("\0stt-work") == tmp_path / "stt" / "profiles" / "stt-work"
    odd = state_dir("\0../a b/c")  # one path component below profiles/, whatever the name
    assert odd.parent == tmp_path / "stt" / "profiles" and odd.name == "%2E.%2Fa%20b%2Fc"
    assert state_dir("\0stt-work", STT_STATE_DIR=str(tmp_path / "mine")) == tmp_path / "mine"  # set: it wins


def test_print_config_shows_the_profile_s_state_directory(tmp_path):
    env = {"XDG_CONFIG_HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path / "xs"), "STT_SOCKET": "stt-print-me"}
    r = sttd("--print-config", env=env)
    assert r.returncode == 0, r.stderr
    assert f'state_dir = "{tmp_path / "xs" / "stt" / "profiles" / "stt-print-me"}"  # default' in r.stdout.splitlines()


def test_help_is_complete_with_examples():
    r = sttd("--help")
    assert r.returncode == 0
    for flag in ("--model", "--device", "--compute-type", "--language", "--injector", "--input-device", "--remote", "--print-config", "--install-service", "examples:", "exit codes"):
        assert flag in r.stdout
