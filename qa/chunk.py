"""Cut text into sentences and passages of a few sentences, keeping character offsets."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import blingfire
import numpy as np

from .text import TERMS_VERSION

PARAGRAPH_BREAK = re.compile(r"\n[ \t\r\f\v]*\n\s*")
_NON_WORD = re.compile(r"^[\W_]*$")
# A "sentence" longer than this (a table, a log line, text with no punctuation) is cut at
# whitespace so that it can still be embedded and quoted.
MAX_SENTENCE_CHARS = 600
# A list item's marker at the start of a line: "- ", "* ", "• ", "1. ", "2) ". Not "3.5 m".
LIST_MARKER = re.compile(r"^[ \t]*(?:[-*•+–]|\d{1,3}[.)])[ \t]+(?=\S)", re.M)


@dataclass(frozen=True)
class ChunkParams:
    """How passages are cut; saved in the manifest so a change forces a rebuild."""

    max_words: int = 110
    overlap_sentences: int = 1
    max_sentence_chars: int = MAX_SENTENCE_CHARS
    # Each list item a sentence of its own, its marker left out (indexes made before this
    # setting read False, and are re-cut).
    list_items: bool = True
    # A Markdown heading line ("## 2. Treasurer's report") is one sentence, and a line that
    # ends a sentence ends it ("... at 11.30 pm." above "Buses run ..."); read False for
    # indexes made before.
    line_ends: bool = True
    # Inside a line, a sentence ends before a figure ("founded in 2016. 410 people work
    # there") and after a time ("until 3 pm. Helen Marsh will ..."), which blingfire joins,
    # and not after a title ("said Cllr. Maria Okafor"), where it cuts (see _mend); and each
    # of two or more label lines one below the other ("Date: 11 March", "Present: ...") is
    # a sentence. Read False for indexes made before.
    mended: bool = True
    terms_version: str = TERMS_VERSION  # how BM25 terms are made (qa.text)

    def spans_only(self) -> ChunkParams:
        """These parameters without the terms version: what decides the spans, and so the
        vectors (a new way of cutting terms re-cuts only the terms)."""
        return replace(self, terms_version="")


@dataclass(frozen=True)
class Chunks:
    """Sentence spans of one text and the passages built on them (sentence index ranges)."""

    sent_start: np.ndarray  # int64, offsets into the text
    sent_end: np.ndarray
    sent_paragraph: np.ndarray  # int32, paragraph number of each sentence
    passage_first: np.ndarray  # int32, first sentence of each passage
    passage_last: np.ndarray  # int32, one past the last sentence


def paragraphs(text: str) -> list[tuple[int, int]]:
    """Spans of non-blank paragraphs, separated by blank lines."""
    spans, pos = [], 0
    for m in PARAGRAPH_BREAK.finditer(text):
        spans.append((pos, m.start()))
        pos = m.end()
    spans.append((pos, len(text)))
    return [_strip(text, a, b) for a, b in spans if text[a:b].strip()]


def _strip(text: str, a: int, b: int) -> tuple[int, int]:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return a, b


def sentences(
    text: str,
    max_chars: int = MAX_SENTENCE_CHARS,
    list_items: bool = True,
    line_ends: bool = True,
    mended: bool = True,
) -> list[tuple[int, int, int]]:
    """(start, end, paragraph) of every sentence; `text[start:end]` is the sentence. With
    `list_items`, a line that starts with a list marker starts a sentence, marker left out:
    items without a full stop stay apart, and "2." is no sentence of its own. With
    `line_ends`, a Markdown heading line is a sentence, and a line that ends a sentence ends
    it (see _lines). With `mended`, blingfire's cuts are mended (see _mend)."""
    out: list[tuple[int, int, int]] = []
    for para, (pa, pb) in enumerate(paragraphs(text)):
        for a, b in _items(text, pa, pb) if list_items else [(pa, pb)]:
            for la, lb, heading in _lines(text, a, b, mended) if line_ends else [(a, b, False)]:
                if heading:
                    out.extend((s, e, para) for s, e in _cap(text, la, lb, max_chars))
                else:
                    out.extend((s, e, para) for s, e in _split(text, la, lb, max_chars, mended))
    return out


