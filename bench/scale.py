"""Vector search at 10k, 100k and 1M passages, and adding one document to a 100k-passage index.

    python bench/scale.py [--sizes 10000 100000 1000000] [--queries 1000] [--add-one]
    python bench/scale.py --sizes --add-one      # only the add/remove figures

Vectors are synthetic (384 dimensions, unit length): clusters with a low-dimensional spread
inside each, a rough stand-in for sentence embeddings, whose neighbourhoods are far from
uniform. Queries are perturbed copies of indexed vectors, as a question lies near its
answer. For each size the index is built with qa's own code (`qa.vectors.Vectors`, kind
chosen by "auto" unless --kind), saved, then served by a fresh subprocess that loads it
memory-mapped and runs one query at a time: its load time, search latency p50/p95 and peak
resident memory (VmHWM, see `peak_rss_bytes`) are reported, with recall@10 against exact search.

--add-one builds a real index (chunking, BM25, vectors) of synthetic documents with about
100k passages, using a fast stand-in embedder, then times `Assistant.add` of one document
(twice), the bytes those adds wrote, `Assistant.remove` of each, and one larger add whose
new vectors are folded into the HNSW indexes. Results are written to
bench/results/scale.json; figures a run does not measure are kept from the previous one.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.embed import Embedder  # noqa: E402
from qa.vectors import Vectors  # noqa: E402

DIM = 384
K = 10


def synthetic(n: int, seed: int = 0, block: int = 100_000) -> np.ndarray:
    """n unit vectors: ~n/100 cluster centres, each cluster spread along its own 24 directions."""
    rng = np.random.default_rng(seed)
    n_centres = max(n // 100, 10)
    centres = rng.standard_normal((n_centres, DIM)).astype(np.float32)
    bases = rng.standard_normal((16, 24, DIM)).astype(np.float32) / np.sqrt(DIM)
    out = np.empty((n, DIM), dtype=np.float32)
    for a in range(0, n, block):
        b = min(n, a + block)
        z = rng.integers(0, n_centres, b - a)
        coef = rng.standard_normal((b - a, 24)).astype(np.float32)
        x = centres[z] / np.sqrt(DIM)
        for g in range(16):  # cluster z spreads along basis z % 16
            sel = z % 16 == g
            x[sel] += 0.8 * (coef[sel] @ bases[g])
        x += 0.25 * rng.standard_normal((b - a, DIM)).astype(np.float32) / np.sqrt(DIM)
        out[a:b] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def queries(rows: np.ndarray, n: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    q = rows[rng.integers(0, len(rows), n)] + 0.3 * rng.standard_normal((n, DIM)).astype(
        np.float32
    ) / np.sqrt(DIM)
    return (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)


def peak_rss_bytes() -> int:
    """Peak resident memory of this process. VmHWM, not ru_maxrss: Linux carries ru_maxrss
    over from the parent through fork and exec, so a child of a big process reports the
    parent's size; VmHWM belongs to the process's own address space."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def serve(folder: Path, kind_file: Path, q_file: Path, out: Path, k: int) -> None:
    """The serving side, run in a fresh process: load, then answer queries one by one."""
    params = json.loads(kind_file.read_text())
    t = time.perf_counter()
    v = Vectors.load(folder, "passages", params, mmap=True)
    load_s = time.perf_counter() - t
    q = np.load(q_file)
    for i in range(min(20, len(q))):  # warm-up: first-touch page faults are not search time
        v.search(q[i][None], k)
    times, ids = [], []
    for i in range(len(q)):
        t = time.perf_counter()
        _, found = v.search(q[i][None], k)
        times.append(time.perf_counter() - t)
        ids.append(found[0])
    times_100 = []
    for i in range(min(200, len(q))):  # the depth qa's hybrid retrieval reads
        t = time.perf_counter()
        v.search(q[i][None], 100)
        times_100.append(time.perf_counter() - t)
    np.save(out, np.array(ids))
    rss = peak_rss_bytes()
    print(json.dumps({
        "load_s": load_s,
        "p50_ms": float(np.percentile(times, 50) * 1e3),
        "p95_ms": float(np.percentile(times, 95) * 1e3),
        "p50_ms_k100": float(np.percentile(times_100, 50) * 1e3),
        "peak_rss_mb": rss / 2**20,
    }))  # fmt: skip


