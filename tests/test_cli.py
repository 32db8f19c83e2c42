"""The `qa` command with the real model: index, ask --json matching the API, help without torch."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, SEEDS

QA = [sys.executable, "-m", "qa.cli"]
ENV = {**os.environ, "HF_HUB_OFFLINE": "1"}


def run(*args: str, cwd=ROOT, env=ENV) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*QA, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=600
    )


def test_help_is_instant_and_imports_no_torch():
    code = "import sys, qa.cli\ntry:\n    qa.cli.main(['--help'])\nexcept SystemExit:\n    pass\nprint('torch' in sys.modules, 'faiss' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV)
    assert out.stdout.strip().splitlines()[-1] == "False False"


def test_notes_follow_the_summary_in_one_log_file_without_unbuffered_output(tmp_path):
    """`qa index d > log 2>&1` wrote the notes about skipped files above the "indexed ..."
    line they follow: stdout to a file is block-buffered, unless PYTHONUNBUFFERED is set
    (as on the machine this was written on, which hid it)."""
    write_docs(tmp_path / "d", a="Ferries run to Oban daily.")
    (tmp_path / "d" / "memo.rtf").write_text("{\\rtf1 memo}")
    code = (
        f"import sys; sys.path.insert(0, {str(ROOT / 'tests')!r}); import qa.assistant; "
        "from conftest import HashEmbedder; qa.assistant.default_embedder = HashEmbedder; "
        "from qa.cli import main; sys.exit(main(['index', 'd', '--index-dir', 'idx']))"
    )
    env = {k: v for k, v in ENV.items() if k != "PYTHONUNBUFFERED"}
    with open(tmp_path / "log", "w") as log:
        done = subprocess.run(
            [sys.executable, "-c", code], stdout=log, stderr=log, env=env, cwd=tmp_path
        )
    lines = (tmp_path / "log").read_text().splitlines()
    assert done.returncode == 0 and lines[0].startswith("indexed 1 document"), lines
    assert any(line.startswith("note: 1 file in the folders given not indexed") for line in lines)


def test_ask_without_an_index_says_how_to_build_one(tmp_path):
    where = str(tmp_path / "none")
    out = run("--index-dir", where, "ask", "Who?")
    assert out.returncode == 2
    assert f"qa index seeds/ --index-dir {where}" in out.stderr and "Traceback" not in out.stderr
    # The option is taken after the command too, as that message writes it.
    again = run("ask", "Who?", "--index-dir", where)
    assert again.returncode == 2 and f"no index in {where}" in again.stderr


def test_an_empty_qa_index_dir_is_unset(tmp_path):
    out = run("ask", "Who?", cwd=tmp_path, env={**ENV, "QA_INDEX_DIR": ""})
    # Not the current folder; and with no seeds/ here, no seeds/ to build from.
    assert out.returncode == 2
    assert out.stderr == "qa: no index in index; build one with `qa index PATH...`\n"


@pytest.mark.model
def test_index_then_ask_json_matches_the_python_api(tmp_path, real_embedder):
    from qa import Assistant

    index_dir = tmp_path / "index"
    out = run("--index-dir", str(index_dir), "index", str(SEEDS))
    assert out.returncode == 0, out.stderr
    assert "indexed 1 document, " in out.stdout
    question = "How many military deaths from Buryatia has RFE/RL recorded?"
    out = run("--index-dir", str(index_dir), "ask", question, "--json")
    assert out.returncode == 0, out.stderr
    cli = json.loads(out.stdout)
    api = Assistant.load(index_dir, embedder=real_embedder).ask(question).to_dict()
    assert cli == api
    assert set(cli) >= {"text", "abstained", "confidence", "citations"}
    for c in cli["citations"]:
        path = c["document"] if os.path.isabs(c["document"]) else ROOT / c["document"]
        text = Path(path).read_text(encoding="utf-8")
        assert text[c["start"] : c["end"]] == c["text"]
    out = run("--index-dir", str(index_dir), "ask", question)
    assert out.returncode == 0 and "[1]" in out.stdout


@pytest.fixture
def cli(monkeypatch, capsys, fake_embedder, tmp_path):
    """`qa ARGS...` run in this process with the fake embedder, in tmp_path: (code, out, err)."""
    import qa.assistant

    monkeypatch.setattr(qa.assistant, "default_embedder", lambda: fake_embedder)
    monkeypatch.chdir(tmp_path)

    def run_cli(*args: str) -> tuple[int, str, str]:
        from qa.cli import main

        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse refusing an argument
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return code, out, err

    return run_cli


def write_docs(root: Path, **texts: str) -> None:
    root.mkdir(exist_ok=True)
    for name, text in texts.items():
        (root / f"{name}.txt").write_text(text)


def test_index_says_what_it_dropped_and_what_has_no_text(cli, tmp_path):
    write_docs(
        tmp_path / "d", kettle="The kettle was invented in 1891.", cats="Cats nap.", empty=""
    )
    code, out, err = cli("index", "d", "--index-dir", "idx")
    assert code == 0 and out.startswith("indexed 3 documents, 2 passages, 2 sentences in idx")
    assert "note: no text to search in d/empty.txt" in err
    code, out, err = cli("index", "d/kettle.txt", "--index-dir", "idx")
    assert code == 0 and out.startswith("indexed 1 document, 1 passage, 1 sentence in")
    assert "2 documents of the previous index in idx are no longer indexed" in err
    assert "d/cats.txt, d/empty.txt" in err


def test_a_failed_index_leaves_no_folder_behind(cli, tmp_path):
    code, _, err = cli("index", "nowhere", "--index-dir", "idx")
    assert code == 2 and "nowhere does not exist" in err
    assert not (tmp_path / "idx").exists()


def test_ask_quotes_every_citation_and_notes_a_file_changed_since(cli, tmp_path):
    write_docs(tmp_path / "d", a="Ferries run to Oban daily.\r\nThe kettle was invented in 1891.\r\n",
               b="Cats sleep a lot.")  # fmt: skip
    assert cli("index", "d", "--index-dir", "idx")[0] == 0
    code, out, err = cli("ask", "When was the kettle invented?", "--index-dir", "idx")
    assert code == 0 and "[2] d/" in out
    lines = out.splitlines()
    second = next(i for i, line in enumerate(lines) if line.startswith("[2]"))
    assert lines[second + 1].strip() in {"Ferries run to Oban daily.", "Cats sleep a lot."}
    assert "\r" not in out and err == ""
    changed = tmp_path / "d" / "a.txt"
    before, indexed = changed.stat().st_mtime, changed.read_bytes()
    changed.write_text("The kettle was invented in 1892.")
    code, out, err = cli("ask", "When was the kettle invented?", "--index-dir", "idx")
    assert code == 0 and "note: d/a.txt has changed since it was indexed" in err
    # Put back as it was indexed, with its old time: read again, the same text, so no note.
    changed.write_bytes(indexed)
    os.utime(changed, (before, before))
    assert cli("ask", "When was the kettle invented?", "--index-dir", "idx")[2] == ""
    # Asked from another folder, the files are still those of the folder qa index ran in.
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "d").mkdir(parents=True)
    (elsewhere / "d" / "a.txt").write_text("Something else entirely.")
    os.chdir(elsewhere)
    code, out, err = cli("ask", "When was the kettle invented?", "--index-dir", "../idx")
    assert code == 0 and err == ""
    # A cited file that is gone is named, with the command that updates the index: its
    # sources were relative to the folder qa index ran in, so it names them in full.
    changed.unlink()
    err = cli("ask", "When was the kettle invented?", "--index-dir", "../idx")[2]
    d = os.path.join(os.path.realpath(tmp_path), "d")
    again = f"`qa index {d} --index-dir ../idx` updates the index"
    assert err == f"note: d/a.txt no longer exists where it was indexed; {again}\n"
    assert cli(*shlex.split(again.split("`")[1])[1:])[0] == 0  # and it works as pasted


def test_a_file_whose_name_is_not_utf8_is_found_again(cli, tmp_path):
    # Latin-1 "laté.txt" from an old disk: every answer citing it said it no longer existed.
    folder = os.fsencode(tmp_path / "d")
    os.mkdir(folder)
    name = os.path.join(folder, b"lat\xe9.txt")
    with open(name, "wb") as fh:
        fh.write(b"The owl sanctuary opened in 1994.")
    assert cli("index", "d", "--index-dir", "idx")[0] == 0
    code, out, err = cli("ask", "When did the owl sanctuary open?", "--index-dir", "idx")
    assert code == 0 and "[1] d/lat\ufffd.txt" in out and err == ""
    with open(name, "wb") as fh:
        fh.write(b"The owl sanctuary opened in 1995.")
    err = cli("ask", "When did the owl sanctuary open?", "--index-dir", "idx")[2]
    assert "note: d/lat\ufffd.txt has changed since it was indexed" in err
    os.remove(name)
    err = cli("ask", "When did the owl sanctuary open?", "--index-dir", "idx")[2]
    assert "note: d/lat\ufffd.txt no longer exists" in err


def test_counts_must_be_positive(cli):
    for args in (("search", "x", "-k", "0"), ("eval", "x.jsonl", "--limit", "0")):
        code, _, err = cli(*args)
        assert code == 2 and "expected a whole number of at least 1, not '0'" in err


def test_eval_refuses_a_collection_and_takes_a_limit(cli, tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text('{"_id": "1", "text": "Cats nap."}\n')
    code, _, err = cli("eval", str(corpus))
    assert code == 2 and 'has no "question"' in err and "qa index" in err
    assert cli("eval", "missing.jsonl")[2] == "qa: no such file or folder: missing.jsonl\n"
    write_docs(tmp_path / "d", kettle="The kettle was invented in 1891.")
    qa_set = tmp_path / "dev.jsonl"
    rows = [{"id": f"q{i}", "question": "When was the kettle invented?", "answers": ["1891"],
             "evidence": "invented in 1891"} for i in range(3)]  # fmt: skip
    qa_set.write_text("\n".join(json.dumps(r) for r in rows))
    # --documents takes one path, so the set's path may follow it.
    code, out, _ = cli("eval", "--documents", "d", str(qa_set), "--limit", "2")
    assert code == 0 and "q1" in out and "q2" not in out


def test_eval_refuses_a_qa_row_it_would_misread_before_indexing(cli, tmp_path):
    """A row with answers but no evidence was counted as unanswerable without a word; a
    history that is a string failed after indexing, naming no line."""
    row = {"id": "q1", "question": "When was the kettle invented?", "answers": ["1891"]}
    for extra, says in (
        ({}, 'dev.jsonl:1 has "answers" but no "evidence"'),
        ({"evidence": "1891", "history": "Who?"}, 'dev.jsonl:1: "history" must be a list'),
    ):
        (tmp_path / "dev.jsonl").write_text(json.dumps({**row, **extra}) + "\n")
        code, out, err = cli("eval", "--documents", "nowhere", "dev.jsonl")
        assert code == 2 and says in err and "internal error" not in err, err


def test_eval_of_a_beir_folder_takes_its_test_split_and_skips_blank_lines(
    cli, tmp_path, monkeypatch
):
    """Most BEIR datasets publish only qrels/test.tsv: it failed, after indexing the corpus,
    for want of train.tsv; a blank line in queries.jsonl was an internal error."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # where eval keeps its index
    beir = tmp_path / "beir"
    (beir / "qrels").mkdir(parents=True)
    (beir / "corpus.jsonl").write_text(
        '{"_id": "d1", "text": "The kettle was invented in 1891."}\n'
        '{"_id": "d2", "text": "The ferry leaves at noon."}\n'
    )
    (beir / "queries.jsonl").write_text('{"_id": "q1", "text": "kettle invention"}\n\n')
    (beir / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\n")
    code, out, err = cli("eval", "beir")
    assert code == 0 and "ndcg@10: 1.0000" in out and "test queries" in err, err
    (beir / "qrels" / "test.tsv").unlink()
    code, out, err = cli("eval", "beir")
    assert code == 2 and "no qrels/train.tsv, qrels/dev.tsv or qrels/test.tsv" in err


def test_eval_has_no_index_dir_it_would_ignore(cli):
    assert "--index-dir" not in cli("eval", "--help")[1]
    code, _, err = cli("eval", "dev.jsonl", "--index-dir", "idx")
    assert code == 2 and "unrecognized arguments: --index-dir idx" in err
    # Nor before the command, where the option every command shares is parsed.
    code, _, err = cli("--index-dir", "idx", "eval", "dev.jsonl")
    assert code == 2 and "eval takes no --index-dir: it indexes its documents afresh" in err


def test_serve_and_eval_without_seeds_say_what_to_give(cli, tmp_path):
    # Run away from the repository: they had said "seeds does not exist", a folder the user
    # never named, and serve had left its lock file in a new index folder.
    (tmp_path / "dev.jsonl").write_text(
        '{"id": "q1", "question": "When?", "answers": ["1891"], "evidence": "in 1891"}\n'
    )
    code, out, err = cli("eval", "dev.jsonl")
    assert code == 2 and "give them with --documents PATH" in err and "seeds does not" not in err
    code, out, err = cli("serve", "--index-dir", "none_here", "--port", "7899")
    assert code == 2 and "no index in none_here and no seeds/ folder here" in err
    assert not (tmp_path / "none_here").exists()


@pytest.mark.parametrize("port", ["99999", "0", "-1", "http"])
def test_serve_refuses_a_port_out_of_range(cli, port):
    code, out, err = cli("serve", "--port", port)
    assert code == 2 and out == ""
    assert f"argument --port: expected a port from 1 to 65535, not '{port}'" in err


def test_ctrl_c_at_the_chat_prompt_ends_the_chat(cli, tmp_path, monkeypatch):
    write_docs(tmp_path / "d", kettle="The kettle was invented in 1891.")
    assert cli("index", "d", "--index-dir", "idx")[0] == 0

    def interrupted(prompt: str) -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr("builtins.input", interrupted)
    code, _, err = cli("chat", "--index-dir", "idx")
    assert code == 0 and err == ""


def test_search_lists_a_repeated_passage_once_on_one_line_each(cli, tmp_path):
    write_docs(tmp_path / "d", a="Ferries run to Oban daily.\nThey leave at noon.",
               b="Ferries run to Oban daily.\nThey leave at noon.", c="Cats sleep a lot.")  # fmt: skip
    assert cli("index", "d", "--index-dir", "idx")[0] == 0
    code, out, _ = cli("search", "ferries to Oban", "-k", "2", "--index-dir", "idx")
    lines = out.splitlines()
    assert (
        code == 0
        and len(lines) == 4
        and lines[1] == "    Ferries run to Oban daily. They leave at noon."
    )
    assert "Cats" in lines[3]


def test_the_confidence_shown_never_hides_which_side_of_the_threshold_it_is_on(cli):
    from qa.cli import format_answer
    from qa.results import Answer

    near = Answer(text="The article does not say.", abstained=True, confidence=0.39876)
    assert "(confidence 0.39876, below the threshold 0.39878)" in format_answer(near, 0.39878)
    sure = Answer(text="Yes [1].", abstained=False, confidence=0.4012)
    assert "(confidence 0.40)" in format_answer(sure, 0.39878)
    assert cli("search", "  ")[0:2] == (2, "")


def test_index_shows_only_what_it_indexed_and_counts_what_it_skipped(cli, tmp_path, monkeypatch):
    import tqdm

    bars: list[tqdm.tqdm] = []

    class Recorded(tqdm.tqdm):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            bars.append(self)

    monkeypatch.setattr(tqdm, "tqdm", Recorded)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)  # a bar is drawn on a terminal
    write_docs(tmp_path / "d", a="Ferries run to Oban daily.", b="Cats sleep a lot.")
    (tmp_path / "d" / "scan.txt").write_bytes(b"\x00\x01binary")  # counted, then unreadable
    (tmp_path / "d" / "memo.rtf").write_text("{\\rtf1 The mayor resigned.}")
    code, out, err = cli("index", "d", "--index-dir", "idx")
    assert code == 0
    assert out == "indexed 2 documents, 2 passages, 2 sentences in idx; skipped 2 files\n"
    assert "note: 2 files in the folders given not indexed:" in err
    # The bar ends at the passages indexed, not short of them by the files that were skipped.
    (bar,) = bars
    assert bar.n == bar.total == 2
    (tmp_path / "d" / "private").mkdir()  # a folder that cannot be read is counted as one
    scandir = os.scandir

    def refused(path):
        if isinstance(path, os.PathLike) and os.path.basename(path) == "private":
            raise PermissionError(13, "Permission denied", str(path))
        return scandir(path)

    monkeypatch.setattr("os.scandir", refused)
    code, out, err = cli("index", "d", "--index-dir", "idx")
    assert "in idx; skipped 2 files and 1 folder\nnothing changed" in out
    assert "note: 2 files and 1 folder in the folders given not indexed:" in err
    assert "d/private: cannot read the folder (Permission denied)" in err


