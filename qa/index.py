"""The in-memory index: documents, sentence and passage spans, dense vectors and BM25."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import faiss
import numpy as np

from .chunk import ChunkParams, chunk
from .embed import Embedder
from .errors import QAError
from .ingest import Document
from .lexical import Lexical
from .text import terms

# Show a progress bar only when embedding takes more than a moment.
PROGRESS_MIN_TEXTS = 300
EMBED_BLOCK = 256


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
    passage_vectors: faiss.Index
    sentence_vectors: faiss.Index
    passage_bm25: Lexical
    sentence_bm25: Lexical
    # sentence -> the passage whose centre it is nearest (for context display and scoring)
    sent_passage: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.sent_passage = np.zeros(len(self.sent_start), dtype=np.int32)
        for p in range(len(self.passage_first) - 1, -1, -1):
            self.sent_passage[self.passage_first[p] : self.passage_last[p]] = p
        self.doc_position = {d.id: i for i, d in enumerate(self.documents)}
        self._terms_cache: dict[int, frozenset[str]] = {}

    @property
    def n_passages(self) -> int:
        return len(self.passage_first)

    @property
    def n_sentences(self) -> int:
        return len(self.sent_start)

    def passage_span(self, p: int) -> tuple[int, int]:
        return int(self.sent_start[self.passage_first[p]]), int(self.sent_end[self.passage_last[p] - 1])

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


def passage_embedding_text(doc: Document, text: str) -> str:
    # The title tells the model what an abstract or section is about.
    return f"{doc.title}. {text}" if doc.title else text


def build(
    documents: Iterable[Document],
    embedder: Embedder,
    *,
    params: ChunkParams = ChunkParams(),
    previous: Index | None = None,
    progress: bool = True,
) -> Index:
    """Chunk, embed and index `documents`, reusing `previous` vectors of unchanged documents."""
    docs = _unique(documents)
    reuse = _reusable(previous, params)

    sent_doc, sent_start, sent_end = [], [], []
    p_doc, p_first, p_last = [], [], []
    p_texts: list[str] = []
    s_texts: list[str] = []
    # For each document: where its vectors come from (old rows to copy, or new texts).
    p_rows = np.zeros(0, dtype=np.int64)
    p_sources: list[tuple[str, int, int]] = []  # ("old"|"new", start, stop)
    s_sources: list[tuple[str, int, int]] = []
    n_sent = 0
    for di, doc in enumerate(docs):
        c = chunk(doc.text, params)
        ns, npass = len(c.sent_start), len(c.passage_first)
        sent_doc.append(np.full(ns, di, dtype=np.int32))
        sent_start.append(c.sent_start)
        sent_end.append(c.sent_end)
        p_doc.append(np.full(npass, di, dtype=np.int32))
        p_first.append(c.passage_first + n_sent)
        p_last.append(c.passage_last + n_sent)
        old = reuse.get((doc.id, doc.sha256))
        if old is not None:
            p_sources.append(("old", *old[0]))
            s_sources.append(("old", *old[1]))
        else:
            p_sources.append(("new", len(p_texts), len(p_texts) + npass))
            s_sources.append(("new", len(s_texts), len(s_texts) + ns))
            for a, b in zip(c.passage_first, c.passage_last, strict=True):
                text = doc.text[c.sent_start[a] : c.sent_end[b - 1]]
                p_texts.append(passage_embedding_text(doc, text))
            s_texts.extend(doc.text[a:b] for a, b in zip(c.sent_start, c.sent_end, strict=True))
        n_sent += ns
    del p_rows

    new_vectors = embed_all(embedder, p_texts + s_texts, progress=progress)
    p_new, s_new = new_vectors[: len(p_texts)], new_vectors[len(p_texts) :]
    p_vec = _assemble(p_sources, p_new, previous.passage_vectors if previous else None, embedder.dim)
    s_vec = _assemble(s_sources, s_new, previous.sentence_vectors if previous else None, embedder.dim)

    sent_start_a = _cat(sent_start, np.int64)
    sent_end_a = _cat(sent_end, np.int64)
    sent_doc_a = _cat(sent_doc, np.int32)
    p_doc_a, p_first_a, p_last_a = _cat(p_doc, np.int32), _cat(p_first, np.int32), _cat(p_last, np.int32)
    s_terms = [terms(docs[d].text[a:b]) for d, a, b in zip(sent_doc_a, sent_start_a, sent_end_a, strict=True)]
    pt_terms = [
        terms(docs[d].title) + [t for s in range(f, l) for t in s_terms[s]]
        for d, f, l in zip(p_doc_a, p_first_a, p_last_a, strict=True)
    ]
    return Index(
        documents=docs,
        params=params,
        sent_doc=sent_doc_a,
        sent_start=sent_start_a,
        sent_end=sent_end_a,
        passage_doc=p_doc_a,
        passage_first=p_first_a,
        passage_last=p_last_a,
        passage_vectors=flat_index(p_vec),
        sentence_vectors=flat_index(s_vec),
        passage_bm25=Lexical.build(pt_terms),
        sentence_bm25=Lexical.build(s_terms),
    )


def _unique(documents: Iterable[Document]) -> list[Document]:
    docs: dict[str, Document] = {}
    for doc in documents:
        if doc.id in docs:
            raise QAError(f"two documents share the id {doc.id!r}; ids must be unique")
        docs[doc.id] = doc
    return list(docs.values())


def _reusable(previous: Index | None, params: ChunkParams) -> dict[tuple[str, str], tuple[tuple[int, int], tuple[int, int]]]:
    """(doc id, content hash) -> row ranges of its passage and sentence vectors in `previous`."""
    if previous is None or previous.params != params:
        return {}
    out = {}
    p_bounds = np.searchsorted(previous.passage_doc, np.arange(len(previous.documents) + 1))
    s_bounds = np.searchsorted(previous.sent_doc, np.arange(len(previous.documents) + 1))
    for di, doc in enumerate(previous.documents):
        out[(doc.id, doc.sha256)] = (
            (int(p_bounds[di]), int(p_bounds[di + 1])),
            (int(s_bounds[di]), int(s_bounds[di + 1])),
        )
    return out


def _assemble(sources: list[tuple[str, int, int]], new: np.ndarray, old: faiss.Index | None, dim: int) -> np.ndarray:
    parts = []
    for kind, a, b in sources:
        if b <= a:
            continue
        if kind == "new":
            parts.append(new[a:b])
        else:
            assert old is not None
            parts.append(old.reconstruct_n(a, b - a))
    return np.concatenate(parts) if parts else np.zeros((0, dim), dtype=np.float32)


def _cat(arrays: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(arrays).astype(dtype, copy=False) if arrays else np.zeros(0, dtype=dtype)


def flat_index(vectors: np.ndarray) -> faiss.Index:
    # Inner product equals cosine on normalised vectors; exact search suits small collections.
    index = faiss.IndexFlatIP(vectors.shape[1])
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def embed_all(embedder: Embedder, texts: Sequence[str], *, progress: bool = True) -> np.ndarray:
    """Embed in length-sorted blocks (as one big `encode` would) with a progress bar."""
    out = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    if not texts:
        return out
    order = np.argsort([-len(t) for t in texts], kind="stable")
    bar = None
    if progress and len(texts) > PROGRESS_MIN_TEXTS:
        from tqdm import tqdm

        bar = tqdm(total=len(texts), unit="text", desc="embedding", file=sys.stderr, smoothing=0.1)
    for i in range(0, len(texts), EMBED_BLOCK):
        rows = order[i : i + EMBED_BLOCK]
        out[rows] = embedder.embed([texts[r] for r in rows])
        if bar is not None:
            bar.update(len(rows))
    if bar is not None:
        bar.close()
    return out
