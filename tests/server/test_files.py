"""files (`stt transcribe`): every file's text in one reply, or an error naming the first path that failed."""

from __future__ import annotations

import asyncio

from stt_dictation.protocol.messages import ErrorCode, ErrorReply, Transcripts
from stt_dictation.server.files import transcribe_files
from stt_dictation.server.transcript import Transcriber, TranscribeError


class Files(Transcriber):
    def __init__(self, broken=()):
        self.broken, self.asked = set(broken), []

    async def load(self):
        pass

    async def transcribe(self, audio, prompt=None, lead=None):
        raise AssertionError("files are transcribed whole")

    async def transcribe_file(self, path):
        self.asked.append(path)
        if path in self.broken:
            raise TranscribeError(f"{path}: not audio")
        return f"text of {path}", 2.5, 0.4


def test_every_file_in_order():
    reply = asyncio.run(transcribe_files(Files(), ["/a.wav", "/b.ogg"]))
    assert isinstance(reply, Transcripts)
    assert [(f.path, f.text, f.seconds, f.elapsed) for f in reply.files] == [("/a.wav", "text of /a.wav", 2.5, 0.4), ("/b.ogg", "text of /b.ogg", 2.5, 0.4)]


def test_a_relative_path_is_refused_before_any_work():
    model = Files()
    reply = asyncio.run(transcribe_files(model, ["/a.wav", "b.wav"]))
    assert isinstance(reply, ErrorReply) and reply.code == ErrorCode.INVALID_COMMAND and reply.field == "paths"
    assert "'b.wav' is not an absolute path" in reply.message
    assert model.asked == ["/a.wav"]  # checked in turn: the first was done already


def test_a_failed_file_is_the_error_and_stops_there():
    model = Files(broken={"/b.wav"})
    reply = asyncio.run(transcribe_files(model, ["/a.wav", "/b.wav", "/c.wav"]))
    assert isinstance(reply, ErrorReply) and reply.code == ErrorCode.TRANSCRIBE_FAILED
    assert reply.message == "/b.wav: not audio" and model.asked == ["/a.wav", "/b.wav"]
