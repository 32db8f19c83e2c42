"""The web chat (Gradio): ask with follow-ups, read cited sources, add and remove documents."""

from __future__ import annotations

import argparse
import dataclasses
import errno
import html
import logging
import os
import secrets
import socket
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr  # qa.cli imports this module only for `qa serve`
from filelock import FileLock, Timeout

from .errors import QAError
from .extract import MAX_UPLOAD_BYTES, UPLOAD_SUFFIXES, read_upload
from .ingest import Document
from .render import (
    CSS,
    answer_message,
    display_names,
    document_html,
    documents_html,
    escape_markdown,
    public_name,
    public_names,
    source_placeholder,
    sources_html,
)
from .results import Answer, Citation, plural

if TYPE_CHECKING:
    from .assistant import Assistant

log = logging.getLogger(__name__)

# Questions about the seed article, shown as clickable examples (from the dev set).
EXAMPLES = [
    "Which messaging app do the women use for their closed discussion groups?",
    "How many military deaths from Buryatia has RFE/RL recorded?",
    "How many Russian troops do Ukrainian authorities say have been killed?",
    "What is the average monthly income in Tyva?",
    "Who is Ailana?",
]
# The seed article (seeds/) by the sha256 of its text, as the index keeps every document's:
# the examples are offered only when the collection holds it, under any path or name.
SEED_SHA256 = "ad95d882c10df06c3baaf4cb3413172faa520128ccf790de94131c7959687d4a"

# -- what the page does, in plain values (tested without a browser) -------------------------


