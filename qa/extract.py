"""Plain text out of HTML, PDF and Word files, and uploaded files checked before indexing."""

from __future__ import annotations

import dataclasses
import io
import logging
import re
import unicodedata
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

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

if TYPE_CHECKING:
    from bs4 import PageElement, Tag

T = TypeVar("T")

# pypdf logs every oddity of a damaged file, and unconfigured logging prints them to stderr
# around the one-line message a user should see; an app that configures logging still gets them.
logging.getLogger("pypdf").addHandler(logging.NullHandler())

UPLOAD_SUFFIXES = frozenset(TEXT_SUFFIXES | RICH_SUFFIXES | JSONL_SUFFIXES)
MAX_UPLOAD_BYTES = 20 * 1024 * 1024

# Tags whose text is never read (a <title> outside <head> is still the title, and a
# menu's options are no text), and tags that start a new paragraph in the extracted text.
_SKIP_TAGS = ["script", "style", "noscript", "template", "head", "title", "svg", "iframe",
              "object", "select", "datalist"]  # fmt: skip
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
    return text, clean_title(title)


# Titles that name nothing: what Chromium's print-to-PDF writes for a page without one
# ("about:blank", or the page's address), editors' defaults and file names.
_NO_TITLE = re.compile(
    r"""(?:
        about:(?:blank|srcdoc) | blob:\S+ | data:[\w.+-]+/\S* | [a-z][a-z0-9+.-]*://\S*
      | www\.\S+
      | untitled (?:[\s_-]+(?:document|presentation|spreadsheet|page))? (?:[\s_-]*\(?\d+\)?)?
      | (?:document|presentation|book)\d+              # Word's, PowerPoint's, Excel's new files
      | (?:microsoft\s+)?powerpoint\s+presentation
      | microsoft\s+(?:word|excel|powerpoint)\s+-\s.*  # "Microsoft Word - report.docx"
      | .*\w\.(?:pdf|docx?|odt|rtf|txt|md|html?|pptx?|odp|xlsx?|ods|tex|indd|pages
                |jpe?g|png|tiff?)                    # a file name or path
      | [\W\d_]*                                      # no letters at all
    )""",
    re.IGNORECASE | re.VERBOSE,
)


def clean_title(title: str) -> str:
    """A file's title tidied like its text (a title is searched too), or "" when it is no real
    title: an address, an editor's "Untitled document", a file name."""
    title = tidy(title)
    return "" if _NO_TITLE.fullmatch(title) else title


