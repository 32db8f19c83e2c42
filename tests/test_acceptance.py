"""Acceptance figures on ../shared/eval with the real model (issue 2: cited-answer engine).

Each figure of the issue is its own test, asserted at the issue's value. Figures the engine
does not reach yet are marked xfail with the measured value in the reason: they still run,
and an XPASS shows when one is reached. These build real indexes: seconds for the article,
minutes for SQuAD, and about twenty minutes for SciFact the first time (cached in
~/.cache/qa/eval afterwards).
"""

from __future__ import annotations

import pytest
from conftest import SEEDS, SHARED_EVAL

from qa import Assistant
from qa.evaluate import article_qa, beir, eval_cache_dir, squad

pytestmark = [pytest.mark.model, pytest.mark.acceptance]


def _need(path):
    if not path.exists():
        pytest.skip(f"{path} not found (set QA_SHARED_EVAL)")
    return path


def not_yet(measured: str):
    return pytest.mark.xfail(reason=f"not reached yet: measured {measured}", strict=False)


@pytest.fixture(scope="module")
def article(real_embedder):
    assistant = Assistant.from_paths([SEEDS], embedder=real_embedder, progress=False)
    metrics, details = article_qa(_need(SHARED_EVAL / "article_qa_dev.jsonl"), assistant)
    print("article dev set:", metrics)
    return metrics, {row["id"]: answer for row, answer in details}


@pytest.fixture(scope="module")
def squad_metrics(real_embedder):
    metrics = squad(
        _need(SHARED_EVAL / "squad2" / "dev-articles.json"),
        lambda docs: Assistant.from_documents(docs, embedder=real_embedder, progress=False),
        progress=False,
    )
    print("SQuAD 2.0 dev articles:", metrics)
    return metrics


def test_article_set_is_complete(article):
    assert article[0]["answerable"] == 17 and article[0]["unanswerable"] == 5


@not_yet("15 of 17")
def test_article_top_citation_holds_the_evidence(article):
    assert article[0]["top1"] >= 16


def test_article_top3_citations_hold_the_evidence(article):
    assert article[0]["top3"] == 17


def test_article_abstains_on_unanswerable(article):
    assert article[0]["abstained_unanswerable"] >= 4


def test_article_rarely_abstains_wrongly(article):
    assert article[0]["wrongly_abstained"] <= 1


def test_article_followup_is_answered(article):
    assert not article[1]["d17"].abstained


def test_article_followup_cites_the_answer(article):
    assert "Belarus" in article[1]["d17"].citations[0].text


def test_squad_top_citation(squad_metrics):
    assert squad_metrics["top1_rate"] >= 0.80


def test_squad_top3_citations(squad_metrics):
    assert squad_metrics["top3_rate"] >= 0.93


def test_squad_excerpts_are_short(squad_metrics):
    assert squad_metrics["excerpt_chars_mean"] <= 250


@not_yet("ROC AUC 0.737 (0.697 held out per article before the rule on names that clash)")
def test_squad_confidence_separates_answerable(squad_metrics):
    assert squad_metrics["auc"] >= 0.75


def test_scifact_train_ndcg(real_embedder):
    folder = _need(SHARED_EVAL / "scifact")
    assistant = Assistant.from_paths(
        [folder / "corpus.jsonl"], index_dir=eval_cache_dir("beir-scifact"), embedder=real_embedder
    )
    metrics = beir(folder, assistant)
    print("SciFact train:", metrics)
    assert metrics["queries"] == 809
    assert metrics["ndcg@10"] >= 0.69
