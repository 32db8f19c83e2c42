"""The `qa` command: index, verify, ask, search, chat, eval, serve. Parses input, calls the
library."""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from pathlib import Path

from .errors import QAError

DEFAULT_INDEX = Path(os.environ.get("QA_INDEX_DIR", "index"))
DEFAULT_SOURCES = ["seeds"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="qa",
        description="Ask questions of documents; every answer quotes the exact sentences it rests on.",
    )
    p.add_argument(
        "--index-dir",
        type=Path,
        default=DEFAULT_INDEX,
        help="where the index lives (default: %(default)s)",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # --index-dir also after the command (`qa index seeds/ --index-dir x`), as messages write it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--index-dir", type=Path, default=argparse.SUPPRESS, help="where the index lives"
    )

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, parents=[common])

    s = command("index", "index files, folders or .jsonl collections")
    s.add_argument(
        "paths", nargs="+", help=".txt/.md/.html/.pdf/.docx files, folders, or BEIR-style .jsonl"
    )
    s.add_argument(
        "--index-type", choices=["auto", "flat", "hnsw", "ivfpq"], default="auto",
        help="vector index: exact (flat), HNSW or IVF-PQ; auto picks by size (default: %(default)s)",
    )  # fmt: skip

    command("verify", "check every file of the index against its manifest checksums")

    s = command("ask", "answer one question from the index")
    s.add_argument("question")
    s.add_argument("--json", action="store_true", help="print the answer and citations as JSON")

    s = command("search", "the best passages for a query (retrieval only)")
    s.add_argument("query")
    s.add_argument("-k", type=int, default=5)
    s.add_argument("--json", action="store_true")

    command("chat", "chat in the terminal; follow-up questions use the history")

    s = command("eval", "measure answers or retrieval on a dev set")
    s.add_argument("path", help="QA JSON-lines, SQuAD v2 JSON, or a BEIR folder")
    s.add_argument(
        "--documents",
        nargs="*",
        default=None,
        help="documents for a QA JSON-lines set (default: seeds/)",
    )
    s.add_argument(
        "--limit", type=int, default=None, help="use only the first N articles or queries"
    )

    s = command("serve", "the web chat (Gradio)")
    s.add_argument(
        "paths",
        nargs="*",
        help="documents to index first (default: the existing index, else seeds/)",
    )
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=7860)
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


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except QAError as exc:
        print(f"qa: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader (`| head`) has gone; say nothing more, and let exit not flush into the pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as exc:
        # An unwritable --index-dir, a full disk, a file removed while reading.
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"qa: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "qa: interrupted; the index on disk is unchanged unless a save had finished",
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


def _run(args: argparse.Namespace) -> int:
    from .assistant import Assistant

    if args.command == "index":
        a = Assistant.from_paths(args.paths, index_dir=args.index_dir, index_type=args.index_type)
        idx = a.index
        print(
            f"indexed {len(idx.documents)} documents, {idx.n_passages} passages, {idx.n_sentences} sentences in {args.index_dir}"
        )
        return 0
    if args.command == "verify":
        from .store import verify

        manifest = verify(args.index_dir)
        print(f"{args.index_dir}: {len(manifest['files'])} files match their checksums")
        return 0
    if args.command == "ask":
        answer = _open(args.index_dir).ask(args.question)
        if args.json:
            print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
        else:
            print(format_answer(answer))
        return 0
    if args.command == "search":
        hits = _open(args.index_dir).search(args.query, k=args.k)
        if args.json:
            print(json.dumps([h.to_dict() for h in hits], ensure_ascii=False, indent=2))
        for i, h in enumerate(hits, 1):
            if not args.json:
                print(f"[{i}] {h.document}:{h.start}-{h.end}  ({h.score:.3f})\n    {h.text[:300]}")
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


def _index_dir_flag(index_dir: Path) -> str:
    """` --index-dir DIR` unless DIR is the default, for commands that messages suggest."""
    import shlex

    return "" if index_dir == DEFAULT_INDEX else f" --index-dir {shlex.quote(str(index_dir))}"


def _open(index_dir: Path):
    """The saved index, or a clear message saying how to build one."""
    from .assistant import Assistant
    from .store import current_version

    if current_version(index_dir) is None:
        raise QAError(
            f"no index in {index_dir}/; build one with "
            f"`qa index seeds/{_index_dir_flag(index_dir)}` (or your own files)"
        )
    return Assistant.load(index_dir)


def format_answer(answer) -> str:
    lines = [answer.text, f"(confidence {answer.confidence:.2f})"]
    for i, c in enumerate(answer.citations, 1):
        lines.append(f"[{i}] {c.document}, characters {c.start}-{c.end}")
    if answer.closest:
        lines.append("Closest passages (not an answer):")
        lines += [
            f"  - {c.document}, characters {c.start}-{c.end}: {c.text[:200]}"
            for c in answer.closest
        ]
    return "\n".join(lines)


def _chat(assistant) -> int:
    print("Ask about the documents; an empty line or Ctrl-D ends the chat.")
    if isinstance(sys.stdin, io.TextIOWrapper):
        sys.stdin.reconfigure(errors="replace")  # a stray non-UTF-8 byte must not end the chat
    history: list[dict] = []
    while True:
        try:
            question = input("you> ").strip()
        except EOFError:
            print()
            return 0
        if not question:
            return 0
        try:
            answer = assistant.ask(question, history)
        except QAError as exc:
            print(f"qa: {exc}")
            continue
        print("qa> " + format_answer(answer).replace("\n", "\n    "))
        history += [
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer.text},
        ]


if __name__ == "__main__":
    sys.exit(main())
