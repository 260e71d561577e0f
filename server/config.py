"""Where settings come from: flags, then `STT_*` variables, then the TOML file, then defaults.

Every value remembers its source so `sttd --print-config` can show it, and every
mistake becomes one line naming the key, the value, where it came from and what
is allowed.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .remote_uri import display_uri
from .settings import Settings

NOT_CONFIGURABLE = frozenset({"socket"})
"""Fields set by the entry point or by test hooks, never by the user's configuration."""


class ConfigError(Exception):
    """A configuration mistake, as lines a person can act on."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


def default_config_path(environ: dict[str, str] | None = None) -> Path:
    """`$XDG_CONFIG_HOME/stt/config.toml`, falling back to `~/.config/stt/config.toml`."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "stt" / "config.toml"


def configurable() -> list[str]:
    """Keys a user may set."""
    return [k for k in Settings.model_fields if k not in NOT_CONFIGURABLE]


def env_name(key: str) -> str:
    """The environment variable for a key: `pause` -> `STT_PAUSE`."""
    return "STT_" + key.upper()


@dataclass(frozen=True)
class Loaded:
    """Validated settings and the source of every value."""

    settings: Settings
    sources: dict[str, str]


def _read_file(path: Path, explicit: bool) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        if explicit:
            raise ConfigError([f"config file {path} does not exist"]) from None
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: not valid TOML: {exc}"]) from None
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc}"]) from None
    allowed = configurable()
    unknown = [k for k in data if k not in allowed]
    if unknown:
        raise ConfigError([f"{path}: unknown key '{k}'; allowed keys: {', '.join(allowed)}" for k in unknown])
    return data


def _read_env(environ: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in configurable():
        raw = environ.get(env_name(key))
        if raw is None:
            continue
        if key in ("replacements", "vocabulary"):
            try:
                out[key] = json.loads(raw)
            except json.JSONDecodeError:
                what = "object of spoken form to written form" if key == "replacements" else "list of words"
                raise ConfigError([f"{env_name(key)}={raw!r}: expected a JSON {what}"]) from None
        else:
            out[key] = raw
    return out


def load(
    flags: dict[str, Any],
    *,
    config_path: Path | None = None,
    environ: dict[str, str] | None = None,
    fixed: dict[str, Any] | None = None,
) -> Loaded:
    """Merge the sources, validate once, and report every bad value as its own line."""
    env = dict(os.environ if environ is None else environ)
    path = config_path or default_config_path(env)
    layers = [
        (f"file {path}", _read_file(path, explicit=config_path is not None)),
        ("environment", _read_env(env)),
        ("command line", {k: v for k, v in flags.items() if v is not None}),
    ]
    merged: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for name, layer in layers:
        for key, value in layer.items():
            merged[key] = value
            sources[key] = env_name(key) if name == "environment" else name
    merged.update(fixed or {})
    try:
        settings = Settings(**merged)
    except ValidationError as exc:
        lines = []
        for err in exc.errors(include_url=False):
            key = str(err["loc"][0]) if err["loc"] else "?"
            value = merged.get(key, err.get("input"))
            if key == "remote":
                value = display_uri(str(value))  # a URI may carry credentials
            lines.append(f"setting '{key}' = {value!r} (from {sources.get(key, 'defaults')}): {err['msg']}")
        raise ConfigError(lines) from None
    for key in Settings.model_fields:
        sources.setdefault(key, "default")
    return Loaded(settings, sources)


def render(loaded: Loaded) -> str:
    """The effective configuration as TOML-like lines, each with its source."""
    lines = []
    data = loaded.settings.model_dump(mode="json")
    if data.get("remote"):
        data["remote"] = display_uri(data["remote"])
    for key in configurable():
        value = data[key]
        if value is None:
            lines.append(f"# {key} is unset  ({loaded.sources[key]})")
        else:
            lines.append(f"{key} = {json.dumps(value, ensure_ascii=False)}  # {loaded.sources[key]}")
    return "\n".join(lines)
