"""Read files, directories and JSON-lines collections into documents, text kept exactly as read."""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import QAError

TEXT_SUFFIXES = {".txt", ".md", ".markdown"}
RICH_SUFFIXES = {".html", ".htm", ".pdf", ".docx"}  # text extracted by qa.extract
JSONL_SUFFIXES = {".jsonl", ".ndjson"}
FILE_SUFFIXES = TEXT_SUFFIXES | RICH_SUFFIXES | JSONL_SUFFIXES
MAX_DOCUMENT_CHARS = 50_000_000


@dataclass(frozen=True)
class Document:
    """One document: `id` is the file path as given, or a JSON-lines record's id."""

    id: str
    text: str
    title: str = ""

    def __post_init__(self) -> None:
        # Every entry point (files, JSON lines, the Python API, uploads) makes Documents, so
        # they are checked here once. A lone surrogate (from a JSON escape like "\ud800" or an
        # undecodable file name) cannot be written as UTF-8; U+FFFD keeps offsets unchanged.
        for name in ("id", "text", "title"):
            value = getattr(self, name)
            if not isinstance(value, str):
                raise QAError(f"a document's {name} must be text, not {type(value).__name__}")
            object.__setattr__(self, name, without_surrogates(value))
        if len(self.text) > MAX_DOCUMENT_CHARS:
            raise QAError(
                f"{self.id} has {len(self.text):,} characters; the limit is {MAX_DOCUMENT_CHARS:,}"
            )

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8", "surrogatepass")).hexdigest()


def without_surrogates(text: str) -> str:
    """`text` with lone surrogates replaced by U+FFFD, so that it can be encoded as UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)
    return text


_SURROGATE = re.compile("[\ud800-\udfff]")


def decode(data: bytes, name: str, *, legacy: bool = False) -> str:
    """Decode UTF-8 text (or UTF-16 with its byte-order mark, as Windows Notepad saves
    "Unicode"); refuse binary data that only wears a text extension. With `legacy`, text
    that is not UTF-8 is read as Windows-1252 (which Latin-1 files also are, nearly always)
    when that reads as mostly Latin letters: a file of Western text saved by an older editor."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            data = data.decode("utf-16").encode("utf-8")
        except UnicodeDecodeError:
            raise QAError(f"{name} is not valid UTF-16; re-save it as UTF-8 text") from None
    if b"\x00" in data[:8192]:
        raise QAError(f"{name} looks like a binary file, not text; save it as plain text first")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        legacy_text = _windows_1252(data) if legacy else None
        if legacy_text is None:
            raise QAError(
                f"{name} is not valid UTF-8 (at byte offset {exc.start:,}); re-save it as UTF-8 text"
            ) from None
        text = legacy_text
    if len(text) > MAX_DOCUMENT_CHARS:
        raise QAError(f"{name} has {len(text):,} characters; the limit is {MAX_DOCUMENT_CHARS:,}")
    # Control characters other than whitespace carry no meaning for reading; map them to
    # spaces so offsets stay the same as in the file.
    return text.translate(_CONTROL_TO_SPACE)


def _windows_1252(data: bytes) -> str | None:
    """`data` read as Windows-1252, or None if it is not that: a byte the code page leaves
    undefined, or letters mostly outside ASCII, as Cyrillic or Greek in a legacy code page
    would read (Western text has a few accented letters among many plain ones)."""
    if _UTF8_SEQUENCE.search(data):
        return None  # UTF-8 with a stray byte of something else: not one encoding to read
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        return None
    if _SIGN_IN_WORD.search(text):
        return None  # "Za¿ó³æ": Polish or Czech (Windows-1250) letters read as signs
    letters = sum(c.isalpha() for c in text)
    accented = sum(c.isalpha() and not c.isascii() for c in text)
    return text if accented <= 0.2 * letters else None


# A multi-byte UTF-8 character; Western text in Windows-1252 practically never holds one.
_UTF8_SEQUENCE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)
# A sign of Latin-1's upper half between two letters: a letter of another code page.
_SIGN_IN_WORD = re.compile(r"(?<=[^\W\d_])[\xa1-\xa9\xab-\xb4\xb6-\xb9\xbb-\xbf](?=[^\W\d_])")


_CONTROL_TO_SPACE = {c: " " for c in range(32) if chr(c) not in "\t\n\r"} | {0x7F: " "}


_KINDS = ".txt, .md, .html, .pdf, .docx or .jsonl"


