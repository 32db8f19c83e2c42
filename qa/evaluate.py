"""Measure answers and retrieval on dev sets: the article QA set, SQuAD v2, and BEIR."""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from scipy.stats import rankdata

from .errors import QAError
from .ingest import Document, json_lines

if TYPE_CHECKING:
    from .assistant import Assistant
    from .results import Answer


@dataclass(frozen=True)
class Asked:
    """One question's outcome, enough for every metric below."""

    answerable: bool
    abstained: bool
    confidence: float
    top1: bool  # the top citation contains a gold answer (or the evidence)
    top3: bool
    excerpt_chars: int


def roc_auc(scores: list[float], labels: list[bool]) -> float:
    """Probability that a random positive outranks a random negative (ties count half)."""
    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels, dtype=bool)
    pos, neg = s[y], s[~y]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    ranks = rankdata(  # average ranks for ties
        np.concatenate([pos, neg])
    )
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def summarize(results: list[Asked]) -> dict[str, float]:
    ans = [r for r in results if r.answerable]
    una = [r for r in results if not r.answerable]
    answered = [r for r in ans if not r.abstained]
    return {
        "answerable": len(ans),
        "unanswerable": len(una),
        "top1": sum(r.top1 for r in ans),
        "top3": sum(r.top3 for r in ans),
        "top1_rate": sum(r.top1 for r in ans) / max(len(ans), 1),
        "top3_rate": sum(r.top3 for r in ans) / max(len(ans), 1),
        "abstained_unanswerable": sum(r.abstained for r in una),
        "wrongly_abstained": sum(r.abstained for r in ans),
        "excerpt_chars_mean": float(np.mean([r.excerpt_chars for r in answered]))
        if answered
        else 0.0,
        "auc": roc_auc([r.confidence for r in results], [r.answerable for r in results]),
    }


def _judge(asked, golds: list[str], answerable: bool) -> Asked:
    """Top-k judged on the ranked excerpts, also when the answer abstains (ranking quality)."""
    answer, ranked = asked
    texts = [c.text for c in ranked[:3]]
    hit = [any(g and g in t for g in golds) for t in texts]
    return Asked(
        answerable=answerable,
        abstained=answer.abstained,
        confidence=answer.confidence,
        top1=bool(hit[:1] and hit[0]),
        top3=any(hit),
        excerpt_chars=len(texts[0]) if texts else 0,
    )


# -- the article QA set (JSON lines: id, question, answers, evidence, history) -----------------
def article_qa(
    path: Path, assistant: Assistant, *, limit: int | None = None
) -> tuple[dict[str, float], list[tuple[dict, Answer]]]:
    rows = read_questions(path)[:limit]
    results: list[Asked] = []
    details: list[tuple[dict, Answer]] = []
    for row in rows:
        asked = assistant.ask_ranked(row["question"], row.get("history"))
        answerable = row.get("evidence") is not None
        golds = [row["evidence"]] if answerable else []
        results.append(_judge(asked, golds, answerable))
        details.append((row, asked[0]))
    return summarize(results), details


def read_questions(path: Path) -> list[dict]:
    """The rows of a QA JSON-lines set, each with a "question"; a clear error for anything else
    (a document collection given to `qa eval` instead of `qa index`, say)."""
    from .assistant import _check_history

    rows = []
    for lineno, row in json_lines(path):
        where = f"{path}:{lineno}"
        if not isinstance(row, dict) or not isinstance(row.get("question"), str):
            raise QAError(
                f'{where} has no "question": `qa eval` takes a QA set '
                '({"id", "question", "answers", "evidence"} per line); '
                "to search a collection of documents, `qa index` it"
            )
        if not isinstance(row.get("evidence"), str | None):
            raise QAError(f'{where}: "evidence" must be a string, or null if unanswerable')
        if row.get("evidence") is None and row.get("answers"):
            # Counted as unanswerable, its answers would be ignored without a word.
            raise QAError(
                f'{where} has "answers" but no "evidence": give the passage of the document '
                "that answers it (null, with no answers, for a question it does not answer)"
            )
        try:  # checked as `ask` checks it, but before anything is indexed
            _check_history(row.get("history"))
        except QAError as exc:
            raise QAError(f'{where}: "history" {str(exc).removeprefix("history ")}') from None
        row.setdefault("id", str(lineno))
        rows.append(row)
    return rows


