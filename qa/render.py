"""HTML for the web chat: answers, cited passages and documents, every piece of text escaped."""

from __future__ import annotations

import hashlib
import html
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import PurePath

from .ingest import FILE_SUFFIXES, Document
from .results import Answer, Citation

SOURCE_WINDOW = 60_000  # characters shown on each side of a citation in a long document
ABSTAINED = "No confident answer in the documents."  # the label of an abstention

# Characters Markdown would act on, as numeric entities: chat bubbles render Markdown,
# and a quoted sentence must show exactly as written. With ":", "." and "@" a URL or address
# in a document is not made a link, "1." at a line's start no list, "===" under it no heading.
_MARKER = re.compile(r"&#91;(\d+)&#93;")  # an escaped [n]
_MARKDOWN_ENTITIES = {ord(c): f"&#{ord(c)};" for c in "\\`*_[]{}()#+-!|~$<>:.@="}


def escape(text: str) -> str:
    """`text` as inert HTML: tags show as text, never as markup."""
    return html.escape(text, quote=True)


def escape_markdown(text: str) -> str:
    """`text` for a Markdown-rendered chat bubble: no HTML, no Markdown, newlines kept."""
    return text.replace("&", "&amp;").translate(_MARKDOWN_ENTITIES).replace('"', "&quot;")


def public_name(document_id: str, sources: Sequence[str]) -> str:
    """What the page calls a document: its path from the folder above the source it was read
    from (/srv/docs/a/notes.txt served as /srv/docs is docs/a/notes.txt), else its own name
    (an upload, a JSON-lines record). Anyone with the link sees it, so never a server path."""
    path = PurePath(document_id)
    for source in sources:
        root = PurePath(source)
        if path == root or root in path.parents:
            return str(PurePath(root.name, path.relative_to(root)))
    return path.name if path.is_absolute() else document_id


def public_names(ids: Sequence[str], sources: Sequence[str]) -> list[str]:
    """`public_name` of each document; where two would share one (two served folders called
    docs), each is marked by its id's hash, not by its place in the list, so a name a page
    sent earlier finds that document or none, never another (after the first is removed)."""
    names = [public_name(i, sources) for i in ids]
    shared = {n for n, k in Counter(names).items() if k > 1}
    return [
        f"{n} ({hashlib.sha256(i.encode('utf-8', 'surrogatepass')).hexdigest()[:6]})"
        if n in shared
        else n
        for i, n in zip(ids, names, strict=True)
    ]


def display_name(name: str) -> str:
    """A file by its file name ("docs/a/notes.txt": "notes.txt"); anything else, such as a
    JSON-lines record's id ("https://example.org/news/2024/42", "<b>x</b>"), whole."""
    path = PurePath(name)
    return path.name if path.suffix.lower() in FILE_SUFFIXES and path.name else name


def display_names(names: Sequence[str]) -> list[str]:
    """How a list of documents labels them: by file name, or by the whole (public) name
    where two share a file name (seeds/notes.txt, and an upload called notes.txt)."""
    short = [display_name(n) for n in names]
    shared = {n for n, k in Counter(short).items() if k > 1}
    return [n if s in shared else s for n, s in zip(names, short, strict=True)]


def highlight(text: str, start: int, end: int) -> str:
    """`text` escaped, with [start:end] wrapped in <mark>; offsets are clamped to the text."""
    start = max(0, min(start, len(text)))
    end = max(start, min(end, len(text)))
    return f"{escape(text[:start])}<mark>{escape(text[start:end])}</mark>{escape(text[end:])}"


def confidence_text(answer: Answer, threshold: float | None = None) -> str:
    """The confidence to two places, or, for an abstention that two would show at the
    threshold or above it (0.4226 and 0.4229 both read "0.42"), to as many more as set it
    below, with the threshold. An answer at the threshold or above it never shows below."""
    shown = f"{answer.confidence:.2f}"
    if threshold is None or not answer.abstained:
        return shown
    for places in range(2, 7):
        conf, limit = f"{answer.confidence:.{places}f}", f"{threshold:.{places}f}"
        if float(conf) < float(limit):
            break
    return shown if places == 2 else f"{conf}, below the threshold {limit}"


