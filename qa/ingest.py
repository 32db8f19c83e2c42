"""Read files, directories and JSON-lines collections into documents, text kept exactly as read."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

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

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8", "surrogatepass")).hexdigest()


def decode(data: bytes, name: str) -> str:
    """Decode UTF-8 text; refuse binary data that only wears a text extension."""
    if b"\x00" in data[:8192]:
        raise QAError(f"{name} looks like a binary file, not text; convert it to .txt first")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise QAError(
            f"{name} is not valid UTF-8 (byte {exc.start}); re-save it as UTF-8 text"
        ) from None
    if len(text) > MAX_DOCUMENT_CHARS:
        raise QAError(f"{name} has {len(text):,} characters; the limit is {MAX_DOCUMENT_CHARS:,}")
    # Control characters other than whitespace carry no meaning for reading; map them to
    # spaces so offsets stay the same as in the file.
    return text.translate(_CONTROL_TO_SPACE)


_CONTROL_TO_SPACE = {c: " " for c in range(32) if chr(c) not in "\t\n\r"} | {0x7F: " "}


def read_paths(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Document]:
    """Yield the documents under `paths`: text files, directories (recursively) and JSON lines."""
    seen: set[str] = set()
    for given in paths:
        path = Path(given)
        if not path.exists():
            raise QAError(f"{given} does not exist; pass a .txt/.md file, a folder or a .jsonl file")
        if path.is_dir():
            files = list(_walk(path))
            if not files:
                raise QAError(f"{given} holds no .txt, .md, .html, .pdf, .docx or .jsonl files")
        else:
            files = [path]
        for file in files:
            key = str(file.resolve())
            if key in seen:
                continue
            seen.add(key)
            yield from read_file(file)


def _walk(root: Path) -> Iterator[Path]:
    """Files under `root` in sorted order, skipping hidden entries and never looping on symlinks."""
    visited: set[tuple[int, int]] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        st = os.stat(dirpath)
        if (st.st_dev, st.st_ino) in visited:
            dirnames[:] = []
            continue
        visited.add((st.st_dev, st.st_ino))
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            file = Path(dirpath) / name
            if name.startswith(".") or file.suffix.lower() not in FILE_SUFFIXES:
                continue
            if file.is_file():
                yield file


def read_file(path: Path) -> Iterator[Document]:
    suffix = path.suffix.lower()
    if suffix in JSONL_SUFFIXES:
        yield from read_jsonl(path)
    elif suffix in TEXT_SUFFIXES:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise QAError(f"cannot read {path}: {exc.strerror}") from None
        yield Document(id=str(path), text=decode(data, str(path)))
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
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise QAError(f"cannot read {path}: {exc.strerror}") from None
    with handle:
        for lineno, raw in enumerate(handle, 1):
            if not raw.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                record = json.loads(decode(raw, where))
            except json.JSONDecodeError as exc:
                raise QAError(f"{where}: not valid JSON ({exc.msg})") from None
            if not isinstance(record, dict):
                raise QAError(f"{where}: each line must be a JSON object with `_id` and `text`")
            doc_id = record.get("_id", record.get("id"))
            text = record.get("text")
            if doc_id is None or not isinstance(text, str):
                raise QAError(f"{where}: each record needs `_id` (or `id`) and a string `text`")
            title = record.get("title") or ""
            yield Document(id=str(doc_id), text=text, title=str(title))
