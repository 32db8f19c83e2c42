"""Plain text out of HTML, PDF and Word files, and uploaded files checked before indexing."""

from __future__ import annotations

import dataclasses
import io
import logging
import re
from pathlib import Path

from .errors import QAError
from .ingest import RICH_SUFFIXES, TEXT_SUFFIXES, Document, read_file

# pypdf logs every oddity of a damaged file, and unconfigured logging prints them to stderr
# around the one-line message a user should see; an app that configures logging still gets them.
logging.getLogger("pypdf").addHandler(logging.NullHandler())

UPLOAD_SUFFIXES = frozenset(TEXT_SUFFIXES | RICH_SUFFIXES)
MAX_UPLOAD_BYTES = 20 * 1024 * 1024

# Tags whose text is never read, and tags that start a new paragraph in the extracted text.
_SKIP_TAGS = ["script", "style", "noscript", "template", "head", "svg", "iframe", "object"]
_BLOCK_TAGS = [
    "address", "article", "aside", "blockquote", "dd", "div", "dl", "dt", "figcaption",
    "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main",
    "nav", "ol", "p", "pre", "section", "table", "tr", "ul",
]  # fmt: skip
_CONTROL = {c: " " for c in range(32) if chr(c) not in "\t\n"} | {0x7F: " "}


def extract(path: Path) -> tuple[str, str]:
    """The text and title of an .html/.htm, .pdf or .docx file; offsets refer to this text."""
    suffix = path.suffix.lower()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise QAError(f"cannot read {path}: {exc.strerror}") from None
    if suffix in (".html", ".htm"):
        text, title = html_text(data, path.name)
    elif suffix == ".pdf":
        text, title = pdf_text(data, path.name)
    elif suffix == ".docx":
        text, title = docx_text(data, path.name)
    else:
        raise QAError(f"{path}: unsupported file type {suffix}; use .html, .pdf or .docx")
    if not text.strip():
        hint = " (a scanned PDF needs OCR first)" if suffix == ".pdf" else ""
        raise QAError(f"{path.name} contains no text to index{hint}")
    return text, title


def html_text(data: bytes, name: str = "the page") -> tuple[str, str]:
    """Visible text of an HTML page, one paragraph per block element."""
    from bs4 import BeautifulSoup

    if b"\x00" in data[:8192]:
        raise QAError(f"{name} looks like a binary file, not HTML")
    soup = BeautifulSoup(data, "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    for tag in soup.find_all(_SKIP_TAGS):
        tag.decompose()
    for br in soup.find_all("br"):
        br.replace_with("\n")
    # Block boundaries become blank lines; inline tags (a, em, span) stay inside their sentence.
    for tag in soup.find_all(_BLOCK_TAGS):
        tag.insert_before("\n\n")
        tag.insert_after("\n\n")
    for cell in soup.find_all(["td", "th"]):
        if cell.find_previous_sibling(["td", "th"]):
            cell.insert_before(" | ")
    return tidy(soup.get_text()), title


def pdf_text(data: bytes, name: str) -> tuple[str, str]:
    """Text of every page, pages separated by blank lines."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise QAError(f"{name} is password protected; save an unprotected copy first")
        pages = [page.extract_text() or "" for page in reader.pages]
        title = str(reader.metadata.title or "") if reader.metadata else ""
    except QAError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise QAError(f"{name} is not a readable PDF ({exc}); re-export it and try again") from None
    return tidy("\n\n".join(pages)), title.strip()


def docx_text(data: bytes, name: str) -> tuple[str, str]:
    """Paragraphs and table rows of a Word document, in reading order."""
    import docx
    from docx.table import Table

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises zip, XML and key errors alike
        kind = type(exc).__name__
        raise QAError(f"{name} is not a readable .docx file ({kind}); re-save it in Word") from None
    blocks: list[str] = []
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            blocks += [" | ".join(cell.text for cell in row.cells) for row in item.rows]
        else:
            blocks.append(item.text)
    return tidy("\n\n".join(blocks)), (document.core_properties.title or "").strip()


def tidy(text: str) -> str:
    """Collapse runs of spaces, trim lines, keep at most one blank line between paragraphs."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\xa0", " ").translate(_CONTROL)
    lines = [re.sub(r"[ \t]+", " ", line).strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def read_upload(path: str | Path, *, max_bytes: int = MAX_UPLOAD_BYTES) -> Document:
    """An uploaded file as a Document named after the file, or a QAError saying what is wrong."""
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
        (doc,) = read_file(path)
    except QAError as exc:
        # Messages from the reader name the temporary path; show the user's file name instead.
        raise QAError(str(exc).replace(str(path), name)) from None
    if not doc.text.strip():
        raise QAError(f"{name} contains no text to index")
    return dataclasses.replace(doc, id=name, title=doc.title or "")


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n:,} bytes"
