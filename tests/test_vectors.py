"""Vector indexes: kinds by size, exact rows kept, approximate search close to exact, updates."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from qa import vectors
from qa.errors import QAError
from qa.vectors import FLAT_MAX, HNSW_MAX, MIN_ANN_VECTORS, Vectors, choose_kind

D = 64


def clustered(n: int, seed: int = 0) -> np.ndarray:
    """Unit vectors in clusters, roughly like sentence embeddings (not uniform on the sphere)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((max(n // 50, 4), D)).astype(np.float32)
    x = centres[rng.integers(0, len(centres), n)] + 0.5 * rng.standard_normal((n, D)).astype(
        np.float32
    )
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def exact_top(rows: np.ndarray, q: np.ndarray, k: int) -> np.ndarray:
    return np.argsort(-(q @ rows.T), axis=1, kind="stable")[:, :k]


@pytest.mark.parametrize(
    ("n", "requested", "kind"),
    [
        (10, "auto", "flat"),
        (10, "hnsw", "flat"),  # too few vectors to be worth an approximate index
        (FLAT_MAX, "auto", "flat"),
        (FLAT_MAX + 1, "auto", "hnsw"),
        (HNSW_MAX, "auto", "hnsw"),
        (HNSW_MAX + 1, "auto", "ivfpq"),
        (FLAT_MAX * 3, "flat", "flat"),
        (MIN_ANN_VECTORS, "ivfpq", "ivfpq"),
    ],
)
def test_kind_by_size_and_request(n: int, requested: str, kind: str) -> None:
    assert choose_kind(n, requested) == kind


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(QAError, match="unknown index type"):
        choose_kind(1000, "annoy")


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivfpq"])
def test_search_is_close_to_exact_and_rows_are_exact(kind: str) -> None:
    rows = clustered(4000)
    # 64 dimensions in 16 bytes: a coarser code than qa's 384 in 48 would fail this test.
    v = Vectors.build(rows, kind, pq_bytes=16)
    assert v.kind == kind and v.ntotal == len(rows)
    q = clustered(50, seed=1)
    scores, ids = v.search(q, 10)
    truth = exact_top(rows, q, 10)
    recall = np.mean(
        [len(set(a) & set(b)) / 10 for a, b in zip(ids.tolist(), truth.tolist(), strict=True)]
    )
    assert recall >= 0.9
    # Scores are exact inner products of the returned rows, best first.
    np.testing.assert_allclose(scores[0], rows[ids[0]] @ q[0], rtol=1e-4, atol=1e-5)
    assert np.all(np.diff(scores, axis=1) <= 1e-6)
    np.testing.assert_array_equal(v.reconstruct_batch(np.array([3, 7])), rows[[3, 7]])
    np.testing.assert_array_equal(v.reconstruct_n(10, 5), rows[10:15])


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivfpq"])
def test_save_load_round_trip(tmp_path, kind: str) -> None:
    rows = clustered(3000)
    v = Vectors.build(rows, kind)
    v.save(tmp_path, "passages")
    w = Vectors.load(tmp_path, "passages", v.describe(), mmap=True)
    assert isinstance(w.rows, np.memmap)  # exact rows stay on disk until read
    assert w.kind == kind and w.describe() == v.describe()
    q = clustered(5, seed=2)
    np.testing.assert_array_equal(v.search(q, 10)[1], w.search(q, 10)[1])
    np.testing.assert_array_equal(w.reconstruct_batch(np.arange(3000)), rows)


@pytest.mark.parametrize("kind", ["hnsw", "ivfpq"])
def test_update_adds_only_new_vectors_and_forgets_removed_ones(tmp_path, kind: str) -> None:
    rows = clustered(3000)
    v = Vectors.build(rows, kind)
    v.save(tmp_path, "x")
    v = Vectors.load(tmp_path, "x", v.describe())  # updating a memory-mapped index must work
    # Drop rows 100..199, keep the rest in a new order, append 50 new vectors.
    keep = np.concatenate([np.arange(200, 3000), np.arange(0, 100)])
    new = clustered(50, seed=3)
    new_rows = np.concatenate([rows[keep], new])
    old_row = np.concatenate([keep, np.full(50, -1)])
    u = v.updated(old_row, new, kind)
    assert u.kind == kind
    # Not rebuilt, not even copied: the new vectors are a segment of their own, searched
    # exactly, and the old index (which may still be serving) is shared as it is.
    assert u.ann is v.ann and u.ann is not None and u.ann.value.ntotal == 3000
    assert u.segments[0] is v.segments[0] and len(u.segments) == 2
    assert u.n_slots == 3050 and u.dead_slots == 100
    # Every row is found by its own vector, under its new row number.
    probe = np.array([0, 5, len(keep) - 1, len(keep), len(new_rows) - 1])
    _, ids = u.search(new_rows[probe], 1)
    np.testing.assert_array_equal(ids[:, 0], probe)
    # Removed vectors never come back.
    _, ids = u.search(rows[100:200], 20)
    assert ids.min() >= 0 and ids.max() < len(new_rows)
    np.testing.assert_allclose(u.reconstruct_batch(ids[0]), new_rows[ids[0]])
    # Survives a save and load with its dead slots.
    u.save(tmp_path, "y")
    w = Vectors.load(tmp_path, "y", u.describe())
    np.testing.assert_array_equal(w.search(new_rows[probe], 1)[1], u.search(new_rows[probe], 1)[1])


def test_too_many_dead_slots_rebuild_the_index() -> None:
    rows = clustered(3000)
    v = Vectors.build(rows, "hnsw")
    keep = np.arange(1000, 3000)  # a third removed: more than MAX_DEAD_FRACTION
    u = v.updated(keep, np.zeros((0, D), dtype=np.float32), "hnsw")
    assert u.ann is not None and u.ann.value.ntotal == 2000 and u.dead_slots == 0
    np.testing.assert_array_equal(u.rows, rows[keep])


def test_auto_keeps_an_approximate_index_and_switches_when_growing(monkeypatch) -> None:
    monkeypatch.setattr(vectors, "FLAT_MAX", 2000)
    rows = clustered(3000)
    v = Vectors.build(rows[:2000], "auto")
    assert v.kind == "flat" and v.ann is None
    u = v.updated(np.concatenate([np.arange(2000), np.full(1000, -1)]), rows[2000:])
    assert u.kind == "hnsw"  # grown past the threshold
    w = u.updated(np.arange(1990), np.zeros((0, D), dtype=np.float32))
    assert w.kind == "hnsw"  # auto does not flip back to flat for a small shrink


def test_empty_and_tiny() -> None:
    v = Vectors.build(np.zeros((0, D), dtype=np.float32))
    scores, ids = v.search(np.ones(D, dtype=np.float32), 5)
    assert ids.shape == (1, 0)
    rows = clustered(3)
    v = Vectors.build(rows, "hnsw")
    assert v.kind == "flat"
    assert v.search(rows[1], 10)[1][0].tolist()[0] == 1


def test_an_approximate_kind_asked_of_too_few_vectors_is_told_and_kept(fake_embedder) -> None:
    from qa.assistant import Assistant
    from qa.ingest import Document

    few = [Document(id=f"d{i}", text=f"Ferry {i} leaves at noon. It is late.") for i in range(3)]
    with pytest.warns(UserWarning, match=r"hnsw needs at least 256 vectors: the 3 passages and"):
        a = Assistant.from_documents(few, embedder=fake_embedder, progress=False, index_type="hnsw")
    assert a.index.passage_vectors.kind == a.index.sentence_vectors.kind == "flat"
    assert a.index.index_type == "hnsw"  # the request is kept with the index
    many = [
        Document(id=f"m{i}", text=" ".join(f"Boat {i} sails at {h} o'clock." for h in range(9)))
        for i in range(40)
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # said once, when asked; not again at each update
        a.add(many, progress=False)
    assert a.index.sentence_vectors.kind == "hnsw"  # grown past MIN_ANN_VECTORS
    assert a.index.passage_vectors.kind == "flat"  # 43 passages: still too few
