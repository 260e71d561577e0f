"""`auto` per desktop, the handover when a desktop refuses a backend, and the /dev/uinput check.

Tools are stand-ins on PATH that record their calls; a stand-in wtype can answer as
wtype does on GNOME and KDE ("Compositor does not support the virtual keyboard protocol").
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile

import pytest

from stt_dictation.server import desktop
from stt_dictation.server.desktop import Desktop, detect, uinput_problem
from stt_dictation.server.injector import ChainInjector, InjectError, NullInjector, Refused, choose

REFUSAL = "Compositor does not support the virtual keyboard protocol"

_TOOL = """#!{python}
import json, os, sys
data = sys.stdin.buffer.read().decode() if not sys.stdin.isatty() else ""
with open(os.environ["FAKE_TOOL_LOG"], "a") as f:
    f.write(json.dumps({{"tool": os.path.basename(sys.argv[0]), "argv": sys.argv[1:], "stdin": data}}) + "\\n")
answer = os.environ.get("FAKE_" + os.path.basename(sys.argv[0]).upper().replace("-", "_"))
if answer:
    sys.stderr.write(answer + "\\n")
    sys.exit(1)
"""


@pytest.fixture
def tools(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("xdotool", "wtype", "dotool", "ydotool", "wl-copy", "wl-paste", "xclip"):
        tool = bin_dir / name
        tool.write_text(_TOOL.format(python=sys.executable))
        tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / "calls.jsonl"
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("FAKE_TOOL_LOG", str(log))
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-test-none")
    monkeypatch.setattr(desktop, "UINPUT", str(tmp_path / "no-uinput"))

    def calls(tool=None):
        rows = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        return [r for r in rows if tool is None or r["tool"] == tool]

    return calls


def wayland(compositor: str, family: str) -> Desktop:
    return Desktop("wayland", compositor, family, "test")


@pytest.mark.parametrize(
    "desk, uinput, first",
    [
        (wayland("sway", "wlroots"), False, "wtype"),
        (wayland("hyprland", "wlroots"), False, "wtype"),
        (wayland("mutter", "gnome"), False, "mutter"),
        (wayland("kwin_wayland", "kde"), False, "clipboard"),  # dotool and ydotool are installed, but no uinput
        (wayland("kwin_wayland", "kde"), True, "dotool"),
        (wayland("unknown", "other"), False, "wtype"),
        (Desktop("x11", "", "x11", "test"), False, "xdotool"),
    ],
)
def test_auto_picks_per_desktop(tools, monkeypatch, desk, uinput, first):
    monkeypatch.setenv("DISPLAY", ":9")
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")
    if uinput:
        monkeypatch.setattr(desktop, "UINPUT", "/dev/null")  # a writable character device stands in
    chain = choose("auto", desktop=desk)
    assert isinstance(chain, ChainInjector)
    assert chain.name == first
    assert desk.family in chain.why


def test_no_display_types_nowhere(tools):
    assert isinstance(choose("auto", desktop=Desktop("none", "", "none", "test")), NullInjector)


def test_a_refused_backend_hands_the_phrase_to_the_next_once(tools, monkeypatch):
    monkeypatch.setenv("FAKE_WTYPE", REFUSAL)
    monkeypatch.setattr(desktop, "UINPUT", "/dev/null")
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)  # no session bus: mutter is skipped as unusable
    chain = choose("auto", desktop=wayland("unknown", "other"))
    assert chain.name == "wtype"
    asyncio.run(chain.type("first"))
    asyncio.run(chain.type("second"))
    assert chain.name == "wtype->dotool"
    assert REFUSAL in chain.note and "dotool" in chain.note
    assert len(tools("wtype")) == 1  # tried once, never again
    assert [c["stdin"] for c in tools("dotool")] == ["type first\n", "type second\n"]


def test_a_failure_that_is_no_refusal_is_not_retried_elsewhere(tools, monkeypatch):
    """wtype dying for another reason may have typed part of the phrase: typing it again would double it."""
    monkeypatch.setenv("FAKE_WTYPE", "something else went wrong")
    monkeypatch.setattr(desktop, "UINPUT", "/dev/null")
    chain = choose("auto", desktop=wayland("sway", "wlroots"))
    with pytest.raises(InjectError) as caught:
        asyncio.run(chain.type("phrase"))
    assert not isinstance(caught.value, Refused)
    assert chain.name == "wtype" and chain.note is None
    assert tools("dotool") == []


def test_the_last_refusal_is_raised_with_the_reason_kept(tools, monkeypatch):
    monkeypatch.setenv("FAKE_WTYPE", REFUSAL)
    chain = ChainInjector([choose("wtype")])
    with pytest.raises(Refused, match="virtual keyboard protocol"):
        asyncio.run(chain.type("phrase"))
    assert "no other backend" in chain.note


def test_uinput_tools_check_the_device_before_typing(tools):
    for name in ("dotool", "ydotool"):
        inj = choose(name)
        assert "does not exist" in inj.problem()
        with pytest.raises(InjectError, match="does not exist"):
            asyncio.run(inj.type("x"))
    assert tools("dotool") == [] and tools("ydotool") == []  # ydotool 0.1.8 would exit 0 having typed digits


def test_uinput_problem_says_what_is_wrong_and_how_to_fix_it(tmp_path):
    assert "modprobe uinput" in uinput_problem(str(tmp_path / "missing"))
    regular = tmp_path / "file"
    regular.write_text("")
    assert "not a character device" in uinput_problem(str(regular))
    assert uinput_problem("/dev/null") is None


def _others_can_run(path: str) -> bool:
    """Whether another user can reach `path` (every folder above it open to others): a clone may be private."""
    folders = [os.path.dirname(os.path.abspath(path))]
    while folders[-1] != os.path.dirname(folders[-1]):
        folders.append(os.path.dirname(folders[-1]))
    return all(os.stat(f).st_mode & stat.S_IXOTH for f in folders)


@pytest.mark.skipif(os.getuid() != 0 or shutil.which("setpriv") is None, reason="needs root to make a device node and setpriv")
@pytest.mark.skipif(not (_others_can_run(sys.executable) and _others_can_run(desktop.__file__)),
                    reason="the interpreter or the package sits in a folder closed to other users")
def test_an_unwritable_uinput_names_the_input_group_and_the_udev_rule():
    folder = tempfile.mkdtemp(prefix="stt-uinput-")  # pytest's own tmp is closed to other users
    try:
        os.chmod(folder, 0o755)
        node = os.path.join(folder, "uinput")
        os.mknod(node, 0o600 | stat.S_IFCHR, os.makedev(1, 3))  # root-only, like a fresh /dev/uinput
        code = f"from stt_dictation.server.desktop import uinput_problem; print(uinput_problem({node!r}))"
        out = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c", code],
                             capture_output=True, text=True, timeout=30, cwd="/")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    assert "not writable" in out.stdout and "input group" in out.stdout and "udev" in out.stdout, out.stderr


def test_detect_reads_the_session(tmp_path):
    assert detect({}).server == "none"
    assert detect({"DISPLAY": ":3"}).family == "x11"
    gone = {"WAYLAND_DISPLAY": "wayland-9", "XDG_RUNTIME_DIR": str(tmp_path)}
    assert detect(gone).compositor == "unknown"
    assert detect({**gone, "XDG_CURRENT_DESKTOP": "ubuntu:GNOME"}).family == "gnome"
    assert detect({**gone, "XDG_CURRENT_DESKTOP": "KDE"}).family == "kde"
    assert detect({**gone, "SWAYSOCK": "/x"}).family == "wlroots"
