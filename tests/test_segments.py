"""Versions share files: an add or remove writes only what changed and links the rest."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from test_store import assert_same_index, make_docs

from qa import lexical, store, vectors
from qa.assistant import Assistant
from qa.errors import IndexIntegrityError
from qa.index import build
from qa.ingest import Document
from qa.lexical import Lexical
from qa.vectors import Vectors

# These build small collections with an approximate kind on purpose: flat until they grow.
pytestmark = pytest.mark.filterwarnings("ignore::qa.index.FlatInsteadWarning")

QUERIES = ["zqdoc7x2", "lantern of item 12", "zqnew0x1", "Title 30"]


def inodes(directory: Path) -> dict[str, int]:
    version = store.current_version(directory)
    assert version is not None
    return {
        str(p.relative_to(version)): p.stat().st_ino
        for p in version.rglob("*")
        if p.is_file() and p.name != "manifest.json"
    }


def hits(a: Assistant, query: str) -> list[tuple[str, str]]:
    return [(c.document, c.text) for c in a.search(query)]


@pytest.fixture(params=["flat", "hnsw"])
def saved(request, tmp_path: Path, fake_embedder) -> tuple[Assistant, Path]:
    a = Assistant.from_documents(
        make_docs(150), index_dir=tmp_path, embedder=fake_embedder, progress=False,
        index_type=request.param,
    )  # fmt: skip
    return a, tmp_path


def test_an_add_links_unchanged_files_and_writes_only_the_new_ones(saved, fake_embedder) -> None:
    a, directory = saved
    before = inodes(directory)
    old_answers = {q: hits(a, q) for q in QUERIES[:2]}
    a.add([make_docs(1, prefix="new")[0]], progress=False)
    after = inodes(directory)
    linked = {rel for rel in before if after.get(rel) == before[rel]}
    # Every vector segment, the approximate index, the texts and the BM25 segments are shared.
    assert {rel for rel in before if rel.endswith((".npy", ".faiss", ".jsonl", ".json"))} - {
        "passages.slots.npy", "sentences.slots.npy", "bm25-passages/slots.npy",
        "bm25-sentences/slots.npy", "bm25-passages/params.json", "bm25-sentences/params.json",
    } == linked  # fmt: skip
    written = set(after) - linked
    assert written == {rel for rel in after if rel not in before} | {
        "spans.npz", "passages.slots.npy", "sentences.slots.npy", "bm25-passages/slots.npy",
        "bm25-sentences/slots.npy", "bm25-passages/params.json", "bm25-sentences/params.json",
    }  # fmt: skip
    new_texts = [rel for rel in written if rel.startswith("documents")]
    assert len(new_texts) == 1 and (store.current_version(directory) / new_texts[0]).stat(
    ).st_size < 1000  # only the new document's text  # fmt: skip
    # The new document is found by words and by meaning; old answers are unchanged.
    assert a.search("zqnew0x1")[0].document == "new-0"
    assert {q: hits(a, q) for q in QUERIES[:2]} == old_answers
    # The saved version is whole: every checksum (copied for linked files) holds.
    store.verify(directory)
    b = store.load(directory, fake_embedder, verify=True)
    assert_same_index(a.index, b)
    c = Assistant.load(directory, embedder=fake_embedder)
    assert {q: hits(c, q) for q in QUERIES} == {q: hits(a, q) for q in QUERIES}


def test_a_remove_masks_rows_and_keeps_files(saved, fake_embedder) -> None:
    a, directory = saved
    before = inodes(directory)
    a.remove("doc-7")
    assert all(hit != "doc-7" for hit, _ in hits(a, "zqdoc7x2"))
    after = inodes(directory)
    assert [rel for rel in after if rel.startswith(("documents", "passages-", "sentences-"))]
    assert all(
        after[rel] == before[rel]
        for rel in after
        if rel.startswith(("documents", "passages-", "sentences-"))
    )
    assert a.index.sentence_vectors.dead_slots > 0
    b = Assistant.load(directory, embedder=fake_embedder)
    assert "doc-7" not in [d.id for d in b.documents]
    assert {q: hits(b, q) for q in QUERIES} == {q: hits(a, q) for q in QUERIES}


def test_damage_to_a_linked_file_is_still_detected(saved, fake_embedder) -> None:
    a, directory = saved
    a.add([make_docs(1, prefix="new")[0]], progress=False)
    version = store.current_version(directory)
    (texts,) = [p for p in version.glob("documents.jsonl")]
    data = bytearray(texts.read_bytes())
    data[len(data) // 2] ^= 0x55
    texts.write_bytes(bytes(data))
    with pytest.raises(IndexIntegrityError, match="altered"):
        store.load(directory, fake_embedder)


def test_without_hard_links_every_file_is_written(saved, fake_embedder, monkeypatch) -> None:
    a, directory = saved

    def no_link(src, dst):
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_link)
    before = inodes(directory)
    a.add([make_docs(1, prefix="new")[0]], progress=False)
    assert not set(before.values()) & set(inodes(directory).values())
    b = store.load(directory, fake_embedder, verify=True)
    assert_same_index(a.index, b)


def test_a_writer_with_an_older_version_writes_what_it_cannot_link(
    tmp_path: Path, fake_embedder
) -> None:
    """Two assistants on one folder: the second saves from a version the first removed."""
    Assistant.from_documents(make_docs(60), index_dir=tmp_path, embedder=fake_embedder,
                             progress=False)  # fmt: skip
    first = Assistant.load(tmp_path, embedder=fake_embedder)
    second = Assistant.load(tmp_path, embedder=fake_embedder)
    first.add([make_docs(1, prefix="one")[0]], progress=False)
    second.add([make_docs(1, prefix="two")[0]], progress=False)  # its files' folder is gone
    b = store.load(tmp_path, fake_embedder, verify=True)
    assert_same_index(second.index, b)
    assert [d.id for d in b.documents][-1] == "two-0"


def test_many_updates_equal_a_build_from_scratch(
    tmp_path: Path, fake_embedder, monkeypatch
) -> None:
    """Segments merge, the tail folds into the approximate index, dead rows are compacted:
    through all of it, answers and BM25 scores equal those of a fresh build."""
    monkeypatch.setattr(vectors, "TAIL_MIN", 40)
    monkeypatch.setattr(vectors, "TAIL_FRACTION", 0.0)
    a = Assistant.from_documents(
        make_docs(120), index_dir=tmp_path, embedder=fake_embedder, progress=False,
        index_type="hnsw",
    )  # fmt: skip
    ann = a.index.sentence_vectors.ann
    extra = make_docs(12, prefix="new")
    for i, doc in enumerate(extra):
        a.add([doc], progress=False)
        if i % 3 == 2:
            a.remove(f"doc-{i}")
    assert a.index.sentence_vectors.ann is not ann  # the tail was folded in
    assert len(a.index.sentence_vectors.segments) <= vectors.MAX_SEGMENTS
    assert len(a.index.sentence_bm25.segments) <= vectors.MAX_SEGMENTS
    a.add([Document(id="doc-50", text="Replaced text about a walrus quokka.", title="T")])
    for i in range(60, 100):  # past a fifth dead: compacted
        a.remove(f"doc-{i}")
    assert a.index.sentence_bm25.n == a.index.n_sentences
    b = Assistant.load(tmp_path, embedder=fake_embedder)
    store.verify(tmp_path)
    version = store.current_version(tmp_path)
    assert len(list(version.glob("documents*.jsonl"))) <= store.DOCUMENTS_MAX_FILES
    fresh = build(b.index.documents, fake_embedder, progress=False, index_type="hnsw")
    assert_same_index(fresh, b.index)
    for unit in ("sentence_bm25", "passage_bm25"):  # updated in place, and loaded
        assert set(getattr(a.index, unit).vocab) == set(getattr(fresh, unit).vocab)
        assert set(getattr(b.index, unit).vocab) == set(getattr(fresh, unit).vocab)
    for query in (["lantern"], ["walrus", "quokka"], ["zqnew3x1"], ["titl", "item"]):
        for unit in ("sentence_bm25", "passage_bm25"):
            got, want = getattr(b.index, unit), getattr(fresh, unit)
            np.testing.assert_allclose(got.scores(query), want.scores(query), rtol=1e-5)
            assert got.idf(query[0]) == pytest.approx(want.idf(query[0]))
    for query in ("zqnew5x0", "walrus quokka", "zqdoc110x3"):
        assert hits(b, query)[0][0] == hits(Assistant(fresh, embedder=fake_embedder), query)[0][0]


def _clustered(n: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, 32)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivfpq"])
def test_segmented_vectors_search_like_exact_rows(tmp_path: Path, kind: str) -> None:
    rows = _clustered(2000, 0)
    v = Vectors.build(rows, kind, pq_bytes=8)
    current = rows
    for step in range(4):  # append 30 rows and drop 50 old ones, four times
        new = _clustered(30, step + 1)
        keep = np.delete(np.arange(len(current)), np.arange(step * 50, step * 50 + 50))
        old_row = np.concatenate([keep, np.full(30, -1)])
        v = v.updated(old_row, new, kind)
        current = np.concatenate([current[keep], new])
    assert len(v.segments) == 5 and v.dead_slots == 200
    v.save(tmp_path, "x")
    w = Vectors.load(tmp_path, "x", v.describe())
    for u in (v, w):
        np.testing.assert_array_equal(u.reconstruct_n(0, u.ntotal), current)
        # Every row is its own nearest neighbour, under its current row number.
        probe = np.array([0, 17, len(current) - 31, len(current) - 1])
        scores, ids = u.search(current[probe], 3)
        np.testing.assert_array_equal(ids[:, 0], probe)
        assert np.all(np.diff(scores, axis=1) <= 1e-6)


def test_lexical_updates_score_like_a_fresh_index() -> None:
    units = [["a", "b"], ["b", "c", "c"], [], ["d"], ["a", "d", "e"]]
    lex = Lexical.build(units)
    vocab = list(lex.terms_list)
    # Drop unit 1, add two units (one with a new term), keep the others in order.
    vocab.append("f")
    ids = {t: i for i, t in enumerate(vocab)}
    new = [["f", "a"], ["c"]]
    ptr = np.array([0, 2, 3])
    flat = np.array([ids[t] for u in new for t in u], dtype=np.int32)
    up = lex.updated(np.array([0, 2, 3, 4, -1, -1]), vocab, ptr, flat)
    want = Lexical.build([units[0], units[2], units[3], units[4], *new])
    for term in "abcdefz":
        np.testing.assert_allclose(up.scores([term]), want.scores([term]), rtol=1e-6)
        assert up.idf(term) == pytest.approx(want.idf(term))
    assert set(up.vocab) == set(want.vocab) and lexical.MAX_SEGMENTS >= 2
