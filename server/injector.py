"""Typing backends, one import for the rest of the server: each a small class that puts text into the focused window.

The backends live in inject_keys (xdotool, wtype, dotool, ydotool, stdout, none),
inject_mutter (GNOME) and inject_clipboard; inject_chain picks one per desktop.
"""

from __future__ import annotations

from .inject_base import SECRET_VARIABLES, InjectError, Injector, Refused, clean, run_tool, tool_env
from .inject_chain import BACKENDS, ChainInjector, choose
from .inject_order import ORDER, auto_order, key_presser
from .inject_clipboard import ClipboardInjector
from .inject_keys import DotoolInjector, NullInjector, StdoutInjector, WtypeInjector, XdotoolInjector, YdotoolInjector
from .inject_mutter import MutterInjector

__all__ = [
    "BACKENDS", "SECRET_VARIABLES", "ChainInjector", "ClipboardInjector", "DotoolInjector", "InjectError", "Injector",
    "MutterInjector", "NullInjector", "Refused", "StdoutInjector", "WtypeInjector", "XdotoolInjector", "YdotoolInjector",
    "ORDER", "auto_order", "choose", "clean", "key_presser", "run_tool", "tool_env",
]
