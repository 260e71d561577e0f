"""How a status reply is shown: the plain line people read and the object waybar reads."""

from __future__ import annotations

WAYBAR_CLASS = {"loading": "loading", "idle": "idle", "recording": "recording", "error": "error"}
WAYBAR_TEXT = {"loading": "⏳", "idle": "🎤", "recording": "🔴", "error": "⚠"}


def format_status(st: dict) -> str:
    """The one- or two-line human form of a status reply."""
    line = f"{st['state']}  pid {st['pid']}  model {st['model']}  backend {st['backend']}  injector {st['injector']}  pending {st['pending']}"
    if st.get("held"):
        line += f"  held {st['held']}"
    if st.get("error"):
        line += f"\nerror: {st['error']}"
    return line


def waybar(status: dict) -> dict:
    """The object waybar's custom module reads: text, tooltip, class, alt."""
    state = status.get("state", "error")
    tip = [f"sttd {state}", f"model {status.get('model')} ({status.get('backend')})", f"typing via {status.get('injector')}"]
    if status.get("pending"):
        tip.append(f"{status['pending']} phrase(s) pending")
    if status.get("error"):
        tip.append(f"error: {status['error']}")
    return {"text": WAYBAR_TEXT.get(state, "?"), "alt": state, "tooltip": "\n".join(tip), "class": WAYBAR_CLASS.get(state, "error")}
