"""Learn the sentence scorer, the confidence and the abstention threshold on ../shared/eval.

    python -m qa.tune [--eval-dir ../shared/eval]

Writes qa/weights.json and prints leave-one-article-out figures, so the numbers reported are
for articles the weights did not see. Needs the dev extra (scikit-learn).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np

from .answer import (
    CONFIDENCE_FEATURES,
    PAIR_FEATURES,
    SENTENCE_FEATURES,
    TOKEN_PAIR_FEATURES,
    TOKEN_SENTENCE_FEATURES,
    Linear,
    Model,
    pair_features,
    passage_neighbours,
    score,
    select_excerpts,
)
from .assistant import Assistant
from .embed import Embedder
from .evaluate import eval_cache_dir, roc_auc, squad_articles
from .followup import Resolved, resolve
from .ingest import Document
from .tokens import DIM, question_vectors
from .tokens import basis as tokens_basis

WEIGHTS = Path(__file__).with_name("weights.json")
BASIS = Path(__file__).with_name("token_basis.npz")
MAX_MEAN_CHARS = 225
# Strong regularisation: on the article dev set (leave one question out) it catches 4 of 5
# unanswerable questions where C=1 catches 3, at the same AUC on SQuAD.
CONFIDENCE_C = 0.1


@dataclasses.dataclass
class Sample:
    group: str  # article, for leave-one-article-out
    answerable: bool
    X: np.ndarray  # candidate features
    y: np.ndarray  # candidate contains a gold answer
    sentences: np.ndarray
    qf: np.ndarray  # question features for the confidence
    question: str
    assistant: Assistant
    q: np.ndarray
    golds: list[str]


def collect(eval_dir: Path, model: Model, cache: dict, tokens: bool = False) -> list[Sample]:
    """Every dev question scored by `model`: with `tokens`, by its token-feature model."""
    samples: list[Sample] = []
    items: list[tuple[str, Assistant, Resolved, list[str], bool]] = []
    for doc, qas in squad_articles(eval_dir / "squad2" / "dev-articles.json"):
        a = cache.get(doc.id) or Assistant.from_documents(
            [doc], index_dir=eval_cache_dir(f"squad-{doc.id}"), progress=False, model=model
        )
        cache[doc.id] = a
        for q in qas:
            items.append(
                (
                    doc.id,
                    a,
                    Resolved(q["question"]),
                    [x["text"] for x in q["answers"]],
                    not q["is_impossible"],
                )
            )
    seed = cache.get("seed") or Assistant.from_paths(
        list((eval_dir.parent / "seeds").glob("*.txt")), progress=False, model=model
    )
    cache["seed"] = seed
    for line in (eval_dir / "article_qa_dev.jsonl").read_text().splitlines():
        row = json.loads(line)
        resolved = resolve(row["question"], row.get("history"))
        ev = row["evidence"]
        items.append(("seed", seed, resolved, [ev] if ev else [], ev is not None))
    vectors = cache.setdefault("_q", {})
    texts = [t for it in items for t in (it[2].question, it[2].context) if t]
    todo = list(dict.fromkeys(t for t in texts if t not in vectors))
    if todo:
        found_v, found_t = seed.embedder.embed_with_tokens(todo, batch_size=64)
        assert found_t is not None, "tuning needs the real model"
        vectors.update(zip(todo, zip(found_v, found_t, strict=True), strict=True))
    for group, a, resolved, golds, answerable in items:
        question = resolved.question
        q, q_tok = vectors[question]
        context = (resolved.context, vectors[resolved.context][0]) if resolved.context else None
        q_tokens = question_vectors(q_tok.words, q_tok.vectors) if tokens else None
        if tokens:
            assert a.index.tokens is not None and model.tokens is not None
        sc = score(a.index, question, q, model, context, q_tokens)
        sents = sc.sentences[np.argsort(sc.order)]  # back to candidate order, matching X rows
        y = np.array([any(g and g in a.index.sentence_text(int(s)) for g in golds) for s in sents])
        samples.append(
            Sample(
                group,
                answerable,
                sc.features,
                y,
                sents,
                sc.question_features,
                question,
                a,
                q,
                golds,
            )
        )
    return samples


def fit_scorer(samples: list[Sample], C: float) -> Linear:
    """Pairwise logistic regression: the answer sentence should outscore each other candidate.

    Pairs suit the task (one winner per question) better than labelling rows one by one.
    """
    from sklearn.linear_model import LogisticRegression

    diffs = [
        s.X[s.y][0][None, :] - s.X[~s.y]
        for s in samples
        if s.answerable and s.y.any() and (~s.y).any()
    ]
    D = np.concatenate(diffs)
    X = np.concatenate([D, -D])
    y = np.r_[np.ones(len(D)), np.zeros(len(D))]
    sd = X.std(0) + 1e-9
    lr = LogisticRegression(C=C, max_iter=3000, fit_intercept=False).fit(X / sd, y)
    return Linear(lr.coef_[0] / sd, 0.0)


def top1_rate(samples: list[Sample], scorer: Linear) -> tuple[float, float]:
    ok1 = ok3 = n = 0
    for s in samples:
        if not s.answerable:
            continue
        n += 1
        order = np.argsort(-scorer(s.X), kind="stable")
        ok1 += bool(s.y[order[0]])
        ok3 += bool(s.y[order[:3]].any())
    return ok1 / max(n, 1), ok3 / max(n, 1)


def excerpt_figures(samples: list[Sample], model: Model) -> tuple[float, float, float]:
    """Top-1 and top-3 excerpts containing a gold answer, and mean top excerpt length."""
    ok1 = ok3 = 0
    lengths = []
    rows = [s for s in samples if s.answerable]
    for s in rows:
        idx = s.assistant.index
        scores = model.scorer(s.X)
        chosen = select_excerpts(idx, s.sentences, scores, s.X, model, 3)
        texts = [
            idx.documents[idx.sent_doc[f]].text[idx.sent_start[f] : idx.sent_end[last]]
            for f, last, _ in chosen
        ]
        hits = [any(g and g in t for g in s.golds) for t in texts]
        ok1 += hits[0]
        ok3 += any(hits)
        lengths.append(len(texts[0]))
    return ok1 / len(rows), ok3 / len(rows), float(np.mean(lengths))


def pair_rows(samples: list[Sample], scorer: Linear) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """For the three best sentences of each answerable question and each neighbour in the same
    passage that scores lower: PAIR_FEATURES, and whether quoting it too brings in the answer."""
    X, y, groups = [], [], []
    for s in samples:
        if not s.answerable:
            continue
        idx = s.assistant.index
        scores = scorer(s.X)
        by = dict(zip(s.sentences.tolist(), scores.tolist(), strict=True))
        rows = dict(zip(s.sentences.tolist(), s.X, strict=True))
        gold = dict(zip(s.sentences.tolist(), s.y.tolist(), strict=True))
        for i in np.argsort(-scores, kind="stable")[:3]:
            top = int(s.sentences[i])
            for nb in passage_neighbours(idx, top):
                # A neighbour that scores higher is an excerpt of its own, quoted before this one.
                if nb in by and by[nb] <= by[top]:
                    X.append(pair_features(idx, top, nb, by, rows))
                    y.append(gold[nb] and not gold[top])
                    groups.append(s.group)
    return np.array(X), np.array(y), groups


def fit_pair(
    X: np.ndarray, y: np.ndarray, offset: float, max_chars: int, names: tuple[str, ...]
) -> dict:
    """The pair model as stored in weights.json: logistic regression, its decision moved by
    `offset` (pair when the log-odds exceed it)."""
    from sklearn.linear_model import LogisticRegression

    mu, sd = X.mean(0), X.std(0) + 1e-9
    lr = LogisticRegression(C=1.0, max_iter=2000).fit((X - mu) / sd, y)
    coef = lr.coef_[0] / sd
    return {
        "intercept": float(lr.intercept_[0] - (coef * mu).sum() - offset),
        "coef": dict(zip(names, coef.tolist(), strict=True)),
        "max_chars": max_chars,
    }


# The confidence's signs, as a reader would expect them: more overlap, a closer embedding or a
# clearer margin never counts against an answer, and a missing term never counts for one.
# Fitted freely, SQuAD's unanswerable questions (which copy a paragraph's words) gave full
# coverage a negative weight, so "Who is the harbour master?" abstained on "The harbour master
# is Ole Berg." Features of the question alone (what it asks for, how long it is) stay free.
SURER = frozenset({
    "top_score", "margin", "top_dense", "top_passage_dense", "top_cover", "top_cover_ctx",
    "passage_cover", "top_bigram", "top_prob", "top_num_match", "top_name_match",
    "top_type_near", "best_type_near", "top_dense_z", "answer_passage_dense", "best_dense",
    "best_window",
})  # fmt: skip
DOUBT = frozenset({
    "missing_idf", "unknown_terms", "entity_missing", "negation", "figure_missing", "opposite",
})  # fmt: skip


def fit_confidence(samples: list[Sample], C: float) -> Linear:
    """Logistic regression on answerable against unanswerable questions (classes balanced, L2
    penalty 1/C on standardised features), each weight held to its sign in SURER or DOUBT."""
    from scipy.optimize import minimize

    X = np.stack([s.qf for s in samples])
    y = np.array([s.answerable for s in samples], dtype=np.float64)
    mu, sd = X.mean(0), X.std(0) + 1e-9
    Z = (X - mu) / sd
    weight = np.where(y == 1, len(y) / (2 * y.sum()), len(y) / (2 * (len(y) - y.sum())))

    def loss(p: np.ndarray) -> tuple[float, np.ndarray]:
        m = Z @ p[:-1] + p[-1]
        nll = np.logaddexp(0, -m) * y + np.logaddexp(0, m) * (1 - y)
        g = (1 / (1 + np.exp(-m)) - y) * weight
        grad = np.concatenate([C * Z.T @ g + p[:-1], [C * g.sum()]])
        return float(C * (weight * nll).sum() + 0.5 * p[:-1] @ p[:-1]), grad

    bounds = [
        (0, None) if n in SURER else (None, 0) if n in DOUBT else (None, None)
        for n in CONFIDENCE_FEATURES
    ] + [(None, None)]
    p = minimize(loss, np.zeros(len(bounds)), jac=True, method="L-BFGS-B", bounds=bounds).x
    coef = p[:-1] / sd
    return Linear(coef, float(p[-1] - (coef * mu).sum()))


def fit_basis(eval_dir: Path, embedder: Embedder) -> None:
    """The token basis (see qa.tokens): the top DIM principal directions of the model's
    token vectors over every sentence of the SQuAD dev articles and the seed article."""
    from .chunk import ChunkParams, chunk

    docs = [doc for doc, _ in squad_articles(eval_dir / "squad2" / "dev-articles.json")]
    docs += [Document(p.name, p.read_text()) for p in (eval_dir.parent / "seeds").glob("*.txt")]
    texts = []
    for doc in docs:
        c = chunk(doc.text, ChunkParams())
        texts += [doc.text[a:b] for a, b in zip(c.sent_start, c.sent_end, strict=True)]
    _, found = embedder.embed_with_tokens(texts, batch_size=64)
    assert found is not None
    rows = np.concatenate([t.vectors for t in found]).astype(np.float64)
    mean = rows.mean(0)
    _, _, vt = np.linalg.svd(rows - mean, full_matrices=False)
    np.savez(BASIS, mean=mean.astype(np.float32), proj=vt[:DIM].T.astype(np.float32))
    print(f"wrote {BASIS} from {len(rows)} tokens of {len(texts)} sentences", file=sys.stderr)


def tune_mode(eval_dir: Path, base: dict, cache: dict, plain: dict | None = None) -> dict:
    """Fit one mode's scorer and pair model, and without tokens the confidence and threshold;
    return its weights section (`base` with them replaced). With `plain` (the weights learned
    without token features), the mode with them, whose model sits in `plain`'s "tokens"."""
    tokens = plain is not None
    names = TOKEN_SENTENCE_FEATURES if tokens else SENTENCE_FEATURES
    pair_names = TOKEN_PAIR_FEATURES if tokens else PAIR_FEATURES
    mode = "with token features" if tokens else "without token features"
    print(f"== {mode}", file=sys.stderr)

    def as_model(section: dict) -> Model:
        return Model.from_dict(section if plain is None else {**plain, "tokens": section})

    # A feature new since weights.json was written (or a first run's token features) starts
    # at zero.
    base = {
        **base,
        "sentence": _with_zeros(base["sentence"], names),
        "pair": _with_zeros(base["pair"], pair_names),
        "confidence": _with_zeros(base["confidence"], CONFIDENCE_FEATURES),
    }
    model = as_model(base)
    samples = collect(eval_dir, model, cache, tokens)
    groups = sorted({s.group for s in samples if s.group != "seed"})
    print(f"{len(samples)} questions, {len(groups)} SQuAD articles + seed", file=sys.stderr)
    print(
        "current weights: top1/top3 {:.3f}/{:.3f}".format(
            *top1_rate(samples, scoring(model).scorer)
        ),
        file=sys.stderr,
    )
    # Leave one article out: fit on the others, measure on it.
    for C in (0.1, 1.0):
        res = []
        for g in groups:
            train = [s for s in samples if s.group != g]
            test = [s for s in samples if s.group == g]
            sc = fit_scorer(train, C)
            res.append((len([s for s in test if s.answerable]), *top1_rate(test, sc)))
        n = sum(r[0] for r in res)
        print(
            f"C={C}: held-out top1 {sum(r[0] * r[1] for r in res) / n:.3f} top3 {sum(r[0] * r[2] for r in res) / n:.3f}",
            file=sys.stderr,
        )
    scorer = fit_scorer(samples, 1.0)
    print(
        "all-data scorer: top1/top3 {:.3f}/{:.3f}".format(*top1_rate(samples, scorer)),
        file=sys.stderr,
    )
    base["sentence"] = {
        "intercept": scorer.intercept,
        "coef": dict(zip(names, scorer.coef.tolist(), strict=True)),
    }

    # Excerpts: when to quote a neighbour too. The pair model and the offset and length cap
    # that quote the most answers while excerpts average at most MAX_MEAN_CHARS (the
    # acceptance allows 250; the margin is for unseen articles).
    squad_only = [s for s in samples if s.group != "seed"]
    PX, Py, Pg = pair_rows(samples, scorer)
    print(
        f"pair rows {len(Py)}, {int(Py.sum())} where the neighbour brings the answer",
        file=sys.stderr,
    )
    best_pair = None
    for chars in (300, 350, 400, 450):
        for offset in (-6.0, -5.0, -4.5, -4.0, -3.5, -3.0, -2.0, 100.0):
            base["pair"] = fit_pair(PX, Py, offset, chars, pair_names)
            top1, top3, mean = excerpt_figures(squad_only, scoring(as_model(base)))
            print(
                f"  max_chars {chars} offset {offset}: top1 {top1:.3f} top3 {top3:.3f} mean chars {mean:.0f}",
                file=sys.stderr,
            )
            if mean <= MAX_MEAN_CHARS and (best_pair is None or (top1, top3) > best_pair[0]):
                best_pair = ((top1, top3), (offset, chars))
    assert best_pair is not None
    offset, chars = best_pair[1]
    base["pair"] = fit_pair(PX, Py, offset, chars, pair_names)
    print(
        f"pair rule offset {offset} max_chars {chars}: SQuAD top1/top3 {best_pair[0][0]:.3f}/{best_pair[0][1]:.3f}",
        file=sys.stderr,
    )
    # The same choice with the pair model fitted without each article in turn.
    held = []
    pg = np.array(Pg)
    for g in groups:
        m = as_model(
            {**base, "pair": fit_pair(PX[pg != g], Py[pg != g], offset, chars, pair_names)}
        )
        test = [s for s in squad_only if s.group == g]
        held.append((len([s for s in test if s.answerable]), *excerpt_figures(test, scoring(m))))
    n = sum(h[0] for h in held)
    print(
        "pair rule held out by article: top1 {:.3f} top3 {:.3f} mean chars {:.0f}".format(
            *(sum(h[0] * h[i] for h in held) / n for i in (1, 2, 3))
        ),
        file=sys.stderr,
    )

    if tokens:  # the confidence and threshold are those learned without token features
        return base
    # Re-score with the new scorer: the confidence features depend on the chosen sentence.
    model = as_model(base)
    samples = collect(eval_dir, model, cache, tokens)
    aucs = []
    for g in groups:
        train = [s for s in samples if s.group != g]
        test = [s for s in samples if s.group == g]
        conf = fit_confidence(train, CONFIDENCE_C)
        aucs.append(roc_auc([float(conf(s.qf)) for s in test], [s.answerable for s in test]))
    squad_s = [s for s in samples if s.group != "seed"]
    conf = fit_confidence(samples, CONFIDENCE_C)
    pooled = roc_auc([float(conf(s.qf)) for s in squad_s], [s.answerable for s in squad_s])
    print(
        f"confidence AUC: held-out per-article mean {np.mean(aucs):.3f}; all-data fit on SQuAD {pooled:.3f}",
        file=sys.stderr,
    )
    base["confidence"] = {
        "intercept": conf.intercept,
        "coef": dict(zip(CONFIDENCE_FEATURES, conf.coef.tolist(), strict=True)),
    }

    # Threshold: on the seed article's dev set, the one that abstains on most unanswerable
    # questions while wrongly abstaining on at most one answerable question, and on as few as
    # it can; then the one most accurate on SQuAD.
    seed = [s for s in samples if s.group == "seed"]

    def judged(group: list[Sample]) -> list[tuple[float, bool]]:
        """Each question's confidence, and whether it is answerable."""
        return [(1 / (1 + np.exp(-float(conf(s.qf)))), s.answerable) for s in group]

    probs, sq = judged(seed), judged(squad_s)
    best = None
    # Candidates halfway between neighbouring probabilities: a threshold equal to one of them
    # would flip on the last digit of a vector (a batch of questions embeds a hair differently).
    ps = sorted({p for p, _ in probs})
    for t in [(a + b) / 2 for a, b in zip(ps, ps[1:], strict=False)] + [0.5]:
        wrong = sum(a and p < t for p, a in probs)
        caught = sum((not a) and p < t for p, a in probs)
        sq_acc = np.mean([(p >= t) == a for p, a in sq])
        key = (wrong <= 1, caught, -wrong, sq_acc)
        if best is None or key > best[0]:
            best = (key, t)
    assert best is not None
    (_, caught, fewer_wrong, sq_acc), threshold = best
    print(
        f"threshold {threshold:.3f}: seed caught {caught}/5, wrongly abstains on "
        f"{-fewer_wrong}, SQuAD accuracy {sq_acc:.3f}",
        file=sys.stderr,
    )
    base["threshold"] = float(threshold)
    for line in [f"  p={p:.3f} answerable={a}" for p, a in sorted(probs)]:
        print(line, file=sys.stderr)
    return base


