"""The `qa` command under hostile input: exit 0, or exit 2 with one `qa: ...` line; no traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .harness import (
    CLI_TIMEOUT_S,
    FAKE_CLI,
    SEEDS,
    HashEmbedder,
    assert_user_facing,
    remove_tree,
    run_cli,
)
from .test_hostile_inputs import FILE_CASES

QUESTIONS = [
    b"", b"   ", b"\xff\xfe\xfd", b"\xed\xa0\x80 encoded surrogate", b"\xc0\xaf overlong",
    "مرحبا بالعالم 🎉 שלום".encode(), b"\x01\x02\x1b[2J\x7f", b"<script>alert(1)</script>",
    b"$(touch /tmp/qa-canary) `id` %s %n {{7*7}}", b"Where is Buryatia?", b"--", b"x" * 100_000,
]  # fmt: skip


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("cli") / "index"
    result = run_cli("--index-dir", directory, "index", SEEDS)
    assert result.returncode == 0, result.stderr
    return directory


@pytest.fixture
def cli(monkeypatch, capsys):
    """`qa ARGV...` in this process (fast), argv bytes decoded as Python decodes them."""
    import qa.assistant
    import qa.cli

    embedder = HashEmbedder()
    monkeypatch.setattr(qa.assistant, "default_embedder", lambda: embedder)

    def run(*argv: str | bytes | os.PathLike[str]) -> tuple[int, str, str]:
        code = qa.cli.main([os.fsdecode(a) for a in argv])
        out, err = capsys.readouterr()
        out.encode("utf-8")  # strict: a user's terminal would have failed here
        assert "Traceback" not in err
        assert code in (0, 2), err
        assert code == 0 or (err.count("\n") == 1 and err.startswith("qa: ")), err
        return code, out, err

    return run


@pytest.mark.parametrize("question", QUESTIONS, ids=range(len(QUESTIONS)))
@pytest.mark.parametrize("command", [["ask"], ["ask", "--json"], ["search"]])
def test_hostile_questions(cli, index_dir, command, question, figures):
    figures["inputs tried"] += 1
    code, out, err = cli("--index-dir", index_dir, *command, "--", question)
    if len(question) > 2000:
        assert code == 2 and "keep it to at most 2,000" in err
    elif not any(c.isalnum() for c in os.fsdecode(question)):
        # Nothing to look for: refused, as a usage error ("", "?", "🎉").
        assert code == 2
        assert (
            "give words to search for" if command == ["search"] else "ask a question with a word"
        ) in err
    else:
        assert code == 0
        if "--json" in command:
            json.loads(out)


@given(question=st.binary(min_size=1, max_size=300).filter(lambda b: b"\x00" not in b))
@settings(max_examples=8, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
def test_any_bytes_as_a_question(index_dir, question, figures):
    figures["inputs tried"] += 1
    result = run_cli("--index-dir", index_dir, "ask", "--json", "--", question)
    assert_user_facing(result)
    if not any(c.isalnum() for c in os.fsdecode(question)):  # nothing to look for: refused
        assert result.returncode == 2 and b"ask a question with a word" in result.stderr
        return
    assert result.returncode == 0
    json.loads(result.stdout.decode("utf-8"))


def test_hostile_chat_lines(index_dir, figures):
    lines = [b"Where is Buryatia?", b"\xff\xfe not utf-8", "🎉 مرحبا".encode(), b"\x1b[2J\x07",
             b"y" * 2**20, b"and what about them?"]  # fmt: skip
    figures["inputs tried"] += len(lines)
    result = run_cli("--index-dir", index_dir, "chat", stdin=b"\n".join(lines) + b"\n")
    assert_user_facing(result)
    out = result.stdout.decode("utf-8")
    assert out.count("qa> ") == len(lines) - 1 and "keep it to at most 2,000" in out


def test_a_terminal_that_cannot_show_a_character(index_dir, figures):
    # PYTHONIOENCODING=ascii (or a C locale): the curly quotes were an internal error.
    figures["inputs tried"] += 1
    question = "Who is Ailana?"
    results = {enc: run_cli("--index-dir", index_dir, "ask", "--json", question, encoding=enc)
               for enc in ("utf-8", "ascii")}  # fmt: skip
    for result in results.values():
        assert_user_facing(result)
        assert result.returncode == 0
    same = [json.loads(r.stdout.decode(enc)) for enc, r in results.items()]
    assert same[0] == same[1]  # escaped as "\u201c", which JSON reads back
    plain = run_cli("--index-dir", index_dir, "ask", question, encoding="ascii")
    assert plain.returncode == 0 and b"\\u201c" in plain.stdout, plain.stdout[:200]


@pytest.mark.parametrize("command", [["search", "Buryatia"], ["ask", "--json", "Who is Ailana?"],
                                     ["--help"]])  # fmt: skip
def test_a_reader_that_goes_away(index_dir, command):
    """`qa search x | head -1`: no message, and a shell's status for a closed pipe."""
    # Output to a pipe is buffered, as for a user (not as under PYTHONUNBUFFERED=1).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    process = subprocess.Popen(
        [sys.executable, str(FAKE_CLI), "--index-dir", str(index_dir), *command],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )  # fmt: skip
    process.stdout.close()  # before qa writes a line
    err = process.stderr.read()
    assert process.wait(timeout=CLI_TIMEOUT_S) == 141 and err == b"", err


# The API test covers every case; these are the ones where the command line adds a risk
# (a hang, an encoding error on output, a damaged save).
CLI_FILE_CASES = ["binary-as-txt", "invalid-utf8", "garbage-pdf", "jsonl-odd", "deep-folders",
                  "symlink-loops", "fifo", "bad-names", "long-sentence"]  # fmt: skip


@pytest.mark.parametrize("case", CLI_FILE_CASES)
def test_hostile_files(case, tmp_path, figures):
    make, ok = FILE_CASES[case]
    path = make(tmp_path)
    figures["inputs tried"] += 1
    result = run_cli("--index-dir", tmp_path / "index", "index", path)
    assert_user_facing(result)
    if ok is not None:
        assert (result.returncode == 0) == ok, result.stderr
    if result.returncode == 0:
        assert_user_facing(run_cli("--index-dir", tmp_path / "index", "ask", "what is it about?"))
    remove_tree(tmp_path)


@pytest.mark.parametrize(
    "setup, args",
    [(lambda d: None, ["ask", "anything"]),
     (lambda d: d.mkdir() or (d / "CURRENT").write_text("../../etc"), ["ask", "anything"]),
     (lambda d: d.write_text("a file, not a folder"), ["index", str(SEEDS)]),
     (lambda d: d.write_text("a file, not a folder"), ["ask", "anything"]),
     (lambda d: None, ["index", "/nonexistent/folder"]),
     (lambda d: None, ["index", "/dev/zero"])],
    ids=["no-index", "foreign-current", "index-dir-is-file", "ask-in-file", "missing", "device"],
)  # fmt: skip
def test_bad_places(tmp_path, setup, args, figures):
    figures["inputs tried"] += 1
    directory = tmp_path / "index"
    setup(directory)
    result = run_cli("--index-dir", directory, *args)
    assert_user_facing(result)
    assert result.returncode == 2