def answer_message(answer: Answer, asked: str | None = None, threshold: float | None = None) -> str:
    """The chat bubble: the answer with its [n] markers, or a clearly marked abstention.

    Every "[n]" of `Answer.text` is a reference: a document's own footnote in the quote is
    written "(7)" there (qa.results.quoted). Markers are sent as plain text; the page makes
    those of the latest answer open their source. With `asked` (the question as typed), the
    small print says how it was read where that differs; with `threshold` (the model's), a
    confidence that two places would show on the wrong side of it gets a third."""
    text = _MARKER.sub(r'<sup class="qa-ref">[\1]</sup>', escape_markdown(answer.text))
    if answer.abstained:
        note = (
            "closest passages under Sources, not an answer" if answer.closest else "nothing close"
        )
        # Not "not in the documents": the engine abstains when no sentence answers confidently
        # enough, and the closest passages shown often do hold the answer.
        body = f'<div class="qa-abstain"><strong>{ABSTAINED}</strong> {text}</div>'
    else:
        n = len(answer.citations)
        note = f"{n} source{'s' if n != 1 else ''}"
        body = f'<div class="qa-answer">{text}</div>'
    if asked is not None and (read := answer.read_as(asked)) is not None:
        note += f" · read as “{escape_markdown(read)}”"
    return (
        f'{body}<div class="qa-conf">confidence {confidence_text(answer, threshold)} · {note}</div>'
    )


def sources_html(answer: Answer | None, names: Sequence[str] = ()) -> str:
    """The sources panel: each citation's excerpt highlighted inside its passage.

    `names` (every document of the collection, as citations name them) labels each card's
    document as the document list does: by the whole name where two share a file name."""
    if answer is None:
        return '<p class="qa-empty">Sources for the latest answer appear here.</p>'
    shown = answer.citations if not answer.abstained else answer.closest
    every = list(dict.fromkeys([*names, *(c.document for c in shown)]))
    doc = dict(zip(every, display_names(every), strict=True))
    if not answer.abstained:
        cards = [
            _card(c, f"{i}", f"[{i}]", "citations", doc[c.document])
            for i, c in enumerate(answer.citations, 1)
        ]
        head = '<p class="qa-hint">Select a source to read it in its document.</p>'
        return f'<div class="qa-sources">{head}{"".join(cards)}</div>'
    if not answer.closest:
        return '<p class="qa-closest-note">Nothing in the documents is close to this question.</p>'
    # The first holds the excerpt an answer would have quoted (qa.assistant): marked even when
    # it is the whole passage, so that card stands out; the others are passages, unmarked.
    cards = [
        _card(c, f"c{i}", "~", "closest" if i > 1 else "closest-first", doc[c.document])
        for i, c in enumerate(answer.closest, 1)
    ]
    head = '<p class="qa-closest-note">Closest passages — not an answer</p>'
    return f'<div class="qa-sources qa-closest">{head}{"".join(cards)}</div>'


def _card(c: Citation, key: str, label: str, kind: str, name: str) -> str:
    body = highlight(c.context, c.start - c.context_start, c.end - c.context_start)
    if kind == "closest" and c.text == c.context:
        body = escape(c.context)  # a passage shown whole, no excerpt in it
    return (
        f'<div class="qa-cite" role="button" tabindex="0" data-cite="{key}" '
        f'title="Show in {escape(c.document)}">'
        f'<div class="qa-cite-head"><span class="qa-num">{label}</span> '
        f'<span class="qa-doc">{escape(name)}</span> '
        f'<span class="qa-span">characters {c.start:,}–{c.end:,}</span></div>'
        f'<div class="qa-context">{body}</div></div>'
    )


def document_html(
    doc: Document,
    start: int,
    end: int,
    window: int = SOURCE_WINDOW,
    *,
    closest: bool = False,
    name: str | None = None,
) -> str:
    """The whole document (or `window` characters either side in a long one), span marked,
    headed by `name` (default: its id). A `closest` passage (shown when the answer abstains)
    is marked and headed as such."""
    text = doc.text
    lo, hi = max(0, start - window), min(len(text), end + window)
    before = f'<p class="qa-cut">… {lo:,} characters above not shown</p>' if lo else ""
    after = ""
    if hi < len(text):
        after = f'<p class="qa-cut">… {len(text) - hi:,} characters below not shown</p>'
    title = f" — {escape(doc.title)}" if doc.title else ""
    note = '<span class="qa-closest-note">closest passage, not an answer</span>' if closest else ""
    kind = " qa-closest" if closest else ""
    return (
        f'<div class="qa-doc-head"><strong title="{escape(name or doc.id)}">'
        f"{escape(display_name(name or doc.id))}</strong>{title} "
        f'{note}<span class="qa-span">characters {start:,}–{end:,}</span></div>'
        f'<div class="qa-doc-text{kind}">{before}{highlight(text[lo:hi], start - lo, end - lo)}'
        f"{after}</div>"
    )


