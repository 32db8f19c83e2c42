"""Dense vectors: exact float32 rows (memory-mapped from disk) plus the search structure over them.

Three kinds, chosen by size (`choose_kind`) or by the user:

    flat   exact inner-product search straight over the rows; best below ~50k vectors
    hnsw   a FAISS HNSW graph; ~1 ms searches up to a few hundred thousand vectors
    ivfpq  FAISS IVF-PQ (48-byte codes) whose candidates are re-scored with the exact rows;
           small in memory and quick to build for millions of vectors

The exact rows are always kept (`<name>.npy`): answers re-score candidates with them, and a
rebuild reuses them instead of re-embedding. An approximate index labels its vectors with
*slots*, numbers that never change, so adding documents only adds vectors to it; `slot_row`
maps a slot to the current row (-1 once its document is gone) and dead slots are filtered out
during the search. When too many slots are dead the approximate index is rebuilt from the rows.
"""

from __future__ import annotations

import contextlib
import mmap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from .errors import QAError

KINDS = ("flat", "hnsw", "ivfpq")
# Exact search reads every vector: 50k x 384 floats are 77 MB, ~7 ms of memory bandwidth.
FLAT_MAX = 50_000
HNSW_MAX = 500_000  # above this an HNSW graph takes long to build and its float storage is large
MAX_DEAD_FRACTION = 0.2
MIN_ANN_VECTORS = (
    256  # too few to train an approximate index; such a collection is searched exactly
)

HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 64
PQ_BYTES = 48  # product-quantizer code size per vector (8 dimensions per byte at 384 dims)
IVF_NPROBE = 48
RERANK_FACTOR = 4  # IVF-PQ candidates fetched per wanted result, then re-scored exactly
RERANK_MIN = 384  # at 1M synthetic vectors: 256 gives recall@10 0.95, 384 ~0.97
SINGLE_THREAD_MAX_QUERIES = 8


def choose_kind(n: int, requested: str = "auto") -> str:
    """The index kind for `n` vectors: the one requested, or by size for "auto"."""
    if requested not in ("auto", *KINDS):
        raise QAError(f"unknown index type {requested!r}; use one of auto, {', '.join(KINDS)}")
    if n < MIN_ANN_VECTORS:
        return "flat"
    if requested != "auto":
        return requested
    return "flat" if n <= FLAT_MAX else "hnsw" if n <= HNSW_MAX else "ivfpq"


