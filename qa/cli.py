"""The `qa` command: index, verify, ask, search, chat, eval, serve. Parses input, calls the
library."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import sys
import warnings
from pathlib import Path
from typing import Any

from .errors import QAError
from .results import plural

# An empty QA_INDEX_DIR is unset, not the current folder.
DEFAULT_INDEX = Path(os.environ.get("QA_INDEX_DIR") or "index")
DEFAULT_SOURCES = ["seeds"]


def _positive(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, not {text!r}")
    return n


def _port(text: str) -> int:
    """An argparse type: a TCP port, 1 to 65535."""
    try:
        n = int(text)
    except ValueError:
        n = 0
    if not 1 <= n <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 1 to 65535, not {text!r}")
    return n


def _index_dir_help() -> str:
    """--index-dir's help, naming the variable that sets its default, and its value."""
    env = os.environ.get("QA_INDEX_DIR")
    # argparse formats help texts with `%`, so a path holding one has it doubled.
    now = f", now {env.replace('%', '%%')}," if env else " if set,"
    return f"where the index lives (default: $QA_INDEX_DIR{now} else index)"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="qa",
        description="Ask questions of documents; every answer quotes the exact sentences it rests on.",
    )
    p.add_argument("--index-dir", type=Path, default=DEFAULT_INDEX, help=_index_dir_help())
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # --index-dir also after the command (`qa index seeds/ --index-dir x`), as messages write it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--index-dir", type=Path, default=argparse.SUPPRESS, help=_index_dir_help())

    def command(name: str, help: str, *, index: bool = True) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, parents=[common] if index else [])

    s = command("index", "index files, folders or .jsonl collections")
    s.add_argument(
        "paths", nargs="+", help=".txt/.md/.html/.pdf/.docx files, folders, or BEIR-style .jsonl"
    )
    s.add_argument(
        "--index-type", choices=["auto", "flat", "hnsw", "ivfpq"], default="auto",
        help="vector index: exact (flat), HNSW or IVF-PQ; auto picks by size (default: %(default)s)",
    )  # fmt: skip
    s.add_argument(
        "--drop-uploads", action="store_true",
        help="drop the documents uploaded in the web chat or added with Assistant.add (kept "
        "otherwise: their text is nowhere else)",
    )  # fmt: skip

    command("verify", "check every file of the index against its manifest checksums")

    s = command("ask", "answer one question from the index")
    s.add_argument("question", help="the question (in quotes)")
    s.add_argument("--json", action="store_true", help="print the answer and citations as JSON")

    s = command("search", "the best passages for a query (retrieval only)")
    s.add_argument("query", help="the words to search for (in quotes)")
    s.add_argument("-k", type=_positive, default=5, help="how many (default: %(default)s)")
    s.add_argument("--json", action="store_true", help="print the passages as JSON")

    command(
        "chat",
        "chat in the terminal (or answer questions piped in, one a line); "
        "follow-up questions use the history",
    )

    # Evaluation indexes its documents afresh (in memory, or a BEIR folder's own cache).
    s = command("eval", "measure answers or retrieval on a dev set", index=False)
    s.add_argument("path", help="QA JSON-lines, SQuAD v2 JSON, or a BEIR folder")
    s.add_argument(
        "--documents",
        action="append",
        default=None,
        metavar="PATH",
        help="a file or folder of documents for a QA JSON-lines set; repeat it for more "
        "(default: seeds/)",
    )
    s.add_argument(
        "--limit",
        type=_positive,
        default=None,
        help="use only the first N questions, articles or queries",
    )

    s = command("serve", "the web chat (Gradio)")
    s.add_argument(
        "paths",
        nargs="*",
        help="documents to index first (default: the existing index, else seeds/)",
    )
    s.add_argument(
        "--host", default="127.0.0.1", help="the address to serve on (default: %(default)s)"
    )
    s.add_argument("--port", type=_port, default=7860, help="the port (default: %(default)s)")
    s.add_argument(
        "--share", action="store_true", help="open a public Gradio link (password protected)"
    )
    s.add_argument(
        "--auth", default=None, metavar="USER:PASS", help="a login (or set QA_AUTH=USER:PASS)"
    )
    s.add_argument(
        "--no-auth",
        action="store_true",
        help="allow --share or a non-loopback --host without a password (not advised)",
    )
    return p


