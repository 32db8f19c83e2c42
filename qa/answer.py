"""Pick the sentences that answer a question, score how sure we are, and cite them.

The sentence scorer and the confidence are two small linear models over features of the
question and each candidate sentence; their weights are learned on ../shared/eval by
`python -m qa.tune` and stored in `qa/weights.json`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

import numpy as np

from .chunk import LIST_MARKER, PARAGRAPH_BREAK
from .followup import _QUESTION_WORDS as _QW
from .followup import without_possessive
from .index import Index
from .opposites import opposed
from .retrieve import Fusion, Ranked, search_passages, search_sentences
from .text import CLOSES_SENTENCE, STOPWORDS, terms, words
from .tokens import FEATURES as TOKEN_FEATURES

_QUESTION_WORDS = frozenset(w.lower() for w in _QW)

SENTENCE_FEATURES = (
    "dense", "dense_gap", "bm25_rel", "bm25_abs", "passage_fused", "passage_dense",
    "sentence_fused", "cover", "cover_ctx", "dense_ctx", "want_num", "want_name",
    "num_match", "name_match", "novel", "length", "bigram", "dense_prev_win", "dense_next_win",
    "dense_rank", "bm25_rank", "dense_z", "exact_words", "entity_cover", "type_near",
    "cover_all",
)  # fmt: skip
CONFIDENCE_FEATURES = (
    "top_score", "margin", "top_dense", "top_passage_dense", "top_cover", "top_cover_ctx",
    "missing_idf", "unknown_terms", "top_num_match", "top_name_match", "want_num", "want_name",
    "negation", "entity_missing", "passage_cover", "top_bigram", "top_prob",
    "top_dense_z", "question_terms", "top_type_near", "best_type_near", "answer_passage_dense",
    "best_dense", "best_window", "figure_missing", "opposite",
)  # fmt: skip

PAIR_FEATURES = (
    "gap", "after", "continues", "lead_in", "nb_cover", "nb_exact", "nb_num", "nb_name",
    "nb_dense_gap", "chars",
)  # fmt: skip
TOKEN_SENTENCE_FEATURES = SENTENCE_FEATURES + TOKEN_FEATURES
# With token vectors, the pair model also sees how much better the neighbour matches the
# question's words: of two neighbours, the one that says "sent to work" is the answer.
TOKEN_PAIR_FEATURES = PAIR_FEATURES + ("nb_tok_mean", "nb_tok_min")
_COLUMN = {name: i for i, name in enumerate(TOKEN_SENTENCE_FEATURES)}
# A sentence that carries on from the one before it ("They told him ...", "But ...").
_CONTINUES = re.compile(
    r"^\W*(he|she|it|they|we|this|these|those|that|his|her|its|their|there|but|however|yet|"
    r"so|then|also|instead|still|thus|therefore|later|both)\b",
    re.I,
)
# A sentence that hands over to the next: a colon, or a quotation's attribution at its end
# ('..., they began to threaten him," Ailana recalled.').
_LEAD_IN = re.compile(
    r":\W*$|[”\"]\s+[^.”\"]{0,60}\b(said|says|recalled|recalls|told|added|explained|"
    r"continued|wrote|writes|noted|asked)\b[^.”\"]{0,60}\.?$",
    re.I,
)

_NUM_Q = re.compile(
    r"\b(how (many|much|long|old|far|large|big|tall|high|often)|what (year|date|percentage|percent|"
    r"number|age|time|century|decade|month|day|amount)|which (year|century|decade)|when)\b",
    re.I,
)
_NAME_Q = re.compile(
    r"\b(who|whom|whose|where|which (person|country|city|company|group)|(what|which) is the name|"
    r"named|called)\b",
    re.I,
)
_NUMBERISH = re.compile(
    r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|"
    r"fifty|hundred|thousand|million|billion|dozen|half|january|february|march|april|may|june|"
    r"july|august|september|october|november|december|century|centuries|decade)\b",
    re.I,
)
_CAPITALISED = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z\w'’-]+")
# "Which firm inspected the bridge?" asks for a firm's name; "The firm has inspected the
# bridge every three years since 2009." refers to it by the question's own noun, so the name
# is in a sentence before it ("... by engineers from Halden & Pryce Ltd.").
_ASKS_WHICH = re.compile(r"^\W*(?:which|what)\s+([a-z]+)\b", re.I)
_OPENS_ON = re.compile(r"^\W*(?:[Tt]he|[Tt]his|[Tt]hat)\s+([a-z]+)\b")
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
    # An excerpt takes the adjacent sentence too when `pair` says the answer may sit there
    # (it scores close, or carries on the same statement) and the two fit in `pair_chars`.
    pair: Linear | None = None
    pair_chars: int = 0
    # The same, learned with the token-alignment features too (qa.tokens), for indexes that
    # keep token vectors.
    tokens: Model | None = None

    @classmethod
    def from_dict(
        cls,
        data: dict,
        features: tuple[str, ...] = SENTENCE_FEATURES,
        pair_features: tuple[str, ...] = PAIR_FEATURES,
    ) -> Model:
        def linear(part: dict, names: tuple[str, ...]) -> Linear:
            coef = part["coef"]
            return Linear(
                np.asarray([coef[n] for n in names], dtype=np.float64), float(part["intercept"])
            )

        return cls(
            fusion=Fusion(**data["fusion"]),
            scorer=linear(data["sentence"], features),
            confidence=linear(data["confidence"], CONFIDENCE_FEATURES),
            threshold=float(data["threshold"]),
            pair=linear(data["pair"], pair_features) if "pair" in data else None,
            pair_chars=int(data.get("pair", {}).get("max_chars", 0)),
            tokens=(
                # Its own scorer and pair model; the confidence and threshold are shared.
                cls.from_dict(
                    {**data, **data["tokens"], "tokens": None},
                    TOKEN_SENTENCE_FEATURES,
                    TOKEN_PAIR_FEATURES,
                )
                if data.get("tokens")
                else None
            ),
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
    model: Model  # the one that scored (with or without token features): its threshold, pair


def question_type(question: str) -> tuple[float, float]:
    """(wants a number or date, wants a name or place)."""
    if _NUM_Q.search(question):
        return 1.0, 0.0
    if _NAME_Q.search(question):
        return 0.0, 1.0
    return 0.0, 0.0


_NEGATION = re.compile(
    r"\b(not|never|no|none|nothing|without|n't|cannot|neither|nor)\b|n't\b", re.I
)
# A figure ("2022", "4.1", "100,000", also in "10am", "$4.1bn", "1990s"; not "55th"): "Who
# was appointed director in 2022?" is not answered by "appointed in 2021".
_FIGURE = re.compile(r"(?<![\w.,])\d(?:[\d,.]*\d)?(?!\d|[.,]\d|st\b|nd\b|rd\b|th\b)")
_ENTITY = re.compile(r"(?<!^)(?<![.!?]\s)\b[A-Z][\w'’-]*|\b\d[\d,.]*\b")


def _new_name(text: str, question_words: set[str]) -> float:
    """1 for a run of two or more capitalised words the question lacks (a full name), 0.5 for one."""
    best = 0.0
    run = 0
    last_end = -2
    for word, start, end in _capitalised(text):
        new = word not in question_words
        run = run + 1 if new and start <= last_end + 2 else (1 if new else 0)
        last_end = end
        best = max(best, 1.0 if run >= 2 else 0.5 if run == 1 else 0.0)
    return best


@lru_cache(maxsize=262144)
def _capitalised(text: str) -> tuple[tuple[str, int, int], ...]:
    """The capitalised words of `text` (lower-cased, possessive stripped) and their spans."""
    return tuple(
        (without_possessive(m.group(0).lower()), m.start(), m.end())
        for m in _CAPITALISED.finditer(text)
    )


_TOKEN = re.compile(r"\w+(?:[.,'’-]\w+)*")


def type_near(text: str, q_terms: frozenset[str], question_words: set[str], want: str) -> float:
    """How close a word of the wanted kind (a number, or a name the question lacks) stands to
    a question term: 1 / (1 + words between them), 0 if none. "The head of Free Buryatia,
    Aleksandra Garmazhapova" answers "Who heads Free Buryatia?" by its apposition."""
    tokens = _typed_tokens(text)
    matched = [i for i, t in enumerate(tokens) if t[1] in q_terms]
    if not matched:
        return 0.0
    best = 0.0
    for i, (lower, _, number, capital, content) in enumerate(tokens):
        kind = number if want == "num" else capital and lower not in question_words
        if kind and content:
            d = min(abs(i - j) for j in matched)
            if d > 0:
                best = max(best, 1.0 / d)
    return best