def test_the_bar_counts_whole_passages(cli, tmp_path, monkeypatch):
    """A block of 256 texts (passages and sentences) counted as its share of passages had
    moved the bar by 20.35 passages; and counts were scaled as sizes are: "17.0/17.0"."""
    import tqdm

    shown: list[float] = []
    bars: list[tqdm.tqdm] = []

    class Recorded(tqdm.tqdm):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            bars.append(self)

        def update(self, n=1):
            shown.append(n)
            return super().update(n)

    monkeypatch.setattr(tqdm, "tqdm", Recorded)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    long = " ".join(f"Ferry {i} sails to Oban at {i % 12 + 1} o'clock." for i in range(300))
    write_docs(tmp_path / "d", a=long, b="Cats sleep a lot.")
    assert cli("index", "d", "--index-dir", "idx")[0] == 0
    assert len(shown) >= 2 and all(isinstance(n, int) for n in shown), shown
    (bar,) = bars
    assert re.search(r"\| 26/26 \[", str(bar)), str(bar)


def test_ask_notes_a_file_put_back_with_an_older_time(cli, tmp_path, monkeypatch):
    import shutil

    import qa.ingest

    write_docs(tmp_path / "d", a="The kettle was invented in 1890.", b="Cats sleep a lot.")
    old = tmp_path / "a.old"
    shutil.copy2(tmp_path / "d" / "a.txt", old)
    os.utime(old, (1_000_000_000, 1_000_000_000))
    (tmp_path / "d" / "a.txt").write_text("The kettle was invented in 1891.")
    assert cli("index", "d", "--index-dir", "idx")[0] == 0
    # Untouched since the index was saved: no file is read to find out.
    with monkeypatch.context() as m:
        m.setattr(qa.ingest, "read_file", lambda path: pytest.fail(f"{path} was read"))
        assert cli("ask", "When was the kettle invented?", "--index-dir", "idx")[2] == ""
    shutil.copy2(old, tmp_path / "d" / "a.txt")  # `cp -p`: the old text, with its old time
    code, out, err = cli("ask", "When was the kettle invented?", "--index-dir", "idx")
    assert code == 0 and "1891" in out
    assert "note: d/a.txt has changed since it was indexed" in err


