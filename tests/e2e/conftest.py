"""End-to-end fixtures: a virtual microphone and a virtual screen, one of each per module.

The dictation helpers the tests call live in `tests/support/dictation.py`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.devices import missing_binaries
from tests.support.display import DISPLAY_BINARIES, VirtualDisplay
from tests.support.mic import MIC_BINARIES, VirtualMicrophone


@pytest.fixture(scope="module")
def mic() -> Iterator[VirtualMicrophone]:
    """A private PulseAudio whose default source hears what is played into it."""
    missing = missing_binaries(MIC_BINARIES)
    if missing:
        pytest.skip(f"missing {missing}: run scripts/test, which installs them")
    with VirtualMicrophone() as m:
        yield m


@pytest.fixture(scope="module")
def display() -> Iterator[VirtualDisplay]:
    """A private Xvfb screen."""
    missing = missing_binaries(DISPLAY_BINARIES)
    if missing:
        pytest.skip(f"missing {missing}: run scripts/test, which installs them")
    with VirtualDisplay() as d:
        yield d
