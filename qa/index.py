"""The in-memory index: documents, sentence and passage spans, dense vectors and BM25."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .chunk import ChunkParams, Chunks, chunk
from .embed import Embedder, Tokens, one_blas_thread
from .errors import QAError
from .ingest import Document
from .lexical import Lexical
from .results import plural
from .staging import Staging
from .text import terms
from .tokens import MAX_SENTENCES, TokenVectors, basis, quantise
from .vectors import KINDS, MIN_ANN_VECTORS, Vectors

# Texts embedded per batch: an interrupted build re-embeds at most one batch (~30 s of MiniLM
# on two cores), and length-sorting within a batch this size wastes little on padding.
BATCH_TEXTS = 2048
EMBED_BLOCK = 256
PROGRESS_MIN_TEXTS = 300  # a progress bar only when embedding takes more than a moment


@dataclass
class Index:
    """Everything needed to answer: spans index into `documents[i].text`."""

    documents: list[Document]
    params: ChunkParams
    sent_doc: np.ndarray  # int32
    sent_start: np.ndarray  # int64
    sent_end: np.ndarray  # int64
    passage_doc: np.ndarray  # int32
    passage_first: np.ndarray  # int32, global sentence index
    passage_last: np.ndarray  # int32, one past the end
    passage_vectors: Vectors
    sentence_vectors: Vectors
    passage_bm25: Lexical
    sentence_bm25: Lexical
    index_type: str = "auto"  # as requested: flat, hnsw, ivfpq or auto (kept for updates)
    doc_sha: list[str] | None = None  # documents' content hashes, when already known
    tokens: TokenVectors | None = None  # sentences' token vectors (small collections only)
    # sentence -> the first passage that holds it (for context display and scoring)
    sent_passage: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        # Passages are sorted and overlap only forwards, so the first one holding sentence s
        # is the first whose end lies beyond s.
        s = np.arange(len(self.sent_start))
        p = np.searchsorted(self.passage_last, s, side="right")
        self.sent_passage = np.minimum(p, max(len(self.passage_last) - 1, 0)).astype(np.int32)
        self.doc_position = {d.id: i for i, d in enumerate(self.documents)}
        self._terms_cache: dict[int, frozenset[str]] = {}
        # document -> (its first sentence, the heading each of its sentences stands under);
        # filled by qa.answer._sections as documents are asked about
        self.sections: dict[int, tuple[int, np.ndarray]] = {}

    def sha256s(self) -> list[str]:
        """Each document's content hash (computed once: hashing all texts takes a while)."""
        if self.doc_sha is None:
            self.doc_sha = [d.sha256 for d in self.documents]
        return self.doc_sha

    @property
    def n_passages(self) -> int:
        return len(self.passage_first)

    @property
    def n_sentences(self) -> int:
        return len(self.sent_start)

    def passage_span(self, p: int) -> tuple[int, int]:
        return int(self.sent_start[self.passage_first[p]]), int(
            self.sent_end[self.passage_last[p] - 1]
        )

    def passage_text(self, p: int) -> str:
        a, b = self.passage_span(p)
        return self.documents[self.passage_doc[p]].text[a:b]

    def sentence_text(self, s: int) -> str:
        return self.documents[self.sent_doc[s]].text[self.sent_start[s] : self.sent_end[s]]

    def sentence_terms(self, s: int) -> frozenset[str]:
        cached = self._terms_cache.get(s)
        if cached is None:
            cached = self._terms_cache[s] = frozenset(terms(self.sentence_text(s)))
        return cached

    def sentence_vectors_of(self, ids: np.ndarray) -> np.ndarray:
        return self.sentence_vectors.reconstruct_batch(np.asarray(ids, dtype=np.int64))

    def passage_vectors_of(self, ids: np.ndarray) -> np.ndarray:
        return self.passage_vectors.reconstruct_batch(np.asarray(ids, dtype=np.int64))

    def doc_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """Bounds of each document's passages and sentences: doc i owns [b[i], b[i+1])."""
        n = np.arange(len(self.documents) + 1)
        return np.searchsorted(self.passage_doc, n), np.searchsorted(self.sent_doc, n)


