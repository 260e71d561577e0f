"""`stt transcribe`: the warm model on whole audio files, answered as one reply."""

from __future__ import annotations

import os

from pydantic import BaseModel

from ..protocol.messages import ErrorCode, ErrorReply, FileTranscript, Transcripts

from .transcript import Transcriber, TranscribeError


async def transcribe_files(transcriber: Transcriber, paths: list[str]) -> BaseModel:
    """Every file's text, or an error reply naming the first path that failed."""
    out = []
    for path in paths:
        if not os.path.isabs(path):
            return ErrorReply(code=ErrorCode.INVALID_COMMAND, message=f"field 'paths': {path!r} is not an absolute path", field="paths")
        try:
            text, seconds, elapsed = await transcriber.transcribe_file(path)
        except TranscribeError as exc:
            return ErrorReply(code=ErrorCode.TRANSCRIBE_FAILED, message=str(exc), field="paths")
        out.append(FileTranscript(path=path, text=text, seconds=seconds, elapsed=elapsed))
    return Transcripts(files=out)
