"""Typing on real Wayland desktops: headless sway (wtype, the clipboard path) and headless mutter (remote desktop).

Each phrase must arrive in a foot terminal in order, Unicode intact; the clipboard
path must leave the clipboard as it found it; mutter refusing wtype must hand over.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Iterator

import pytest

from stt_dictation.server.desktop import Desktop, detect
from stt_dictation.server.injector import ChainInjector, ClipboardInjector, InjectError, MutterInjector, WtypeInjector, choose
from tests.support.devices import missing_binaries, running
from tests.support.env import CLIENT_CMD
from tests.support.wayland import MutterSession, SwaySession

PHRASES = ["Hello there, this is ASCII. ", "café naïve — Straße ✓ ", "zürich: 3 + 4 = 7! "]


@pytest.fixture(scope="module")
def sway() -> Iterator[SwaySession]:
    yield from running(SwaySession, (*SwaySession.binaries, "wtype", "wl-copy", "wl-paste", "swaymsg"), "apt-get install sway foot wtype wl-clipboard")


@pytest.fixture(scope="module")
def mutter() -> Iterator[MutterSession]:
    yield from running(MutterSession, (*MutterSession.binaries, "wtype"), "apt-get install mutter foot dbus wtype")


def in_session(session, coro_fn, timeout: float = 60.0):
    """Run a coroutine with the session's variables in os.environ (the injectors read them there)."""

    async def go():
        old = dict(os.environ)
        for name in session.unset_env:
            os.environ.pop(name, None)
        os.environ.update(session.env)
        try:
            return await coro_fn()
        finally:
            os.environ.clear()
            os.environ.update(old)

    return asyncio.run(asyncio.wait_for(go(), timeout))


def type_all(injector, phrases):
    async def go():
        try:
            for p in phrases:
                await injector.type(p)
        finally:
            await injector.aclose()

    return go


def clipboard(session, *args: str, stdin: bytes | None = None) -> bytes:
    """wl-paste's output, or with `stdin` a copy by wl-copy (whose serving child keeps no pipe of ours)."""
    env = {**os.environ, **session.env}
    if stdin is not None:
        subprocess.run(["wl-copy", *args], input=stdin, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10, check=True)
        return b""
    return subprocess.run(["wl-paste", *args], env=env, capture_output=True, timeout=10).stdout


def test_sway_is_seen_as_wlroots_and_auto_types_through_wtype(sway):
    desk = in_session(sway, lambda: asyncio.to_thread(detect))
    assert (desk.server, desk.compositor, desk.family) == ("wayland", "sway", "wlroots")
    chain = in_session(sway, lambda: asyncio.to_thread(choose, "auto"))
    assert chain.name == "wtype"


def test_wtype_types_phrases_in_order_with_unicode_on_sway(sway):
    win = sway.open_capture()
    phrases = PHRASES + [f"w{i} " for i in range(10)]  # every phrase is a new virtual keyboard whose first key can be lost
    in_session(sway, type_all(choose("auto", desktop=Desktop("wayland", "sway", "wlroots", "test")), phrases))
    expected = "".join(phrases)
    assert win.wait_for(expected) == expected
    assert win.settle() == expected


def test_clipboard_path_on_sway_pastes_and_restores_the_old_clipboard(sway):
    win = sway.open_capture()
    win.clear()
    clipboard(sway, "--type", "text/plain;charset=utf-8", stdin="what was copied before ✂".encode())
    assert clipboard(sway, "--no-newline") == "what was copied before ✂".encode()
    inj = ClipboardInjector(keys=WtypeInjector())
    in_session(sway, type_all(inj, PHRASES[:2]))
    expected = "".join(PHRASES[:2])
    assert win.wait_for(expected) == expected  # foot is a terminal: Ctrl+Shift+V, chosen by its app_id
    assert win.settle() == expected
    assert clipboard(sway, "--no-newline") == "what was copied before ✂".encode()