def passage_embedding_text(doc: Document, text: str) -> str:
    # The title tells the model what an abstract or section is about.
    return f"{doc.title}. {text}" if doc.title else text


@dataclass(slots=True)
class _Doc:
    """One document's spans and where its vectors come from while a build streams."""

    doc: Document
    sha: str
    n_pass: int
    n_sent: int
    # Spans of a new document (those of a reused one are taken from the previous index).
    sent_start: np.ndarray | None = None
    sent_end: np.ndarray | None = None
    passage_first: np.ndarray | None = None  # local sentence numbers
    passage_last: np.ndarray | None = None
    p_old: int = -1  # first row in the previous index, if its vectors are reused
    s_old: int = -1
    p_vec: np.ndarray | None = None  # vectors once embedded or taken from staging
    s_vec: np.ndarray | None = None
    s_tokens: list[np.ndarray] | None = None  # token codes per sentence, if kept


def _same_spans(previous: Index, rows: tuple[int, int, int, int], c: Chunks) -> bool:
    """Whether a document's new cut `c` is the one it had in `previous` at `rows`."""
    p0, p1, s0, s1 = rows
    return (
        np.array_equal(previous.sent_start[s0:s1], c.sent_start)
        and np.array_equal(previous.sent_end[s0:s1], c.sent_end)
        and np.array_equal(previous.passage_first[p0:p1] - s0, c.passage_first)
        and np.array_equal(previous.passage_last[p0:p1] - s0, c.passage_last)
    )


