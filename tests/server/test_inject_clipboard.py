"""The clipboard path against a simulated clipboard: exact text, the chord, the old content back only while ours.

Stand-ins on PATH share one clipboard in files: wl-copy/xclip take it (in the
foreground they serve until another copy replaces them, writing the text to stdout
each time a paste asks), wl-paste/xclip -o read it, and the key tools' paste chord
asks for it, as a focused window would.
"""

from __future__ import annotations

import asyncio
import json
import stat
import sys

import pytest

from stt_dictation.server.injector import ClipboardInjector, InjectError, WtypeInjector, XdotoolInjector

TEXT = r"dictated C:\Users\new \x41 text, café ✓"

_TOOL = r'''#!{python}
import json, os, sys, time
state = {state!r}
clip, owner, request, log = (os.path.join(state, n) for n in ("clip", "owner", "request", "log.jsonl"))
name, args = os.path.basename(sys.argv[0]), sys.argv[1:]
def record(**kw):
    with open(log, "a") as f:
        f.write(json.dumps({{"tool": name, "argv": args, **kw}}) + "\n")
if name in ("wl-copy", "xclip") and ("-o" not in args):
    if "--clear" in args:
        for p in (clip, owner):
            if os.path.exists(p): os.unlink(p)
        record(); sys.exit(0)
    data = sys.stdin.buffer.read()
    with open(clip, "wb") as f: f.write(data)
    me = str(os.getpid())
    with open(owner, "w") as f: f.write(me)
    record(data=data.decode())
    if "--foreground" in args or "-quiet" in args:
        while open(owner).read() == me if os.path.exists(owner) else False:
            if os.path.exists(request):
                os.unlink(request)
                sys.stdout.buffer.write(data); sys.stdout.flush()
            time.sleep(0.005)
    sys.exit(0)
if name == "wl-paste" or name == "xclip":
    if not os.path.exists(clip): sys.stderr.write("Nothing is copied\n"); sys.exit(1)
    if "--list-types" in args or "TARGETS" in args: print("text/plain;charset=utf-8"); sys.exit(0)
    sys.stdout.buffer.write(open(clip, "rb").read()); sys.exit(0)
if (name == "ydotool" and args[:1] == ["type"]) or (name == "dotool" and sys.stdin.buffer.peek(4)[:4] == b"type"):
    record(typed=args[-1] if name == "ydotool" else sys.stdin.read()[5:-1]); sys.exit(0)
# a key tool: a paste chord makes the focused window read the clipboard
pasted = open(clip, "rb").read().decode() if os.path.exists(clip) else None
with open(os.environ["FAKE_PRESS_HOOK"]) as f: hook = f.read()
if hook: exec(hook)
open(request, "w").close()
record(pasted=pasted)
'''


@pytest.fixture
def clip(tmp_path, monkeypatch):
    """A simulated clipboard; returns (calls, set_content, content)."""
    state = tmp_path / "state"
    state.mkdir()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("wl-copy", "wl-paste", "xclip", "wtype", "xdotool", "ydotool", "dotool"):
        tool = bin_dir / name
        tool.write_text(_TOOL.format(python=sys.executable, state=str(state)))
        tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    hook = tmp_path / "hook.py"
    hook.write_text("")
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("FAKE_PRESS_HOOK", str(hook))

    class Clip:
        def calls(self, tool=None):
            log = state / "log.jsonl"
            rows = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
            return [r for r in rows if tool is None or r["tool"] == tool]

        def set(self, data: bytes):
            (state / "clip").write_bytes(data)
            (state / "owner").write_text("someone")

        def content(self):
            p = state / "clip"
            return p.read_bytes() if p.exists() else None

        def on_press(self, code: str):
            hook.write_text(code)

    return Clip()


def _session(monkeypatch, wayland: bool):
    if wayland:
        monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-test-none")
        monkeypatch.delenv("DISPLAY", raising=False)
        return WtypeInjector()
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setenv("DISPLAY", ":987654")
    return XdotoolInjector()


@pytest.mark.parametrize("wayland", [True, False])
def test_text_is_pasted_exactly_and_the_old_clipboard_comes_back(clip, monkeypatch, wayland):
    keys = _session(monkeypatch, wayland)
    clip.set("held before ✂".encode())
    asyncio.run(asyncio.wait_for(ClipboardInjector(keys=keys).type(TEXT), 20))
    (press,) = clip.calls("wtype" if wayland else "xdotool")
    assert press["pasted"] == TEXT
    assert clip.content() == "held before ✂".encode()


