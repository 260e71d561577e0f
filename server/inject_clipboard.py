"""The clipboard path: copy (wl-copy on Wayland, xclip on X11), press the paste chord, put the old clipboard back.

The copy tool runs in the foreground as our child for the whole paste, so two
questions have exact answers: is the clipboard still ours (the tool exits the moment
another program takes the selection), and has the paste been consumed (the tool
writes the text to a reader: its /proc/PID/io `wchar` grows). The old content goes
back only when both say yes, or after a bounded wait, never over someone else's copy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import time

from .desktop import detect
from .inject_base import InjectError, Injector, run_tool, tool_env
from .inject_order import key_presser
from .window_class import TERMINALS, TRY_WAIT, chords_for, focused_class

log = logging.getLogger(__name__)

OWN_TIMEOUT = 2.0
"""Seconds for the copy tool to take the selection."""
PASTE_TIMEOUT = 2.0
"""Seconds for the focused window to read the text after the chord."""
SAVE_LIMIT = 16 << 20
"""Largest old clipboard content saved and restored, in bytes."""
TEXT_TYPES = ("text/plain;charset=utf-8", "UTF8_STRING", "text/plain", "STRING", "TEXT")


class ClipboardInjector(Injector):
    """Copy, paste with the chord the focused window expects, restore."""

    name = "clipboard"

    def __init__(
        self,
        delay_ms: int | None = None,
        keys: Injector | None = None,
        paste_chord: str = "auto",
        terminal_classes: tuple[str, ...] | list[str] = TERMINALS,
    ) -> None:
        super().__init__(delay_ms)
        self.keys = keys
        self.paste_chord = paste_chord
        self.terminal_classes = tuple(terminal_classes)

    def _wayland(self) -> bool:
        return bool(os.environ.get("WAYLAND_DISPLAY"))

    def _keys(self) -> Injector:
        if self.keys is None:
            self.keys = key_presser(detect())
        return self.keys

    def problem(self) -> str | None:
        """The copy tools for this session type (with nothing to press paste, it still copies)."""
        need = ("wl-copy", "wl-paste") if self._wayland() else ("xclip",)
        missing = [t for t in need if shutil.which(t) is None]
        return f"{', '.join(missing)} not found on PATH" if missing else None

    async def type(self, text: str) -> None:
        """Save the clipboard, serve `text`, press paste, wait for it to be read, restore.

        Where no backend can press keys (KDE without uinput), the text is left on the
        clipboard for the user to paste, and the phrase counts as not typed.
        """
        keys = self._keys()
        trouble = keys.problem()
        if trouble:
            argv = ["wl-copy", "--type", "text/plain;charset=utf-8"] if self._wayland() else ["xclip", "-selection", "clipboard", "-in"]
            await run_tool(argv, stdin=text.encode(), timeout=OWN_TIMEOUT, forks=True)
            raise InjectError(f"copied to the clipboard for you to paste: nothing here can press keys ({keys.name}: {trouble})")
        saved = await self._save()
        server = await self._serve(text)
        try:
            await self._wait_owned(server, text)
            baseline = _written(server.pid)
            chords = chords_for(await focused_class(detect()), self.paste_chord, self.terminal_classes)
            for chord in chords:
                await self._keys().press(chord)
                consumed = await self._wait_read(server, baseline, PASTE_TIMEOUT if chord == chords[-1] else TRY_WAIT)
                if consumed or server.returncode is not None:
                    break
            taken = server.returncode is not None  # our copy tool exits when another program copies
            if taken:
                log.info("another program took the clipboard during the paste; it is left alone")
            else:
                await self._restore(saved)
            if not consumed:
                why = "another program took the clipboard first" if taken else f"nothing read it within {PASTE_TIMEOUT:.0f} s"
                raise InjectError(f"clipboard: the text was not pasted with {' or '.join(chords)}: {why}")
        finally:
            await _end(server)

    async def _save(self) -> tuple[str, bytes] | None:
        """(type, content) the clipboard held, or None when empty or unreadable."""
        try:
            if self._wayland():
                listed = await run_tool(["wl-paste", "--list-types"], timeout=OWN_TIMEOUT)
            else:
                listed = await run_tool(["xclip", "-selection", "clipboard", "-o", "-t", "TARGETS"], timeout=OWN_TIMEOUT)
        except InjectError:
            return None  # "Nothing is copied", no owner
        types = [t.strip() for t in listed.splitlines() if t.strip()]
        if not types:
            return None
        kind = next((t for t in TEXT_TYPES if t in types), next((t for t in types if "/" in t), types[0]))
        argv = ["wl-paste", "--no-newline", "--type", kind] if self._wayland() else ["xclip", "-selection", "clipboard", "-o", "-t", kind]
        data = await _read_tool(argv)
        return None if data is None else (kind, data)

    async def _serve(self, text: str) -> asyncio.subprocess.Process:
        if self._wayland():
            argv = ["wl-copy", "--foreground", "--type", "text/plain;charset=utf-8"]
        else:
            argv = ["xclip", "-selection", "clipboard", "-in", "-quiet"]
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL, env=tool_env(),
            )
        except OSError as exc:
            raise InjectError(f"cannot run {argv[0]}: {exc}") from exc
        assert proc.stdin is not None
        proc.stdin.write(text.encode())
        with contextlib.suppress(OSError):
            await asyncio.wait_for(proc.stdin.drain(), OWN_TIMEOUT)
        proc.stdin.close()
        return proc

    async def _wait_owned(self, server: asyncio.subprocess.Process, text: str) -> None:
        argv = ["wl-paste", "--no-newline"] if self._wayland() else ["xclip", "-selection", "clipboard", "-o"]
        deadline = time.monotonic() + OWN_TIMEOUT
        while time.monotonic() < deadline:
            if server.returncode is not None:
                raise InjectError(f"{'wl-copy' if self._wayland() else 'xclip'} exited ({server.returncode}) before serving the text")
            if await _read_tool(argv) == text.encode():
                return
            await asyncio.sleep(0.02)
        raise InjectError(f"the clipboard did not take the text within {OWN_TIMEOUT:.0f} s")

    async def _wait_read(self, server: asyncio.subprocess.Process, baseline: int | None, timeout: float) -> bool:
        """True once the copy tool has written to a reader since `baseline`; False after the timeout
        or when another program took the clipboard first (the paste then got theirs, not ours)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            now = _written(server.pid)
            if baseline is None:
                await asyncio.sleep(0.3)  # /proc hidden: the best left is a pause
                return server.returncode is None
            if now is not None and now > baseline:
                await asyncio.sleep(0.05)  # the reader may still be mid-read of a long text
                return True
            if server.returncode is not None or now is None:
                with contextlib.suppress(TimeoutError):  # an exited tool's /proc/PID/io goes before it is reaped
                    await asyncio.wait_for(server.wait(), 0.5)
                return False
            await asyncio.sleep(0.01)
        return False

    async def _restore(self, saved: tuple[str, bytes] | None) -> None:
        """Put the old content back (a forking copy, which replaces ours), or clear when there was none."""
        try:
            if saved is None:
                if self._wayland():
                    await run_tool(["wl-copy", "--clear"], timeout=OWN_TIMEOUT, forks=True)
                return  # on X11 our xclip ending leaves the clipboard empty
            kind, data = saved
            if self._wayland():
                await run_tool(["wl-copy", "--type", kind], stdin=data, timeout=OWN_TIMEOUT, forks=True)
            else:
                await run_tool(["xclip", "-selection", "clipboard", "-in", "-t", kind], stdin=data, timeout=OWN_TIMEOUT, forks=True)
        except InjectError as exc:
            log.warning("could not restore the clipboard: %s", exc)

    async def press(self, chord: str) -> None:
        """Delegates to the key presser."""
        await self._keys().press(chord)


def _written(pid: int) -> int | None:
    """Bytes the process has written so far (/proc/PID/io wchar), or None where hidden."""
    try:
        with open(f"/proc/{pid}/io") as f:
            for line in f:
                if line.startswith("wchar:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


async def _read_tool(argv: list[str]) -> bytes | None:
    """A paste tool's raw output, or None on failure; bounded in time and size."""
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL, env=tool_env(),
        )
    except OSError:
        return None
    try:
        assert proc.stdout is not None
        data = await asyncio.wait_for(_read_to_end(proc.stdout), OWN_TIMEOUT)
        await asyncio.wait_for(proc.wait(), OWN_TIMEOUT)
    except TimeoutError:
        await _end(proc)
        return None
    return data if proc.returncode == 0 and len(data) <= SAVE_LIMIT else None


async def _read_to_end(stream: asyncio.StreamReader) -> bytes:
    """Everything up to end of file, stopping one byte past SAVE_LIMIT."""
    chunks, size = [], 0
    while size <= SAVE_LIMIT:
        chunk = await stream.read(65536)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


async def _end(proc: asyncio.subprocess.Process) -> None:
    """Terminate, wait a moment, kill; never raises."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 1.0)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