def build(
    documents: Iterable[Document],
    embedder: Embedder,
    *,
    params: ChunkParams = ChunkParams(),  # noqa: B008 (frozen, so one shared default is safe)
    previous: Index | None = None,
    progress: bool = True,
    index_type: str = "auto",
    staging: Path | Staging | None = None,
    expected_documents: int | None = None,
    batch_texts: int = BATCH_TEXTS,
    on_progress: Callable[[int, int], None] | None = None,
) -> Index:
    """Chunk, embed and index `documents`, streamed in batches of about `batch_texts` texts.

    Vectors of documents unchanged since `previous` (same text and title, under the same id
    or another: a folder given by another path, a renamed file) are reused;
    with `staging`, each embedded batch is also kept on disk so that an interrupted build
    resumes where it stopped. Returns `previous` itself when nothing changed. `on_progress`
    is told (passages embedded, passages to embed among the documents read so far) as the
    build goes, for a progress display other than the terminal's bar.
    """
    if isinstance(staging, Path):  # a folder: its batches stay for the next build
        own = Staging(staging, embedder, params)
        try:
            return build(
                documents, embedder, params=params, previous=previous, progress=progress,
                index_type=index_type, staging=own, expected_documents=expected_documents,
                batch_texts=batch_texts, on_progress=on_progress,
            )  # fmt: skip
        finally:
            own.release()
    prev_rows: dict[str, tuple[Document, str, int, int, int, int]] = {}
    # The same text and title under another id (a folder indexed by another path, a renamed
    # file) has the same passages and vectors.
    by_content: dict[tuple[str, str], tuple[Document, str, int, int, int, int]] = {}
    # Vectors are reused when documents are cut the same way; a change in how BM25 terms are
    # made (qa.text) only re-cuts the terms. Cut by other settings before, an unchanged
    # document keeps its vectors if it comes out in the same spans.
    same_cut = previous is not None and previous.params.spans_only() == params.spans_only()
    if previous is not None:
        p_b, s_b = previous.doc_rows()
        p_b, s_b = p_b.tolist(), s_b.tolist()
        prev_rows = {
            d.id: (d, sha, p_b[i], p_b[i + 1], s_b[i], s_b[i + 1])
            for i, (d, sha) in enumerate(zip(previous.documents, previous.sha256s(), strict=True))
        }
        if same_cut:
            by_content = {(row[1], row[0].title): row for row in prev_rows.values()}
    staged = staging
    bar = _Progress(progress, expected_documents, on_progress)
    items: list[_Doc] = []
    seen: set[str] = set()
    pending: list[_Doc] = []
    pending_texts = 0
    # Token vectors are kept while the collection stays small; past MAX_SENTENCES they are
    # dropped, and the scorer does without them.
    keep_tokens = embedder.has_tokens
    old_tokens = previous.tokens if previous is not None and prev_rows else None
    n_sentences = 0
    for doc in documents:
        if doc.id in seen:
            raise QAError(f"two documents share the id {doc.id!r}; ids must be unique")
        seen.add(doc.id)
        old = prev_rows.get(doc.id)
        # The very same object as before needs no hashing to know it is unchanged.
        sha = old[1] if old is not None and old[0] is doc else doc.sha256
        reuse = old is not None and old[1] == sha and old[0].title == doc.title
        c = None
        if reuse and not same_cut:
            assert previous is not None and old is not None
            c = chunk(doc.text, params)
            reuse = _same_spans(previous, old[2:], c)
        if reuse:
            assert old is not None
            _, _, p0, p1, s0, s1 = old
            item = _Doc(doc, sha, p1 - p0, s1 - s0, p_old=p0, s_old=s0)
            if keep_tokens and old_tokens is not None:
                item.s_tokens = old_tokens.sentences(s0, s1)
        else:
            c = c if c is not None else chunk(doc.text, params)
            item = _Doc(doc, sha, len(c.passage_first), len(c.sent_start), c.sent_start,
                        c.sent_end, c.passage_first, c.passage_last)  # fmt: skip
            # Its text under another id before: a copy of those vectors (rows are never
            # shared, since that id may stay, or be given this one's old text).
            same = by_content.get((sha, doc.title))
            hit = None
            if same is not None and previous is not None:
                _, _, p0, p1, s0, s1 = same
                if (p1 - p0, s1 - s0) == (item.n_pass, item.n_sent):
                    hit = (
                        previous.passage_vectors.reconstruct_n(p0, p1 - p0),
                        previous.sentence_vectors.reconstruct_n(s0, s1 - s0),
                        old_tokens.sentences(s0, s1) if old_tokens is not None else None,
                    )
            if hit is None and staged:
                hit = staged.get(doc.id, sha, item.n_pass, item.n_sent)
            if hit is not None:
                item.p_vec, item.s_vec, kept_tokens = hit
                if keep_tokens and kept_tokens is not None:
                    item.s_tokens = kept_tokens
            else:
                pending.append(item)
                pending_texts += len(c.passage_first) + len(c.sent_start)
        items.append(item)
        n_sentences += item.n_sent
        if keep_tokens and n_sentences > MAX_SENTENCES:
            keep_tokens = False
            for it in items:
                it.s_tokens = None
        ready = item.p_vec is not None or item.p_old >= 0  # staged or unchanged
        bar.seen(item.n_pass, to_embed=not ready)
        if ready:
            bar.done(item.n_pass, embedded=False)
        if pending_texts >= batch_texts:
            _embed_batch(pending, embedder, staged, bar, keep_tokens)
            pending, pending_texts = [], 0
    _embed_batch(pending, embedder, staged, bar, keep_tokens)
    bar.close()

    unchanged = (
        previous is not None
        and previous.params == params
        and len(items) == len(previous.documents)
        and all(
            it.doc.id == d.id and it.p_old >= 0
            for it, d in zip(items, previous.documents, strict=True)
        )
        # "auto" keeps the kind asked for before; another kind is kept with the index even
        # where the collection is too small for it yet.
        and index_type in ("auto", previous.index_type)
        and (previous.tokens is not None) == keep_tokens
    )
    if unchanged:
        assert previous is not None
        return previous
    tokens = _token_vectors(items, embedder, previous) if keep_tokens else None
    index = _assemble(items, params, previous, embedder.dim, index_type, tokens)
    # Told when the kind is asked for, not again at every update of a small collection.
    flat = flat_instead(index)
    if flat and (previous is None or previous.index_type != index_type):
        warnings.warn(f"index_type {flat}", FlatInsteadWarning, stacklevel=2)
    return index


class FlatInsteadWarning(UserWarning):
    """An approximate index was asked for, but the collection is too small for one."""


