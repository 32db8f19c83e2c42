"""Embedded batches kept on disk while an index is built, so an interrupted build resumes.

    index/.staging/
      key.json            model and chunking the batches were made with
      b-<hash>.npy        one batch: passage vectors, then sentence vectors, doc by doc
      b-<hash>-tokens.npz its sentences' token codes (qa.tokens), when the build keeps them
      b-<hash>.json       which documents (id, content hash, counts) the batch holds

The .json is written after the others, each by an atomic rename, so a batch listed in a .json
is complete; a build killed mid-batch leaves at most an orphan .npy. A re-run takes every
document it finds here instead of embedding it again. Once the index is saved, the batches
the build read or wrote are deleted (`discard`), and the rest too (a killed build's, for
documents this one did not index) unless another build is under way: each build holds
`.users` shared (flock) while it lasts, and the last one out clears the folder.
Staging is best effort: a batch that cannot be written only costs its re-embedding later.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import zipfile
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import BinaryIO

import numpy as np

try:
    import fcntl
except ImportError:  # Windows: a killed build's batches for other documents stay
    fcntl = None  # type: ignore[assignment]

from .chunk import ChunkParams
from .embed import Embedder
from .tokens import TokenVectors
from .tokens import basis as token_basis

FOLDER = ".staging"  # in the index folder
USERS = ".users"  # held shared by each build using the folder

# file, passage row, passages, sentence row, sentences, the batch's sentence number
StagedDoc = tuple[Path, int, int, int, int, int]


class Staging:
    """Batches already embedded for one model and chunking, looked up by (doc id, content hash)."""

    def __init__(self, folder: Path, embedder: Embedder, params: ChunkParams) -> None:
        self.folder = folder
        key = {
            "model": embedder.name,
            "fingerprint": embedder.fingerprint,
            "chunking": asdict(params.spans_only()),  # terms are cut anew; vectors stay good
            "tokens": token_basis().fingerprint if embedder.has_tokens else None,
        }
        try:
            same = json.loads((folder / "key.json").read_text()) == key
        except (OSError, ValueError):
            same = False
        if not same:
            clear(folder)
            try:
                folder.mkdir(parents=True, exist_ok=True)
                data = json.dumps(key).encode()
                _write_atomic(folder / "key.json", lambda fh: fh.write(data))
            except OSError:
                pass  # a read-only index folder: build without staging
        self.docs: dict[tuple[str, str], StagedDoc] = {}
        self._sentences: dict[Path, int] = {}  # each batch's count of sentences
        for meta in _batches(folder):
            try:
                entries = json.loads(meta.read_text())["docs"]
            except (OSError, ValueError, KeyError):
                continue
            vectors = meta.with_suffix(".npy")
            if not vectors.is_file():
                continue
            n_pass = sum(e[2] for e in entries)
            self._sentences[vectors] = sum(e[3] for e in entries)
            p_row, s_row = 0, n_pass
            for doc_id, sha, npass, nsent in entries:
                self.docs[(doc_id, sha)] = (vectors, p_row, npass, s_row, nsent, s_row - n_pass)
                p_row += npass
                s_row += nsent
        self._open: dict[Path, np.ndarray] = {}
        self._tokens: dict[Path, TokenVectors | None] = {}
        self.used: set[Path] = set()
        self._users = _hold(folder / USERS, fcntl.LOCK_SH) if fcntl is not None else None

    def get(
        self, doc_id: str, sha: str, npass: int, nsent: int
    ) -> tuple[np.ndarray, np.ndarray, list[np.ndarray] | None] | None:
        """Passage and sentence vectors of a staged document, if its counts still agree, and
        its sentences' token codes if the batch kept them."""
        hit = self.docs.get((doc_id, sha))
        if hit is None or hit[2] != npass or hit[4] != nsent:
            return None
        path, p_row, _, s_row, _, s_local = hit
        try:
            if path not in self._open:
                self._open[path] = np.load(path, mmap_mode="r", allow_pickle=False)
            rows = self._open[path]
            self.used.add(path)
            tokens = self._token_codes(path)
            return (
                rows[p_row : p_row + npass],
                rows[s_row : s_row + nsent],
                tokens.sentences(s_local, s_local + nsent) if tokens is not None else None,
            )
        except (OSError, ValueError):
            return None

    def _token_codes(self, vectors: Path) -> TokenVectors | None:
        """The token codes staged beside `vectors`; None if the batch has none (or they do
        not read), and then only the token codes are embedded again."""
        if vectors not in self._tokens:
            try:
                tokens = TokenVectors.load(_tokens_file(vectors))
            except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
                tokens = None  # a batch staged before tokens were, or a damaged file
            if tokens is not None and tokens.n_sentences != self._sentences.get(vectors):
                tokens = None
            self._tokens[vectors] = tokens
        return self._tokens[vectors]

    def put(
        self,
        entries: list[tuple[str, str, int, int]],
        vectors: np.ndarray,
        tokens: list[np.ndarray] | None = None,
    ) -> None:
        """Keep one embedded batch: `vectors` holds all passage rows, then all sentence rows;
        `tokens`, the token codes of each sentence, in the same order."""
        digest = hashlib.sha256(json.dumps(entries).encode()).hexdigest()[:20]
        npy = self.folder / f"b-{digest}.npy"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            _write_atomic(npy, lambda fh: np.save(fh, np.ascontiguousarray(vectors, np.float32)))
            if tokens is not None:
                _write_atomic(_tokens_file(npy), TokenVectors.of(tokens).write)
            listing = json.dumps({"docs": entries}).encode()
            _write_atomic(npy.with_suffix(".json"), lambda fh: fh.write(listing))
        except OSError:
            pass  # staging only saves work; a disk that refuses it must not stop the build
        self.used.add(npy)

    def discard(self) -> None:
        """Delete the batches this build read or wrote; every other one too if no other build
        is under way (what a killed build left for documents no longer indexed), and then the
        folder."""
        for path in self.used:
            # The .json first: it marks a batch.
            for p in (path.with_suffix(".json"), path, _tokens_file(path)):
                p.unlink(missing_ok=True)
        self._open.clear()
        alone = False
        if self._users is not None and fcntl is not None:
            try:
                fcntl.flock(self._users, fcntl.LOCK_EX | fcntl.LOCK_NB)  # no other build holds it
                alone = True
            except OSError:
                pass
        self.release()
        if alone or not _batches(self.folder):
            clear(self.folder)

    def release(self) -> None:
        """Stop using the folder, its batches kept (a build that failed on bad input)."""
        if self._users is not None:
            os.close(self._users)
            self._users = None