# A Markdown heading line: "# Title", "## 2. Treasurer's report".
_HEADING_LINE = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+\S[^\n]*$", re.M)
# A line break after a sentence's end ("11.30 pm.", "said.”") before a line that starts
# like a sentence: a capital, a figure or an opening quote.
_LINE_END = re.compile(r"(?<=[.!?])[\"”’)\]]*[ \t]*\r?\n(?=[ \t]*[\"“‘(\[]?[A-Z\d])")
# What ends a wrapped line without ending its sentence: an initial ("John F.") or a title
# or abbreviation that comes before a name or a figure ("Dr.", "No.").
# Titles before a name, and abbreviations before a figure, that both rules below know.
_TITLES = "Mr|Mrs|Ms|Mx|Dr|Prof|Rev|Hon|Gen|Col|Lt|Sgt|Capt|Gov|Sen|Rep"
_REFERENCES = "No|Nos|Fig|Vol|Art|Sec|pp|p|vs|cf|approx|ca"
_BEFORE_BREAK = re.compile(
    rf"(?:\b[A-Z]|\b(?:{_TITLES}|{_REFERENCES}|St|Mt|Jr|Sr|Ch|Inc|Ltd|Co|Corp|Jan|Feb|Mar|"
    r"Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec|U\.S|U\.K|e\.g|i\.e))\.$"
)


# A label line: a capitalised word or three, a colon, a value ("Present: Helen Marsh (chair)").
_LABEL_LINE = re.compile(r"[ \t]*[A-Z][\w'’()-]*(?:[ \t]+[\w'’()-]+){0,2}:[ \t]+\S")


def _lines(text: str, a: int, b: int, labels: bool = True) -> list[tuple[int, int, bool]]:
    """text[a:b] cut at its heading lines and after the lines that end a sentence, each
    piece (start, end, is a heading): "Buses run every 10 minutes." on the line after "The
    last bus leaves at 11.30 pm." is a sentence of its own, which blingfire, reading "pm."
    as an abbreviation, would join to it. A line wrapped after an initial or a title ("Dr.")
    is not cut. With `labels`, a line break between two label lines ("Date: 11 March" above
    "Present: Helen Marsh, ...") cuts too: each states a fact of its own, with no full stop."""
    chunk = text[a:b]
    if "\n" not in chunk:
        return [(a, b, bool(_HEADING_LINE.match(chunk)))]
    cuts = {0, len(chunk)}
    headings = set()
    for m in _HEADING_LINE.finditer(chunk):
        cuts |= {m.start(), m.end()}
        headings.add(m.start())
    for m in _LINE_END.finditer(chunk):
        line_start = chunk.rfind("\n", 0, m.start()) + 1
        if not _BEFORE_BREAK.search(chunk[line_start : m.start()].rstrip('"”’)]')):
            cuts.add(m.end())
    if labels:
        starts = [0] + [m.end() for m in re.finditer(r"\n", chunk)]
        cuts |= {
            y
            for x, y in zip(starts, starts[1:], strict=False)
            if _LABEL_LINE.match(chunk, x) and _LABEL_LINE.match(chunk, y)
        }
    edges = sorted(cuts)
    out = []
    for x, y in zip(edges, edges[1:], strict=False):
        sx, sy = _strip(text, a + x, a + y)
        if sx < sy:
            out.append((sx, sy, x in headings))
    return out


def _items(text: str, a: int, b: int) -> list[tuple[int, int]]:
    """The paragraph text[a:b] cut before each list item, each item without its marker."""
    cuts = [(a + m.start(), a + m.end()) for m in LIST_MARKER.finditer(text[a:b])]
    if not cuts:
        return [(a, b)]
    spans = [(a, cuts[0][0])] if cuts[0][0] > a else []
    ends = [c[0] for c in cuts[1:]] + [b]
    spans += [(body, end) for (_, body), end in zip(cuts, ends, strict=True)]
    return [_strip(text, x, y) for x, y in spans if text[x:y].strip()]


def _split(text: str, pa: int, pb: int, max_chars: int, mend: bool = True) -> list[tuple[int, int]]:
    """Sentences of text[pa:pb], as offsets into `text`."""
    chunk = text[pa:pb]
    # Single newlines inside a paragraph are line wrapping; blingfire gives character
    # offsets into the string it was given.
    _, offsets = blingfire.text_to_sentences_and_offsets(chunk)
    spans = [_strip(chunk, a, b) for a, b in offsets] or [(0, len(chunk))]
    merged: list[tuple[int, int]] = []
    for a, b in spans:
        if a >= b:
            continue
        # A lone closing quote or bracket belongs to the sentence before it.
        if merged and _NON_WORD.match(chunk[a:b]):
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    if mend:
        merged = _mend(chunk, merged)
    # Keep everything between sentences covered, so no text is lost between spans.
    return [(pa + sa, pa + sb) for a, b in merged for sa, sb in _cap(chunk, a, b, max_chars)]