def flat_instead(index: Index) -> str | None:
    """What is searched exactly although `index.index_type` asked for an approximate kind
    (too few vectors to train one), or None."""
    kind = index.index_type
    if kind == "flat" or kind not in KINDS:
        return None
    flat = [
        (n, noun)
        for n, noun, vectors in (
            (index.n_passages, "passage", index.passage_vectors),
            (index.n_sentences, "sentence", index.sentence_vectors),
        )
        if vectors.kind == "flat"
    ]
    if not flat:
        return None
    are = "is" if [n for n, _ in flat] == [1] else "are"
    return (
        f"{kind} needs at least {MIN_ANN_VECTORS} vectors: the "
        f"{' and '.join(plural(n, noun) for n, noun in flat)} {are} "
        f"searched exactly (flat) for now, as quick at this size; the request is kept with the "
        f"index, and an update that brings them to {MIN_ANN_VECTORS} builds {kind}"
    )


def _token_vectors(items: list[_Doc], embedder: Embedder, previous: Index | None) -> TokenVectors:
    """All sentences' token codes; those not kept yet (a build resumed from staging, an index
    saved without them) are embedded now."""
    missing = [it for it in items if it.s_tokens is None]
    texts = []
    for it in missing:
        starts: np.ndarray
        ends: np.ndarray
        if it.sent_start is not None and it.sent_end is not None:
            starts, ends = it.sent_start, it.sent_end
        else:  # reused from `previous`: its spans are there
            assert previous is not None and it.s_old >= 0
            starts = previous.sent_start[it.s_old : it.s_old + it.n_sent]
            ends = previous.sent_end[it.s_old : it.s_old + it.n_sent]
        texts += [it.doc.text[a:b] for a, b in zip(starts, ends, strict=True)]
    if texts:
        codes: list[np.ndarray | None] = [None] * len(texts)
        embed_all(embedder, texts, progress=False, tokens=codes)
        row = 0
        for it in missing:
            it.s_tokens = codes[row : row + it.n_sent]  # type: ignore[assignment]
            row += it.n_sent
    return TokenVectors.of([c for it in items for c in it.s_tokens or []])


def _embed_batch(
    batch: list[_Doc], embedder: Embedder, staged: Staging | None, bar: _Progress, tokens: bool
) -> None:
    """Embed the passages and sentences of `batch` in one length-sorted pass; keep it on disk."""
    if not batch:
        return
    p_texts: list[str] = []
    s_texts: list[str] = []
    for it in batch:
        text, st, en = it.doc.text, it.sent_start, it.sent_end
        assert st is not None and en is not None
        assert it.passage_first is not None and it.passage_last is not None
        p_texts += [
            passage_embedding_text(it.doc, text[st[a] : en[b - 1]])
            for a, b in zip(it.passage_first, it.passage_last, strict=True)
        ]
        s_texts += [text[a:b] for a, b in zip(st, en, strict=True)]
    n_pass = len(p_texts)
    share = n_pass / max(1, n_pass + len(s_texts))
    codes: list[np.ndarray | None] | None = [None] * (n_pass + len(s_texts)) if tokens else None
    vectors = embed_all(
        embedder,
        p_texts + s_texts,
        progress=False,
        on_block=lambda n: bar.done(n * share),
        tokens=codes,
        tokens_from=n_pass,
    )
    if staged is not None:
        kept: list[np.ndarray] | None = None
        if codes is not None and all(c is not None for c in codes[n_pass:]):
            kept = codes[n_pass:]  # type: ignore[assignment]
        staged.put([(it.doc.id, it.sha, it.n_pass, it.n_sent) for it in batch], vectors, kept)
    p_row, s_row = 0, n_pass
    for it in batch:
        np_, ns = it.n_pass, it.n_sent
        it.p_vec, it.s_vec = vectors[p_row : p_row + np_], vectors[s_row : s_row + ns]
        if codes is not None:
            it.s_tokens = codes[s_row : s_row + ns]  # type: ignore[assignment]
        p_row += np_
        s_row += ns


