"""Sound cues (server/sounds.py): the tones, custom files, and when the daemon plays them (fake microphone)."""

from __future__ import annotations

import asyncio
import wave

import numpy as np

from stt_dictation.protocol.commands import Start, Stop
from stt_dictation.server.settings import Settings
from stt_dictation.server.sounds import RATE, Sounds
from tests.support.daemon_rig import Rig, run


def _pitch(samples: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(samples))
    return float(np.argmax(spectrum) * RATE / len(samples))


def test_off_by_default_and_then_nothing_is_loaded_or_played():
    s = Sounds(Settings(), asyncio.Lock())
    assert not s.enabled and s.cues == {}
    run(s.play("start"))  # returns at once, touches no device


def test_start_rises_stop_falls_error_is_low_and_volume_scales():
    loud = Sounds(Settings(sounds=True, sound_volume=1.0), asyncio.Lock()).cues
    quiet = Sounds(Settings(sounds=True, sound_volume=0.25), asyncio.Lock()).cues
    halves = {k: (_pitch(d[: len(d) // 2]), _pitch(d[len(d) // 2 :])) for k, (d, _) in loud.items()}
    assert halves["start"][0] < halves["start"][1] and halves["stop"][0] > halves["stop"][1]
    assert max(halves["error"]) < 300
    for k, (d, rate) in loud.items():
        assert rate == RATE and len(d) / rate < 0.4  # short
        assert abs(np.max(np.abs(quiet[k][0])) - 0.25 * np.max(np.abs(d))) < 0.01


def test_custom_files_and_a_bad_one_falls_back(tmp_path):
    custom = tmp_path / "ding.wav"
    with wave.open(str(custom), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(22050)
        w.writeframes((np.full((2205, 2), 16384, "<i2")).tobytes())
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not a wav")
    cues = Sounds(Settings(sounds=True, sound_volume=1.0, sound_start=custom, sound_stop=bad), asyncio.Lock()).cues
    assert cues["start"][1] == 22050 and len(cues["start"][0]) == 2205 and abs(cues["start"][0][0] - 0.5) < 1e-3
    assert cues["stop"][1] == RATE  # the built-in one


def test_start_cue_ends_before_the_microphone_opens_stop_cue_after_it_closes_error_on_a_fault(tmp_path):
    played: list[tuple[str, bool]] = []

    async def main():
        rig = await Rig(tmp_path).up()
        sounds = Sounds(Settings(sounds=True), rig.daemon.recorder._lock)

        def fake_play(kind: str) -> asyncio.Future:
            mic = rig.mics.mic
            played.append((kind, bool(mic and mic.is_open)))
            fut = asyncio.get_running_loop().create_future()
            asyncio.get_running_loop().call_later(0.05, fut.set_result, None)
            return fut

        sounds._play_in_thread = fake_play
        rig.daemon.sounds = sounds
        await rig.daemon.handle(Start())
        await rig.opened()
        await rig.daemon.handle(Stop())
        await rig.settled()
        for _ in range(100):
            if len(played) == 2:
                break
            await asyncio.sleep(0.01)
        rig.mics.mic.fail = "cannot open input device 'usb'"
        await rig.daemon.handle(Start())
        for _ in range(100):
            if len(played) == 4:
                break
            await asyncio.sleep(0.01)

    run(main())
    assert played == [("start", False), ("stop", False), ("start", False), ("error", False)]