def test_index_says_once_when_an_asked_for_kind_is_too_big_for_the_collection(cli, tmp_path):
    write_docs(tmp_path / "d", a="Ferries run to Oban daily.", b="Cats sleep a lot.")
    code, _, err = cli("index", "d", "--index-dir", "idx", "--index-type", "hnsw")
    assert code == 0
    assert err.count("\n") == 1 and err.startswith(
        "note: --index-type hnsw needs at least 256 vectors: the 2 passages and 2 sentences "
        "are searched exactly (flat) for now"
    )
    assert "Warning" not in err
    from qa.store import read_manifest

    assert read_manifest(tmp_path / "idx")["index_type"] == "hnsw"
    for kind in ("flat", "auto"):
        assert cli("index", "d", "--index-dir", "idx", "--index-type", kind)[2] == ""


def test_index_draws_no_bar_into_a_file_or_pipe(cli, tmp_path, monkeypatch):
    import tqdm

    bars: list[object] = []
    monkeypatch.setattr(tqdm, "tqdm", lambda *a, **kw: bars.append(kw) or tqdm.std.tqdm(*a, **kw))
    write_docs(tmp_path / "d", a="Ferries run to Oban daily.", b="Cats nap.")
    assert cli("index", "d", "--index-dir", "idx")[0] == 0
    (tmp_path / "d" / "b.txt").write_text("Cats nap a lot.")
    assert cli("index", "d", "--index-dir", "idx")[0] == 0
    # There, a bar is every redraw of it in a row: the last one twice, as tqdm ends it.
    assert bars == []