def _assemble(
    items: list[_Doc],
    params: ChunkParams,
    previous: Index | None,
    dim: int,
    index_type: str,
    tokens: TokenVectors | None,
) -> Index:
    """Concatenate the documents' spans and vectors; index vectors and terms."""
    n_pass = np.array([it.n_pass for it in items], dtype=np.int64)
    n_sent = np.array([it.n_sent for it in items], dtype=np.int64)
    s_offset = np.concatenate([[0], np.cumsum(n_sent)])
    docs = [it.doc for it in items]
    sent_doc = np.repeat(np.arange(len(items), dtype=np.int32), n_sent)
    passage_doc = np.repeat(np.arange(len(items), dtype=np.int32), n_pass)
    # Spans of reused documents are gathered from the previous index in one step; a reused
    # passage's sentence numbers move by as much as its document's first sentence did.
    s_old, p_old = _old_rows(items, "s"), _old_rows(items, "p")
    new = [(i, it) for i, it in enumerate(items) if it.s_old < 0]
    sent_start = np.empty(len(s_old), dtype=np.int64)
    sent_end = np.empty(len(s_old), dtype=np.int64)
    passage_first = np.empty(len(p_old), dtype=np.int32)
    passage_last = np.empty(len(p_old), dtype=np.int32)
    for out, old, parts in (
        (sent_start, s_old, [_chunked(it.sent_start) for _, it in new]),
        (sent_end, s_old, [_chunked(it.sent_end) for _, it in new]),
        (passage_first, p_old, [_chunked(it.passage_first) + s_offset[i] for i, it in new]),
        (passage_last, p_old, [_chunked(it.passage_last) + s_offset[i] for i, it in new]),
    ):
        out[old < 0] = _cat(parts, out.dtype.type)
    if previous is not None and (s_old >= 0).any():
        shift = np.repeat(s_offset[:-1] - [max(it.s_old, 0) for it in items], n_pass)
        kept_s, kept_p = s_old >= 0, p_old >= 0
        sent_start[kept_s] = previous.sent_start[s_old[kept_s]]
        sent_end[kept_s] = previous.sent_end[s_old[kept_s]]
        passage_first[kept_p] = previous.passage_first[p_old[kept_p]] + shift[kept_p]
        passage_last[kept_p] = previous.passage_last[p_old[kept_p]] + shift[kept_p]

    p_vectors = _vectors(
        items, "p", p_old, previous.passage_vectors if previous else None, dim, index_type
    )
    s_vectors = _vectors(
        items, "s", s_old, previous.sentence_vectors if previous else None, dim, index_type
    )

    same_terms = previous is not None and previous.params.terms_version == params.terms_version
    s_lex, p_lex = _lexical(
        items,
        (sent_start, sent_end, passage_first, passage_last),
        s_old,
        p_old,
        previous if same_terms else None,
    )
    return Index(
        documents=docs,
        params=params,
        sent_doc=sent_doc,
        sent_start=sent_start,
        sent_end=sent_end,
        passage_doc=passage_doc,
        passage_first=passage_first,
        passage_last=passage_last,
        passage_vectors=p_vectors,
        sentence_vectors=s_vectors,
        passage_bm25=p_lex,
        sentence_bm25=s_lex,
        index_type=index_type,
        doc_sha=[it.sha for it in items],
        tokens=tokens,
    )