@lru_cache(maxsize=262144)
def _typed_tokens(text: str) -> tuple[tuple[str, str, bool, bool, bool], ...]:
    """Each word of `text`: lower-cased, its stem, whether it reads as a number or date,
    whether it is capitalised past the start, and whether it is not a stopword. Cached: the
    same candidate sentences come back question after question."""
    out = []
    for m in _TOKEN.finditer(text):
        w = m.group(0)
        lower = w.lower()
        out.append(
            (
                lower,
                _stem_of(lower),
                bool(_NUMBERISH.search(w)),
                m.start() > 0 and w[0].isupper(),
                lower not in STOPWORDS,
            )
        )
    return tuple(out)


@lru_cache(maxsize=262144)
def _has_number(text: str) -> float:
    return float(bool(_NUMBERISH.search(text)))


@lru_cache(maxsize=262144)
def _continues(text: str) -> float:
    return float(bool(_CONTINUES.match(text)))


@lru_cache(maxsize=262144)
def _leads_in(text: str) -> float:
    return float(bool(_LEAD_IN.search(text.rstrip())))


@lru_cache(maxsize=262144)
def _stem_of(word: str) -> str:
    found = terms(word)
    return found[0] if found else ""


@lru_cache(maxsize=262144)
def term_list(text: str) -> tuple[str, ...]:
    return tuple(terms(text))