def test_index_again_says_what_it_embedded(cli, tmp_path, fake_embedder):
    write_docs(tmp_path / "d", a="Ferries run to Oban daily.", b="Cats nap. They purr.",
               c="The kettle was invented in 1891.")  # fmt: skip
    code, out, _ = cli("index", "d", "--index-dir", "idx")
    assert code == 0 and out == "indexed 3 documents, 3 passages, 4 sentences in idx\n"
    (tmp_path / "d" / "b.txt").write_text("Cats nap a lot. They purr. Dogs bark.")
    embedded = fake_embedder.recording()
    code, out, _ = cli("index", "d", "--index-dir", "idx")
    assert code == 0 and out.splitlines()[1:] == [
        "1 document changed: 1 passage and 3 sentences embedded (2 unchanged)"
    ]
    assert sum(map(len, embedded)) == 1 + 3  # what it says is what the model was given
    assert cli("index", "d", "--index-dir", "idx")[1].splitlines()[1:] == ["nothing changed"]
    # A file renamed is not embedded again, and is told from one dropped.
    (tmp_path / "d" / "a.txt").rename(tmp_path / "d" / "a2.txt")
    write_docs(tmp_path / "d", e="Eels swim.")
    (tmp_path / "d" / "c.txt").unlink()
    out = cli("index", "d", "--index-dir", "idx")[1]
    assert out.splitlines()[1] == (
        "1 document added, 1 renamed, 1 dropped: 1 passage and 1 sentence embedded (1 unchanged)"
    )
    # An index of another model is embedded anew, and says so.
    manifest = next((tmp_path / "idx").glob("v-*/manifest.json"))
    saved = json.loads(manifest.read_text())
    saved["model"]["name"] = "another/model"
    manifest.write_text(json.dumps(saved))
    code, out, err = cli("index", "d", "--index-dir", "idx")
    assert "built with the embedding model another/model, and this qa uses test/hash" in err
    assert "rebuild it with" not in err  # it is being rebuilt
    assert out.splitlines()[1] == (
        "no document changed: 8 passages and sentences embedded anew "
        "(the index found could not be reused)"
    )
    # So is an index found damaged, which is rebuilt: not "nothing changed".
    spans = next((tmp_path / "idx").glob("v-*/spans.npz"))
    damaged = bytearray(spans.read_bytes())
    damaged[-1] ^= 1
    spans.write_bytes(bytes(damaged))
    code, out, err = cli("index", "d", "--index-dir", "idx")
    assert "rebuilding" in err and out.splitlines()[1].endswith("could not be reused)")
    assert "rebuild it with" not in err


