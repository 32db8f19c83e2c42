"""Index integrity: crashes at every step of a save, damaged files, concurrent writers and readers.

The promise checked here: after any crash, the index on disk is the previous one or the new
one, complete, answering exactly as it did; damage is reported with the command to rebuild.
"""

from __future__ import annotations

import errno
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from qa import QAError
from qa.assistant import Assistant
from qa.ingest import Document
from qa.store import current_version

from .harness import FAKE_CLI, SEEDS, HashEmbedder, assert_user_facing, run_cli

QUESTIONS = [
    "Where is Buryatia?", "What app do the women use?", "How long would he be in prison?",
    "What was the weather in Ulan-Ude?", "Who is the governor?", "Is the ice cream good?",
]  # fmt: skip
KILL_POINTS = 20
EXTRA = "An extra report: the weather in Ulan-Ude was cold and windy, minus 30 degrees in January."


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    """Two collections (B = A + one document) and the answers each must give."""
    root = tmp_path_factory.mktemp("corpora")
    (root / "a").mkdir()
    for f in SEEDS.glob("*.txt"):
        shutil.copy(f, root / "a")
    shutil.copytree(root / "a", root / "b")
    (root / "b" / "extra.txt").write_text(EXTRA)
    expected = {
        name: answers(
            Assistant.from_paths([root / name], embedder=HashEmbedder(), progress=False)
        )  # fmt: skip
        for name in ("a", "b")
    }
    assert expected["a"] != expected["b"]
    pristine = root / "pristine"
    assert run_cli("--index-dir", pristine, "index", root / "a").returncode == 0
    assert answers(load(pristine)) == expected["a"]
    return root, expected, pristine


def answers(assistant: Assistant) -> list[dict]:
    return [assistant.ask(q).to_dict() for q in QUESTIONS]


def load(directory) -> Assistant:
    return Assistant.load(directory, embedder=HashEmbedder())


def state(directory, expected) -> str:
    """'a' or 'b' if the index answers exactly as that collection does; otherwise data was lost."""
    got = answers(load(directory))
    return next((name for name, want in expected.items() if got == want), "lost")


