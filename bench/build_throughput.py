"""Index build throughput on SciFact against bare `model.encode` of the same texts, same run.

    python bench/build_throughput.py [--limit N] [--corpus PATH]

The build is the whole of `qa index`: read the JSON lines, chunk, embed in batches (with the
resume staging on disk), BM25, vector indexes, save. Every text the build embeds is recorded,
then the same texts are given to `SentenceTransformer.encode` in one call (batch 32, sorted
by length inside encode, normalised): the floor for embedding them. The acceptance asks for
build time <= 1.1 x that floor. Both run in one process on the same loaded model, build first.
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


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--corpus", type=Path, default=SCIFACT)
    ap.add_argument("--limit", type=int, default=None, help="only the first N documents")
    ap.add_argument(
        "--out", type=Path, default=ROOT / "bench" / "results" / "build_throughput.json"
    )
    args = ap.parse_args()

    model = default_embedder()
    model.embed(["warm up the model and its thread pool"] * 64)
    work = Path(tempfile.mkdtemp(prefix="qa-build-"))
    try:
        docs = read_paths([args.corpus])
        if args.limit:
            docs = itertools.islice(docs, args.limit)
        rec = Recording(model)
        t = time.perf_counter()
        expected = count_documents([args.corpus])
        if args.limit and expected:
            expected = min(expected, args.limit)
        a = Assistant.from_documents(
            docs, index_dir=work / "index", embedder=rec, sources=[str(args.corpus)],
            expected_documents=expected,
        )  # fmt: skip
        build_s = time.perf_counter() - t
        idx = a.index

        t = time.perf_counter()
        model.model.encode(
            rec.texts,
            batch_size=32,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        bare_s = time.perf_counter() - t
    finally:
        shutil.rmtree(work, ignore_errors=True)

    result = {
        "corpus": str(args.corpus),
        "documents": len(idx.documents),
        "passages": idx.n_passages,
        "sentences": idx.n_sentences,
        "texts_embedded": len(rec.texts),
        "build_s": build_s,
        "embedding_inside_build_s": rec.seconds,
        "bare_encode_s": bare_s,
        "ratio": build_s / bare_s,
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
        f"ratio {build_s / bare_s:.3f}; {idx.n_passages / build_s:.1f} passages/s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
