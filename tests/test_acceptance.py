"""Acceptance figures on ../shared/eval with the real model (issue: cited-answer engine).

These build real indexes: seconds for the article, a few minutes for SQuAD, and about
fifteen minutes for SciFact the first time (its index is cached in ~/.cache/qa/eval).
"""

from __future__ import annotations

import pytest
from conftest import SEEDS, SHARED_EVAL

from qa import Assistant
from qa.evaluate import article_qa, beir, squad

pytestmark = [pytest.mark.model, pytest.mark.acceptance]


def _need(path):
    if not path.exists():
        pytest.skip(f"{path} not found (set QA_SHARED_EVAL)")
    return path


@pytest.fixture(scope="module")
def seed_assistant(real_embedder):
    return Assistant.from_paths([SEEDS], embedder=real_embedder, progress=False)


def test_article_dev_set(seed_assistant):
    metrics, details = article_qa(_need(SHARED_EVAL / "article_qa_dev.jsonl"), seed_assistant)
    print(metrics)
    assert metrics["answerable"] == 17 and metrics["unanswerable"] == 5
    assert metrics["top1"] >= 16
    assert metrics["top3"] == 17
    assert metrics["abstained_unanswerable"] >= 4
    assert metrics["wrongly_abstained"] <= 1
    followup = next(answer for row, answer in details if row["id"] == "d17")
    assert not followup.abstained and "Belarus" in followup.citations[0].text


def test_squad2_dev_articles(real_embedder):
    metrics = squad(
        _need(SHARED_EVAL / "squad2" / "dev-articles.json"),
        lambda docs: Assistant.from_documents(docs, embedder=real_embedder, progress=False),
        progress=False,
    )
    print(metrics)
    assert metrics["top1_rate"] >= 0.80
    assert metrics["top3_rate"] >= 0.93
    assert metrics["excerpt_chars_mean"] <= 250
    assert metrics["auc"] >= 0.75


def test_scifact_train_ndcg(real_embedder):
    from qa.evaluate import eval_cache_dir

    folder = _need(SHARED_EVAL / "scifact")
    assistant = Assistant.from_paths(
        [folder / "corpus.jsonl"], index_dir=eval_cache_dir("beir-scifact"), embedder=real_embedder
    )
    metrics = beir(folder, assistant)
    print(metrics)
    assert metrics["queries"] == 809
    assert metrics["ndcg@10"] >= 0.69
