"""Start-up recovery of the spool: transcribed into the journal, never typed; a damaged file is
moved aside and listed as `unreadable`, never a reason for the server not to start (issue 12, defect 3)."""

from __future__ import annotations

import asyncio
import wave

import numpy as np

from stt_dictation.server.events import EventBus
from stt_dictation.server.ledger import Ledger
from stt_dictation.server.recovery import recover
from stt_dictation.server.resilient import ResilientTranscriber
from stt_dictation.server.settings import Settings
from tests.support.fakes import Model, clip


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 20))


def stereo_wav(path, frames: int = 1600) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(44100)
        w.writeframes(np.zeros(frames * 2, dtype="<i2").tobytes())


def test_recovery_journals_spooled_phrases_as_recovered_and_sets_aside_what_it_cannot_read(tmp_path):
    async def main():
        ledger = Ledger(tmp_path, EventBus())
        await ledger.open()
        await ledger.spool.write(5, 2, clip(5, 2.0))
        await ledger.spool.write(6, 2, clip(6))
        ledger.spool.path_for(7, 2).write_bytes(b"not a wav file")
        ledger.spool.path_for(8, 2).write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt ")  # cut off in its header
        stereo_wav(ledger.spool.path_for(9, 2))  # a WAV, but none this spool wrote
        with wave.open(str(ledger.spool.path_for(10, 2)), "wb") as w:  # a header and no samples
            w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000)
        transcriber = ResilientTranscriber(Model({5: "ask not", 6: "Thank you."}), Settings())
        assert await recover(ledger, transcriber, {"ask": "Ask"}) == 2
        entries = {e.seq: e for e in await ledger.recent(20)}
        await ledger.close()
        return entries, [s.seq for s in ledger.spooled()]

    entries, left = run(main())
    assert (entries[5].status, entries[5].text, entries[5].audio_seconds) == ("recovered", "Ask not", 2.0)
    assert entries[5].note == "recovered from the spool after a crash; not typed"
    assert entries[6].status == "recovered" and entries[6].text == "Thank you."
    assert left == []
    aside = tmp_path / "spool" / "unreadable"
    for seq in (7, 8, 9, 10):
        e = entries[seq]
        kept = aside / f"{seq:010d}-00000002.wav"
        assert (e.status, e.recording) == ("unreadable", 2), e
        assert kept.exists() and str(kept) in e.note and "cannot be read" in e.note
    assert (aside / "0000000007-00000002.wav").read_bytes() == b"not a wav file"  # kept as it was


def test_a_second_unreadable_file_of_the_same_name_does_not_replace_the_first(tmp_path):
    async def main():
        ledger = Ledger(tmp_path, EventBus())
        await ledger.open()
        transcriber = ResilientTranscriber(Model({}), Settings())
        ledger.spool.dir.mkdir()
        for content in (b"first", b"second"):
            ledger.spool.path_for(3, 1).write_bytes(content)
            await recover(ledger, transcriber, {})
        await ledger.close()

    run(main())
    aside = tmp_path / "spool" / "unreadable"
    assert sorted(p.read_bytes() for p in aside.iterdir()) == [b"first", b"second"]


def test_left_over_audio_of_a_settled_phrase_is_only_removed_and_a_failed_phrase_is_transcribed_again(tmp_path):
    async def main():
        ledger = Ledger(tmp_path, EventBus())
        await ledger.open()
        # Phrase 1 was typed, but removing its audio failed; phrase 2 failed before it had text.
        await ledger.record(1, 1, clip(1), None)
        await ledger.set(1, "typed", text="already typed")
        await ledger.failed(2, 1, clip(2), None, "phrase 2 failed: OSError: disk full")
        model = Model({1: "never asked", 2: "said again"})
        assert await recover(ledger, ResilientTranscriber(model, Settings()), {}) == 1
        entries = {e.seq: e for e in await ledger.recent(10)}
        await ledger.close()
        return model, entries, ledger.spooled()

    model, entries, left = run(main())
    assert model.heard == [2]
    assert (entries[1].status, entries[1].text) == ("typed", "already typed")
    assert (entries[2].status, entries[2].text) == ("recovered", "said again")
    assert left == []


def test_a_phrase_that_cannot_be_transcribed_now_stays_for_the_next_start_and_the_rest_go_on(tmp_path):
    class Odd(Model):
        async def transcribe(self, audio, prompt=None, lead=None):
            k = round(float(np.max(audio)) * 100)
            if k == 2:
                raise RuntimeError("the model choked")
            return await super().transcribe(audio, prompt)

    async def main():
        ledger = Ledger(tmp_path, EventBus())
        await ledger.open()
        for k in (1, 2, 3):
            await ledger.spool.write(k, 1, clip(k))
        model = Odd({1: "one", 3: "three"}, broken={1})
        assert await recover(ledger, ResilientTranscriber(model, Settings()), {}) == 1
        entries = {e.seq: e for e in await ledger.recent(10)}
        await ledger.close()
        return entries, [s.seq for s in ledger.spooled()]

    entries, left = run(main())
    assert left == [1, 2]  # a TranscribeError and a surprise both leave the audio for the next start
    assert entries[3].status == "recovered" and 1 not in entries and 2 not in entries
