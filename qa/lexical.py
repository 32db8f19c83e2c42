"""BM25 over stemmed terms, kept as term frequencies in segments, scored with numpy; no pickle.

Scores follow bm25s's default ("lucene" variant, k1=1.2, b=0.75), which qa used before:

    score(unit, term) = idf(term) * tf / (tf + k1 * (1 - b + b * len(unit) / mean_len))
    idf(term) = ln(1 + (n - df + 0.5) / (df + 0.5))

idf and the mean length change with every document added or removed, so scores are not
stored: each segment keeps its units' term ids (a CSR table, `unit_ptr`/`unit_ids`) and their
term frequencies grouped by term (CSC), and a search scores the postings of the query's
terms with the current statistics, which cost O(units + vocabulary) to compute. Like the
vectors (see qa.vectors), units have slots that never change: an update adds its new units
as one more segment and marks removed ones dead, so a new version writes only that segment.
Term ids are append-only: ids of an older index stay valid in a newer one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Literal

import numpy as np

from .vectors import (
    MAX_DEAD_FRACTION,
    MAX_SEGMENTS,
    Part,
    _token,
    home_setter,
    json_writer,
    npy_writer,
)

K1, B = 1.2, 0.75
FORMAT_VERSION = 3
_ARRAYS = ("unit_ptr", "unit_ids", "indptr", "indices", "tf")


@dataclass(eq=False)
class Segment:
    """Units with consecutive slots: their term ids, and their term frequencies by term."""

    unit_ptr: np.ndarray  # int64, units + 1
    unit_ids: np.ndarray  # int32 term ids of local unit i: unit_ids[unit_ptr[i]:unit_ptr[i+1]]
    indptr: np.ndarray  # int64, terms known when the segment was made + 1
    indices: np.ndarray  # int32 local unit of each posting, grouped by term
    tf: np.ndarray  # float32 term frequency of each posting
    terms: list[str]  # the terms this segment added to the vocabulary
    token: str = field(default_factory=_token)
    home: Path | None = None  # the version folder holding its files, once saved

    @classmethod
    def build(cls, unit_ptr: np.ndarray, unit_ids: np.ndarray, terms: list[str], n_terms: int):
        unit_ids = np.asarray(unit_ids, dtype=np.int32)
        indptr, indices, tf = _by_term(n_terms, unit_ptr, unit_ids)
        return cls(np.asarray(unit_ptr, dtype=np.int64), unit_ids, indptr, indices, tf, terms)

    @property
    def units(self) -> int:
        return len(self.unit_ptr) - 1


class Lexical:
    """A BM25 index over rows (sentences or passages); dead slots belong to removed units."""

    def __init__(
        self,
        segments: list[Segment],
        slot_row: np.ndarray | None = None,
        *,
        since: tuple[Lexical, np.ndarray] | None = None,
        term_ids: dict[str, int] | None = None,
    ) -> None:
        """`since`: an index whose `vocab` differs from this one's at most for the given term
        ids; `term_ids`: every term's id, if known (the same for both, saves rebuilding them)."""
        self.segments = segments
        self._term_ids = term_ids
        self.vocab: dict[str, int]
        self.terms_list = list(chain.from_iterable(s.terms for s in segments))  # id -> term
        self.seg_start = np.concatenate([[0], np.cumsum([s.units for s in segments])]).astype(
            np.int64
        )
        n_slots = int(self.seg_start[-1])
        if slot_row is None:
            slot_row = np.arange(n_slots, dtype=np.int64)
        self.slot_row = slot_row
        live = slot_row >= 0
        self.n = int(live.sum())
        # Where each slot's score goes: its row, or a spare last cell for a dead slot.
        self._out = np.where(live, slot_row, self.n)
        self._in_order = self.n == n_slots and bool(np.all(slot_row == np.arange(n_slots)))
        lengths = np.concatenate([np.diff(s.unit_ptr) for s in segments] or [np.zeros(0)])
        n_terms = len(self.terms_list)
        df = np.zeros(n_terms, dtype=np.int64)
        for s in segments:
            df[: len(s.indptr) - 1] += np.diff(s.indptr)
        if not live.all():
            df -= _dead_df(self, ~live, n_terms)
        self.df = df
        # bm25s counts an empty unit as one (empty) term long.
        mean_len = np.maximum(lengths[live], 1).mean() if self.n else 1.0
        self.norm = (K1 * ((1 - B) + B * lengths / mean_len)).astype(np.float32)
        self._idf = np.log1p((self.n - df + 0.5) / (df + 0.5)).astype(np.float32)
        # The terms in use. A dict of a large collection's hundreds of thousands of terms
        # takes ~0.2 s to build, ten times as long as a copy: an update copies the previous
        # one and revisits only the terms of the units it added or removed.
        if since is not None:
            self.vocab = since[0].vocab.copy()
            touched = since[1].tolist()
        else:
            self.vocab = dict(zip(self.terms_list, range(n_terms), strict=True))
            touched = np.flatnonzero(df == 0).tolist()
        for i in touched:
            if df[i] > 0 and self.terms_list[i]:
                self.vocab[self.terms_list[i]] = i
            else:
                self.vocab.pop(self.terms_list[i], None)
        self.vocab.pop("", None)

    @classmethod
    def build(cls, corpus_terms: Sequence[list[str]]) -> Lexical:
        ids: dict[str, int] = {}
        flat = [ids.setdefault(t, len(ids)) for unit in corpus_terms for t in unit]
        ptr = np.zeros(len(corpus_terms) + 1, dtype=np.int64)
        np.cumsum([len(u) for u in corpus_terms], out=ptr[1:])
        return cls.from_ids(list(ids), ptr, np.asarray(flat, dtype=np.int32))

    @classmethod
    def from_ids(
        cls,
        vocab: list[str],
        unit_ptr: np.ndarray,
        unit_ids: np.ndarray,
        term_ids: dict[str, int] | None = None,
    ) -> Lexical:
        """One segment of units given by term ids into `vocab` (whose ids are `term_ids`)."""
        segment = Segment.build(unit_ptr, unit_ids, list(vocab), len(vocab))
        return cls([segment], term_ids=term_ids)

    def term_ids(self) -> dict[str, int]:
        """Every term's id, including terms no unit uses any more."""
        if self._term_ids is None:
            self._term_ids = dict(zip(self.terms_list, range(len(self.terms_list)), strict=True))
        return self._term_ids

    def updated(
        self,
        old_row: np.ndarray,
        vocab: list[str],
        unit_ptr: np.ndarray,
        unit_ids: np.ndarray,
        term_ids: dict[str, int] | None = None,
    ) -> Lexical:
        """Row r repeats row `old_row[r]`, or where that is -1 is the next of the new units
        (term ids in `unit_ptr`/`unit_ids`); `vocab` extends this index's vocabulary, and
        `term_ids`, if given, maps its terms to their ids."""
        old_row = np.asarray(old_row, dtype=np.int64)
        kept, added = np.flatnonzero(old_row >= 0), np.flatnonzero(old_row < 0)
        row_slot = np.empty(self.n, dtype=np.int64)
        live = np.flatnonzero(self.slot_row >= 0)
        row_slot[self.slot_row[live]] = live
        n_slots = int(self.seg_start[-1]) + len(added)
        if n_slots - len(old_row) > MAX_DEAD_FRACTION * n_slots:
            # Many dead units: one segment of the live units, in row order.
            ptr, ids = self.unit_terms(row_slot[old_row[kept]])
            all_len = np.zeros(len(old_row), dtype=np.int64)
            all_len[kept] = np.diff(ptr)
            all_len[added] = np.diff(unit_ptr)
            all_ptr = _ptr(all_len)
            all_ids = np.empty(int(all_ptr[-1]), dtype=np.int32)
            _scatter(all_ids, all_ptr, kept, ptr, ids)
            _scatter(all_ids, all_ptr, added, unit_ptr, unit_ids)
            return Lexical.from_ids(vocab, all_ptr, all_ids, term_ids)
        slot_row = np.full(n_slots, -1, dtype=np.int64)
        slot_row[row_slot[old_row[kept]]] = kept
        slot_row[int(self.seg_start[-1]) :] = added
        # Terms whose document frequency changed: those of new units and of removed ones.
        removed = np.flatnonzero((self.slot_row >= 0) & (slot_row[: len(self.slot_row)] < 0))
        touched = np.unique(np.concatenate([unit_ids, self.unit_terms(removed)[1]]))
        segments = [
            *self.segments,
            Segment.build(unit_ptr, unit_ids, vocab[len(self.terms_list) :], len(vocab)),
        ]
        if len(segments) > MAX_SEGMENTS:
            # Many small segments: merge all but the first (and usually biggest), slots kept.
            tail = segments[1:]
            lens = np.concatenate([np.diff(s.unit_ptr) for s in tail])
            ids = np.concatenate([np.asarray(s.unit_ids) for s in tail])
            terms = [t for s in tail for t in s.terms]
            segments = [segments[0], Segment.build(_ptr(lens), ids, terms, len(vocab))]
        return Lexical(segments, slot_row, since=(self, touched), term_ids=term_ids)

    def unit_terms(self, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The term ids of units `slots`, as a CSR table (pointer, ids)."""
        slots = np.asarray(slots, dtype=np.int64)
        which = np.searchsorted(self.seg_start, slots, side="right") - 1
        lens = np.zeros(len(slots), dtype=np.int64)
        starts = np.zeros(len(slots), dtype=np.int64)
        flat, offset = [], 0
        for i in np.unique(which):
            hit = np.flatnonzero(which == i)
            ptr = np.asarray(self.segments[i].unit_ptr)
            local = slots[hit] - self.seg_start[i]
            lens[hit] = ptr[local + 1] - ptr[local]
            starts[hit] = ptr[local] + offset
            flat.append(np.asarray(self.segments[i].unit_ids))
            offset += len(flat[-1])
        ids = np.concatenate(flat) if flat else np.zeros(0, dtype=np.int32)
        out_ptr = _ptr(lens)
        return out_ptr, _gather(ids, starts, starts + lens)

    def ids(self, query_terms: Sequence[str]) -> list[int]:
        return [self.vocab[t] for t in query_terms if t in self.vocab]

    def scores(self, query_terms: Sequence[str]) -> np.ndarray:
        """BM25 score of every unit; zeros when no query term is in the vocabulary."""
        out = np.zeros(self.n + 1, dtype=np.float32)
        for t in self.ids(query_terms):
            for s, start in zip(self.segments, self.seg_start.tolist(), strict=False):
                if t + 1 >= len(s.indptr):
                    continue
                a, b = s.indptr[t], s.indptr[t + 1]
                slots = s.indices[a:b] + start
                tf = s.tf[a:b]
                # A unit appears once per term column of a segment: plain += is exact.
                rows = slots if self._in_order else self._out[slots]
                out[rows] += self._idf[t] * (tf / (self.norm[slots] + tf))
        return out[: self.n]

    def idf(self, term: str) -> float:
        """Robertson–Sparck Jones idf; a term the corpus never uses gets the highest value."""
        df = self.units_with(term)
        return float(np.log(1.0 + (self.n - df + 0.5) / (df + 0.5)))

    def units_with(self, term: str) -> int:
        """How many units hold `term`."""
        return int(self.df[self.vocab[term]]) if term in self.vocab else 0

    # -- files -----------------------------------------------------------------------------
    def parts(self) -> list[Part]:
        """Each segment's files (kept by later versions), the slot map and the parameters."""
        params = {
            "format_version": FORMAT_VERSION, "k1": K1, "b": B, "units": self.n,
            "segments": [s.token for s in self.segments],
        }  # fmt: skip
        out = []
        for s in self.segments:
            saved = home_setter(s)
            for name in _ARRAYS:
                rel = f"{s.token}.{name}.npy"
                out.append(Part(rel, npy_writer(getattr(s, name)), s.home, saved))
            out.append(Part(f"{s.token}.terms.json", json_writer(s.terms), s.home, saved))
        out.append(Part("slots.npy", npy_writer(self.slot_row)))
        out.append(Part("params.json", json_writer(params)))
        return out

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
        mode: Literal["r"] | None = "r" if mmap else None
        segments, n_terms = [], 0
        for token in params["segments"]:
            arrays = {
                n: np.load(directory / f"{token}.{n}.npy", mmap_mode=mode, allow_pickle=False)
                for n in _ARRAYS
            }
            terms = json.loads((directory / f"{token}.terms.json").read_text())
            n_terms += len(terms)
            if len(arrays["indptr"]) != n_terms + 1 or len(arrays["unit_ids"]) != int(
                arrays["unit_ptr"][-1]
            ):
                raise ValueError(f"{directory} has arrays of inconsistent sizes")
            segments.append(Segment(**arrays, terms=terms, token=token, home=directory.parent))
        slot_row = np.load(directory / "slots.npy", allow_pickle=False)
        if len(slot_row) != sum(s.units for s in segments):
            raise ValueError(f"{directory} has arrays of inconsistent sizes")
        lex = cls(segments, slot_row.astype(np.int64, copy=False))
        if lex.n != params["units"]:
            raise ValueError(f"{directory} has arrays of inconsistent sizes")
        return lex


def _ptr(lengths: np.ndarray) -> np.ndarray:
    out = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=out[1:])
    return out


