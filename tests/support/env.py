"""How tests start `sttd` and `stt`: the commands, a private socket name, a scrubbed environment."""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
_BIN = Path(sys.executable).parent

SERVER_CMD: list[str] = [str(_BIN / "sttd")] if (_BIN / "sttd").exists() else [PYTHON, "-m", "stt_dictation.server"]
"""How `sttd` is started (the installed script, else `python -m stt_dictation.server`)."""
CLIENT_CMD: list[str] = [str(_BIN / "stt")] if (_BIN / "stt").exists() else [PYTHON, "-m", "stt_dictation.client.cli"]
"""How `stt` is started."""

NOT_RUNNING = "sttd is not running; start it with: sttd"

# Variables of the developer's environment that would change what a test server does.
_SCRUB = ("STT_SOCKET", "STT_STATE_DIR", "STT_TEST_TRANSCRIBE_DELAYS", "STT_TEST_INJECT_DELAY")


def unique_socket_name() -> str:
    """A fresh abstract socket name no other test (or run) uses."""
    return f"stt-test-{uuid.uuid4().hex[:16]}"


def base_env(socket_name: str, state_root: Path | None = None, extra: dict[str, str | None] | None = None) -> dict[str, str]:
    """The environment for a server or client of `socket_name`; `extra` wins (None values delete)."""
    env = {k: v for k, v in os.environ.items() if k not in _SCRUB}
    env["STT_SOCKET"] = socket_name
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.setdefault("HF_HUB_OFFLINE", "1")
    if state_root is not None:
        env["STT_STATE_DIR"] = str(state_root / "state")
        env["XDG_STATE_HOME"] = str(state_root / "xdg-state")
    for k, v in (extra or {}).items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return env


def setpriv_cmd(uid: int = 65534) -> list[str]:
    """The prefix that runs a command as `uid` with no supplementary groups."""
    return ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]


__all__ = ["CLIENT_CMD", "NOT_RUNNING", "PYTHON", "REPO", "SERVER_CMD", "base_env", "setpriv_cmd", "unique_socket_name"]
