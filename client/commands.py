"""The client's slower commands: status with options, tail, history, transcribe, completion. They may import rich."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from ..protocol.wire import EXIT_ERROR, EXIT_NOT_RUNNING, EXIT_OK, EXIT_USAGE
from .hotkey import NOT_RUNNING, Lines, format_status, reach, request, send

WAYBAR_CLASS = {"loading": "loading", "idle": "idle", "recording": "recording", "error": "error"}
WAYBAR_TEXT = {"loading": "⏳", "idle": "🎤", "recording": "🔴", "error": "⚠"}


def _parser(prog: str) -> argparse.ArgumentParser:
    return argparse.ArgumentParser(prog=f"stt {prog}", add_help=True)


def run(cmd: str, rest: list[str]) -> int:
    """Run one of `HANDLERS`; Ctrl-C and a closed pipe (`stt tail | head`) end it quietly."""
    try:
        return HANDLERS[cmd](rest)
    except KeyboardInterrupt:
        return EXIT_OK
    except BrokenPipeError:
        return EXIT_OK


def waybar(status: dict) -> dict:
    """The object waybar's custom module reads: text, tooltip, class, alt."""
    state = status.get("state", "error")
    tip = [f"sttd {state}", f"model {status.get('model')} ({status.get('backend')})", f"typing via {status.get('injector')}"]
    if status.get("pending"):
        tip.append(f"{status['pending']} phrase(s) pending")
    if status.get("error"):
        tip.append(f"error: {status['error']}")
    return {"text": WAYBAR_TEXT.get(state, "?"), "alt": state, "tooltip": "\n".join(tip), "class": WAYBAR_CLASS.get(state, "error")}


def _print_status(st: dict, fmt: str) -> None:
    if fmt == "json":
        print(json.dumps(st), flush=True)
    elif fmt == "waybar":
        print(json.dumps(waybar(st)), flush=True)
    else:
        print(format_status(st), flush=True)


def status(rest: list[str]) -> int:
    """`stt status [--json] [--format plain|json|waybar] [--watch]`."""
    p = _parser("status")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.add_argument("--format", choices=["plain", "json", "waybar"], default=None)
    p.add_argument("--watch", action="store_true", help="print a line per state change until interrupted")
    a = p.parse_args(rest)
    fmt = a.format or ("json" if a.json else "plain")
    reply = request({"type": "status"})
    if isinstance(reply, int):
        if fmt == "waybar":
            print(json.dumps({"text": "", "alt": "stopped", "tooltip": NOT_RUNNING, "class": "stopped"}))
        return reply
    if reply.get("type") == "error":
        print(f"stt: {reply.get('code')}: {reply.get('message')}", file=sys.stderr)
        return EXIT_ERROR
    reply.pop("type", None)
    _print_status(reply, fmt)
    if not a.watch:
        return EXIT_OK
    last = (reply["state"], reply.get("error"))
    for event in _stream(0):
        if event.get("type") in ("state", "recording_started", "recording_stopped", "phrase", "fault"):
            again = request({"type": "status"})
            if isinstance(again, int):
                return again
            again.pop("type", None)
            key = (again["state"], again.get("error"))
            if key != last:
                last = key
                _print_status(again, fmt)
    return EXIT_NOT_RUNNING


def _stream(history_n: int):
    """Yield events from a subscription until the server goes away."""
    s = reach()
    if isinstance(s, int):
        sys.exit(s)
    send(s, {"type": "subscribe", "history": history_n})
    s.settimeout(None)
    lines = Lines(s)
    first = lines.next()
    if first is None or first.get("type") == "error":
        print(f"stt: subscription refused: {first}", file=sys.stderr)
        sys.exit(EXIT_ERROR)
    while True:
        msg = lines.next()
        if msg is None:
            return
        yield msg


def _fmt_time(t: float | None) -> str:
    return time.strftime("%H:%M:%S", time.localtime(t)) if t else "--:--:--"


def tail(rest: list[str]) -> int:
    """`stt tail [--json] [-n N]`: live events."""
    p = _parser("tail")
    p.add_argument("--json", action="store_true", help="one JSON object a line")
    p.add_argument("-n", type=int, default=0, help="show the last N history entries first")
    a = p.parse_args(rest)
    if a.json:
        for ev in _stream(a.n):
            print(json.dumps(ev), flush=True)
        return EXIT_NOT_RUNNING
    from rich.console import Console

    con = Console(highlight=False)
    for ev in _stream(a.n):
        kind = ev.get("type")
        if kind == "phrase":
            e = ev["entry"]
            lat = ev.get("latency")
            lat_s = f" [dim]{lat:.2f}s[/]" if lat is not None else ""
            style = {"typed": "green", "transcribed": "cyan", "held": "yellow", "failed": "red", "filtered": "dim", "recovered": "magenta"}.get(e["status"], "")
            text = e["text"].replace("[", r"\[")
            con.print(f"[dim]{_fmt_time(e.get('transcribed_at') or e.get('speech_end'))}[/] #{e['seq']} [{style}]{e['status']:<11}[/]{lat_s} {text}")
        elif kind == "recording_started":
            con.print(f"[dim]{_fmt_time(ev['at'])}[/] [bold red]● recording {ev['recording']}[/]")
        elif kind == "recording_stopped":
            con.print(f"[dim]{_fmt_time(ev['at'])}[/] ■ {'cancelled' if ev.get('cancelled') else 'stopped'} recording {ev['recording']}")
        elif kind == "state":
            con.print(f"[dim]{_fmt_time(ev['at'])}[/] state {ev['state']}" + (f": [red]{ev['error']}[/]" if ev.get("error") else ""))
        elif kind == "fault":
            con.print(f"[dim]{_fmt_time(ev['at'])}[/] [red]error ({ev['code']}): {ev['message']}[/]")
    return EXIT_NOT_RUNNING


