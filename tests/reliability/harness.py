"""Helpers for the reliability suite: the figures it reports, and the `qa` CLI run as a user.

(Not conftest.py: test modules import from here, and `conftest` names the root one too.)
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SEEDS = ROOT / "seeds"
FAKE_CLI = HERE / "fake_cli.py"
CLI_TIMEOUT_S = 60

_spec = importlib.util.spec_from_file_location("qa_tests_fakes", HERE.parent / "conftest.py")
assert _spec and _spec.loader
_fakes = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fakes)
HashEmbedder = _fakes.HashEmbedder

# Counted by the tests, printed at the end of the run (see conftest.pytest_terminal_summary).
FIGURES: Counter[str] = Counter(
    {"inputs tried": 0, "faults injected": 0, "requests served": 0, "data lost": 0}
)
NOTES: list[str] = []  # one-line results worth reading, such as load-test latencies


def run_cli(
    *args: str | bytes | os.PathLike[str],
    kill_at: int | str | None = None,
    stdin: bytes = b"",
    timeout: float = CLI_TIMEOUT_S,
    encoding: str = "utf-8",
) -> subprocess.CompletedProcess[bytes]:
    """`qa ARGS...` in a fresh process with the fake embedder; raises if it hangs."""
    prefix = ["--kill-at", str(kill_at)] if kill_at is not None else []
    # A user's UTF-8 locale: strict stdio encoding, unlike the C locale's surrogateescape.
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONIOENCODING": encoding}
    env.pop("QA_DEBUG", None)
    argv = [sys.executable, str(FAKE_CLI), *prefix, *(os.fsencode(a) for a in args)]
    return subprocess.run(argv, input=stdin, capture_output=True, timeout=timeout, cwd=ROOT,
                          env=env)  # fmt: skip


def assert_user_facing(result: subprocess.CompletedProcess[bytes]) -> None:
    """Success, or exit 2 with one `qa: ...` line on stderr; never a traceback."""
    err = result.stderr.decode("utf-8", "replace")
    assert "Traceback" not in err, err
    assert result.returncode in (0, 2), (result.returncode, err)
    if result.returncode == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("qa: "), err


def remove_tree(root: Path) -> None:
    """rm -rf without recursion: shutil.rmtree (and pytest's tmp cleanup) recurse and fail on
    the 1,200-level folders of the deep-folder tests."""
    folders, stack = [], [root]
    while stack:
        folder = stack.pop()
        folders.append(folder)
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                else:
                    os.unlink(entry.path)
    for folder in reversed(folders):
        os.rmdir(folder)


def wrong_answers(records, before: dict, after: dict, add_start: float, add_end: float) -> list:
    """Questions whose concurrent answer matches neither index it could have been asked of.

    `records` are (start, end, question, answer, error); an answer finished before the add
    must equal `before`, one started after it `after`, one overlapping it either.
    """
    wrong = []
    for t0, t1, q, answer, _ in records:
        if answer is None:
            continue
        if t1 < add_start:
            allowed = [before[q]]
        elif t0 > add_end:
            allowed = [after[q]]
        else:
            allowed = [before[q], after[q]]
        if answer not in allowed:
            wrong.append(q)
    return wrong