class WebChat:
    """What the page does, over one Assistant shared by every session.

    Assistant answers from the index as it was when asked, while add/remove build the next
    one, so questions need no lock here and are answered during indexing.
    """

    def __init__(self, assistant: Assistant, *, max_upload_bytes: int = MAX_UPLOAD_BYTES) -> None:
        self.assistant = assistant
        self.max_upload_bytes = max_upload_bytes

    @property
    def threshold(self) -> float:
        """The confidence below which the assistant abstains."""
        return self.assistant.model.threshold

    def ask(self, question: str, history: list[dict] | None = None) -> Answer:
        """The answer for the page: its citations name documents as the page does."""
        return self.ask_named(question, history)[0]

    def ask_named(
        self, question: str, history: list[dict] | None = None
    ) -> tuple[Answer, list[str]]:
        """`ask`, and every document's name on the page (worked out once for both)."""
        answer = self.assistant.ask(question, history or [])
        named = self.named_documents()
        citations, closest = self._named(named, answer.citations, answer.closest)
        return (
            dataclasses.replace(answer, citations=citations, closest=closest),
            [name for _, name in named],
        )

    def _named(
        self, named: list[tuple[Document, str]], *groups: list[Citation]
    ) -> list[list[Citation]]:
        """Each of `groups` of citations naming their documents as the page does (`named`,
        from `named_documents`)."""
        names = {d.id: name for d, name in named}
        sources = self.assistant.sources  # for a document removed since it was cited
        return [
            [
                dataclasses.replace(
                    c, document=names.get(c.document) or public_name(c.document, sources)
                )
                for c in cites
            ]
            for cites in groups
        ]

    def api_ask(self, question: str, history: list[dict] | None = None) -> dict[str, Any]:
        """The same JSON as `qa ask --json`, documents named as the page names them: anyone
        with the link may call it, so never by a path on the server."""
        return self.ask(question, history).to_dict()

    def named_documents(self) -> list[tuple[Document, str]]:
        """Every document, with the name the page shows for it and sends back: its path from
        the sources served, never one on the server (see `render.public_names`)."""
        docs = self.assistant.documents
        names = public_names([d.id for d in docs], self.assistant.sources)
        return list(zip(docs, names, strict=True))

    def api_search(self, query: str, k: int = 5) -> list[dict[str, Any]]:
        """The `k` best passages for `query` (retrieval only), as `qa search --json` prints them,
        documents named as the page names them."""
        (hits,) = self._named(self.named_documents(), self.assistant.search(query, k=k))
        return [c.to_dict() for c in hits]

    def source(self, answer: Answer | dict | None, key: str) -> str:
        """The document view for citation `key` ("2" = [2], "c1" = first closest passage) of
        `answer`, or of its `places` as the page keeps them."""
        places = places_of(answer) if isinstance(answer, Answer) else answer
        if not isinstance(places, dict) or not isinstance(key, str) or not key:
            return source_placeholder()
        # The key and the places come from the browser: anything malformed opens nothing.
        closest = key.startswith("c")
        cites = places.get("closest" if closest else "citations")
        n = key.removeprefix("c")
        if not isinstance(cites, list) or not n.isdecimal() or not 1 <= int(n) <= len(cites):
            return source_placeholder()
        c = cites[int(n) - 1]
        if not (
            isinstance(c, dict)
            and isinstance(c.get("document"), str)
            and isinstance(c.get("text"), str)
            and all(type(c.get(k)) is int and c[k] >= 0 for k in ("start", "end"))
        ):
            return source_placeholder()
        doc, name = next(
            ((d, n) for d, n in self.named_documents() if n == c["document"]), (None, "")
        )
        if doc is None:
            return '<p class="qa-empty">That document has been removed from the collection.</p>'
        if doc.text[c["start"] : c["end"]] != c["text"]:  # replaced by a new version since
            return '<p class="qa-empty">That document has changed since this answer; ask again.</p>'
        return document_html(doc, c["start"], c["end"], closest=closest, name=name)

    def add_uploads(self, paths: Sequence[str], progress: Callable[..., Any] | None = None) -> str:
        """Read every uploaded file, then index them all or none; the files are deleted."""
        try:
            read: list[tuple[str, list[Document]]] = []  # each file's name and documents
            for i, path in enumerate(paths):
                if progress is not None:  # a gr.Progress is falsy (it has a length)
                    progress(i / max(len(paths), 1), desc=f"Reading {Path(path).name}")
                read.append((Path(path).name, read_upload(path, max_bytes=self.max_upload_bytes)))
        finally:
            for path in paths:
                Path(path).unlink(missing_ok=True)
        # A JSON-lines record with no text holds nothing to find: it is left out, and said so.
        blank = {name: sum(not d.text.strip() for d in file_docs) for name, file_docs in read}
        read = [(name, [d for d in file_docs if d.text.strip()]) for name, file_docs in read]
        docs = [d for _, file_docs in read for d in file_docs]
        if not docs:
            raise QAError(
                "choose a file to add" if not read else f"{read[0][0]} holds no record with text"
            )
        known = {d.id for d in self.assistant.documents}
        # Progress comes from the build itself, in passages: tracking tqdm would also show the
        # model's own batch bars, each restarting at 0%.
        report = (
            (lambda done, total: progress((done, total), desc="Indexing", unit="passages"))
            if progress is not None
            else None
        )
        self.assistant.add(docs, progress=False, on_progress=report)
        return "\n".join(_added(name, file_docs, known, blank[name]) for name, file_docs in read)

    def refused_in_browser(self, files: object) -> str | None:
        """Why the page's file box sends none of `files` (the [name, size] of each file picked
        or dropped), or None when it sends some, which add_uploads then reports. It checks them
        in the browser as gr.File does (a name ending in none of `file_types`, then any file
        over the size limit), and then no event reaches the server."""
        picked = [
            (f[0], f[1])
            for f in (files if isinstance(files, list) else [])
            if isinstance(f, list) and len(f) == 2 and isinstance(f[0], str) and type(f[1]) is int
        ]
        known = tuple(UPLOAD_SUFFIXES)
        kept = [(name, size) for name, size in picked if name.lower().endswith(known)]
        if picked and not kept:
            return (
                "; ".join(
                    f"{name}: files of type {Path(name).suffix.lower() or '(none)'} cannot be added"
                    for name, _ in picked
                )
                + f"; use {', '.join(sorted(UPLOAD_SUFFIXES))}"
            )
        big = [name for name, size in kept if size > self.max_upload_bytes]
        if big:
            limit = f"{self.max_upload_bytes / 2**20:g} MB"
            return f"{', '.join(big)} {'is' if len(big) == 1 else 'are'} over the {limit} limit per file"
        return None

    def remove(self, name: str | None) -> str:
        """Remove the document the page calls `name`."""
        if not name:
            raise QAError("choose a document to remove")
        doc_id = next((d.id for d, n in self.named_documents() if n == name), name)
        served = doc_id not in self.assistant.added  # read from the paths the app serves
        self.assistant.remove(doc_id)
        if served:
            return (
                f"Removed {name}. It is one of the files the app was started on, so it comes "
                "back when the app is started again; move or delete the file to keep it out."
            )
        return f"Removed {name}."

    def examples(self) -> list[str]:
        """The example questions, if the collection holds the article they ask about: over
        other documents they would only abstain."""
        return EXAMPLES if SEED_SHA256 in self.assistant.index.sha256s() else []

    def document_choices(self) -> list[tuple[str, str]]:
        names = [name for _, name in self.named_documents()]
        return list(zip(display_names(names), names, strict=True))

    def documents_html(self) -> str:
        named = self.named_documents()
        return documents_html([d for d, _ in named], [name for _, name in named])


