"""Dense vectors: exact float32 rows (memory-mapped from disk) plus the search structure over them.

Three kinds, chosen by size (`choose_kind`) or by the user:

    flat   exact inner-product search straight over the rows; best below ~50k vectors
    hnsw   a FAISS HNSW graph; ~1 ms searches up to a few hundred thousand vectors
    ivfpq  FAISS IVF-PQ (48-byte codes) whose candidates are re-scored with the exact rows;
           small in memory and quick to build for millions of vectors

The exact rows are always kept (`<name>-<token>.npy` segments): answers re-score candidates
with them, and a rebuild reuses them instead of re-embedding. Vectors are labelled with
*slots*, numbers that never change: `slot_row` maps a slot to the current row (-1 once its
document is gone), and dead slots are filtered out during the search. An update writes only
its new vectors, as one more segment, searched exactly beside the approximate index until
they are many enough to be added to it. When too many slots are dead, everything is rebuilt
from the exact rows.
"""

from __future__ import annotations

import contextlib
import json
import mmap
import secrets
from collections.abc import Callable
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
# Vectors added since the approximate index was built are searched exactly (~0.1 ms per 1,000
# at 384 dimensions); past this many they are added to a copy of the index, which is rewritten.
TAIL_MIN = 2048
TAIL_FRACTION = 0.02
MAX_SEGMENTS = 8


def choose_kind(n: int, requested: str = "auto") -> str:
    """The index kind for `n` vectors: the one requested, or by size for "auto"."""
    if requested not in ("auto", *KINDS):
        raise QAError(f"unknown index type {requested!r}; use one of auto, {', '.join(KINDS)}")
    if n < MIN_ANN_VECTORS:
        return "flat"
    if requested != "auto":
        return requested
    return "flat" if n <= FLAT_MAX else "hnsw" if n <= HNSW_MAX else "ivfpq"


def _token() -> str:
    return secrets.token_hex(6)


@dataclass(eq=False)
class Stored:
    """A value saved once to an immutable file, so that later versions can link that file."""

    value: Any  # an array of exact rows, or a faiss index
    token: str = field(default_factory=_token)  # names the file: never reused for other content
    home: Path | None = None  # the version folder holding the file, once it is saved


@dataclass(frozen=True)
class Part:
    """One file of a saved index: written anew, or linked from the version that holds it."""

    rel: str  # path inside the version folder
    write: Callable[[Path], None]
    home: Path | None = None  # a version folder whose `rel` holds exactly this content
    saved: Callable[[Path], None] | None = None  # told the new version folder once it is live