def test_clipboard_path_leaves_a_copy_made_during_the_paste_alone(sway):
    """The old content goes back only while the clipboard still holds ours."""
    win = sway.open_capture()
    win.clear()
    clipboard(sway, stdin=b"old")

    class CopyWhilePasting(WtypeInjector):
        async def press(self, chord: str) -> None:
            await asyncio.to_thread(clipboard, sway, stdin=b"copied by someone else")
            await super().press(chord)

    with pytest.raises(InjectError, match="another program took the clipboard"):
        in_session(sway, type_all(ClipboardInjector(keys=CopyWhilePasting()), ["mine "]))
    assert clipboard(sway, "--no-newline") == b"copied by someone else"


def test_mutter_is_seen_as_gnome_and_auto_chooses_the_remote_desktop(mutter):
    desk = in_session(mutter, lambda: asyncio.to_thread(detect))
    assert (desk.compositor, desk.family) == ("mutter", "gnome")
    chain = in_session(mutter, lambda: asyncio.to_thread(choose, "auto"))
    assert chain.name == "mutter"


def test_mutter_remote_desktop_types_in_order_with_unicode(mutter):
    win = mutter.open_capture()
    win.clear()
    inj = MutterInjector()
    in_session(mutter, type_all(inj, PHRASES))
    expected = "".join(PHRASES)
    assert win.wait_for(expected) == expected  # the first key too: the new device is settled first
    assert win.settle() == expected


def test_mutter_session_is_made_again_after_the_connection_is_lost(mutter):
    win = mutter.open_capture()
    win.clear()
    inj = MutterInjector()

    async def go():
        await inj.type("one ")
        inj._bus.disconnect()  # the session dies with its connection
        await asyncio.sleep(0.1)
        await inj.type("two ")
        await inj.aclose()

    in_session(mutter, go)
    assert win.wait_for("one two ") == "one two "


class ClipboardOwner(MutterInjector):
    """A second remote-desktop client, standing for the program that copied something before."""

    async def hold(self, data: bytes) -> None:
        from dbus_fast import Variant

        from stt_dictation.server.inject_mutter import SESSION, TEXT_TYPES

        await self._ensure()
        await self._call(self._session, SESSION, "EnableClipboard", "a{sv}", [{}])
        self._serving = data
        await self._call(self._session, SESSION, "SetSelection", "a{sv}", [{"mime-types": Variant("as", TEXT_TYPES)}])

    async def read_clipboard(self) -> bytes | None:
        from stt_dictation.server.inject_mutter import SESSION, _read_all

        reply = await self._call(self._session, SESSION, "SelectionRead", "s", ["text/plain;charset=utf-8"])
        return await asyncio.to_thread(_read_all, reply.unix_fds[reply.body[0]], 1 << 20, 2.0)


def test_mutter_restores_the_clipboard_it_borrowed_for_unicode(mutter):
    win = mutter.open_capture()
    win.clear()
    owner = ClipboardOwner()
    inj = MutterInjector()

    async def go():
        await owner.hold(b"held before")
        await asyncio.sleep(0.2)
        await inj.type("ß ")
        await inj.type("and ü ")  # the second paste keeps what the first put back
        await asyncio.sleep(0.2)
        held = await owner.read_clipboard()
        await inj.aclose()
        await owner.aclose()
        return held

    held = in_session(mutter, go)
    assert win.wait_for("ß and ü ") == "ß and ü "
    assert held == b"held before"


def test_mutter_tries_ctrl_v_when_ctrl_shift_v_pastes_nothing(mutter):
    """Mutter cannot say which window has focus; a window that pastes only with Ctrl+V (most non-terminals) still gets the text."""
    win = mutter.open_capture("[key-bindings]\nclipboard-paste=Control+v\nnoop=Control+Shift+v\n")
    win.clear()
    in_session(mutter, type_all(MutterInjector(), ["a ß b "]))
    assert win.wait_for("a ß b ") == "a ß b "
    assert win.settle() == "a ß b "  # Ctrl+Shift+V left nothing behind


