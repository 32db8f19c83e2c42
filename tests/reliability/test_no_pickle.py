"""Security: nothing in qa unpickles, evaluates or shells out; saved indexes hold plain data."""

from __future__ import annotations

import ast
import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qa.assistant import Assistant
from qa.store import current_version

from .harness import ROOT, SEEDS, HashEmbedder

PACKAGE = ROOT / "qa"
FORBIDDEN_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "joblib", "shelve",
                     "marshal"}  # fmt: skip
FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__", "os.system", "os.popen"}
NEEDLES = ("allow_pickle=True", "torch.load", "read_pickle", "yaml.load(", "shell=True")


def _sources() -> list[tuple[Path, ast.Module, str]]:
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 10
    return [(f, ast.parse(f.read_text(), str(f)), f.read_text()) for f in files]


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return "?"


def test_no_pickle_eval_or_shell_in_the_package():
    problems = []
    for path, tree, text in _sources():
        where = path.relative_to(ROOT)
        for needle in NEEDLES:
            if needle in text:
                problems.append(f"{where}: {needle}")
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [(node.module or "").split(".")[0]]
            else:
                names = []
            bad = [n for n in names if n in FORBIDDEN_MODULES]
            problems += [f"{where}:{node.lineno}: imports {n}" for n in bad]
            if not isinstance(node, ast.Call):
                continue
            name = _dotted(node.func)
            if name in FORBIDDEN_CALLS:
                problems.append(f"{where}:{node.lineno}: calls {name}")
            # Loaders that can unpickle must say allow_pickle=False, not rely on a default.
            if name.endswith(("np.load", "numpy.load", "BM25.load")):
                flags = [k for k in node.keywords if k.arg == "allow_pickle"]
                value = flags[0].value if flags else None
                if not (isinstance(value, ast.Constant) and value.value is False):
                    problems.append(f"{where}:{node.lineno}: {name} without allow_pickle=False")
    assert not problems, "\n".join(problems)


@pytest.fixture
def no_pickle(monkeypatch):
    """Any unpickling in this test fails loudly."""

    def refuse(*args, **kwargs):
        raise AssertionError("something unpickled")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)


def test_an_index_round_trip_never_unpickles(no_pickle, tmp_path, figures):
    a = Assistant.from_paths([SEEDS], embedder=HashEmbedder(), index_dir=tmp_path, progress=False)
    b = Assistant.load(tmp_path, embedder=HashEmbedder())
    assert b.ask("Where is Buryatia?") == a.ask("Where is Buryatia?")
    # Every file is plain data: JSON, text, numeric arrays, FAISS indexes.
    for f in current_version(tmp_path).rglob("*"):
        if f.suffix in (".json",):
            json.loads(f.read_text())
        elif f.suffix == ".jsonl":
            [json.loads(line) for line in f.read_text().splitlines()]
        elif f.suffix in (".npy", ".npz"):
            arrays = np.load(f, allow_pickle=False)
            for arr in arrays.values() if f.suffix == ".npz" else [arrays]:
                assert arr.dtype != object
        elif f.is_file():
            assert f.suffix in (".faiss", ".txt"), f"unexpected file {f.name}"
    figures["inputs tried"] += 1


@pytest.mark.model
def test_the_model_loads_without_pickle():
    """The packaged weights are safetensors: loading the model never reaches torch.load."""
    script = """
import pickle
def refuse(*a, **k):
    raise AssertionError("pickle used")
class Refuse(pickle.Unpickler):
    def __init__(self, *a, **k):
        refuse()
pickle.load = pickle.loads = refuse
pickle.Unpickler = Refuse
import torch
torch.load = refuse
from qa.embed import MiniLMEmbedder
assert MiniLMEmbedder().embed(["a question"]).shape == (1, 384)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=300,
                            cwd=ROOT)  # fmt: skip
    assert result.returncode == 0, result.stderr.decode()[-2000:]