def places_of(answer: Answer) -> dict[str, list[dict[str, Any]]]:
    """Where an answer's citations and closest passages are, as the page keeps them to open
    them: in the browser, with the chat, so a restarted server still opens them."""
    return {
        kind: [
            {"document": c.document, "start": c.start, "end": c.end, "text": c.text}
            for c in getattr(answer, kind)
        ]
        for kind in ("citations", "closest")
    }


def _added(name: str, docs: list[Document], known: set[str], blank: int = 0) -> str:
    """One line of the upload status: a file, or the records of a JSON-lines collection
    (`blank` of them with no text, left out)."""
    if len(docs) == 1 and docs[0].id == name:
        return (
            f"{'Replaced' if name in known else 'Added'} {name} ({len(docs[0].text):,} characters)."
        )
    replaced = sum(d.id in known for d in docs)
    records = plural(len(docs), "record")
    notes = [f"{replaced:,} replaced"] if replaced else []
    notes += [f"{plural(blank, 'record')} with no text left out"] if blank else []
    return f"Added {records} of {name}" + (f" ({'; '.join(notes)})." if notes else ".")


# -- the page ------------------------------------------------------------------------------

# Clicking (or Enter on) a source card asks the server to open it in the document view.
# Selecting the card already open changes nothing there, so it brings the highlight back
# into sight here.
_SOURCES_JS = """
const pick = (card) => {
  if (card.classList.contains('is-selected')) {
    document.querySelector('#qa-document mark')?.scrollIntoView({block: 'center'});
  }
  for (const c of element.querySelectorAll('.is-selected')) c.classList.remove('is-selected');
  card.classList.add('is-selected');
  trigger('click', {cite: card.dataset.cite});
};
element.addEventListener('click', (e) => {
  const c = e.target.closest('.qa-cite');
  if (c) pick(c);
});
element.addEventListener('keydown', (e) => {
  const c = e.target.closest('.qa-cite');
  if (c && (e.key === 'Enter' || e.key === ' ')) { e.preventDefault(); pick(c); }
});
"""
# The document box scrolls to the highlight. The page scrolls too, but only when the
# highlight is out of sight: on a laptop or phone the view sits below the sources, while on
# a tall screen the chat beside it stays where it is.
_DOCUMENT_JS = """
watch('value', () => {
  const box = element.querySelector('.qa-doc-text'), mark = element.querySelector('mark');
  if (!box || !mark) return;
  box.scrollTop = Math.max(0, mark.offsetTop - box.clientHeight / 3);
  const { top, bottom } = mark.getBoundingClientRect();
  if (top < 0 || bottom > window.innerHeight) mark.scrollIntoView({block: 'center'});
});
"""
# Gradio names each chat bubble after its raw content, which here is escaped Markdown full
# of entity codes; a screen reader should hear the text that is shown instead. Changes
# elsewhere on the page (a progress timer ticks many times a second) are let pass.
# The [n] markers of the latest answer become buttons that click card [n]: the same event,
# selection and scroll. The cards are that answer's only, so the markers of earlier answers
# stay plain text (an abstention has none; its cards are not citations). The page does this,
# not the HTML sent, because only the page knows which bubble is now the latest.
_PAGE_JS = """
() => {
  const name = (bubble) => {
    const label = `${bubble.dataset.testid}'s message: ${bubble.innerText.trim()}`;
    if (bubble.getAttribute('aria-label') !== label) bubble.setAttribute('aria-label', label);
  };
  const link = (ref, live) => {
    if (live === ref.hasAttribute('role')) return;
    if (live) {
      ref.setAttribute('role', 'button');
      ref.tabIndex = 0;
      ref.title = `Show source ${ref.textContent} in its document`;
    } else {
      for (const a of ['role', 'tabindex', 'title']) ref.removeAttribute(a);
    }
  };
  new MutationObserver((records) => {
    const chat = document.querySelector('#qa-chat');
    if (!chat || !records.some((r) => chat.contains(r.target) || r.target.contains(chat))) return;
    chat.querySelectorAll('[data-testid=user], [data-testid=bot]').forEach(name);
    const latest = [...chat.querySelectorAll('[data-testid=bot]')].pop();
    for (const ref of chat.querySelectorAll('.qa-ref')) {
      link(ref, Boolean(latest?.contains(ref) && ref.closest('.qa-answer')));
    }
  }).observe(document.body, {subtree: true, childList: true, characterData: true,
                             attributeFilter: ['aria-label']});
  // An example marked aria-disabled (a question is being answered: _LOCK_JS) is not asked,
  // nor one shown since (the collection came to hold the seed article) while Ask is locked.
  document.addEventListener('click', (e) => {
    const example = e.target.closest?.('#qa-examples button');
    if (example && (example.closest('[aria-disabled=true]')
                    || document.querySelector('#qa-ask')?.disabled)) {
      e.preventDefault();
      e.stopImmediatePropagation();
    }
  }, true);
  const marker = (e) => e.target.closest?.('#qa-chat .qa-ref[role=button]');
  const open = (ref) => {
    const n = ref.textContent.replace(/\\D/g, '');
    document.querySelector(`#qa-sources .qa-cite[data-cite="${n}"]`)?.click();
  };
  document.addEventListener('click', (e) => {
    const ref = marker(e);
    if (ref) open(ref);
  });
  document.addEventListener('keydown', (e) => {
    const ref = marker(e);
    if (ref && (e.key === 'Enter' || e.key === ' ')) { e.preventDefault(); open(ref); }
  });
}
"""
# While a question is answered, nothing else can be asked. Each answer is computed from the
# chat and history the page sent with its question, so two questions in flight at once (a
# typed one and an example, each its own event) would each be answered beside a chat without
# the other, and whichever came back last would drop the other from the chat and from the
# history follow-ups use. The lock runs in the page, in the same turn as the click or Enter
# that asks, before any other input can arrive. Gradio has no disabled state for examples:
# they are marked aria-disabled, and the page (_PAGE_JS) ignores clicks on them. Over a
# collection without the seed article there are none, and nothing to mark.
_LOCK_JS = """
() => {
  const box = document.querySelector('#qa-question textarea');
  const ask = document.querySelector('#qa-ask');
  const from = document.activeElement;
  if (box) box.dataset.refocus = from === box ? 'box' : from === ask ? 'ask' : '';
  for (const b of document.querySelectorAll('#qa-examples button')) {
    b.setAttribute('aria-disabled', 'true');
  }
  const off = {__type__: 'update', interactive: false};
  return [off, off, off];
}
"""
# Disabling the box and the Ask button took their focus: give it back where it was, so a
# keyboard user who pressed Ask is not sent back to the top of the page.
_UNLOCK_JS = """
() => {
  for (const b of document.querySelectorAll('#qa-examples button')) {
    b.removeAttribute('aria-disabled');
  }
  const box = document.querySelector('#qa-question textarea');
  const ask = document.querySelector('#qa-ask');
  const to = {box: box, ask: ask}[box?.dataset.refocus];
  if (to) setTimeout(() => to.focus());
  const on = {__type__: 'update', interactive: true};
  return [on, on, on];
}
"""
# gr.File refuses some files in the page itself (a type it was not given, a file over the
# size limit): it shows a notice, and no event reaches the server, so the status line would
# still show the message of an earlier action. Every pick and drop is told to the server
# here, before gr.File sees it, for the status to say what became of it.
_PICKED_JS = """
const tell = (files) => trigger('upload', {files: [...files].map((f) => [f.name, f.size])});
document.addEventListener('change', (e) => {
  if (e.target.matches?.('#qa-upload input[type=file]') && e.target.files?.length) {
    tell(e.target.files);
  }
}, true);
document.addEventListener('drop', (e) => {
  if (e.target.closest?.('#qa-upload') && e.dataTransfer?.files?.length) {
    tell(e.dataTransfer.files);
  }
}, true);
"""
# Removing a document removes it for everyone, so the browser asks first. Cancelling throws,
# which stops the removal chained on this step's success and, with no outputs here, shows no
# error (a throw in the removal's own js would mark its outputs with error badges).
_CONFIRM_REMOVE_JS = """
(id) => {
  if (id && !confirm(`Remove ${id} from the collection for everyone using this app?`)) {
    throw new Error('removal cancelled');
  }
}
"""