@pytest.mark.parametrize("typed", [True, False])
def test_chat_prints_a_piped_question_after_its_prompt(cli, tmp_path, monkeypatch, typed):
    import io

    write_docs(tmp_path / "d", kettle="The kettle was invented in 1891.")
    assert cli("index", "d", "--index-dir", "idx")[0] == 0
    stdin = io.StringIO("When was the kettle invented?\n\n  \nWho invented it?\n")
    monkeypatch.setattr(stdin, "isatty", lambda: typed)
    monkeypatch.setattr(sys, "stdin", stdin)
    code, out, _ = cli("chat", "--index-dir", "idx")
    lines = out.splitlines()
    assert code == 0
    if typed:  # the terminal shows what is typed after the prompt; an empty line ends it
        assert lines[0] == "Ask about the documents; an empty line or Ctrl-D ends the chat."
        assert lines[1].startswith("you> qa> “The kettle") and lines[-1] == "you> "
        assert out.count("qa> ") == 1
    else:  # a pipe does not, so qa prints it; blank lines are skipped, up to the end
        assert lines[0] == "Answering the questions read from standard input, one a line."
        assert lines[1] == "you> When was the kettle invented?"
        assert lines[2].startswith("qa> “The kettle")
        assert [line for line in lines if line.startswith("you>")] == [
            "you> When was the kettle invented?",
            "you> Who invented it?",
        ]


@pytest.mark.parametrize("as_json", [False, True])
def test_search_says_when_nothing_matches(cli, tmp_path, as_json):
    write_docs(tmp_path / "d", empty="")
    assert cli("index", "d", "--index-dir", "idx")[0] == 0
    code, out, err = cli("search", "file", "--index-dir", "idx", *(["--json"] if as_json else []))
    # As an abstaining `qa ask`: not an error.
    assert code == 0 and out == ("[]\n" if as_json else "")
    assert err == "note: no passage matches “file”: idx holds no text to search\n"


def test_search_says_when_no_word_of_the_query_is_in_the_documents(cli, tmp_path):
    write_docs(tmp_path / "d", kettle="The kettle was invented in 1891.", cats="Cats nap.")
    assert cli("index", "d", "--index-dir", "idx")[0] == 0
    code, out, err = cli("search", "zzqx", "--index-dir", "idx")
    assert code == 0 and out.startswith("[1] ")  # the closest passages, said to be only that
    assert err == (
        "note: no word of “zzqx” is in the documents; these passages are only the closest "
        "in meaning\n"
    )
    assert cli("search", "kettle", "--index-dir", "idx")[2] == ""


