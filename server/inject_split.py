"""uinput tools (dotool, ydotool) type printable ASCII; the rest goes through the clipboard path.

They press keycodes, so a character the layout lacks comes out as some other
character or not at all (ydotool types digits for it); pasting it is the only way
that never types the wrong text.
"""

from __future__ import annotations

import logging

from .inject_base import Injector, runs
from .inject_clipboard import ClipboardInjector

log = logging.getLogger(__name__)


class SplitInjector(Injector):
    """A key backend for ASCII runs and the clipboard path, pressing paste with that backend, for the others."""

    def __init__(self, keys: Injector, clipboard: ClipboardInjector | None = None) -> None:
        super().__init__(keys.delay_ms)
        self.keys = keys
        self.clipboard = clipboard or ClipboardInjector(keys=keys)
        if self.clipboard.keys is None:
            self.clipboard.keys = keys

    @property
    def name(self) -> str:  # type: ignore[override]
        return self.keys.name

    def problem(self) -> str | None:
        """The key backend's problem (the clipboard is only needed for non-ASCII)."""
        return self.keys.problem()

    async def type(self, text: str) -> None:
        """ASCII runs as keys, the rest pasted, in order."""
        paste = self.clipboard.problem() is None
        for ascii_run, part in runs(text):
            if ascii_run or not paste:
                await self.keys.type(part)
            else:
                await self.clipboard.type(part)

    async def press(self, chord: str) -> None:
        await self.keys.press(chord)

    async def focused_window(self) -> str | None:
        return await self.keys.focused_window()