def build_demo(assistant: Assistant, *, max_upload_bytes: int = MAX_UPLOAD_BYTES) -> gr.Blocks:
    """The Gradio app; `/ask` and `/search` are its public API, the rest serves the page."""
    chat = WebChat(assistant, max_upload_bytes=max_upload_bytes)
    private: dict[str, Any] = {"api_visibility": "private"}

    def fail(exc: QAError) -> gr.Error:
        return gr.Error(str(exc), print_exception=False)

    # On the page, a problem shows as a notice and leaves every panel as it was (a raised
    # gr.Error would mark each output component with an error badge).
    def refused(message: str) -> str:
        gr.Warning(html.escape(message), title="Not done")  # Gradio renders it as HTML
        return not_done(message)

    def not_done(message: str) -> str:
        return f"**Not done.** {escape_markdown(message)}"

    def respond(question, messages, history):
        # The chat and its history come from the page: anything else is a fresh start.
        messages = messages if isinstance(messages, list) else []
        history = history if isinstance(history, list) else []
        question = (question or "").strip()
        if not question:
            return (gr.skip(),) * 6
        if not any(c.isalnum() for c in question):  # "?" or "...": nothing to look for
            refused("Please ask a question: that has no word to look for")
            return (gr.skip(),) * 6
        try:
            answer, names = chat.ask_named(question, history)
        except QAError as exc:
            refused(str(exc))
            return (gr.skip(),) * 6
        messages = [*messages, {"role": "user", "content": escape_markdown(question)},
                    {"role": "assistant", "content": answer_message(answer, question, chat.threshold)}]  # fmt: skip
        history = [*history, {"role": "user", "content": question},
                   {"role": "assistant", "content": answer.text}]  # fmt: skip
        return (
            "",
            messages,
            history,
            places_of(answer),
            sources_html(answer, names),
            source_placeholder(),
        )

    def ask_example(sample, messages, history):
        # The example is asked as it is; a question being typed stays in the box.
        return (gr.skip(), *respond(sample[0] if sample else "", messages, history)[1:])

    def show_source(answer, evt: gr.EventData):
        return chat.source(answer, str(getattr(evt, "cite", "")))

    def add_files(files, progress=gr.Progress()):  # noqa: B008 (Gradio's idiom)
        try:
            message = chat.add_uploads(list(files or []), progress=progress)
        except QAError as exc:
            problem = str(exc)
        except Exception as exc:  # an upload is hostile: a parser may fail in any way
            log.exception("adding uploads failed")
            problem = f"the files could not be added ({type(exc).__name__})"
        else:
            return None, escape_markdown(message), *collection()
        return None, refused(f"{problem}. The collection is unchanged."), *(gr.skip(),) * 3

    def files_picked(evt: gr.EventData):
        # The page's own notice has said why; the status line says it too, for it is the
        # latest thing done. Files the page sends are reported by add_files instead.
        problem = chat.refused_in_browser(getattr(evt, "files", None))
        if problem is None:
            return gr.skip()
        return not_done(f"{problem}. The collection is unchanged.")

    def remove(document_id):
        try:
            message = chat.remove(document_id)
        except QAError as exc:  # another tab may have removed it: show the collection as it is
            return refused(str(exc)), *collection()
        return escape_markdown(message), *collection()

    def collection():
        choices = chat.document_choices()
        shown = gr.update(visible=bool(chat.examples()))
        return chat.documents_html(), gr.update(choices=choices, value=None), shown

    def clear():
        return [], [], None, sources_html(None), source_placeholder()

    def ask_api(question: str, history: list[dict] | None = None) -> dict:
        """Answer `question` (history: earlier {"role", "content"} messages) as `qa ask --json`."""
        try:
            return chat.api_ask(question, history)
        except QAError as exc:
            raise fail(exc) from None

    def search_api(query: str, k: int = 5) -> list[dict]:
        """The `k` best passages for `query`, retrieval only, as `qa search --json`."""
        try:
            return chat.api_search(query, k)
        except QAError as exc:
            raise fail(exc) from None

    # Uploads are deleted as soon as they are read; delete_cache sweeps up anything left behind.
    blocks = gr.Blocks(
        title="Ask the documents · qa", analytics_enabled=False, delete_cache=(600, 600)
    )
    with blocks as demo:
        # The conversation for follow-ups, and where the latest answer's sources are, live in
        # the page beside the chat they belong to: server-side state would be lost on a
        # restart, or evicted by other sessions, while the chat still showed the conversation.
        history = gr.JSON([], visible="hidden", elem_id="qa-history")
        last_answer = gr.JSON(None, visible="hidden", elem_id="qa-last-answer")
        gr.Markdown(
            "## Ask the documents\n"
            "Every answer quotes the sentences it rests on; select a source to read it in place."
        )
        with gr.Tab("Chat"), gr.Row(equal_height=False):
            with gr.Column(scale=5):
                # No floating label: it covered the top line of the scrolled chat, and the
                # tab already says "Chat".
                chatbot = gr.Chatbot(
                    label="Chat", show_label=False, height=480, feedback_options=None,
                    buttons=[],  # "copy" would copy the bubble's HTML, not its text
                    latex_delimiters=[], elem_id="qa-chat",
                    # Not "or pick an example": there are none over other documents.
                    placeholder="Ask about the documents.",
                )  # fmt: skip
                with gr.Row():
                    question = gr.Textbox(
                        label="Question", placeholder="Ask a question…", show_label=False,
                        scale=5, max_lines=4, elem_id="qa-question", autofocus=True,
                    )  # fmt: skip
                    ask = gr.Button(
                        "Ask", variant="primary", scale=1, min_width=80, elem_id="qa-ask"
                    )
                # About the seed article: shown while the collection holds it (collection()).
                examples = gr.Dataset(
                    label="Examples", components=[gr.Textbox(visible=False)],
                    samples=[[q] for q in EXAMPLES], elem_id="qa-examples",
                    visible=bool(chat.examples()),
                )  # fmt: skip
                new_chat = gr.Button(
                    "New chat", size="sm", variant="secondary", elem_id="qa-new-chat"
                )
            with gr.Column(scale=4):
                gr.Markdown("### Sources")
                sources = gr.HTML(sources_html(None), js_on_load=_SOURCES_JS, elem_id="qa-sources")
                gr.Markdown("### In the document")
                document = gr.HTML(
                    source_placeholder(), js_on_load=_DOCUMENT_JS, elem_id="qa-document"
                )
        with gr.Tab("Documents") as documents_tab:
            gr.Markdown(
                f"Add {', '.join(sorted(UPLOAD_SUFFIXES))} files, up to "
                f"{max_upload_bytes / 2**20:g} MB each. They join the collection for everyone "
                "using this app and stay in it, also when the app is started again, until removed "
                "here; the uploaded files themselves are deleted once read. "
                "A JSON-lines file adds one document a record (`_id` or `id`, `title`, `text`)."
            )
            files = gr.File(
                label="Add documents", file_count="multiple", file_types=sorted(UPLOAD_SUFFIXES),
                type="filepath", elem_id="qa-upload",
            )  # fmt: skip
            status = gr.Markdown(elem_id="qa-status")
            picked = gr.HTML(visible="hidden", js_on_load=_PICKED_JS, elem_id="qa-picked")
            listing = gr.HTML(chat.documents_html(), elem_id="qa-documents")
            with gr.Row():
                to_remove = gr.Dropdown(chat.document_choices(), label="Remove a document", scale=4)
                remove_button = gr.Button("Remove", variant="stop", scale=1, elem_id="qa-remove")

        answered = [question, chatbot, history, last_answer, sources, document]
        # Asking locks the box, the Ask button, New chat and the examples until the answer is
        # in (_LOCK_JS), so one question at a time is in flight. Gradio runs a .then() step
        # only after success, so the unlock also follows a failure.
        locked = [question, ask, new_chat]
        for triggers, answer_it, inputs in (
            ([question.submit, ask.click], respond, [question, chatbot, history]),
            ([examples.click], ask_example, [examples, chatbot, history]),
        ):
            answering = gr.on(triggers, None, None, locked, js=_LOCK_JS, **private).then(
                answer_it, inputs, answered, trigger_mode="once", **private
            )
            for then in (answering.then, answering.failure):
                then(None, None, locked, js=_UNLOCK_JS, **private)
        new_chat.click(clear, None, answered[1:], **private)
        chatbot.clear(clear, None, answered[1:], **private)
        sources.click(show_source, [last_answer], [document], **private)
        # One progress display, over the files being added, not one over every output.
        # The collection's views: the list, the removal choices, and the examples, offered
        # while it holds the article they ask about.
        shown = [listing, to_remove, examples]
        files.upload(
            add_files, [files], [files, status, *shown], show_progress_on=[files], **private
        )
        picked.upload(files_picked, None, [status], trigger_mode="multiple", **private)
        remove_button.click(None, [to_remove], None, js=_CONFIRM_REMOVE_JS, **private).success(
            remove, [to_remove], [status, *shown], **private
        )
        demo.load(collection, None, shown, **private)
        # Other tabs and users change the collection too: opening the tab shows it as it is.
        documents_tab.select(collection, None, shown, **private)
        gr.api(ask_api, api_name="ask")
        gr.api(search_api, api_name="search")
    return demo