def _with_zeros(section: dict, names: tuple[str, ...]) -> dict:
    """A linear model's section of weights.json with exactly `names`, missing ones at zero."""
    coef = section.get("coef", {})
    return {**section, "coef": {n: float(coef.get(n, 0.0)) for n in names}}


def scoring(model: Model) -> Model:
    """The model that scores the samples: the token one when there is one."""
    return model.tokens or model


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m qa.tune")
    ap.add_argument(
        "--eval-dir", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "eval"
    )
    ap.add_argument("--write", action="store_true", help="write qa/weights.json")
    ap.add_argument(
        "--basis", action="store_true", help="refit the token basis first (qa/token_basis.npz)"
    )
    args = ap.parse_args(argv)
    if args.basis:
        from .embed import default_embedder

        fit_basis(args.eval_dir, default_embedder())
        tokens_basis.cache_clear()
    base = json.loads(WEIGHTS.read_text())
    base.pop("excerpt", None)  # the pair rule before the pair model
    token_section = base.pop("tokens", {})
    token_base = {**base, **token_section}
    cache: dict = {}
    plain = tune_mode(args.eval_dir, base, cache)
    with_tokens = tune_mode(args.eval_dir, token_base, cache, plain)
    plain["tokens"] = {k: with_tokens[k] for k in ("sentence", "pair")}
    if args.write:
        WEIGHTS.write_text(json.dumps(plain, indent=1) + "\n")
        print(f"wrote {WEIGHTS}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
