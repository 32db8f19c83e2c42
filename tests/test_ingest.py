"""Reading files, folders and JSON lines; bad input gives a QAError that says what to do."""

import json
import os

import pytest

from qa import QAError
from qa.ingest import read_paths


def test_text_file_id_is_the_path_as_given(tmp_path):
    f = tmp_path / "a.txt"
    f.write_text("Hello there. General Kenobi.")
    (doc,) = read_paths([str(f)])
    assert doc.id == str(f) and doc.text == "Hello there. General Kenobi."


def test_directory_is_read_recursively_and_sorted(tmp_path):
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    (tmp_path / "b.md").write_text("# B\n\nbee")
    (tmp_path / "sub" / "deeper" / "a.txt").write_text("ay")
    (tmp_path / "ignored.bin").write_bytes(b"\x00\x01")
    (tmp_path / ".hidden.txt").write_text("secret")
    ids = [d.id for d in read_paths([tmp_path])]
    assert ids == [str(tmp_path / "b.md"), str(tmp_path / "sub" / "deeper" / "a.txt")]


def test_symlink_loop_terminates(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x.txt").write_text("x")
    os.symlink(tmp_path / "d", tmp_path / "d" / "loop")
    assert [d.text for d in read_paths([tmp_path])] == ["x"]


def test_a_file_and_a_link_to_it_are_read_once_under_the_file_s_name(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "n001.txt").write_text("x")
    os.symlink(tmp_path / "d" / "n001.txt", tmp_path / "d" / "a-link.txt")  # first by name
    outside = tmp_path / "elsewhere.txt"
    outside.write_text("y")
    os.symlink(outside, tmp_path / "d" / "b-outside.txt")  # its target is not walked: kept
    (tmp_path / "d" / "notes.data").write_text("z")
    os.symlink(tmp_path / "d" / "notes.data", tmp_path / "d" / "c-notes.txt")  # nor this one
    assert [d.id for d in read_paths([tmp_path / "d"])] == [
        str(tmp_path / "d" / "b-outside.txt"),
        str(tmp_path / "d" / "c-notes.txt"),
        str(tmp_path / "d" / "n001.txt"),
    ]


def test_jsonl_records(tmp_path):
    f = tmp_path / "corpus.jsonl"
    rows = [{"_id": "1", "title": "T", "text": "one"}, {"id": 2, "text": "two"}]
    f.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    docs = list(read_paths([f]))
    assert [(d.id, d.title, d.text) for d in docs] == [("1", "T", "one"), ("2", "", "two")]


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("missing.txt", None, "does not exist"),
        ("bin.txt", b"\x00\x01\x02binary", "binary"),
        ("cyrillic.txt", "Жёны солдат из Бурятии".encode("cp1251"), "not valid UTF-8"),
        ("undefined.txt", b"caf\x81", "not valid UTF-8"),
        ("polish.txt", "Zażółć gęślą jaźń, mówi burmistrz.".encode("cp1250"), "not valid UTF-8"),
        ("mixed.txt", "The council’s plan".encode() + b" caf\xe9", "not valid UTF-8"),
        ("latin.jsonl", '{"_id": "1", "text": "caf\xe9"}\n'.encode("latin-1"), "UTF-8"),
        ("odd.txt", b"\xff\xfe" + b"a\x00\x00\xd8", "not valid UTF-16"),
        ("wide.jsonl", '{"_id": "1", "text": "a"}\n'.encode("utf-16"), "JSON lines must be UTF-8"),
        ("bad.jsonl", b"{not json}\n", "not valid JSON"),
        # A record cut short: the column where it ends, not column 1 of the line after.
        (
            "cut.jsonl",
            b'{"_id": "1", "text": "a"}\n{"_id": "2", "text": "b"\n',
            r"cut.jsonl:2: not valid JSON \(Expecting ',' delimiter column 25\)",
        ),
        # Bytes that open UTF-16 mid-file are no UTF-16 line.
        ("marks.jsonl", b'{"_id": "1", "text": "a"}\n\xff\xfe\n', "marks.jsonl:2: not valid UTF-8"),
        (
            "marked.jsonl",
            b'{"_id": "1", "text": "a"}\n\xff\xfe{"_id": "2"}\n',
            ":2: not valid UTF-8",
        ),
        ("noid.jsonl", b'{"text": "x"}\n', "_id"),
        ("emptyid.jsonl", b'{"_id": " ", "text": "x"}\n', "`_id` is empty"),
        ("huge.jsonl", b'{"_id": ' + b"9" * 5000 + b', "text": "x"}\n', "too large"),
        ("deep.jsonl", b"[" * 100_000 + b"]" * 100_000 + b"\n", "too deeply nested"),
        ("x.exe", b"MZ", "unsupported file type"),
    ],
)
def test_bad_input_gives_clear_error(tmp_path, name, content, message):
    f = tmp_path / name
    if content is not None:
        f.write_bytes(content)
    with pytest.raises(QAError, match=message):
        list(read_paths([f]))