def _hold(path: Path, how: int) -> int | None:
    """A descriptor of `path` locked `how`; None if it cannot be (a read-only folder)."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        return None
    try:
        fcntl.flock(fd, how)  # type: ignore[union-attr]
    except OSError:
        os.close(fd)
        return None
    return fd


def has_batches(index_dir: Path) -> bool:
    """Whether an interrupted build left embedded batches in `index_dir` for the next."""
    return bool(_batches(Path(index_dir) / FOLDER))


def _batches(folder: Path) -> list[Path]:
    """The batch listings in `folder`; none if another writer has just removed it (a glob
    racing with that removal raises)."""
    try:
        return sorted(folder.glob("b-*.json"))
    except FileNotFoundError:
        return []


def _tokens_file(vectors: Path) -> Path:
    return vectors.with_name(f"{vectors.stem}-tokens.npz")


# What qa writes in the folder: the key, the users' lock, the batches, and their temporary
# files (_write_atomic). Anything else there is someone else's, and stays.
_OWN = re.compile(
    r"^\.?(?:key\.json|users|b-[0-9a-f]+(?:\.npy|\.json|-tokens\.npz))(?:-\d+\.tmp)?$"
)


def clear(folder: Path) -> None:
    """Delete qa's own files in `folder`, then the folder if that leaves it empty: a user's
    own folder of that name ("notes/.staging/") keeps what the user put there."""
    try:
        entries = list(folder.iterdir())
    except OSError:
        return
    for path in entries:
        if _OWN.match(path.name) and not path.is_dir():
            with contextlib.suppress(OSError):
                path.unlink()
    with contextlib.suppress(OSError):
        folder.rmdir()


def _write_atomic(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """`write` to a private temporary file, then rename it into place; no temporary file is
    left if it fails."""
    tmp = path.with_name(f".{path.name}-{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise
