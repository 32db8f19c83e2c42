"""Saved indexes: round trips, incremental updates, resuming an interrupted build, verification."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from qa import store
from qa.assistant import Assistant
from qa.chunk import ChunkParams
from qa.embed import Embedder, Tokens
from qa.errors import IndexIntegrityError, QAError
from qa.index import build
from qa.ingest import Document
from qa.staging import Staging

# These build small collections with an approximate kind on purpose: flat until they grow.
pytestmark = pytest.mark.filterwarnings("ignore::qa.index.FlatInsteadWarning")

WORDS = [
    "river", "harbour", "lantern", "orchard", "glacier", "meadow", "copper", "violin",
    "falcon", "thunder", "marble", "saffron", "canyon", "beacon", "willow", "quartz",
    "pepper", "walrus", "ember", "tundra", "cobalt", "juniper", "parrot", "basalt",
]  # fmt: skip


def make_docs(n: int, sentences: int = 4, prefix: str = "doc") -> list[Document]:
    """Documents whose sentences differ by a few content words, each with one unique word."""
    rng = np.random.default_rng(n)
    docs = []
    for i in range(n):
        body = " ".join(
            f"The {' '.join(rng.choice(WORDS, 5))} of item {i} sits near zq{prefix}{i}x{j}."
            for j in range(sentences)
        )
        docs.append(Document(id=f"{prefix}-{i}", text=body, title=f"Title {i}"))
    return docs


class Counting(Embedder):
    """Wraps an embedder, recording every text it embeds; can fail after `fail_after` texts."""

    def __init__(self, inner: Embedder, fail_after: int | None = None) -> None:
        self.inner = inner
        self.name, self.dim, self.fingerprint = inner.name, inner.dim, inner.fingerprint
        self.texts: list[str] = []
        self.fail_after = fail_after

    def embed(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        if self.fail_after is not None and len(self.texts) + len(texts) > self.fail_after:
            raise KeyboardInterrupt("simulated kill")
        self.texts += list(texts)
        return self.inner.embed(texts, batch_size=batch_size)


class CountingTokens(Counting):
    """`Counting` with token vectors, the same for the same text (as the model's are)."""

    has_tokens = True

    def embed_with_tokens(
        self, texts: Sequence[str], *, batch_size: int = 32
    ) -> tuple[np.ndarray, list[Tokens] | None]:
        vectors = self.embed(texts, batch_size=batch_size)
        tokens = []
        for text in texts:
            words = text.split()[:6] or ["x"]
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")
            rng = np.random.default_rng(seed)
            tokens.append(Tokens(words, rng.standard_normal((len(words), 384)).astype(np.float32)))
        return vectors, tokens


def assert_same_index(a, b) -> None:
    for name in (
        "sent_doc",
        "sent_start",
        "sent_end",
        "passage_doc",
        "passage_first",
        "passage_last",
        "sent_passage",
    ):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert [(d.id, d.text, d.title) for d in a.documents] == [
        (d.id, d.text, d.title) for d in b.documents
    ]
    np.testing.assert_array_equal(
        a.passage_vectors.reconstruct_n(0, a.n_passages),
        b.passage_vectors_of(np.arange(b.n_passages)),
    )
    np.testing.assert_array_equal(
        a.sentence_vectors.reconstruct_n(0, a.n_sentences),
        b.sentence_vectors_of(np.arange(b.n_sentences)),
    )


@pytest.mark.parametrize("index_type", ["flat", "hnsw", "ivfpq"])
def test_save_load_round_trip(tmp_path: Path, fake_embedder, index_type: str) -> None:
    docs = make_docs(150)
    a = Assistant.from_documents(
        docs, index_dir=tmp_path, embedder=fake_embedder, progress=False, index_type=index_type
    )
    assert a.index.sentence_vectors.kind == index_type
    b = Assistant.load(tmp_path, embedder=fake_embedder)
    assert_same_index(a.index, b.index)
    assert b.index.index_type == index_type
    assert isinstance(b.index.sentence_vectors.segments[0].value, np.memmap)
    manifest = store.read_manifest(tmp_path)
    assert manifest is not None
    assert manifest["vectors"]["sentences"]["kind"] == index_type
    assert manifest["vectors"]["sentences"]["vectors"] == a.index.n_sentences
    columns = manifest["documents"]
    assert {name: values[0] for name, values in columns.items()} == {
        "id": "doc-0",
        "sha256": docs[0].sha256,
        "title": docs[0].title,
        "chars": len(docs[0].text),
        "file": "documents.jsonl",  # one file holds the texts of a build
    }
    assert columns["id"] == [d.id for d in docs]
    assert manifest["document_files"] == {"documents.jsonl": sum(len(d.text) for d in docs)}
    query = "zqdoc7x2"
    assert [c.document for c in a.search(query)] == [c.document for c in b.search(query)]
    assert a.search(query)[0].document == "doc-7"


def test_auto_index_type_stays_flat_for_small_collections(tmp_path: Path, fake_embedder) -> None:
    a = Assistant.from_documents(
        make_docs(20), index_dir=tmp_path, embedder=fake_embedder, progress=False
    )
    assert a.index.passage_vectors.kind == a.index.sentence_vectors.kind == "flat"


@pytest.mark.parametrize("index_type", ["flat", "hnsw"])
def test_updates_embed_only_changed_documents(
    tmp_path: Path, fake_embedder, index_type: str
) -> None:
    docs = make_docs(120)
    emb = Counting(fake_embedder)
    a = Assistant.from_documents(
        docs, index_dir=tmp_path, embedder=emb, progress=False, index_type=index_type
    )
    ann_before = a.index.sentence_vectors.ann
    slots_before = a.index.sentence_vectors.n_slots

    # Adding one document embeds its passages and sentences only.
    emb.texts.clear()
    new = make_docs(1, prefix="new")[0]
    a.add([new])
    one = build([new], fake_embedder, progress=False)
    assert len(emb.texts) == one.n_passages + one.n_sentences
    # Added, not rebuilt: the new vectors are searched exactly until there are many of them.
    assert a.index.sentence_vectors.ann is ann_before
    assert a.index.sentence_vectors.n_slots == slots_before + one.n_sentences
    # BM25 and the vectors are in step with the spans: the new document is found both ways.
    assert a.search("zqnew0x1")[0].document == "new-0"
    row = int(np.flatnonzero(a.index.sent_doc == a.index.doc_position["new-0"])[0])
    _, ids = a.index.sentence_vectors.search(a.index.sentence_vectors_of([row]), 1)
    assert ids[0, 0] == row

    # Changing a document re-embeds that document only.
    emb.texts.clear()
    changed = Document(
        id="doc-5", text="A wholly rewritten text about zqchanged walruses.", title="Changed"
    )
    a.add([changed])
    assert len(emb.texts) == 2  # one passage, one sentence
    assert a.search("zqchanged")[0].document == "doc-5"
    assert all(c.document != "doc-5" for c in a.search("zqdoc5x1"))

    # Removing embeds nothing, and the document is gone from every index.
    emb.texts.clear()
    a.remove("doc-9")
    assert emb.texts == []
    assert all(c.document != "doc-9" for c in a.search("zqdoc9x0 lantern"))
    _, ids = a.index.sentence_vectors.search(fake_embedder.embed(["zqdoc9x0"]), 50)
    assert (ids < a.index.n_sentences).all()

    # The saved index is the updated one, and unchanged documents kept their exact vectors.
    b = Assistant.load(tmp_path, embedder=fake_embedder)
    assert_same_index(a.index, b.index)
    fresh = build(b.index.documents, fake_embedder, progress=False)
    np.testing.assert_allclose(
        b.index.sentence_vectors_of(np.arange(b.index.n_sentences)),
        fresh.sentence_vectors_of(np.arange(fresh.n_sentences)),
        atol=1e-6,
    )


def test_rerun_on_unchanged_documents_embeds_nothing_and_keeps_the_version(
    tmp_path: Path, fake_embedder
) -> None:
    docs = make_docs(30)
    Assistant.from_documents(docs, index_dir=tmp_path, embedder=fake_embedder, progress=False)
    version = store.current_version(tmp_path)
    emb = Counting(fake_embedder)
    a = Assistant.from_documents(iter(docs), index_dir=tmp_path, embedder=emb, progress=False)
    assert emb.texts == [] and store.current_version(tmp_path) == version
    assert a.index.n_passages > 0


@pytest.mark.parametrize("counting", [Counting, CountingTokens])
def test_interrupted_build_resumes_and_re_embeds_at_most_the_batch_in_flight(
    tmp_path: Path, fake_embedder, counting: type[Counting]
) -> None:
    """With token vectors too: they are staged with their batch (a resumed build used to
    embed every staged sentence again for them)."""
    docs = make_docs(200)
    total = build(docs, counting(fake_embedder), progress=False)
    n_texts = total.n_passages + total.n_sentences
    batch = 300
    staging = tmp_path / ".staging"
    first = counting(fake_embedder, fail_after=n_texts // 2)
    with pytest.raises(KeyboardInterrupt):
        build(iter(docs), first, progress=False, staging=staging, batch_texts=batch)
    second = counting(fake_embedder)
    index = build(iter(docs), second, progress=False, staging=staging, batch_texts=batch)
    assert_same_index(index, total)
    again = set(first.texts) & set(second.texts)
    assert len(second.texts) < n_texts - n_texts // 2 + batch + 20
    # Only texts of the batch in flight (the one the kill interrupted) are embedded twice.
    assert len(again) <= batch + 20
    assert len(first.texts) + len(second.texts) <= n_texts + batch + 20
    assert list(staging.glob("b-*.json"))  # build leaves staging to the caller that saves
    if counting is CountingTokens:
        assert list(staging.glob("b-*-tokens.npz"))
        assert index.tokens is not None and total.tokens is not None
        np.testing.assert_array_equal(index.tokens.offsets, total.tokens.offsets)
        # The same as the vectors' 1e-6 above: embedded in batches of other sizes, a token's
        # vector may differ in its last bits, enough to round to the next 8-bit code.
        codes, fresh_codes = (t.codes.astype(np.int16) for t in (index.tokens, total.tokens))
        np.testing.assert_allclose(codes, fresh_codes, rtol=0, atol=1)


def test_staged_vectors_without_their_token_vectors_only_cost_the_token_vectors(
    tmp_path: Path, fake_embedder
) -> None:
    docs = make_docs(50)
    staging = tmp_path / ".staging"
    first = CountingTokens(fake_embedder, fail_after=10**9)
    total = build(iter(docs), first, progress=False, staging=staging, batch_texts=100)
    for i, f in enumerate(staging.glob("b-*-tokens.npz")):
        f.write_bytes(b"damaged" if i % 2 else f.read_bytes()[:100])  # cut short: a bad zip
    second = CountingTokens(fake_embedder)
    index = build(iter(docs), second, progress=False, staging=staging, batch_texts=100)
    assert len(second.texts) == total.n_sentences  # the passages' vectors were staged
    assert index.tokens is not None and total.tokens is not None
    np.testing.assert_array_equal(index.tokens.codes, total.tokens.codes)


def test_resume_through_the_assistant_and_staging_is_cleared(tmp_path: Path, fake_embedder) -> None:
    docs = make_docs(1200, sentences=3)
    n = build(docs, fake_embedder, progress=False)
    n_texts = n.n_passages + n.n_sentences
    first = Counting(fake_embedder, fail_after=n_texts - 100)
    with pytest.raises(KeyboardInterrupt):
        Assistant.from_documents(docs, index_dir=tmp_path, embedder=first, progress=False)
    assert n_texts > 2 * 2048
    assert store.current_version(tmp_path) is None
    assert len(list((tmp_path / ".staging").glob("b-*.json"))) == 2
    second = Counting(fake_embedder)
    a = Assistant.from_documents(docs, index_dir=tmp_path, embedder=second, progress=False)
    # Two whole 2048-text batches were kept; only the rest is embedded.
    assert len(second.texts) == n_texts - len(first.texts) + (len(first.texts) - 2 * 2048)
    assert len(second.texts) < n_texts - 2 * 2048 + 100
    assert not (tmp_path / ".staging").exists()
    assert_same_index(a.index, n)


def test_a_save_clears_what_a_killed_build_left_unless_another_build_is_under_way(
    tmp_path: Path, fake_embedder
) -> None:
    """A killed build's batches, for documents the next build did not index, stayed in
    .staging for good (5 MB for 2,000 short records; gigabytes for a large corpus)."""
    left = Staging(tmp_path / ".staging", fake_embedder, ChunkParams())
    left.put([("other", "h", 1, 1)], np.ones((2, fake_embedder.dim), dtype=np.float32))
    left.release()  # killed: it never discards, and its process's lock is gone
    docs = [Document("a.txt", "The ferry leaves at noon.")]
    Assistant.from_documents(docs, index_dir=tmp_path, embedder=fake_embedder, progress=False)
    assert not (tmp_path / ".staging").exists()
    # A build under way in another process (here, a Staging still open) keeps its batches.
    live = Staging(tmp_path / ".staging", fake_embedder, ChunkParams())
    live.put([("other", "h", 1, 1)], np.ones((2, fake_embedder.dim), dtype=np.float32))
    docs.append(Document("b.txt", "The bus leaves at one."))
    Assistant.from_documents(docs, index_dir=tmp_path, embedder=fake_embedder, progress=False)
    assert Staging(tmp_path / ".staging", fake_embedder, ChunkParams()).docs
    live.discard()
    assert not (tmp_path / ".staging").exists()


def test_staging_of_another_model_is_discarded(tmp_path: Path, fake_embedder) -> None:
    s = Staging(tmp_path, fake_embedder, ChunkParams())
    s.put([("a", "h", 1, 1)], np.ones((2, fake_embedder.dim), dtype=np.float32))
    assert Staging(tmp_path, fake_embedder, ChunkParams()).get("a", "h", 1, 1) is not None
    assert Staging(tmp_path, fake_embedder, ChunkParams(max_words=50)).get("a", "h", 1, 1) is None


def test_load_checks_sizes_always_and_hashes_big_files_only_when_asked(
    tmp_path: Path, fake_embedder, monkeypatch
) -> None:
    Assistant.from_documents(
        make_docs(40), index_dir=tmp_path, embedder=fake_embedder, progress=False
    )
    version = store.current_version(tmp_path)
    assert version is not None
    (vectors,) = version.glob("sentences-*.npy")
    data = bytearray(vectors.read_bytes())
    data[-5] ^= 0xFF  # same size, different bytes
    vectors.write_bytes(bytes(data))
    with pytest.raises(IndexIntegrityError, match="checksum"):
        store.load(tmp_path, fake_embedder)  # a small index is hashed in full
    monkeypatch.setattr(store, "VERIFY_MAX_BYTES", 1000)
    store.load(tmp_path, fake_embedder)  # big files: sizes only, so start-up stays short
    with pytest.raises(IndexIntegrityError, match="checksum"):
        store.load(tmp_path, fake_embedder, verify=True)
    with pytest.raises(IndexIntegrityError, match="checksum"):
        store.verify(tmp_path)
    vectors.write_bytes(bytes(data[:-4]))
    with pytest.raises(
        IndexIntegrityError, match=f"has {len(data) - 4:,} bytes where {len(data):,}"
    ):
        store.load(tmp_path, fake_embedder, verify=False)
    vectors.write_bytes(bytes(data) + b"x")  # grown, not truncated
    with pytest.raises(IndexIntegrityError, match=f"has {len(data) + 1:,} bytes"):
        store.verify(tmp_path)
    vectors.unlink()
    with pytest.raises(IndexIntegrityError, match="is missing"):
        store.verify(tmp_path)


def test_manifest_records_vector_parameters(tmp_path: Path, fake_embedder) -> None:
    Assistant.from_documents(
        make_docs(150),
        index_dir=tmp_path,
        embedder=fake_embedder,
        progress=False,
        index_type="hnsw",
    )
    version = store.current_version(tmp_path)
    assert version is not None
    manifest = json.loads((version / "manifest.json").read_text())
    p = manifest["vectors"]["sentences"]
    assert p["kind"] == "hnsw" and p["m"] > 0 and p["ef_search"] > 0 and p["dead_slots"] == 0
    assert manifest["index_type"] == "hnsw"
    files = {
        f"sentences-{p['segments'][0]}.npy",
        f"sentences-{p['ann']}.faiss",
        "sentences.slots.npy",
    }
    assert files <= set(manifest["files"])


def test_bm25_after_updates_equals_bm25_built_from_scratch(tmp_path: Path, fake_embedder) -> None:
    docs = make_docs(60)
    a = Assistant.from_documents(docs, index_dir=tmp_path, embedder=fake_embedder, progress=False)
    text = "Brand new words: xylophone quokka. And lantern again."
    a.add([Document(id="extra", text=text, title="Xylo")])
    a.remove("doc-3")
    a = Assistant.load(tmp_path, embedder=fake_embedder)
    fresh = build(a.index.documents, fake_embedder, progress=False)
    for query in (["lantern"], ["xylophon", "quokka"], ["zqdoc3x1"], ["titl", "item"]):
        for unit in ("sentence_bm25", "passage_bm25"):
            got, want = getattr(a.index, unit), getattr(fresh, unit)
            np.testing.assert_allclose(got.scores(query), want.scores(query), rtol=1e-5)
            assert got.idf(query[0]) == pytest.approx(want.idf(query[0]))


@pytest.mark.parametrize("units", [[], [[]], [["a", "b", "a"], [], ["b"]], [["x"] * 5, ["y"]]])
def test_bm25_matches_bm25s(units: list[list[str]]) -> None:
    import bm25s

    from qa.lexical import Lexical

    lex = Lexical.build(units)
    ref = bm25s.BM25(k1=1.2, b=0.75)
    ref.index([u or [""] for u in units] or [[""]], show_progress=False)
    for term in ("a", "b", "x", "y", "zzz"):
        got = lex.scores([term])
        want = np.zeros(len(units), dtype=np.float32)
        if term in ref.vocab_dict:
            want = np.asarray(ref.get_scores_from_ids([ref.vocab_dict[term]]))[: len(units)]
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


def test_a_new_way_of_cutting_terms_re_cuts_terms_and_embeds_nothing(
    tmp_path: Path, fake_embedder, monkeypatch
) -> None:
    # An index saved when terms were cut another way: here, before accents were composed,
    # so a decomposed "Zu\u0308rich" was two words.
    docs = make_docs(12) + [Document(id="nfd", text="Offices in Zu\u0308rich closed.")]
    old_params = ChunkParams(terms_version="older")
    monkeypatch.setattr("qa.index.terms", lambda text: re.findall(r"\w+", text.lower()))
    old = build(docs, fake_embedder, params=old_params, progress=False)
    store.save(old, tmp_path, fake_embedder, sources=[])
    monkeypatch.undo()
    assert store.load(tmp_path, fake_embedder).params.terms_version == "older"

    emb = Counting(fake_embedder)
    a = Assistant.from_documents(docs, index_dir=tmp_path, embedder=emb, progress=False)
    assert emb.texts == []  # the spans are the same, so every vector is reused
    assert a.index.params == ChunkParams()
    assert a.search("Zürich", k=1)[0].document == "nfd"
    fresh = build(docs, fake_embedder, progress=False)
    assert_same_index(a.index, fresh)
    query = ["zürich", "offic", "item"]
    for lex, new in ((a.index.sentence_bm25, fresh.sentence_bm25),
                     (a.index.passage_bm25, fresh.passage_bm25)):  # fmt: skip
        np.testing.assert_allclose(lex.scores(query), new.scores(query))
    # And it was saved so: the next run loads it as it is.
    emb.texts.clear()
    b = Assistant.from_documents(docs, index_dir=tmp_path, embedder=emb, progress=False)
    assert emb.texts == [] and b.index.params == ChunkParams()


@pytest.mark.parametrize(
    ("setting", "text", "sentence"),
    [
        # Cut with list markers inside sentences.
        ("list_items", "Plans:\n1. Replace the van.\n2. Open a branch.", "Replace the van."),
        # Cut without mending blingfire's slips.
        ("mended", "Northwind was founded in 2016. 410 people work there.", "410 people work there."),
    ],
)  # fmt: skip
def test_an_index_cut_before_a_chunking_setting_is_re_cut(
    tmp_path: Path, fake_embedder, setting: str, text: str, sentence: str
) -> None:
    """A manifest without a chunking setting was cut without it: it loads as such, and opening
    it re-cuts; only a document whose spans change is embedded again."""
    docs = [
        Document(id="changed", text=text),
        Document(id="plain", text="The van is old. A branch opens in May."),
    ]
    old = build(docs, fake_embedder, params=ChunkParams(**{setting: False}), progress=False)
    new = build(docs, fake_embedder, progress=False)
    assert old.n_sentences != new.n_sentences
    store.save(old, tmp_path, fake_embedder, sources=[])
    path = tmp_path / (tmp_path / "CURRENT").read_text().strip() / "manifest.json"
    manifest = json.loads(path.read_text())
    del manifest["chunking"][setting]
    path.write_text(json.dumps(manifest))
    assert getattr(store.load(tmp_path, fake_embedder).params, setting) is False

    emb = Counting(fake_embedder)
    a = Assistant.from_documents(docs, index_dir=tmp_path, embedder=emb, progress=False)
    assert sentence in emb.texts and "The van is old." not in emb.texts
    assert sentence in [a.index.sentence_text(s) for s in range(a.index.n_sentences)]
    assert_same_index(a.index, new)
    assert store.load(tmp_path, fake_embedder).params == ChunkParams()


def test_progress_counts_only_what_an_update_embeds(fake_embedder) -> None:
    a = Assistant.from_documents(make_docs(10), embedder=fake_embedder, progress=False)
    big = make_docs(1, sentences=400, prefix="big")[0]
    reports: list[tuple[int, int]] = []
    a.add([big], progress=False, on_progress=lambda done, total: reports.append((done, total)))
    n_big = build([big], fake_embedder, progress=False).n_passages
    # The ten unchanged documents are not counted, so the share done never falls back.
    assert reports[-1] == (n_big, n_big)
    shares = [done / total for done, total in reports]
    assert shares == sorted(shares) and len(set(shares)) > 2


def test_staged_batches_outlive_a_new_way_of_cutting_terms(tmp_path: Path, fake_embedder) -> None:
    folder = tmp_path / ".staging"
    Staging(folder, fake_embedder, ChunkParams(terms_version="old")).put(
        [("d", "sha", 1, 1)], np.zeros((2, fake_embedder.dim), dtype=np.float32)
    )
    assert Staging(folder, fake_embedder, ChunkParams(terms_version="new")).docs
    assert not Staging(folder, fake_embedder, ChunkParams(max_words=7)).docs  # cut otherwise


def test_an_update_of_an_index_with_older_terms_cuts_them_all_anew(
    tmp_path: Path, fake_embedder, monkeypatch
) -> None:
    docs = make_docs(8) + [Document(id="nfd", text="Offices in Zu\u0308rich closed.")]
    monkeypatch.setattr("qa.index.terms", lambda text: re.findall(r"\w+", text.lower()))
    old = build(docs, fake_embedder, params=ChunkParams(terms_version="older"), progress=False)
    store.save(old, tmp_path, fake_embedder, sources=[])
    monkeypatch.undo()

    emb = Counting(fake_embedder)
    a = Assistant.load(tmp_path, embedder=emb)  # as `qa serve` opens it
    new = Document(id="new", text="A ferry leaves for zqferry at noon.")
    a.add([new], progress=False)
    assert emb.texts == ["A ferry leaves for zqferry at noon."] * 2  # its passage and sentence
    assert a.index.params == ChunkParams()
    fresh = build([*docs, new], fake_embedder, progress=False)
    query = ["zürich", "ferri", "item"]
    np.testing.assert_allclose(
        a.index.sentence_bm25.scores(query), fresh.sentence_bm25.scores(query)
    )


class Renamed(Embedder):
    """The fake embedder under another name or with other weights."""

    def __init__(self, inner: Embedder, name: str, fingerprint: str) -> None:
        self.inner, self.name, self.fingerprint, self.dim = inner, name, fingerprint, inner.dim

    def embed(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        return self.inner.embed(texts, batch_size=batch_size)


@pytest.mark.parametrize(
    "name, fingerprint, said",
    [
        ("other/model", "hash-64-v1",
         "built with the embedding model test/hash-embedder, and this qa uses other/model"),
        ("test/hash-embedder", "retrained",
         "built with other weights of the embedding model test/hash-embedder than this qa has"),
    ],
)  # fmt: skip
def test_an_index_of_another_model_names_both_models(
    tmp_path: Path, fake_embedder, name: str, fingerprint: str, said: str
) -> None:
    store.save(build(make_docs(2), fake_embedder, progress=False), tmp_path, fake_embedder,
               sources=["docs"])  # fmt: skip
    with pytest.raises(IndexIntegrityError) as caught:
        store.load(tmp_path, Renamed(fake_embedder, name, fingerprint))
    assert str(caught.value) == (
        f"the index in {tmp_path} was {said}; rebuild it with `qa index docs --index-dir {tmp_path}`"
    )


def test_the_rebuild_command_works_from_another_folder(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    here = str(tmp_path.resolve())
    assert store.index_command(["d", "/abs/e f"], here) == "qa index d '/abs/e f'"
    assert store.index_command(["d"], None) == "qa index d"  # saved before qa kept its folder
    assert store.index_command(["../d"], "/x/y") == "qa index /x/d"
    assert store.index_command([], "/x/y") == "qa index PATH..."


def test_an_index_folder_that_is_a_file_is_called_one(tmp_path: Path, fake_embedder) -> None:
    afile = tmp_path / "afile"
    afile.write_text("")
    for directory in (afile, afile / "sub"):
        with pytest.raises(QAError, match=f"^{afile} is a file, not a folder; choose another"):
            store.check_writable(directory)
        with pytest.raises(QAError, match=f"^{afile} is a file, not a folder"):
            store.save(build(make_docs(1), fake_embedder, progress=False), directory,
                       fake_embedder, sources=[])  # fmt: skip
    assert afile.read_text() == ""


def test_a_folder_that_cannot_be_looked_into_keeps_the_write_error(tmp_path, monkeypatch):
    # A parent we may not search (EACCES on stat) must not turn the message into a traceback.
    def refused(self: Path) -> bool:
        raise PermissionError(13, "Permission denied", str(self))

    (tmp_path / "locked").write_text("")  # so that writing below it fails
    monkeypatch.setattr(Path, "exists", refused)
    with pytest.raises(QAError, match="^cannot write the index in .*; choose another --index-dir"):
        store.check_writable(tmp_path / "locked" / "index")


@pytest.mark.parametrize(
    "damage",
    [
        lambda m: next(iter(m["files"].values())).pop("sha256"),  # "sha256", a byte flipped
        lambda m: next(iter(m["files"].values())).update(bytes="12"),
        lambda m: m["files"].update({next(iter(m["files"])): None}),
        lambda m: m.update(files=[]),
        lambda m: m.update(model="x"),
        lambda m: m.update(tokens="x"),
        lambda m: m.update(added=5),
        lambda m: m.update(format_version="3"),
    ],
)
def test_a_manifest_damaged_but_still_json_is_refused(tmp_path: Path, fake_embedder, damage):
    """A byte flipped in manifest.json can leave valid JSON with a key renamed or a value of
    another kind: the index is refused with the command to rebuild it, not with a KeyError or
    an AttributeError, and building it again mends it."""
    docs = make_docs(3)
    Assistant.from_documents(docs, index_dir=tmp_path, embedder=fake_embedder, progress=False)
    path = store.current_version(tmp_path) / "manifest.json"
    manifest = json.loads(path.read_text())
    damage(manifest)
    path.write_text(json.dumps(manifest))
    with pytest.raises(IndexIntegrityError, match="damaged.*rebuild it with"):
        store.load(tmp_path, fake_embedder)
    Assistant.from_documents(docs, index_dir=tmp_path, embedder=fake_embedder, progress=False)
    store.load(tmp_path, fake_embedder, verify=True)


def test_a_current_pointer_that_is_not_text_names_no_index(tmp_path: Path, fake_embedder) -> None:
    Assistant.from_documents(make_docs(2), index_dir=tmp_path, embedder=fake_embedder)
    (tmp_path / "CURRENT").write_bytes(b"\xff\xfe")
    assert store.current_version(tmp_path) is None
    with pytest.raises(QAError, match="no index"):
        Assistant.load(tmp_path, embedder=fake_embedder)


def test_a_current_pointer_to_a_deleted_version_says_so(tmp_path: Path, fake_embedder) -> None:
    """It said "no index in ...", of a folder with a CURRENT and an index's files."""
    import shutil

    Assistant.from_documents(make_docs(2), index_dir=tmp_path, embedder=fake_embedder)
    version = store.current_version(tmp_path)
    assert version is not None
    shutil.rmtree(version)
    with pytest.raises(QAError, match=f"missing its folder {version.name}, which CURRENT names"):
        Assistant.load(tmp_path, embedder=fake_embedder)
    Assistant.from_documents(make_docs(2), index_dir=tmp_path, embedder=fake_embedder)
    assert store.load(tmp_path, fake_embedder).n_passages == 2


def test_a_users_file_beside_current_is_never_written(tmp_path: Path, fake_embedder) -> None:
    """CURRENT was switched through a ".CURRENT.tmp" beside it: in an index folder that is
    also the user's, a file of theirs by that name was written over."""
    (tmp_path / ".CURRENT.tmp").write_text("my draft")
    for n in (2, 3):
        Assistant.from_documents(make_docs(n), index_dir=tmp_path, embedder=fake_embedder)
    assert (tmp_path / ".CURRENT.tmp").read_text() == "my draft"
    assert store.load(tmp_path, fake_embedder, verify=True).n_passages == 3
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == [
        ".CURRENT.tmp", ".lock", "CURRENT"
    ]  # fmt: skip


def test_a_rebuild_does_not_share_a_damaged_file(tmp_path: Path, fake_embedder) -> None:
    """A byte flipped in documents.jsonl (its size kept) is caught at load; the rebuild that
    the message asks for wrote a new version that hard-linked the same damaged file."""
    docs = make_docs(3)
    Assistant.from_documents(docs, index_dir=tmp_path, embedder=fake_embedder, progress=False)
    texts = store.current_version(tmp_path) / "documents.jsonl"
    data = bytearray(texts.read_bytes())
    data[20] ^= 1
    texts.write_bytes(bytes(data))
    with pytest.raises(IndexIntegrityError, match="altered"):
        store.load(tmp_path, fake_embedder)
    Assistant.from_documents(docs, index_dir=tmp_path, embedder=fake_embedder, progress=False)
    store.load(tmp_path, fake_embedder, verify=True)


def test_a_version_deleted_while_it_is_listed_is_read_again(
    tmp_path: Path, fake_embedder, monkeypatch
) -> None:
    """A writer may delete the old version while a reader lists its files: the reader loads the
    new version (CI once saw a bare FileNotFoundError from the walk)."""
    docs = make_docs(6)
    Assistant.from_documents(docs, index_dir=tmp_path, embedder=fake_embedder, progress=False)
    old = store.current_version(tmp_path)
    walk = Path.rglob
    calls = [0]

    def vanishing(self: Path, pattern: str):
        calls[0] += 1
        if calls[0] == 1:  # the writer switches versions and deletes the old one mid-walk
            Assistant.from_documents(
                docs[:3], index_dir=tmp_path, embedder=fake_embedder, progress=False
            )
            raise FileNotFoundError(2, "No such file or directory", str(self / "bm25-sentences"))
        return walk(self, pattern)

    monkeypatch.setattr(Path, "rglob", vanishing)
    index = store.load(tmp_path, fake_embedder)
    assert store.current_version(tmp_path) != old and len(index.documents) == 3

    def unlistable(self: Path, pattern: str):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "rglob", unlistable)
    with pytest.raises(IndexIntegrityError, match="cannot be listed"):
        store.verify(tmp_path)  # with no new version to turn to: a message, and `qa index`