def launch_options() -> dict[str, Any]:
    """Settings for `demo.launch` shared by `qa serve` and the Spaces entry point."""
    return {
        "css": CSS,
        "js": _PAGE_JS,
        "max_file_size": MAX_UPLOAD_BYTES,
        "allowed_paths": [],  # serve no files from disk; uploads are read, then deleted
        "footer_links": ["api"],
        "ssr_mode": False,
        "mcp_server": False,
        "enable_monitoring": False,
        # Every API call without a browser session holds ~60 KB of state; Gradio keeps
        # 10,000 by default (~600 MB). A thousand bounds memory yet spares live chats.
        "state_session_capacity": 1000,
    }


# -- `qa serve` ----------------------------------------------------------------------------


def open_assistant(
    paths: Sequence[str], index_dir: Path, *, progress: bool | None = None, **kwargs: Any
) -> Assistant:
    """Index `paths` into `index_dir`; without paths, open the index there, else index seeds/.
    Documents uploaded on the page stay: serving again with the same command keeps them.
    The indexing bar shows only when `progress`, by default when stderr is a terminal."""
    from .assistant import Assistant
    from .cli import DEFAULT_SOURCES
    from .store import current_version

    # As `qa index`: a bar written to a file or pipe (a log, Spaces) is every redraw of it.
    if progress is None:
        progress = sys.stderr.isatty()
    if current_version(index_dir) is not None and not paths:
        return Assistant.load(index_dir, **kwargs)
    check_sources(paths, index_dir)
    sources = paths or DEFAULT_SOURCES
    return Assistant.from_paths(
        sources, index_dir=index_dir, keep_added=True, progress=progress, **kwargs
    )