@dataclass
class Vectors:
    """Row-ordered exact vectors and, for hnsw/ivfpq, an approximate index over slots."""

    rows: np.ndarray  # (n, d) float32, unit length; may be a read-only memory map
    kind: str = "flat"
    ann: faiss.Index | None = None
    slot_row: np.ndarray | None = None  # int64 per slot: row, or -1 for a removed vector
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._selector: tuple[np.ndarray, Any] | None = None
        if self.ann is not None and self.slot_row is None:
            self.slot_row = np.arange(self.ann.ntotal, dtype=np.int64)
        if self.slot_row is not None:
            dead = self.slot_row < 0
            if dead.any():
                # Bitmap of live slots: searches skip dead ones instead of over-fetching.
                bitmap = np.packbits(~dead, bitorder="little")
                self._selector = (
                    bitmap,
                    faiss.IDSelectorBitmap(len(bitmap), faiss.swig_ptr(bitmap)),
                )

    # -- the faiss-like surface the rest of qa uses --------------------------------------
    @property
    def ntotal(self) -> int:
        return len(self.rows)

    @property
    def d(self) -> int:
        return int(self.rows.shape[1])

    @property
    def dead_slots(self) -> int:
        return 0 if self.slot_row is None else int((self.slot_row < 0).sum())

    def reconstruct_batch(self, ids: np.ndarray) -> np.ndarray:
        return np.asarray(self.rows[np.asarray(ids, dtype=np.int64)], dtype=np.float32)

    def reconstruct_n(self, start: int, n: int) -> np.ndarray:
        return np.asarray(self.rows[start : start + n], dtype=np.float32)

    def search(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Inner products and row ids of the `k` nearest rows of each query; -1 pads."""
        q = np.ascontiguousarray(np.atleast_2d(q), dtype=np.float32)
        k = min(k, self.ntotal)
        if k <= 0:
            return np.zeros((len(q), 0), dtype=np.float32), np.zeros((len(q), 0), dtype=np.int64)
        if len(q) > SINGLE_THREAD_MAX_QUERIES:
            return self._search(q, k)
        # A few queries gain nothing from OpenMP threads, and on a busy machine their
        # spin-waiting costs 10-50x (0.4 ms -> 30 ms for 10k vectors). The setting is per thread.
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            return self._search(q, k)
        finally:
            faiss.omp_set_num_threads(threads)

    def _search(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        if self.ann is None:
            return faiss.knn(q, self.rows, k, metric=faiss.METRIC_INNER_PRODUCT)
        sel = None if self._selector is None else self._selector[1]
        if self.kind == "hnsw":
            params = faiss.SearchParametersHNSW()
            params.efSearch = max(int(self.params.get("ef_search", HNSW_EF_SEARCH)), k)
            fetch = k
        else:
            params = faiss.SearchParametersIVF()
            params.nprobe = int(self.params.get("nprobe", IVF_NPROBE))
            fetch = min(max(k * RERANK_FACTOR, RERANK_MIN), self.ann.ntotal)
        if sel is not None:
            params.sel = sel
        scores, slots = self.ann.search(q, fetch, params=params)
        assert self.slot_row is not None
        ids = np.where(slots >= 0, self.slot_row[np.maximum(slots, 0)], -1)
        if self.kind == "ivfpq":
            scores, ids = self._rerank(q, ids, k)
        return scores, ids

    def _rerank(self, q: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        # PQ scores are approximate; exact rows put the candidates in their true order.
        out_s = np.full((len(q), k), -np.inf, dtype=np.float32)
        out_i = np.full((len(q), k), -1, dtype=np.int64)
        for i in range(len(q)):
            cand = ids[i][ids[i] >= 0]
            if not len(cand):
                continue
            exact = self.reconstruct_batch(np.sort(cand))
            sims = exact @ q[i]
            order = np.argsort(-sims, kind="stable")[:k]
            out_s[i, : len(order)] = sims[order]
            out_i[i, : len(order)] = np.sort(cand)[order]
        return out_s, out_i

    # -- building and updating ---------------------------------------------------------
    @classmethod
    def build(cls, rows: np.ndarray, kind: str = "auto", **params: Any) -> Vectors:
        """Index `rows` (unit-length float32) with `kind`, or the kind `choose_kind` picks."""
        rows = np.ascontiguousarray(rows, dtype=np.float32)
        kind = choose_kind(len(rows), kind)
        if kind == "flat":
            return cls(rows, "flat", params={"kind": "flat"})
        d = rows.shape[1]
        if kind == "hnsw":
            m = int(params.get("m", HNSW_M))
            ann = faiss.IndexHNSWFlat(d, m, faiss.METRIC_INNER_PRODUCT)
            ann.hnsw.efConstruction = int(params.get("ef_construction", HNSW_EF_CONSTRUCTION))
            p = {"kind": kind, "m": m, "ef_construction": ann.hnsw.efConstruction,
                 "ef_search": int(params.get("ef_search", HNSW_EF_SEARCH))}  # fmt: skip
        else:
            # About sqrt(n) lists, each trained on <= 64 points per list: k-means stays quick.
            nlist = int(params.get("nlist", 2 ** max(4, round(np.log2(np.sqrt(len(rows)))))))
            pq = int(params.get("pq_bytes", PQ_BYTES if d % PQ_BYTES == 0 else d // 8))
            ann = faiss.index_factory(d, f"IVF{nlist},PQ{pq}", faiss.METRIC_INNER_PRODUCT)
            train = rows
            if len(rows) > 64 * nlist:
                pick = np.random.default_rng(0).choice(len(rows), 64 * nlist, replace=False)
                train = rows[np.sort(pick)]
            # Polysemous training only serves Hamming filtering, which is not used, and costs
            # ten times the rest of training.
            faiss.downcast_index(ann).do_polysemous_training = False
            ann.train(train)
            p = {
                "kind": kind,
                "nlist": nlist,
                "pq_bytes": pq,
                "nprobe": int(params.get("nprobe", IVF_NPROBE)),
            }
        _add_in_blocks(ann, rows)
        return cls(rows, kind, ann, np.arange(len(rows), dtype=np.int64), p)

    def updated(self, rows: np.ndarray, old_row: np.ndarray, kind: str = "auto") -> Vectors:
        """The vectors after an update: `rows` are the new exact rows; `old_row[r]` is the row of
        `self` that row r repeats, or -1 for a new vector. Only the new vectors are indexed."""
        rows = np.ascontiguousarray(rows, dtype=np.float32)
        want = choose_kind(len(rows), kind)
        if kind == "auto" and self.kind != "flat" and FLAT_MAX // 2 < len(rows) <= 2 * HNSW_MAX:
            # Keep an approximate index while it still suits (within 2x of the thresholds):
            # a collection near a threshold must not flip kinds, and rebuild, at every update.
            want = self.kind
        if want != self.kind or want == "flat" or self.ann is None or self.slot_row is None:
            return Vectors.build(rows, want, **_tuning(self.params))
        row_slot = np.full(self.ntotal, -1, dtype=np.int64)
        live = self.slot_row >= 0
        row_slot[self.slot_row[live]] = np.flatnonzero(live)
        new = np.flatnonzero(old_row < 0)
        n_slots = self.ann.ntotal + len(new)
        if n_slots - (len(rows) - len(new)) > MAX_DEAD_FRACTION * n_slots:
            return Vectors.build(rows, want, **_tuning(self.params))
        # A loaded index may be a read-only memory map, and the old Index may still be
        # serving searches: add to a private copy.
        ann = faiss.deserialize_index(faiss.serialize_index(self.ann))
        slot_row = np.full(n_slots, -1, dtype=np.int64)
        kept = np.flatnonzero(old_row >= 0)
        slot_row[row_slot[old_row[kept]]] = kept
        slot_row[self.ann.ntotal :] = new
        _add_in_blocks(ann, rows[new])
        return Vectors(rows, self.kind, ann, slot_row, dict(self.params))

    # -- files -----------------------------------------------------------------------------
    def save(self, folder: Path, name: str) -> None:
        """Write `<name>.npy` (exact rows); hnsw/ivfpq add `<name>.faiss` and `<name>.slots.npy`."""
        np.save(folder / f"{name}.npy", np.ascontiguousarray(self.rows, dtype=np.float32))
        if self.ann is not None:
            faiss.write_index(self.ann, str(folder / f"{name}.faiss"))
            np.save(folder / f"{name}.slots.npy", self.slot_row)

    @classmethod
    def load(cls, folder: Path, name: str, params: dict[str, Any], *, mmap: bool = True) -> Vectors:
        """Open saved vectors; with `mmap` the rows and HNSW storage stay on disk until touched."""
        rows = np.load(folder / f"{name}.npy", mmap_mode="r" if mmap else None, allow_pickle=False)
        if rows.dtype != np.float32 or rows.ndim != 2:
            raise ValueError(f"{name}.npy holds {rows.dtype} {rows.shape}, not float32 rows")
        _random_access(rows)
        kind = params.get("kind", "flat")
        if kind == "flat":
            return cls(rows, "flat", params=dict(params))
        # IO_FLAG_MMAP_IFC maps flat codes (the HNSW storage) in place; PQ codes are small
        # and faiss cannot map them, so IVF-PQ is read into memory.
        flags = faiss.IO_FLAG_MMAP_IFC if mmap and kind == "hnsw" else 0
        ann = faiss.read_index(str(folder / f"{name}.faiss"), flags)
        slot_row = np.load(folder / f"{name}.slots.npy", allow_pickle=False)
        if ann.ntotal != len(slot_row) or ann.d != rows.shape[1]:
            raise ValueError(f"{name}.faiss does not match {name}.npy")
        return cls(rows, kind, ann, slot_row.astype(np.int64, copy=False), dict(params))

    def describe(self) -> dict[str, Any]:
        """Parameters for the manifest."""
        return {
            **self.params,
            "kind": self.kind,
            "vectors": self.ntotal,
            "dead_slots": self.dead_slots,
        }


def _random_access(rows: np.ndarray) -> None:
    # Rows are read a few at a time in random order; the kernel's default read-around would
    # pull ~128 KB per 1.5 KB row into memory and make the process look 10x its size.
    handle = getattr(rows, "_mmap", None)
    if handle is not None and hasattr(mmap, "MADV_RANDOM"):
        with contextlib.suppress(OSError):
            handle.madvise(mmap.MADV_RANDOM)


def _tuning(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if k not in ("kind", "nlist")}


def _add_in_blocks(ann: faiss.Index, rows: np.ndarray, block: int = 65536) -> None:
    for i in range(0, len(rows), block):
        ann.add(np.ascontiguousarray(rows[i : i + block], dtype=np.float32))
