"""The control socket: accepts clients, checks who they are, reads commands, writes replies.

One handler task per connection, tracked so shutdown can close them all. Every
read and every write has a timeout, so a stuck client costs one task, nothing more.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import socket
import struct
from collections.abc import Awaitable
from typing import Protocol

from pydantic import BaseModel

from ..protocol.framing import LineDecoder, LineTooLong, check_version, encode, parse_command
from ..protocol.messages import Command, ErrorCode, ErrorReply, Ok, Subscribe

from .events import EventBus

log = logging.getLogger(__name__)

READ_TIMEOUT = 30.0
"""Seconds a connection may stay silent before it is closed."""
WRITE_TIMEOUT = 5.0
"""Seconds a reply may take to drain before the connection is dropped."""
READ_CHUNK = 16 * 1024

_CRED = struct.Struct("3i")


def peer_credentials(sock: socket.socket) -> tuple[int, int, int]:
    """(pid, uid, gid) of the process on the other end of a Unix socket."""
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CRED.size)
    return _CRED.unpack(raw)


class AlreadyRunning(Exception):
    """Another process holds the socket name."""

    def __init__(self, pid: int | None, uid: int | None) -> None:
        super().__init__(pid, uid)
        self.pid = pid
        self.uid = uid


def claim(address: str, *, connect_retry: float = 0.4) -> socket.socket:
    """Bind and listen on the abstract address, or raise AlreadyRunning naming the holder.

    The bind is the singleton: the kernel lets one process own the name and frees
    it when that process dies, so there is nothing to clean after a crash.
    """
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        sock.bind(address)
        sock.listen(128)
        return sock
    except OSError as exc:
        sock.close()
        if exc.errno != errno.EADDRINUSE:
            raise
    return _raise_holder(address, connect_retry)


def _raise_holder(address: str, retry: float) -> socket.socket:
    import time

    deadline = time.monotonic() + retry
    while True:
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        try:
            probe.settimeout(0.2)
            probe.connect(address)
            pid, uid, _ = peer_credentials(probe)
            raise AlreadyRunning(pid, uid)
        except (ConnectionRefusedError, FileNotFoundError, BlockingIOError, socket.timeout):
            # The winner has bound but not yet listened; ask again briefly.
            if time.monotonic() >= deadline:
                raise AlreadyRunning(None, None) from None
            time.sleep(0.01)
        finally:
            probe.close()


class CommandHandler(Protocol):
    """What the socket layer needs from the daemon."""

    async def handle(self, command: Command) -> BaseModel:
        """Carry out one command and return its reply."""

    def history_for_tail(self, n: int) -> Awaitable[list[BaseModel]]:
        """The last n history entries as events, for a new subscriber."""

    def current_state(self) -> str:
        """The server state, for the `ok` that starts a stream."""


class ControlServer:
    """Serves the control socket until `close()`."""

    def __init__(self, sock: socket.socket, handler: CommandHandler, bus: EventBus) -> None:
        self._sock = sock
        self._handler = handler
        self._bus = bus
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._uid = os.getuid()
        self.closing = False

    async def start(self) -> None:
        """Begin accepting connections on the already-bound socket."""
        self._server = await asyncio.start_unix_server(self._accept, sock=self._sock, limit=READ_CHUNK * 2)

    @property
    def connections(self) -> int:
        """Open connections."""
        return len(self._tasks)

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # A plain callback (not a coroutine) lets us create and track exactly one task.
        t = asyncio.get_running_loop().create_task(self._serve(reader, writer))
        self._tasks.add(t)
        self._writers.add(writer)

        def done(t: asyncio.Task) -> None:
            self._tasks.discard(t)
            self._writers.discard(writer)

        t.add_done_callback(done)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            sock = writer.get_extra_info("socket")
            pid, uid, _ = peer_credentials(sock)
            if uid != self._uid:
                log.warning("refused connection from pid %d uid %d (server uid %d)", pid, uid, self._uid)
                await self._send(
                    writer,
                    ErrorReply(code=ErrorCode.FORBIDDEN, message=f"uid {uid} may not use the server of uid {self._uid}"),
                )
                return
            await self._conversation(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, BrokenPipeError):
            pass
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("connection handler failed")
        finally:
            writer.close()

    async def _conversation(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        decoder = LineDecoder()
        while not self.closing:
            try:
                data = await asyncio.wait_for(reader.read(READ_CHUNK), READ_TIMEOUT)
            except TimeoutError:
                await self._send(writer, ErrorReply(code=ErrorCode.TIMEOUT, message=f"no command within {READ_TIMEOUT:g} s"))
                return
            if not data:
                return
            for line in decoder.feed(data):
                if isinstance(line, LineTooLong):
                    reply: BaseModel = ErrorReply(
                        code=ErrorCode.LINE_TOO_LONG,
                        message=f"line of {line.size} bytes exceeds the limit of {decoder.limit} bytes",
                    )
                    await self._send(writer, reply)
                    continue
                if not line.strip():
                    continue
                parsed = parse_command(line)
                if isinstance(parsed, ErrorReply):
                    await self._send(writer, parsed)
                    continue
                bad_version = check_version(parsed)
                if bad_version is not None:
                    await self._send(writer, bad_version)
                    continue
                if isinstance(parsed, Subscribe):
                    await self._stream(reader, writer, parsed)
                    return
                try:
                    reply = await self._handler.handle(parsed)
                except Exception as exc:  # a bug must cost one reply, not the server
                    log.exception("command %s failed", parsed.type)
                    reply = ErrorReply(code=ErrorCode.INTERNAL, message=f"{parsed.type} failed: {exc}")
                await self._send(writer, reply)

    async def _send(self, writer: asyncio.StreamWriter, message: BaseModel) -> None:
        writer.write(encode(message))
        await asyncio.wait_for(writer.drain(), WRITE_TIMEOUT)

    async def _stream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, cmd: Subscribe) -> None:
        """Turn the connection into an event stream with its own bounded queue."""
        sub = self._bus.subscribe(on_drop=writer.transport.abort)
        cleanup: list[asyncio.Future] = []
        try:
            await self._send(writer, Ok(state=self._handler.current_state(), message="subscribed"))  # type: ignore[arg-type]
            if cmd.history:
                for event in await self._handler.history_for_tail(cmd.history):
                    await self._send(writer, event)
            closed = asyncio.ensure_future(reader.read())  # EOF or reset ends the stream
            cleanup.append(closed)
            while not self.closing:
                get = asyncio.ensure_future(sub.queue.get())
                done, _ = await asyncio.wait({get, closed}, return_when=asyncio.FIRST_COMPLETED)
                if closed in done:
                    get.cancel()
                    return
                writer.write(get.result())
                await asyncio.wait_for(writer.drain(), WRITE_TIMEOUT)
        except TimeoutError:
            log.warning("dropping a tail subscriber whose writes stalled")
            writer.transport.abort()
        finally:
            for f in cleanup:
                f.cancel()
            self._bus.unsubscribe(sub)

    async def close(self, grace: float = 1.0) -> None:
        """Stop accepting, close every connection, wait a bounded time, then cancel."""
        self.closing = True
        if self._server is not None:
            self._server.close()
        for w in list(self._writers):
            w.transport.abort() if w.transport is not None else None
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=grace)
            for t in pending:
                t.cancel("server shutting down")
            if pending:
                await asyncio.wait(pending, timeout=0.5)
