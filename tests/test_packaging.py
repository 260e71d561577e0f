"""The built wheel installs under the one `stt_dictation` namespace and shares an environment peacefully.

Builds the wheel from a copy of the source folders (pip, with build isolation: it
needs setuptools from the index or pip's cache, as `scripts/install` does), then
installs it into a fresh venv beside another distribution that ships a top-level
`server` package. The venv sees the project's dependencies through a `.pth` line
naming .venv's site-packages; that line adds a plain path, whose own `.pth` files
(the editable install) are not processed, so `stt_dictation` can only come from the wheel.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from stt_dictation.protocol.wire import __version__

REPO = Path(__file__).resolve().parent.parent
SOURCES = ("server", "client", "protocol")
DIST_INFO = f"stt_dictation-{__version__}.dist-info/"


def _pip(*args: str, python: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    target = ["--python", str(python)] if python else []
    p = subprocess.run([sys.executable, "-m", "pip", *target, "--disable-pip-version-check", *args], capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, f"pip {' '.join(args)} failed:\n{p.stdout[-2000:]}\n{p.stderr[-3000:]}"
    return p


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Our wheel, built from a copy of the source so no stale build/ of the checkout leaks into it."""
    root = tmp_path_factory.mktemp("packaging")
    src = root / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    for folder in SOURCES:
        shutil.copytree(REPO / folder, src / folder, ignore=shutil.ignore_patterns("__pycache__"))
    _pip("wheel", str(src), "--no-deps", "-w", str(root / "dist"))
    (found,) = (root / "dist").glob("stt_dictation-*.whl")
    return found


def _other_wheel(where: Path) -> Path:
    """A minimal wheel of `other-server`, shipping a top-level `server` package (a common name)."""
    files = {
        "server/__init__.py": b'WHO = "other-server"\n',
        "other_server-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: other-server\nVersion: 1.0\n",
        "other_server-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = [f"{n},sha256={base64.urlsafe_b64encode(hashlib.sha256(d).digest()).rstrip(b'=').decode()},{len(d)}" for n, d in files.items()]
    files["other_server-1.0.dist-info/RECORD"] = ("\n".join(record) + "\nother_server-1.0.dist-info/RECORD,,\n").encode()
    path = where / "other_server-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return path


def test_the_wheel_holds_only_the_namespace(wheel: Path):
    names = zipfile.ZipFile(wheel).namelist()
    strays = [n for n in names if not n.startswith(("stt_dictation/", DIST_INFO))]
    assert strays == [], f"files outside the namespace: {strays}"
    assert "stt_dictation/__init__.py" not in names  # a namespace package: another stt_dictation.* may join it
    src = wheel.parent.parent / "src"  # the copy it was built from: the checkout may change meanwhile
    for folder in SOURCES:  # every source module is in, under its installed name
        for path in (src / folder).glob("*.py"):
            assert f"stt_dictation/{folder}/{path.name}" in names
    metadata = zipfile.ZipFile(wheel).read(DIST_INFO + "METADATA").decode()
    assert f"\nVersion: {__version__}\n" in metadata  # pyproject reads protocol/wire.py's __version__
    entry_points = zipfile.ZipFile(wheel).read(DIST_INFO + "entry_points.txt").decode()
    assert "sttd = stt_dictation.server.cli:main" in entry_points and "stt = stt_dictation.client.cli:main" in entry_points


_WHERE = """
import server, stt_dictation, stt_dictation.server, stt_dictation.client.cli
print(server.WHO, server.__file__, *stt_dictation.__path__, stt_dictation.server.__file__, sep="\\n")
"""


def test_a_venv_with_another_top_level_server_package_keeps_both_working(wheel: Path, tmp_path: Path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], capture_output=True, text=True, check=True).stdout.strip())
    (site / "zz_project_deps.pth").write_text(sysconfig.get_path("purelib") + "\n")  # .venv's, after the venv's own
    other = _other_wheel(tmp_path)

    def check(ours: bool, theirs: bool) -> None:
        for tool in ("sttd", "stt"):
            assert (venv / "bin" / tool).exists() == ours
            if ours:
                p = subprocess.run([venv / "bin" / tool, "--version"], cwd=tmp_path, capture_output=True, text=True, timeout=30)
                assert (p.returncode, p.stdout) == (0, f"{tool} {__version__}\n"), p
        p = subprocess.run([python, "-c", _WHERE], cwd=tmp_path, capture_output=True, text=True, timeout=30)  # not the checkout
        if ours and theirs:
            assert p.returncode == 0, p.stderr
            who, server_file, *ns_paths, our_server = p.stdout.split("\n")[:-1]
            assert who == "other-server" and Path(server_file).is_relative_to(site)
            assert ns_paths == [str(site / "stt_dictation")], "stt_dictation must come from the venv alone"
            assert Path(our_server).is_relative_to(site / "stt_dictation" / "server")
        elif ours:
            assert "No module named 'server'" in p.stderr, p.stderr
            assert subprocess.run([python, "-c", "import stt_dictation.server.cli, stt_dictation.client.cli"], cwd=tmp_path, timeout=30).returncode == 0
        else:
            assert "No module named 'stt_dictation" in p.stderr, p.stderr  # pip may leave the empty namespace folder
            assert [f for f in (site / "stt_dictation").rglob("*") if f.is_file()] == []
            assert subprocess.run([python, "-c", "import server; assert server.WHO == 'other-server'"], cwd=tmp_path, timeout=30).returncode == 0

    _pip("install", "--no-deps", "--no-index", str(other), python=python)
    _pip("install", "--no-deps", "--no-index", str(wheel), python=python)
    check(ours=True, theirs=True)
    _pip("uninstall", "-y", "other-server", python=python)
    check(ours=True, theirs=False)
    _pip("install", "--no-deps", "--no-index", str(other), python=python)
    check(ours=True, theirs=True)
    _pip("uninstall", "-y", "stt-dictation", python=python)
    check(ours=False, theirs=True)