# Control characters, but for tab and newline: C0, DEL and C1.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def visible(text: str, returns: bool = False) -> str:
    """`text` safe to print on a terminal: a document, a record id, a file name or a question
    may hold escape sequences that clear the screen, retitle the window or fake output. Line
    ends read as such ("\\r\\n", a lone "\\r" unless `returns` keeps it, as a progress bar
    redraws its line with it); other controls show as their symbols ("␛"), or "�" for C1."""
    text = text.replace("\r\n", "\n")
    if not returns:
        text = text.replace("\r", "\n")
    return _CONTROL.sub(
        lambda m: m.group() if m.group() == "\r" else
        chr(0x2400 + ord(m.group())) if m.group() < "\x20" else "\ufffd",
        text,
    )  # fmt: skip


class _Visible:
    """A text stream that writes what it is given through `visible`; with `after`, that
    stream's text first (stderr after stdout: redirected together to a file, block-buffered
    stdout put `qa index`'s notes above the summary they follow)."""

    def __init__(self, stream: Any, returns: bool = False, after: Any = None) -> None:
        self._stream = stream
        self._returns = returns
        self._after = after

    def write(self, text: str) -> int:
        if self._after is not None:
            self._after.flush()
        return self._stream.write(visible(text, self._returns))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit:  # --help or a usage error, printed
        try:
            sys.stdout.flush()
        except BrokenPipeError:  # `qa --help | head -1`
            return _reader_gone()
        raise
    if args.command == "eval" and args.index_dir != DEFAULT_INDEX:
        # `qa --index-dir X eval ...`: the option before the command is shared by every
        # command, but eval indexes its documents afresh and would ignore it.
        parser.error("eval takes no --index-dir: it indexes its documents afresh")
    # Documents are hostile: what they hold reaches the terminal only as visible text (JSON
    # escapes control characters itself).
    stdout, stderr = sys.stdout, sys.stderr
    # A terminal or pipe that cannot show a character (PYTHONIOENCODING=ascii, a C locale)
    # gets its escape, "\u201c", which --json reads back as the character itself.
    errors = [(s, s.errors) for s in (stdout, stderr) if isinstance(s, io.TextIOWrapper)]
    for stream, _ in errors:
        stream.reconfigure(errors="backslashreplace")
    if not getattr(args, "json", False):
        sys.stdout = _Visible(stdout)  # type: ignore[assignment]
    sys.stderr = _Visible(stderr, returns=True, after=sys.stdout)  # type: ignore[assignment]
    try:
        return _main(args)
    finally:
        sys.stdout, sys.stderr = stdout, stderr
        for stream, was in errors:
            with contextlib.suppress(ValueError, OSError):  # closed, or its reader gone
                stream.reconfigure(errors=was)


def _close_bars() -> None:
    """End every progress bar still drawn, each on its own line, so that what is printed next
    starts a line of its own (a bar left open is redrawn when the process exits)."""
    std = sys.modules.get("tqdm.std")
    for bar in list(getattr(getattr(std, "tqdm", None), "_instances", ())):
        with contextlib.suppress(Exception):
            bar.close()