@pytest.mark.parametrize(
    "chord, wtype_args, xdotool_arg",
    [
        ("auto", ["-M", "ctrl", "-M", "shift", "-k", "v", "-m", "shift", "-m", "ctrl"], "ctrl+shift+v"),  # window unknown
        ("ctrl+v", ["-M", "ctrl", "-k", "v", "-m", "ctrl"], "ctrl+v"),
        ("shift+insert", ["-M", "shift", "-k", "Insert", "-m", "shift"], "shift+Insert"),
    ],
)
def test_the_configured_chord_is_pressed(clip, monkeypatch, chord, wtype_args, xdotool_arg):
    keys = _session(monkeypatch, True)
    asyncio.run(asyncio.wait_for(ClipboardInjector(keys=keys, paste_chord=chord).type("x"), 20))
    (press,) = clip.calls("wtype")
    assert press["argv"][-len(wtype_args):] == wtype_args
    keys = _session(monkeypatch, False)
    asyncio.run(asyncio.wait_for(ClipboardInjector(keys=keys, paste_chord=chord).type("x"), 20))
    (press,) = clip.calls("xdotool")
    assert press["argv"][-1] == xdotool_arg


def test_an_empty_clipboard_is_left_empty(clip, monkeypatch):
    keys = _session(monkeypatch, True)
    asyncio.run(asyncio.wait_for(ClipboardInjector(keys=keys).type(TEXT), 20))
    assert clip.content() is None
    assert clip.calls("wl-copy")[-1]["argv"] == ["--clear"]


def test_a_copy_made_before_the_paste_is_kept_and_the_phrase_is_not_typed(clip, monkeypatch):
    keys = _session(monkeypatch, True)
    clip.set(b"old")
    clip.on_press("open(clip, 'wb').write(b'newer copy'); open(owner, 'w').write('other'); pasted = 'newer copy'")
    with pytest.raises(InjectError, match="another program took the clipboard"):
        asyncio.run(asyncio.wait_for(ClipboardInjector(keys=keys).type(TEXT), 20))
    assert clip.content() == b"newer copy"


def test_a_paste_nobody_reads_is_an_error_and_the_clipboard_is_restored(clip, monkeypatch):
    from stt_dictation.server import inject_clipboard

    monkeypatch.setattr(inject_clipboard, "PASTE_TIMEOUT", 0.5)
    keys = _session(monkeypatch, True)
    clip.set(b"old")
    clip.on_press("sys.exit(0)")  # the chord reaches no window that pastes
    with pytest.raises(InjectError, match="nothing read it"):
        asyncio.run(asyncio.wait_for(ClipboardInjector(keys=keys).type(TEXT), 20))
    assert clip.content() == b"old"


def test_with_nothing_to_press_paste_the_text_is_left_on_the_clipboard(clip, monkeypatch):
    """KDE without uinput: no key backend works, so the user gets the text to paste, and the phrase is not marked typed."""
    from stt_dictation.server.injector import DotoolInjector

    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-test-none")
    monkeypatch.setattr("stt_dictation.server.desktop.UINPUT", "/nonexistent/uinput")
    inj = ClipboardInjector(keys=DotoolInjector())
    assert inj.problem() is None
    with pytest.raises(InjectError, match="copied to the clipboard for you to paste.*dotool"):
        asyncio.run(asyncio.wait_for(inj.type(TEXT), 20))
    assert clip.content() == TEXT.encode()


@pytest.mark.parametrize("tool", ["ydotool", "dotool"])
def test_uinput_tools_type_ascii_and_paste_the_rest(clip, monkeypatch, tool):
    """A keycode tool would type é as another character (ydotool: digits); it is pasted instead, in order."""
    from stt_dictation.server import desktop
    from stt_dictation.server.injector import choose

    monkeypatch.setattr(desktop, "UINPUT", "/dev/null")
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-test-none")
    inj = choose(tool)
    assert inj.name == tool and inj.problem() is None
    asyncio.run(asyncio.wait_for(inj.type("naïve café — ok"), 30))
    steps = [c.get("typed") if "typed" in c else ("paste", c["pasted"]) for c in clip.calls(tool)]
    assert steps == ["na", ("paste", "ï"), "ve caf", ("paste", "é"), " ", ("paste", "—"), " ok"]


def test_with_the_window_unknown_ctrl_v_follows_a_ctrl_shift_v_that_pasted_nothing(clip, monkeypatch):
    keys = _session(monkeypatch, True)
    clip.on_press("sys.exit(0) if '-M' in args and 'shift' in args else None")  # this window pastes with Ctrl+V only
    asyncio.run(asyncio.wait_for(ClipboardInjector(keys=keys).type(TEXT), 20))
    (paste,) = clip.calls("wtype")  # the Ctrl+Shift+V the window ignored left no record
    assert paste["argv"][-5:] == ["-M", "ctrl", "-k", "v", "-m", "ctrl"][-5:] and "shift" not in paste["argv"]
    assert paste["pasted"] == TEXT