def html_text(data: bytes, name: str = "the page") -> tuple[str, str]:
    """Visible text of an HTML page, one paragraph per block element, without its furniture
    (navigation, banner, footer, sidebars, forms); of a page with a <main> or one <article>
    holding most of its text, that alone, after the page's <h1> if it stands outside."""
    from bs4 import BeautifulSoup

    markup: bytes | str = data
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):  # UTF-16 with its BOM, as Notepad saves "Unicode"
        try:
            markup = data.decode("utf-16")
        except UnicodeDecodeError:
            raise QAError(f"{name} is not valid UTF-16; re-save it as UTF-8") from None
    elif b"\x00" in data[:8192]:
        raise QAError(f"{name} looks like a binary file, not HTML")
    elif not data.strip():
        return "", ""  # an empty page (the parser would warn of undecodable characters)
    soup = BeautifulSoup(markup, "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    page = _read(soup)
    whole = tidy("".join(page.out))
    if not whole:  # a page that is all furniture (a site map in a <nav>) is read whole
        return tidy("".join(_read(soup, furniture=True).out)), title
    # The article or main region is read alone only when it holds at least half the page's
    # text: an <article> may as well be one card in a list of related stories.
    for region in (page.articles, page.mains):
        if len(region) == 1:
            text = page.text(region[0])
            if 2 * len(text) >= len(whole):
                return text, title
    return page.text(_Span(0, len(page.out))), title


# Page furniture: what frames the text on every page of a site. Quoted, it is noise; before
# the text, it hides the headline (the <h1>) that answering reads as a document's first line.
_FURNITURE_TAGS = frozenset({"nav", "aside", "search"})
_FURNITURE_ROLES = frozenset({"navigation", "banner", "contentinfo", "search", "complementary"})
# A <header> or <footer> is the page's banner or footer unless inside one of these (as in
# ARIA's HTML mapping); an article's header holds its headline, a quotation's footer its source.
_SECTIONING = frozenset({"article", "aside", "main", "nav", "section", "blockquote"})


@dataclasses.dataclass
class _Span:
    """A stretch of `_Page.out`, from one element's opening to its end."""

    start: int
    end: int = -1
    holds_content: bool = False  # a form around the page's headline, main or article


@dataclasses.dataclass
class _Page:
    """A page read once: its text in pieces, and where its headlines and main regions lie."""

    out: list[str]
    h1s: list[_Span]
    mains: list[_Span]
    articles: list[_Span]  # outermost ones: an article's comments may be articles too
    banner_h1s: list[Tag]  # <h1> tags inside the page banner, which is left out

    def text(self, span: _Span) -> str:
        """The text of `span`, after the page's one <h1> when `span` has none."""
        text = "".join(self.out[span.start : span.end])
        if any(span.start <= h.start < span.end for h in self.h1s):
            return tidy(text)
        elsewhere = [h for h in self.h1s if not span.start <= h.start < span.end]
        if len(elsewhere) + len(self.banner_h1s) != 1:
            return tidy(text)
        if elsewhere:
            head = "".join(self.out[elsewhere[0].start : elsewhere[0].end])
        else:
            head = "".join(_read(self.banner_h1s[0]).out)
        return tidy(head + "\n\n" + text)


def _role(tag: Tag) -> str:
    """An element's ARIA role: the first of its roles, lower-cased ("" if none)."""
    role = tag.get("role") or ""
    words = (role if isinstance(role, str) else " ".join(role)).lower().split()
    return words[0] if words else ""


def _read(root: Tag, *, furniture: bool = False) -> _Page:
    """Read the tree under `root` in one walk, never editing it: inserting a break beside each
    of many sibling tags costs a search of the siblings each time (80 KB of `<hr>` took 53 s).
    What lies inside an element (a header inside an article) is known from flags handed down,
    not by looking up its ancestors, which costs the depth of the tree for every element.
    Page furniture is left out unless `furniture` is true."""
    from bs4 import CData, NavigableString, Tag

    page = _Page([], [], [], [], [])
    out = page.out
    forms: list[_Span] = []
    form: _Span | None = None  # the outermost form being read
    # An explicit stack: deeply nested pages must not exhaust Python's recursion limit. Items
    # are (node, inside a section, inside an article), strings to emit once a block's children
    # are read, or spans to close there.
    stack: list[tuple[PageElement, bool, bool] | str | _Span] = [(root, False, False)]
    while stack:
        item = stack.pop()
        if isinstance(item, _Span):
            item.end = len(out)
            if item is form:
                form = None
            continue
        if isinstance(item, str):
            out.append(item)
            continue
        node, sectioned, in_article = item
        if type(node) in (NavigableString, CData):  # not comments, doctypes, instructions
            out.append(str(node))
            continue
        if not isinstance(node, Tag) or node.name in _SKIP_TAGS:
            continue
        if node.name == "br":
            out.append("\n")
            continue
        role = _role(node)
        frame = node.name in ("header", "footer") and not sectioned
        if not furniture and (node.name in _FURNITURE_TAGS or role in _FURNITURE_ROLES or frame):
            if node.name == "header" or role == "banner":  # it may hold the page's headline
                page.banner_h1s.extend(node.find_all("h1"))
            continue
        spans: list[_Span] = []
        if node.name == "form" and form is None and not furniture:
            # Only a form that wraps the page's text is read (ASP.NET wraps the whole body
            # in one); a search box, a login or a comment form is furniture.
            form = _Span(len(out))
            forms.append(form)
            spans.append(form)
        main = (node.name == "main" or role == "main") and not node.has_attr("hidden")
        article = node.name == "article" and not in_article
        for found, where in ((node.name == "h1", page.h1s), (main, page.mains),
                             (article and not main, page.articles)):  # fmt: skip
            if found:
                spans.append(_Span(len(out)))
                where.append(spans[-1])
                if form is not None:
                    form.holds_content = True
        # Block boundaries become blank lines; inline tags (a, em, span) stay inside their
        # sentence; table cells after the first in a row are set off by " | ".
        block = node.name in _BLOCK_SET
        if block:
            out.append("\n\n")
        inner = (sectioned or node.name in _SECTIONING or main, in_article or article)
        children: list[tuple[PageElement, bool, bool] | str] = []
        first_cell = True
        for child in node.children:
            if isinstance(child, Tag) and child.name in ("td", "th"):
                if not first_cell:
                    children.append(" | ")
                first_cell = False
            children.append((child, *inner))
        if block:
            children.append("\n\n")
        stack.extend(spans)  # closed once the children are read
        stack.extend(reversed(children))
    for f in forms:
        if not f.holds_content and f.end > f.start:
            out[f.start : f.end] = ["\n\n"] + [""] * (f.end - f.start - 1)
    return page


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
    pages = _without_running_lines([tidy(page) for page in pages])
    return tidy(_join_pages([_pdf_paragraphs(page) for page in pages])), title.strip()


def _without_running_lines(pages: list[str]) -> list[str]:
    """Pages without the lines a printer put at the top or foot of each: a line among the
    first or last two of at least two pages, and of half of them, read with its figures
    ignored ("Page 2 of 9", "file:///notes.html 2/3"), that ends no sentence; and a
    browser's print stamp ("12/3/26, 1:47 PM Ferry news" over "https://example.org/ferry
    1/1"), on one page too. Quoted, such a line is noise, and it splits a sentence running
    on over a page break."""
    # A browser's print stamps first: a page's own running lines stand inside them.
    split = []
    for page in pages:
        lines = page.split("\n")
        stamps = {at for at in _edges(range(len(lines))) if _PRINT_STAMP.match(lines[at])}
        split.append([x for at, x in enumerate(lines) if at not in stamps])
    found: dict[str, list[tuple[int, str]]] = {}  # key -> (page, line) of each page's edges
    for number, lines in enumerate(split):
        for line in {x: None for x in _edges(lines)}:
            found.setdefault(_running_key(line), []).append((number, line))
    running = {
        key
        for key, where in found.items()
        if 2 <= len({p for p, _ in where}) >= len(pages) / 2
        and key != "\n"
        and _numbered_as_pages(where)
    }
    out = []
    for lines in split:
        for at in _edges(range(len(lines))):
            if _running_key(lines[at]) in running:
                lines[at] = ""
        out.append(tidy("\n".join(lines)))
    return out


def _numbered_as_pages(where: list[tuple[int, str]]) -> bool:
    """Whether the lines (with the page each stands on), alike but for their figures, differ
    only as a page's number does: each figure the same on every page, or one more a page on
    ("Page 2 of 9", "Page 3 of 9"). Lines of a list ("Item 18: ... stores 180 pallets" atop
    one page, "Item 37: ..." atop the next) are text, not a printer's."""
    figures = [(page, [int(f) for f in re.findall(r"\d+", line)]) for page, line in where]
    return all(
        len({n[j] for _, n in figures}) == 1 or len({n[j] - page for page, n in figures}) == 1
        for j in range(len(figures[0][1]))
    )


def _edges(items: Sequence[T]) -> list[T]:
    """The first two and last two of `items` (each once)."""
    return [items[i] for i in sorted({0, 1, len(items) - 2, len(items) - 1}) if 0 <= i < len(items)]


def _running_key(line: str) -> str:
    """The line with its figures as "#"; for a blank line or one that ends a sentence (a line
    of text may end a page twice: "Residents said they were relieved."), a key no line has."""
    return "\n" if not line or line.endswith(CLOSES_SENTENCE) else re.sub(r"\d+", "#", line)


# What Chromium prints at the top and foot of each page: the date and time, and the address
# with the page's number of the count.
_PRINT_STAMP = re.compile(
    r"\d{1,4}[./-]\d{1,2}[./-]\d{1,4},? \d{1,2}:\d{2}(?: ?[AP]M)?(?: |$)"
    r"|(?:https?|file)://\S+ \d+/\d+$"
)


def _join_pages(pages: list[str]) -> str:
    """Pages in order with a blank line between them, but a sentence that runs on over a page
    break ("... and the cost of" / "new ropes.") stays one: a page that ends without closing
    punctuation before one that starts in lower case is joined to it by a space."""
    out: list[str] = []
    for page in pages:
        if out:
            last, first = out[-1].rstrip(), page.lstrip()[:1]
            runs_on = last and not last.endswith(CLOSES_SENTENCE) and first.islower()
            if runs_on:
                out[-1] = last  # the page's own line end would still break the sentence
            out.append(" " if runs_on else "\n\n")
        out.append(page)
    return "".join(out)


def _pdf_heading(lines: list[str], body: list[str]) -> bool:
    """Lines that read as one heading: short, capitalised, with no comma and no closing
    punctuation, and in title case, of at most four words, or each clearly shorter than the
    `body` lines after them ("City Council Approves 2025 Budget", "Velmor bridge", "Harbour
    ferry service to resume in May" over full lines; not "Yesterday the mayor of Ostvik,
    Telma" or "the chair said that"). Word wrap fills a printed line, so one under two
    thirds as long as the lines of text below ended for another reason: a larger font, or
    the end of its paragraph."""
    line = " ".join(lines)
    words = line.split()
    long_words = [w for w in words if len(w) >= 4 and w[0].isalpha()]
    wrapped = len(lines) > 1  # a large headline wraps: news headlines run to 60-80 characters
    return (
        len(line) <= (110 if wrapped else 60)
        and len(words) <= (18 if wrapped else 10)
        and line[:1].isupper()
        and "," not in line
        and not line.endswith(CLOSES_SENTENCE + ("-", "–", "—"))
        and words[-1].lower() not in _CARRIES_ON
        and (
            len(words) <= 4
            or all(w[0].isupper() for w in long_words)
            or 3 * max(map(len, lines)) < 2 * max(map(len, body))
        )
    )


def _pdf_heading_lines(lines: list[str], i: int) -> int:
    """How many lines from `i` on are a heading (0 if none): the most, up to three, as a
    headline in a large font wraps ("City Council Approves" / "2025 Budget"), that read as
    one before a line starting with a capital."""
    block = lines[i : i + 6]
    if "" in block:
        block = block[: block.index("")]
    for n in range(min(3, len(block) - 1), 0, -1):
        if block[n][:1].isupper() and _pdf_heading(block[:n], block[n : n + 3]):
            return n
    return 0


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
    paragraph, and so are up to three such lines that read as one."""
    lines = page.split("\n")
    out: list[str] = []
    heading_end = -1  # the last line of the heading at the top of the page or block
    for i, line in enumerate(lines):
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        out.append(line)
        if not line or not nxt:
            out.append("\n")
            continue
        # Only at the top of a page or after a blank line: after a finished sentence, a short
        # line may as well be the start of the next one ("Rui Tavares of the Green" / "Party").
        if i == 0 or not lines[i - 1]:
            heading_end = i + _pdf_heading_lines(lines, i) - 1
        if i == heading_end:
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
