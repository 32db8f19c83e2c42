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
    vectors, bm25, vectors_of, n: int, q: np.ndarray, q_terms: list[str], fusion: Fusion
) -> Ranked:
    """Dense top list from `vectors`, BM25 over every unit, fused."""
    depth = min(fusion.depth, n)
    if depth == 0:
        empty = np.zeros(0)
        return Ranked(np.zeros(0, dtype=np.int64), empty, empty, empty)
    scores, ids = vectors.search(q[None, :], depth)
    keep = ids[0] >= 0
    return fuse(ids[0][keep], scores[0][keep], bm25.scores(q_terms), fusion, vectors_of, q)


def search_passages(index: Index, q: np.ndarray, q_terms: list[str], fusion: Fusion) -> Ranked:
    return _hybrid(
        index.passage_vectors, index.passage_bm25, index.passage_vectors_of,
        index.n_passages, q, q_terms, fusion,
    )  # fmt: skip


def search_sentences(index: Index, q: np.ndarray, q_terms: list[str], fusion: Fusion) -> Ranked:
    return _hybrid(
        index.sentence_vectors, index.sentence_bm25, index.sentence_vectors_of,
        index.n_sentences, q, q_terms, fusion,
    )  # fmt: skip
