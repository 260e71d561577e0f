"""Which backend types, per desktop, and the fallback chain that notices a refusal and hands over.

wlroots compositors take wtype; GNOME takes Mutter's remote-desktop interface; KDE
and others take dotool/ydotool when /dev/uinput is writable, else the clipboard
path; X11 takes xdotool. When the desktop refuses a backend before a key went out
(wtype's "Compositor does not support the virtual keyboard protocol", a D-Bus error),
the next usable one takes the phrase over, once, and from then on; the reason is in
the log and in `note` for `stt status`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from .desktop import Desktop, detect
from .inject_base import Injector, Refused
from .inject_clipboard import ClipboardInjector
from .inject_keys import DotoolInjector, NullInjector, StdoutInjector, WtypeInjector, XdotoolInjector, YdotoolInjector
from .inject_mutter import MutterInjector
from .inject_order import auto_order
from .inject_split import SplitInjector
from .window_class import TERMINALS

log = logging.getLogger(__name__)

BACKENDS: dict[str, type[Injector]] = {
    cls.name: cls
    for cls in (XdotoolInjector, WtypeInjector, MutterInjector, DotoolInjector, YdotoolInjector, ClipboardInjector, StdoutInjector, NullInjector)
}
"""Injectors by their `--injector` name."""

class ChainInjector(Injector):
    """Backends in order of preference; a refused one hands its phrase to the next usable one."""

    def __init__(self, candidates: list[Injector], why: str = "") -> None:
        super().__init__(None)
        if not candidates:
            raise ValueError("a chain needs at least one backend")
        self.candidates = candidates
        self.why = why
        """Why these backends, in this order (the desktop seen), for `stt doctor` and the log."""
        usable = [c for c in candidates if c.problem() is None]
        self._current = usable[0] if usable else candidates[0]
        self._path = [self._current.name]
        self.note: str | None = None

    @property
    def name(self) -> str:  # type: ignore[override]
        """The backends used so far, `wtype->mutter` after a handover."""
        return "->".join(self._path)

    @property
    def current(self) -> Injector:
        return self._current

    def problem(self) -> str | None:
        """The backend in use's problem (None once any candidate works)."""
        return self._current.problem()

    async def type(self, text: str) -> None:
        """Type with the current backend; on a refusal hand over to the next usable one."""
        while True:
            try:
                await self._current.type(text)
                return
            except Refused as exc:
                following = self._next()
                if following is None:
                    self.note = f"{self._current.name} refused: {exc}; no other backend is usable"
                    raise
                self.note = f"{self._current.name} refused ({exc}); typing through {following.name}"
                log.warning("%s", self.note)
                self._current = following
                self._path.append(following.name)

    def _next(self) -> Injector | None:
        index = self.candidates.index(self._current)
        return next((c for c in self.candidates[index + 1 :] if c.problem() is None), None)

    async def focused_window(self) -> str | None:
        return await self._current.focused_window()

    async def press(self, chord: str) -> None:
        await self._current.press(chord)

    async def aclose(self) -> None:
        for c in self.candidates:
            await c.aclose()


def _make(name: str, delay_ms: int | None, paste_chord: str = "auto", terminal_classes=TERMINALS, keys: Injector | None = None) -> Injector:
    if name == "clipboard":
        return ClipboardInjector(delay_ms, keys=keys, paste_chord=paste_chord, terminal_classes=terminal_classes)
    if name in ("dotool", "ydotool"):
        keys_only = BACKENDS[name](delay_ms)
        return SplitInjector(keys_only, ClipboardInjector(delay_ms, keys=keys_only, paste_chord=paste_chord, terminal_classes=terminal_classes))
    if name == "mutter":
        return MutterInjector(delay_ms, paste_chord=paste_chord)
    return BACKENDS[name](delay_ms)


def choose(
    name: str,
    delay_ms: int | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    desktop: Desktop | None = None,
    paste_chord: str = "auto",
    terminal_classes: tuple[str, ...] | list[str] = TERMINALS,
) -> Injector:
    """The injector asked for, or for `auto` the chain that fits this desktop."""
    if name != "auto":
        return _make(name, delay_ms, paste_chord, terminal_classes)
    desk = desktop if desktop is not None else detect(environ)
    if desk.family == "none":
        return NullInjector(delay_ms)
    names = auto_order(desk)
    keys = None
    candidates = []
    for n in names:
        inj = _make(n, delay_ms, paste_chord, terminal_classes, keys)
        candidates.append(inj)
        if n != "clipboard" and keys is None and inj.problem() is None:
            keys = inj  # the clipboard path presses paste with the first usable key backend
    why = f"{desk.server} {desk.compositor or ''} ({desk.family}): {desk.how}".replace("  ", " ")
    chain = ChainInjector(candidates, why)
    log.info("typing through %s; candidates %s; %s", chain.name, ", ".join(names), why)
    return chain