# -- SQuAD v2: each article indexed on its own, every question asked ---------------------------
def squad_articles(path: Path) -> Iterator[tuple[Document, list[dict]]]:
    """Each article of a SQuAD v2 file as one document, with its questions; a file that is not
    one is refused, before anything is indexed."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        articles = []
        for article in data["data"]:
            contexts = [p["context"] for p in article["paragraphs"]]
            qas = [q for p in article["paragraphs"] for q in p["qas"]]
            title = article.get("title", "article")
            if not all(isinstance(c, str) for c in contexts) or not isinstance(title, str):
                raise TypeError("a context or title that is not text")
            if not all(isinstance(q, dict) and isinstance(q.get("question"), str) for q in qas):
                raise TypeError("a question that is not text")
            if not all(
                isinstance(q.get("answers", []), list)
                and all(
                    isinstance(a, dict) and isinstance(a.get("text"), str)
                    for a in q.get("answers", [])
                )
                for q in qas
            ):
                raise TypeError('an answer without its "text"')
            articles.append((Document(id=title, text="\n\n".join(contexts)), qas))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        detail = f"no {exc} field" if isinstance(exc, KeyError) else str(exc)
        raise QAError(
            f'{path} is not a SQuAD v2 file ({{"data": [{{"title", "paragraphs": '
            f'[{{"context", "qas"}}]}}]}}): {detail}'
        ) from None
    yield from articles


def squad(
    path: Path, make_assistant: Callable, *, limit: int | None = None, progress: bool = True
) -> dict[str, float]:
    results: list[Asked] = []
    for i, (doc, qas) in enumerate(squad_articles(path)):
        if limit is not None and i >= limit:
            break
        assistant = make_assistant([doc])
        for q in qas:
            golds = [a["text"] for a in q.get("answers", [])]
            asked = assistant.ask_ranked(q["question"])
            results.append(_judge(asked, golds, not q.get("is_impossible", False)))
        if progress:
            s = summarize(results)
            print(
                f"  {doc.id}: top1 {s['top1_rate']:.3f} top3 {s['top3_rate']:.3f} auc {s['auc']:.3f}",
                file=sys.stderr,
            )
    return summarize(results)


# -- BEIR: corpus.jsonl, queries.jsonl, qrels/<split>.tsv -----------------------------------------
SPLITS = ("train", "dev", "test")  # the first a BEIR folder has is the one measured


def beir_split(folder: Path) -> str:
    """The split of a BEIR folder to measure: its train queries if it has them (SciFact's,
    as tuned), else dev, else test (most BEIR datasets publish only test); checked before
    the corpus is indexed."""
    for split in SPLITS:
        if (folder / "qrels" / f"{split}.tsv").is_file():
            return split
    raise QAError(
        f"{folder} has no qrels/train.tsv, qrels/dev.tsv or qrels/test.tsv: a BEIR folder holds "
        "corpus.jsonl, queries.jsonl and qrels/<split>.tsv"
    )


def beir_qrels(folder: Path, split: str = "train") -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    path = folder / "qrels" / f"{split}.tsv"
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        fields = line.split("\t")
        if not line.strip() or (lineno == 1 and fields[-1].strip() == "score"):
            continue  # blank, or the header `query-id corpus-id score`
        if len(fields) != 3 or not fields[2].strip().lstrip("-").isdigit():
            raise QAError(f"{path}:{lineno}: expected `query-id<TAB>corpus-id<TAB>score`")
        qrels.setdefault(fields[0], {})[fields[1]] = int(fields[2])
    return qrels


def ndcg_at_10(ranked: list[str], relevant: dict[str, int]) -> float:
    ranked = list(dict.fromkeys(ranked))  # a document found twice counts once
    dcg = sum(relevant.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:10]))
    ideal = sorted(relevant.values(), reverse=True)[:10]
    idcg = sum(r / math.log2(i + 2) for i, r in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def documents_for(assistant, query: str, k: int = 10) -> list[str]:
    """The first k distinct documents among the ranked passages."""
    seen: dict[str, None] = {}
    for hit in assistant.search(query, k=k * 5):
        seen.setdefault(hit.document)
        if len(seen) == k:
            break
    return list(seen)


def beir(
    folder: Path, assistant, *, split: str = "train", limit: int | None = None
) -> dict[str, float]:
    qrels = beir_qrels(folder, split)
    queries = {}
    for lineno, rec in json_lines(folder / "queries.jsonl"):
        if not isinstance(rec, dict) or not isinstance(rec.get("text"), str):
            raise QAError(f'{folder / "queries.jsonl"}:{lineno}: expected {{"_id", "text"}}')
        if str(rec.get("_id")) in qrels:
            queries[str(rec["_id"])] = rec["text"]
    ids = list(queries)[:limit] if limit else list(queries)
    scores = [ndcg_at_10(documents_for(assistant, queries[q]), qrels[q]) for q in ids]
    return {"queries": len(ids), "ndcg@10": float(np.mean(scores)) if scores else 0.0}


def eval_cache_dir(name: str) -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "qa" / "eval" / name


# -- the `qa eval` command -------------------------------------------------------------------------
def run_eval(
    path: str, *, documents: list[str] | None = None, limit: int | None = None
) -> dict[str, float]:
    from .assistant import Assistant

    p = Path(path)
    if not p.exists():
        raise QAError(f"no such file or folder: {path}")
    start = time.perf_counter()
    if p.is_dir() and (p / "corpus.jsonl").is_file():
        split = beir_split(p)  # before the corpus is indexed, which takes a while
        if not (p / "queries.jsonl").is_file():
            raise QAError(f"{p} has no queries.jsonl")
        assistant = Assistant.from_paths(
            [p / "corpus.jsonl"],
            index_dir=eval_cache_dir(f"beir-{p.resolve().name}"),
            progress=sys.stderr.isatty(),  # a bar on a terminal, never in a log file
        )
        metrics = beir(p, assistant, split=split, limit=limit)
        if split != SPLITS[0]:
            print(f"measured on the {split} queries (no qrels/train.tsv)", file=sys.stderr)
    elif p.suffix == ".json":
        metrics = squad(p, lambda docs: Assistant.from_documents(docs, progress=False), limit=limit)
    elif p.suffix in {".jsonl", ".ndjson"}:
        read_questions(p)  # a wrong file is refused before any indexing
        if not documents and not Path("seeds").exists():
            raise QAError(
                f"{path} asks of documents that are not here: give them with --documents PATH "
                "(without it, the seeds/ folder of the folder qa runs in)"
            )
        assistant = Assistant.from_paths(documents or ["seeds"], progress=sys.stderr.isatty())
        metrics, details = article_qa(p, assistant, limit=limit)
        for row, answer in details:
            mark = "abstained" if answer.abstained else "answered "
            cite = answer.citations[0].text[:80] if answer.citations else ""
            print(f"  {row['id']} {mark} conf {answer.confidence:.2f}  {cite}")
    else:
        raise QAError(f"{path}: expected a QA .jsonl file, a SQuAD v2 .json file or a BEIR folder")
    metrics["seconds"] = round(time.perf_counter() - start, 1)
    for k, v in metrics.items():
        print(f"{k:>24}: {v:.4f}" if isinstance(v, float) else f"{k:>24}: {v}")
    return metrics
