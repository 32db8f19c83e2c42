"""Save and load an index as plain files plus `manifest.json`; writes are atomic, never pickled.

Layout of an index directory:

    index/
      CURRENT            name of the live version folder (replaced atomically)
      .lock              held while writing, so two writers never interleave
      v-<stamp>/         one complete version: manifest.json, documents.jsonl (and
                         documents-<token>.jsonl for texts added since), spans.npz, passages-<token>.npy (exact vectors, one file per
                         segment), passages.slots.npy, for large collections
                         passages-<token>.faiss (and the same for sentences), bm25-*/,
                         tokens.npz (sentences' token vectors, small collections only)
      .staging/          embedded batches of a build in progress (see qa.staging)

A build writes a new version folder, then switches CURRENT with os.replace; a crash
before the switch leaves the previous version live and untouched. Files are never changed
once written, so a new version hard-links the files it shares with the current one (document
texts, vector segments, the approximate index) and copies their checksums from its manifest:
adding one document writes that document, its vectors and the small files, not the index.

Loading checks every file's size against the manifest, and the sha256 of files up to
VERIFY_MAX_BYTES: that covers all of a small index, while a large one opens in about a second
instead of hashing gigabytes. `load(..., verify=True)` (or `qa verify`) hashes everything.
Vectors and BM25 arrays are memory-mapped, so only the pages a search touches are read.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import hashlib
import json
import os
import secrets
import shlex
import shutil
import time
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock, Timeout

from .chunk import ChunkParams
from .embed import Embedder
from .errors import IndexIntegrityError, QAError
from .index import Index
from .ingest import VERSION_FOLDER, Document
from .lexical import Lexical
from .tokens import DIM, TokenVectors, basis
from .vectors import Part, Vectors

FORMAT = "qa-index"
# 2: exact vectors in .npy, approximate indexes for large collections
# 3: files shared between versions (vector segments, document files), linked, not rewritten
FORMAT_VERSION = 3
DOCUMENTS_MAX_DEAD = 0.2  # share of stored text no longer indexed before texts are rewritten
DOCUMENTS_MAX_FILES = 16
VERIFY_MAX_BYTES = 32 << 20  # files up to this size are hashed at every load
LOCK_TIMEOUT_S = 600


def lock(directory: Path) -> FileLock:
    directory.mkdir(parents=True, exist_ok=True)
    return FileLock(str(directory / ".lock"), timeout=LOCK_TIMEOUT_S)


def current_version(directory: Path) -> Path | None:
    try:
        name = (directory / "CURRENT").read_text().strip()
    except (OSError, ValueError):  # a CURRENT that is not text names no version
        return None
    path = directory / name
    if "/" in name or not name.startswith("v-") or not path.is_dir():
        return None
    return path


def not_a_folder(directory: Path) -> QAError | None:
    """The error for an index folder that is a file or lies inside one, or None."""
    for path in (directory, *directory.parents):
        try:
            if path.exists():
                if path.is_dir():
                    return None
                return QAError(f"{path} is a file, not a folder; choose another --index-dir")
        except OSError:  # a folder we may not look into: the caller's own message says so
            return None
    return None


def no_index(directory: Path, build: str | None = None) -> QAError:
    """The error for `directory` holding no index; `build` is the command that makes one."""
    build = build or f"`{index_command([], None)} --index-dir {directory}`"
    if error := not_a_folder(directory):
        return error
    try:
        named = (directory / "CURRENT").read_text().strip()
    except (OSError, ValueError):
        named = ""
    if VERSION_FOLDER.fullmatch(named) and not (directory / named).exists():
        # Not "no index": the user deleted or moved the folder the index lives in.
        return QAError(
            f"the index in {directory} is missing its folder {named}, which CURRENT names "
            f"(deleted or moved?); build it again with {build}"
        )
    return QAError(f"no index in {directory}; build one with {build}")


def index_command(sources: Sequence[str], cwd: str | None) -> str:
    """`qa index SOURCES...`: the command that rebuilds an index from the `sources` its
    manifest records, which are relative to `cwd` (the folder `qa index` ran in), written so
    that it works from the current folder; `qa index PATH...` when the sources are unknown."""
    if cwd is not None and cwd != os.getcwd():
        sources = [os.path.normpath(os.path.join(cwd, s)) for s in sources]  # absolute: kept
    return "qa index " + (" ".join(shlex.quote(s) for s in sources) or "PATH...")


def _rebuild(directory: Path, manifest: dict[str, Any] | None) -> str:
    """The advice that ends a message about a damaged or stale index: its rebuild command."""
    manifest = manifest or {}
    sources, cwd = manifest.get("sources"), manifest.get("cwd")
    sources = [s for s in sources if isinstance(s, str)] if isinstance(sources, list) else []
    command = index_command(sources, cwd if isinstance(cwd, str) else None)
    return f"rebuild it with `{command} --index-dir {directory}`"


def read_manifest_or_none(directory: Path) -> dict[str, Any] | None:
    """The current manifest, or None if there is none or it cannot be read."""
    try:
        return read_manifest(directory)
    except QAError:
        return None


def read_manifest(directory: Path) -> dict[str, Any] | None:
    version = current_version(directory)
    return None if version is None else _read_manifest(directory, version)


def _read_manifest(directory: Path, version: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((version / "manifest.json").read_text())
    except (OSError, ValueError):
        raise IndexIntegrityError(
            f"the index in {directory} has a missing or unreadable manifest",
            _rebuild(directory, None),
        ) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise IndexIntegrityError(
            f"{directory} does not hold a qa index; choose another --index-dir or delete it"
        )
    # A manifest damaged but still JSON ("model": "x"): what the code reads must have its kind.
    for key, kinds in _MANIFEST_KINDS.items():
        if key in manifest and not isinstance(manifest[key], kinds):
            raise IndexIntegrityError(
                f"the index in {directory} has a damaged manifest (its {key!r})",
                _rebuild(directory, manifest),
            )
    return manifest


_MANIFEST_KINDS: dict[str, type | tuple[type, ...]] = {
    "format_version": int,
    "model": dict,
    "chunking": dict,
    "vectors": dict,
    "tokens": (dict, type(None)),
    "sources": list,
    "added": list,
    "documents": dict,
    "document_files": dict,
    "counts": dict,
    "files": dict,
}


def save(
    index: Index,
    directory: Path,
    embedder: Embedder,
    *,
    sources: list[str],
    added: Collection[str] = (),
    cwd: str | None = None,
    expect: str | None = None,
) -> Path:
    """Write `index` as a new version of `directory` and make it current; return its folder.
    `added` are the ids of documents added to it beside `sources` (uploads in the web app).
    With `expect`, the version `index` was made from: if another is current by now (another
    process saved meanwhile), nothing is written and `Moved` is raised."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with lock(directory):
            current = current_version(directory)
            if expect is not None and current is not None and current.name != expect:
                raise Moved(
                    f"another process changed the index in {directory} meanwhile; try again"
                )
            return _save_locked(index, directory, embedder, sources, added, cwd or os.getcwd())
    except Timeout:
        raise QAError(
            f"another process is writing {directory}; try again when it finishes"
        ) from None
    except OSError as exc:
        # A full disk, a read-only folder, a file where the folder should be. Whichever
        # version is current is whole: the switch to a new one is a single rename.
        if error := not_a_folder(directory):
            raise error from None
        advice = "free some space or " if exc.errno == errno.ENOSPC else ""
        raise QAError(
            f"cannot save the index in {directory} ({exc.strerror or exc}); "
            f"{advice}choose another --index-dir"
        ) from None


