"""Start-up recovery: phrases a previous run left in the spool go into the journal, never typed.

Each spooled file is one of three things. Audio whose outcome the journal already
holds (its removal failed) is only removed. Audio that cannot be read is moved
aside to `spool/unreadable/` (kept for a person) and journaled `unreadable`, so
one damaged file never blocks a start. Anything else is transcribed now and
journaled `recovered` (a phrase that had `failed` included). A try that fails
leaves the file for the next start; nothing here stops the server.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import wave

from .ledger import Ledger
from .pipeline import to_text
from .resilient import ResilientTranscriber
from .spool import Spooled
from .transcript import TranscribeError
from .wav import SAMPLE_RATE

log = logging.getLogger(__name__)

TRANSIENT = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOENT, errno.EINTR, errno.EAGAIN})
"""Read errors that say nothing about the file: it stays in the spool for the next start."""


async def recover(ledger: Ledger, transcriber: ResilientTranscriber, replacements: dict[str, str]) -> int:
    """Settle every spooled phrase (see the module); return how many were transcribed into the journal."""
    done = 0
    for item in ledger.spooled():
        try:
            done += await _settle(ledger, transcriber, replacements, item)
        except asyncio.CancelledError:
            raise
        except TranscribeError as exc:
            log.warning("could not recover spooled phrase %d: %s; it stays in the spool for the next start", item.seq, exc)
        except Exception as exc:  # one phrase's problem must not stop the others, nor the server
            log.error("could not recover spooled phrase %d (%s: %s); it stays in the spool", item.seq, type(exc).__name__, exc)
    return done


async def _settle(ledger: Ledger, transcriber: ResilientTranscriber, replacements: dict[str, str], item: Spooled) -> int:
    if await ledger.holds_text(item):
        await ledger.unspool(item.seq, item.recording)
        return 0
    try:
        audio = await asyncio.to_thread(ledger.spool.read, item)
    except (OSError, EOFError, ValueError, wave.Error) as exc:
        if isinstance(exc, OSError) and exc.errno in TRANSIENT:
            raise
        await ledger.unreadable(item, f"{type(exc).__name__}: {exc}")
        return 0
    result = await transcriber.transcribe(audio)
    seconds = len(audio) / SAMPLE_RATE
    out = to_text(result.segments, seconds, replacements)
    note = "recovered from the spool after a crash; not typed" + (f" (guard: {out.reason})" if out.reason else "")
    await ledger.recovered(item, seconds, out.stored, note)
    log.info("recovered phrase %d from the spool", item.seq)
    return 1
