"""The systemd user unit, checked by systemd itself."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.support.env import PYTHON, REPO, base_env, unique_socket_name


def test_install_service_writes_a_unit_systemd_accepts(tmp_path):
    env = base_env(unique_socket_name(), extra={"XDG_CONFIG_HOME": str(tmp_path)})
    r = subprocess.run([PYTHON, "-m", "stt_dictation.server", "--install-service"], cwd=REPO, env=env, capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r.stderr
    assert "systemctl --user enable --now sttd" in r.stdout
    unit = tmp_path / "systemd" / "user" / "sttd.service"
    text = unit.read_text()
    assert "Restart=on-failure" in text
    # Every exit that a restart cannot fix stops the restarts: configuration, a second instance,
    # the model, an unusable state directory (which restarted every 2 s forever before).
    from stt_dictation.protocol.wire import EXIT_CONFIG, EXIT_MODEL, EXIT_RUNNING, EXIT_STATE

    prevent = next(line for line in text.splitlines() if line.startswith("RestartPreventExitStatus="))
    assert sorted(map(int, prevent.split("=", 1)[1].split())) == sorted({EXIT_CONFIG, EXIT_RUNNING, EXIT_MODEL, EXIT_STATE})
    exec_start = next(line for line in text.splitlines() if line.startswith("ExecStart="))
    assert exec_start.split("=", 1)[1].split()[0].startswith("/")
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is missing: scripts/test installs the systemd package")
    v = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert v.returncode == 0, v.stderr
    assert "sttd.service" not in v.stderr, v.stderr  # no warning about our unit