@pytest.mark.parametrize("encoding", ["cp1252", "latin-1"])
def test_western_text_in_a_legacy_code_page_is_read(tmp_path, encoding):
    # An older Windows editor saves "Save as text" in Windows-1252, which Latin-1 files
    # also are (their bytes 0x80-0x9F are unused); read it rather than refuse it.
    text = "The café in Zürich reopened; naïve résumés, 40 euros.\r\n"
    if encoding == "cp1252":
        text += "“Quoted” – the soldiers’ wives.\n"
    f = tmp_path / "old.txt"
    f.write_bytes(text.encode(encoding))
    (doc,) = read_paths([f])
    assert doc.text == text


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-8-sig"])
def test_unicode_text_with_a_byte_order_mark_is_read(tmp_path, encoding):
    f = tmp_path / "notepad.txt"
    data = "Zürich ferries run daily.\r\n".encode(encoding)
    f.write_bytes(b"\xfe\xff" + data if encoding == "utf-16-be" else data)
    (doc,) = read_paths([f])
    assert doc.text == "Zürich ferries run daily.\r\n"


def test_control_characters_become_spaces_keeping_offsets(tmp_path):
    f = tmp_path / "c.txt"
    f.write_text("a\x01b\tc\n")
    (doc,) = read_paths([f])
    assert doc.text == "a b\tc\n"


def test_a_named_pipe_is_refused_not_waited_on(tmp_path):
    import os

    from qa.ingest import count_documents

    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    assert count_documents([fifo]) is None  # opening it would block until a writer came
    with pytest.raises(QAError, match="not a regular file"):
        list(read_paths([fifo]))


def test_a_folder_walk_skips_an_index_inside_it(tmp_path, fake_embedder, monkeypatch):
    # `qa index .` keeps its index in ./index, inside the folder it reads: the next run must
    # not read the index's stored texts as a JSON-lines collection.
    from qa.assistant import Assistant

    (tmp_path / "ferry.txt").write_text("The ferry leaves at noon.")
    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        a = Assistant.from_paths(["."], index_dir="index", embedder=fake_embedder)
        assert [d.id for d in a.documents] == ["ferry.txt"]


def test_a_folder_that_is_its_own_index_is_read_without_it(tmp_path, fake_embedder):
    # `qa index notes --index-dir notes`: the second run used to refuse "ferry.txt" as given
    # twice (once in notes/v-.../documents.jsonl), and another index of notes read it twice.
    from qa.assistant import Assistant

    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "ferry.txt").write_text("The ferry leaves at noon.")
    for _ in range(2):
        a = Assistant.from_paths([notes], index_dir=notes, embedder=fake_embedder)
        assert [d.id for d in a.documents] == [str(notes / "ferry.txt")]
    skipped: list[str] = []
    assert [d.id for d in read_paths([notes], skipped)] == [str(notes / "ferry.txt")]
    assert skipped == []  # nor CURRENT or the version's files called "of another type"


def test_an_index_in_a_users_folder_keeps_and_reads_the_users_v_folders(tmp_path, fake_embedder):
    """Saving deleted every folder called v-* or .tmp-* beside the index: a user's
    notes/v-drafts/plan.txt was lost, and its answers said the file "no longer exists"."""
    from qa.assistant import Assistant
    from qa.ingest import VERSION_FOLDER

    notes = tmp_path / "notes"
    for folder, name in (("v-drafts", "plan.txt"), (".tmp-keep", "x.txt"), ("v-1.0", "a.md")):
        (notes / folder).mkdir(parents=True)
        (notes / folder / name).write_text(f"The {folder} note is here.")
    for _ in range(3):  # each save removes the versions before it
        a = Assistant.from_paths([notes], index_dir=notes, embedder=fake_embedder)
    for folder, name in (("v-drafts", "plan.txt"), (".tmp-keep", "x.txt"), ("v-1.0", "a.md")):
        assert (notes / folder / name).read_text() == f"The {folder} note is here."
    assert sorted(d.id for d in a.documents) == [
        str(notes / "v-1.0" / "a.md"), str(notes / "v-drafts" / "plan.txt")
    ]  # fmt: skip
    versions = [p for p in notes.iterdir() if VERSION_FOLDER.fullmatch(p.name)]
    assert len(versions) == 1 and (notes / "CURRENT").read_text().strip() == versions[0].name