def check_sources(paths: Sequence[str], index_dir: Path) -> None:
    """Refuse to start with nothing to serve: no paths, no index in `index_dir` and no seeds/
    here. It had said "seeds does not exist", a folder the user never named."""
    from .cli import DEFAULT_SOURCES
    from .store import current_version

    if paths or current_version(index_dir) is not None:
        return
    if not all(Path(p).exists() for p in DEFAULT_SOURCES):
        raise QAError(
            f"no index in {index_dir} and no {DEFAULT_SOURCES[0]}/ folder here to start from; "
            "give the documents to serve (qa serve PATH...) or the index (--index-dir)"
        )


def resolve_auth(args: argparse.Namespace) -> tuple[tuple[str, str] | None, bool]:
    """(user, password) or None, and whether the password was generated here.

    Anyone who reaches the app can add and remove documents, so an app others can reach (a
    public link, or a host other than this machine's loopback) gets a password unless told
    otherwise with --no-auth."""
    # From the environment, the password stays out of `ps` and the shell's history.
    given = args.auth or os.environ.get("QA_AUTH")
    if given:
        user, sep, password = given.partition(":")
        if not sep or not user or not password:
            raise QAError(
                f"{'--auth' if args.auth else 'QA_AUTH'} takes USER:PASS, "
                "for example reader:correct-horse"
            )
        return (user, password), False
    if exposed(args) and not args.no_auth:
        return ("qa", secrets.token_urlsafe(12)), True
    return None, False