def test_index_says_a_renamed_file_is_renamed(cli, tmp_path):
    write_docs(tmp_path / "d", kettle="The kettle was invented in 1891.", cats="Cats nap.")
    assert cli("index", "d", "--index-dir", "idx")[0] == 0
    (tmp_path / "d" / "cats.txt").rename(tmp_path / "d" / "felines.txt")
    code, out, err = cli("index", "d", "--index-dir", "idx")
    assert code == 0
    assert out.splitlines()[1] == "1 document renamed: nothing embedded (1 unchanged)"
    assert err == "note: d/cats.txt is now d/felines.txt (the same text, so nothing embedded)\n"


def test_index_by_another_path_to_the_same_files_renames_nothing(cli, tmp_path):
    write_docs(tmp_path / "d", kettle="The kettle was invented in 1891.", cats="Cats nap.")
    assert cli("index", "d", "--index-dir", "idx")[0] == 0
    code, out, err = cli("index", str(tmp_path / "d"), "--index-dir", "idx")
    assert code == 0 and out.splitlines()[1] == "nothing changed"
    assert err == (
        f"note: 2 documents now named by the paths given, the same files (d/cats.txt is now "
        f"{tmp_path / 'd' / 'cats.txt'} and 1 more)\n"
    )
    # A file renamed and one reached by another path, told apart.
    (tmp_path / "d" / "cats.txt").rename(tmp_path / "d" / "felines.txt")
    code, out, err = cli("index", "d", "--index-dir", "idx")
    assert out.splitlines()[1] == "1 document renamed: nothing embedded (1 unchanged)"
    assert f"note: {tmp_path / 'd' / 'cats.txt'} is now d/felines.txt" in err
    assert f"{tmp_path / 'd' / 'kettle.txt'} is now d/kettle.txt)" in err


def test_index_keeps_what_the_web_chat_uploaded_unless_told_to_drop_it(
    cli, tmp_path, fake_embedder
):
    from qa.assistant import Assistant
    from qa.ingest import Document

    write_docs(tmp_path / "d", kettle="The kettle was invented in 1891.")
    assert cli("index", "d", "--index-dir", "idx")[0] == 0
    served = Assistant.from_paths(["d"], index_dir="idx", embedder=fake_embedder, keep_added=True)
    served.add([Document(id=f"up{i}.txt", text=f"Upload {i} says hello.") for i in range(5)])
    code, out, err = cli("index", "d", "--index-dir", "idx")
    assert code == 0 and out.splitlines() == [
        "indexed 6 documents, 6 passages, 6 sentences in idx",
        "nothing changed",
    ]
    assert err == (
        "note: kept 5 documents added in the web chat or by Assistant.add (up0.txt, up1.txt, up2.txt and 2 more);"
        " `qa index --drop-uploads` drops them\n"
    )
    code, out, err = cli("index", "d", "--index-dir", "idx", "--drop-uploads")
    assert (
        code == 0 and out.splitlines()[1] == "5 documents dropped: nothing embedded (1 unchanged)"
    )
    # Every one named: their text is nowhere else.
    assert err == (
        "note: dropped 5 documents added in the web chat or by Assistant.add (up0.txt, up1.txt, up2.txt, "
        "up3.txt, up4.txt), as --drop-uploads asks\n"
    )
    assert len(Assistant.load("idx", embedder=fake_embedder).documents) == 1


def test_help_names_the_variable_that_sets_the_index_folder(cli, monkeypatch):
    for args in (["--help"], ["search", "--help"]):
        out = " ".join(cli(*args)[1].split())
        assert "(default: $QA_INDEX_DIR if set, else index)" in out
    monkeypatch.setenv("QA_INDEX_DIR", "/tmp/100% mine")
    assert "(default: $QA_INDEX_DIR, now /tmp/100% mine, else index)" in " ".join(
        cli("--help")[1].split()
    )


def test_every_option_of_every_command_has_a_help_text():
    import argparse

    from qa.cli import _parser

    parser = _parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    for name, command in [("qa", parser), *commands.choices.items()]:
        for action in command._actions:
            if not isinstance(action, argparse._SubParsersAction):
                assert action.help, (name, action.dest)


def test_skipped_files_are_each_named_first_then_why(cli, tmp_path):
    d = tmp_path / "d"
    write_docs(d, a="Ferries run to Oban daily.")
    (d / "memo.rtf").write_text("{\\rtf1 The mayor resigned.}")
    (d / "scan.txt").write_bytes(b"\x00\x01binary")
    (d / "odd name: 1.txt").write_bytes(b"caf\xc3\xa9 and \xe9t\xe9")  # UTF-8 and Latin-1 mixed
    code, _, err = cli("index", "d", "--index-dir", "idx")
    assert code == 0 and err.splitlines()[1:] == [
        "  d/memo.rtf: a file of another type",
        "  d/odd name: 1.txt: not valid UTF-8 (at byte offset 10); re-save it as UTF-8 text",
        "  d/scan.txt: looks like a binary file, not text; save it as plain text first",
    ]