@lru_cache(maxsize=262144)
def word_set(text: str) -> frozenset[str]:
    return frozenset(words(text))


def _bigrams(seq: tuple[str, ...] | list[str]) -> set[tuple[str, str]]:
    return set(zip(seq, seq[1:], strict=False))


def _ranks(values: np.ndarray) -> np.ndarray:
    r = np.empty(len(values))
    r[np.argsort(-values, kind="stable")] = np.arange(len(values))
    return r


def score(
    index: Index,
    question: str,
    q: np.ndarray,
    model: Model,
    context: tuple[str, np.ndarray] | None = None,
    q_tokens: np.ndarray | None = None,
    documents: np.ndarray | None = None,
) -> Scored:
    """Rank candidate sentences for `question` (embedded as `q`) and estimate confidence.

    `context` (a follow-up with what it refers back to, and its vector) picks the passages
    instead of the question itself; see qa.followup. With `q_tokens` (the question's content
    token vectors, qa.tokens.question_vectors) and an index that keeps token vectors, the
    model learned with token-alignment features scores instead. With `documents` (positions
    in `index.documents`), only their sentences are candidates.
    """
    token_model = model.tokens if index.tokens is not None and q_tokens is not None else None
    q_list = terms(question)
    q_terms = list(dict.fromkeys(q_list))
    if context is None:
        passages = search_passages(index, q, q_terms, model.fusion, documents)
    else:
        c_terms = list(dict.fromkeys(terms(context[0])))
        passages = search_passages(index, context[1], c_terms, model.fusion, documents)
    sents = search_sentences(index, q, q_terms, model.fusion, documents)

    # Candidates: every sentence of the best passages, and the best sentences on their own.
    cand: dict[int, None] = {}
    for p in passages.ids[:PASSAGES_READ]:
        cand.update(dict.fromkeys(range(int(index.passage_first[p]), int(index.passage_last[p]))))
    cand.update(dict.fromkeys(int(s) for s in sents.ids[:SENTENCES_READ]))
    ids = np.fromiter(cand, dtype=np.int64, count=len(cand))
    if len(ids) == 0:
        zeros = np.zeros((0, len(model.scorer.coef)))
        qf0 = np.zeros(len(model.confidence.coef))
        return Scored(ids, np.zeros(0), zeros, ids, qf0, passages, 0.0, model)
    n = len(ids)

    # Vectors of the candidates and of their neighbours (same document only).
    n_sent = index.n_sentences
    prev_ids, next_ids = ids - 1, ids + 1
    has_prev = (prev_ids >= 0) & (
        index.sent_doc[np.clip(prev_ids, 0, n_sent - 1)] == index.sent_doc[ids]
    )
    has_next = (next_ids < n_sent) & (
        index.sent_doc[np.clip(next_ids, 0, n_sent - 1)] == index.sent_doc[ids]
    )
    # A heading names what its whole section is about: its words are no more the context of
    # the sentence below it than of the rest ("Held on 3 March at the Community Hall." under
    # "# Eastfield Chess Club: Minutes" is no answer to who chairs the club).
    has_prev &= headings(index, np.clip(prev_ids, 0, n_sent - 1)) == 0
    has_next &= headings(index, np.clip(next_ids, 0, n_sent - 1)) == 0
    # A question in the text (an interview's or a FAQ's) opens what follows it: it is the
    # context of the answer below it, not of the sentence above ("Is the kettle
    # dishwasher-safe?" lent its words to the previous answer's last sentence).
    has_next &= (
        _questions(
            [
                index.sentence_text(int(s)) if h else ""
                for s, h in zip(next_ids, has_next, strict=True)
            ]
        )
        == 0
    )
    around = np.unique(np.concatenate([ids, prev_ids[has_prev], next_ids[has_next]]))
    vec = index.sentence_vectors_of(around)
    row = {int(u): i for i, u in enumerate(around)}
    v_s = vec[[row[int(s)] for s in ids]]
    v_prev = np.where(has_prev[:, None], vec[[row.get(int(s), 0) for s in prev_ids]], 0.0)
    v_next = np.where(has_next[:, None], vec[[row.get(int(s), 0) for s in next_ids]], 0.0)
    dense = v_s @ q
    d_prev, d_next = v_prev @ q, v_next @ q
    dense_ctx = np.maximum(np.where(has_prev, d_prev, dense), np.where(has_next, d_next, dense))

    def window(other: np.ndarray) -> np.ndarray:
        w = v_s + 0.5 * other
        return (w @ q) / np.maximum(np.linalg.norm(w, axis=1), 1e-9)

    lex = index.sentence_bm25
    bm25 = lex.scores(q_terms)[ids] if q_terms else np.zeros(n)
    idf = {t: lex.idf(t) for t in q_terms}
    idf_total = sum(idf.values()) or 1.0
    # BM25's largest possible score for these terms is sum(idf * (k1 + 1)).
    bm25_abs = bm25 / (idf_total * 2.2)
    bm25_rel = bm25 / bm25.max() if bm25.max() > 0 else np.zeros(n)

    p_of = index.sent_passage[ids]
    top_fused = passages.fused[0] if len(passages.ids) else 1.0
    p_fused = dict(
        zip(passages.ids.tolist(), (passages.fused / max(top_fused, 1e-9)).tolist(), strict=True)
    )
    passage_fused = np.array([p_fused.get(int(p), 0.0) for p in p_of])
    uniq_p = np.unique(p_of)
    pd = dict(zip(uniq_p.tolist(), (index.passage_vectors_of(uniq_p) @ q).tolist(), strict=True))
    passage_dense = np.array([pd[int(p)] for p in p_of])
    top_s = sents.fused[0] if len(sents.ids) else 1.0
    s_fused = dict(zip(sents.ids.tolist(), (sents.fused / max(top_s, 1e-9)).tolist(), strict=True))
    sentence_fused = np.array([s_fused.get(int(s), 0.0) for s in ids])

    want_num, want_name = question_type(question)
    q_set = set(q_terms)
    q_bigrams = _bigrams(q_list)
    q_words = {w for w in words(question) if w not in STOPWORDS}
    q_lower = set(words(question))
    entities = (
        {m.group(0).lower() for m in _ENTITY.finditer(question.strip())}
        - STOPWORDS
        - _QUESTION_WORDS
    )
    texts = [index.sentence_text(int(s)) for s in ids]
    lists = [term_list(t) for t in texts]
    sets = [frozenset(x) for x in lists]
    prev_sets = [
        frozenset(term_list(index.sentence_text(int(s) - 1))) if hp else frozenset()
        for s, hp in zip(ids, has_prev, strict=True)
    ]
    next_sets = [
        frozenset(term_list(index.sentence_text(int(s) + 1))) if hn else frozenset()
        for s, hn in zip(ids, has_next, strict=True)
    ]
    cover, cover_ctx, num_match, name_match, novel, length, bigram, exact, ent_cover, near = (
        [] for _ in range(10)
    )
    cover_all: list[float] = []  # unweighted: idf alone undervalues a question's common words
    want = "num" if want_num else "name" if want_name else ""
    q_frozen = frozenset(q_set)
    # A document's headline names what all of it is about: its words are every sentence's
    # context ("He taught at the Malmö Academy" under "José Núñez: a life in music").
    # So are a section's heading's to the sentences under it ("Tom Okoye reported a balance of
    # £6,842" under "## 2. Treasurer's report").
    lines, sections = headline_of(index, ids), section_of(index, ids)
    heads = np.unique(np.concatenate([lines, sections]))
    headline = {int(h): index.sentence_text(int(h)) for h in heads[heads >= 0]}
    title_terms = {h: frozenset(term_list(t)) for h, t in headline.items()}
    title_words = {h: word_set(t) for h, t in headline.items()}
    ctx_words_all = []
    for i, text in enumerate(texts):
        st = sets[i]
        first, section = int(lines[i]), int(sections[i])
        ctx = (
            st
            | prev_sets[i]
            | next_sets[i]
            | title_terms.get(first, frozenset())
            | title_terms.get(section, frozenset())
        )
        cover.append(sum(idf[t] for t in sorted(q_set & st)) / idf_total)
        cover_all.append(len(q_set & st) / len(q_set) if q_set else 0.0)
        cover_ctx.append(sum(idf[t] for t in sorted(q_set & ctx)) / idf_total)
        num_match.append(_has_number(text))
        name_match.append(_new_name(text, q_lower))
        novel.append(np.log1p(len(st - q_set)))
        length.append(np.log1p(len(text) / 100.0))
        bigram.append(len(q_bigrams & _bigrams(lists[i])) / len(q_bigrams) if q_bigrams else 0.0)
        ws = word_set(text)
        exact.append(len(q_words & ws) / len(q_words) if q_words else 0.0)
        ctx_words = (
            ws
            | (word_set(index.sentence_text(int(ids[i]) - 1)) if has_prev[i] else frozenset())
            | (word_set(index.sentence_text(int(ids[i]) + 1)) if has_next[i] else frozenset())
            | title_words.get(first, frozenset())
            | title_words.get(section, frozenset())
        )
        ctx_words_all.append(ctx_words)
        ent_cover.append(len(entities & ctx_words) / len(entities) if entities else 1.0)
        near.append(type_near(text, q_frozen, q_lower, want) if want else 0.0)
    num_m = np.array(num_match) * want_num
    name_m = np.array(name_match) * want_name
    dense_z = (dense - dense.mean()) / (dense.std() + 1e-6)
    win_prev, win_next = window(v_prev), window(v_next)
    X = np.column_stack([
        dense, dense - dense.max(), bm25_rel, bm25_abs, passage_fused, passage_dense,
        sentence_fused, cover, cover_ctx, dense_ctx, np.full(n, want_num),
        np.full(n, want_name), num_m, name_m, novel, length, bigram, win_prev, win_next,
        1.0 / (1.0 + _ranks(dense)), 1.0 / (1.0 + _ranks(bm25)), dense_z, exact, ent_cover,
        near, cover_all,
    ])  # fmt: skip
    # A heading names a subject and states nothing about it, and a question (an interviewer's
    # "Where does your flour come from?") asks instead of answering: they answer only when
    # nothing else can (a page's "Marsh Lane Bakery" above "Its owner, Telma Quist, ...").
    demote = HEADING_DEMOTION * np.maximum(headings(index, ids), _questions(texts))
    scores = model.scorer(X) - demote
    order = np.lexsort((ids, -scores))

    top = order[0]
    second = scores[order[1]] if n > 1 else scores[top] - 1.0
    # Question terms missing around the best sentence and in its passage: the signature of a
    # question that the text nearly, but not really, answers. The passage counts because a
    # sentence often names its subject only as "the company", after the sentence that names it.
    best_p = int(p_of[top])
    p_terms: set[str] = set()
    p_words: set[str] = set()
    for s_ in range(int(index.passage_first[best_p]), int(index.passage_last[best_p])):
        p_terms |= set(term_list(index.sentence_text(s_)))
        p_words |= word_set(index.sentence_text(s_))
    top_ctx = sets[top] | prev_sets[top] | next_sets[top] | p_terms
    max_idf = max(idf.values(), default=1.0) or 1.0
    missing_idf = max((idf[t] for t in q_set - top_ctx), default=0.0) / max_idf
    unknown = sum(idf[t] for t in q_terms if t not in lex.vocab) / idf_total
    passage_cover = sum(idf[t] for t in sorted(q_set & p_terms)) / idf_total
    around = ctx_words_all[top] | p_words
    entity_missing = len(entities - around) / len(entities) if entities else 0.0
    z = scores - scores.max()
    top_prob = 1.0 / np.exp(z).sum()
    qf = np.array([
        scores[top], scores[top] - second, dense[top], passage_dense.max(), cover[top],
        cover_ctx[top], missing_idf, unknown, num_m[top], name_m[top], want_num, want_name,
        float(bool(_NEGATION.search(question))), entity_missing, passage_cover,
        bigram[top], top_prob, dense_z[top], np.log1p(len(q_terms)), near[top],
        max(near[i] for i in order[:3]),
        # The answer's own surroundings: a news paragraph moves between topics, so the
        # passage closest to the question may not be the one that answers it.
        passage_dense[top], dense.max(), max(win_prev.max(), win_next.max()),
        # A figure of the question that the best sentence does not give; in its passage it may
        # be another event's year.
        float(bool(set(_FIGURE.findall(question)) - set(_FIGURE.findall(texts[top])))),
        # The question asks about the opposite of what the sentence says ("smallest" against
        # "largest"): SQuAD 2.0's unanswerable questions are often written so.
        float(opposed(question, texts[top])),
    ])  # fmt: skip
    confidence = float(1.0 / (1.0 + np.exp(-model.confidence(qf)))) if q_terms else 0.0
    if token_model is not None:
        # Token alignment re-ranks the candidates; how sure we are stays the measure above.
        assert index.tokens is not None and q_tokens is not None
        X = np.column_stack([X, index.tokens.features(q_tokens, ids)])
        model, scores = token_model, token_model.scorer(X) - demote
        order = np.lexsort((ids, -scores))
    return Scored(ids[order], scores[order], X, order, qf, passages, confidence, model)