def _gather(flat: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """flat[starts[i]:ends[i]] for every i, concatenated."""
    lens = (ends - starts).astype(np.int64)
    total = int(lens.sum())
    if total == 0:
        return np.zeros(0, dtype=flat.dtype)
    return flat[np.repeat(starts - _ptr(lens)[:-1], lens) + np.arange(total)]


def _scatter(
    out: np.ndarray, out_ptr: np.ndarray, units: np.ndarray, ptr: np.ndarray, ids: np.ndarray
) -> None:
    """Put unit i of the table (ptr, ids) at position units[i] of the table (out_ptr, out)."""
    lens = np.diff(ptr)
    if int(lens.sum()) == 0:
        return
    dest = np.repeat(out_ptr[units] - ptr[:-1], lens) + np.arange(int(lens.sum()))
    out[dest] = ids


def _dead_df(lex: Lexical, dead: np.ndarray, n_terms: int) -> np.ndarray:
    """How many dead units hold each term (each unit counted once per term)."""
    slots = np.flatnonzero(dead)
    ptr, ids = lex.unit_terms(slots)
    unit = np.repeat(np.arange(len(slots), dtype=np.int64), np.diff(ptr))
    pairs = np.unique(unit * max(n_terms, 1) + ids)
    return np.bincount(pairs % max(n_terms, 1), minlength=n_terms)


def _by_term(
    n_terms: int, unit_ptr: np.ndarray, unit_ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Term frequency of every (unit, term) pair, grouped by term (CSC): indptr, units, tf."""
    n = len(unit_ptr) - 1
    if n == 0 or len(unit_ids) == 0:
        return np.zeros(n_terms + 1, np.int64), np.zeros(0, np.int32), np.zeros(0, np.float32)
    unit = np.repeat(np.arange(n, dtype=np.int32), np.diff(unit_ptr))
    # COO -> CSC sums repeated (unit, term) pairs into term frequencies in linear time and
    # leaves them grouped by term: the layout searches read.
    from scipy.sparse import coo_matrix

    ones = np.ones(len(unit_ids), dtype=np.float32)
    csc = coo_matrix((ones, (unit, unit_ids)), shape=(n, n_terms)).tocsc()
    csc.sort_indices()
    return (
        csc.indptr.astype(np.int64),
        csc.indices.astype(np.int32, copy=False),
        csc.data.astype(np.float32, copy=False),
    )