@pytest.mark.parametrize(
    "reason, shown",
    [
        ("cannot read d/a b.txt: Permission denied",
         "d/a b.txt: cannot read it (Permission denied)"),
        ("d/a b.pdf contains no text to index (a scanned PDF needs OCR first)",
         "d/a b.pdf: contains no text to index (a scanned PDF needs OCR first)"),
        ("d/a b.pdf is password protected; save an unprotected copy first",
         "d/a b.pdf: password protected; save an unprotected copy first"),
        ("d/gone.txt is not valid UTF-8", "d/gone.txt is not valid UTF-8"),  # no such file
    ],
)  # fmt: skip
def test_a_skip_reason_is_shown_path_first(tmp_path, monkeypatch, reason, shown):
    from qa.cli import _path_first

    monkeypatch.chdir(tmp_path)
    write_docs(tmp_path / "d", **{"a b": ""})
    (tmp_path / "d" / "a b.pdf").write_bytes(b"")
    assert _path_first(reason) == shown


def test_an_index_dir_that_is_a_file_is_called_one(cli, tmp_path):
    write_docs(tmp_path / "d", kettle="The kettle was invented in 1891.")
    (tmp_path / "afile").write_text("not a folder")
    for args in (("ask", "Who?"), ("verify",), ("index", "d")):
        code, _, err = cli(*args, "--index-dir", "afile")
        assert code == 2
        assert err == "qa: afile is a file, not a folder; choose another --index-dir\n"
    # A folder with no index, and no seeds/ here: no seeds/ to build it from.
    assert cli("verify", "--index-dir", "none")[2] == (
        "qa: no index in none; build one with `qa index PATH... --index-dir none`\n"
    )


def test_a_damaged_index_is_rebuilt_from_the_sources_its_manifest_names(cli, tmp_path):
    write_docs(tmp_path / "d", a="Ferries run to Oban daily.", b="Cats nap. They purr.")
    assert cli("index", "d", "--index-dir", "idx")[0] == 0
    spans = next((tmp_path / "idx").glob("v-*/spans.npz"))
    spans.write_bytes(spans.read_bytes() + b"x")
    for args in (("verify",), ("ask", "Who naps?")):
        code, _, err = cli(*args, "--index-dir", "idx")
        assert code == 2 and err.endswith("; rebuild it with `qa index d --index-dir idx`\n")
    # An unreadable manifest names no sources; the rebuild says everything was embedded.
    next((tmp_path / "idx").glob("v-*/manifest.json")).write_text("{not json")
    code, _, err = cli("verify", "--index-dir", "idx")
    assert code == 2 and err.endswith("; rebuild it with `qa index PATH... --index-dir idx`\n")
    code, out, err = cli("index", "d", "--index-dir", "idx")
    assert code == 0 and "rebuilding: the index in idx has a missing or unreadable manifest" in err
    assert out.splitlines()[1:] == ["manifest unreadable: every document embedded anew"]
    assert cli("verify", "--index-dir", "idx")[0] == 0


def test_verify_refuses_an_index_of_another_format_as_ask_does(cli, tmp_path):
    """It said "23 files match their checksums" (status 0) of an index qa ask refuses."""
    write_docs(tmp_path / "d", a="Ferries run to Oban daily.")
    assert cli("index", "d", "--index-dir", "idx")[0] == 0
    from qa.store import FORMAT_VERSION as now

    manifest = next((tmp_path / "idx").glob("v-*/manifest.json"))
    text = manifest.read_text()
    assert f'"format_version": {now},' in text
    manifest.write_text(text.replace(f'"format_version": {now},', f'"format_version": {now + 1},'))
    for args in (("verify",), ("ask", "Where do ferries run?")):
        code, out, err = cli(*args, "--index-dir", "idx")
        assert code == 2 and f"has format {now + 1}, this qa reads {now}" in err
        assert "match" not in out


def test_a_resumed_first_build_says_what_it_took_from_the_interrupted_one(
    cli, fake_embedder, monkeypatch
):
    from qa.index import build
    from qa.ingest import read_paths

    write_docs(
        Path("d"), **{f"n{i:02}": f"Note {i} is here. It has a second line." for i in range(40)}
    )
    docs = list(read_paths(["d"]))
    total = build(docs, fake_embedder, progress=False)
    n_texts = total.n_passages + total.n_sentences

    class Killed(Exception):
        pass

    def killed_midway(texts, **options):
        killed_midway.seen += len(texts)  # type: ignore[attr-defined]
        if killed_midway.seen > n_texts // 2:  # type: ignore[attr-defined]
            raise Killed
        return embed(texts, **options)

    embed, killed_midway.seen = fake_embedder.embed, 0  # type: ignore[attr-defined]
    with monkeypatch.context() as m, pytest.raises(Killed):
        m.setattr(fake_embedder, "embed", killed_midway)
        build(
            iter(docs), fake_embedder, progress=False, staging=Path("idx/.staging"), batch_texts=40
        )
    code, out, _ = cli("index", "d", "--index-dir", "idx")
    assert code == 0
    embedded = re.fullmatch(
        rf"resumed an interrupted build: (\d+) of the {n_texts} passages and sentences "
        r"embedded \(the rest kept in idx/.staging/ by the build before\)",
        out.splitlines()[1],
    )
    assert embedded and 0 < int(embedded.group(1)) <= n_texts // 2 + 40
    assert cli("index", "d", "--index-dir", "idx")[1].splitlines()[1:] == ["nothing changed"]


