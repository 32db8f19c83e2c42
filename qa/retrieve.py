"""Hybrid search: dense (FAISS) and BM25 rankings of passages and sentences, fused."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .index import Index


@dataclass(frozen=True)
class Fusion:
    """Weighted reciprocal-rank fusion; weights tuned on ../shared/eval (see qa/tune.py)."""

    dense_weight: float = 1.0
    lexical_weight: float = 1.0
    k: float = 60.0
    depth: int = 100  # how far down each ranking is read


@dataclass(frozen=True)
class Ranked:
    ids: np.ndarray  # unit ids, best first
    fused: np.ndarray  # fused score
    dense: np.ndarray  # cosine with the query, for each id
    lexical: np.ndarray  # BM25 score, for each id


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest scores, best first (ties broken by position)."""
    k = min(k, len(scores))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    part = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    return part[np.lexsort((part, -scores[part]))]


def fuse(
    dense_ids: np.ndarray,
    dense_scores: np.ndarray,
    lexical: np.ndarray,
    fusion: Fusion,
    vectors_of,
    q: np.ndarray,
) -> Ranked:
    """Reciprocal-rank fusion of a dense top list and the BM25 scores of every unit."""
    lex_ids = top_k(lexical, fusion.depth)
    lex_ids = lex_ids[lexical[lex_ids] > 0]
    ids = np.unique(np.concatenate([dense_ids, lex_ids]))
    if len(ids) == 0:
        empty = np.zeros(0)
        return Ranked(ids.astype(np.int64), empty, empty, empty)
    dense = np.full(len(ids), np.nan, dtype=np.float32)
    pos = {int(u): i for i, u in enumerate(ids)}
    for u, s in zip(dense_ids, dense_scores, strict=True):
        dense[pos[int(u)]] = s
    missing = np.isnan(dense)
    if missing.any():
        dense[missing] = vectors_of(ids[missing]) @ q
    lex = lexical[ids]
    # Ranks over the union, so both lists are read to the same depth.
    d_rank = np.empty(len(ids))
    d_rank[np.argsort(-dense, kind="stable")] = np.arange(len(ids))
    l_rank = np.empty(len(ids))
    l_rank[np.argsort(-lex, kind="stable")] = np.arange(len(ids))
    fused = fusion.dense_weight / (fusion.k + d_rank) + fusion.lexical_weight * (lex > 0) / (
        fusion.k + l_rank
    )
    order = np.lexsort((ids, -fused))
    return Ranked(ids[order].astype(np.int64), fused[order], dense[order], lex[order])


def _hybrid(
    vectors,
    bm25,
    vectors_of,
    n: int,
    q: np.ndarray,
    q_terms: list[str],
    fusion: Fusion,
    within: np.ndarray | None = None,
) -> Ranked:
    """Dense top list from `vectors`, BM25 over every unit, fused; only the units `within`
    (ids) when given, ranked as if they were all there is."""
    lexical = bm25.scores(q_terms)
    if within is None:
        depth = min(fusion.depth, n)
        if depth == 0:
            empty = np.zeros(0)
            return Ranked(np.zeros(0, dtype=np.int64), empty, empty, empty)
        scores, ids = vectors.search(q[None, :], depth)
        keep = ids[0] >= 0
        return fuse(ids[0][keep], scores[0][keep], lexical, fusion, vectors_of, q)
    within = np.asarray(within, dtype=np.int64)
    # Every unit within is compared with the query: an index's nearest neighbours over the
    # whole collection may hold none of them.
    dense = vectors_of(within) @ q if len(within) else np.zeros(0, dtype=np.float32)
    top = top_k(dense, fusion.depth)
    only = np.zeros_like(lexical)
    only[within] = lexical[within]
    return fuse(within[top], dense[top], only, fusion, vectors_of, q)


def search_passages(
    index: Index,
    q: np.ndarray,
    q_terms: list[str],
    fusion: Fusion,
    documents: np.ndarray | None = None,
) -> Ranked:
    """Passages for the query; only those of `documents` (positions) when given."""
    within = None if documents is None else _units_of(index.doc_rows()[0], documents)
    return _hybrid(
        index.passage_vectors, index.passage_bm25, index.passage_vectors_of,
        index.n_passages, q, q_terms, fusion, within,
    )  # fmt: skip


def search_sentences(
    index: Index,
    q: np.ndarray,
    q_terms: list[str],
    fusion: Fusion,
    documents: np.ndarray | None = None,
) -> Ranked:
    """Sentences for the query; only those of `documents` (positions) when given."""
    within = None if documents is None else _units_of(index.doc_rows()[1], documents)
    return _hybrid(
        index.sentence_vectors, index.sentence_bm25, index.sentence_vectors_of,
        index.n_sentences, q, q_terms, fusion, within,
    )  # fmt: skip


def _units_of(bounds: np.ndarray, documents: np.ndarray) -> np.ndarray:
    """The units of `documents`, given each document's first unit (`bounds`, as doc_rows)."""
    parts = [np.arange(bounds[d], bounds[d + 1]) for d in np.asarray(documents).tolist()]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