def _lexical(
    items: list[_Doc],
    spans: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    s_old: np.ndarray,
    p_old: np.ndarray,
    previous: Index | None,
) -> tuple[Lexical, Lexical]:
    """BM25 of sentences and passages; only new documents are cut into terms.

    `spans` are the new index's sentence starts and ends and passages' first and last
    sentences. Term ids continue the previous index's vocabulary, and units of unchanged
    documents are kept by the previous BM25 as they are; with no `previous` (or one whose
    terms were made another way), every document is cut. A passage's terms are its title's
    plus its sentences' (order does not matter).
    """
    if previous is None or not (s_old >= 0).any():
        previous = None
    # A copy of the previous ids (a copy is ~10x quicker than building the dict again).
    lookup = previous.sentence_bm25.term_ids().copy() if previous else {}
    s_ids: list[int] = []
    s_len: list[int] = []
    p_ids: list[int] = []
    p_len: list[int] = []
    sent_start, sent_end, passage_first, passage_last = spans
    s0 = p0 = 0
    for it in items:
        s1, p1 = s0 + it.n_sent, p0 + it.n_pass
        if it.s_old >= 0 and previous is not None:
            s0, p0 = s1, p1
            continue
        text = it.doc.text
        sentences = []
        for a, b in zip(sent_start[s0:s1].tolist(), sent_end[s0:s1].tolist(), strict=True):
            sentences.append([lookup.setdefault(t, len(lookup)) for t in terms(text[a:b])])
            s_ids += sentences[-1]
            s_len.append(len(sentences[-1]))
        title = [lookup.setdefault(t, len(lookup)) for t in terms(it.doc.title)]
        firsts = (passage_first[p0:p1] - s0).tolist()
        lasts = (passage_last[p0:p1] - s0).tolist()
        for a, b in zip(firsts, lasts, strict=True):
            ids = [i for sent in sentences[a:b] for i in sent] + title
            p_ids += ids
            p_len.append(len(ids))
        s0, p0 = s1, p1
    vocab = list(lookup)
    s_table = (_ptr(np.array(s_len, dtype=np.int64)), np.array(s_ids, dtype=np.int32))
    p_table = (_ptr(np.array(p_len, dtype=np.int64)), np.array(p_ids, dtype=np.int32))
    if previous is None:
        return Lexical.from_ids(vocab, *s_table, lookup), Lexical.from_ids(vocab, *p_table, lookup)
    return (
        previous.sentence_bm25.updated(s_old, vocab, *s_table, lookup),
        previous.passage_bm25.updated(p_old, vocab, *p_table, lookup),
    )


def _old_rows(items: list[_Doc], unit: str) -> np.ndarray:
    """For each passage ("p") or sentence ("s") row: the previous index's row it repeats, or
    -1 for a new one."""
    out: list[np.ndarray] = []
    run_start, run_len = -1, 0  # consecutive old rows, made into one range
    for it in items:
        n = it.n_pass if unit == "p" else it.n_sent
        start = it.p_old if unit == "p" else it.s_old
        if start >= 0 and start == run_start + run_len:
            run_len += n
            continue
        if run_len:
            out.append(np.arange(run_start, run_start + run_len, dtype=np.int64))
        run_start, run_len = (start, n) if start >= 0 else (-1, 0)
        if start < 0:
            out.append(np.full(n, -1, dtype=np.int64))
    if run_len:
        out.append(np.arange(run_start, run_start + run_len, dtype=np.int64))
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def _ptr(lengths: np.ndarray) -> np.ndarray:
    out = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=out[1:])
    return out


def _vectors(
    items: list[_Doc],
    unit: str,
    olds: np.ndarray,
    old: Vectors | None,
    dim: int,
    index_type: str,
) -> Vectors:
    """The rows of every document in order (`olds`: see `_old_rows`); old rows are referred
    to, not copied."""
    fresh = [
        np.asarray(it.p_vec if unit == "p" else it.s_vec, dtype=np.float32)
        for it in items
        if (it.p_old if unit == "p" else it.s_old) < 0
    ]
    new = np.concatenate(fresh) if fresh else np.zeros((0, dim), dtype=np.float32)
    if old is not None and (olds >= 0).any():
        return old.updated(olds, new, index_type)
    return Vectors.build(new, index_type)


def _chunked(spans: np.ndarray | None) -> np.ndarray:
    """The spans of a document chunked in this build (a reused one has none of its own)."""
    assert spans is not None
    return spans


