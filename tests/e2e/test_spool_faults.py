"""A phrase whose audio cannot be spooled (issue 12, defect 4), end to end: it used to vanish with
one log line; now `stt status` and `stt tail` show the fault and the words are still typed."""

from __future__ import annotations

import shutil

from tests.support.dictation import JFK, audio_env, dictate, history, status


def test_a_spool_that_cannot_be_written_is_a_fault_and_dictation_still_types(sttd_factory, mic, tmp_path):
    root = tmp_path / "root"
    srv = sttd_factory(injector="stdout", env=audio_env(mic), state_root=root, wait="idle")
    spool = root / "state" / "spool"
    shutil.rmtree(spool, ignore_errors=True)
    spool.write_text("a file where the spool directory should be\n")  # every write fails, as on a full disk
    with srv.connect(timeout=5) as tail:
        assert tail.request({"type": "subscribe", "v": 1})["type"] == "ok"
        dictate(srv, mic, JFK)
        events = []
        try:
            while (ev := tail.read_json(timeout=1.0)) is not None:
                events.append(ev)
        except TimeoutError:
            pass  # everything sent so far is read
    st = status(srv)
    assert st["state"] == "error" and "could not be kept safe" in st["error"], st
    faults = [e for e in events if e["type"] == "fault"]
    assert faults and all(f["code"] == "phrase_failed" for f in faults), events
    assert "fellow" in srv.stdout().lower()  # typed all the same
    entries = history(srv)
    assert entries and all(e["status"] == "typed" for e in entries), entries
