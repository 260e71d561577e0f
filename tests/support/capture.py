"""A terminal whose keyboard input is appended, byte for byte, to a file: what the X11 and Wayland rigs type into."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from tests.support.devices import HarnessError, HarnessTimeout, tail
from tests.support.process import Process


def edited(raw: str) -> str:
    """`raw` with each DEL or ^H taking back the character before it, as a text field would."""
    out: list[str] = []
    for ch in raw:
        if ch in "\x7f\b":
            if out:
                out.pop()
        else:
            out.append(ch)
    return "".join(out)


class TypedFile:
    """The file a capture terminal's `cat` appends to, and waits on what it holds."""

    WAIT = 5.0
    """Default seconds `wait_for` waits."""
    QUIET = 0.3
    """Default seconds without a change that `settle` calls settled."""

    def __init__(self, process: Process, path: Path, title: str, log: Path | None = None) -> None:
        self.process, self.path, self.title, self.log = process, path, title, log

    def raw(self) -> str:
        """The bytes the window's raw tty received: a BackSpace is there as DEL (or ^H)."""
        # A read can land between the bytes of one UTF-8 character; the
        # replacement character then only lasts until the next poll.
        return self.path.read_bytes().decode("utf-8", errors="replace")

    def read(self) -> str:
        """Everything typed so far, as a text field shows it (BackSpace applied)."""
        return edited(self.raw())

    def clear(self) -> None:
        """Forget what was typed so far (cat opened the file with O_APPEND: its next write lands at 0)."""
        os.truncate(self.path, 0)

    def wait_for(self, text: str, timeout: float | None = None) -> str:
        """Wait until text appears in the window and return the whole content."""
        return self._wait(lambda content: text in content, self.WAIT if timeout is None else timeout, repr(text))

    def wait_for_length(self, n: int, timeout: float | None = None) -> str:
        """Wait until at least n characters have been typed and return the content."""
        return self._wait(lambda content: len(content) >= n, self.WAIT if timeout is None else timeout, f"{n} characters")

    def settle(self, quiet: float | None = None, timeout: float = 10.0) -> str:
        """Wait until nothing new has been typed for `quiet` seconds and return the content."""
        quiet = self.QUIET if quiet is None else quiet
        deadline = time.monotonic() + timeout
        content, since = self.read(), time.monotonic()
        while time.monotonic() - since < quiet:
            if time.monotonic() >= deadline:
                raise HarnessTimeout(f"{self.title} kept changing for {timeout:.1f}s; last content {content!r}")
            time.sleep(0.02)
            current = self.read()
            if current != content:
                content, since = current, time.monotonic()
        return content

    def _wait(self, done: Callable[[str], bool], timeout: float, what: str) -> str:
        deadline = time.monotonic() + timeout
        while True:
            content = self.read()
            if done(content):
                return content
            if not self.process.alive():
                why = f"\n{tail(self.log)}" if self.log is not None else ""
                raise HarnessError(f"{self.title} exited with {self.process.returncode}; content {content!r}{why}")
            if time.monotonic() >= deadline:
                raise HarnessTimeout(f"timed out after {timeout:.1f}s waiting for {what} in {self.title}; content {content!r}")
            time.sleep(0.02)

    def close(self) -> None:
        """Close the terminal."""
        self.process.stop()