def read_paths(
    paths: Iterable[str | os.PathLike[str]], skipped: list[str] | None = None
) -> Iterator[Document]:
    """Yield the documents under `paths`: text files, directories (recursively) and JSON lines.

    With `skipped`, a file found in a folder that cannot be read as one document (a scanned
    PDF with no text, a damaged file, another encoding) is told there, and so is each file of
    a type not read, rather than stopping the whole folder. A file named itself, and any
    fault in a JSON-lines collection, always stops with a QAError."""
    seen: set[str] = set()
    source: dict[str, str] = {}  # each document id and the file it came from
    paths = list(paths)
    for given in paths:  # all of them before any is read: a typo in the last one is told at once
        if not Path(given).exists():
            raise QAError(f"{given} does not exist; pass a folder or a file ({_KINDS})")
    for given in paths:
        path = Path(given)
        if path.is_dir():
            others: list[str] = []
            files = list(_walk(path, others))
            if skipped is not None:
                skipped += others
            if not files:
                raise QAError(f"{given} holds no .txt, .md, .html, .pdf, .docx or .jsonl files")
        elif path.is_file():
            files = [path]
        else:
            # A FIFO or device (/dev/zero) would block or never end.
            raise QAError(f"{given} is not a regular file or folder; pass a file ({_KINDS})")
        for file in files:
            key = str(file.resolve())
            if key in seen:
                continue
            seen.add(key)
            if skipped is None or file is path or file.suffix.lower() in JSONL_SUFFIXES:
                docs: Iterable[Document] = read_file(file)
            else:
                try:
                    docs = list(read_file(file))  # one document, read whole before it is yielded
                except QAError as exc:
                    skipped.append(str(exc))
                    continue
            name = str(file)
            for doc in docs:
                first = source.get(doc.id)
                if first is not None:
                    where = f"in {first}" if first == name else f"in {first} and in {name}"
                    raise QAError(
                        f"the id {doc.id!r} is given twice ({where}); ids must be unique across "
                        "what is indexed together, so index such collections into separate "
                        "--index-dir folders or give their ids a prefix"
                    )
                source[doc.id] = name
                yield doc


UNREADABLE_FOLDER = "cannot read the folder"  # how a skipped folder is told


def _walk(root: Path, others: list[str] | None = None) -> Iterator[Path]:
    """Files under `root` in sorted order, skipping hidden entries and never looping on symlinks.
    Files of other types and folders that cannot be read are left out (and told in `others`).

    An explicit stack rather than os.walk, which recurses and fails on very deep folders.
    """
    visited: set[tuple[int, int]] = set()
    stack = [root]
    # `qa index notes --index-dir notes`: the root may be an index itself (a sub-folder that
    # is one is never entered, so only the root needs asking)
    root_is_index = _is_index(root)
    try:
        real_root = root.resolve()
    except (OSError, RuntimeError):
        real_root = None
    while stack:
        folder = stack.pop()
        try:
            st = folder.stat()
            if (st.st_dev, st.st_ino) in visited:
                continue
            visited.add((st.st_dev, st.st_ino))
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            if folder == root:
                raise QAError(f"{UNREADABLE_FOLDER} {root} ({exc.strerror})") from None
            if others is not None:
                others.append(f"{folder}: {UNREADABLE_FOLDER} ({exc.strerror})")
            continue
        subfolders = []
        index_here = root_is_index and folder == root
        for entry in entries:
            if entry.name.startswith(".") or (index_here and entry.name == "CURRENT"):
                continue
            try:
                is_dir, is_file = entry.is_dir(), entry.is_file()
            except OSError:
                continue
            if is_dir:
                # an index's versions (and an index in a sub-folder) hold no documents
                if not (index_here and VERSION_FOLDER.fullmatch(entry.name)) and not _is_index(
                    folder / entry.name
                ):
                    subfolders.append(folder / entry.name)
            elif is_file and Path(entry.name).suffix.lower() in FILE_SUFFIXES:
                if not (entry.is_symlink() and _walked_anyway(Path(entry.path), real_root)):
                    yield folder / entry.name
            elif is_file and others is not None:
                others.append(f"{folder / entry.name}: a file of another type")
        stack.extend(reversed(subfolders))


def _walked_anyway(link: Path, real_root: Path | None) -> bool:
    """Whether the file `link` points at is in the walk under `real_root` itself: it is read
    under its own name then, not the link's."""
    try:
        target = link.resolve(strict=True)
    except (OSError, RuntimeError):
        return False
    if real_root is None or not target.is_relative_to(real_root):
        return False
    if target.suffix.lower() not in FILE_SUFFIXES:
        return False  # notes.txt -> notes.data: only the link's name reads it
    return not any(part.startswith(".") for part in target.relative_to(real_root).parts)