def test_document_text_reaches_the_terminal_without_its_control_characters(cli, tmp_path):
    """A record's text, its id and a file's name may hold escape sequences (clear the screen,
    retitle the window, fake output) and classic-Mac line ends: the terminal gets them as
    visible symbols and line breaks; --json escapes them, as JSON does."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "records.jsonl").write_text(
        json.dumps({"_id": "r1\x1b[31m", "text": "The pump station was built in 1962.\x1b[2J"})
        + "\n"
    )
    (docs / "crane\x1b]0;x\x07.txt").write_text("The crane was built in 1911.\rIt was restored.")
    assert cli("index", "docs")[0] == 0
    for question in ("When was the pump station built?", "When was the crane built?"):
        code, out, err = cli("ask", question, "--json")
        assert code == 0 and "\x1b" not in out and "\\u001b" in out
        code, out, err = cli("ask", question)
        assert code == 0 and out, err
        assert not any(c in out + err for c in "\x1b\x07\r"), out
        assert "␛" in out
    code, out, err = cli("search", "crane", "-k", "1")
    assert code == 0 and "\x1b" not in out and "␛" in out


def test_a_line_break_in_a_record_id_cannot_fake_a_citation(cli, tmp_path):
    """The id "r1, characters 0-5\n[2] trusted/official.txt" printed a convincing second
    citation line under the first."""
    fake = "r1, characters 0-5\n[2] trusted/official.txt"
    (tmp_path / "c.jsonl").write_text(
        json.dumps({"_id": fake, "text": "The pump station was built in 1962."}) + "\n"
    )
    assert cli("index", str(tmp_path / "c.jsonl"))[0] == 0
    for args in (("ask", "When was the pump station built?"), ("search", "pump station")):
        code, out, err = cli(*args)
        assert code == 0 and "r1, characters 0-5␤[2] trusted/official.txt" in out, out
        assert not any(line.startswith("[2] trusted") for line in out.splitlines())


@pytest.mark.parametrize(
    "text",
    ["not json", "{}", "[]", '{"data": 5}',
     '{"data": [{"title": "t", "paragraphs": [{"context": 5, "qas": []}]}]}',
     '{"data": [{"title": "t", "paragraphs": [{"context": "c", "qas": '
     '[{"question": "q?", "answers": [{"answer_start": 0}]}]}]}]}'],
)  # fmt: skip
def test_eval_refuses_a_json_file_that_is_not_squad(cli, tmp_path, text):
    (tmp_path / "set.json").write_text(text)
    code, out, err = cli("eval", "set.json")
    assert code == 2 and "set.json is not a SQuAD v2 file" in err and "internal error" not in err


def test_an_abstention_shows_the_closest_sentence_apart_from_the_passages():
    from qa.cli import format_answer
    from qa.results import Answer, Citation

    passage = "The bridge was built in 1974.\nRepairs are expected to cost £410,000."
    sentence = Citation(text=passage[30:], document="d.txt", start=130, end=130 + len(passage) - 30,
                        context=passage, score=0.4, context_start=100)  # fmt: skip
    whole = dataclasses.replace(sentence, text="Other.", context="Other.", start=0, end=6,
                                context_start=0)  # fmt: skip
    answer = Answer(text="The article does not seem to say …", abstained=True, confidence=0.41,
                    closest=[sentence, whole])  # fmt: skip
    lines = format_answer(answer).splitlines()
    assert lines[2:] == [
        "Closest excerpt (not an answer): “Repairs are expected to cost £410,000.”, d.txt, "
        "characters 130-168",
        "Closest passages (not an answer):",
        "  - d.txt, characters 100-168: The bridge was built in 1974. Repairs are expected to "
        "cost £410,000.",
        "  - d.txt, characters 0-6: Other.",
    ]


@pytest.mark.parametrize("question", ["", "?", "   "])
def test_ask_refuses_a_question_with_no_word(cli, tmp_path, question):
    # As `qa search "?!"` does: a usage error, exit 2, with no confidence to print.
    write_docs(tmp_path / "d", kettle="The kettle was invented in 1891.")
    assert cli("index", "d", "--index-dir", "idx")[0] == 0
    code, out, err = cli("ask", question, "--index-dir", "idx")
    assert code == 2 and out == ""
    assert (
        err == 'qa: ask a question with a word in it, e.g. qa ask "When was the kettle invented?"\n'
    )


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (
            ("index", "d"),
            "qa: interrupted; the index on disk is unchanged unless a save had finished",
        ),
        (("ask", "When was the kettle invented?"), "qa: interrupted"),
    ],
)
def test_ctrl_c_ends_the_bar_then_says_one_line(cli, tmp_path, monkeypatch, command, message):
    """The message was glued to the bar, which was then drawn again below it; and a read-only
    command spoke of saves."""
    from tqdm import tqdm

    import qa.assistant

    write_docs(tmp_path / "d", kettle="The kettle was invented in 1891.")
    assert cli("index", "d", "--index-dir", "idx")[0] == 0
    bars = []

    def stopped(*args, **kwargs):
        bars.append(tqdm(total=10, desc="indexing"))
        bars[-1].update(3)
        raise KeyboardInterrupt

    monkeypatch.setattr(qa.assistant.Assistant, "from_paths", stopped)
    monkeypatch.setattr(qa.assistant.Assistant, "ask", stopped)
    code, out, err = cli(*command, "--index-dir", "idx")
    assert code == 130 and bars[-1].disable  # closed: nothing left to draw at exit
    assert err.endswith(f"\n{message}\n") and err.count("qa:") == 1, repr(err)