def _cat(arrays: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(arrays).astype(dtype, copy=False) if arrays else np.zeros(0, dtype=dtype)


def _keep_tokens(
    tokens: list[np.ndarray | None], rows: np.ndarray, found: list[Tokens], tokens_from: int
) -> None:
    """Project and quantise the token vectors of `rows` at or past `tokens_from`, in one
    product, on one BLAS thread (see qa.embed.one_blas_thread)."""
    wanted = [(int(r), t) for r, t in zip(rows, found, strict=True) if r >= tokens_from]
    if not wanted:
        return
    with one_blas_thread():
        codes = quantise(basis().project(np.concatenate([t.vectors for _, t in wanted])))
    start = 0
    for r, t in wanted:
        tokens[r] = codes[start : start + len(t.vectors)]
        start += len(t.vectors)


class _Progress:
    """A tqdm bar counting passages, with an ETA when the number of documents is known; and
    `report`, if given, told how many passages of those to embed are embedded. (Unchanged
    documents come first in an update and are done at once: counted in the bar's estimate,
    they would make it run ahead and fall back when the new document is read.)"""

    def __init__(
        self,
        enabled: bool,
        expected_documents: int | None,
        report: Callable[[int, int], None] | None = None,
    ) -> None:
        self.expected = expected_documents
        self.report = report
        self.docs_seen = 0
        self.passages_seen = 0
        self.to_embed = 0
        self.embedded = 0.0
        self.counted = 0.0  # passages with their vectors, embedded or not
        self.bar = None
        if enabled and (expected_documents is None or expected_documents > 1):
            from tqdm import tqdm

            self.bar = tqdm(
                unit="passage",
                desc="indexing",
                file=sys.stderr,
                smoothing=0.05,
                delay=2.0,
            )

    def seen(self, passages: int, to_embed: bool = True) -> None:
        """A document was read and cut into `passages` passages."""
        self.docs_seen += 1
        self.passages_seen += passages
        if to_embed:
            self.to_embed += passages
        if self.bar is not None and self.expected:
            # Passages per document read so far, times the documents expected.
            per_doc = self.passages_seen / self.docs_seen
            self.bar.total = max(self.passages_seen, round(per_doc * self.expected))
        self._report()

    def done(self, passages: float, embedded: bool = True) -> None:
        """`passages` passages have their vectors (embedded, or staged or reused)."""
        if embedded:
            self.embedded += passages
        self.counted += passages
        if self.bar is not None:
            # A block of passages and sentences counts as its share of passages: the bar
            # moves by whole passages ("12/40", never "12.3/40").
            self.bar.update(max(0, int(self.counted + 1e-6) - self.bar.n))
        if embedded:
            self._report()

    def _report(self) -> None:
        if self.report is not None and self.to_embed:
            self.report(min(round(self.embedded), self.to_embed), self.to_embed)

    def close(self) -> None:
        """Every document is read and has its vectors: the bar ends at what was indexed."""
        if self.bar is not None:
            # The estimate counted every file expected, also those skipped (a scanned PDF, a
            # binary .txt) and those read twice; the true total is known only now.
            self.bar.n = self.bar.total = self.passages_seen
            self.bar.close()


def embed_all(
    embedder: Embedder,
    texts: Sequence[str],
    *,
    progress: bool = True,
    on_block: Callable[[int], None] | None = None,
    tokens: list[np.ndarray | None] | None = None,
    tokens_from: int = 0,
) -> np.ndarray:
    """Embed in length-sorted blocks (as one big `encode` would), reporting each block.

    With `tokens` (a list as long as `texts`), the token vectors of texts from `tokens_from`
    on are stored there too, as int8 codes in the token basis (see qa.tokens)."""
    out = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    if not len(texts):
        return out
    order = np.argsort([-len(t) for t in texts], kind="stable")
    bar = None
    if progress and len(texts) > PROGRESS_MIN_TEXTS:
        from tqdm import tqdm

        bar = tqdm(total=len(texts), unit="text", desc="embedding", file=sys.stderr, smoothing=0.1)
    for i in range(0, len(texts), EMBED_BLOCK):
        rows = order[i : i + EMBED_BLOCK]
        if tokens is None:
            out[rows] = embedder.embed([texts[r] for r in rows])
        else:
            out[rows], found = embedder.embed_with_tokens([texts[r] for r in rows])
            assert found is not None, "embed_all(tokens=...) needs an embedder with tokens"
            _keep_tokens(tokens, rows, found, tokens_from)
        if bar is not None:
            bar.update(len(rows))
        if on_block is not None:
            on_block(len(rows))
    if bar is not None:
        bar.close()
    return out
