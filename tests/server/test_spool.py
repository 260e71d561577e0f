"""spool: phrase audio written whole (temp file, fsync, rename), read back, removed, listed oldest first."""

from __future__ import annotations

import asyncio
import wave

import numpy as np
import pytest

from stt_dictation.server.spool import UNREADABLE, Spool, Spooled


def _audio(n: int = 1600) -> np.ndarray:
    return (np.sin(np.arange(n) / 10) * 0.5).astype(np.float32)


def test_write_read_remove_round_trip(tmp_path):
    spool = Spool(tmp_path / "spool")
    audio = _audio()
    path = asyncio.run(spool.write(7, 3, audio))
    assert path == spool.path_for(7, 3) and path.name == "0000000007-00000003.wav"
    (item,) = spool.pending()
    assert (item.seq, item.recording, item.path) == (7, 3, path)
    back = spool.read(item)
    assert back.shape == audio.shape and np.allclose(back, audio, atol=1 / 16000)
    assert not list(spool.dir.glob("*.tmp"))
    asyncio.run(spool.remove(7, 3))
    assert spool.pending() == []
    asyncio.run(spool.remove(7, 3))  # removing twice is fine


def test_pending_is_oldest_first_drops_temp_files_and_ignores_strangers(tmp_path):
    spool = Spool(tmp_path)
    for seq in (12, 2, 5):
        asyncio.run(spool.write(seq, 1, _audio(10)))
    (tmp_path / "0000000099-00000001.tmp").write_bytes(b"half")
    (tmp_path / "notes.txt").write_text("mine")
    assert [s.seq for s in spool.pending()] == [2, 5, 12]
    assert not (tmp_path / "0000000099-00000001.tmp").exists()
    assert (tmp_path / "notes.txt").exists()


def test_a_missing_spool_has_nothing_pending(tmp_path):
    assert Spool(tmp_path / "never").pending() == []


def _wav(path, channels: int, rate: int, frames: bytes = b"") -> None:
    """A 16-bit WAV file that the spool did not write."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)


def test_a_file_it_did_not_write_is_refused_and_set_aside(tmp_path):
    spool = Spool(tmp_path)
    path = spool.path_for(1, 1)
    _wav(path, channels=2, rate=44100, frames=b"\0" * 400)
    item = Spooled(1, 1, path)
    with pytest.raises(wave.Error, match="2 channel"):
        spool.read(item)
    dest = spool.set_aside(item)
    assert dest.parent == tmp_path / UNREADABLE and dest.exists() and not path.exists()
    assert spool.pending() == []
    path.write_bytes(b"again")  # a second file of the same name gets a name of its own
    assert spool.set_aside(item) != dest


def test_an_empty_wav_is_refused(tmp_path):
    spool = Spool(tmp_path)
    path = spool.path_for(1, 1)
    _wav(path, channels=1, rate=16000)  # no frames
    with pytest.raises(wave.Error, match="0 bytes"):
        spool.read(Spooled(1, 1, path))
