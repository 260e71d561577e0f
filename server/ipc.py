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
import time
from collections.abc import Awaitable
from typing import Protocol

from pydantic import BaseModel

from ..protocol.commands import Command, Subscribe
from ..protocol.framing import LineDecoder, LineTooLong, check_version, encode, parse_command
from ..protocol.messages import ErrorCode, ErrorReply, Ok
from ..protocol.wire import peer_credentials

from .events import EventBus

log = logging.getLogger(__name__)

READ_TIMEOUT = 30.0
"""Seconds a connection has for each complete command line before it is closed."""
WRITE_TIMEOUT = 5.0
"""Seconds a reply may take to drain before the connection is dropped."""
READ_CHUNK = 16 * 1024
SUBSCRIBER_INPUT_LIMIT = 64 * 1024
"""Bytes a `tail` subscriber may send (it has nothing to say) before it is dropped."""
MAX_CONNECTIONS = 256
"""Connections served at once; one more is answered `busy` and closed at once (no task, no buffer)."""
REFUSAL_LOG_INTERVAL = 10.0
"""Seconds between log lines about refused peers of one uid; a loop of them must not flood the log."""

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


def refusal(pid: int, uid: int, own_uid: int, allow_sandboxed: bool) -> str | None:
    """Why a peer may not use this server, or None.

    Another user is refused; so is a process of ours in another mount namespace
    (Flatpak, Snap, a container sharing the network namespace), which could
    otherwise read the history and transcribe any of our files, unless allowed.
    """
    if uid != own_uid:
        return f"uid {uid} may not use the server of uid {own_uid}"
    if allow_sandboxed:
        return None
    try:
        same = os.readlink(f"/proc/{pid}/ns/mnt") == os.readlink("/proc/self/ns/mnt")
    except OSError as exc:
        return f"cannot tell the sandbox of pid {pid} ({exc.strerror})"
    if not same:
        return f"pid {pid} runs in another mount namespace (a sandbox or container); set allow_sandboxed_clients = true to allow it"
    return None


class SubscriberTalks(Exception):
    """A subscriber sent more than it may."""


async def _until_closed(reader: asyncio.StreamReader) -> None:
    """Wait for EOF, discarding what the peer sends in chunks so nothing accumulates."""
    received = 0
    while chunk := await reader.read(READ_CHUNK):
        received += len(chunk)
        if received > SUBSCRIBER_INPUT_LIMIT:
            raise SubscriberTalks


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

    def __init__(self, sock: socket.socket, handler: CommandHandler, bus: EventBus, *, allow_sandboxed: bool = False) -> None:
        self._sock = sock
        self._handler = handler
        self._bus = bus
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._uid = os.getuid()
        self._refusals: dict[int, tuple[float, int]] = {}
        self.allow_sandboxed = allow_sandboxed
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
        if len(self._tasks) >= MAX_CONNECTIONS:
            pid, uid, _ = peer_credentials(writer.get_extra_info("socket"))
            self._log_refusal(pid, uid, why := f"{MAX_CONNECTIONS} connections are open already; try again")
            writer.write(encode(ErrorReply(code=ErrorCode.BUSY, message=why)))
            writer.close()  # the reply is flushed first
            return
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
            why = refusal(pid, uid, self._uid, self.allow_sandboxed)
            if why is not None:
                self._log_refusal(pid, uid, why)
                await self._send(writer, ErrorReply(code=ErrorCode.FORBIDDEN, message=why))
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

    def _log_refusal(self, pid: int, uid: int, why: str) -> None:
        """One WARNING per uid per interval, counting the refusals it stood for."""
        now = time.monotonic()
        last, quiet = self._refusals.get(uid, (-REFUSAL_LOG_INTERVAL, 0))
        if now - last < REFUSAL_LOG_INTERVAL:
            self._refusals[uid] = (last, quiet + 1)
            return
        more = f" ({quiet} more refused in the last {now - last:.0f} s)" if quiet else ""
        log.warning("refused connection from pid %d uid %d: %s%s", pid, uid, why, more)
        self._refusals[uid] = (now, 0)

    async def _conversation(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        decoder = LineDecoder()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + READ_TIMEOUT  # per line: trickling bytes do not extend it
        while not self.closing:
            try:
                data = await asyncio.wait_for(reader.read(READ_CHUNK), max(0.0, deadline - loop.time()))
            except TimeoutError:
                await self._send(writer, ErrorReply(code=ErrorCode.TIMEOUT, message=f"no complete command within {READ_TIMEOUT:g} s"))
                return
            if not data:
                return
            lines = decoder.feed(data)
            for line in lines:
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
            if lines:  # answered: the next line gets its own READ_TIMEOUT
                deadline = loop.time() + READ_TIMEOUT

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
            closed = asyncio.ensure_future(_until_closed(reader))
            cleanup.append(closed)
            while not self.closing:
                get = asyncio.ensure_future(sub.queue.get())
                done, _ = await asyncio.wait({get, closed}, return_when=asyncio.FIRST_COMPLETED)
                if closed in done:
                    get.cancel()
                    closed.result()  # raises SubscriberTalks
                    return
                writer.write(get.result())
                await asyncio.wait_for(writer.drain(), WRITE_TIMEOUT)
        except TimeoutError:
            log.warning("dropping a tail subscriber whose writes stalled")
            writer.transport.abort()
        except SubscriberTalks:
            log.warning("dropping a tail subscriber that sent over %d bytes", SUBSCRIBER_INPUT_LIMIT)
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
