"""Small servers of the tests' own that misbehave on purpose, each in a thread of the test process.

- `WyomingFault`: a socket server (unix or tcp) that accepts Wyoming clients and then
  stays silent (reading or not reading), hangs up at once, or answers with garbage.
- `FakeOpenAI`: an HTTP server with an OpenAI-style `/v1/audio/transcriptions` that
  answers 401 unless the right bearer key is sent, records what each request carried,
  and can be told to answer slowly or with a given status.

Both stop (and close every connection) at `close()`, and are context managers.
"""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import io
import json
import threading
import time
import wave
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Literal

WyomingMode = Literal["silent", "deaf", "hangup", "garbage"]


class WyomingFault:
    """A Wyoming-looking server that never gives a transcript.

    silent:  reads everything the client sends, never answers
    deaf:    accepts, never reads (the client's writes back up), never answers
    hangup:  closes each connection right after accepting it
    garbage: reads the request, then sends a line that is not a Wyoming event and closes
    """

    def __init__(self, mode: WyomingMode, socket_path: Path | None = None) -> None:
        self.mode = mode
        self.socket_path = socket_path
        self.port = 0
        self.connections = 0
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"wyoming-fault-{mode}", daemon=True)

    @property
    def uri(self) -> str:
        return f"unix://{self.socket_path}" if self.socket_path else f"tcp://127.0.0.1:{self.port}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        try:
            if self.mode == "hangup":
                return
            if self.mode == "deaf":
                await asyncio.Event().wait()  # until close() cancels it
            if self.mode == "garbage":
                while b"audio-stop" not in await reader.readline():
                    if reader.at_eof():
                        return
                writer.write(b"this is not a wyoming event\n")
                await writer.drain()
                return
            while await reader.read(65536):  # silent: swallow everything
                pass
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            self._writers.discard(writer)
            writer.transport.abort()

    async def _start(self) -> None:
        if self.socket_path:
            self._server = await asyncio.start_unix_server(self._handle, path=str(self.socket_path))
        else:
            self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
            self.port = self._server.sockets[0].getsockname()[1]

    def start(self) -> "WyomingFault":
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(5)
        return self

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for w in list(self._writers):
            w.transport.abort()
        for t in asyncio.all_tasks():
            if t is not asyncio.current_task():
                t.cancel()

    def close(self) -> None:
        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(5)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)

    def __enter__(self) -> "WyomingFault":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()


@dataclass
class Upload:
    """What one transcription request carried."""

    authorization: str | None
    fields: dict[str, str]
    filename: str | None
    wav_rate: int
    wav_channels: int
    wav_width: int
    wav_frames: int


@dataclass
class FakeOpenAI:
    """`/v1/audio/transcriptions` that wants `Authorization: Bearer <key>` and serves `text`."""

    key: str
    text: str = "served text"
    status: int | None = None
    """Answer every request with this status (and a JSON error body) instead."""
    delay: float = 0.0
    """Seconds to wait before answering a transcription."""
    uploads: list[Upload] = field(default_factory=list)
    port: int = 0

    def __post_init__(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep pytest output clean
                pass

            def _reply(self, status: int, obj: dict) -> None:
                body = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _authorised(self) -> bool:
                auth = self.headers.get("Authorization")
                if auth == f"Bearer {fake.key}":
                    return True
                # Like a careless server: echo the key it was given back in the error.
                self._reply(401, {"error": {"message": f"Incorrect API key provided: {auth}", "type": "invalid_request_error"}})
                return False

            def do_GET(self) -> None:
                if self._authorised():
                    self._reply(200, {"object": "list", "data": [{"id": "whisper-1", "object": "model"}]})

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if not self.path.startswith("/v1/audio/transcriptions"):
                    self._reply(404, {"error": {"message": f"no route {self.path}"}})
                    return
                if not self._authorised():
                    return
                if fake.delay:
                    time.sleep(fake.delay)
                if fake.status is not None:
                    self._reply(fake.status, {"error": {"message": f"failing on purpose with {fake.status}"}})
                    return
                head = f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode()
                msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
                fields, filename, audio = {}, None, b""
                for part in msg.iter_parts():
                    name = part.get_param("name", header="content-disposition")
                    if part.get_filename():
                        filename, audio = part.get_filename(), part.get_payload(decode=True)
                    else:
                        fields[name] = part.get_payload(decode=True).decode()
                with wave.open(io.BytesIO(audio)) as w:
                    up = Upload(self.headers.get("Authorization"), fields, filename, w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes())
                fake.uploads.append(up)
                self._reply(200, {"text": fake.text})

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-openai", daemon=True)

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> "FakeOpenAI":
        self._thread.start()
        return self

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> "FakeOpenAI":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()
