"""Hostile input at every entry point: a QAError with a message, or a normal answer, in time."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa import Answer, QAError
from qa.assistant import MAX_QUESTION_CHARS, Assistant
from qa.ingest import MAX_DOCUMENT_CHARS, Document

from .harness import SEEDS, HashEmbedder, remove_tree

FUZZ = settings(
    max_examples=150,
    deadline=None,  # time is bounded by the tests themselves
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
ASK_BOUND_S = 2.0  # per question, fake embedder; far above the typical 5 ms
BUILD_BOUND_S = 10.0

HOSTILE = [
    "", " ", "\t\n\r", "\x00", "\x00\x01\x1b[31m\x7f", "\ud800", "x\udcff", "\ufeff",
    "\u202e\u200f",
    "مرحبا بالعالم", "שלום", "🎉🤖👩‍👩‍👧‍👦", "<script>alert(1)</script>", "{{7*7}} ${7*7} %s %n",
    "'; DROP TABLE documents; --", "__import__('os').system('false')", "\\", "?" * 500,
    "a" * MAX_QUESTION_CHARS, "Buryatia", "Who", "\n\n\n",
]  # fmt: skip
# Text with every kind of character, including lone surrogates, plus the fragments above.
TEXT = st.lists(
    st.one_of(st.text(st.characters(exclude_categories=())), st.sampled_from(HOSTILE)), max_size=6
).map("".join)


@pytest.fixture(scope="module")
def assistant() -> Assistant:
    return Assistant.from_paths([SEEDS], embedder=HashEmbedder(), progress=False)


def check_answer(assistant: Assistant, answer: Answer) -> None:
    """What every answer promises, whatever the question."""
    texts = {d.id: d.text for d in assistant.documents}
    for c in answer.citations + answer.closest:
        assert texts[c.document][c.start : c.end] == c.text
    json.dumps(answer.to_dict(), ensure_ascii=False).encode("utf-8")  # printable, serialisable
    assert 0.0 <= answer.confidence <= 1.0
    assert answer.abstained or answer.citations


def ask_bounded(assistant: Assistant, question, history=None) -> Answer | QAError:
    t0 = time.perf_counter()
    try:
        result: Answer | QAError = assistant.ask(question, history)
    except QAError as exc:
        assert str(exc), "a QAError must say what is wrong"
        result = exc
    assert time.perf_counter() - t0 < ASK_BOUND_S
    if isinstance(result, Answer):
        check_answer(assistant, result)
    return result


@pytest.mark.parametrize("question", HOSTILE)
def test_hostile_questions(assistant, question, figures):
    figures["inputs tried"] += 1
    assert isinstance(ask_bounded(assistant, question), Answer)
    assert isinstance(assistant.search(question, k=3), list)


@pytest.mark.model
def test_hostile_questions_and_documents_with_the_real_model(real_embedder, figures):
    """The real tokenizer and model see the same hostile text as the fake embedder."""
    odd = "\n\n".join(HOSTILE[:-4]) + " " + "🎉" * 700 + " x" * 700
    a = Assistant.from_documents([Document(id="odd", text=odd)], embedder=real_embedder,
                                 progress=False)  # fmt: skip
    for question in HOSTILE[:12] + ["🎉" * MAX_QUESTION_CHARS, "\u202e" * MAX_QUESTION_CHARS]:
        figures["inputs tried"] += 1
        assert isinstance(ask_bounded(a, question), Answer)


@given(question=TEXT)
@FUZZ
def test_any_question_gets_an_answer(assistant, question, figures):
    figures["inputs tried"] += 1
    result = ask_bounded(assistant, question)
    assert isinstance(result, Answer) or len(question.strip()) > MAX_QUESTION_CHARS


def test_a_megabyte_question_is_refused_with_the_limit(assistant, figures):
    figures["inputs tried"] += 2
    for question in ("why " * 250_000, "x" * 2**20):
        result = ask_bounded(assistant, question)
        assert isinstance(result, QAError) and "keep it to at most 2,000" in str(result)


@pytest.mark.parametrize("question", [None, 42, b"bytes", ["list"], {"q": 1}])
def test_questions_that_are_not_text(assistant, question, figures):
    figures["inputs tried"] += 1
    with pytest.raises(QAError, match="must be text"):
        assistant.ask(question)


MESSAGE = st.fixed_dictionaries(
    {}, optional={"role": st.sampled_from(["user", "assistant", "system", 3]),
                  "content": st.one_of(TEXT, st.integers(), st.none(), st.just("w" * 10**6))},
)  # fmt: skip


@given(history=st.one_of(st.lists(MESSAGE, max_size=5), st.text(), st.integers(), st.lists(TEXT)))
@FUZZ
def test_any_history(assistant, history, figures):
    figures["inputs tried"] += 1
    result = ask_bounded(assistant, "and what about them?", history)
    if isinstance(result, QAError):
        assert "history must be a list" in str(result)


@given(query=TEXT, k=st.one_of(st.integers(-10, 10**9), st.just(0)))
@FUZZ
def test_any_search(assistant, query, k, figures):
    figures["inputs tried"] += 1
    try:
        hits = assistant.search(query, k=k)
    except QAError as exc:
        assert (k < 1 and str(exc) == f"k must be at least 1, not {k}") or (
            len(query.strip()) > MAX_QUESTION_CHARS
        )
        return
    assert k >= 1 and len(hits) <= k


# -- documents --------------------------------------------------------------------------


def build_bounded(docs) -> Assistant:
    t0 = time.perf_counter()
    a = Assistant.from_documents(docs, embedder=HashEmbedder(), progress=False)
    assert time.perf_counter() - t0 < BUILD_BOUND_S
    return a


def check_index(a: Assistant) -> None:
    """Every sentence span lies inside its document; questions about it get answers."""
    idx = a.index
    for s in range(idx.n_sentences):
        doc = idx.documents[idx.sent_doc[s]]
        assert 0 <= idx.sent_start[s] < idx.sent_end[s] <= len(doc.text)
    for question in ("what is this about?", "<script>", "🎉"):
        check_answer(a, a.ask(question))


@given(texts=st.lists(TEXT, min_size=1, max_size=4), title=TEXT)
@FUZZ
def test_any_documents(texts, title, figures):
    figures["inputs tried"] += 1
    docs = [Document(id=f"d{i}", text=t, title=title) for i, t in enumerate(texts)]
    a = build_bounded(docs)
    check_index(a)
    for d in a.documents:
        d.text.encode("utf-8")  # lone surrogates were replaced, so the index can be saved


LONG_SENTENCE = " ".join(f"word{i % 997}" for i in range(200_000))[:200_000]


@pytest.mark.parametrize(
    "text",
    [LONG_SENTENCE, "x" * 200_000, "\n" * 100_000, ". " * 100_000, "🎉" * 100_000,
     "<p>" * 50_000, "a\u0301" * 50_000, "مرحبا " * 30_000],
    ids=["200k-sentence", "200k-one-word", "newlines", "dots", "emoji", "tags", "combining", "rtl"],
)  # fmt: skip
def test_pathological_documents(text, figures):
    figures["inputs tried"] += 1
    check_index(build_bounded([Document(id="doc", text=text)]))


@pytest.mark.parametrize(
    "kwargs, match",
    [({"id": 1, "text": "t"}, "id must be text"), ({"id": "a", "text": b"t"}, "text must be text"),
     ({"id": "a", "text": "t", "title": None}, "title must be text"),
     ({"id": "a", "text": "x" * (MAX_DOCUMENT_CHARS + 1)}, "the limit is")],
)  # fmt: skip
def test_documents_that_are_not_text(kwargs, match, figures):
    figures["inputs tried"] += 1
    with pytest.raises(QAError, match=match):
        Document(**kwargs)


def test_document_text_is_never_executed(tmp_path, figures):
    """Code in a document is text to quote: nothing runs, and it comes back verbatim."""
    canary = tmp_path / "canary"
    payloads = [
        f"__import__('os').system('touch {canary}')", f"<script>fetch('{canary}')</script>",
        f"{{{{ ''.__class__.__mro__[1].__subclasses__() }}}} $(touch {canary}) `touch {canary}`",
        f"<img src=x onerror=\"touch('{canary}')\"> {{\"$where\": \"touch {canary}\"}}",
    ]  # fmt: skip
    figures["inputs tried"] += len(payloads)
    docs = [Document(id=f"evil{i}.md", text=f"Evil {i}: {p}") for i, p in enumerate(payloads)]
    Assistant.from_documents(docs, embedder=HashEmbedder(), index_dir=tmp_path / "idx")
    a = Assistant.load(tmp_path / "idx", embedder=HashEmbedder())
    for i, p in enumerate(payloads):
        hits = a.search(f"Evil {i} {p}", k=4)
        assert any(p in h.text for h in hits)
    assert not canary.exists()


# -- files and folders ------------------------------------------------------------------


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _deep(root: Path) -> Path:
    d = root / "deep"
    d.mkdir()
    for _ in range(1200):  # deeper than Python's recursion limit; within PATH_MAX
        d = d / "d"
        d.mkdir()  # one level at a time: mkdir(parents=True) recurses too
    _write(d / "bottom.txt", b"The bottom of a deep folder tree.")
    return root / "deep"


def _symlink_loops(root: Path) -> Path:
    folder = root / "loops"
    _write(folder / "a" / "real.txt", b"A real file inside a folder full of loops.")
    os.symlink("..", folder / "a" / "up")
    os.symlink(".", folder / "a" / "here")
    os.symlink("self.txt", folder / "self.txt")
    os.symlink("b.md", folder / "a.md")
    os.symlink("a.md", folder / "b.md")
    os.symlink("/dev/zero", folder / "zero.txt")
    os.mkfifo(folder / "fifo.txt")
    return folder


def _fifo(root: Path) -> Path:
    os.mkfifo(root / "pipe.txt")
    return root / "pipe.txt"


def _bad_names(root: Path) -> Path:
    folder = root / "names"
    _write(folder / os.fsdecode(b"caf\xe9-latin1.txt"), b"A file whose name is not UTF-8.")
    _write(folder / "\u202eevil\u202c.md", b"A file whose name has a bidi override.")
    _write(folder / "new\nline.txt", b"A file whose name has a newline.")
    return folder


JSONL = b"\n".join([
    b'{"_id": "1", "text": "A fine record."}', b'{"_id": "2", "text": "lone \\ud800 surrogate"}',
    b'{"_id": 3, "title": ["odd"], "text": "numeric id, list title"}', b"", b"   ",
])  # fmt: skip

# name -> (make the input under tmp_path, whether it must index (True) or be refused (False))
FILE_CASES = {
    "empty-file": (lambda r: _write(r / "empty.txt", b""), True),
    "whitespace-file": (lambda r: _write(r / "blank.md", b" \n\t\n  "), True),
    "binary-as-txt": (lambda r: _write(r / "image.txt", b"\x89PNG\r\n\x1a\n\x00\x00" * 100), False),
    "invalid-utf8": (lambda r: _write(r / "latin1.txt", b"caf\xe9 na\xefve"), False),
    "utf16": (lambda r: _write(r / "utf16.txt", "hello".encode("utf-16")), True),  # with a BOM
    "bom": (lambda r: _write(r / "bom.txt", b"\xef\xbb\xbfText after a BOM."), True),
    "control-chars": (lambda r: _write(r / "ctl.txt", b"Bell\x07 escape\x1b[2J form\x0c."), True),
    "long-sentence": (lambda r: _write(r / "long.txt", LONG_SENTENCE.encode()), True),
    "rtl-emoji": (lambda r: _write(r / "rtl.md", "مرحبا. שלום עולם! 🎉🤖 done.".encode()), True),
    "html-in-md": (lambda r: _write(r / "x.md", b"<script>alert(1)</script><b>bold</b>"), True),
    "garbage-pdf": (lambda r: _write(r / "x.pdf", os.urandom(3000)), False),
    "garbage-docx": (lambda r: _write(r / "x.docx", b"PK\x03\x04" + os.urandom(3000)), False),
    "garbage-html": (lambda r: _write(r / "x.html", b"<html><script>x</script>\xff\xfe"), None),
    "jsonl-odd": (lambda r: _write(r / "c.jsonl", JSONL), True),
    "jsonl-not-json": (lambda r: _write(r / "c.jsonl", b'{"_id": "1", "text": '), False),
    "jsonl-array": (lambda r: _write(r / "c.jsonl", b"[1, 2]"), False),
    "jsonl-no-text": (lambda r: _write(r / "c.jsonl", b'{"_id": "1", "text": 5}'), False),
    "jsonl-dup-ids": (lambda r: _write(r / "c.jsonl", b'{"_id":"1","text":"a"}\n' * 2), False),
    "deep-folders": (_deep, True),
    "symlink-loops": (_symlink_loops, True),
    "fifo": (_fifo, False),
    "device": (lambda r: Path("/dev/zero"), False),
    "bad-names": (_bad_names, True),
    "empty-folder": (lambda r: (r / "nothing").mkdir() or r / "nothing", False),
    "missing": (lambda r: r / "missing.txt", False),
    "unsupported": (lambda r: _write(r / "x.exe", b"MZ"), False),
}


@pytest.mark.parametrize("case", FILE_CASES)
def test_hostile_files_python_api(case, tmp_path, figures):
    make, ok = FILE_CASES[case]
    path = make(tmp_path)
    figures["inputs tried"] += 1
    t0 = time.perf_counter()
    try:
        a = Assistant.from_paths([path], embedder=HashEmbedder(), index_dir=tmp_path / "index",
                                 progress=False)  # fmt: skip
    except QAError as exc:
        assert ok is not True, f"refused: {exc}"
        assert str(exc)
    else:
        assert ok is not False, "indexed what should be refused"
        check_index(Assistant.load(tmp_path / "index", embedder=HashEmbedder()))
        check_index(a)
    assert time.perf_counter() - t0 < BUILD_BOUND_S
    remove_tree(tmp_path)


FILE_BYTES = st.one_of(
    st.binary(max_size=3000),
    TEXT.map(lambda t: t.encode("utf-8", "surrogatepass")),  # UTF-8 with encoded surrogates
    st.lists(st.sampled_from([b"%PDF-1.4\n", b"PK\x03\x04", b"<html>", b"<script>", b"\x00",
                              b'{"_id": "1", "text": "t"}\n', b"\xef\xbb\xbf", b"\n\n", b"word "]),
             max_size=30).map(b"".join),
)  # fmt: skip


@given(data=FILE_BYTES, suffix=st.sampled_from([".txt", ".md", ".jsonl", ".html", ".pdf", ".docx"]))
@FUZZ
def test_any_file_bytes(data, suffix, figures):
    """Whatever a file holds, reading it (as a path or as a web upload) gives documents or a
    QAError, in bounded time."""
    import tempfile

    from qa.extract import read_upload

    figures["inputs tried"] += 1
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"file{suffix}"
        path.write_bytes(data)
        t0 = time.perf_counter()
        try:
            check_index(Assistant.from_paths([path], embedder=HashEmbedder(), progress=False))
        except QAError as exc:
            assert str(exc)
        try:
            docs = read_upload(path)
            assert docs and all(d.text.strip() or suffix == ".jsonl" for d in docs)
            assert suffix == ".jsonl" or [d.id for d in docs] == [path.name]
        except QAError as exc:
            assert str(exc) and tmp not in str(exc)  # names the upload, not our temp path
        assert time.perf_counter() - t0 < BUILD_BOUND_S


ODD = [None, 5, 1.5, float("nan"), -1, 10**30, True, b"bytes", "text", ["list"], {"d": 1}, object(),
       [Document(id="x", text="y"), 5]]  # fmt: skip
API = {
    "from_paths": lambda a, x: Assistant.from_paths(x, embedder=HashEmbedder(), progress=False),
    "from_documents": lambda a, x: Assistant.from_documents(x, embedder=HashEmbedder()),
    "index_dir": lambda a, x: Assistant.from_paths([SEEDS], embedder=HashEmbedder(), index_dir=x),
    "load": lambda a, x: Assistant.load(x, embedder=HashEmbedder()),
    "add": lambda a, x: a.add(x, progress=False),
    "remove": lambda a, x: a.remove(x),
    "ask": lambda a, x: a.ask(x),
    "history": lambda a, x: a.ask("what?", x),
    "search": lambda a, x: a.search(x),
    "search-k": lambda a, x: a.search("Buryatia", k=x),
}


@pytest.mark.parametrize("call", API)
def test_odd_arguments_to_the_python_api(call, figures, tmp_path, monkeypatch):
    """Wrong types anywhere in the API get a QAError that says what to pass, as `ask` does."""
    monkeypatch.chdir(tmp_path)  # index_dir="text" is a valid folder name
    a = Assistant.from_paths([SEEDS], embedder=HashEmbedder(), progress=False)
    for value in ODD:
        figures["inputs tried"] += 1
        try:
            API[call](a, value)
        except QAError as exc:
            assert str(exc)


def test_an_index_dir_that_is_a_file(tmp_path, figures):
    figures["inputs tried"] += 1
    (tmp_path / "index").write_text("not a folder")
    with pytest.raises(QAError, match="is a file, not a folder"):  # before embedding anything
        Assistant.from_paths([SEEDS], embedder=HashEmbedder(), index_dir=tmp_path / "index")
    with pytest.raises(QAError, match="is a file, not a folder"):
        Assistant.load(tmp_path / "index", embedder=HashEmbedder())