def exposed(args: argparse.Namespace) -> bool:
    """Whether others can reach the app: a public link, or a host beyond loopback."""
    host = str(args.host).strip("[]").lower()
    return bool(args.share) or not (host in ("localhost", "::1") or host.startswith("127."))


def _check_port(host: str, port: int) -> None:
    """Refuse a port already taken before spending minutes on indexing; Gradio would only
    find out afterwards."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return  # an unknown host: Gradio says so in its own words
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        # As the server binds: a port whose last connections wait out TIME_WAIT is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise QAError(f"port {port} on {host} is in use; try another --port") from None


def hold_index(index_dir: Path) -> FileLock | None:
    """Claim `index_dir` for this server: each server keeps the collection, uploads included,
    in memory and saves it whole, so a second one on the same folder would silently drop the
    first one's uploads. None where no lock file can be made (the build says why)."""
    held = FileLock(str(index_dir / ".serve.lock"), timeout=0)
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        held.acquire()
    except Timeout:
        raise QAError(
            f"another qa serve is using {index_dir}/ (each would save over the other's uploads); "
            "stop it, or serve with another --index-dir"
        ) from None
    except OSError:
        return None
    return held


def serve(args: argparse.Namespace) -> int:
    auth, generated = resolve_auth(args)
    _check_port(args.host, args.port)
    check_sources(args.paths, Path(args.index_dir))  # before the lock makes the folder
    held = hold_index(Path(args.index_dir))  # noqa: F841 (held while the server runs)
    assistant = open_assistant(args.paths, args.index_dir)
    demo = build_demo(assistant)
    try:
        _, local_url, share_url = demo.launch(
            server_name=args.host, server_port=args.port, share=args.share, auth=auth,
            prevent_thread_lock=True, quiet=True, **launch_options(),
        )  # fmt: skip
    except OSError as exc:
        raise QAError(
            f"cannot serve on {args.host}:{args.port} ({exc}); try another --port"
        ) from None
    n = len(assistant.documents)
    print(f"qa: serving {n} document{'s' if n != 1 else ''} from {args.index_dir}/ at {local_url}")
    if str(args.host).strip("[]") in ("0.0.0.0", "::"):
        print(f"qa: and on port {args.port} of every network address of this machine")
    if assistant.skipped:
        from .cli import _skipped_notes

        _skipped_notes(assistant.skipped)
    if assistant.added:
        from .cli import _some

        uploaded = sorted(assistant.added)
        print(
            f"qa: {len(uploaded)} of them uploaded on the page ({_some(uploaded)}); "
            "remove them in its Documents tab"
        )
    if share_url:
        print(f"qa: public link {share_url}")
    elif args.share:
        print("qa: could not open a public link; the app is only on the local address")
    if auth and generated:
        print(f"qa: log in as user {auth[0]!r} with password {auth[1]!r}")
    elif exposed(args) and not auth:
        where = "the public link" if args.share else f"the app on {args.host}"
        print(f"qa: warning: {where} has no password (--no-auth)")
    print("qa: press Ctrl-C to stop")
    demo.block_thread()
    return 0
