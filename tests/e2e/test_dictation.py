"""Hearing and transcribing for real: virtual microphone -> sttd -> text (issue: hear and transcribe)."""

from __future__ import annotations

import json
import time
import pytest

from tests.support.dictation import JFK, audio_env, dictate, history, sox, start_recording, status
from tests.support.wait import wait_until


@pytest.mark.parametrize("kind", ["silence", "whitenoise", "pinknoise", "brownnoise"])
def test_silence_and_noise_produce_no_text(sttd_factory, mic, tmp_path, kind):
    wav = tmp_path / f"{kind}.wav"
    if kind == "silence":
        sox("-n", "-r", "16000", "-c", "1", "-b", "16", str(wav), "trim", "0", "4")
    else:
        sox("-n", "-r", "16000", "-c", "1", "-b", "16", str(wav), "synth", "4", kind, "vol", "0.3")
    srv = sttd_factory(injector="stdout", env=audio_env(mic), wait="idle")
    dictate(srv, mic, wav)
    assert srv.stdout().strip() == ""
    for e in history(srv):
        # Anything the model said is kept but marked, never typed.
        assert e["status"] in ("filtered", "empty"), e


def test_unplugged_microphone_is_an_error_and_the_next_start_works(sttd_factory, mic):
    srv = sttd_factory(injector="stdout", env=audio_env(mic), wait="idle")
    start_recording(srv)
    try:
        mic.unload_source()
        st = wait_until(lambda: (s := status(srv))["state"] == "error" and s, 8.0, what="state error")
        assert st["error"] and ("audio" in st["error"] or "input" in st["error"] or "microphone" in st["error"])
    finally:
        if not mic.present:
            mic.reload_source()
    assert srv.alive()
    # The server stays up, and the next start tries again and hears speech.
    dictate(srv, mic, JFK)
    assert "country" in srv.stdout().lower()
    assert status(srv)["state"] == "idle"


def test_no_such_input_device_is_an_error_state_not_a_crash(sttd_factory, mic):
    srv = sttd_factory("--input-device", "no-such-device-xyz", injector="none", env=audio_env(mic), wait="error")
    assert "no-such-device-xyz" in status(srv)["error"]  # from start-up
    done = srv.client("start")
    assert done.returncode == 3 and "no-such-device-xyz" in done.stderr
    st = status(srv)
    assert st["state"] == "error" and "no-such-device-xyz" in st["error"]
    assert srv.alive() and srv.client("status").returncode == 0


def test_kill_9_during_transcription_is_recovered_into_history_and_not_typed(sttd_factory, mic, tmp_path):
    state = tmp_path / "shared-state"
    # The test hook holds phrase 1's result for 60 s: the kill lands while it is in flight.
    env = {**audio_env(mic), "STT_TEST_TRANSCRIBE_DELAYS": json.dumps({"1": 60})}
    srv = sttd_factory(injector="stdout", env=env, state_root=state, wait="idle")
    start_recording(srv)
    mic.play(JFK)
    wait_until(lambda: list((state / "state" / "spool").glob("0000000001-*.wav")), 10.0, what="phrase 1 in the spool")
    srv.kill()
    assert "fellow" not in srv.stdout().lower()  # phrase 1 was never typed
    again = sttd_factory(injector="stdout", env=audio_env(mic), state_root=state, wait="idle")
    # Recovery runs in the background once the server is idle.
    wait_until(lambda: not list((state / "state" / "spool").glob("*.wav")), 30.0, what="the spool recovered")
    entries = {e["seq"]: e for e in history(again)}
    assert entries[1]["status"] == "recovered"
    assert "fellow" in entries[1]["text"].lower() or "americans" in entries[1]["text"].lower()
    assert not list((state / "state" / "spool").glob("*.wav"))
    time.sleep(0.5)
    assert again.stdout() == ""  # recovered text is never typed unasked


def test_transcribe_reads_any_format(idle_sttd, tmp_path):
    ogg = tmp_path / "jfk.ogg"
    sox(str(JFK), str(ogg))
    out = idle_sttd.client("transcribe", str(ogg), str(JFK), timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 2
    for line in lines:
        assert "ask not what your country can do for you" in line.lower()


def test_transcribe_of_a_missing_or_bad_file_is_a_clear_error(idle_sttd, tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio at all")
    out = idle_sttd.client("transcribe", str(bad), timeout=60)
    assert out.returncode == 3 and "transcribe_failed" in out.stderr
    assert idle_sttd.client("transcribe", str(tmp_path / "nope.wav")).returncode == 2
    assert idle_sttd.alive()


def test_a_model_that_cannot_load_exits_4_with_a_message(sttd_factory, tmp_path):
    srv = sttd_factory("--model", str(tmp_path / "no-such-model"), wait=None, env={"HF_HUB_OFFLINE": "1"})
    assert srv.wait_exit(timeout=60) == 4
    assert "cannot load model" in srv.log()


def test_list_devices_shows_the_virtual_microphone(mic):
    import subprocess

    from tests.support.env import REPO, SERVER_CMD, base_env, unique_socket_name

    env = base_env(unique_socket_name(), extra=audio_env(mic))
    r = subprocess.run([*SERVER_CMD, "--list-devices"], cwd=REPO, env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert "*" in r.stdout and ("pulse" in r.stdout.lower() or "default" in r.stdout.lower()), r.stdout
