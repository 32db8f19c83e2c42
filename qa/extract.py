"""Plain text out of HTML, PDF and Word files, and uploaded files checked before indexing."""

from __future__ import annotations

import dataclasses
import io
import logging
import re
import unicodedata
import zipfile
from pathlib import Path

from .errors import QAError
from .ingest import (
    JSONL_SUFFIXES,
    MAX_DOCUMENT_CHARS,
    RICH_SUFFIXES,
    TEXT_SUFFIXES,
    Document,
    read_file,
)
from .text import CLOSES_SENTENCE

# pypdf logs every oddity of a damaged file, and unconfigured logging prints them to stderr
# around the one-line message a user should see; an app that configures logging still gets them.
logging.getLogger("pypdf").addHandler(logging.NullHandler())

UPLOAD_SUFFIXES = frozenset(TEXT_SUFFIXES | RICH_SUFFIXES | JSONL_SUFFIXES)
MAX_UPLOAD_BYTES = 20 * 1024 * 1024

# Tags whose text is never read, and tags that start a new paragraph in the extracted text.
_SKIP_TAGS = ["script", "style", "noscript", "template", "head", "svg", "iframe", "object"]
_BLOCK_TAGS = [
    "address", "article", "aside", "blockquote", "dd", "div", "dl", "dt", "figcaption",
    "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main",
    "nav", "ol", "p", "pre", "section", "table", "tr", "ul",
]  # fmt: skip
_BLOCK_SET = frozenset(_BLOCK_TAGS)
# A .docx is a zip; its parts are read whole, so their unpacked size is checked first.
MAX_DOCX_UNPACKED = 200 * 1024 * 1024
_CONTROL = {c: " " for c in range(32) if chr(c) not in "\t\n"} | {0x7F: " "}
# PDFs often carry typeset ligatures ("ofﬁcial") and soft hyphens; both hide a word from
# search and from the model, so extracted text gets plain letters.
_LIGATURES = {0xFB00: "ff", 0xFB01: "fi", 0xFB02: "fl", 0xFB03: "ffi", 0xFB04: "ffl",
              0xFB05: "st", 0xFB06: "st", 0xAD: None}  # fmt: skip


def extract(path: Path) -> tuple[str, str]:
    """The text and title of an .html/.htm, .pdf or .docx file; offsets refer to this text."""
    suffix = path.suffix.lower()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise QAError(f"cannot read {path}: {exc.strerror}") from None
    if suffix in (".html", ".htm"):
        text, title = html_text(data, str(path))
    elif suffix == ".pdf":
        text, title = pdf_text(data, str(path))
    elif suffix == ".docx":
        text, title = docx_text(data, str(path))
    else:
        raise QAError(f"{path}: unsupported file type {suffix}; use .html, .pdf or .docx")
    if not text.strip():
        hint = " (a scanned PDF needs OCR first)" if suffix == ".pdf" else ""
        raise QAError(f"{path} contains no text to index{hint}")
    return text, tidy(title)  # a title is searched too: ligatures and soft hyphens out


