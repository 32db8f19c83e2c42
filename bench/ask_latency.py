"""Warm `ask` latency and index build time on the seed article, each against its floor.

    python bench/ask_latency.py [--rounds 30]

Floors are measured in the same run on the same machine: for `ask`, one bare query
embedding plus a FAISS search over the same passage vectors; for the build, bare
`model.encode` of the same texts the index embeds. Ratios are what the acceptance asks for.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa import Assistant  # noqa: E402
from qa.embed import default_embedder  # noqa: E402
from qa.index import passage_embedding_text  # noqa: E402

QUESTIONS = [json.loads(line)["question"] for line in (ROOT.parent / "shared/eval/article_qa_dev.jsonl").read_text().splitlines()] if (ROOT.parent / "shared/eval/article_qa_dev.jsonl").exists() else [
    "Which messaging app do the women use?", "Who heads Free Buryatia?", "What is the average income in Tyva?",
]  # fmt: skip


def interleaved_medians_ms(fns, items, rounds):
    times = [[] for _ in fns]
    for _ in range(rounds):
        for item in items:
            for fn, out in zip(fns, times, strict=True):
                t = time.perf_counter()
                fn(item)
                out.append((time.perf_counter() - t) * 1000)
    return [statistics.median(t) for t in times]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--builds", type=int, default=5, help="build/encode pairs, in turn")
    args = ap.parse_args()
    embedder = default_embedder()

    # Build: the whole index against bare encoding of the texts it embeds, in turn. A build
    # takes about a second, and this machine's speed drifts by +-20% over seconds: the ratio
    # is of the medians of several pairs.
    docs_dir = [ROOT / "seeds"]
    builds, bares = [], []
    for _ in range(args.builds):
        t = time.perf_counter()
        a = Assistant.from_paths(docs_dir, embedder=embedder, progress=False)
        builds.append(time.perf_counter() - t)
        idx = a.index
        texts = [
            passage_embedding_text(idx.documents[idx.passage_doc[p]], idx.passage_text(p))
            for p in range(idx.n_passages)
        ]
        texts += [idx.sentence_text(s) for s in range(idx.n_sentences)]
        t = time.perf_counter()
        embedder.model.encode(texts, batch_size=32, normalize_embeddings=True)
        bares.append(time.perf_counter() - t)

    # Ask: warm (model loaded, index in memory) against the floor.
    for q in QUESTIONS:
        a.ask(q)

    def floor(q):
        v = embedder.embed([q])
        idx.passage_vectors.search(v, 10)

    # Interleaved, question by question: this machine's speed drifts by +-20% over seconds
    # (a shared host), and timing all asks, then all floors, put the drift into the ratio.
    ask_ms, floor_ms = interleaved_medians_ms([a.ask, floor], QUESTIONS, args.rounds)
    build_s, bare_s = statistics.median(builds), statistics.median(bares)
    print(
        f"passages {idx.n_passages}, sentences {idx.n_sentences}, questions {len(QUESTIONS)} x {args.rounds} rounds"
    )
    print(f"warm ask median      {ask_ms:8.2f} ms")
    print(f"floor (embed+faiss)  {floor_ms:8.2f} ms")
    print(f"ask / floor          {ask_ms / floor_ms:8.2f}x   (target <= 1.5x)")
    print(f"index build          {build_s:8.2f} s")
    print(f"bare model.encode    {bare_s:8.2f} s")
    print(f"build / encode       {build_s / bare_s:8.2f}x   (target <= 1.15x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
