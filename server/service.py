"""The systemd user unit that keeps sttd running for a desktop session."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

UNIT_NAME = "sttd.service"
TRAY_UNIT_NAME = "stt-tray.service"
TRAY_DESKTOP_NAME = "stt-tray.desktop"


def unit_text(exec_path: str, config: Path | None = None) -> str:
    """The unit: restart on failure, but never loop on a bad config, a second instance, a missing model or an unusable state directory."""
    cmd = exec_path + (f" --config {config}" if config else "")
    return f"""[Unit]
Description=stt dictation daemon (speech to text into the focused window)
Documentation=https://pypi.org/project/stt-dictation/
PartOf=graphical-session.target
After=graphical-session.target

[Service]
Type=simple
ExecStart={cmd}
Restart=on-failure
RestartSec=2
# 2: bad configuration, 3: already running, 4: model failed to load, 5: state directory unusable.
# Restarting cannot fix these.
RestartPreventExitStatus=2 3 4 5
# Logs go to the journal through stderr: journalctl --user -u sttd
StandardOutput=journal
StandardError=journal

[Install]
WantedBy=graphical-session.target
"""


def tray_unit_text(stt: str) -> str:
    """The tray's unit: starts with the panel's session, after sttd; restarts if it crashes."""
    return f"""[Unit]
Description=stt tray icon (StatusNotifierItem for sttd)
PartOf=graphical-session.target
After=graphical-session.target sttd.service

[Service]
Type=simple
ExecStart={stt} tray
Restart=on-failure
RestartSec=2

[Install]
WantedBy=graphical-session.target
"""


def tray_desktop_text(stt: str) -> str:
    """An XDG autostart entry for the tray, for sessions without graphical-session.target."""
    return f"""[Desktop Entry]
Type=Application
Name=stt tray
Comment=Tray icon and menu for the stt dictation daemon
Exec={stt} tray
Icon=audio-input-microphone
Terminal=false
NoDisplay=true
X-GNOME-Autostart-enabled=true
"""


def stt_path(sttd: str) -> str:
    """The `stt` beside this sttd, so the tray runs the same installation."""
    beside = Path(sttd).with_name("stt")
    if beside.exists():
        return str(beside)
    return shutil.which("stt") or f"{sys.executable} -m stt_dictation.client.cli"


def unit_path() -> Path:
    """`$XDG_CONFIG_HOME/systemd/user/sttd.service`."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "systemd" / "user" / UNIT_NAME


def sttd_path() -> str:
    """The absolute path of this sttd, so the unit runs the same installation."""
    here = Path(sys.argv[0])
    if here.name == "sttd" and here.exists():
        return str(here.resolve())
    return shutil.which("sttd") or f"{sys.executable} -m server"


def install(config: Path | None = None) -> str:
    """Write the unit and return what to run next."""
    path = unit_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    sttd = sttd_path()
    path.write_text(unit_text(sttd, config.resolve() if config else None))
    tray = path.with_name(TRAY_UNIT_NAME)
    tray.write_text(tray_unit_text(stt_path(sttd)))
    desktop = path.parent.parent.parent / "stt" / TRAY_DESKTOP_NAME  # inert until copied to autostart/
    desktop.parent.mkdir(parents=True, exist_ok=True)
    desktop.write_text(tray_desktop_text(stt_path(sttd)))
    return (
        f"wrote {path}\n"
        "enable and start it with:\n"
        "  systemctl --user daemon-reload && systemctl --user enable --now sttd\n"
        f"wrote {tray} for the tray icon (stt tray); enable it with:\n"
        "  systemctl --user enable --now stt-tray\n"
        f"  or, where the session has no graphical-session.target: cp {desktop} {desktop.parent.parent / 'autostart'}/\n"
        "(so sttd can type, the user manager needs DISPLAY or WAYLAND_DISPLAY: most desktops import them;\n"
        " otherwise: systemctl --user import-environment DISPLAY WAYLAND_DISPLAY)"
    )