def html_text(data: bytes, name: str = "the page") -> tuple[str, str]:
    """Visible text of an HTML page, one paragraph per block element.

    The tree is read in one walk and never edited: inserting a break beside each of many
    sibling tags costs a search of the siblings each time (80 KB of `<hr>` took 53 s).
    """
    from bs4 import BeautifulSoup, CData, NavigableString, Tag

    if b"\x00" in data[:8192]:
        raise QAError(f"{name} looks like a binary file, not HTML")
    soup = BeautifulSoup(data, "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    out: list[str] = []
    # An explicit stack: deeply nested pages must not exhaust Python's recursion limit.
    # Items are nodes to read, or strings to emit once a block's children are read.
    stack: list[object] = [soup]
    while stack:
        node = stack.pop()
        if isinstance(node, str) and not isinstance(node, NavigableString):
            out.append(node)
        elif isinstance(node, Tag):
            if node.name in _SKIP_TAGS:
                continue
            if node.name == "br":
                out.append("\n")
                continue
            # Block boundaries become blank lines; inline tags (a, em, span) stay inside
            # their sentence; table cells after the first in a row are set off by " | ".
            block = node.name in _BLOCK_SET
            if block:
                out.append("\n\n")
            children: list[object] = []
            first_cell = True
            for child in node.children:
                if isinstance(child, Tag) and child.name in ("td", "th"):
                    if not first_cell:
                        children.append(" | ")
                    first_cell = False
                children.append(child)
            if block:
                children.append("\n\n")
            stack.extend(reversed(children))
        elif type(node) in (NavigableString, CData):  # not comments, doctypes, instructions
            out.append(str(node))
    return tidy("".join(out)), title


def pdf_text(data: bytes, name: str) -> tuple[str, str]:
    """Text of every page, pages separated by blank lines."""
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise QAError(f"{name} is password protected; save an unprotected copy first")
        pages = [page.extract_text() or "" for page in reader.pages]
        title = str(reader.metadata.title or "") if reader.metadata else ""
    except QAError:
        raise
    except Exception as exc:  # a hostile file can make any part of the parser fail
        kind = type(exc).__name__
        raise QAError(
            f"{name} is not a readable PDF ({kind}); re-export it and try again"
        ) from None
    return tidy("\n\n".join(_pdf_paragraphs(tidy(page)) for page in pages)), title.strip()


def _pdf_heading(line: str) -> bool:
    """A line that reads as a heading: short, capitalised, in title case or of at most four
    words, with no comma and no closing punctuation ("City Council Approves 2025 Budget",
    "Velmor bridge"; not "Yesterday the mayor of Ostvik, Telma" or "the chair said that")."""
    words = line.split()
    long_words = [w for w in words if len(w) >= 4 and w[0].isalpha()]
    return (
        len(line) <= 60
        and len(words) <= 10
        and line[:1].isupper()
        and "," not in line
        and not line.endswith(CLOSES_SENTENCE + ("-", "–", "—"))
        and words[-1].lower() not in _CARRIES_ON
        and (len(words) <= 4 or all(w[0].isupper() for w in long_words))
    )


# Words a printed line may break after in mid-sentence ("the chair said that" / "I should").
_CARRIES_ON = frozenset({
    "a", "an", "the", "of", "to", "in", "on", "at", "by", "for", "from", "with", "as", "and",
    "or", "but", "nor", "that", "which", "who", "whom", "whose", "is", "are", "was", "were",
    "be", "been", "has", "have", "had", "said", "says", "than", "then", "if", "so",
})  # fmt: skip


def _pdf_paragraphs(page: str) -> str:
    """A PDF page's lines as paragraphs: PDF text has a line break at the end of every printed
    line and none between a heading and its text. A line carries on into the next when that
    starts in lower case ("The new" / "budget also ..."); a short line without closing
    punctuation at the top of the page or after a blank line, before a capital ("City Council
    Approves 2025 Budget" / "The Brennick city council ..."), is a heading of its own
    paragraph."""
    lines = page.split("\n")
    out: list[str] = []
    for i, line in enumerate(lines):
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        out.append(line)
        if not line or not nxt:
            out.append("\n")
            continue
        # Only at the top of a page or after a blank line: after a finished sentence, a short
        # line may as well be the start of the next one ("Rui Tavares of the Green" / "Party").
        first = i == 0 or not lines[i - 1]
        if first and _pdf_heading(line) and nxt[:1].isupper():
            out.append("\n\n")
        elif nxt[:1].islower() and not line.endswith("-"):
            out.append(" ")
        else:
            out.append("\n")
    return "".join(out)


def docx_text(data: bytes, name: str) -> tuple[str, str]:
    """Paragraphs and table rows of a Word document, in reading order."""
    import docx
    from docx.table import Table, _Cell

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            unpacked = sum(info.file_size for info in z.infolist())
    except (zipfile.BadZipFile, ValueError, OSError):
        raise QAError(f"{name} is not a readable .docx file; re-save it in Word") from None
    if unpacked > MAX_DOCX_UNPACKED:
        raise QAError(
            f"{name} unpacks to {_size(unpacked)}; the limit is {_size(MAX_DOCX_UNPACKED)}"
        )
    blocks: list[str] = []
    chars = 0
    try:
        document = docx.Document(io.BytesIO(data))
        for item in document.iter_inner_content():
            if isinstance(item, Table):
                for row in item.rows:
                    # Each cell once: `row.cells` repeats a cell for every grid column it
                    # spans, and a hostile span of millions would be read millions of times.
                    cells = [_Cell(tc, item) for tc in row._tr.tc_lst]
                    blocks.append(" | ".join(cell.text for cell in cells))
                    chars += len(blocks[-1])
            else:
                blocks.append(item.text)
                chars += len(blocks[-1])
            if chars > MAX_DOCUMENT_CHARS:
                raise QAError(f"{name} is too large; the limit is {MAX_DOCUMENT_CHARS:,} chars")
        title = (document.core_properties.title or "").strip()
    except QAError:
        raise
    except Exception as exc:  # python-docx raises zip, XML, key and value errors alike
        kind = type(exc).__name__
        raise QAError(f"{name} is not a readable .docx file ({kind}); re-save it in Word") from None
    return tidy("\n\n".join(blocks)), title


def tidy(text: str) -> str:
    """Collapse runs of spaces, trim lines, keep at most one blank line between paragraphs;
    accents composed (NFC), ligatures spelt out, soft hyphens dropped."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\xa0", " ").translate(_CONTROL)
    text = unicodedata.normalize("NFC", text.translate(_LIGATURES))
    lines = [re.sub(r"[ \t]+", " ", line).strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def read_upload(path: str | Path, *, max_bytes: int = MAX_UPLOAD_BYTES) -> list[Document]:
    """An uploaded file as documents: one named after the file, or for a JSON-lines collection
    one a record, named by its id; or a QAError saying what is wrong."""
    path = Path(path)
    name, suffix = path.name, path.suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        allowed = ", ".join(sorted(UPLOAD_SUFFIXES))
        raise QAError(f"{name}: files of type {suffix or '(none)'} cannot be added; use {allowed}")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise QAError(f"cannot read {name}: {exc.strerror}") from None
    if size == 0:
        raise QAError(f"{name} is empty; choose a file with some text in it")
    if size > max_bytes:
        raise QAError(f"{name} is {_size(size)}; the limit is {_size(max_bytes)} per file")
    try:
        docs = list(read_file(path))
    except QAError as exc:
        # Messages from the reader name the temporary path; show the user's file name instead.
        raise QAError(str(exc).replace(str(path), name)) from None
    if suffix in JSONL_SUFFIXES:
        if not docs:
            raise QAError(f"{name} holds no records")
        if len({d.id for d in docs}) < len(docs):
            raise QAError(f"{name}: two records share an id; ids must be unique")
        return docs
    (doc,) = docs
    if not doc.text.strip():
        raise QAError(f"{name} contains no text to index")
    return [dataclasses.replace(doc, id=name, title=doc.title or "")]


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n:,} bytes"
