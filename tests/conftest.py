"""Fixtures shared by every test: real `sttd` processes on private sockets, a virtual microphone and screen per module.

The machinery lives in `tests/support/` and is imported from there explicitly
(`from tests.support.sttd import SttdFactory`); this file holds fixtures only.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.devices import running
from tests.support.display import DISPLAY_BINARIES, VirtualDisplay
from tests.support.env import unique_socket_name
from tests.support.mic import MIC_BINARIES, VirtualMicrophone
from tests.support.speech_servers import serve_openai
from tests.support.sttd import Sttd, SttdFactory


@pytest.fixture
def socket_name() -> str:
    """A fresh abstract socket name."""
    return unique_socket_name()


@pytest.fixture
def sttd_factory(tmp_path: Path) -> Iterator[SttdFactory]:
    """Call it to start `sttd` processes; all are killed when the test ends."""
    factory = SttdFactory(tmp_path)
    try:
        yield factory
    finally:
        factory.close()


@pytest.fixture
def sttd(sttd_factory: SttdFactory) -> Sttd:
    """One `sttd --injector none` that answers `status` (possibly still loading)."""
    return sttd_factory()


@pytest.fixture
def idle_sttd(sttd_factory: SttdFactory) -> Sttd:
    """One `sttd --injector none` with its model loaded."""
    return sttd_factory(wait="idle")


@pytest.fixture(scope="module")
def openai_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real faster-whisper-server on a loopback port, model loaded: its /v1 URI."""
    yield from serve_openai(tmp_path_factory.mktemp("fws"))


@pytest.fixture(scope="module")
def mic() -> Iterator[VirtualMicrophone]:
    """A private PulseAudio whose default source hears what is played into it."""
    yield from running(VirtualMicrophone, MIC_BINARIES)


@pytest.fixture(scope="module")
def display() -> Iterator[VirtualDisplay]:
    """A private Xvfb screen."""
    yield from running(VirtualDisplay, DISPLAY_BINARIES)
