"""Shared fixtures: a tiny deterministic embedder, so most tests need no model."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from qa.embed import Embedder
from qa.text import terms

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SHARED_EVAL = Path(os.environ.get("QA_SHARED_EVAL", ROOT.parent / "shared" / "eval"))


class HashEmbedder(Embedder):
    """Bag of stemmed words hashed into 64 dimensions: similar words, similar vectors."""

    name = "test/hash-embedder"
    dim = 64
    fingerprint = "hash-64-v1"

    def recording(self) -> list[list[str]]:
        """From now on, the texts of every call to `embed`, one list a call."""
        calls: list[list[str]] = []
        original = self.embed
        self.embed = lambda texts, **kw: (calls.append(list(texts)), original(texts, **kw))[1]  # type: ignore[method-assign]
        return calls

    def embed(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for t in terms(text) or ["<empty>"]:
                h = int.from_bytes(hashlib.blake2b(t.encode(), digest_size=4).digest(), "little")
                out[i, h % self.dim] += 1.0 if (h >> 16) & 1 else -1.0
            norm = np.linalg.norm(out[i])
            out[i] = out[i] / norm if norm else 1.0 / np.sqrt(self.dim)
        return out


@pytest.fixture
def fake_embedder() -> HashEmbedder:
    return HashEmbedder()


@pytest.fixture(scope="session")
def real_embedder():
    from qa.embed import default_embedder

    return default_embedder()