@dataclass
class Vectors:
    """Exact vectors by slot, in segments, and an approximate index over the first slots.

    Slots are numbers that never change: a new vector takes the next slot in a new segment,
    and `slot_row` maps a slot to the current row (-1 once its document is gone). The
    approximate index covers slots [0, ann.ntotal); later slots (the "tail", the vectors
    added since) are searched exactly and folded into the index once they are too many.
    Segments and the approximate index are immutable once saved, so a new version links
    their files instead of writing them again.
    """

    segments: list[Stored]  # (m, d) float32 rows, in slot order; may be read-only memory maps
    slot_row: np.ndarray  # int64 per slot: row, or -1 for a removed vector
    kind: str = "flat"
    ann: Stored | None = None  # faiss index over slots [0, ann.ntotal)
    params: dict[str, Any] = field(default_factory=dict)
    dim: int = 0

    def __post_init__(self) -> None:
        lengths = [len(s.value) for s in self.segments]
        self.seg_start = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)])
        if self.segments:
            self.dim = int(self.segments[0].value.shape[1])
        live = np.flatnonzero(self.slot_row >= 0)
        self.row_slot = np.empty(len(live), dtype=np.int64)
        self.row_slot[self.slot_row[live]] = live
        self._selector: tuple[np.ndarray, Any] | None = None
        n_ann = self.ann.value.ntotal if self.ann is not None else 0
        dead = self.slot_row[:n_ann] < 0
        if dead.any():
            # Bitmap of live slots: searches skip dead ones instead of over-fetching.
            bitmap = np.packbits(~dead, bitorder="little")
            self._selector = (bitmap, faiss.IDSelectorBitmap(len(bitmap), faiss.swig_ptr(bitmap)))

    # -- the faiss-like surface the rest of qa uses --------------------------------------
    @property
    def ntotal(self) -> int:
        return len(self.row_slot)

    @property
    def n_slots(self) -> int:
        return int(self.seg_start[-1])

    @property
    def d(self) -> int:
        return self.dim

    @property
    def dead_slots(self) -> int:
        return self.n_slots - self.ntotal

    @property
    def rows(self) -> np.ndarray:
        """All rows in order: the segment itself when it is one, in order; else a copy."""
        if len(self.segments) == 1 and self.dead_slots == 0 and _is_identity(self.row_slot):
            return self.segments[0].value
        return self.reconstruct_n(0, self.ntotal)

    def reconstruct_batch(self, ids: np.ndarray) -> np.ndarray:
        return self._slots(self.row_slot[np.asarray(ids, dtype=np.int64)])

    def reconstruct_n(self, start: int, n: int) -> np.ndarray:
        return self._slots(self.row_slot[start : start + n])

    def _slots(self, slots: np.ndarray) -> np.ndarray:
        out = np.empty((len(slots), self.dim), dtype=np.float32)
        which = np.searchsorted(self.seg_start, slots, side="right") - 1
        for i in np.unique(which):
            hit = which == i
            out[hit] = self.segments[i].value[slots[hit] - self.seg_start[i]]
        return out

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
        found = []
        first_exact = 0
        if self.ann is not None:
            found.append(self._ann_search(q, k))
            first_exact = self.ann.value.ntotal
        for i, seg in enumerate(self.segments):
            a, b = max(int(self.seg_start[i]), first_exact), int(self.seg_start[i + 1])
            if a < b:
                found.append(self._exact(q, k, seg.value[a - self.seg_start[i] :], a))
        if len(found) == 1:
            return found[0]
        scores = np.concatenate([f[0] for f in found], axis=1)
        ids = np.concatenate([f[1] for f in found], axis=1)
        scores = np.where(ids >= 0, scores, -np.inf).astype(np.float32)
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        return np.take_along_axis(scores, order, 1), np.take_along_axis(ids, order, 1)

    def _exact(
        self, q: np.ndarray, k: int, rows: np.ndarray, first_slot: int
    ) -> tuple[np.ndarray, np.ndarray]:
        slot_row = self.slot_row[first_slot : first_slot + len(rows)]
        # Fetch past the dead rows, which are dropped afterwards.
        fetch = min(k + int((slot_row < 0).sum()), len(rows))
        scores, found = faiss.knn(q, rows, fetch, metric=faiss.METRIC_INNER_PRODUCT)
        ids = np.where(found >= 0, slot_row[np.maximum(found, 0)], -1)
        return scores, ids

    def _ann_search(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        assert self.ann is not None
        ann = self.ann.value
        sel = None if self._selector is None else self._selector[1]
        if self.kind == "hnsw":
            params = faiss.SearchParametersHNSW()  # type: ignore[attr-defined]  # not in faiss's stubs
            params.efSearch = max(int(self.params.get("ef_search", HNSW_EF_SEARCH)), k)
            fetch = k
        else:
            params = faiss.SearchParametersIVF()
            params.nprobe = int(self.params.get("nprobe", IVF_NPROBE))
            fetch = min(max(k * RERANK_FACTOR, RERANK_MIN), ann.ntotal)
        if sel is not None:
            params.sel = sel
        scores, slots = ann.search(q, fetch, params=params)
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
        slot_row = np.arange(len(rows), dtype=np.int64)
        segments = [Stored(rows)]
        if kind == "flat":
            return cls(segments, slot_row, "flat", params={"kind": "flat"}, dim=rows.shape[1])
        d = rows.shape[1]
        ann: faiss.Index
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
            ivfpq: Any = faiss.downcast_index(ann)  # an IndexIVFPQ; the stubs know only Index
            ivfpq.do_polysemous_training = False
            ann.train(train)
            p = {
                "kind": kind,
                "nlist": nlist,
                "pq_bytes": pq,
                "nprobe": int(params.get("nprobe", IVF_NPROBE)),
            }
        _add_in_blocks(ann, rows)
        return cls(segments, slot_row, kind, Stored(ann), p, dim=d)

    def updated(self, old_row: np.ndarray, new: np.ndarray, kind: str = "auto") -> Vectors:
        """The vectors after an update: row r repeats row `old_row[r]` of `self`, or, where that
        is -1, is the next row of `new`. Old vectors stay where they are (no copy): the new
        ones form one more segment, searched exactly until the tail is folded into the index."""
        old_row = np.asarray(old_row, dtype=np.int64)
        new = np.ascontiguousarray(new, dtype=np.float32).reshape(-1, self.dim)
        n_rows = len(old_row)
        want = choose_kind(n_rows, kind)
        if kind == "auto" and self.kind != "flat" and FLAT_MAX // 2 < n_rows <= 2 * HNSW_MAX:
            # Keep an approximate index while it still suits (within 2x of the thresholds):
            # a collection near a threshold must not flip kinds, and rebuild, at every update.
            want = self.kind
        kept = np.flatnonzero(old_row >= 0)
        added = np.flatnonzero(old_row < 0)
        n_slots = self.n_slots + len(new)
        if (
            want != self.kind
            or (want != "flat" and self.ann is None)
            or n_slots - n_rows > MAX_DEAD_FRACTION * n_slots
        ):
            rows = np.empty((n_rows, self.dim), dtype=np.float32)
            rows[kept] = self.reconstruct_batch(old_row[kept])
            rows[added] = new
            return Vectors.build(rows, want, **_tuning(self.params))
        slot_row = np.full(n_slots, -1, dtype=np.int64)
        slot_row[self.row_slot[old_row[kept]]] = kept
        slot_row[self.n_slots :] = added
        segments = self.segments + ([Stored(new)] if len(new) else [])
        if len(segments) > MAX_SEGMENTS:
            # Many small tails: merge all but the first (and usually biggest) segment.
            segments = [segments[0], Stored(np.concatenate([s.value for s in segments[1:]]))]
        out = Vectors(segments, slot_row, self.kind, self.ann, dict(self.params), self.dim)
        if self.ann is not None:
            tail = n_slots - self.ann.value.ntotal
            if tail > max(TAIL_MIN, TAIL_FRACTION * self.ann.value.ntotal):
                out = out._folded()
        return out

    def _folded(self) -> Vectors:
        """The same vectors with the exactly-searched tail added to the approximate index."""
        assert self.ann is not None
        # A loaded index may be a read-only memory map, and the old Vectors may still be
        # serving searches: add to a private copy.
        ann = faiss.deserialize_index(faiss.serialize_index(self.ann.value))
        tail = np.arange(ann.ntotal, self.n_slots)
        for a in range(0, len(tail), 65536):
            ann.add(self._slots(tail[a : a + 65536]))
        return Vectors(
            self.segments, self.slot_row, self.kind, Stored(ann), dict(self.params), self.dim
        )

    # -- files -----------------------------------------------------------------------------
    def parts(self, name: str) -> list[Part]:
        """The files of these vectors: one `.npy` per segment, the approximate index, and the
        slot map. Segments and index files keep their names, so a new version can link them."""
        out = []
        stored: list[tuple[Stored, str, Callable[[Path], None]]] = [
            (s, f"{name}-{s.token}.npy", npy_writer(s.value)) for s in self.segments
        ]
        if self.ann is not None:
            stored.append(
                (self.ann, f"{name}-{self.ann.token}.faiss", _faiss_writer(self.ann.value))
            )
        for item, rel, write in stored:
            out.append(Part(rel, write, item.home, home_setter(item)))
        out.append(Part(f"{name}.slots.npy", npy_writer(self.slot_row)))
        return out

    def save(self, folder: Path, name: str) -> None:
        """Write every file under `folder` (`store.save` links unchanged ones instead)."""
        for part in self.parts(name):
            part.write(folder / part.rel)

    @classmethod
    def load(cls, folder: Path, name: str, params: dict[str, Any], *, mmap: bool = True) -> Vectors:
        """Open saved vectors; with `mmap` the rows and HNSW storage stay on disk until touched."""
        segments = []
        for token in params.get("segments", []):
            rows = np.load(
                folder / f"{name}-{token}.npy", mmap_mode="r" if mmap else None, allow_pickle=False
            )
            if rows.dtype != np.float32 or rows.ndim != 2 or rows.shape[1] != params["dim"]:
                raise ValueError(f"{name}-{token}.npy holds {rows.dtype} {rows.shape}, not rows")
            _random_access(rows)
            segments.append(Stored(rows, token, folder))
        slot_row = np.load(folder / f"{name}.slots.npy", allow_pickle=False)
        if slot_row.ndim != 1 or len(slot_row) != sum(len(s.value) for s in segments):
            raise ValueError(f"{name}.slots.npy does not match the segments")
        kind = params.get("kind", "flat")
        ann = None
        if kind != "flat":
            # IO_FLAG_MMAP_IFC maps flat codes (the HNSW storage) in place; PQ codes are small
            # and faiss cannot map them, so IVF-PQ is read into memory.
            flags = faiss.IO_FLAG_MMAP_IFC if mmap and kind == "hnsw" else 0
            token = params["ann"]
            index = faiss.read_index(str(folder / f"{name}-{token}.faiss"), flags)
            if index.ntotal > len(slot_row) or index.d != params["dim"]:
                raise ValueError(f"{name}-{token}.faiss does not match its vectors")
            ann = Stored(index, token, folder)
        vectors = cls(
            segments, slot_row.astype(np.int64, copy=False), kind, ann,
            {k: v for k, v in params.items() if k not in _DESCRIBED}, int(params["dim"]),
        )  # fmt: skip
        if vectors.ntotal != params.get("vectors", vectors.ntotal):
            raise ValueError(f"{name} holds {vectors.ntotal} vectors, not {params['vectors']}")
        return vectors

    def describe(self) -> dict[str, Any]:
        """Parameters for the manifest, with the names of the files that hold the vectors."""
        return {
            **self.params,
            "kind": self.kind,
            "dim": self.dim,
            "vectors": self.ntotal,
            "dead_slots": self.dead_slots,
            "segments": [s.token for s in self.segments],
            "ann": self.ann.token if self.ann is not None else None,
            "ann_slots": self.ann.value.ntotal if self.ann is not None else 0,
        }


def _is_identity(a: np.ndarray) -> bool:
    return bool(len(a) == 0 or (a[0] == 0 and a[-1] == len(a) - 1 and np.all(np.diff(a) == 1)))


def home_setter(item: Any) -> Callable[[Path], None]:
    """Part.saved for a file saved once (a Stored, or a BM25 segment): records its new home."""

    def saved(home: Path) -> None:
        item.home = home

    return saved


def npy_writer(array: np.ndarray) -> Callable[[Path], None]:
    return lambda path: np.save(path, np.ascontiguousarray(array))


def json_writer(value: object) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        path.write_text(json.dumps(value, ensure_ascii=False))

    return write


def _faiss_writer(index: faiss.Index) -> Callable[[Path], None]:
    return lambda path: faiss.write_index(index, str(path))


def _random_access(rows: np.ndarray) -> None:
    # Rows are read a few at a time in random order; the kernel's default read-around would
    # pull ~128 KB per 1.5 KB row into memory and make the process look 10x its size.
    handle = getattr(rows, "_mmap", None)
    if handle is not None and hasattr(mmap, "MADV_RANDOM"):
        with contextlib.suppress(OSError):
            handle.madvise(mmap.MADV_RANDOM)


_DESCRIBED = ("vectors", "dead_slots", "segments", "ann", "ann_slots", "dim")


def _tuning(params: dict[str, Any]) -> dict[str, Any]:
    """The parameters a rebuild keeps."""
    return {k: v for k, v in params.items() if k not in (*_DESCRIBED, "kind", "nlist")}


def _add_in_blocks(ann: faiss.Index, rows: np.ndarray, block: int = 65536) -> None:
    for i in range(0, len(rows), block):
        ann.add(np.ascontiguousarray(rows[i : i + block], dtype=np.float32))
