"""The reliability suite reports its figures at the end of the run."""

from __future__ import annotations

from collections import Counter

import pytest

from .harness import FIGURES, NOTES


@pytest.fixture
def figures() -> Counter[str]:
    return FIGURES


def pytest_terminal_summary(terminalreporter) -> None:
    if not any(FIGURES.values()):
        return  # the reliability suite did not run
    terminalreporter.section("reliability figures")
    for name, value in FIGURES.items():
        terminalreporter.write_line(f"{name:>16}: {value:,}")
    for note in NOTES:
        terminalreporter.write_line(note)
