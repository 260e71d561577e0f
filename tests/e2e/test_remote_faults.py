"""Remote backends under faults, end to end: nothing lost, nothing twice, nothing out of order."""

from __future__ import annotations

import json
import time

from tests.support.fault_servers import FakeOpenAI, WyomingFault
from tests.support.dictation import JFK, SHORT, audio_env, dictate, finish, history, start_recording, status
from tests.support.speech import SPEECH_DIR
from tests.support.speech_servers import free_port, start_wyoming, wait_wyoming
from tests.support.wait import wait_until

OTHER = SPEECH_DIR / "cmu-arctic_cmu_arctic_us_aew_a0003.wav"


def typed_in_order(srv) -> list[dict]:
    """Typed history entries by phrase number; also checks stdout saw exactly these, once each."""
    entries = sorted(history(srv), key=lambda e: e["seq"])
    typed = [e for e in entries if e["status"] == "typed"]
    assert srv.stdout().splitlines() == [e["text"] for e in typed]
    assert [e["typed_at"] for e in typed] == sorted(e["typed_at"] for e in typed)
    return entries


def test_wyoming_killed_mid_recording_then_restarted_loses_and_repeats_nothing(sttd_factory, mic, tmp_path):
    uri = f"tcp://127.0.0.1:{free_port()}"
    wy = start_wyoming(uri, tmp_path, tmp_path / "wy.log")
    try:
        wait_wyoming(wy, uri)
        srv = sttd_factory("--remote", uri, "--remote-timeout", "5", injector="stdout", env=audio_env(mic), wait="idle")
        start_recording(srv)
        mic.play(SHORT)
        mic.play_silence(1.0)
        wait_until(lambda: srv.stdout().strip(), 10.0, what="the first phrase typed")
        wy.kill()
        mic.play(JFK)  # spoken while the server is down
        mic.play_silence(1.0)
        st = wait_until(lambda: (s := status(srv))["error"] and s, 10.0, what="the failure to show in status")
        assert "phrase" in st["error"] and st["pending"] >= 1
        assert len(list((srv.root / "state" / "spool").glob("*.wav"))) >= 1  # kept, not lost
        wy = start_wyoming(uri, tmp_path, tmp_path / "wy.log")
        wait_wyoming(wy, uri)
        mic.play(OTHER)
        mic.play_silence(1.0)
        finish(srv, timeout=60)
        entries = typed_in_order(srv)
        assert [e["status"] for e in entries] == ["typed"] * len(entries)
        text = " ".join(e["text"] for e in entries).lower()
        assert "glad to see you" in text and "your country" in text and "shook hands" in text
        assert text.index("glad") < text.index("country") < text.index("shook")
        assert status(srv)["error"] is None
        assert not list((srv.root / "state" / "spool").glob("*.wav"))
    finally:
        wy.kill()


def test_a_server_that_never_answers_times_out_and_keeps_the_phrase(sttd_factory, mic):
    with WyomingFault("silent") as fault:
        srv = sttd_factory("--remote", fault.uri, "--remote-timeout", "1", injector="stdout", env=audio_env(mic), wait="idle")
        sub = srv.connect()
        assert sub.request({"type": "subscribe", "v": 1})["type"] == "ok"
        start_recording(srv)
        mic.play(SHORT)
        mic.play_silence(1.0)
        assert srv.client("stop").returncode == 0
        st = wait_until(lambda: (s := status(srv))["error"] and s, 10.0, what="the timeout in status")
        assert "no answer within 1 s" in st["error"]
        faults = []
        deadline = time.monotonic() + 5
        while not faults and time.monotonic() < deadline:
            ev = sub.read_json(timeout=5)
            if ev and ev["type"] == "fault":
                faults.append(ev)
        assert faults and faults[0]["code"] == "transcribe_failed"
        assert st["pending"] == 1 and srv.stdout() == ""
        assert len(list((srv.root / "state" / "spool").glob("*.wav"))) == 1
        [entry] = history(srv)
        assert entry["status"] == "recorded" and "retrying" in entry["note"]
        sub.close()


def test_cancel_discards_a_phrase_waiting_for_a_retry(sttd_factory, mic):
    with WyomingFault("silent") as fault:
        srv = sttd_factory("--remote", fault.uri, "--remote-timeout", "1", injector="stdout", env=audio_env(mic), wait="idle")
        start_recording(srv)
        mic.play(SHORT)
        mic.play_silence(1.0)
        wait_until(lambda: status(srv)["error"], 10.0, what="a failed try")
        assert srv.client("cancel").returncode == 0
        wait_until(lambda: status(srv)["pending"] == 0, 20.0, what="the cancelled phrase to resolve")
        assert [e["status"] for e in history(srv)] == ["cancelled"]
        assert srv.stdout() == ""
        assert not list((srv.root / "state" / "spool").glob("*.wav"))


def test_wrong_api_key_is_a_clear_error_the_phrase_is_kept_and_the_key_never_logged(sttd_factory, mic, tmp_path):
    secret = "sk-test-" + "9" * 24
    with FakeOpenAI(key="the-right-key", text="Hello from the server.") as api:
        srv = sttd_factory(
            "--remote", api.uri, "--log-level", "debug", injector="stdout",
            env={**audio_env(mic), "STT_API_KEY": secret}, wait="idle",
        )  # fmt: skip
        sub = srv.connect()
        assert sub.request({"type": "subscribe", "v": 1})["type"] == "ok"
        start_recording(srv)
        mic.play(SHORT)
        mic.play_silence(1.0)
        st = wait_until(lambda: (s := status(srv))["error"] and s, 10.0, what="the auth failure in status")
        assert "authentication failed (HTTP 401)" in st["error"]
        seen = [sub.read_json(timeout=5) for _ in range(6)]
        assert any(ev and ev["type"] == "fault" and "authentication failed" in ev["message"] for ev in seen)
        assert len(list((srv.root / "state" / "spool").glob("*.wav"))) == 1
        srv.client("shutdown")
        srv.wait_exit(5)
        logs = srv.log() + srv.stdout() + json.dumps(history_of(srv))
        assert secret not in logs and "9" * 24 not in logs
        sub.close()


def history_of(srv) -> list:
    import sqlite3

    con = sqlite3.connect(srv.root / "state" / "history.sqlite3")
    try:
        return con.execute("SELECT * FROM phrases").fetchall()
    finally:
        con.close()


def test_fallback_to_the_local_model_after_failed_tries_keeps_order(sttd_factory, mic, tmp_path):
    cfg = tmp_path / "config.toml"
    cfg.write_text('fallback = "local"\nfallback_after = 2\n')
    dead = f"tcp://127.0.0.1:{free_port()}"
    srv = sttd_factory("--config", str(cfg), "--remote", dead, injector="stdout", env=audio_env(mic), wait="idle")
    dictate(srv, mic, SHORT, JFK)
    entries = typed_in_order(srv)
    text = " ".join(e["text"] for e in entries).lower()
    assert "glad to see you" in text and text.index("glad") < text.index("country")
    assert "falling back to the embedded model" in srv.log()