HEADING_DEMOTION = 100.0
# A sentence that ends by asking: "?", then perhaps closing quotes or brackets.
# Markdown emphasis may close it too ("**Can I set the temperature?**").
_ASKS = re.compile(r"\?[\s\"”’')\]*_]*$")


# A sentence that reports a question and says no more: "Bill Dunmore asked, by email,
# whether bonfires could be allowed in winter." answers nothing ("... but the committee said
# no" would).
_REPORTS_QUESTION = re.compile(
    r"\b(?:asked|asks|asking|wondered|wonders|inquired|enquired|queried)\b(?:,[^,]*,)?\s+"
    r"(?:whether|if)\b(?![^;]*(?:;|\bbut\b))"
)


def _questions(texts: list[str]) -> np.ndarray:
    """Which sentences are questions, asked or reported."""
    return np.array(
        [_ASKS.search(t) is not None or _REPORTS_QUESTION.search(t) is not None for t in texts],
        dtype=float,
    )


def headline_of(index: Index, ids: np.ndarray) -> np.ndarray:
    """The headline of each sentence's document: its first sentence if that is a heading,
    else -1 (what that first sentence stands under)."""
    return np.array([_sections(index, int(index.sent_doc[s]))[1][0] for s in ids.tolist()],
                    dtype=np.int64)  # fmt: skip