# The name qa.store gives a version folder of an index ("v-20261203154210-4242-518305"): a
# user's own "v-drafts" or "v-1.0" beside it is neither skipped nor ever deleted.
VERSION_FOLDER = re.compile(r"v-\d{14}-\d+-\d+")


def _is_index(folder: Path) -> bool:
    """Whether `folder` is a qa index (`qa index .` puts one in the folder it reads): its
    stored texts are not documents to index again."""
    try:
        return (folder / "CURRENT").is_file() and any(
            VERSION_FOLDER.fullmatch(p.name) and p.is_dir() for p in folder.iterdir()
        )
    except OSError:
        return False


def read_file(path: Path) -> Iterator[Document]:
    suffix = path.suffix.lower()
    if suffix in JSONL_SUFFIXES:
        yield from read_jsonl(path)
    elif suffix in TEXT_SUFFIXES:
        try:
            if path.stat().st_size > 4 * MAX_DOCUMENT_CHARS:  # UTF-8: at most 4 bytes a character
                raise QAError(f"{path} is too large; the limit is {MAX_DOCUMENT_CHARS:,} chars")
            data = path.read_bytes()
        except OSError as exc:
            raise QAError(f"cannot read {path}: {exc.strerror}") from None
        yield Document(id=str(path), text=decode(data, str(path), legacy=True))
    elif suffix in RICH_SUFFIXES:
        from .extract import extract

        text, title = extract(path)
        yield Document(id=str(path), text=text, title=title)
    else:
        raise QAError(
            f"{path}: unsupported file type {suffix or '(none)'}; "
            "use .txt, .md, .html, .pdf, .docx or .jsonl"
        )


def read_jsonl(path: Path) -> Iterator[Document]:
    """BEIR-style records, one per line: `_id` or `id`, optional `title`, `text`; streamed."""
    for lineno, record in json_lines(path):
        where = f"{path}:{lineno}"
        if not isinstance(record, dict):
            raise QAError(f"{where}: each line must be a JSON object with `_id` and `text`")
        doc_id = record.get("_id", record.get("id"))
        text = record.get("text")
        if doc_id is None or not isinstance(text, str):
            raise QAError(f"{where}: each record needs `_id` (or `id`) and a string `text`")
        if not str(doc_id).strip():  # a citation would name no document
            raise QAError(f"{where}: the record's `_id` is empty; give each record an id")
        title = record.get("title") or ""
        yield Document(id=str(doc_id), text=text, title=str(title))


def json_lines(path: Path) -> Iterator[tuple[int, Any]]:
    """Each non-blank line of a UTF-8 JSON-lines file, parsed, with its line number;
    streamed. Any fault is a QAError naming the line."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise QAError(f"cannot read {path}: {exc.strerror}") from None
    with handle:
        for lineno, raw in enumerate(handle, 1):
            if lineno == 1 and raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
                raise QAError(
                    f"{path} is UTF-16, but JSON lines must be UTF-8; re-save it as UTF-8"
                )
            if not raw.strip():
                continue
            where = f"{path}:{lineno}"
            if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):  # no line but the first may have a mark
                raise QAError(f"{where}: not valid UTF-8 (at its first byte); re-save it as UTF-8")
            try:
                # Without its line break, the column of a record cut short is where it ends.
                record = json.loads(decode(raw.rstrip(b"\r\n"), where))
            except json.JSONDecodeError as exc:
                raise QAError(f"{where}: not valid JSON ({exc.msg} column {exc.pos + 1})") from None
            except (ValueError, RecursionError):  # a number of thousands of digits, deep nesting
                raise QAError(f"{where}: a JSON value too large or too deeply nested") from None
            yield lineno, record


def count_documents(paths: Iterable[str | os.PathLike[str]]) -> int | None:
    """How many documents `read_paths` will yield (JSON lines counted by line), for an ETA;
    None if a path cannot be read."""
    try:
        total = 0
        for given in paths:
            path = Path(given)
            for file in _walk(path) if path.is_dir() else [path]:
                if not file.is_file():  # a FIFO would block; read_paths refuses it
                    return None
                if file.suffix.lower() in JSONL_SUFFIXES:
                    with file.open("rb") as fh:
                        total += sum(1 for line in fh if line.strip())
                else:
                    total += 1
        return total
    except (OSError, QAError):
        return None
