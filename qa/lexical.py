"""BM25 over stemmed terms (bm25s), saved as plain files; scores for every unit in one call."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import bm25s
import numpy as np


class Lexical:
    """A BM25 index over texts already cut into terms (see `qa.text.terms`)."""

    def __init__(self, model: bm25s.BM25, n: int) -> None:
        self.model = model
        self.n = n
        indptr = np.asarray(model.scores["indptr"])
        # Document frequency of each term: the CSC matrix stores one column per term.
        self.df = np.diff(indptr)
        self.vocab: dict[str, int] = model.vocab_dict

    @classmethod
    def build(cls, corpus_terms: Sequence[list[str]]) -> Lexical:
        model = bm25s.BM25(k1=1.2, b=0.75)
        # bm25s needs at least one term per unit; "" marks empty units and matches no query.
        model.index([t or [""] for t in corpus_terms] or [[""]], show_progress=False)
        return cls(model, len(corpus_terms))

    def ids(self, query_terms: Sequence[str]) -> list[int]:
        return [self.vocab[t] for t in query_terms if t in self.vocab and t]

    def scores(self, query_terms: Sequence[str]) -> np.ndarray:
        """BM25 score of every unit; zeros when no query term is in the vocabulary."""
        ids = self.ids(query_terms)
        if not ids or self.n == 0:
            return np.zeros(self.n, dtype=np.float32)
        return np.asarray(self.model.get_scores_from_ids(ids), dtype=np.float32)[: self.n]

    def idf(self, term: str) -> float:
        """Robertson–Sparck Jones idf; a term the corpus never uses gets the highest value."""
        df = int(self.df[self.vocab[term]]) if term in self.vocab else 0
        return float(np.log(1.0 + (self.n - df + 0.5) / (df + 0.5)))

    def save(self, directory: Path) -> None:
        self.model.save(str(directory), allow_pickle=False)
        (directory / "count.txt").write_text(str(self.n))

    @classmethod
    def load(cls, directory: Path, *, mmap: bool = False) -> Lexical:
        model = bm25s.BM25.load(str(directory), mmap=mmap, allow_pickle=False)
        return cls(model, int((directory / "count.txt").read_text()))