def section_of(index: Index, ids: np.ndarray) -> np.ndarray:
    """The heading each sentence stands under: the nearest one above it in its document (or
    the sentence itself, if a heading), else -1."""
    out = np.full(len(ids), -1, dtype=np.int64)
    for i, s in enumerate(ids.tolist()):
        first, under = _sections(index, int(index.sent_doc[s]))
        out[i] = under[s - first]
    return out


def _sections(index: Index, d: int) -> tuple[int, np.ndarray]:
    """Document `d`'s first sentence, and the heading each of its sentences stands under;
    worked out once a document, when first asked."""
    if d not in index.sections:
        first = int(np.searchsorted(index.sent_doc, d))
        last = int(np.searchsorted(index.sent_doc, d, side="right"))
        own = np.arange(first, last)
        index.sections[d] = (
            first,
            np.maximum.accumulate(np.where(headings(index, own) > 0, own, -1)),
        )
    return index.sections[d]


def headings(index: Index, ids: np.ndarray) -> np.ndarray:
    """Which sentences are headings: a paragraph of its own with no closing punctuation that is
    a Markdown heading ("# Bakery"), the document's first line (a headline, even with a figure
    or a colon: "Edith Marlowe, lighthouse keeper, dies aged 91", "Interview: Baker Hana Okafor
    on ten years of Marsh Lane Bakery"), or, with no figure or label
    ("Founded: 1990" may be the answer), a line in title case ("Marsh Lane Bakery") or a short
    capitalised line ("Ostvik choir")."""
    out = np.zeros(len(ids))
    for i, s in enumerate(ids.tolist()):
        text = index.documents[index.sent_doc[s]].text
        start, end = int(index.sent_start[s]), int(index.sent_end[s])
        line = text[start:end].strip()
        if not line or line.endswith(CLOSES_SENTENCE):
            continue
        # A blank line (spaces allowed) or the document's edge on both sides; a few
        # characters either side tell, without copying a long document.
        first = start <= 64 and not text[:start].strip()
        alone = _PARAGRAPH_BEFORE.search(text[max(0, start - 64) : start]) is not None or first
        alone = alone and (
            _PARAGRAPH_AFTER.match(text[end : end + 64]) is not None
            or (not text[end:].strip() if len(text) - end <= 64 else False)
        )
        words = line.split()
        # "Founded: 1990", "Date: 12 March": a label of a word or two, then a value.
        label = ":" in line and len(line.split(":", 1)[0].split()) <= 2
        # Unless what follows is a headline of its own: "Interview: Baker Hana Okafor on ten
        # years of Marsh Lane Bakery" (a kicker, as "Analysis:" or "Exclusive:"), or a phrase
        # in lower case with no figure ("José Núñez: a life in music"), where a value is a
        # figure, a date or a name ("Venue: Eastfield Community Hall").
        value = line.split(":", 1)[1].split() if label else []
        kicker = len(value) >= 5 or (
            len(value) >= 3
            and any(w[0].islower() for w in value)
            and not any(c.isdigit() for c in line)
        )
        plain = not label and not any(c.isdigit() for c in line)
        long_words = [w for w in words if len(w) >= 4 and w[0].isalpha()]
        title = len(words) <= 10 and bool(long_words) and all(w[0].isupper() for w in long_words)
        short = len(words) <= 5 and line[:1].isupper()
        # A news headline is often in sentence case ("Harbour ferry service to resume in May").
        # More text must follow: a note of one line ("The ferry now leaves from the north
        # pier") is no headline.
        headline = (
            first
            and (kicker or not label)
            and len(words) <= 20
            and _BLANK_REST.match(text, end) is None
        )
        # Markdown: "## Water supply", or a bold line of its own ("**Opening hours**").
        marked = line.startswith("#") or _BOLD.fullmatch(line) is not None
        out[i] = alone and (marked or headline or (plain and (title or short)))
    return out


