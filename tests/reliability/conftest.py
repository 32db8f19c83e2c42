"""The reliability suite reports its figures at the end of the run."""

from __future__ import annotations

import signal
from collections import Counter

import pytest

from .harness import FIGURES, NOTES


@pytest.fixture
def figures() -> Counter[str]:
    return FIGURES


TEST_TIMEOUT_S = 180  # the slowest test takes about 40 s on 2 cores


@pytest.fixture(autouse=True)
def no_hang():
    """A test that hangs (a FIFO read, a lock never released) fails instead of stalling CI."""

    def expire(signum, frame):
        raise TimeoutError(f"test still running after {TEST_TIMEOUT_S} s: a hang")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(TEST_TIMEOUT_S)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def pytest_terminal_summary(terminalreporter) -> None:
    if not any(FIGURES.values()):
        return  # the reliability suite did not run
    terminalreporter.section("reliability figures")
    for name, value in FIGURES.items():
        terminalreporter.write_line(f"{name:>16}: {value:,}")
    for note in NOTES:
        terminalreporter.write_line(note)
