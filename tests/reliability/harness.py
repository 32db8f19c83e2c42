"""Reliability suite helpers: the figures it reports, and the `qa` CLI run as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
FAKE_CLI = HERE / "fake_cli.py"
CLI_TIMEOUT_S = 60

# Counted by the tests, printed at the end of the run (see pytest_terminal_summary).
FIGURES: Counter[str] = Counter(
    {"inputs tried": 0, "faults injected": 0, "requests served": 0, "data lost": 0}
)


@pytest.fixture
def figures() -> Counter[str]:
    return FIGURES


def run_cli(*args: str | os.PathLike[str], kill_at: int | None = None, stdin: str = "",
            timeout: float = CLI_TIMEOUT_S) -> subprocess.CompletedProcess[bytes]:
    """`qa ARGS...` in a fresh process with the fake embedder; raises if it hangs."""
    prefix = ["--kill-at", str(kill_at)] if kill_at is not None else []
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("QA_DEBUG", None)
    argv = [sys.executable, str(FAKE_CLI), *prefix, *map(os.fsencode, args)]
    return subprocess.run(argv, input=stdin.encode(), capture_output=True, timeout=timeout,
                          cwd=ROOT, env=env)  # fmt: skip


def assert_user_facing(result: subprocess.CompletedProcess[bytes]) -> None:
    """Success, or exit 2 with one `qa: ...` line on stderr; never a traceback."""
    err = result.stderr.decode("utf-8", "replace")
    assert "Traceback" not in err, err
    assert result.returncode in (0, 2), (result.returncode, err)
    if result.returncode == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("qa: "), err


def pytest_terminal_summary(terminalreporter) -> None:
    if not any(FIGURES.values()):
        return  # the reliability suite did not run
    terminalreporter.section("reliability figures")
    for name, value in FIGURES.items():
        terminalreporter.write_line(f"{name:>16}: {value:,}")
