"""Contextual token vectors of sentences, for the scorer's token-alignment features.

A sentence vector says what a sentence is about; it blurs which words the question and the
sentence share in meaning ("heads" and "head of", "called me" and "call her"). The model's
own token vectors keep that: for each content word of the question, the best cosine with
any token of the sentence. They come out of the same model call that makes the sentence
vectors, so storing them costs no model time; they are projected to DIM dimensions (a PCA
basis fitted on ../shared/eval sentences, `qa/token_basis.npz`) and stored as int8, about
4 KB a sentence. Collections of more than MAX_SENTENCES sentences do without: the scorer
then uses its weights learned without these features.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import BinaryIO

import numpy as np

from .text import STOPWORDS

DIM = 128
MAX_SENTENCES = 20_000
FEATURES = ("tok_mean", "tok_min", "tok_low", "tok_min2")
LOW = 0.5  # a question word whose best match is below this has no counterpart in the sentence


@dataclass(frozen=True)
class Basis:
    """Projection of the model's 384-d token vectors to DIM dimensions."""

    mean: np.ndarray  # (384,)
    proj: np.ndarray  # (384, DIM)
    fingerprint: str

    def project(self, vectors: np.ndarray) -> np.ndarray:
        """Unit-length projections of raw token vectors, shape (k, DIM)."""
        p = (np.asarray(vectors, dtype=np.float32) - self.mean) @ self.proj
        return p / np.maximum(np.linalg.norm(p, axis=1, keepdims=True), 1e-9)


@cache
def basis() -> Basis:
    with resources.as_file(resources.files("qa").joinpath("token_basis.npz")) as path:
        data = np.load(path, allow_pickle=False)
        mean, proj = data["mean"].astype(np.float32), data["proj"].astype(np.float32)
    digest = hashlib.sha256(mean.tobytes() + proj.tobytes()).hexdigest()[:16]
    return Basis(mean, proj, digest)


def quantise(unit: np.ndarray) -> np.ndarray:
    """int8 codes of unit vectors; cosines only need their direction, so no scale is kept."""
    if not len(unit):
        return np.zeros((0, DIM), dtype=np.int8)
    peak = np.maximum(np.abs(unit).max(axis=1, keepdims=True), 1e-9)
    return np.round(unit / peak * 127).astype(np.int8)


def _unit(codes: np.ndarray) -> np.ndarray:
    x = codes.astype(np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-9)


def is_content(token: str) -> bool:
    """A wordpiece that carries meaning: not punctuation, not a stopword."""
    word = token.removeprefix("##")
    return word.isalnum() and word.lower() not in STOPWORDS


@dataclass
class TokenVectors:
    """Sentence s owns codes[offsets[s]:offsets[s + 1]]."""

    offsets: np.ndarray  # int64, n_sentences + 1
    codes: np.ndarray  # int8, (n_tokens, DIM)

    @classmethod
    def of(cls, per_sentence: list[np.ndarray]) -> TokenVectors:
        lengths = np.array([len(c) for c in per_sentence], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        codes = np.concatenate(per_sentence) if per_sentence else np.zeros((0, DIM), np.int8)
        return cls(offsets, np.ascontiguousarray(codes, dtype=np.int8))

    @property
    def n_sentences(self) -> int:
        return len(self.offsets) - 1

    def sentence(self, s: int) -> np.ndarray:
        return self.codes[self.offsets[s] : self.offsets[s + 1]]

    def sentences(self, start: int, stop: int) -> list[np.ndarray]:
        return [self.sentence(s) for s in range(start, stop)]

    def save(self, path: Path) -> None:
        with path.open("wb") as fh:
            self.write(fh)

    def write(self, fh: BinaryIO) -> None:
        np.savez(fh, offsets=self.offsets, codes=self.codes)

    @classmethod
    def load(cls, path: Path) -> TokenVectors:
        data = np.load(path, allow_pickle=False)
        offsets, codes = data["offsets"], data["codes"]
        if (
            offsets.ndim != 1
            or codes.ndim != 2
            or codes.shape[1] != DIM
            or codes.dtype != np.int8
            or offsets[0] != 0
            or offsets[-1] != len(codes)
            or (np.diff(offsets) < 0).any()
        ):
            raise ValueError("token vectors do not match their offsets")
        return cls(offsets.astype(np.int64), codes)

    def features(self, question: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """FEATURES of sentences `ids` for the question's unit content-token vectors."""
        out = np.zeros((len(ids), len(FEATURES)))
        ids = np.asarray(ids, dtype=np.int64)
        lengths = self.offsets[ids + 1] - self.offsets[ids]
        if not len(question) or not lengths.any():
            return out
        # One product for all candidates' tokens: a single BLAS call, not one per sentence.
        rows = np.concatenate([np.arange(self.offsets[s], self.offsets[s + 1]) for s in ids])
        sims = question.astype(np.float32) @ _unit(self.codes[rows]).T  # (words, all tokens)
        has = lengths > 0
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])[has]
        best = np.maximum.reduceat(sims, starts, axis=1).T  # (sentences with tokens, words)
        worst2 = np.sort(best, axis=1)[:, :2].mean(axis=1)
        out[has] = np.column_stack(
            [best.mean(axis=1), best.min(axis=1), (best < LOW).mean(axis=1), worst2]
        )
        return out


def question_vectors(words: list[str], vectors: np.ndarray) -> np.ndarray:
    """Unit vectors of a question's content wordpieces (all of them if none is content)."""
    keep = [i for i, w in enumerate(words) if is_content(w)] or list(range(len(words)))
    return basis().project(vectors[keep]) if keep else np.zeros((0, DIM), dtype=np.float32)