_BOLD = re.compile(r"(\*\*|__)[^*_\n]+\1")
_BLANK_REST = re.compile(r"\s*\Z")  # nothing but white space from here on (.match)
_PARAGRAPH_BEFORE = re.compile(r"\n[ \t]*\r?\n[ \t]*$")
_PARAGRAPH_AFTER = re.compile(r"[ \t]*\r?\n[ \t]*\r?\n")


def pair_features(
    index: Index, s: int, nb: int, scores: dict[int, float], features: dict[int, np.ndarray]
) -> np.ndarray:
    """Features of quoting neighbour `nb` together with sentence `s` (see PAIR_FEATURES, and
    TOKEN_PAIR_FEATURES when the rows hold token features)."""
    first, last = min(s, nb), max(s, nb)
    f_s, f_nb = features[s], features[nb]
    c = _COLUMN
    base = np.array([
        scores[nb] - scores[s],
        float(nb > s),
        _continues(index.sentence_text(last)),
        _leads_in(index.sentence_text(first)),
        f_nb[c["cover"]] - f_s[c["cover"]],
        f_nb[c["exact_words"]] - f_s[c["exact_words"]],
        f_nb[c["num_match"]],
        f_nb[c["name_match"]],
        f_nb[c["dense"]] - f_s[c["dense"]],
        np.log1p((index.sent_end[last] - index.sent_start[first]) / 100.0),
    ])  # fmt: skip
    if len(f_s) == len(SENTENCE_FEATURES):
        return base
    tok = [c["tok_mean"], c["tok_min"]]
    return np.concatenate([base, f_nb[tok] - f_s[tok]])