def history(rest: list[str]) -> int:
    """`stt history [-n N] [--json]`."""
    p = _parser("history")
    p.add_argument("-n", type=int, default=20, help="how many entries (default 20)")
    p.add_argument("--json", action="store_true", help="a JSON array")
    a = p.parse_args(rest)
    if a.n < 1:
        print("stt history: -n must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    reply = request({"type": "history", "limit": a.n})
    if isinstance(reply, int):
        return reply
    if reply.get("type") == "error":
        print(f"stt: {reply.get('code')}: {reply.get('message')}", file=sys.stderr)
        return EXIT_ERROR
    entries = reply["entries"]
    if a.json:
        print(json.dumps(entries))
        return EXIT_OK
    from rich.console import Console

    con = Console(highlight=False)
    for e in entries:
        note = f" [dim]({e['note']})[/]" if e.get("note") else ""
        text = e["text"].replace("[", r"\[")
        con.print(f"[dim]{_fmt_time(e.get('speech_end') or e.get('transcribed_at'))}[/] #{e['seq']} {e['status']:<11} {text}{note}")
    return EXIT_OK


def transcribe(rest: list[str]) -> int:
    """`stt transcribe FILE...`: prints each file's text (prefixed by its name when several)."""
    p = _parser("transcribe")
    p.add_argument("files", nargs="+")
    p.add_argument("--json", action="store_true")
    a = p.parse_args(rest)
    paths = [os.path.abspath(f) for f in a.files]
    for f in paths:
        if not os.path.isfile(f):
            print(f"stt transcribe: {f}: no such file", file=sys.stderr)
            return EXIT_USAGE
    reply = request({"type": "transcribe", "paths": paths}, timeout=600.0)
    if isinstance(reply, int):
        return reply
    if reply.get("type") == "error":
        print(f"stt: {reply.get('code')}: {reply.get('message')}", file=sys.stderr)
        return EXIT_ERROR
    if a.json:
        print(json.dumps(reply["files"]))
        return EXIT_OK
    for f in reply["files"]:
        print(f"{f['path']}: {f['text']}" if len(paths) > 1 else f["text"])
    return EXIT_OK


COMMANDS = ["toggle", "start", "stop", "cancel", "status", "tail", "history", "transcribe", "paste", "shutdown", "completion", "doctor", "tray"]
OPTIONS = {
    "status": ["--json", "--format", "--watch"],
    "tail": ["--json", "-n"],
    "history": ["--json", "-n"],
    "transcribe": ["--json"],
    "completion": ["bash", "zsh"],
    "doctor": ["--json", "--mic-seconds"],
}

BASH = """# bash completion for stt: eval "$(stt completion bash)"
_stt() {
    local cur=${COMP_WORDS[COMP_CWORD]} cmd=${COMP_WORDS[1]}
    if [ "$COMP_CWORD" -eq 1 ]; then
        COMPREPLY=($(compgen -W "%(commands)s" -- "$cur"))
        return
    fi
    case "$cmd" in
%(cases)s
    esac
}
complete -o default -F _stt stt
"""

ZSH = """#compdef stt
# zsh completion for stt: stt completion zsh > "${fpath[1]}/_stt"
_stt() {
    if (( CURRENT == 2 )); then
        compadd -- %(commands)s
        return
    fi
    case "$words[2]" in
%(cases)s
    esac
}
compdef _stt stt
"""


def completion(rest: list[str]) -> int:
    """`stt completion bash|zsh`: print a completion script."""
    if rest not in (["bash"], ["zsh"]):
        print("usage: stt completion bash|zsh", file=sys.stderr)
        return EXIT_USAGE
    commands = " ".join(COMMANDS)
    if rest == ["bash"]:
        cases = "\n".join(
            f'        {c}) COMPREPLY=($(compgen -W "{" ".join(o)}" -- "$cur")){"; compopt -o default" if c == "transcribe" else ""} ;;'
            for c, o in OPTIONS.items()
        )
        print(BASH % {"commands": commands, "cases": cases}, end="")
    else:
        cases = "\n".join(
            f"        {c}) compadd -- {' '.join(o)}{'; _files' if c == 'transcribe' else ''} ;;" for c, o in OPTIONS.items()
        )
        print(ZSH % {"commands": commands, "cases": cases}, end="")
    return EXIT_OK


def doctor(rest: list[str]) -> int:
    """`stt doctor [--json] [--mic-seconds N]`: checks this session without the server; 0 when nothing is wrong, else 1."""
    from ..server.doctor import render, report

    p = argparse.ArgumentParser(prog="stt doctor", description="what this session offers sttd, and how to fix what is missing")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.add_argument("--mic-seconds", type=float, default=2.0, help="seconds to listen to the microphone (0 skips it)")
    a = p.parse_args(rest)
    rep = report(a.mic_seconds)
    print(json.dumps(rep, default=str) if a.json else render(rep), flush=True)
    return EXIT_OK if not rep["problems"] else 1


HANDLERS = {"status": status, "tail": tail, "history": history, "transcribe": transcribe, "completion": completion, "doctor": doctor}
"""The commands that take options, by name; `cli.main` runs the others itself."""
