"""`sttd` is a singleton per socket name: the abstract bind decides, the kernel frees it on death."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time

import pytest

from tests.support.env import PYTHON, SERVER_CMD, base_env, setpriv_cmd, unique_socket_name
from tests.support.sttd import SttdFactory
from tests.support.wait import wait_until

EXIT_RUNNING = 3


def _wait_all(procs, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for p in procs:
        try:
            p.wait(max(0.01, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass


@pytest.mark.timeout(120)
def test_32_concurrent_starts_one_winner_three_rounds(sttd_factory: SttdFactory):
    name = unique_socket_name()
    for rnd in range(3):
        servers = [sttd_factory.spawn(socket_name=name) for _ in range(32)]
        # The losers exit on their own; the winner keeps running. Wait until only one is left.
        try:
            wait_until(lambda: sum(s.alive() for s in servers) <= 1, timeout=40, interval=0.05)
        except AssertionError:
            pass  # reported just below, with the details
        alive = [s for s in servers if s.alive()]
        assert len(alive) == 1, f"round {rnd}: {len(alive)} servers alive; exit codes {[s.proc.returncode for s in servers]}"
        winner = alive[0]
        st = winner.wait_ready(15)
        assert st["pid"] == winner.pid
        for s in servers:
            if s is winner:
                continue
            assert s.proc.returncode == EXIT_RUNNING, f"round {rnd}: pid {s.pid} exited {s.proc.returncode}: {s.log()}"
            err = s.log()
            assert f"pid {winner.pid}" in err, f"round {rnd}: loser's stderr does not name the winner {winner.pid}: {err!r}"
            assert len(err.strip().splitlines()) == 1, err
        # and the socket really is the winner's: a fresh status from a new connection says so
        assert winner.status()["pid"] == winner.pid
        winner.kill()


def test_second_instance_exits_3_quickly_naming_the_pid(idle_sttd):
    # The first server has finished loading its model, so the timing is not competing with it for CPU.
    sttd = idle_sttd
    # Warm the page cache and the bytecode so the timing below measures sttd, not the disk.
    env = base_env(sttd.socket_name)
    subprocess.run([*SERVER_CMD, "--injector", "none"], env=env, capture_output=True, timeout=10)
    t0 = time.monotonic()
    p = subprocess.run([*SERVER_CMD, "--injector", "none"], env=env, capture_output=True, text=True, timeout=10)
    elapsed = time.monotonic() - t0
    assert p.returncode == EXIT_RUNNING, p
    assert f"pid {sttd.pid}" in p.stderr
    assert "already running" in p.stderr
    assert "stt shutdown" in p.stderr  # tells the user how to stop it
    assert p.stdout == ""
    # The whole process, interpreter start included (about 0.15 s here); the claim runs
    # before any heavy import, so 0.5 s holds even on a loaded 2-core machine.
    assert elapsed < 0.5, f"second sttd took {elapsed:.2f} s to give up"
    assert sttd.status()["pid"] == sttd.pid  # the first one is unaffected


def test_sigkill_frees_the_name_at_once(sttd_factory: SttdFactory):
    first = sttd_factory()
    state_files_before = set(os.listdir(first.root))
    first.proc.send_signal(signal.SIGKILL)
    first.proc.wait(5)
    t0 = time.monotonic()
    second = sttd_factory.spawn(socket_name=first.socket_name)
    st = second.wait_ready(timeout=1.0)
    elapsed = time.monotonic() - t0
    assert st["pid"] == second.pid != first.pid
    assert elapsed < 1.0
    assert "already" not in second.log() and "holds" not in second.log()
    # No lock or pid file is left behind in the state directory by the killed server.
    leftovers = {f for f in os.listdir(first.root) if re.search(r"lock|\.pid$", f)} - state_files_before
    assert not leftovers


def test_sigkill_with_same_state_dir_restarts(sttd_factory: SttdFactory, tmp_path):
    """A restart after a crash on the same state directory (the real-life case) also serves at once."""
    root = tmp_path / "shared-state"
    first = sttd_factory(state_root=root)
    first.proc.kill()
    first.proc.wait(5)
    t0 = time.monotonic()
    second = sttd_factory.spawn(socket_name=first.socket_name, state_root=root)
    second.wait_ready(timeout=1.0)
    assert time.monotonic() - t0 < 1.0
    assert not [p for p in root.rglob("*") if re.search(r"(lock|\.pid)$", p.name)]


def test_holder_with_a_full_accept_queue_still_means_exit_3(sttd_factory: SttdFactory):
    """A wedged holder whose listen backlog is full (e.g. a status bar polling it) must not crash sttd."""
    import socket

    name = unique_socket_name()
    holder = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    holder.bind("\0" + name)
    holder.listen(0)
    queued = []
    try:
        for _ in range(8):
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.setblocking(False)
            try:
                c.connect("\0" + name)
            except BlockingIOError:
                c.close()
                break
            queued.append(c)
        else:
            pytest.skip("could not fill the listen backlog")
        srv = sttd_factory.spawn(socket_name=name)
        rc = srv.wait_exit(5)
        assert "Traceback" not in srv.log(), srv.log()
        assert rc == EXIT_RUNNING
        assert len(srv.log().strip().splitlines()) == 1
    finally:
        for c in queued:
            c.close()
        holder.close()


_NOBODY_LISTENER = r"""
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind("\0" + sys.argv[1])
s.listen(16)
s.settimeout(0.2)
print("ready", flush=True)
held = []
end = time.monotonic() + float(sys.argv[2])
while time.monotonic() < end:
    try:
        c, _ = s.accept()
        held.append(c)
    except socket.timeout:
        pass
"""


def _need_root_and_setpriv():
    if os.geteuid() != 0:
        pytest.skip("needs root to run a process as uid 65534")
    if subprocess.run(["which", "setpriv"], capture_output=True).returncode != 0:
        pytest.skip("setpriv is not installed")


def test_sttd_refuses_a_name_held_by_another_user(sttd_factory: SttdFactory):
    _need_root_and_setpriv()
    name = unique_socket_name()
    listener = subprocess.Popen(
        [*setpriv_cmd(), PYTHON, "-c", _NOBODY_LISTENER, name, "20"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert listener.stdout.readline().strip() == "ready", listener.stderr.read()
        srv = sttd_factory.spawn(socket_name=name)
        assert srv.wait_exit(5) == EXIT_RUNNING
        assert f"pid {listener.pid}" in srv.log()
        assert "uid 65534" in srv.log() and "another user" in srv.log()
    finally:
        listener.kill()
        listener.wait(5)
