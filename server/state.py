"""The state directory: one per profile, usable or a one-line exit, owned by one sttd at a time.

`$XDG_STATE_HOME/stt` serves the default socket; a profile named by `STT_SOCKET`
gets `$XDG_STATE_HOME/stt/profiles/<name>`, so two profiles never share a journal
or a spool. An explicit `state_dir` setting wins. `claim` holds a flock on the
directory itself for the life of the process: the kernel frees it when the process
dies, so a crash leaves nothing to clean up, and a second sttd forced onto the same
directory is refused. Standard library only: it runs before the heavy imports.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from urllib.parse import quote


class StateDirError(Exception):
    """The state directory cannot be used (not a directory, not writable, its journal cannot be opened)."""


class StateDirBusy(Exception):
    """Another sttd holds the state directory."""


def profile_name(socket: str) -> str | None:
    """The directory name of the profile served on `socket` (an abstract address), or None for the default one."""
    name = socket[1:] if socket.startswith("\0") else socket
    if not name or name == f"stt-{os.getuid()}":
        return None
    safe = quote(name, safe="")  # '/', '%', spaces and anything not ASCII are escaped: one path component
    return "%2E" + safe[1:] if safe.startswith(".") else safe


def default_state_dir(socket: str = "", environ: dict[str, str] | None = None) -> Path:
    """`$XDG_STATE_HOME/stt` (else `~/.local/state/stt`), or its `profiles/<name>` for a named socket."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    name = profile_name(socket)
    return Path(base) / "stt" if name is None else Path(base) / "stt" / "profiles" / name


def unusable(state_dir: Path, exc: OSError) -> StateDirError:
    """The error for a state directory that failed with `exc`."""
    why = exc.strerror or str(exc)
    where = f" ({exc.filename})" if exc.filename and str(exc.filename) != str(state_dir) else ""
    for part in (state_dir, *state_dir.parents):
        if part.exists() and not part.is_dir():  # the usual case: a file where a directory should be
            why, where = "not a directory", "" if part == state_dir else f" ({part} is a file)"
            break
    return StateDirError(
        f"cannot use the state directory {state_dir}: {why}{where}; set state_dir (or XDG_STATE_HOME) to a writable directory"
    )


def claim(state_dir: Path) -> str | None:
    """Create the directory if needed, check that it is writable, and lock it for this process.

    Raises StateDirError or StateDirBusy; returns a warning when the file system cannot lock.
    """
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(state_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)  # kept open: the lock lives with it
        probe = state_dir / f".sttd-probe-{os.getpid()}"  # can we write here? (a read-only mount, a foreign owner)
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600))
        os.unlink(probe)
    except OSError as exc:
        raise unusable(state_dir, exc) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        holder = _holder(state_dir)
        raise StateDirBusy(
            f"another sttd{f' (pid {holder})' if holder else ''} already uses the state directory {state_dir}; "
            "give this profile its own (state_dir, or another STT_SOCKET name)"
        ) from None
    except OSError as exc:
        os.close(fd)
        return f"cannot lock the state directory {state_dir} ({exc.strerror}): a second sttd on it would not be refused"
    return None


def _holder(state_dir: Path) -> int | None:
    """The pid holding the flock on the directory, from /proc/locks, if it can be told."""
    try:
        st = os.stat(state_dir)
        key = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino} "
        with open("/proc/locks") as f:
            for line in f:
                parts = line.split()
                if "FLOCK" in parts and key in line + " ":
                    return int(parts[parts.index("FLOCK") + 3])
    except (OSError, ValueError, IndexError):
        pass
    return None
