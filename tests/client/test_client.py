"""The `stt` client: what it sends is valid protocol, the hotkey path stays light, and its
behaviour against no server, a real server, and a few awkward ones."""

from __future__ import annotations

import ast
import asyncio
import json
import os
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from stt_dictation.client import cli as client_cli
from stt_dictation.client import hotkey
from stt_dictation.protocol import wire
from stt_dictation.protocol.commands import COMMAND_ADAPTER, COMMAND_TYPES
from stt_dictation.protocol.messages import (
    FileTranscript,
    History,
    HistoryEntry,
    Ok,
    PhraseEvent,
    StateChanged,
    Status,
    Transcripts,
)
from tests.support.env import CLIENT_CMD, NOT_RUNNING, PYTHON, REPO, base_env, unique_socket_name
from tests.support.sttd import Sttd, SttdFactory


CLIENT_DIR = REPO / "client"
SHARED = {"PROTOCOL_VERSION", "MAX_LINE", "MAX_LINE_BYTES", "MAX_REPLY_BYTES", "decode_flat", "peer_credentials", "socket_address", "__version__"}


def test_the_client_defines_no_copy_of_the_shared_protocol():
    """Version, limits, address, SO_PEERCRED parsing, exit codes and the JSON parser come from protocol/."""
    for path in sorted(CLIENT_DIR.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        defined = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                defined.add(node.name)
            elif isinstance(node, ast.Assign):
                defined |= {n.id for t in node.targets for n in ast.walk(t) if isinstance(n, ast.Name)}
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("\0stt-"):
                defined.add(f"socket name literal {node.value!r}")
            elif isinstance(node, ast.Attribute) and node.attr == "SO_PEERCRED":
                defined.add("SO_PEERCRED")
        copies = sorted(d for d in defined if d in SHARED or d.startswith(("EXIT_", "socket name", "SO_PEERCRED")))
        assert copies == [], f"{path.name} defines its own {copies}"
    assert hotkey.NOT_RUNNING == NOT_RUNNING


def test_usage_lists_the_shared_exit_codes():
    meaning = {wire.EXIT_OK: "ok", wire.EXIT_NOT_RUNNING: "sttd not running", wire.EXIT_USAGE: "usage", wire.EXIT_ERROR: "error from the server", wire.EXIT_FOREIGN: "socket owned by another user"}
    assert "exit codes: " + ", ".join(f"{code} {what}" for code, what in sorted(meaning.items())) + "\n" in client_cli.USAGE


def test_version_is_the_shared_one(capsys):
    assert client_cli.main(["--version"]) == 0
    assert capsys.readouterr().out == f"stt {wire.__version__}\n"


def test_a_bad_stt_socket_is_a_usage_error_in_one_line(tmp_path):
    env = {**base_env(unique_socket_name()), "STT_SOCKET": "/run/stt.sock"}
    for args in (["toggle"], ["status"], ["tail"]):
        p = subprocess.run([*CLIENT_CMD, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=20)
        assert p.returncode == wire.EXIT_USAGE, p
        assert p.stderr.startswith("stt: STT_SOCKET=") and p.stderr.count("\n") == 1, p.stderr
        assert p.stdout == ""


# --- what the client sends ----------------------------------------------------------------

ENTRY = HistoryEntry(seq=1, recording=1, status="typed", text="hello [world]", audio_seconds=1.0, speech_end=1.7e9, transcribed_at=1.7e9 + 0.3)
STATUS = Status(state="idle", pid=4242, version="0.1.0", model="tiny.en", backend="local", injector="none", pending=0, error=None)


class RecordingServer:
    """A stand-in sttd on a real abstract socket: records every line, answers with protocol models."""

    def __init__(self) -> None:
        self.name = unique_socket_name()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind("\0" + self.name)
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.lines: list[bytes] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _reply(self, line: bytes) -> list[bytes]:
        cmd = json.loads(line)
        kind = cmd.get("type")
        if kind == "status":
            out = [STATUS]
        elif kind == "history":
            out = [History(entries=[ENTRY])]
        elif kind == "transcribe":
            out = [Transcripts(files=[FileTranscript(path=p, text=f"text of {os.path.basename(p)}", seconds=1.0, elapsed=0.1) for p in cmd["paths"]])]
        elif kind == "subscribe":
            out = [Ok(state="idle", message="subscribed"), PhraseEvent(entry=ENTRY, latency=0.3), StateChanged(state="recording", at=1.7e9)]
        else:
            out = [Ok(state="idle", message=f"did {kind}")]
        return [m.model_dump_json().encode() + b"\n" for m in out]

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            with conn:
                conn.settimeout(5)
                buf = b""
                try:
                    while b"\n" not in buf:
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        buf += chunk
                except socket.timeout:
                    continue
                if b"\n" not in buf:
                    continue
                line = buf.split(b"\n", 1)[0]
                self.lines.append(line)
                for reply in self._reply(line):
                    conn.sendall(reply)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


@pytest.fixture
def recorder(monkeypatch):
    srv = RecordingServer()
    monkeypatch.setenv("STT_SOCKET", srv.name)
    try:
        yield srv
    finally:
        srv.close()


def _audio_files(tmp_path: Path, n: int) -> list[str]:
    out = []
    for i in range(n):
        p = tmp_path / f"clip{i}.wav"
        p.write_bytes(b"RIFF")
        out.append(str(p))
    return out


CLIENT_INVOCATIONS = [
    (["toggle"], ["toggle"]),
    (["start"], ["start"]),
    (["stop"], ["stop"]),
    (["cancel"], ["cancel"]),
    (["paste"], ["paste"]),
    (["shutdown"], ["shutdown"]),
    (["status"], ["status"]),
    (["status", "--json"], ["status"]),
    (["status", "--format", "waybar"], ["status"]),
    (["status", "--format", "plain"], ["status"]),
    (["status", "--watch"], ["status", "subscribe", "status", "status"]),  # one status per event
    (["history"], ["history"]),
    (["history", "-n", "5", "--json"], ["history"]),
    (["tail", "--json"], ["subscribe"]),
    (["tail", "-n", "3"], ["subscribe"]),
    (["transcribe", "FILE"], ["transcribe"]),
    (["transcribe", "FILE", "FILE", "--json"], ["transcribe"]),
]


@pytest.mark.parametrize(("argv", "types"), CLIENT_INVOCATIONS, ids=[" ".join(a) for a, _ in CLIENT_INVOCATIONS])
def test_every_client_command_sends_valid_protocol(recorder, capsys, tmp_path, argv, types):
    files = iter(_audio_files(tmp_path, 2))
    argv = [next(files) if a == "FILE" else a for a in argv]
    rc = client_cli.main(argv)
    out = capsys.readouterr().out
    # tail and status --watch run until the stream ends, then say the server went away (1)
    assert rc == (1 if argv[0] == "tail" or "--watch" in argv else 0), out
    assert [json.loads(x)["type"] for x in recorder.lines] == types
    for line in recorder.lines:
        cmd = COMMAND_ADAPTER.validate_json(line)  # raises if the client speaks anything else
        assert cmd.v == wire.PROTOCOL_VERSION
        assert json.loads(line)["v"] == wire.PROTOCOL_VERSION, "the client must always send its version"
        assert line.count(b"\n") == 0 and len(line) <= wire.MAX_LINE_BYTES
    sent = [json.loads(x) for x in recorder.lines]
    if argv[0] == "history" and "-n" in argv:
        assert sent[0]["limit"] == 5
    if argv[0] == "tail" and "-n" in argv:
        assert sent[0]["history"] == 3
    if argv[0] == "transcribe":
        assert sent[0]["paths"] == [a for a in argv[1:] if not a.startswith("--")]
        assert all(os.path.isabs(p) for p in sent[0]["paths"])
    # and the output reflects the reply it got
    if argv == ["status", "--json"]:
        assert json.loads(out) == {k: v for k, v in json.loads(STATUS.model_dump_json()).items() if k != "type"}
    if argv == ["status"]:
        assert "idle" in out and "pid 4242" in out
    if argv[:2] == ["status", "--format"] and argv[2] == "waybar":
        assert json.loads(out)["class"] == "idle"
    if argv[0] == "history" and "--json" in argv:
        assert json.loads(out)[0]["text"] == "hello [world]"
    if argv[0] == "tail" and "--json" in argv:
        assert [json.loads(x)["type"] for x in out.splitlines()] == ["phrase", "state"]
    if argv[0] == "tail" and "--json" not in argv:
        assert "hello [world]" in out  # rich markup in transcripts is escaped, not interpreted


def test_every_command_type_the_client_can_send_is_covered():
    sent_types = {t for _, types in CLIENT_INVOCATIONS for t in types}
    assert sent_types == set(COMMAND_TYPES)


def test_relative_transcribe_paths_are_made_absolute(recorder, capsys, tmp_path, monkeypatch):
    (tmp_path / "rel.wav").write_bytes(b"RIFF")
    monkeypatch.chdir(tmp_path)
    assert client_cli.main(["transcribe", "rel.wav"]) == 0
    cmd = COMMAND_ADAPTER.validate_json(recorder.lines[0])
    assert cmd.paths == [str(tmp_path / "rel.wav")]
    assert capsys.readouterr().out.strip() == "text of rel.wav"


# --- the hotkey path stays light ---------------------------------------------------------------

_PROBE = r"""
import sys
from stt_dictation.client.cli import main
rc = main(sys.argv[1:])
mods = sorted(sys.modules)
sys.stdout.write("\n@@RC %d\n" % rc + "\n".join(mods) + "\n")
"""
HEAVY = ("pydantic", "pydantic_core", "asyncio", "rich", "numpy", "json", "re", "argparse")
LIGHT_PROTOCOL = {"stt_dictation.protocol", "stt_dictation.protocol.wire"}
"""The standard-library part of protocol/: the only part the hotkey path may load."""


def _loaded_modules(args: list[str], socket_name: str) -> tuple[int, set[str]]:
    p = subprocess.run([PYTHON, "-c", _PROBE, *args], cwd=REPO, env=base_env(socket_name), capture_output=True, text=True, timeout=20)
    assert "\n@@RC " in p.stdout, p
    first, *mods = p.stdout.split("\n@@RC ", 1)[1].splitlines()
    return int(first), set(mods)


def _heavy(mods: set[str]) -> list[str]:
    own_heavy = {m for m in mods if m.startswith(("stt_dictation.server", "stt_dictation.protocol")) and m not in LIGHT_PROTOCOL}
    return sorted(own_heavy | {m for m in mods if m.split(".")[0] in HEAVY})


def test_hotkey_path_without_server_imports_nothing_heavy():
    rc, mods = _loaded_modules(["toggle"], unique_socket_name())
    assert rc == 1
    assert "stt_dictation.client.cli" in mods  # the probe measured the real thing
    assert LIGHT_PROTOCOL <= mods  # the client uses the shared protocol module, not copies
    assert _heavy(mods) == []


@pytest.mark.parametrize("cmd", ["toggle", "stop", "status"])
def test_hotkey_path_with_server_imports_nothing_heavy(shared_sttd: Sttd, cmd):
    rc, mods = _loaded_modules([cmd], shared_sttd.socket_name)
    assert rc == 0 or (cmd == "toggle" and rc == 3)  # no microphone here: toggle's reply is the audio error
    assert _heavy(mods) == []


def test_hotkey_importtime_lists_no_heavy_module():
    """The same check through `python -X importtime`, which logs every import, even undone ones."""
    p = subprocess.run(
        [PYTHON, "-X", "importtime", "-m", "stt_dictation.client.cli", "toggle"],
        cwd=REPO,
        env=base_env(unique_socket_name()),
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert p.returncode == 1
    imported = {line.split("|")[-1].strip() for line in p.stderr.splitlines() if line.startswith("import time:")}
    assert "stt_dictation.client" in imported
    assert _heavy(imported) == []


# --- no server ----------------------------------------------------------------------------------

NO_SERVER_COMMANDS = [
    ["toggle"],
    ["start"],
    ["stop"],
    ["cancel"],
    ["paste"],
    ["status"],
    ["status", "--json"],
    ["tail"],
    ["tail", "--json"],
    ["history"],
    ["history", "--json"],
    ["shutdown"],
    ["transcribe", "FILE"],
]


@pytest.mark.parametrize("argv", NO_SERVER_COMMANDS, ids=" ".join)
def test_no_server_prints_one_line_and_exits_1(argv, tmp_path):
    f = tmp_path / "a.wav"
    f.write_bytes(b"RIFF")
    argv = [str(f) if a == "FILE" else a for a in argv]
    p = subprocess.run([*CLIENT_CMD, *argv], cwd=tmp_path, env=base_env(unique_socket_name()), capture_output=True, text=True, timeout=20)
    assert p.returncode == 1, p
    assert p.stderr == NOT_RUNNING + "\n"
    assert p.stdout == ""


# --- against a real server ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared_sttd(tmp_path_factory) -> Sttd:
    factory = SttdFactory(tmp_path_factory.mktemp("client-sttd"))
    try:
        yield factory(wait="idle")
    finally:
        factory.close()


def test_status_json_is_one_object(shared_sttd: Sttd):
    p = shared_sttd.client("status", "--json")
    assert p.returncode == 0, p
    lines = p.stdout.splitlines()
    assert len(lines) == 1
    st = json.loads(lines[0])
    assert isinstance(st, dict)
    assert {"state", "pid", "model", "injector", "pending"} <= set(st)
    assert st["pid"] == shared_sttd.pid
    assert st["injector"] == "none"
    assert st["state"] in ("loading", "idle", "recording", "error")
    assert isinstance(st["pending"], int)


def test_status_plain_is_one_line(shared_sttd: Sttd):
    p = shared_sttd.client("status")
    assert p.returncode == 0, p
    assert f"pid {shared_sttd.pid}" in p.stdout.splitlines()[0]
    assert "injector none" in p.stdout


def test_history_json_is_an_array(shared_sttd: Sttd):
    p = shared_sttd.client("history", "--json")
    assert p.returncode == 0, p
    assert isinstance(json.loads(p.stdout), list)
    assert len(p.stdout.strip().splitlines()) == 1


def test_usage_errors_exit_2(shared_sttd: Sttd):
    for args in (["frobnicate"], ["toggle", "now"], ["history", "-n", "0"], []):
        p = shared_sttd.client(*args)
        assert p.returncode == 2, (args, p)


def test_shutdown_stops_the_server(sttd: Sttd):
    p = sttd.client("shutdown")
    assert p.returncode == 0, p
    assert "shutting down" in p.stdout
    assert sttd.wait_exit(5) == 0
    p = sttd.client("status")
    assert p.returncode == 1
    assert p.stderr == NOT_RUNNING + "\n"


def _populate_history(db: Path, n: int, text_len: int) -> None:
    from stt_dictation.server.history import History as Journal

    async def fill():
        j = Journal(db)
        await j.open()
        for seq in range(1, n + 1):
            await j.add(seq, 1, 1.0, 1.7e9 + seq)
            await j.update(seq, status="typed", text=("word " * (text_len // 5))[:text_len], transcribed_at=1.7e9 + seq + 0.2)
        await j.close()

    db.parent.mkdir(parents=True, exist_ok=True)
    asyncio.run(fill())


def test_long_history_reply_is_read_whole(sttd_factory: SttdFactory, tmp_path):
    """`stt history -n 500` on a full journal: a reply bigger than 64 KiB must still work (or fail cleanly)."""
    root = tmp_path / "populated"
    _populate_history(root / "state" / "history.sqlite3", 500, 200)
    srv = sttd_factory(state_root=root)
    direct = srv.request({"type": "history", "limit": 500})
    assert len(direct["entries"]) == 500  # the server sends it all, in one line of ~150 KiB
    p = srv.client("history", "-n", "500", "--json")
    assert "Traceback" not in p.stderr, p.stderr[-2000:]
    assert p.returncode == 0, p.stderr
    assert len(json.loads(p.stdout)) == 500


def test_full_listen_backlog_is_a_clean_error_not_a_traceback(tmp_path):
    """A server whose accept queue is full (a wedged sttd, a burst of clients) must not crash `stt`."""
    name = unique_socket_name()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind("\0" + name)
    listener.listen(0)
    held = []
    try:
        for _ in range(8):  # fill the accept queue
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.setblocking(False)
            try:
                c.connect("\0" + name)
            except BlockingIOError:
                c.close()
                break
            held.append(c)
        else:
            pytest.skip("could not fill the listen backlog")
        for args in (["toggle"], ["status", "--json"]):
            t0 = time.monotonic()
            p = subprocess.run([*CLIENT_CMD, *args], env=base_env(name), capture_output=True, text=True, timeout=30)
            assert time.monotonic() - t0 < 15
            assert "Traceback" not in p.stderr, f"stt {' '.join(args)} crashed:\n{p.stderr[-1500:]}"
            assert p.returncode in (1, 3), p
            assert len(p.stderr.strip().splitlines()) == 1, p.stderr
    finally:
        for c in held:
            c.close()
        listener.close()
