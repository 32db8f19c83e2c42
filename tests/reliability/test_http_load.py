"""`qa serve` over HTTP: 32 clients ask while a file is uploaded; size limits, loopback, auth."""

from __future__ import annotations

import html
import ipaddress
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest

from qa.extract import MAX_UPLOAD_BYTES

from .harness import FAKE_CLI, NOTES, ROOT, wrong_answers
from .test_concurrent_load import ADDED, QUESTIONS

THREADS = 32
DURATION_S = float(os.environ.get("QA_HTTP_LOAD_S", "30"))
MAX_PER_THREAD = 5_000  # a bound on each client's loop, whatever the clock says
REQUEST_TIMEOUT_S = 60.0
START_TIMEOUT_S = 60.0

# `qa serve` with the fake embedder (fake_cli.py). A public link would reach gradio.live:
# refuse the tunnel, as a machine without internet would, and say so on stderr.
LAUNCH = f"""
import runpy, signal, sys
import gradio.networking

# A shell starts background jobs with Ctrl-C ignored, and children inherit that; the test
# stands for a user at a terminal, where Ctrl-C reaches the server.
signal.signal(signal.SIGINT, signal.default_int_handler)

def no_tunnel(**kwargs):
    print("test: tunnel refused", file=sys.stderr, flush=True)
    raise RuntimeError("no public links in tests")

gradio.networking.setup_tunnel = no_tunnel
sys.argv = [{str(FAKE_CLI)!r}, *sys.argv[1:]]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    url: str  # as `qa serve` printed it
    port: int
    out: Path
    err: Path

    def api(self, path: str) -> str:
        return f"{self.url.rstrip('/')}/gradio_api/{path}"

    def stdout(self) -> str:
        return self.out.read_text("utf-8", "replace")

    def stderr(self) -> str:
        return self.err.read_text("utf-8", "replace")

    def rss_mb(self) -> float:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024  # type: ignore[union-attr]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(folder: Path, *options: str) -> Iterator[Server]:
    """`qa serve --port P OPTIONS` in a subprocess, on the seeds; stopped with Ctrl-C."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    out, err = folder / "stdout.txt", folder / "stderr.txt"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "GRADIO_ANALYTICS_ENABLED": "False",
           "GRADIO_TEMP_DIR": str(folder / "gradio")}  # fmt: skip
    env.pop("QA_DEBUG", None)
    argv = [sys.executable, "-c", LAUNCH, "--index-dir", str(folder / "index"), "serve",
            "--port", str(port), *options]  # fmt: skip
    with out.open("wb") as o, err.open("wb") as e:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=o, stderr=e)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while "press Ctrl-C" not in out.read_text("utf-8", "replace"):
            assert proc.poll() is None, f"qa serve exited: {err.read_text()[-2000:]}"
            assert time.monotonic() < deadline, f"qa serve not up in {START_TIMEOUT_S:.0f} s"
            time.sleep(0.1)
        url = re.search(r" at (http://\S+)", out.read_text()).group(1)  # type: ignore[union-attr]
        yield Server(proc, url, port, out, err)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)  # Gradio shuts down slowly on a busy machine
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def ask(
    client: httpx.Client, server: Server, question, history=None
) -> tuple[dict | None, str | None]:
    """/ask as a plain HTTP client calls it: (answer, None) or (None, the error's message)."""
    r = client.post(server.api("call/ask"), json={"data": [question, history or []]})
    if r.status_code != 200:
        return None, f"HTTP {r.status_code}: {r.text[:200]}"
    event = None
    with client.stream("GET", server.api(f"call/ask/{r.json()['event_id']}")) as stream:
        for line in stream.iter_lines():
            if line.startswith("event:"):
                event = line.removeprefix("event:").strip()
            elif line.startswith("data:") and event in ("complete", "error"):
                data = json.loads(line.removeprefix("data:"))
                if event == "complete":
                    return data[0], None
                return None, str((data or {}).get("error"))
    return None, "the event stream ended without a result"


def page_event(
    client: httpx.Client, server: Server, elem_id: str, trigger: str, data: list
) -> dict:
    """Run one of the page's own (private) events as the browser does: join the queue by
    fn_index, then read the session's event stream until the result."""
    config = client.get(f"{server.url.rstrip('/')}/config").json()
    target = next(c["id"] for c in config["components"] if c["props"].get("elem_id") == elem_id)
    fn = next(d["id"] for d in config["dependencies"] if [target, trigger] in d["targets"])
    session = uuid.uuid4().hex[:11]
    body = {"data": data, "fn_index": fn, "trigger_id": target, "session_hash": session,
            "event_data": None}  # fmt: skip
    client.post(server.api("queue/join"), json=body).raise_for_status()
    with client.stream("GET", server.api("queue/data"), params={"session_hash": session}) as s:
        for line in s.iter_lines():
            if line.startswith("data:"):
                message = json.loads(line.removeprefix("data:"))
                if message.get("msg") == "process_completed":
                    return message
    raise AssertionError("the event stream ended without a result")