class Moved(QAError):
    """The index folder holds another version than the one a change was made to."""


def check_writable(directory: Path) -> None:
    """Refuse, before any embedding, a folder the index could not be saved in (read-only,
    not a folder, no permission): a build would be thrown away at the end."""
    pointer = directory / "CURRENT"
    try:
        named = pointer.read_bytes()[:200].decode("utf-8", "replace").strip()
    except OSError:  # none yet (or no folder): qa writes it
        named = None
    if named is not None and not VERSION_FOLDER.fullmatch(named):
        # A user's own file of that name ("notes/CURRENT") would be written over.
        raise QAError(
            f"{pointer} is not an index's (it names no qa version folder); qa keeps the name "
            "of its live index there, so choose another --index-dir"
        )
    # The folders this makes (the index folder and any missing parents), removed again.
    created: list[Path] = []
    try:  # looking, too, may be refused (a parent we may not search)
        created = [p for p in (directory, *directory.parents) if not p.exists()]
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / f".probe-{os.getpid()}-{secrets.token_hex(4)}"
        probe.touch(exist_ok=False)
        probe.unlink()
    except OSError as exc:
        if error := not_a_folder(directory):
            raise error from None
        raise QAError(
            f"cannot write the index in {directory} ({exc.strerror or exc}); "
            "choose another --index-dir"
        ) from None
    finally:
        for folder in created:  # deepest first; made again when the index is saved
            with contextlib.suppress(OSError):
                folder.rmdir()