def passage_neighbours(index: Index, s: int) -> list[int]:
    """The sentences just before and after `s` that lie in its passage."""
    p = index.sent_passage[s]
    return [nb for nb in (s - 1, s + 1) if index.passage_first[p] <= nb < index.passage_last[p]]


def excerpt(
    index: Index,
    scores: dict[int, float],
    features: dict[int, np.ndarray],
    s: int,
    model: Model,
    used: set[int] | frozenset[int] = frozenset(),
) -> tuple[int, int]:
    """(first, last) sentence of the excerpt quoting sentence `s`: it alone, or it and a neighbour.

    `scores` and `features` map candidate sentences to their score and feature row; the
    neighbour must be a candidate in the same passage not quoted yet (`used`), `model.pair`
    must favour it, and the two must fit in `model.pair_chars`.
    """
    if model.pair is None:
        return s, s
    best: tuple[float, int] | None = None
    for nb in (s - 1, s + 1):
        if nb not in scores or not _may_join(index, s, nb, model, used):
            continue
        if nb > s and _ASKS.search(index.sentence_text(nb)):
            continue  # the next question opens another answer ("... 55 seconds. Can I set ...?")
        margin = float(model.pair(pair_features(index, s, nb, scores, features)))
        if margin > 0 and (best is None or margin > best[0]):
            best = (margin, nb)
    if best is None:
        return s, s
    return min(s, best[1]), max(s, best[1])


def _may_join(index: Index, s: int, nb: int, model: Model, used: set[int] | frozenset[int]) -> bool:
    """Whether neighbour `nb` (s - 1 or s + 1) may be quoted with sentence `s`: in its passage,
    not quoted yet (`used`), in its paragraph and list item, and the two within
    `model.pair_chars`."""
    first, last = min(s, nb), max(s, nb)
    return (
        nb in passage_neighbours(index, s)
        and nb not in used
        and index.sent_end[last] - index.sent_start[first] <= model.pair_chars
        and not _crosses_paragraph(index, first, last)
        and not _apart_in_list(index, first, last)
    )


def _crosses_paragraph(index: Index, first: int, last: int) -> bool:
    """Whether a blank line parts sentences `first` and `last` (= first + 1), and neither
    the first hands over with a colon ("She said:" above the quotation) nor the second carries
    on from it ("Its owner, ..."): a new paragraph, in news, often moves to another matter."""
    text = index.documents[index.sent_doc[first]].text
    end, start = int(index.sent_end[first]), int(index.sent_start[last])
    return (
        PARAGRAPH_BREAK.search(text, end, start) is not None
        and text[end - 1 : end] != ":"
        and _CONTINUES.match(text[start : start + 40]) is None
    )