def test_sigkill_at_every_step_of_a_save(corpora, tmp_path, figures):
    root, expected, pristine = corpora
    work = tmp_path / "work"
    shutil.copytree(pristine, work)
    counted = run_cli("--index-dir", work, "index", root / "b", kill_at=0)  # 0: count only
    assert counted.returncode == 0
    lines = int(counted.stderr.decode().rsplit("lines=", 1)[1])
    assert state(work, expected) == "b"

    points = sorted({1 + i * (lines - 1) // (KILL_POINTS - 1) for i in range(KILL_POINTS)})
    outcomes = []
    for point in points:
        shutil.rmtree(work)
        shutil.copytree(pristine, work)
        result = run_cli("--index-dir", work, "index", root / "b", kill_at=point)
        assert result.returncode == -9, (point, result.stderr)  # killed, not finished
        figures["faults injected"] += 1
        outcome = state(work, expected)
        figures["data lost"] += outcome == "lost"
        outcomes.append(outcome)
        if len(outcomes) % 2 == 0:
            # The next run succeeds, and cleans up after the crash: one version is left.
            assert_user_facing(again := run_cli("--index-dir", work, "index", root / "b"))
            assert again.returncode == 0 and state(work, expected) == "b"
            assert [p.name for p in work.iterdir() if p.name.startswith(("v-", ".tmp-"))] == [
                current_version(work).name
            ]
    assert "lost" not in outcomes
    # Early kills leave the old index, late ones (after the switch) the new one.
    assert outcomes[0] == "a" and outcomes[-1] == "b", outcomes


def test_ctrl_c_during_a_build(corpora, tmp_path, figures):
    """Ctrl-C at any step: one line saying what happened, exit 130, a whole index, no litter."""
    root, expected, pristine = corpora
    work = tmp_path / "work"
    shutil.copytree(pristine, work)
    counted = run_cli("--index-dir", work, "index", root / "b", kill_at=0)
    lines = int(counted.stderr.decode().rsplit("lines=", 1)[1])
    for point in sorted({1 + i * (lines - 1) // 7 for i in range(8)}):
        shutil.rmtree(work)
        shutil.copytree(pristine, work)
        result = run_cli("--index-dir", work, "index", root / "b", kill_at=f"{point}:INT")
        figures["faults injected"] += 1
        err = result.stderr.decode()
        assert "Traceback" not in err, err
        if result.returncode == 130:
            assert err.strip().splitlines() == [
                "qa: interrupted; the index on disk is unchanged unless a save had finished"
            ]
        else:  # the signal landed in cleanup after the save: the build had finished
            assert result.returncode == 0, err
        outcome = state(work, expected)
        figures["data lost"] += outcome == "lost"
        assert outcome != "lost"
        assert not [p for p in work.iterdir() if p.name.startswith(".tmp-")]


def _damage(version, rel: str, how: str) -> None:
    path = version / rel
    data = path.read_bytes()
    if how == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif how == "flip":
        i = len(data) // 2
        path.write_bytes(data[:i] + bytes([data[i] ^ 0x55]) + data[i + 1 :])
    elif how == "delete":
        path.unlink()


def test_damaged_files_are_detected_with_the_rebuild_command(corpora, tmp_path, figures):
    root, expected, pristine = corpora
    files = sorted(p.relative_to(current_version(pristine)).as_posix()
                   for p in current_version(pristine).rglob("*") if p.is_file())  # fmt: skip
    assert "manifest.json" in files and len(files) > 5
    cases = [(rel, how) for rel in files for how in ("truncate", "flip", "delete")]
    cases += [("extra", "add"), ("CURRENT", "garbage")]
    for rel, how in cases:
        work = tmp_path / f"{rel.replace('/', '_')}-{how}"
        shutil.copytree(pristine, work)
        version = current_version(work)
        if how == "add":
            (version / "bm25-passages" / "stray.npy").write_bytes(b"not ours")
        elif how == "garbage":
            (work / "CURRENT").write_text("v-does-not-exist\n")
        else:
            _damage(version, rel, how)
        figures["faults injected"] += 1
        with pytest.raises(QAError) as info:
            load(work)
        message = str(info.value)
        assert "qa index" in message, message
        if how != "garbage":
            assert f"rebuild it with `qa index {root / 'a'} --index-dir {work}`" in message or (
                rel == "manifest.json" and "qa index PATH... --index-dir" in message
            ), message
    # The same through the command line, for one altered file.
    work = tmp_path / "cli"
    shutil.copytree(pristine, work)
    _damage(current_version(work), "documents.jsonl", "flip")
    for command in (["ask", "Where is Buryatia?"], ["verify"]):
        result = run_cli("--index-dir", work, *command)
        assert_user_facing(result)
        assert result.returncode == 2 and b"was altered" in result.stderr, result.stderr
        assert b"rebuild it with `qa index" in result.stderr


def test_two_writers_at_once(corpora, tmp_path, figures):
    """`qa index` twice at once on one folder: both finish, and one of the two results is live."""
    root, expected, pristine = corpora
    work = tmp_path / "work"
    shutil.copytree(pristine, work)
    for round_ in range(3):
        writers = [
            subprocess.Popen([sys.executable, str(FAKE_CLI), "--index-dir", str(work), "index",
                              str(root / name)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for name in (("a", "b") if round_ % 2 else ("b", "a"))
        ]  # fmt: skip
        for w in writers:
            _, err = w.communicate(timeout=120)
            assert w.returncode == 0, err
        figures["faults injected"] += 1
        outcome = state(work, expected)
        figures["data lost"] += outcome == "lost"
        assert outcome in ("a", "b")
        assert len([p for p in work.iterdir() if p.name.startswith(("v-", ".tmp-"))]) == 1


def test_readers_while_a_writer_replaces_the_index(corpora, tmp_path, figures):
    """Loading while `qa index` switches versions gives the old or the new index, never an error."""
    root, expected, pristine = corpora
    work = tmp_path / "work"
    shutil.copytree(pristine, work)
    stop = threading.Event()
    errors: list[str] = []
    served = [0]

    def reader() -> None:
        while not stop.is_set():
            try:
                a = load(work)
                # mixed versions would answer like neither collection
                assert answers(a)[3] in (expected["a"][3], expected["b"][3])
                served[0] += 1
            except Exception as exc:  # any error, not only qa's, and not lost with its thread
                errors.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        for i in range(3):
            assert run_cli("--index-dir", work, "index", root / "ab"[i % 2]).returncode == 0
            figures["faults injected"] += 1
    finally:
        stop.set()
        for t in threads:
            t.join()
    figures["requests served"] += served[0]
    assert served[0] > 0 and not errors, errors[:3]


def _failing_at(target: int, counter: list[int]):
    """A trace function raising ENOSPC at the `target`-th line run in the index-writing modules
    (0: only count them in counter[0]). A trace function's exception enters the traced frame."""
    import qa.store

    watched = {str(Path(qa.store.__file__).with_name(n))
               for n in ("store.py", "lexical.py", "vectors.py", "staging.py")}  # fmt: skip

    def local(frame, event, arg):
        if event == "line":
            counter[0] += 1
            if counter[0] == target:
                raise OSError(errno.ENOSPC, "No space left on device")
        return local

    return lambda frame, event, arg: local if frame.f_code.co_filename in watched else None


def test_disk_full_at_every_step_of_an_add(corpora, tmp_path, figures):
    """`add` with the disk full at any step: it raises, the assistant keeps answering as before,
    and the index on disk is the old one or (failure after the switch) the new one."""
    root, expected, pristine = corpora
    extra = Document(id=str(root / "b" / "extra.txt"), text=EXTRA)
    counter = [0]
    work = tmp_path / "count"
    shutil.copytree(pristine, work)
    a = load(work)
    sys.settrace(_failing_at(0, counter))
    try:
        a.add([extra], progress=False)
    finally:
        sys.settrace(None)
    lines = counter[0]
    assert lines > 50
    # What the index answers after the add (the first document keeps its id under a/).
    outcomes = {"before": expected["a"], "after": answers(load(work))}
    assert outcomes["after"] == answers(a) != outcomes["before"]
    for point in sorted({1 + i * (lines - 1) // 39 for i in range(40)}):
        work = tmp_path / f"p{point}"
        shutil.copytree(pristine, work)
        a = load(work)
        counter[0] = 0
        sys.settrace(_failing_at(point, counter))
        try:
            a.add([extra], progress=False)
            failed = False
        except (OSError, QAError):
            failed = True
        finally:
            sys.settrace(None)
        figures["faults injected"] += 1
        memory = answers(a) == outcomes["before" if failed else "after"]
        on_disk = state(work, outcomes)
        figures["data lost"] += (not memory) + (on_disk == "lost")
        assert memory and on_disk != "lost", (point, failed, on_disk)
        a.add([extra], progress=False)  # the disk has room again: the same add now works
        assert state(work, outcomes) == "after"
        assert len([p for p in work.iterdir() if p.name.startswith(("v-", ".tmp-"))]) == 1
        shutil.rmtree(work)
