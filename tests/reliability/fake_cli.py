"""Run the `qa` CLI with the test HashEmbedder, so subprocess tests need no model.

    python tests/reliability/fake_cli.py [--kill-at N] --index-dir DIR index PATH...

`--kill-at N` (taken off argv before `qa` sees it) SIGKILLs this process at the N-th line
executed in qa/store.py, lexical.py, vectors.py or staging.py; `--kill-at 0` prints how many
lines a run executes there instead (`lines=N` on stderr). That puts a real, uncatchable crash
at every step of a build's staging and save; `--kill-at N:INT` sends Ctrl-C instead.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TESTS))
sys.path.insert(1, str(TESTS.parent))

from conftest import HashEmbedder  # noqa: E402

import qa.assistant  # noqa: E402
import qa.embed  # noqa: E402
from qa.cli import main  # noqa: E402

_EMBEDDER = HashEmbedder()
qa.embed.default_embedder = qa.assistant.default_embedder = lambda: _EMBEDDER  # type: ignore[assignment]

WATCHED = tuple(
    str(Path(qa.embed.__file__).with_name(n))
    for n in ("store.py", "lexical.py", "vectors.py", "staging.py")
)


def _kill_at(target: int, sig: signal.Signals = signal.SIGKILL) -> None:
    """Trace lines in the watched files; send `sig` at line `target` (or count them all)."""
    seen = 0

    def local(frame, event, arg):
        nonlocal seen
        if event == "line":
            seen += 1
            if seen == target:
                os.kill(os.getpid(), sig)
        return local

    def global_(frame, event, arg):
        return local if frame.f_code.co_filename in WATCHED else None

    sys.settrace(global_)
    if not target:
        import atexit

        atexit.register(lambda: print(f"lines={seen}", file=sys.stderr))


if __name__ == "__main__":
    argv = sys.argv[1:]
    if argv[:1] == ["--kill-at"]:  # N, or N:INT for Ctrl-C instead of SIGKILL
        line, _, name = argv[1].partition(":")
        _kill_at(int(line), signal.Signals[f"SIG{name or 'KILL'}"])
        argv = argv[2:]
    sys.exit(main(argv))
