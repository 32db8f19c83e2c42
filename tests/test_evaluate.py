"""Evaluation metrics and the BEIR qrels reader."""

import pytest

from qa.errors import QAError
from qa.evaluate import beir_qrels, ndcg_at_10, roc_auc


def test_ndcg_counts_a_repeated_document_once():
    assert ndcg_at_10(["a", "a", "a"], {"a": 1}) == pytest.approx(1.0)
    assert ndcg_at_10(["x", "a"], {"a": 1}) == pytest.approx(1 / 1.5849625007211563)
    assert ndcg_at_10(["x"], {}) == 0.0


def test_roc_auc_of_ties_is_a_half():
    assert roc_auc([0.5, 0.5, 0.5, 0.5], [True, False, True, False]) == pytest.approx(0.5)
    assert roc_auc([0.9, 0.1], [True, False]) == pytest.approx(1.0)


def test_qrels_with_or_without_a_header_and_blank_lines(tmp_path):
    (tmp_path / "qrels").mkdir()
    f = tmp_path / "qrels" / "train.tsv"
    f.write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\n\nq1\td2\t2\n")
    assert beir_qrels(tmp_path) == {"q1": {"d1": 1, "d2": 2}}
    f.write_text("q1\td1\t1\n")
    assert beir_qrels(tmp_path) == {"q1": {"d1": 1}}
    f.write_text("q1 d1 1\n")
    with pytest.raises(QAError, match="train.tsv:1"):
        beir_qrels(tmp_path)