def _main(args: argparse.Namespace) -> int:
    try:
        code = _run(args)
        # Output to a pipe is buffered: a reader gone (`| head`) shows here, not at exit.
        sys.stdout.flush()
        return code
    except QAError as exc:
        print(f"qa: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return _reader_gone()
    except OSError as exc:
        # An unwritable --index-dir, a full disk, a file removed while reading.
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"qa: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        _close_bars()  # else the bar is redrawn below the message, at exit
        writes = args.command in ("index", "serve")
        print(
            "qa: interrupted; the index on disk is unchanged unless a save had finished"
            if writes
            else "qa: interrupted",
            file=sys.stderr,
        )
        return 130
    except Exception as exc:
        # A user never sees a traceback; QA_DEBUG=1 shows it to whoever fixes the bug.
        if os.environ.get("QA_DEBUG"):
            raise
        print(
            f"qa: internal error ({type(exc).__name__}: {exc}); "
            "rerun with QA_DEBUG=1 and report it",
            file=sys.stderr,
        )
        return 1


def _reader_gone() -> int:
    """The reader (`| head`) has gone: say nothing more, and let exit not flush into the pipe.
    The status is a shell's for a tool ended by SIGPIPE (`seq 99999 | head -1`)."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 141  # 128 + SIGPIPE


def _run(args: argparse.Namespace) -> int:
    from .assistant import Assistant, _added_ids

    if args.command == "index":
        from .assistant import default_embedder
        from .index import FlatInsteadWarning, flat_instead
        from .staging import FOLDER as staging_folder
        from .staging import has_batches
        from .store import current_version

        before = _saved_manifest(args.index_dir)
        unreadable = before is None and current_version(args.index_dir) is not None
        resuming = has_batches(args.index_dir)
        with warnings.catch_warnings():
            # Said below as a note, each time the kind is asked for, not as a Python warning.
            warnings.simplefilter("ignore", FlatInsteadWarning)
            # A bar written to a file or pipe is every redraw of it, one after another.
            counted = _Counted(default_embedder())
            a = Assistant.from_paths(
                args.paths, index_dir=args.index_dir, index_type=args.index_type,
                progress=sys.stderr.isatty(), embedder=counted,  # type: ignore[arg-type]
                keep_added=not args.drop_uploads,
            )  # fmt: skip
        idx = a.index
        skipped = f"; skipped {_files_and_folders(a.skipped)}" if a.skipped else ""
        print(
            f"indexed {plural(len(idx.documents), 'document')}, {plural(idx.n_passages, 'passage')}, "
            f"{plural(idx.n_sentences, 'sentence')} in {args.index_dir}{skipped}"
        )
        old_ids, old = _contents(before)
        renamed = _renamed(idx, old_ids, old)
        # The same files by another path ("docs" after "$PWD/docs"): no rename.
        moved = {was: now for was, now in renamed.items() if _same_file(was, now, before)}
        renamed = {was: now for was, now in renamed.items() if was not in moved}
        if before is not None:
            print(_update_summary(idx, old_ids, old, len(renamed), counted.texts, len(moved)))
        elif unreadable:
            print("manifest unreadable: every document embedded anew")
        elif resuming and counted.texts < idx.n_passages + idx.n_sentences:
            print(
                f"resumed an interrupted build: {counted.texts:,} of the "
                f"{idx.n_passages + idx.n_sentences:,} passages and sentences embedded "
                f"(the rest kept in {args.index_dir}/{staging_folder}/ by the build before)"
            )
        if args.index_type != "auto" and (flat := flat_instead(idx)):
            # Without the option `qa index` asks for auto, which replaces the request once
            # the documents change.
            print(
                f"note: --index-type {flat} (give --index-type {args.index_type} to `qa index` "
                "again, which otherwise asks for auto)",
                file=sys.stderr,
            )
        was_added = _added_ids(before) if before else set()
        _index_notes(idx, _ids(before), args.index_dir, renamed, moved, sorted(a.added), was_added)
        _skipped_notes(a.skipped)
        return 0
    if args.command == "verify":
        from .store import verify

        _check_index(args.index_dir)
        manifest = verify(args.index_dir)
        print(f"{args.index_dir}: {len(manifest['files'])} files match their checksums")
        return 0
    if args.command == "ask":
        if not any(c.isalnum() for c in args.question):  # "", or "?" alone
            raise QAError(
                'ask a question with a word in it, e.g. qa ask "When was the kettle invented?"'
            )
        assistant = _open(args.index_dir)
        answer = assistant.ask(args.question)
        if args.json:
            print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
        else:
            print(format_answer(answer, assistant.model.threshold, args.question))
        changed, gone = _changed_files(assistant, answer.citations + answer.closest)
        again = _reindex_command(assistant, args.index_dir)
        for name in changed:
            print(
                f"note: {_name(name)} has changed since it was indexed, so the quote may be out of "
                f"date; {again} updates the index",
                file=sys.stderr,
            )
        for name in gone:
            print(
                f"note: {_name(name)} no longer exists where it was indexed; {again} updates the index",
                file=sys.stderr,
            )
        return 0
    if args.command == "search":
        if not any(c.isalnum() for c in args.query):  # "", or "?!" alone
            raise QAError('give words to search for, e.g. qa search "ferry timetable"')
        assistant = _open(args.index_dir)
        hits = assistant.search(args.query, k=args.k)
        # As the search read it: undecodable bytes of the command line cannot be printed.
        query = _printable(args.query.strip())
        if args.json:
            print(json.dumps([h.to_dict() for h in hits], ensure_ascii=False, indent=2))
        for i, h in enumerate(hits, 1):
            if not args.json:
                print(f"[{i}] {_name(h.document)}:{h.start}-{h.end}  ({h.score:.3f})")
                print(f"    {_one_line(h.text, 300)}")
        if not hits:
            # Like an abstaining `qa ask`: an answer, not an error, so the status is 0.
            why = (
                "" if assistant.index.n_passages else f": {args.index_dir} holds no text to search"
            )
            print(f"note: no passage matches “{query}”{why}", file=sys.stderr)
        elif not any(t in assistant.index.passage_bm25.vocab for t in _terms(query)):
            # Embeddings always find something closest; say that nothing matched the words.
            print(
                f"note: no word of “{query}” is in the documents; "
                "these passages are only the closest in meaning",
                file=sys.stderr,
            )
        return 0
    if args.command == "chat":
        return _chat(_open(args.index_dir))
    if args.command == "eval":
        from .evaluate import run_eval

        run_eval(args.path, documents=args.documents, limit=args.limit)
        return 0
    if args.command == "serve":
        from .app import serve

        return serve(args)
    raise AssertionError(args.command)


def _saved_manifest(index_dir: Path) -> dict | None:
    """The manifest of the index saved in `index_dir`, if there is one that can be read."""
    from .store import read_manifest

    try:
        manifest = read_manifest(index_dir)
    except QAError:
        return None  # an unreadable index is rebuilt, and says so
    return manifest if isinstance(manifest, dict) else None


def _ids(manifest: dict | None) -> list[str]:
    try:
        return list(manifest["documents"]["id"]) if manifest else []
    except (KeyError, TypeError):
        return []


def _contents(before: dict | None) -> tuple[set[str], dict[tuple[str, str], str]]:
    """The ids of a saved manifest, and each (content hash, title) with an id holding it."""
    try:
        docs = before["documents"]  # type: ignore[index]
        titles = docs.get("title") or [""] * len(docs["id"])
        pairs = zip(zip(docs["sha256"], titles, strict=True), docs["id"], strict=True)
        return set(docs["id"]), dict(pairs)
    except (AttributeError, KeyError, TypeError, ValueError):
        return set(), {}


def _renamed(index, old_ids: set[str], old: dict[tuple[str, str], str]) -> dict[str, str]:
    """Documents gone from the index whose very text now stands under a new id: old -> new
    (`old_ids` and `old` as `_contents` gives them)."""
    out = {}
    for doc, sha in zip(index.documents, index.sha256s(), strict=True):
        was = old.get((sha, doc.title))
        if doc.id not in old_ids and was is not None and was not in index.doc_position:
            out[was] = doc.id
    return out


def _same_file(was: str, now: str, manifest: dict | None) -> bool:
    """Whether document id `was`, as the index in `manifest` was built (from its folder,
    `cwd`), and `now`, as given here, are the same file by two paths."""
    cwd = (manifest or {}).get("cwd")
    if not isinstance(cwd, str):
        return False
    try:
        return os.path.realpath(os.path.join(cwd, was)) == os.path.realpath(now)
    except (OSError, ValueError):
        return False


def _update_summary(
    index,
    old_ids: set[str],
    old: dict[tuple[str, str], str],
    renamed: int,
    embedded: int,
    moved: int = 0,
) -> str:
    """What `qa index` did to the index it found (its ids and contents as `_contents` reads
    them from its manifest): the documents changed, added, renamed and dropped, and the
    passages and sentences embedded, as counted at the model (an index that could not be
    reused is embedded anew, a copied document's vectors are reused)."""
    p_rows, s_rows = (b.tolist() for b in index.doc_rows())
    changed = added = passages = sentences = 0
    for i, (doc, sha) in enumerate(zip(index.documents, index.sha256s(), strict=True)):
        if (sha, doc.title) in old:
            continue
        changed += doc.id in old_ids
        added += doc.id not in old_ids
        passages += p_rows[i + 1] - p_rows[i]
        sentences += s_rows[i + 1] - s_rows[i]
    dropped = len(old_ids - set(index.doc_position)) - renamed - moved
    counts = [
        (n, verb)
        for n, verb in (
            (changed, "changed"), (added, "added"), (renamed, "renamed"), (dropped, "dropped")
        )
        if n
    ]  # fmt: skip
    if not counts and not embedded:
        return "nothing changed"
    # "1 document changed, 2 added": the noun once, with the first number.
    what = (
        ", ".join(
            f"{plural(n, 'document') if i == 0 else f'{n:,}'} {verb}"
            for i, (n, verb) in enumerate(counts)
        )
        if counts
        else "no document changed"
    )
    unchanged = f"({len(index.documents) - changed - added - renamed:,} unchanged)"
    if embedded == passages + sentences:
        done = (
            f"{plural(passages, 'passage')} and {plural(sentences, 'sentence')} embedded"
            if embedded
            else "nothing embedded"
        )
    elif embedded > passages + sentences:
        unchanged = "(the index found could not be reused)"
        done = f"{embedded:,} passages and sentences embedded anew"
    else:
        done = f"{embedded:,} of their {passages + sentences:,} passages and sentences embedded"
        unchanged = "(the rest reused)"
    return f"{what}: {done} {unchanged}"


class _Counted:
    """An embedder that counts the texts it embeds (see `_update_summary`)."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name, self.dim, self.fingerprint = inner.name, inner.dim, inner.fingerprint
        self.has_tokens = inner.has_tokens
        self.texts = 0

    def embed(self, texts, **options):
        self.texts += len(texts)
        return self.inner.embed(texts, **options)

    def embed_with_tokens(self, texts, **options):
        self.texts += len(texts)
        return self.inner.embed_with_tokens(texts, **options)


def _index_notes(
    index,
    before: list[str],
    index_dir: Path,
    renamed: dict[str, str] | None = None,
    moved: dict[str, str] | None = None,
    uploads: list[str] | None = None,
    uploaded: set[str] | None = None,
) -> None:
    """Tell what a user may not expect: documents renamed or now reached by another path,
    uploads kept (`uploads`) or dropped (of those the previous index had, `uploaded`),
    documents that no longer are indexed (an index holds exactly the paths it was last given,
    and the uploads) and documents with no text to search."""
    import numpy as np

    renamed, moved = renamed or {}, moved or {}
    for was, now in sorted(renamed.items()):
        print(f"note: {was} is now {now} (the same text, so nothing embedded)", file=sys.stderr)
    if moved:
        was, now = min(moved.items())
        print(
            f"note: {plural(len(moved), 'document')} now named by the paths given, the same "
            f"files ({was} is now {now}{_more(len(moved) - 1)})",
            file=sys.stderr,
        )
    if uploads:
        print(
            f"note: kept {plural(len(uploads), 'document')} added in the web chat or by "
            "Assistant.add "
            f"({_some(uploads)}); `qa index --drop-uploads` drops them",
            file=sys.stderr,
        )
    gone = sorted(set(before) - {d.id for d in index.documents} - set(renamed) - set(moved))
    dropped = [g for g in gone if g in (uploaded or ())]
    if dropped:
        print(
            f"note: dropped {plural(len(dropped), 'document')} added in the web chat or by "
            "Assistant.add "
            f"({_some(dropped, 50)}), as --drop-uploads asks",
            file=sys.stderr,
        )
        gone = [g for g in gone if g not in dropped]
    if gone:
        # Every one named: a dropped upload's text is nowhere else.
        print(
            f"note: {plural(len(gone), 'document')} of the previous index in {index_dir} "
            f"{'is' if len(gone) == 1 else 'are'} no longer indexed ({_some(gone, 50)}): "
            "`qa index` indexes exactly the paths it is given, so name them all to keep them",
            file=sys.stderr,
        )
    sentences = np.diff(index.doc_rows()[1])
    empty = [d.id for d, n in zip(index.documents, sentences.tolist(), strict=True) if n == 0]
    if empty:
        print(f"note: no text to search in {_some(empty)}", file=sys.stderr)


def _skipped_notes(skipped: list[str], shown: int = 5) -> None:
    """Name the files of the folders given that were not indexed, and why."""
    if skipped:
        print(
            f"note: {_files_and_folders(skipped)} in the folders given not indexed:",
            file=sys.stderr,
        )
        for reason in skipped[:shown]:
            print(f"  {_path_first(reason)}", file=sys.stderr)
        if len(skipped) > shown:
            print(f"  and {len(skipped) - shown:,} more", file=sys.stderr)


def _files_and_folders(skipped: list[str]) -> str:
    """How many files, and folders that could not be read, `skipped` tells of."""
    from .ingest import UNREADABLE_FOLDER

    folders = sum(f": {UNREADABLE_FOLDER} (" in reason for reason in skipped)
    files = len(skipped) - folders
    counts = [plural(files, "file")] * bool(files) + [plural(folders, "folder")] * bool(folders)
    return " and ".join(counts)


def _path_first(reason: str) -> str:
    """A skipped file's reason as "PATH: why". qa.ingest words most as a sentence about the
    file ("d/x.txt looks like a binary file, ...", "cannot read d/x.txt: Permission denied"),
    some as "d/x.rtf: a file of another type"; a path may hold spaces and colons, so where
    it ends is found by asking which leading part names a file."""
    if reason.startswith("cannot read "):
        path, _, why = reason.removeprefix("cannot read ").rpartition(": ")
        return f"{path}: cannot read it ({why})" if path else reason
    for end in reversed([m.start() for m in re.finditer("[ :]", reason)]):
        if os.path.isfile(reason[:end]):
            why = reason[end:].removeprefix(":").lstrip()
            return f"{reason[:end]}: {why.removeprefix('is ')}"
    return reason


def _some(names: list[str], shown: int = 3) -> str:
    """The first `shown` of `names`, and how many more."""
    return ", ".join(names[:shown]) + _more(len(names) - shown)


def _more(n: int) -> str:
    return f" and {n:,} more" if n > 0 else ""


def _index_dir_flag(index_dir: Path) -> str:
    """` --index-dir DIR` unless DIR is the default, for commands that messages suggest."""
    import shlex

    return "" if index_dir == DEFAULT_INDEX else f" --index-dir {shlex.quote(str(index_dir))}"


def _under(path: str, source: str) -> bool:
    """Whether normalised `path` is `source` or lies in that folder."""
    if source == ".":
        return not os.path.isabs(path) and not path.startswith("..")
    return path == source or path.startswith(source.rstrip(os.sep) + os.sep)


def _reindex_command(assistant, index_dir: Path) -> str:
    """The `qa index` command that brings the index up to date with its sources."""
    from .store import index_command

    return f"`{index_command(assistant.sources, assistant.cwd)}{_index_dir_flag(index_dir)}`"


def _changed_files(assistant, citations) -> tuple[list[str], list[str]]:
    """The cited documents that are files modified since the index was saved and whose text
    now differs from the text indexed, and those that no longer exist. (The times come first:
    they cost no reading, and a file read differently by a newer version of qa, with the same
    bytes, is no changed file.) Relative ids are found from the folder qa index ran in."""
    from .ingest import RICH_SUFFIXES, TEXT_SUFFIXES, read_file
    from .store import current_version

    version = current_version(assistant.index_dir) if assistant.index_dir else None
    if version is None:
        return [], []
    saved = (version / "manifest.json").stat().st_mtime
    cwd = assistant.cwd
    # An index saved before qa kept its folder: ids are read from here, and a file not found
    # may just live elsewhere.
    base = Path(cwd) if cwd is not None else Path(".")
    changed, gone = [], []
    sources = [os.path.normpath(s) for s in assistant.sources]
    for name in dict.fromkeys(c.document for c in citations):
        if Path(name).suffix.lower() not in TEXT_SUFFIXES | RICH_SUFFIXES:
            continue  # a record of a collection
        normal = os.path.normpath(name)
        if name in assistant.added or not any(_under(normal, s) for s in sources):
            continue  # an upload, or a record named like a file: no file to compare with
        path = _on_disk(base, name)
        if path is None or not path.is_file():
            if cwd is not None and (path is None or not path.exists()):
                gone.append(name)
            continue
        st = path.stat()
        # `cp -p`, `touch -d` or an unpacked archive can give new text an old modification
        # time; the inode's change time, which no tool sets, still moves when the bytes do.
        if max(st.st_mtime, st.st_ctime) <= saved:
            continue
        try:
            now = [d.text for d in read_file(path)]
        except QAError:
            now = []
        if now != [assistant.text_of(name)]:
            changed.append(name)
    return changed, gone


def _on_disk(base: Path, name: str) -> Path | None:
    """The file a document id names. A name that is not UTF-8 (Latin-1 "lat\xe9.txt" from an
    old disk) is kept in the id with U+FFFD for each undecodable byte, so such a part is found
    by listing its folder; None if nothing there has that name."""
    from .ingest import without_surrogates

    path = base
    for part in Path(name).parts:
        if "\ufffd" in part:
            try:
                part = next(p.name for p in path.iterdir() if without_surrogates(p.name) == part)
            except (OSError, StopIteration):
                return None
        path = path / part
    return path


def _open(index_dir: Path):
    """The saved index, or a clear message saying how to build one."""
    from .assistant import Assistant

    _check_index(index_dir)
    return Assistant.load(index_dir)


def _check_index(index_dir: Path) -> None:
    """Refuse an `index_dir` with no index, saying how to build one (from seeds/ if there
    is such a folder here)."""
    from .store import current_version, no_index

    if current_version(index_dir) is None:
        flag = _index_dir_flag(index_dir)
        raise no_index(
            index_dir,
            f"`qa index seeds/{flag}` (or your own files)"
            if Path("seeds").is_dir()
            else f"`qa index PATH...{flag}`",
        )


def format_answer(answer, threshold: float | None = None, asked: str | None = None) -> str:
    """`answer` for the terminal; `asked`, the question as typed, shows how it was read when
    that differs (a slip mended, a follow-up completed)."""
    from .render import confidence_text

    lines = [answer.text, f"(confidence {confidence_text(answer, threshold)})"]
    if asked is not None and (read := answer.read_as(asked)) is not None:
        lines.append(f"(read as “{_one_line(read, 300)}”)")
    for i, c in enumerate(answer.citations, 1):
        lines.append(f"[{i}] {_name(c.document)}, characters {c.start}-{c.end}")
        if i > 1:  # the answer's text quotes [1] only
            lines.append(f"    {_one_line(c.text, 300)}")
    if answer.closest:
        first = answer.closest[0]
        if first.text != first.context:  # the excerpt an answer would quote, in the first passage
            lines.append(
                f"Closest excerpt (not an answer): “{_one_line(first.text, 300)}”, "
                f"{_name(first.document)}, characters {first.start}-{first.end}"
            )
        lines.append("Closest passages (not an answer):")
        lines += [
            f"  - {_name(c.document)}, characters {c.context_start}-{c.context_start + len(c.context)}: "
            f"{_one_line(c.context, 600)}"
            for c in answer.closest
        ]
    return "\n".join(lines)


def _printable(text: str) -> str:
    from .ingest import without_surrogates

    return without_surrogates(text)


def _terms(text: str) -> list[str]:
    from .text import terms  # stemming libraries: loaded only when a command needs them

    return terms(text)


def _name(name: str) -> str:
    """A document's id or file name on one line, its line breaks shown as symbols ("␤"): a
    record id "r1, characters 0-5\n[2] official.txt" printed as it is would fake a citation."""
    return name.replace("\r", "\u240d").replace("\n", "\u2424")


def _one_line(text: str, limit: int) -> str:
    """`text` on one line (a quote may span paragraphs or CRLF lines), cut at `limit`."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _chat(assistant) -> int:
    # Questions piped in are not echoed as typed ones are: each is printed after its prompt,
    # so that the transcript reads as a chat. Only the end of the input ends them: a file of
    # questions may well hold blank lines.
    typed = sys.stdin.isatty()
    print(
        "Ask about the documents; an empty line or Ctrl-D ends the chat."
        if typed
        else "Answering the questions read from standard input, one a line."
    )
    if isinstance(sys.stdin, io.TextIOWrapper):
        sys.stdin.reconfigure(errors="replace")  # a stray non-UTF-8 byte must not end the chat
    history: list[dict] = []
    while True:
        try:
            question = input("you> " if typed else "").strip()
        except (EOFError, KeyboardInterrupt):  # Ctrl-D or Ctrl-C at the prompt ends the chat
            if typed:
                print()
            return 0
        if not question:
            if typed:
                return 0
            continue
        if not typed:
            print(f"you> {question}")
        try:
            answer = assistant.ask(question, history)
        except QAError as exc:
            print(f"qa: {exc}")
            continue
        shown = format_answer(answer, assistant.model.threshold, question)
        print("qa> " + shown.replace("\n", "\n    "))
        history += [
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer.text},
        ]


if __name__ == "__main__":
    sys.exit(main())
