"""Load: 32 threads ask at once for ~20 s while a document is added; no errors, exact answers."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from qa.assistant import Assistant
from qa.ingest import Document

from .harness import NOTES, SEEDS, wrong_answers

THREADS = 32
DURATION_S = 20.0
QUESTIONS = [
    "Who is fighting to bring the soldiers home?", "What app do the women use?",
    "Where is Buryatia?", "How many years in prison was he threatened with?",
    "What did the governor say?", "Is the weather in Ulan-Ude cold?", "and what about Tyva?",
    "What is the capital of France?",
]  # fmt: skip
ADDED = Document(
    id="added/weather.txt",
    text="The weather in Ulan-Ude was cold and windy. In January it fell to minus 30 degrees.",
)


def run_load(assistant: Assistant, figures, label: str, duration: float = DURATION_S) -> dict:
    """Ask from THREADS threads; add ADDED half way. Each answer must equal the sequential
    answer of the index it was asked of: before the add, after it, or either while it ran."""
    before = {q: assistant.ask(q).to_dict() for q in QUESTIONS}
    records: list[tuple[float, float, str, dict | None, str | None]] = []
    lock = threading.Lock()
    start = time.perf_counter()
    deadline = start + duration

    def worker(i: int) -> None:
        k = i
        while time.perf_counter() < deadline:
            q = QUESTIONS[k % len(QUESTIONS)]
            k += 1
            t0 = time.perf_counter()
            try:
                answer, error = assistant.ask(q).to_dict(), None
            except Exception as exc:  # any error at all is a failure
                answer, error = None, f"{type(exc).__name__}: {exc}"
            with lock:
                records.append((t0, time.perf_counter(), q, answer, error))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    time.sleep(duration / 2)
    add_start = time.perf_counter()
    assistant.add([ADDED], progress=False)
    add_end = time.perf_counter()
    for t in threads:
        t.join()
    after = {q: assistant.ask(q).to_dict() for q in QUESTIONS}
    assert before != after  # the add changed something, so the check below means something

    errors = [r[4] for r in records if r[4]]
    wrong = wrong_answers(records, before, after, add_start, add_end)
    latencies = np.array([t1 - t0 for t0, t1, *_ in records])
    figures["requests served"] += len(records)
    report = {
        "requests": len(records), "errors": len(errors), "wrong": len(wrong),
        "p50_ms": float(np.percentile(latencies, 50) * 1000),
        "p95_ms": float(np.percentile(latencies, 95) * 1000),
        "add_s": add_end - add_start, "per_s": len(records) / (time.perf_counter() - start),
    }  # fmt: skip
    line = (f"load ({label}): {THREADS} threads, {duration:.0f} s: {report['requests']} answers "
            f"({report['per_s']:.1f}/s), p50 {report['p50_ms']:.0f} ms, "
            f"p95 {report['p95_ms']:.0f} ms, add took {report['add_s']:.2f} s; "
            f"errors {len(errors)}, wrong {len(wrong)}")  # fmt: skip
    print("\n" + line)
    NOTES.append(line)
    assert not errors, errors[:3]
    assert not wrong, wrong[:5]
    return report


@pytest.mark.model
def test_32_threads_with_the_real_model(real_embedder, tmp_path, figures):
    assistant = Assistant.from_paths([SEEDS], embedder=real_embedder, index_dir=tmp_path / "index",
                                     progress=False)  # fmt: skip
    report = run_load(assistant, figures, "MiniLM")
    assert report["requests"] > THREADS


def test_32_threads_with_the_fake_embedder(fake_embedder, tmp_path, figures):
    assistant = Assistant.from_paths([SEEDS], embedder=fake_embedder, index_dir=tmp_path / "index",
                                     progress=False)  # fmt: skip
    run_load(assistant, figures, "fake embedder", duration=3.0)


def test_replacing_documents_while_asking(fake_embedder, figures):
    """A replaced document shifts every sentence number after it: an answer scored on the old
    index and cited from the new one would quote the wrong sentences."""
    seed = Assistant.from_paths([SEEDS], embedder=fake_embedder, progress=False).documents[0]
    longer = Document(id=seed.id, text="A new first paragraph. Two sentences.\n\n" + seed.text)
    versions = [seed, longer]
    expected = {}
    for v in versions:
        fresh = Assistant.from_documents([v, ADDED], embedder=fake_embedder, progress=False)
        for q in QUESTIONS:
            expected.setdefault(q, []).append(fresh.ask(q).to_dict())
    assistant = Assistant.from_documents([seed, ADDED], embedder=fake_embedder, progress=False)
    stop = threading.Event()
    wrong: list[str] = []
    served = [0]

    def worker(i: int) -> None:
        while not stop.is_set():
            q = QUESTIONS[(i + served[0]) % len(QUESTIONS)]
            if assistant.ask(q).to_dict() not in expected[q]:
                wrong.append(q)
            served[0] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for k in range(30):
        assistant.add([versions[(k + 1) % 2]], progress=False)
        figures["faults injected"] += 1
    stop.set()
    for t in threads:
        t.join()
    figures["requests served"] += served[0]
    assert not wrong, f"{len(wrong)} of {served[0]} answers mixed two indexes"


def test_concurrent_adds_lose_nothing(fake_embedder, tmp_path, figures):
    """Eight threads add documents at once (uploads in the app): every one of them is kept."""
    assistant = Assistant.from_paths([SEEDS], embedder=fake_embedder, index_dir=tmp_path / "index",
                                     progress=False)  # fmt: skip
    new = [[Document(id=f"t{i}/d{j}.txt", text=f"Upload {i} {j}: notes on topic {i * 10 + j}.")
            for j in range(3)] for i in range(8)]  # fmt: skip

    def worker(docs: list[Document]) -> None:
        for d in docs:
            assistant.add([d], progress=False)

    threads = [threading.Thread(target=worker, args=(docs,)) for docs in new]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    want = {d.id for docs in new for d in docs} | {str(SEEDS / p.name) for p in SEEDS.glob("*.txt")}
    saved = Assistant.load(tmp_path / "index", embedder=fake_embedder)
    for got in (assistant.documents, saved.documents):
        lost = want - {d.id for d in got}
        figures["data lost"] += len(lost)
        assert not lost
