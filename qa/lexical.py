"""BM25 over stemmed terms, built with numpy from term ids, saved as plain arrays.

Scores follow bm25s's default ("lucene" variant, k1=1.2, b=0.75), which qa used before:

    score(unit, term) = idf(term) * tf / (tf + k1 * (1 - b + b * len(unit) / mean_len))
    idf(term) = ln(1 + (n - df + 0.5) / (df + 0.5))

Each unit's term ids are kept (`unit_ptr`, `unit_ids`: a CSR table), so a rebuild after adding
or removing documents re-tokenises only the new ones and recomputes the score matrix in one
vectorised pass. Term ids are append-only: ids of an older index stay valid in a newer one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from .vectors import Part

K1, B = 1.2, 0.75
FORMAT_VERSION = 2
_ARRAYS = ("unit_ptr", "unit_ids", "data", "indices", "indptr")


class Lexical:
    """A BM25 index: a units x terms score matrix stored by term (CSC), plus each unit's terms."""

    def __init__(
        self,
        vocab: list[str],
        unit_ptr: np.ndarray,
        unit_ids: np.ndarray,
        arrays: dict | None = None,
    ) -> None:
        self.terms_list = vocab  # term id -> term; may hold terms no unit uses any more
        self.unit_ptr = unit_ptr  # int64, n + 1
        self.unit_ids = unit_ids  # int32 term ids of unit i: unit_ids[unit_ptr[i]:unit_ptr[i+1]]
        self.n = len(unit_ptr) - 1
        if arrays is None:
            arrays = _score_matrix(len(vocab), unit_ptr, unit_ids)
        self.data = arrays["data"]  # float32 scores, grouped by term
        self.indices = arrays["indices"]  # int32 unit of each score
        self.indptr = arrays["indptr"]  # int64, len(vocab) + 1
        # Document frequency of each term: the CSC matrix stores one column per term.
        self.df = np.diff(self.indptr)
        self.vocab: dict[str, int] = {t: i for i, t in enumerate(vocab) if self.df[i] > 0 and t}

    @classmethod
    def build(cls, corpus_terms: Sequence[list[str]]) -> Lexical:
        ids: dict[str, int] = {}
        flat = [ids.setdefault(t, len(ids)) for unit in corpus_terms for t in unit]
        ptr = np.zeros(len(corpus_terms) + 1, dtype=np.int64)
        np.cumsum([len(u) for u in corpus_terms], out=ptr[1:])
        return cls(list(ids), ptr, np.asarray(flat, dtype=np.int32))

    def ids(self, query_terms: Sequence[str]) -> list[int]:
        return [self.vocab[t] for t in query_terms if t in self.vocab]

    def scores(self, query_terms: Sequence[str]) -> np.ndarray:
        """BM25 score of every unit; zeros when no query term is in the vocabulary."""
        out = np.zeros(self.n, dtype=np.float32)
        for t in self.ids(query_terms):
            a, b = self.indptr[t], self.indptr[t + 1]
            out[self.indices[a:b]] += self.data[a:b]  # a unit appears once per term column
        return out

    def idf(self, term: str) -> float:
        """Robertson–Sparck Jones idf; a term the corpus never uses gets the highest value."""
        df = int(self.df[self.vocab[term]]) if term in self.vocab else 0
        return float(np.log(1.0 + (self.n - df + 0.5) / (df + 0.5)))

    def parts(self) -> list[Part]:
        """The files of this index (all rewritten by each version: the scores change)."""
        params = {"format_version": FORMAT_VERSION, "k1": K1, "b": B, "units": self.n}
        return [
            *(Part(f"{name}.npy", _npy_writer(getattr(self, name))) for name in _ARRAYS),
            Part("vocab.json", _json_writer(self.terms_list)),
            Part("params.json", _json_writer(params)),
        ]

    def save(self, directory: Path) -> None:
        for part in self.parts():
            part.write(directory / part.rel)

    @classmethod
    def load(cls, directory: Path, *, mmap: bool = False) -> Lexical:
        params = json.loads((directory / "params.json").read_text())
        if params.get("format_version") != FORMAT_VERSION or (
            params.get("k1"),
            params.get("b"),
        ) != (K1, B):
            raise ValueError(f"{directory} holds BM25 of another format")
        mode = "r" if mmap else None
        arrays = {
            n: np.load(directory / f"{n}.npy", mmap_mode=mode, allow_pickle=False) for n in _ARRAYS
        }
        vocab = json.loads((directory / "vocab.json").read_text())
        if (
            len(arrays["indptr"]) != len(vocab) + 1
            or len(arrays["unit_ptr"]) != params["units"] + 1
        ):
            raise ValueError(f"{directory} has arrays of inconsistent sizes")
        return cls(vocab, arrays["unit_ptr"], arrays["unit_ids"], arrays)


def _npy_writer(array: np.ndarray) -> Callable[[Path], None]:
    return lambda path: np.save(path, array)


def _json_writer(value: object) -> Callable[[Path], None]:
    return lambda path: path.write_text(json.dumps(value, ensure_ascii=False))


def _score_matrix(
    n_terms: int, unit_ptr: np.ndarray, unit_ids: np.ndarray
) -> dict[str, np.ndarray]:
    """BM25 scores of every (unit, term) pair, grouped by term, in one vectorised pass."""
    n = len(unit_ptr) - 1
    lengths = np.diff(unit_ptr)
    if n == 0 or len(unit_ids) == 0:
        empty = np.zeros(0, dtype=np.float32)
        return {
            "data": empty,
            "indices": empty.astype(np.int32),
            "indptr": np.zeros(n_terms + 1, dtype=np.int64),
        }
    unit = np.repeat(np.arange(n, dtype=np.int32), lengths)
    # COO -> CSC sums repeated (unit, term) pairs into term frequencies in linear time and
    # leaves them grouped by term: the layout searches read.
    from scipy.sparse import coo_matrix

    ones = np.ones(len(unit_ids), dtype=np.float32)
    csc = coo_matrix((ones, (unit, unit_ids)), shape=(n, n_terms)).tocsc()
    csc.sort_indices()
    tf, unit = csc.data, csc.indices.astype(np.int32, copy=False)
    term = np.repeat(np.arange(n_terms, dtype=np.int64), np.diff(csc.indptr))
    df = np.bincount(term, minlength=n_terms)
    # bm25s counts an empty unit as one (empty) term long.
    mean_len = np.maximum(lengths, 1).mean()
    idf = np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)
    norm = (K1 * ((1 - B) + B * lengths[unit] / mean_len)).astype(np.float32)
    indptr = np.zeros(n_terms + 1, dtype=np.int64)
    np.cumsum(df, out=indptr[1:])
    return {
        "data": idf[term] * (tf / (norm + tf)),
        "indices": unit.astype(np.int32),
        "indptr": indptr,
    }