def test_auto_falls_through_when_mutter_refuses_wtype(mutter):
    """An unknown compositor tries wtype first; mutter refuses it and the remote desktop takes the phrase."""
    win = mutter.open_capture()
    win.clear()
    unknown = Desktop("wayland", "unknown", "other", "test")  # as when the socket's owner cannot be asked
    chain = in_session(mutter, lambda: asyncio.to_thread(choose, "auto", desktop=unknown))
    assert isinstance(chain, ChainInjector) and chain.name == "wtype"
    in_session(mutter, type_all(chain, ["first phrase ", "second ✓ "]))
    assert win.wait_for("first phrase second ✓ ") == "first phrase second ✓ "
    assert chain.name == "wtype->mutter"
    assert "virtual keyboard protocol" in (chain.note or "")


def _doctor(session) -> tuple[int, dict]:
    import json

    env = {k: v for k, v in os.environ.items() if k not in session.unset_env and k not in ("DBUS_SESSION_BUS_ADDRESS", "WAYLAND_DISPLAY")}
    done = subprocess.run([*CLIENT_CMD, "doctor", "--json", "--mic-seconds", "0"],
                          env={**env, **session.env}, capture_output=True, text=True, timeout=60)
    assert done.stdout, done.stderr
    return done.returncode, json.loads(done.stdout)


def test_doctor_under_sway(sway):
    code, rep = _doctor(sway)
    t = rep["typing"]
    assert (t["display"]["compositor"], t["display"]["family"], t["auto"]["chooses"]) == ("sway", "wlroots", "wtype")
    assert "sway" in t["display"]["how"]
    assert code == 0, rep["problems"]


def test_doctor_under_mutter(mutter):
    code, rep = _doctor(mutter)
    t = rep["typing"]
    assert (t["display"]["family"], t["auto"]["chooses"]) == ("gnome", "mutter")
    usable = {b["name"]: b for b in t["backends"]}
    assert usable["mutter"]["usable"] and not usable["wtype"]["usable"]
    assert "virtual-keyboard" in usable["wtype"]["problem"]
    assert code == 0, rep["problems"]


def test_mutter_backend_without_mutter_is_refused_so_auto_moves_on(tmp_path):
    """A session bus where nobody owns org.gnome.Mutter.RemoteDesktop (sway, KDE): a refusal, not a failure."""
    from stt_dictation.server.injector import Refused
    from tests.support.process import Process

    if missing_binaries(("dbus-daemon",)):
        pytest.skip("missing dbus-daemon: apt-get install dbus")
    address = f"unix:path={tmp_path}/bus"
    with Process(["dbus-daemon", "--session", "--nofork", "--nopidfile", f"--address={address}"], tmp_path / "dbus.log"):
        from tests.support.devices import wait_until

        wait_until((tmp_path / "bus").exists, 10, "the session bus")

        class Bare:
            unset_env = ()
            env = {"DBUS_SESSION_BUS_ADDRESS": address}

        with pytest.raises(Refused, match="CreateSession"):
            in_session(Bare, type_all(MutterInjector(), ["x"]))


def _typed_history(entries: list[dict]) -> str:
    """What the keyboard should have produced: typed phrases, joined by one space within a recording."""
    out, last = [], None
    for e in sorted(entries, key=lambda e: e["seq"]):
        if e["status"] == "typed":
            out.append((" " if e["recording"] == last else "") + e["text"])
            last = e["recording"]
    return "".join(out)


@pytest.mark.parametrize("desktop, backend", [("sway", "wtype"), ("mutter", "mutter")])
def test_sttd_types_a_dictated_clip_through_auto(request, sttd_factory, mic, desktop, backend):
    """The whole path: microphone, model, `auto` choosing per compositor, text in the foot window."""
    import json

    from tests.support.dictation import SHORT, audio_env, dictate, history
    from tests.support.speech import normalise

    session = request.getfixturevalue(desktop)
    win = session.open_capture()
    win.clear()
    srv = sttd_factory(injector="auto", env=audio_env(mic, session), wait="idle")
    assert json.loads(srv.client("status", "--json").stdout)["injector"] == backend
    dictate(srv, mic, SHORT)
    typed = win.settle(quiet=0.5, timeout=15)
    assert typed == _typed_history(history(srv))
    assert "glad to see you again" in " ".join(normalise(typed))
