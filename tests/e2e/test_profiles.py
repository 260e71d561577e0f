"""Profiles (issue 12, defect 6): each `STT_SOCKET` profile has its own state directory under
one XDG_STATE_HOME, so two dictating at once never touch each other's rows, numbers or spool;
and a second sttd forced onto a state directory in use is refused, by a lock the kernel frees."""

from __future__ import annotations

from stt_dictation.protocol.wire import EXIT_RUNNING
from tests.support.dictation import JFK, audio_env, finish, history, start_recording
from tests.support.wait import wait_until


def profile_env(mic, xdg, **extra) -> dict:
    """A profile's environment: no explicit state directory, one shared XDG_STATE_HOME."""
    return {**audio_env(mic), "STT_STATE_DIR": None, "XDG_STATE_HOME": str(xdg), **extra}


def test_two_profiles_dictating_at_once_keep_their_own_history(sttd_factory, mic, tmp_path):
    xdg = tmp_path / "xdg-state"
    # A types slowly, so its phrases sit in `typing` while B starts: B's start used to settle
    # A's journal as if A had crashed (`typing` became `interrupted`) and recover A's spool.
    a = sttd_factory(injector="stdout", env=profile_env(mic, xdg, STT_TEST_INJECT_DELAY="1.0"), wait="idle")
    start_recording(a)
    mic.play(JFK)
    wait_until(lambda: any(e["status"] == "typing" for e in history(a)), 20.0, what="a phrase of A being typed")
    b = sttd_factory(injector="stdout", env=profile_env(mic, xdg), wait="idle")
    start_recording(b)  # both hear the same microphone now
    mic.play(JFK)
    mic.play_silence(1.0)
    finish(a, timeout=90)
    finish(b, timeout=60)
    ha, hb = history(a), history(b)
    for h in (ha, hb):
        assert h and all(e["status"] in ("typed", "filtered", "empty") for e in h), h
        seqs = [e["seq"] for e in h]
        assert seqs == list(range(1, len(seqs) + 1)), seqs  # each numbers its own phrases from 1
    said = lambda h: " ".join(e["text"] for e in h).lower()  # noqa: E731
    # A heard the clip twice, B once: "country" twice a clip (tiny.en has heard "fellow" as "fell" after a lead)
    assert (said(ha).count("country"), said(hb).count("country")) == (4, 2), (said(ha), said(hb))
    assert (a.stdout().lower().count("country"), b.stdout().lower().count("country")) == (4, 2), (a.stdout(), b.stdout())
    for srv in (a, b):
        own = xdg / "stt" / "profiles" / srv.socket_name
        assert (own / "history.sqlite3").is_file() and not list((own / "spool").glob("*.wav"))
    assert not (xdg / "stt" / "history.sqlite3").exists()  # the default profile's journal is untouched


def test_a_second_sttd_on_a_state_directory_in_use_is_refused_and_the_lock_dies_with_the_first(sttd_factory, tmp_path):
    shared = tmp_path / "shared"
    first = sttd_factory(state_root=shared)
    second = sttd_factory.spawn(state_root=shared)  # another socket, the same state_dir
    assert second.wait_exit(30) == EXIT_RUNNING
    [line] = second.log().strip().splitlines()
    assert f"pid {first.pid}" in line and str(shared / "state") in line and "state directory" in line
    assert first.status()["pid"] == first.pid
    first.kill()  # SIGKILL: nothing is cleaned up, the kernel drops the lock
    third = sttd_factory(state_root=shared)
    assert third.status()["pid"] == third.pid