def documents_html(docs: Sequence[Document], names: Sequence[str]) -> str:
    """The collection as a table, each document under its `names` entry (see public_names)."""
    rows = "".join(
        f'<tr><td title="{escape(name)}">{escape(label)}</td>'
        f'<td>{escape(d.title)}</td><td class="qa-num">{len(d.text):,}</td></tr>'
        for d, name, label in zip(docs, names, display_names(names), strict=True)
    )
    # The wrapper scrolls sideways if a row still cannot fit a narrow screen.
    return (
        '<div class="qa-docs-wrap"><table class="qa-docs"><thead><tr><th>Document</th>'
        f"<th>Title</th><th>Characters</th></tr></thead><tbody>{rows}</tbody></table></div>"
    )


def source_placeholder() -> str:
    return '<p class="qa-empty">Select a source to see it highlighted in its document.</p>'


CSS = """
.qa-answer, .qa-abstain { line-height: 1.55; }
.qa-ref { color: var(--body-text-color-subdued); font-weight: 600; }
/* The latest answer's markers, made buttons by the page (qa.app._PAGE_JS). */
.qa-ref[role=button] { color: var(--color-accent); cursor: pointer; border-radius: 3px; }
.qa-ref[role=button]:hover { text-decoration: underline; }
.qa-ref[role=button]:focus-visible { outline: 2px solid var(--color-accent); outline-offset: 1px; }
/* Examples while a question is answered: they cannot be asked then (qa.app._LOCK_JS). */
#qa-examples [aria-disabled=true] { opacity: .5; cursor: not-allowed; }
.qa-abstain { border-left: 3px solid #d97706; padding-left: .7em; }
.qa-abstain strong { color: #b45309; }
.qa-conf { margin-top: .35em; font-size: .75em; color: var(--body-text-color-subdued); }
.qa-empty, .qa-hint { color: var(--body-text-color-subdued); font-size: .9em; margin: .2em 0 .6em; }
.qa-closest-note { color: #b45309; font-weight: 600; margin: .2em 0 .6em; }
.qa-cite { border: 1px solid var(--border-color-primary); border-radius: 8px; cursor: pointer;
  padding: .55em .8em; margin-bottom: .6em; background: var(--background-fill-primary); }
.qa-cite:hover, .qa-cite:focus { border-color: var(--color-accent); outline: none; }
.qa-cite.is-selected { border-color: var(--color-accent);
  box-shadow: 0 0 0 2px var(--color-accent-soft); }
.qa-cite-head, .qa-doc-head { display: flex; gap: .5em; align-items: baseline; flex-wrap: wrap;
  font-size: .8em; color: var(--body-text-color-subdued); margin-bottom: .3em; }
.qa-num { font-weight: 700; color: var(--color-accent); }
.qa-doc { font-weight: 600; color: var(--body-text-color); }
.qa-span { margin-left: auto; }
.qa-context { font-size: .9em; line-height: 1.5; white-space: pre-wrap; }
.qa-closest .qa-context { color: var(--body-text-color-subdued); }
.qa-doc-text { position: relative; white-space: pre-wrap; line-height: 1.6; font-size: .92em;
  max-height: 460px; overflow-y: auto; padding: .6em .9em; border-radius: 8px;
  border: 1px solid var(--border-color-primary); background: var(--background-fill-primary); }
.qa-cut { color: var(--body-text-color-subdued); font-style: italic; }
.qa-sources mark, .qa-doc-text mark { background: #fde68a; color: #1f2937; border-radius: 2px;
  padding: 0 .1em; }
/* A closest passage, opened when the answer abstains, is marked apart from an answer's quote. */
.qa-doc-text.qa-closest mark, .qa-closest .qa-context mark { background: #e5e7eb;
  outline: 1px dashed #b45309; }
.qa-doc-head .qa-closest-note { margin: 0; }
.qa-docs-wrap { max-width: 100%; overflow-x: auto; }
.qa-docs { width: 100%; font-size: .9em; margin: 0; }
.qa-docs td { overflow-wrap: anywhere; }  /* long file names break instead of widening the page */
.qa-docs td.qa-num { text-align: right; font-weight: 400; color: inherit;
  overflow-wrap: normal; }
"""