def test_a_folder_is_indexed_without_the_files_it_cannot_read_which_are_named(tmp_path):
    # One scanned PDF (no text) or a .rtf memo in a folder of hundreds must not stop the rest.
    from test_extract import make_pdf

    (tmp_path / "good.txt").write_text("The ferry leaves at noon.")
    (tmp_path / "scan.pdf").write_bytes(make_pdf([]))
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4 garbage")
    (tmp_path / "memo.rtf").write_text("{\\rtf1 The mayor resigned.}")
    skipped: list[str] = []
    docs = list(read_paths([tmp_path], skipped))
    assert [d.id for d in docs] == [str(tmp_path / "good.txt")]
    assert len(skipped) == 3
    assert any("scan.pdf" in s and "no text" in s for s in skipped)
    assert any("broken.pdf" in s for s in skipped)
    assert f"{tmp_path / 'memo.rtf'}: a file of another type" in skipped
    # Named on its own, a file that cannot be read is an error, as is any without `skipped`.
    with pytest.raises(QAError, match="no text"):
        list(read_paths([tmp_path / "scan.pdf"], []))
    with pytest.raises(QAError):
        list(read_paths([tmp_path]))


def test_a_folder_that_cannot_be_read_is_named(tmp_path, monkeypatch):
    # A sub-folder without read permission was skipped without a word.
    (tmp_path / "barn.txt").write_text("The red barn was painted in 1950.")
    (tmp_path / "private").mkdir()
    (tmp_path / "private" / "minutes.txt").write_text("The budget is 4 million.")
    scandir = os.scandir

    def refused(path):
        if isinstance(path, os.PathLike) and os.path.basename(path) in ("private", "locked"):
            raise PermissionError(13, "Permission denied", str(path))
        return scandir(path)

    monkeypatch.setattr("os.scandir", refused)
    skipped: list[str] = []
    assert [d.id for d in read_paths([tmp_path], skipped)] == [str(tmp_path / "barn.txt")]
    assert skipped == [f"{tmp_path / 'private'}: cannot read the folder (Permission denied)"]
    (tmp_path / "locked").mkdir()
    with pytest.raises(QAError, match="cannot read the folder .*locked .Permission denied"):
        list(read_paths([tmp_path / "locked"], []))


def test_an_id_given_twice_is_refused_naming_where(tmp_path):
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    one.write_text('{"_id": "1", "text": "Ferries."}\n')
    two.write_text('{"_id": "2", "text": "Cats."}\n{"_id": "1", "text": "Kettles."}\n')
    with pytest.raises(QAError, match=r"'1' is given twice \(in .*one.jsonl and in .*two.jsonl\)"):
        list(read_paths([one, two]))
    with pytest.raises(QAError, match=r"'2' is given twice \(in .*two.jsonl\)"):
        two.write_text('{"_id": "2", "text": "Cats."}\n{"_id": "2", "text": "Kettles."}\n')
        list(read_paths([two]))


def test_a_missing_path_is_told_before_any_document_is_read(tmp_path):
    (tmp_path / "a.txt").write_text("The ferry leaves at noon.")
    docs = read_paths([tmp_path / "a.txt", tmp_path / "typo.txt"])
    with pytest.raises(QAError, match="typo.txt does not exist"):
        next(docs)


def test_an_index_in_a_users_folder_keeps_the_users_staging_and_current(tmp_path, fake_embedder):
    """`qa index docs --index-dir notes` deleted a user's notes/.staging/ folder whole, and
    wrote over a user's notes/CURRENT."""
    from qa.assistant import Assistant
    from qa.errors import QAError

    docs, notes = tmp_path / "docs", tmp_path / "notes"
    docs.mkdir()
    (docs / "ferry.txt").write_text("The ferry leaves at noon.")
    (notes / ".staging").mkdir(parents=True)
    (notes / ".staging" / "todo.txt").write_text("Call the harbour.")
    for _ in range(2):  # a build, then an update
        Assistant.from_paths([docs], index_dir=notes, embedder=fake_embedder)
    assert (notes / ".staging" / "todo.txt").read_text() == "Call the harbour."
    assert sorted(p.name for p in (notes / ".staging").iterdir()) == ["todo.txt"]

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "CURRENT").write_text("Chapter 3, page 40")
    with pytest.raises(QAError, match="CURRENT is not an index's"):
        Assistant.from_paths([docs], index_dir=mine, embedder=fake_embedder)
    assert (mine / "CURRENT").read_text() == "Chapter 3, page 40"