# A title or an abbreviation that stands before a name or a figure: blingfire ends a
# sentence after some ("said Cllr." | "Maria Okafor, who chairs ...").
_BEFORE_NAME = re.compile(
    rf"(?:^|\s)\(?(?:{_TITLES}|{_REFERENCES}|Maj|Cmdr|Adm|Pres|Amb|Cllr|Cllrs|Supt|Insp|Det|Fr|"
    r"Figs)\.$"
)
# ". " before a figure that starts the next sentence ("in 2016. 410 people work there",
# "a 2.4 GHz network. 5 GHz networks ..."): after a number, or after a word of three or more
# small letters that is no abbreviation before a figure ("approx. 5 people", "max. 4").
_BEFORE_FIGURE = re.compile(r"(?:\b\d[\d,]*|\b([a-z]{3,}))\.\s+(?=\d[\d,.]*\s)")
_ABBREVIATED = frozenset({
    "approx", "appr", "est", "incl", "excl", "tel", "ext", "nos", "vol", "vols", "fig", "figs",
    "para", "paras", "sect", "ref", "refs", "max", "min", "avg", "seq", "viz", "etc",
})  # fmt: skip
# "3 pm." or "7 p.m." before a capitalised word that is not a day, a month or a time zone:
# blingfire reads "pm." as an abbreviation and runs on into the next sentence.
_AFTER_TIME = re.compile(
    r"\d\s?(?:am|pm|a\.m|p\.m)\.\s+(?!(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun|Jan|Feb|Mar|Apr|May|Jun|"
    r"Jul|Aug|Sep|Oct|Nov|Dec|Eastern|Central|Pacific|Mountain|Atlantic|Greenwich|[A-Z]{2,5}\b))"
    r"(?=[A-Z])"
)


def _mend(chunk: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sentence spans of `chunk` with blingfire's slips mended: a cut after a title that
    ends a sentence ("said Cllr." | "Maria ...") is undone ("No." alone is an answer, and
    stays), and a sentence is cut where one ends inside a line before a figure or after a
    time (_BEFORE_FIGURE, _AFTER_TIME)."""
    joined: list[tuple[int, int]] = []
    for a, b in spans:
        last = chunk[joined[-1][0] : joined[-1][1]] if joined else ""
        if _BEFORE_NAME.search(last) and last != "No.":
            joined[-1] = (joined[-1][0], b)
        else:
            joined.append((a, b))
    out: list[tuple[int, int]] = []
    for a, b in joined:
        piece = chunk[a:b]
        cuts = sorted(
            {m.end() for m in _BEFORE_FIGURE.finditer(piece) if m.group(1) not in _ABBREVIATED}
            | {m.end() for m in _AFTER_TIME.finditer(piece)}
        )
        for x, y in zip([0, *cuts], [*cuts, b - a], strict=True):
            out.append(_strip(chunk, a + x, a + y))
    return [(x, y) for x, y in out if x < y]


def _cap(text: str, a: int, b: int, max_chars: int) -> list[tuple[int, int]]:
    """Cut an over-long span at whitespace (or hard, if there is none) into pieces <= max_chars."""
    pieces = []
    while b - a > max_chars:
        cut = text.rfind(" ", a + max_chars // 2, a + max_chars)
        cut = cut if cut > a else a + max_chars
        pieces.append(_strip(text, a, cut))
        a = _strip(text, cut, b)[0]
    pieces.append((a, b))
    return [p for p in pieces if p[0] < p[1]]


def chunk(text: str, params: ChunkParams = ChunkParams()) -> Chunks:
    """Sentences of `text`, grouped into passages that never cut a sentence.

    A passage takes consecutive sentences up to `max_words`. It starts at a paragraph
    boundary where it can: a long paragraph is cut into several passages that overlap by
    `overlap_sentences`, and short paragraphs that follow each other are packed together.
    """
    sents = sentences(
        text, params.max_sentence_chars, params.list_items, params.line_ends, params.mended
    )
    n = len(sents)
    start = np.fromiter((s[0] for s in sents), dtype=np.int64, count=n)
    end = np.fromiter((s[1] for s in sents), dtype=np.int64, count=n)
    para = np.fromiter((s[2] for s in sents), dtype=np.int32, count=n)
    words = [text.count(" ", a, b) + 1 for a, b, _ in sents]

    firsts, lasts = [], []
    i = 0
    while i < n:
        j, total = i, 0
        while j < n and (j == i or total + words[j] <= params.max_words):
            # Leave a paragraph early only when packing short paragraphs together.
            if (
                j > i
                and para[j] != para[j - 1]
                and _para_words(para, words, j) > params.max_words - total
            ):
                break
            total += words[j]
            j += 1
        firsts.append(i)
        lasts.append(j)
        if j >= n:
            break
        same_para = para[j] == para[j - 1]
        i = max(i + 1, j - params.overlap_sentences) if same_para else j
    return Chunks(
        sent_start=start,
        sent_end=end,
        sent_paragraph=para,
        passage_first=np.asarray(firsts, dtype=np.int32),
        passage_last=np.asarray(lasts, dtype=np.int32),
    )


def _para_words(para: np.ndarray, words: list[int], j: int) -> int:
    """Words in the paragraph starting at sentence j."""
    total, k = 0, j
    while k < len(words) and para[k] == para[j]:
        total += words[k]
        k += 1
    return total