def bench_size(n: int, n_queries: int, kind: str, work: Path) -> dict:
    import faiss

    print(f"-- {n:,} vectors", file=sys.stderr, flush=True)
    t = time.perf_counter()
    rows = synthetic(n)
    q = queries(rows, n_queries)
    print(f"   generated in {time.perf_counter() - t:.1f}s", file=sys.stderr, flush=True)
    t = time.perf_counter()
    _, truth = faiss.knn(q, rows, K, metric=faiss.METRIC_INNER_PRODUCT)
    exact_s = time.perf_counter() - t
    t = time.perf_counter()
    v = Vectors.build(rows, kind)
    build_s = time.perf_counter() - t
    folder = work / f"n{n}"
    folder.mkdir(parents=True, exist_ok=True)
    v.save(folder, "passages")
    (folder / "params.json").write_text(json.dumps(v.describe()))
    np.save(folder / "q.npy", q)
    print(f"   built {v.kind} in {build_s:.1f}s", file=sys.stderr, flush=True)
    del rows, v
    # Drop nothing from the page cache: a server restarts on a warm machine; load time is
    # what qa itself spends opening the files.
    cmd = [sys.executable, __file__, "--serve", str(folder), "--k", str(K)]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    served = json.loads(res.stdout.strip().splitlines()[-1])
    found = np.load(folder / "ids.npy")
    recall = float(
        np.mean(
            [len(set(a) & set(b)) / K for a, b in zip(found.tolist(), truth.tolist(), strict=True)]
        )
    )
    result = {
        "passages": n,
        "kind": json.loads((folder / "params.json").read_text()),
        "build_s": build_s,
        "recall_at_10": recall,
        "exact_batch_search_s": exact_s,
        **served,
    }
    print(f"   {json.dumps(result)}", file=sys.stderr, flush=True)
    shutil.rmtree(folder, ignore_errors=True)
    return result