_POINTER = ".CURRENT.next"


def _save_locked(
    index: Index,
    directory: Path,
    embedder: Embedder,
    sources: list[str],
    added: Collection[str],
    cwd: str,
) -> Path:
    stamp = f"v-{time.strftime('%Y%m%d%H%M%S')}-{os.getpid()}-{time.monotonic_ns() % 10**6}"
    tmp = directory / f".tmp-{stamp}"
    tmp.mkdir()
    try:
        doc_entries, doc_files, doc_parts = _document_parts(index, current_version(directory))
        parts = [
            *doc_parts,
            Part("spans.npz", lambda path: _save_spans(index, path)),
            *index.passage_vectors.parts("passages"),
            *index.sentence_vectors.parts("sentences"),
        ]
        if index.tokens is not None:
            parts.append(Part("tokens.npz", index.tokens.save))
        for name, lex in (
            ("bm25-passages", index.passage_bm25),
            ("bm25-sentences", index.sentence_bm25),
        ):
            parts += [dataclasses.replace(p, rel=f"{name}/{p.rel}") for p in lex.parts()]
        files = _write_parts(parts, tmp)
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "model": {
                "name": embedder.name,
                "weights_sha256": embedder.fingerprint,
                "dim": embedder.dim,
            },
            "chunking": dataclasses.asdict(index.params),
            "index_type": index.index_type,
            "vectors": {
                "passages": index.passage_vectors.describe(),
                "sentences": index.sentence_vectors.describe(),
            },
            "tokens": (
                {"dim": DIM, "basis": basis().fingerprint} if index.tokens is not None else None
            ),
            "sources": sources,
            # Relative paths in `sources` and document ids are relative to this folder.
            "cwd": cwd,
            "added": sorted(set(added) & set(index.doc_position)),
            "documents": doc_entries,
            "document_files": doc_files,
            "counts": {
                "documents": len(index.documents),
                "passages": index.n_passages,
                "sentences": index.n_sentences,
            },
            "files": files,
        }
        (tmp / "manifest.json").write_text(_manifest_text(manifest))
        _fsync(tmp / "manifest.json")
        # The new CURRENT is written inside the version, not beside it: the index folder may
        # be the user's own, with a ".CURRENT.tmp" of theirs.
        (tmp / _POINTER).write_text(stamp + "\n")
        _fsync(tmp / _POINTER)
        for folder in {(tmp / p.rel).parent for p in parts} | {tmp}:
            _fsync(folder)
        final = directory / stamp
        os.replace(tmp, final)
        os.replace(final / _POINTER, directory / "CURRENT")
        _fsync(directory)
        _fsync(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for part in parts:  # their files now live in `final`: the next version links them from there
        if part.saved is not None:
            part.saved(final)
    _remove_old_versions(directory, keep=stamp)
    return final


def _manifest_text(manifest: dict[str, Any]) -> str:
    """Indented JSON, but each column of the documents on one line: with indent, json
    encodes in Python, ~10x slower, and a collection may have hundreds of thousands."""
    columns = ",\n  ".join(
        f"{json.dumps(name)}: {json.dumps(values, ensure_ascii=False)}"
        for name, values in manifest["documents"].items()
    )
    text = json.dumps({**manifest, "documents": "@documents@"}, indent=1)
    return text.replace('"@documents@"', f"{{\n  {columns}\n }}", 1)


def _write_parts(parts: list[Part], folder: Path) -> dict[str, dict[str, Any]]:
    """Write or link every part into `folder`, fsync what was written; return the digests.

    A part whose content already lives in a version folder is hard-linked from there, and its
    digest is copied from that version's manifest: unchanged files cost neither a write nor a
    hash (but for one of at most VERIFY_MAX_BYTES, which is checked). If linking fails (the
    version was removed, the file system has no links, the size or checksum is not the
    recorded one), the part is written from memory like any other.
    """
    files: dict[str, dict[str, Any]] = {}
    written: list[str] = []
    manifests: dict[Path, dict[str, Any]] = {}
    for part in parts:
        dest = folder / part.rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        digest = _link(part, dest, manifests) if part.home is not None else None
        if digest is None:
            part.write(dest)
            written.append(part.rel)
        else:
            files[part.rel] = digest
    # hashlib releases the GIL on large blocks: big files hash side by side.
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        digests = pool.map(lambda rel: _file_digest(folder / rel), written)
        files.update(zip(written, digests, strict=True))
        list(pool.map(lambda rel: _fsync(folder / rel), written))
    return dict(sorted(files.items()))


def _link(part: Part, dest: Path, manifests: dict[Path, dict[str, Any]]) -> dict[str, Any] | None:
    assert part.home is not None
    try:
        if part.home not in manifests:
            manifests[part.home] = json.loads((part.home / "manifest.json").read_text())
        digest = manifests[part.home]["files"][part.rel]
        os.link(part.home / part.rel, dest)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    size = dest.stat().st_size
    # A file small enough to be hashed at every load is hashed before it is shared: a damaged
    # one (a byte flipped, its size kept) would make the rebuild that replaces its version
    # damaged too.
    if size != digest.get("bytes") or (
        size <= VERIFY_MAX_BYTES and _file_digest(dest)["sha256"] != digest.get("sha256")
    ):
        dest.unlink()
        return None
    return {"bytes": digest["bytes"], "sha256": digest["sha256"]}


def _save_spans(index: Index, path: Path) -> None:
    np.savez(
        path,
        sent_doc=index.sent_doc,
        sent_start=index.sent_start,
        sent_end=index.sent_end,
        passage_doc=index.passage_doc,
        passage_first=index.passage_first,
        passage_last=index.passage_last,
    )


def _document_parts(
    index: Index, previous: Path | None
) -> tuple[dict[str, object], dict[str, int], list[Part]]:
    """The documents for the manifest (a column per field: id, sha256, title, chars, file),
    the characters stored in each file of texts, and the parts that write (or link) them.

    Texts are written once: documents the current version already stores (same id, text and
    title) stay in its files, which are linked; only the others go to a new file. Once a fifth
    of the stored characters belong to documents no longer indexed, or there are too many
    files, all texts are written again into one file.
    """
    old: dict[tuple[str, str, str], str] = {}
    old_chars: dict[str, int] = {}
    if previous is not None:
        try:
            manifest = json.loads((previous / "manifest.json").read_text())
            old_chars = {str(f): int(n) for f, n in manifest["document_files"].items()}
            docs = manifest["documents"]
            old_keys = zip(docs["id"], docs["sha256"], docs["title"], strict=True)
            old = dict(zip(old_keys, docs["file"], strict=True))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            old, old_chars = {}, {}
    keys = [(d.id, sha, d.title) for d, sha in zip(index.documents, index.sha256s(), strict=True)]
    files = [old.get(key) if old.get(key) in old_chars else None for key in keys]
    kept = {f for f in files if f is not None}
    live = sum(len(d.text) for d, f in zip(index.documents, files, strict=True) if f is not None)
    stored = sum(old_chars[f] for f in kept)
    if stored - live > DOCUMENTS_MAX_DEAD * stored or len(kept) >= DOCUMENTS_MAX_FILES:
        files, kept = [None] * len(keys), set()
    new = [d for d, f in zip(index.documents, files, strict=True) if f is None]
    # All texts go to documents.jsonl; texts added later go to files of their own.
    rel = f"documents-{secrets.token_hex(6)}.jsonl" if kept else "documents.jsonl"
    chars = {f: old_chars[f] for f in sorted(kept)}
    if new:
        chars[rel] = sum(len(d.text) for d in new)
    entries = {
        "id": [d.id for d in index.documents],
        "sha256": index.sha256s(),
        "title": [d.title for d in index.documents],
        "chars": [len(d.text) for d in index.documents],
        "file": [f or rel for f in files],
    }
    # Should a link fail, the file is written again with the documents it must hold.
    parts = [
        Part(
            f,
            _documents_writer([d for d, g in zip(index.documents, files, strict=True) if g == f]),
            previous,
        )  # fmt: skip
        for f in sorted(kept)
    ]
    if new:
        parts.append(Part(rel, _documents_writer(new)))
    return entries, chars, parts


def _documents_writer(documents: list[Document]) -> Callable[[Path], None]:
    return lambda path: _write_documents(documents, path)


def _write_documents(documents: list[Document], path: Path) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for doc in documents:
            record = {"id": doc.id, "title": doc.title, "text": doc.text}
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")


def _data_files(folder: Path) -> list[str]:
    return sorted(
        str(p.relative_to(folder))
        for p in folder.rglob("*")
        if p.is_file() and p.name != "manifest.json"
    )


def _file_digest(path: Path) -> dict[str, Any]:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return {"bytes": path.stat().st_size, "sha256": digest.hexdigest()}


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_old_versions(directory: Path, keep: str) -> None:
    """Delete the versions before `keep`, and what an interrupted save left: only folders
    named as qa names them, for the index may live in a folder of the user's own (`qa index
    notes --index-dir notes`, with its "v-drafts")."""
    for entry in directory.iterdir():
        name = entry.name.removeprefix(".tmp-")
        if entry.name != keep and VERSION_FOLDER.fullmatch(name) and entry.is_dir():
            # A .tmp- folder of a live writer is impossible here: we hold the lock.
            shutil.rmtree(entry, ignore_errors=True)


LOAD_ATTEMPTS = 5


@dataclasses.dataclass(frozen=True)
class Loaded:
    """A version as loaded: its index, its manifest, and its folder's name."""

    index: Index
    manifest: dict[str, Any]
    version: str


def load(directory: Path, embedder: Embedder, **options: Any) -> Index:
    """Load the current version (see `_load_version`), even while another process saves."""
    return load_current(directory, embedder, **options).index


def load_current(directory: Path, embedder: Embedder, **options: Any) -> Loaded:
    """The current version's index, with the manifest it was loaded with (reading the manifest
    again could give the next version's) and its name.

    A writer switches CURRENT and deletes the old version, possibly while we read it: a
    failure then says nothing about the index, so it is retried on the new current version.
    """
    for _ in range(LOAD_ATTEMPTS - 1):
        before = current_version(directory)
        try:
            return _load_version(directory, embedder, **options)
        except QAError:  # also "no index": CURRENT may name a version just deleted
            if current_version(directory) == before:
                raise
    return _load_version(directory, embedder, **options)


def added_documents(directory: Path) -> list[Document]:
    """The documents the saved index lists as added (web uploads), read from its text files
    alone: they survive a rebuild that cannot reuse the index's vectors (another model, an
    older format). Empty if there are none or they cannot be read."""
    try:
        version = current_version(directory)
        if version is None:
            return []
        manifest = _read_manifest(directory, version)
        if not manifest.get("added"):
            return []
        wanted = set(manifest["added"])
        docs = manifest["documents"]
        files = {f for f, i in zip(docs["file"], docs["id"], strict=True) if i in wanted}
        found: dict[str, Document] = {}
        for rel in sorted(files):
            with (version / rel).open(encoding="utf-8") as fh:
                for line in fh:
                    rec = json.loads(line)
                    if rec["id"] in wanted:
                        found[rec["id"]] = Document(rec["id"], rec["text"], rec.get("title", ""))
        return list(found.values())
    except (OSError, ValueError, KeyError, TypeError, QAError):
        return []


def _load_version(
    directory: Path, embedder: Embedder, *, verify: bool | None = None, mmap: bool = True
) -> Loaded:
    """Load the current version; refuse a foreign, stale-format or damaged index with a message.

    `verify`: None checks sizes and hashes files up to VERIFY_MAX_BYTES, True hashes every
    file, False checks sizes only. With `mmap`, vectors and BM25 arrays stay on disk until read.
    """
    version = current_version(directory)  # read once: a writer may switch CURRENT meanwhile
    if version is None:
        raise no_index(directory)
    manifest = _read_manifest(directory, version)
    rebuild = _rebuild(directory, manifest)
    _check_format(directory, manifest, rebuild)
    model = manifest.get("model", {})
    if model.get("weights_sha256") != embedder.fingerprint or model.get("name") != embedder.name:
        built = (
            f"other weights of the embedding model {embedder.name} than this qa has"
            if model.get("name") == embedder.name
            else f"the embedding model {model.get('name')}, and this qa uses {embedder.name}"
        )
        raise IndexIntegrityError(f"the index in {directory} was built with {built}", rebuild)
    _verify(version, manifest, rebuild, hash_max=_hash_limit(verify))
    try:
        texts: dict[tuple[str, str], Document] = {}
        docs = manifest["documents"]
        for rel in sorted(set(docs["file"])):
            with (version / rel).open(encoding="utf-8") as fh:
                for line in fh:
                    rec = json.loads(line)
                    texts[(rel, rec["id"])] = Document(
                        id=rec["id"], text=rec["text"], title=rec.get("title", "")
                    )
        documents = [texts[key] for key in zip(docs["file"], docs["id"], strict=True)]
        spans = np.load(version / "spans.npz", allow_pickle=False)
        vectors = manifest["vectors"]
        index = Index(
            documents=documents,
            # An index from before list items were cut apart says nothing of them.
            params=ChunkParams(
                **{
                    "list_items": False,
                    "line_ends": False,
                    "mended": False,
                    **manifest["chunking"],
                }
            ),
            sent_doc=spans["sent_doc"],
            sent_start=spans["sent_start"],
            sent_end=spans["sent_end"],
            passage_doc=spans["passage_doc"],
            passage_first=spans["passage_first"],
            passage_last=spans["passage_last"],
            passage_vectors=Vectors.load(version, "passages", vectors["passages"], mmap=mmap),
            sentence_vectors=Vectors.load(version, "sentences", vectors["sentences"], mmap=mmap),
            passage_bm25=Lexical.load(version / "bm25-passages", mmap=mmap),
            sentence_bm25=Lexical.load(version / "bm25-sentences", mmap=mmap),
            index_type=manifest.get("index_type", "auto"),
            tokens=_load_tokens(version, manifest),
        )
        counts = manifest["counts"]
        if (index.n_passages, index.n_sentences) != (counts["passages"], counts["sentences"]) or (
            index.passage_vectors.ntotal,
            index.sentence_vectors.ntotal,
        ) != (index.n_passages, index.n_sentences):
            raise ValueError("vector and span counts differ")
        if index.tokens is not None and index.tokens.n_sentences != index.n_sentences:
            raise ValueError("token vectors and sentences differ in number")
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise IndexIntegrityError(f"the index in {directory} is damaged ({exc})", rebuild) from None
    index.doc_sha = [d.sha256 for d in documents]
    if index.doc_sha != manifest["documents"].get("sha256"):
        raise IndexIntegrityError(f"the index in {directory} does not match its manifest", rebuild)
    return Loaded(index, manifest, version.name)


def _load_tokens(version: Path, manifest: dict[str, Any]) -> TokenVectors | None:
    """The token vectors, unless there are none or they were made with another basis (the
    next build then makes them anew)."""
    about = manifest.get("tokens")
    if not about or about.get("basis") != basis().fingerprint or about.get("dim") != DIM:
        return None
    return TokenVectors.load(version / "tokens.npz")


def verify(directory: Path) -> dict[str, Any]:
    """Hash every file of the current version against the manifest; return the manifest."""
    version = current_version(directory)
    if version is None:
        raise no_index(directory)
    manifest = _read_manifest(directory, version)
    rebuild = _rebuild(directory, manifest)
    _check_format(directory, manifest, rebuild)  # files that match are no use in another format
    _verify(version, manifest, rebuild, hash_max=None)
    return manifest


def _check_format(directory: Path, manifest: dict[str, Any], rebuild: str) -> None:
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexIntegrityError(
            f"the index in {directory} has format {manifest.get('format_version')}, this qa reads "
            f"{FORMAT_VERSION}",
            rebuild,
        )


def _hash_limit(verify: bool | None) -> int | None:
    return {None: VERIFY_MAX_BYTES, True: None, False: -1}[verify]


def _verify(version: Path, manifest: dict[str, Any], rebuild: str, *, hash_max: int | None) -> None:
    """Every data file must have the size the manifest recorded, and the sha256 if it is at
    most `hash_max` bytes (None: every file)."""
    files = manifest.get("files", {})  # a dict: read_manifest checked its kind
    for rel, expected in files.items():
        path = version / rel
        if not (
            isinstance(expected, dict)
            and type(expected.get("bytes")) is int
            and isinstance(expected.get("sha256"), str)
        ):  # a damaged manifest that still reads as JSON ("sha256" with a byte flipped)
            raise IndexIntegrityError(
                f"the manifest in {version} is damaged (its entry for {rel!r})", rebuild
            )
        try:  # a writer may delete this version as we read it (`load` then retries)
            size = path.stat().st_size if path.is_file() else None
            if size is None:
                raise IndexIntegrityError(f"index file {path} is missing", rebuild)
            if size != expected["bytes"]:
                raise IndexIntegrityError(
                    f"index file {path} has {size:,} bytes where {expected['bytes']:,} were "
                    "written",
                    rebuild,
                )
            if hash_max is not None and expected["bytes"] > hash_max:
                continue
            altered = _file_digest(path)["sha256"] != expected["sha256"]
        except OSError as exc:
            raise IndexIntegrityError(
                f"index file {path} cannot be read ({exc.strerror})", rebuild
            ) from None
        if altered:
            raise IndexIntegrityError(f"index file {path} was altered (checksum differs)", rebuild)
    try:
        found = set(_data_files(version))
    except OSError as exc:  # the walk meets a folder that a writer has just deleted
        raise IndexIntegrityError(
            f"the index in {version.parent} cannot be listed ({exc.strerror})", rebuild
        ) from None
    if set(files) != found:
        raise IndexIntegrityError(f"the index in {version.parent} has unexpected files", rebuild)