def _apart_in_list(index: Index, first: int, last: int) -> bool:
    """Whether sentences `first` and `last` (= first + 1) stand on lines of their own, one of
    them a list item ("- Battery supplier: Nordcell"): each item is a fact of its own, so an
    excerpt does not run one into its neighbour, unless the first hands over with a colon
    ("Key facts:" above its first item)."""
    text = index.documents[index.sent_doc[first]].text
    end, start = int(index.sent_end[first]), int(index.sent_start[last])
    if "\n" not in text[end:start] or text[end - 1 : end] == ":":
        return False
    return any(
        (m := LIST_MARKER.match(text, text.rfind("\n", 0, at) + 1)) is not None and m.end() == at
        for at in (int(index.sent_start[first]), start)
    )


_ASKS_WHY = re.compile(r"^\W*why\b", re.I)
# A reason given: "because", "due to", "so that", or a speaker arguing or explaining.
_REASON = re.compile(
    r"\b(?:because|due to|owing to|so that|in order to|reasons?|argued|argues|explained|"
    r"explains|blamed|blames|cited|cites|said|says)\b",
    re.I,
)


def asks_why(question: str) -> bool:
    return _ASKS_WHY.match(question) is not None


def _reason_follows(index: Index, s: int, model: Model, used: set[int]) -> bool:
    """Whether the sentence after `s` gives the reason `s` lacks: it carries on from it ("He
    argued that the work should have waited ...", after "..., Councillor Peter Nairn, voted
    against the timetable."), in its passage and paragraph, not quoted yet, the two within
    `model.pair_chars`, and `s` gives none of its own."""
    if not _may_join(index, s, s + 1, model, used):
        return False
    text = index.sentence_text(s + 1)
    return (
        _REASON.search(index.sentence_text(s)) is None
        and _CONTINUES.match(text) is not None
        and _REASON.search(text) is not None
        and _ASKS.search(text) is None
    )


def asks_which(question: str) -> tuple[str, frozenset[str]] | None:
    """For "Which firm ...?" or "What company ...?", the noun asked for, stemmed, and the
    question's words; None for other questions ("What is ...?", "Who ...?")."""
    m = _ASKS_WHICH.match(question)
    if m is None or m.group(1).lower() in STOPWORDS:
        return None
    return _stem_of(m.group(1).lower()), frozenset(w for w in words(question) if w not in STOPWORDS)


def _named_before(index: Index, s: int, which: tuple[str, frozenset[str]]) -> bool:
    """Whether sentence `s` opens on the noun that `which` asks for ("The firm has inspected
    ...") and names nothing the question does not, so the name asked for is in the sentence
    before it, which names something new."""
    m = _OPENS_ON.match(index.sentence_text(s))
    noun, question_words = which
    if m is None or _stem_of(m.group(1)) != noun:
        return False
    return _new_name(index.sentence_text(s), set(question_words)) == 0 and (
        _new_name(index.sentence_text(s - 1), set(question_words)) > 0
    )


def select_excerpts(
    index: Index,
    sentences: np.ndarray,
    scores: np.ndarray,
    features: np.ndarray,
    model: Model,
    k: int,
    which: tuple[str, frozenset[str]] | None = None,
    why: bool = False,
) -> list[tuple[int, int, float]]:
    """The k best excerpts (first sentence, last sentence, score), best first.

    `features` holds the rows of `sentences`, in the same order. An excerpt that repeats one
    already chosen (a pull quote printed twice, say) is skipped: a second copy of the same
    words is no second source. With `which` (asks_which of the question), a sentence that
    refers to what is asked by its noun is quoted with the one before it, which names it.
    With `why` (a "Why ...?" question), a sentence that gives no reason is quoted with the
    next when that one carries on from it with a reason (_reason_follows), rather than with
    any other neighbour.
    """
    by_sentence = dict(zip(sentences.tolist(), scores.tolist(), strict=True))
    rows = dict(zip(sentences.tolist(), features, strict=True))
    chosen: list[tuple[int, int, float]] = []
    seen_words: list[frozenset[str]] = []
    used: set[int] = set()
    for s in sorted(by_sentence, key=lambda x: (-by_sentence[x], x)):
        sc = by_sentence[s]
        if s in used:
            continue
        if why and _reason_follows(index, s, model, used):
            first, last = s, s + 1  # the reason, rather than what leads in to the sentence
        else:
            first, last = excerpt(index, by_sentence, rows, s, model, used)
        if (
            which
            and first == last == s
            and _may_join(index, s, s - 1, model, used)
            and _named_before(index, s, which)
        ):
            first = s - 1
        used.update(range(first, last + 1))
        doc = index.documents[index.sent_doc[first]]
        ws = word_set(doc.text[index.sent_start[first] : index.sent_end[last]])
        if not ws:  # "🙂" or "---" quotes nothing that could answer
            continue
        if any(len(ws & other) >= 0.8 * min(len(ws), len(other)) for other in seen_words):
            continue
        seen_words.append(ws)
        chosen.append((first, last, sc))
        if len(chosen) == k:
            break
    return chosen
