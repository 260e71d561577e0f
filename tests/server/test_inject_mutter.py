"""inject_mutter: keysyms, what it needs (dbus-fast, a session bus), a bus it cannot reach is Refused, and the pipe helpers.

Typing through a real Mutter is in tests/e2e/test_wayland.py; nothing here needs GNOME.
"""

from __future__ import annotations

import asyncio
import os
import threading

import pytest

from stt_dictation.server.inject_base import Refused
from stt_dictation.server.inject_mutter import MutterInjector, _read_all, _write_all, keysym


def test_keysyms():
    assert [keysym(c) for c in "a~ ÿ"] == [0x61, 0x7E, 0x20, 0xFF]
    assert keysym("€") == 0x01000000 + 0x20AC


def test_problem_without_a_session_bus_and_with_one(monkeypatch, tmp_path):
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    assert MutterInjector().problem() == "no session D-Bus (DBUS_SESSION_BUS_ADDRESS is not set)"
    (tmp_path / "bus").write_text("")  # the well-known socket path is enough to try
    assert MutterInjector().problem() is None


def test_an_unreachable_bus_is_refused_so_the_next_backend_takes_over(monkeypatch, tmp_path):
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path}/no-bus")
    with pytest.raises(Refused, match="mutter: cannot reach the session bus"):
        asyncio.run(MutterInjector().type("hello"))


def test_read_all_reads_to_the_end_within_its_limit_and_time():
    r, w = os.pipe()
    writer = threading.Thread(target=_write_all, args=(w, b"x" * 100_000))
    writer.start()
    assert _read_all(r, 200_000, 5.0) == b"x" * 100_000
    writer.join()


def test_read_all_gives_up_past_the_limit_or_the_timeout():
    r, w = os.pipe()
    os.write(w, b"y" * 100)
    assert _read_all(r, 10, 5.0) is None  # over the limit
    os.close(w)
    r, w = os.pipe()
    try:
        assert _read_all(r, 10, 0.05) is None  # nothing comes
    finally:
        os.close(w)
