"""The `qa` command with the real model: index, ask --json matching the API, help without torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, SEEDS

QA = [sys.executable, "-m", "qa.cli"]
ENV = {**os.environ, "HF_HUB_OFFLINE": "1"}


def run(*args: str, cwd=ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*QA, *args], capture_output=True, text=True, env=ENV, cwd=cwd, timeout=600
    )


def test_help_is_instant_and_imports_no_torch():
    code = "import sys, qa.cli\ntry:\n    qa.cli.main(['--help'])\nexcept SystemExit:\n    pass\nprint('torch' in sys.modules, 'faiss' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV)
    assert out.stdout.strip().splitlines()[-1] == "False False"


def test_ask_without_an_index_says_how_to_build_one(tmp_path):
    where = str(tmp_path / "none")
    out = run("--index-dir", where, "ask", "Who?")
    assert out.returncode == 2
    assert f"qa index seeds/ --index-dir {where}" in out.stderr and "Traceback" not in out.stderr
    # The option is taken after the command too, as that message writes it.
    again = run("ask", "Who?", "--index-dir", where)
    assert again.returncode == 2 and f"no index in {where}" in again.stderr


@pytest.mark.model
def test_index_then_ask_json_matches_the_python_api(tmp_path, real_embedder):
    from qa import Assistant

    index_dir = tmp_path / "index"
    out = run("--index-dir", str(index_dir), "index", str(SEEDS))
    assert out.returncode == 0, out.stderr
    assert "indexed 1 documents" in out.stdout
    question = "How many military deaths from Buryatia has RFE/RL recorded?"
    out = run("--index-dir", str(index_dir), "ask", question, "--json")
    assert out.returncode == 0, out.stderr
    cli = json.loads(out.stdout)
    api = Assistant.load(index_dir, embedder=real_embedder).ask(question).to_dict()
    assert cli == api
    assert set(cli) >= {"text", "abstained", "confidence", "citations"}
    for c in cli["citations"]:
        path = c["document"] if os.path.isabs(c["document"]) else ROOT / c["document"]
        text = Path(path).read_text(encoding="utf-8")
        assert text[c["start"] : c["end"]] == c["text"]
    out = run("--index-dir", str(index_dir), "ask", question)
    assert out.returncode == 0 and "[1]" in out.stdout