def file_data(path: str, name: str) -> dict:
    return {"path": path, "orig_name": name, "meta": {"_type": "gradio.FileData"}}


def upload(client: httpx.Client, server: Server, name: str, data: bytes) -> dict:
    """The Documents tab's upload: POST the file, then the file component's upload event."""
    r = client.post(server.api("upload"), files=[("files", (name, data, "text/plain"))])
    r.raise_for_status()
    return page_event(client, server, "qa-upload", "upload", [[file_data(r.json()[0], name)]])


def listening_addresses(port: int) -> set[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """The local addresses of sockets listening on `port`, from /proc/net/tcp and tcp6."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            local, state = row.split()[1], row.split()[3]
            address, _, hex_port = local.partition(":")
            if state != "0A" or int(hex_port, 16) != port:  # 0A: LISTEN
                continue
            raw = bytes.fromhex(address)  # 32-bit words in host (little-endian) order
            raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
            ip = ipaddress.ip_address(raw)
            found.add(getattr(ip, "ipv4_mapped", None) or ip)
    return found


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    with serve(tmp_path_factory.mktemp("http")) as s:  # no --host: the default
        yield s


# -- load ----------------------------------------------------------------------------------


def test_32_http_clients_while_a_file_is_uploaded(server, figures):
    """Each answer must equal the sequential answer of the index it was asked of: before
    the upload, after it, or either for a request that overlapped it."""
    with httpx.Client(timeout=REQUEST_TIMEOUT_S) as client:
        before = {q: ask(client, server, q) for q in QUESTIONS}
    assert all(error is None for _, error in before.values()), before
    rss_before = server.rss_mb()
    records: list[tuple[float, float, str, dict | None, str | None]] = []
    lock = threading.Lock()
    start = time.perf_counter()
    deadline = start + DURATION_S

    def worker(i: int) -> None:
        with httpx.Client(timeout=REQUEST_TIMEOUT_S) as client:
            for k in range(i, i + MAX_PER_THREAD):
                if time.perf_counter() >= deadline:
                    break
                q = QUESTIONS[k % len(QUESTIONS)]
                t0 = time.perf_counter()
                try:
                    answer, error = ask(client, server, q)
                except Exception as exc:  # a refused connection, a timeout: all failures
                    answer, error = None, f"{type(exc).__name__}: {exc}"
                with lock:
                    records.append((t0, time.perf_counter(), q, answer, error))

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(THREADS)]
    for t in threads:
        t.start()
    time.sleep(DURATION_S / 2)
    add_start = time.perf_counter()
    with httpx.Client(timeout=REQUEST_TIMEOUT_S) as client:
        added = upload(client, server, "weather.txt", ADDED.text.encode())
    add_end = time.perf_counter()
    for t in threads:
        t.join(timeout=DURATION_S + 2 * REQUEST_TIMEOUT_S)
    assert not any(t.is_alive() for t in threads), "a client is still waiting for an answer"
    with httpx.Client(timeout=REQUEST_TIMEOUT_S) as client:
        after = {q: ask(client, server, q) for q in QUESTIONS}
    assert added["success"], added
    # The status is Markdown with its punctuation as entities (qa.render.escape_markdown).
    assert html.unescape(added["output"]["data"][1]).startswith("Added weather.txt"), added
    assert before != after  # the upload changed some answers, so the check below means something

    errors = [r[4] for r in records if r[4]]
    answers_before = {q: answer for q, (answer, _) in before.items()}
    answers_after = {q: answer for q, (answer, _) in after.items()}
    wrong = wrong_answers(records, answers_before, answers_after, add_start, add_end)
    latencies = np.array([t1 - t0 for t0, t1, *_ in records]) * 1000
    during = sum(1 for t0, t1, *_ in records if t1 >= add_start and t0 <= add_end)
    after_upload = sum(1 for t0, *_ in records if t0 > add_end)
    figures["requests served"] += len(records)
    line = (f"http load: {THREADS} clients, {DURATION_S:.0f} s: {len(records)} answers "
            f"({len(records) / (time.perf_counter() - start):.1f}/s), "
            f"p50 {np.percentile(latencies, 50):.0f} ms, p95 {np.percentile(latencies, 95):.0f} ms, "
            f"upload took {add_end - add_start:.2f} s ({during} overlapped it, {after_upload} after), "
            f"server memory {rss_before:.0f} -> {server.rss_mb():.0f} MB; "
            f"errors {len(errors)}, wrong {len(wrong)}")  # fmt: skip
    print("\n" + line)
    NOTES.append(line)
    assert not errors, errors[:3]
    assert not wrong, wrong[:5]
    assert len(records) > THREADS and after_upload > 0
    assert server.proc.poll() is None and "Traceback" not in server.stderr(), server.stderr()


# -- limits --------------------------------------------------------------------------------

MB = 2**20
OVERSIZED = [
    ("a 1 MB question", "x" * MB, [], "keep it to at most 2,000"),
    ("a 16 MB question", "y " * (8 * MB), [], "keep it to at most 2,000"),
    ("a 1 MB message in the history", "and Tyva?", [{"role": "user", "content": "z" * MB}], None),
    ("20,000 messages of history", "and Tyva?",
     [{"role": "user", "content": "Where is Buryatia?"}] * 20_000, None),
    ("history of the wrong type", "and Tyva?", [1, None, "x"], "history must be a list"),
    ("a question that is not text", 12, [], "the question must be text"),
]  # fmt: skip


@pytest.mark.parametrize(("question", "history", "message"),
                         [case[1:] for case in OVERSIZED], ids=[c[0] for c in OVERSIZED])  # fmt: skip
def test_oversized_requests_get_a_clear_error_and_the_server_keeps_serving(
    server, figures, question, history, message
):
    """A huge question is refused with the library's message (a huge history is cut to size
    and answered); either way the next question is answered."""
    with httpx.Client(timeout=REQUEST_TIMEOUT_S) as client:
        t0 = time.perf_counter()
        answer, error = ask(client, server, question, history)
        elapsed = time.perf_counter() - t0
        figures["inputs tried"] += 1
        if message is None:
            assert error is None and answer is not None and answer["text"], error
        else:
            assert answer is None and error is not None and message in error, error
        assert elapsed < 10, f"{elapsed:.1f} s"
        answer, error = ask(client, server, QUESTIONS[0])
    assert error is None and answer is not None and server.proc.poll() is None


def test_uploads_over_the_size_limit_are_refused_over_http(server, figures):
    with httpx.Client(timeout=REQUEST_TIMEOUT_S) as client:
        at_limit = b"a" * MAX_UPLOAD_BYTES
        r = client.post(server.api("upload"), files=[("files", ("limit.txt", at_limit))])
        assert r.status_code == 200, r.text  # the limit itself is allowed
        r = client.post(server.api("upload"), files=[("files", ("big.txt", at_limit + b"a"))])
        figures["inputs tried"] += 2
        assert r.status_code == 413, r.text
        assert f"maximum allowed size of {MAX_UPLOAD_BYTES} bytes" in r.text
        answer, error = ask(client, server, QUESTIONS[0])
    assert error is None and answer is not None


def test_the_upload_event_cannot_name_a_file_outside_the_upload_folder(server, tmp_path, figures):
    """The upload handler deletes the files it reads: a path the client made up must not
    reach it."""
    victim = tmp_path / "victim.txt"
    victim.write_text("Not an upload. Deleting me would be a bug.")
    with httpx.Client(timeout=REQUEST_TIMEOUT_S) as client:
        result = page_event(client, server, "qa-upload", "upload",
                            [[file_data(str(victim), "victim.txt")]])  # fmt: skip
    figures["inputs tried"] += 1
    assert not result["success"]
    assert victim.read_text().startswith("Not an upload")


# -- where it listens, and who may use it --------------------------------------------------


def test_serve_listens_on_loopback_only_by_default(server):
    assert server.url == f"http://127.0.0.1:{server.port}/"
    assert listening_addresses(server.port) == {ipaddress.ip_address("127.0.0.1")}


def test_share_without_auth_requires_the_generated_password(tmp_path):
    with serve(tmp_path, "--share") as s, httpx.Client(timeout=REQUEST_TIMEOUT_S) as client:
        assert "test: tunnel refused" in s.stderr()  # the public link was asked for
        out = s.stdout()
        assert "could not open a public link" in out
        password = re.search(r"log in as user 'qa' with password '([^']+)'", out).group(1)  # type: ignore[union-attr]
        assert len(password) >= 16
        assert listening_addresses(s.port) == {ipaddress.ip_address("127.0.0.1")}

        _, error = ask(client, s, QUESTIONS[0])
        assert error is not None and "401" in error and "Not authenticated" in error
        r = client.post(s.api("upload"), files=[("files", ("a.txt", b"Hello."))])
        assert r.status_code == 401
        r = client.post(f"{s.url}login", data={"username": "qa", "password": password + "x"})
        assert r.status_code == 400 and not client.cookies
        r = client.post(f"{s.url}login", data={"username": "qa", "password": password})
        assert r.status_code == 200, r.text
        answer, error = ask(client, s, QUESTIONS[0])
        assert error is None and answer is not None
    assert s.proc.returncode == 0, s.stderr()[-2000:]  # Ctrl-C stops it cleanly
