"""Pick the sentences that answer a question, score how sure we are, and cite them.

The sentence scorer and the confidence are two small linear models over features of the
question and each candidate sentence; their weights are learned on ../shared/eval by
`python -m qa.tune` and stored in `qa/weights.json`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np

from .index import Index
from .retrieve import Fusion, Ranked, search_passages, search_sentences
from .text import terms

SENTENCE_FEATURES = (
    "dense", "dense_gap", "bm25_rel", "bm25_abs", "passage_fused", "passage_dense",
    "sentence_fused", "cover", "cover_ctx", "dense_ctx", "want_num", "want_name",
    "num_match", "name_match", "novel", "length",
)  # fmt: skip
CONFIDENCE_FEATURES = (
    "top_score", "margin", "top_dense", "top_passage_dense", "top_cover", "top_cover_ctx",
    "missing_idf", "unknown_terms", "top_num_match", "top_name_match", "want_num", "want_name",
    "top_bm25_abs",
)  # fmt: skip

_NUM_Q = re.compile(
    r"\b(how (many|much|long|old|far|large|big|tall|high|often)|what (year|date|percentage|percent|"
    r"number|age|time|century|decade|month|day|amount)|which (year|century|decade)|when)\b",
    re.I,
)
_NAME_Q = re.compile(r"\b(who|whom|whose|where|which (person|country|city|company|group))\b", re.I)
_NUMBERISH = re.compile(
    r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|"
    r"fifty|hundred|thousand|million|billion|dozen|half|january|february|march|april|may|june|"
    r"july|august|september|october|november|december|century|centuries|decade)\b",
    re.I,
)
_CAPITALISED = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z\w'’-]+")
PASSAGES_READ = 4  # sentences of the top passages are all candidates
SENTENCES_READ = 15  # plus the best sentences found directly


@dataclass(frozen=True)
class Linear:
    coef: np.ndarray
    intercept: float

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return x @ self.coef + self.intercept


@dataclass(frozen=True)
class Model:
    """Everything learned: fusion weights, sentence scorer, confidence and threshold."""

    fusion: Fusion
    scorer: Linear
    confidence: Linear
    threshold: float

    @classmethod
    def from_dict(cls, data: dict) -> Model:
        def linear(part: dict, names: tuple[str, ...]) -> Linear:
            coef = part["coef"]
            return Linear(np.asarray([coef[n] for n in names], dtype=np.float64), float(part["intercept"]))

        return cls(
            fusion=Fusion(**data["fusion"]),
            scorer=linear(data["sentence"], SENTENCE_FEATURES),
            confidence=linear(data["confidence"], CONFIDENCE_FEATURES),
            threshold=float(data["threshold"]),
        )


@cache
def default_model() -> Model:
    return Model.from_dict(json.loads(resources.files("qa").joinpath("weights.json").read_text()))


@dataclass(frozen=True)
class Scored:
    """Candidate sentences, best first, with their features (kept for tuning)."""

    sentences: np.ndarray
    scores: np.ndarray
    features: np.ndarray  # (n, len(SENTENCE_FEATURES)), rows in the original candidate order
    order: np.ndarray
    question_features: np.ndarray  # len(CONFIDENCE_FEATURES)
    passages: Ranked
    confidence: float


def question_type(question: str) -> tuple[float, float]:
    """(wants a number or date, wants a name or place)."""
    if _NUM_Q.search(question):
        return 1.0, 0.0
    if _NAME_Q.search(question):
        return 0.0, 1.0
    return 0.0, 0.0


def score(index: Index, question: str, q: np.ndarray, model: Model) -> Scored:
    """Rank candidate sentences for `question` (embedded as `q`) and estimate confidence."""
    q_terms = list(dict.fromkeys(terms(question)))
    passages = search_passages(index, q, q_terms, model.fusion)
    sents = search_sentences(index, q, q_terms, model.fusion)

    # Candidates: every sentence of the best passages, and the best sentences on their own.
    cand: dict[int, None] = {}
    for p in passages.ids[:PASSAGES_READ]:
        cand.update(dict.fromkeys(range(int(index.passage_first[p]), int(index.passage_last[p]))))
    cand.update(dict.fromkeys(int(s) for s in sents.ids[:SENTENCES_READ]))
    ids = np.fromiter(cand, dtype=np.int64, count=len(cand))
    if len(ids) == 0:
        zeros = np.zeros((0, len(SENTENCE_FEATURES)))
        return Scored(ids, np.zeros(0), zeros, ids, np.zeros(len(CONFIDENCE_FEATURES)), passages, 0.0)

    # Dense similarity of the candidates and of their neighbours (same document only).
    prev_ids, next_ids = ids - 1, ids + 1
    n_sent = index.n_sentences
    has_prev = (prev_ids >= 0) & (index.sent_doc[np.clip(prev_ids, 0, n_sent - 1)] == index.sent_doc[ids])
    has_next = (next_ids < n_sent) & (index.sent_doc[np.clip(next_ids, 0, n_sent - 1)] == index.sent_doc[ids])
    around = np.unique(np.concatenate([ids, prev_ids[has_prev], next_ids[has_next]]))
    sims = dict(zip(around.tolist(), (index.sentence_vectors_of(around) @ q).tolist(), strict=True))
    dense = np.array([sims[s] for s in ids.tolist()])
    dense_ctx = np.array(
        [max(sims.get(s - 1, -1.0) if hp else -1.0, sims.get(s + 1, -1.0) if hn else -1.0)
         for s, hp, hn in zip(ids.tolist(), has_prev, has_next, strict=True)]
    )  # fmt: skip
    dense_ctx = np.where(dense_ctx < -0.5, dense, dense_ctx)

    lex = index.sentence_bm25
    bm25 = lex.scores(q_terms)[ids] if q_terms else np.zeros(len(ids))
    idf = {t: lex.idf(t) for t in q_terms}
    idf_total = sum(idf.values()) or 1.0
    # BM25's largest possible score for these terms is sum(idf * (k1 + 1)).
    bm25_abs = bm25 / (idf_total * 2.2)
    bm25_rel = bm25 / bm25.max() if bm25.max() > 0 else np.zeros(len(ids))

    p_of = index.sent_passage[ids]
    p_fused = dict(zip(passages.ids.tolist(), (passages.fused / max(passages.fused[0], 1e-9)).tolist(), strict=True)) if len(passages.ids) else {}
    passage_fused = np.array([p_fused.get(int(p), 0.0) for p in p_of])
    passage_dense = index.passage_vectors_of(np.unique(p_of)) @ q
    pd = dict(zip(np.unique(p_of).tolist(), passage_dense.tolist(), strict=True))
    passage_dense = np.array([pd[int(p)] for p in p_of])
    s_fused = dict(zip(sents.ids.tolist(), (sents.fused / max(sents.fused[0], 1e-9)).tolist(), strict=True)) if len(sents.ids) else {}
    sentence_fused = np.array([s_fused.get(int(s), 0.0) for s in ids])

    want_num, want_name = question_type(question)
    q_set = set(q_terms)
    q_words_lower = set(question.lower().split())
    cover, cover_ctx, num_match, name_match, novel, length = [], [], [], [], [], []
    for s, hp, hn in zip(ids.tolist(), has_prev, has_next, strict=True):
        st = index.sentence_terms(s)
        ctx = st | (index.sentence_terms(s - 1) if hp else frozenset()) | (index.sentence_terms(s + 1) if hn else frozenset())
        cover.append(sum(idf[t] for t in q_set & st) / idf_total)
        cover_ctx.append(sum(idf[t] for t in q_set & ctx) / idf_total)
        text = index.sentence_text(s)
        num_match.append(float(bool(_NUMBERISH.search(text))))
        name_match.append(float(any(m.group(0).lower() not in q_words_lower for m in _CAPITALISED.finditer(text))))
        novel.append(np.log1p(len(st - q_set)))
        length.append(np.log1p(len(text) / 100.0))
    num_m = np.array(num_match) * want_num
    name_m = np.array(name_match) * want_name
    X = np.column_stack([
        dense, dense - dense.max(), bm25_rel, bm25_abs, passage_fused, passage_dense,
        sentence_fused, cover, cover_ctx, dense_ctx, np.full(len(ids), want_num),
        np.full(len(ids), want_name), num_m, name_m, novel, length,
    ])  # fmt: skip
    scores = model.scorer(X)
    order = np.lexsort((ids, -scores))

    top = order[0]
    second = scores[order[1]] if len(order) > 1 else scores[top] - 1.0
    # Question terms missing around the best sentence: the signature of a question that
    # the text nearly, but not really, answers.
    top_ctx = index.sentence_terms(int(ids[top]))
    for nb, ok in ((int(ids[top]) - 1, has_prev[top]), (int(ids[top]) + 1, has_next[top])):
        if ok:
            top_ctx = top_ctx | index.sentence_terms(nb)
    max_idf = max(idf.values(), default=1.0) or 1.0
    missing_idf = max((idf[t] for t in q_set - top_ctx), default=0.0) / max_idf
    unknown = sum(idf[t] for t in q_set if t not in lex.vocab) / idf_total
    qf = np.array([
        scores[top], scores[top] - second, dense[top], passage_dense.max(), cover[top],
        cover_ctx[top], missing_idf, unknown, num_m[top], name_m[top], want_num, want_name,
        bm25_abs[top],
    ])  # fmt: skip
    confidence = float(1.0 / (1.0 + np.exp(-model.confidence(qf)))) if q_terms or len(ids) else 0.0
    return Scored(ids[order], scores[order], X, order, qf, passages, confidence)