class RandomEmbedder(Embedder):
    """Stand-in for MiniLM when only the index's own cost matters: a vector per text hash."""

    name = "bench/random"
    dim = DIM
    fingerprint = "random-v1"

    def embed(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        seeds = [zlib.crc32(t.encode("utf-8", "replace")) for t in texts]
        out = (
            np.stack(
                [np.random.default_rng(s).standard_normal(DIM, dtype=np.float32) for s in seeds]
            )
            if texts
            else np.zeros((0, DIM), np.float32)
        )
        return out / np.linalg.norm(out, axis=1, keepdims=True) if len(out) else out


WORDS = (  # noqa: SIM905
    "river harbour lantern orchard glacier meadow copper violin falcon thunder marble saffron "
    "canyon beacon willow quartz pepper walrus ember tundra cobalt juniper parrot basalt market "
    "council school rain engine garden doctor letter bridge winter forest silver signal museum "
    "island"
).split()


def synthetic_documents(n_docs: int, seed: int = 0):
    from qa.ingest import Document

    rng = np.random.default_rng(seed)
    for i in range(n_docs):
        paras = []
        for _ in range(2):
            sents = [
                " ".join(rng.choice(WORDS, 24)).capitalize() + f" item{i}s{j}." for j in range(4)
            ]
            paras.append(" ".join(sents))
        yield Document(id=f"doc-{i}", text="\n\n".join(paras), title=f"Document {i}")


def bench_add_one(target_passages: int, work: Path) -> dict:
    from qa.assistant import Assistant
    from qa.ingest import Document

    emb = RandomEmbedder()
    folder = work / "add-one"
    n_docs = target_passages // 2 + 500  # each document makes two passages
    t = time.perf_counter()
    a = Assistant.from_documents(
        synthetic_documents(n_docs), index_dir=folder, embedder=emb, progress=True
    )
    build_s = time.perf_counter() - t
    idx = a.index
    print(
        f"   base: {idx.n_passages:,} passages ({idx.passage_vectors.kind}), "
        f"{idx.n_sentences:,} sentences ({idx.sentence_vectors.kind}) in {build_s:.0f}s",
        file=sys.stderr,
        flush=True,
    )
    before = _file_sizes(folder)
    new = Document(
        id="new-doc",
        text="A fresh note about zebra crossings.\n\nIt has two paragraphs, and one more sentence.",
        title="Fresh",
    )
    second = Document(id="new-doc-2", text=new.text + " Changed.", title="Fresh")
    times = []
    for doc in (new, second):
        t = time.perf_counter()
        a.add([doc], progress=False)
        times.append(time.perf_counter() - t)
    t = time.perf_counter()
    b = Assistant.load(folder, embedder=emb)
    load_s = time.perf_counter() - t
    assert b.search("zebra crossings")[0].document in ("new-doc", "new-doc-2")
    written = _written_bytes(folder, before)
    remove_times = []
    for doc in (new, second):
        t = time.perf_counter()
        a.remove(doc.id)
        remove_times.append(time.perf_counter() - t)
    assert "new-doc" not in {c.document for c in a.search("zebra crossings")}
    # Enough new sentences that the exactly-searched tail is folded into the HNSW index.
    from qa import vectors

    ann = a.index.sentence_vectors.ann
    batch = max(vectors.TAIL_MIN, int(vectors.TAIL_FRACTION * idx.n_sentences)) // 8 + 50
    docs = [
        Document(id=f"fold-{d.id}", text=d.text, title=d.title)
        for d in synthetic_documents(batch, seed=1)
    ]
    t = time.perf_counter()
    a.add(docs, progress=False)
    fold_s = time.perf_counter() - t
    assert a.index.sentence_vectors.ann is not ann
    result = {
        "passages": idx.n_passages,
        "sentences": idx.n_sentences,
        "kinds": [idx.passage_vectors.kind, idx.sentence_vectors.kind],
        "base_build_s_fake_embedder": build_s,
        "index_bytes": sum(before.values()),
        "add_one_document_s": times,
        "bytes_written_by_the_two_adds": written,
        "remove_one_document_s": remove_times,
        "add_that_folds_the_tail": {"documents": batch, "seconds": fold_s},
        "full_index_load_s": load_s,
    }
    print(f"   {json.dumps(result)}", file=sys.stderr, flush=True)
    shutil.rmtree(folder, ignore_errors=True)
    return result


def _file_sizes(folder: Path) -> dict[tuple[int, int], int]:
    """Size of every file of the index, by (device, inode): hard links count once."""
    out = {}
    for p in folder.rglob("*"):
        if p.is_file():
            st = p.stat()
            out[(st.st_dev, st.st_ino)] = st.st_size
    return out


def _written_bytes(folder: Path, before: dict[tuple[int, int], int]) -> int:
    """Bytes in files that were not there before (linked files keep their inode)."""
    return sum(size for key, size in _file_sizes(folder).items() if key not in before)


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--kind", default="auto", choices=["auto", "flat", "hnsw", "ivfpq"])
    ap.add_argument(
        "--add-one", action="store_true", help="also time adding one document to ~100k passages"
    )
    ap.add_argument("--add-one-passages", type=int, default=100_000)
    ap.add_argument(
        "--work", type=Path, default=None, help="scratch folder (default: a temporary one)"
    )
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "scale.json")
    ap.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--k", type=int, default=K, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(
            args.serve,
            args.serve / "params.json",
            args.serve / "q.npy",
            args.serve / "ids.npy",
            args.k,
        )
        return 0
    work = args.work or Path(tempfile.mkdtemp(prefix="qa-scale-"))
    # Figures not measured in this run (`--sizes` with no size, or no --add-one) are kept.
    results: dict = {"search": [], "add_one": None}
    if args.out.is_file():
        results.update(json.loads(args.out.read_text()))
    results["cpu_count"] = os.cpu_count()
    if args.sizes:
        results["search"] = [bench_size(n, args.queries, args.kind, work) for n in args.sizes]
    if args.add_one:
        results["add_one"] = bench_add_one(args.add_one_passages, work)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))
    print("| passages | index | recall@10 | search p50 | p95 | p50 (k=100) | peak RSS | load |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results["search"]:
        print(
            f"| {r['passages']:,} | {r['kind']['kind']} | {r['recall_at_10']:.3f} "
            f"| {r['p50_ms']:.2f} ms | {r['p95_ms']:.2f} ms | {r['p50_ms_k100']:.2f} ms "
            f"| {r['peak_rss_mb']:.0f} MB | {r['load_s']:.2f} s |"
        )
    if results["add_one"]:
        a = results["add_one"]
        times = ", ".join(f"{t:.2f}s" for t in a["add_one_document_s"])
        removes = ", ".join(f"{t:.2f}s" for t in a.get("remove_one_document_s", []))
        print(f"\nadd one document to {a['passages']:,} passages: {times}; remove: {removes}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
