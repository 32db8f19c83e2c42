"""Index build throughput on SciFact against bare `model.encode` of the same texts, same run.

    python bench/build_throughput.py [--limit N] [--corpus PATH] [--index-dir DIR] [--bare-runs 1]

The build is the whole of `qa index`: read the JSON lines, chunk, embed in batches (with the
resume staging on disk), BM25, vector indexes, save. A dry run with a free embedder finds the
texts the build embeds; the same texts are given to `SentenceTransformer.encode` in one call
(batch 32, sorted by length inside encode, normalised): the floor for embedding them. The
acceptance asks for build time <= 1.1 x that floor. All runs share one process and loaded
model; bare encoding runs before and after the build (other jobs share the CPU) and the build
is compared with their mean, by wall time and by CPU time.
Results are written to bench/results/build_throughput.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.assistant import Assistant  # noqa: E402
from qa.embed import Embedder, default_embedder  # noqa: E402
from qa.index import build  # noqa: E402
from qa.ingest import count_documents, read_paths  # noqa: E402

SCIFACT = ROOT.parent / "shared" / "eval" / "scifact" / "corpus.jsonl"


class Recording(Embedder):
    """Passes texts to the real model and remembers them, so the floor encodes the same texts."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name, self.dim, self.fingerprint = inner.name, inner.dim, inner.fingerprint
        self.texts: list[str] = []
        self.seconds = 0.0

    def embed(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        self.texts += list(texts)
        t = time.perf_counter()
        out = self.inner.embed(texts, batch_size=batch_size)
        self.seconds += time.perf_counter() - t
        return out


class Zero(Embedder):
    """Zero vectors at no cost, for finding which texts a build embeds."""

    def __init__(self, like: Embedder) -> None:
        self.name, self.dim, self.fingerprint = like.name, like.dim, like.fingerprint

    def embed(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        return np.zeros((len(texts), self.dim), dtype=np.float32)


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--corpus", type=Path, default=SCIFACT)
    ap.add_argument("--limit", type=int, default=None, help="only the first N documents")
    ap.add_argument(
        "--out", type=Path, default=ROOT / "bench" / "results" / "build_throughput.json"
    )
    ap.add_argument(
        "--index-dir",
        type=Path,
        default=None,
        help="build into this new folder and keep it (e.g. ~/.cache/qa/eval/beir-scifact, "
        "which the SciFact acceptance test then reuses); default: a temporary folder",
    )
    ap.add_argument(
        "--bare-runs",
        type=int,
        choices=(1, 2),
        default=2,
        help="bare encoding before and after the build (2), or only before (1) on a quiet machine",
    )
    args = ap.parse_args()

    model = default_embedder()
    model.embed(["warm up the model and its thread pool"] * 64)

    def documents():
        docs = read_paths([args.corpus])
        return itertools.islice(docs, args.limit) if args.limit else docs

    # The texts the build will embed, found by a dry run with a free embedder.
    dry = Recording(Zero(model))
    build(documents(), dry, progress=False)
    texts = dry.texts

    def bare() -> tuple[float, float]:
        wall, cpu = time.perf_counter(), time.process_time()
        model.model.encode(
            texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True,
            show_progress_bar=False,
        )  # fmt: skip
        return time.perf_counter() - wall, time.process_time() - cpu

    # Other jobs share the CPU: bare encoding runs before and after the build, and the
    # build is compared with their mean; CPU time is reported too, being less sensitive.
    if args.index_dir is not None and args.index_dir.exists() and any(args.index_dir.iterdir()):
        ap.error(f"{args.index_dir} is not empty: the build would reuse what is there")
    bare_1 = bare()
    work = Path(tempfile.mkdtemp(prefix="qa-build-"))
    target = args.index_dir if args.index_dir is not None else work / "index"
    try:
        expected = count_documents([args.corpus])
        if args.limit and expected:
            expected = min(expected, args.limit)
        rec = Recording(model)
        wall, cpu = time.perf_counter(), time.process_time()
        a = Assistant.from_documents(
            documents(), index_dir=target, embedder=rec, sources=[str(args.corpus)],
            expected_documents=expected,
        )  # fmt: skip
        build_s, build_cpu = time.perf_counter() - wall, time.process_time() - cpu
        idx = a.index
    finally:
        shutil.rmtree(work, ignore_errors=True)
    bare_2 = bare() if args.bare_runs == 2 else bare_1
    assert sorted(rec.texts) == sorted(texts), "the dry run and the build embedded different texts"
    bare_s = (bare_1[0] + bare_2[0]) / 2
    bare_cpu = (bare_1[1] + bare_2[1]) / 2

    result = {
        "corpus": str(args.corpus),
        "documents": len(idx.documents),
        "passages": idx.n_passages,
        "sentences": idx.n_sentences,
        "texts_embedded": len(rec.texts),
        "build_s": build_s,
        "embedding_inside_build_s": rec.seconds,
        "bare_encode_s": bare_s,
        "bare_encode_runs_s": [bare_1[0], bare_2[0]][: args.bare_runs],
        "ratio": build_s / bare_s,
        "build_cpu_s": build_cpu,
        "bare_encode_cpu_s": bare_cpu,
        "cpu_ratio": build_cpu / bare_cpu,
        "passages_per_s": idx.n_passages / build_s,
        "texts_per_s_bare": len(rec.texts) / bare_s,
        "cpu_count": os.cpu_count(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))
    print(
        f"\nbuild {build_s:.1f}s vs bare encode {bare_s:.1f}s "
        f"of the same {len(rec.texts):,} texts: "
        f"ratio {build_s / bare_s:.3f} (CPU time {build_cpu / bare_cpu:.3f}); "
        f"{idx.n_passages / build_s:.1f} passages/s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
