"""Token vectors: codes and features, kept by builds and updates, saved and loaded."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from conftest import HashEmbedder
from test_store import Counting, make_docs

from qa import store
from qa.assistant import Assistant
from qa.embed import Tokens
from qa.index import build
from qa.ingest import Document
from qa.tokens import DIM, TokenVectors, basis, is_content, quantise, question_vectors


class TokenHashEmbedder(HashEmbedder):
    """The hash embedder, plus one 384-d hashed vector per word as its "token vectors"."""

    name = "test/hash-embedder-tokens"
    fingerprint = "hash-64-tokens-v1"
    has_tokens = True

    def __init__(self) -> None:
        self.token_calls = 0

    def embed_with_tokens(
        self, texts: Sequence[str], *, batch_size: int = 32
    ) -> tuple[np.ndarray, list[Tokens] | None]:
        self.token_calls += len(texts)
        found = []
        for text in texts:
            words = text.lower().split() or ["."]
            vecs = np.stack([_word_vector(w) for w in words])
            found.append(Tokens(words, vecs))
        return self.embed(texts, batch_size=batch_size), found


def _word_vector(word: str) -> np.ndarray:
    seed = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "little")
    return np.random.default_rng(seed).standard_normal(384).astype(np.float32)


class CountingTokens(Counting):
    has_tokens = True

    def embed_with_tokens(self, texts, *, batch_size=32):
        self.embed(texts)  # counted (and can fail) like embed
        return self.inner.embed_with_tokens(texts, batch_size=batch_size)


@pytest.fixture
def token_embedder() -> TokenHashEmbedder:
    return TokenHashEmbedder()


def test_quantised_codes_keep_the_direction() -> None:
    rng = np.random.default_rng(0)
    unit = rng.standard_normal((50, DIM)).astype(np.float32)
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    codes = quantise(unit)
    assert codes.dtype == np.int8
    back = codes.astype(np.float32)
    back /= np.linalg.norm(back, axis=1, keepdims=True)
    assert (np.sum(unit * back, axis=1) > 0.999).all()
    assert quantise(np.zeros((0, DIM))).shape == (0, DIM)


def test_features_measure_how_well_each_question_word_is_matched() -> None:
    rng = np.random.default_rng(1)
    words = rng.standard_normal((3, DIM)).astype(np.float32)
    words /= np.linalg.norm(words, axis=1, keepdims=True)
    tv = TokenVectors.of([quantise(words), quantise(words[:1]), quantise(words[:0])])
    f = tv.features(words[:2], np.array([0, 1, 2]))
    # Sentence 0 holds both question words: every best match is ~1.
    assert f[0, 0] == pytest.approx(1.0, abs=1e-3) and f[0, 1] == pytest.approx(1.0, abs=1e-3)
    assert f[0, 2] == 0.0
    # Sentence 1 holds one of them: the other's best match is poor.
    assert f[1, 1] < 0.5 and f[1, 2] == 0.5
    # An empty sentence gives zeros, not an error.
    assert (f[2] == 0).all()


def test_save_load_round_trip_and_damage_is_refused(tmp_path: Path) -> None:
    tv = TokenVectors.of([np.ones((3, DIM), np.int8), np.zeros((0, DIM), np.int8)])
    tv.save(tmp_path / "t.npz")
    back = TokenVectors.load(tmp_path / "t.npz")
    np.testing.assert_array_equal(back.offsets, tv.offsets)
    np.testing.assert_array_equal(back.codes, tv.codes)
    np.savez(tmp_path / "bad.npz", offsets=np.array([0, 5]), codes=np.ones((3, DIM), np.int8))
    with pytest.raises(ValueError):
        TokenVectors.load(tmp_path / "bad.npz")


def test_question_vectors_use_content_wordpieces() -> None:
    assert is_content("heads") and is_content("##ati")
    assert not is_content("the") and not is_content("?")
    words = ["who", "heads", "the", "group", "?"]
    vecs = np.stack([_word_vector(w) for w in words])
    q = question_vectors(words, vecs)
    assert q.shape == (2, DIM)
    np.testing.assert_allclose(np.linalg.norm(q, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(q[0], basis().project(vecs[1:2])[0], atol=1e-6)


def test_build_keeps_one_row_of_tokens_per_sentence(token_embedder) -> None:
    docs = make_docs(5)
    index = build(docs, token_embedder, progress=False)
    assert index.tokens is not None and index.tokens.n_sentences == index.n_sentences
    for s in range(index.n_sentences):
        assert len(index.tokens.sentence(s)) == len(index.sentence_text(s).split())
    # An embedder without token vectors builds without them.
    assert build(docs, HashEmbedder(), progress=False).tokens is None


def test_large_collections_do_without_tokens(token_embedder, monkeypatch) -> None:
    monkeypatch.setattr("qa.index.MAX_SENTENCES", 30)
    index = build(make_docs(10), token_embedder, progress=False)
    assert index.n_sentences > 30 and index.tokens is None


def test_updates_keep_tokens_equal_to_a_fresh_build(tmp_path: Path, token_embedder) -> None:
    docs = make_docs(20)
    emb = CountingTokens(token_embedder)
    a = Assistant.from_documents(docs, index_dir=tmp_path, embedder=emb, progress=False)
    emb.texts.clear()
    new = make_docs(1, prefix="new")[0]
    a.add([new, Document(id="doc-3", text="A rewritten text about walruses.")])
    a.remove("doc-7")
    # Only the new and changed documents were embedded.
    assert all("zqnew0" in t or "walruses" in t or t.startswith("Title 0") for t in emb.texts)
    fresh = build(a.index.documents, token_embedder, progress=False)
    assert a.index.tokens is not None and fresh.tokens is not None
    np.testing.assert_array_equal(a.index.tokens.offsets, fresh.tokens.offsets)
    np.testing.assert_array_equal(a.index.tokens.codes, fresh.tokens.codes)
    loaded = Assistant.load(tmp_path, embedder=token_embedder).index
    assert loaded.tokens is not None
    np.testing.assert_array_equal(loaded.tokens.codes, fresh.tokens.codes)


def test_an_index_saved_without_tokens_gets_them_at_the_next_build(
    tmp_path: Path, token_embedder
) -> None:
    docs = make_docs(6)
    Assistant.from_documents(docs, index_dir=tmp_path, embedder=token_embedder, progress=False)
    version = store.current_version(tmp_path)
    assert version is not None
    # As if made with another token basis: its tokens are not used...
    path = version / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["tokens"]["basis"] = "another"
    path.write_text(json.dumps(manifest))
    assert store.load(tmp_path, token_embedder).tokens is None
    # ...and the next build makes them anew, without re-embedding the vectors' texts twice.
    emb = CountingTokens(token_embedder)
    a = Assistant.from_documents(docs, index_dir=tmp_path, embedder=emb, progress=False)
    assert a.index.tokens is not None
    assert len(emb.texts) == a.index.n_sentences  # the sentences, for their tokens only
    assert store.load(tmp_path, token_embedder).tokens is not None


def test_a_build_resumed_from_staging_has_every_sentence_tokens(
    tmp_path: Path, token_embedder
) -> None:
    docs = make_docs(200)
    fresh = build(docs, token_embedder, progress=False)
    n_texts = fresh.n_passages + fresh.n_sentences
    first = CountingTokens(token_embedder, fail_after=n_texts // 2)
    with pytest.raises(KeyboardInterrupt):
        build(iter(docs), first, progress=False, staging=tmp_path, batch_texts=300)
    index = build(iter(docs), token_embedder, progress=False, staging=tmp_path, batch_texts=300)
    assert index.tokens is not None and fresh.tokens is not None
    np.testing.assert_array_equal(index.tokens.offsets, fresh.tokens.offsets)
    np.testing.assert_array_equal(index.tokens.codes, fresh.tokens.codes)


@pytest.mark.model
def test_the_real_model_gives_the_same_vectors_with_its_tokens(real_embedder) -> None:
    texts = ["Who heads the rights group Free Buryatia?", "x", "The head of Free Buryatia."]
    vectors, found = real_embedder.embed_with_tokens(texts)
    np.testing.assert_allclose(vectors, real_embedder.embed(texts), atol=1e-6)
    assert found is not None and [t.words[:2] for t in found][0] == ["who", "heads"]
    assert all(len(t.words) == len(t.vectors) for t in found)


@pytest.mark.model
def test_the_seed_article_is_scored_with_token_features(real_embedder) -> None:
    from conftest import SEEDS

    from qa.answer import TOKEN_SENTENCE_FEATURES
    from qa.followup import resolve

    a = Assistant.from_paths([SEEDS], embedder=real_embedder, progress=False)
    assert a.index.tokens is not None and a.model.tokens is not None
    scored = a._score(resolve("Who heads the rights group Free Buryatia?", None))
    assert scored.model is a.model.tokens
    assert scored.features.shape[1] == len(TOKEN_SENTENCE_FEATURES)
    # "heads" finds its counterpart in "The head of Free Buryatia, ...": the question's
    # words are matched there better than in most candidates.
    rows = scored.features[scored.order]
    texts = [a.index.sentence_text(int(s)) for s in scored.sentences]
    best = next(i for i, t in enumerate(texts) if "The head of Free Buryatia" in t)
    tok_mean = rows[:, -4]
    assert tok_mean[best] > np.quantile(tok_mean, 0.75)
