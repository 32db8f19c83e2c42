"""The web chat without a browser: HTML rendering, the page's handlers, `qa serve` and `/ask`."""

from __future__ import annotations

import argparse
import dataclasses
import html
import io
import json
import re
import socket
from pathlib import Path
from typing import Any

import pytest
from conftest import SEEDS
from test_extract import PAGE, make_docx, make_pdf

from qa.app import (
    EXAMPLES,
    SEED_SHA256,
    WebChat,
    _check_port,
    build_demo,
    hold_index,
    open_assistant,
    places_of,
    resolve_auth,
    serve,
)
from qa.assistant import Assistant
from qa.errors import QAError
from qa.extract import UPLOAD_SUFFIXES, read_upload
from qa.ingest import JSONL_SUFFIXES, Document
from qa.render import (
    ABSTAINED,
    CSS,
    answer_message,
    display_names,
    document_html,
    documents_html,
    escape,
    escape_markdown,
    highlight,
    public_name,
    public_names,
    sources_html,
)
from qa.results import Answer, Citation
from qa.results import quoted as quote

XSS = "<img src=x onerror=alert(1)>"


def cite(
    text="Ships came in 1907.", context="Before. Ships came in 1907. After.", start=108
) -> Citation:
    offset = context.index(text)
    return Citation(
        text=text, document="docs/harbour.txt", start=start, end=start + len(text),
        context=context, score=0.8, context_start=start - offset,
    )  # fmt: skip


# -- rendering -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (2, 4, "ab<mark>cd</mark>ef"),
        (0, 6, "<mark>abcdef</mark>"),
        (-5, 2, "<mark>ab</mark>cdef"),
        (4, 99, "abcd<mark>ef</mark>"),
        (5, 3, "abcde<mark></mark>f"),
    ],
)
def test_highlight_clamps_offsets(start, end, expected):
    assert highlight("abcdef", start, end) == expected


def test_highlight_escapes_inside_and_around_the_mark():
    out = highlight(f"{XSS} and {XSS}", 0, len(XSS))
    assert (
        out
        == "<mark>&lt;img src=x onerror=alert(1)&gt;</mark> and &lt;img src=x onerror=alert(1)&gt;"
    )


def test_chat_text_shows_markup_and_markdown_literally():
    out = escape_markdown(f'{XSS} *bold* [1](http://x) `code` $x$ # h & "q"')
    bare = re.sub(r"&#?\w+;", "", out)
    for raw in ("<", ">", "*", "[", "]", "(", "`", "$", "#", '"', "&"):
        assert raw not in bare
    assert html.unescape(out) == f'{XSS} *bold* [1](http://x) `code` $x$ # h & "q"'


def test_answer_message_marks_references_and_confidence():
    text = "“Ships came in 1907.” [1] See also [2]."
    answer = Answer(text=text, abstained=False, confidence=0.8123, citations=[cite(), cite()])
    out = answer_message(answer)
    assert 'class="qa-answer"' in out and "qa-abstain" not in out
    assert '<sup class="qa-ref">[1]</sup>' in out and '<sup class="qa-ref">[2]</sup>' in out
    assert "confidence 0.81 · 2 sources" in out
    # Sent as plain text: the page makes only the latest answer's markers buttons.
    assert "role=" not in out and "tabindex" not in out


def test_the_page_never_shows_an_abstention_at_the_threshold():
    # 0.4226 against a threshold of 0.4229 reads "0.42" to two places, as the threshold does.
    near = Answer(text="The article does not say.", abstained=True, confidence=0.4226)
    assert "confidence 0.4226, below the threshold 0.4229 · nothing close" in answer_message(
        near, threshold=0.4229
    )
    above = Answer(text="“Yes.” [1]", abstained=False, confidence=0.4231)
    assert "confidence 0.42 · 0 sources" in answer_message(above, threshold=0.4229)
    lifted = Answer(text="“Yes.” [1]", abstained=False, confidence=0.4229)
    assert "confidence 0.42 · 0 sources" in answer_message(lifted, threshold=0.4229)
    far = Answer(text="The article does not say.", abstained=True, confidence=0.21)
    assert "confidence 0.21 · nothing close" in answer_message(far, threshold=0.4229)


def test_the_page_reads_the_threshold_of_the_assistants_model(chat):
    assert chat.threshold == chat.assistant.model.threshold


def test_a_documents_own_footnotes_and_links_stay_text():
    quoted = "Ships came in 1907.[7] See www.harbour.example or ann@harbour.example."
    c = cite(text=quoted, context=quoted)
    answer = Answer(text=f"{quote(quoted)} [1]", abstained=False, confidence=0.8, citations=[c])
    assert "[7]" not in answer.text  # Answer.text writes a footnote "(7)": [n] are references
    out = answer_message(answer)
    assert out.count('class="qa-ref"') == 1 and '<sup class="qa-ref">[1]</sup>' in out
    bare = re.sub(r"&#?\w+;", "", out)
    for raw in ("www.harbour", "@", "://"):
        assert raw not in bare  # no autolinks
    assert quoted.replace("[7]", "(7)") in html.unescape(out)


def test_abstention_is_marked_as_such():
    answer = Answer(text=f"The article does not say {XSS}.", abstained=True, confidence=0.1,
                    closest=[cite()])  # fmt: skip
    out = answer_message(answer)
    # Not "Not in the documents.": it abstains when no sentence answers confidently enough,
    # and the closest passages shown may well hold the answer.
    assert ABSTAINED == "No confident answer in the documents."
    assert 'class="qa-abstain"' in out and f"<strong>{ABSTAINED}</strong>" in out
    assert "Not in the documents" not in out
    assert "<img" not in out
    assert "closest passages under Sources, not an answer" in out


def test_sources_highlight_each_excerpt_in_its_passage():
    c = cite(context=f"{XSS} Ships came in 1907. After.")
    out = sources_html(Answer(text="“…” [1]", abstained=False, confidence=0.9, citations=[c]))
    assert "<mark>Ships came in 1907.</mark>" in out
    assert 'data-cite="1"' in out and "harbour.txt" in out and "characters 108–127" in out
    assert "<img" not in out and "&lt;img src=x onerror=alert(1)&gt;" in out


def test_sources_tell_apart_two_documents_of_one_file_name():
    """An upload called harbour.txt beside the served docs/harbour.txt: each card names its
    own, as the document list does, also when the answer cites only one of them."""
    upload = dataclasses.replace(cite(), document="harbour.txt")
    both = Answer(text="“…” [1]", abstained=False, confidence=0.9, citations=[upload, cite()])
    out = sources_html(both)
    assert '<span class="qa-doc">harbour.txt</span>' in out
    assert '<span class="qa-doc">docs/harbour.txt</span>' in out
    alone = Answer(text="“…” [1]", abstained=False, confidence=0.9, citations=[cite()])
    assert '<span class="qa-doc">harbour.txt</span>' in sources_html(alone)
    named = sources_html(alone, ["docs/harbour.txt", "harbour.txt"])
    assert '<span class="qa-doc">docs/harbour.txt</span>' in named
    closest = Answer(text="x", abstained=True, confidence=0.1, closest=[cite()])
    assert "docs/harbour.txt" in sources_html(closest, ["docs/harbour.txt", "harbour.txt"])


def test_sources_on_abstention_are_closest_passages_not_answers():
    passage = "Before. Ships came in 1907. After."
    whole = cite(text=passage, context=passage)
    answer = Answer(text="does not say", abstained=True, confidence=0.1, closest=[whole, whole])
    out = sources_html(answer)
    assert "Closest passages — not an answer" in out
    assert 'data-cite="c1"' in out and 'data-cite="c2"' in out
    # The first holds the excerpt an answer would quote, marked in it (grey, dashed: not an
    # answer), even when it is its whole passage; the others are passages, unmarked.
    assert out.count("<mark>") == 1 and f"<mark>{passage}</mark>" in out
    answer = dataclasses.replace(answer, closest=[cite(), whole])
    out = sources_html(answer)
    assert out.count("<mark>") == 1 and "<mark>Ships came in 1907.</mark>" in out
    assert ".qa-closest .qa-context mark" in CSS
    assert "Nothing in the documents" in sources_html(
        Answer(text="x", abstained=True, confidence=0)
    )
    assert "appear here" in sources_html(None)


def test_document_view_marks_the_span_and_escapes_everything():
    doc = Document(id=f"up/{XSS}.txt", text=f"Intro {XSS}. The quay is long. End.", title=XSS)
    start = doc.text.index("The quay")
    out = document_html(doc, start, start + len("The quay is long."))
    assert "<mark>The quay is long.</mark>" in out
    assert "<img" not in out
    assert out.count("&lt;img src=x onerror=alert(1)&gt;") == 4  # name, its hover, title, text


def test_document_view_labels_by_file_name_and_shows_the_public_name_on_hover():
    doc = Document(id="/srv/docs/a/notes.txt", text="The quay is long.")
    out = document_html(doc, 0, 8, name="docs/a/notes.txt")
    assert '<strong title="docs/a/notes.txt">notes.txt</strong>' in out
    assert "/srv" not in out


def test_document_view_of_a_long_document_shows_a_window_around_the_span():
    doc = Document(id="long.txt", text="a" * 1000 + "NEEDLE" + "b" * 1000)
    out = document_html(doc, 1000, 1006, window=100)
    assert "<mark>NEEDLE</mark>" in out
    assert "900 characters above not shown" in out and "900 characters below not shown" in out
    assert "a" * 101 not in out


def test_documents_list_is_escaped():
    out = documents_html([Document(id=f"{XSS}.txt", text="x", title=XSS)], [f"{XSS}.txt"])
    assert "<img" not in out and out.count("&lt;img") == 3
    assert out.startswith('<div class="qa-docs-wrap">')  # scrolls sideways on a phone


# -- the page's handlers, on the fake embedder ----------------------------------------------


@pytest.fixture
def chat(tmp_path, fake_embedder) -> WebChat:
    assistant = Assistant.from_paths(
        [SEEDS], index_dir=tmp_path / "index", embedder=fake_embedder, progress=False
    )
    return WebChat(assistant)


QUESTION = "Which messaging app do the women use for their closed discussion groups?"


def test_api_ask_returns_the_answer_as_json(chat):
    data = chat.api_ask(QUESTION, [])
    library = chat.assistant.ask(QUESTION).to_dict()
    for cited in library["citations"] + library["closest"]:
        # The seeds by their path from the folder served, as the page names them.
        cited["document"] = "seeds/" + Path(cited["document"]).name
    assert data == library
    assert set(data) == {"text", "abstained", "confidence", "citations", "closest", "question"}


def test_source_opens_the_cited_document(chat):
    answer = chat.ask(QUESTION)
    cites = answer.closest if answer.abstained else answer.citations
    key = "c1" if answer.abstained else "1"
    out = chat.source(answer, key)
    assert f"<mark>{escape(cites[0].text)}</mark>" in out
    for bad in ("", "9", "0", "-1", "x", "c0", "c-1", "c0c", "1.0", "²"):
        assert "Select a source" in chat.source(answer, bad)
    assert "Select a source" in chat.source(None, "1")
    # The page keeps where the sources are, not the Answer: the same view from that, after
    # a trip through JSON, so a restarted server still opens them.
    places = json.loads(json.dumps(places_of(answer)))
    assert chat.source(places, key) == out
    # What the browser sends back is not trusted.
    place = places["closest" if answer.abstained else "citations"][0]
    for broken in (
        [], "x", {"citations": "x", "closest": "x"},
        {"citations": [{**place, "start": -1}], "closest": [{**place, "start": -1}]},
        {"citations": [{**place, "end": True}], "closest": [{**place, "end": True}]},
        {"citations": [{**place, "document": 7}], "closest": [{**place, "document": 7}]},
        {"citations": [[1, 2]], "closest": [[1, 2]]},
    ):  # fmt: skip
        assert "Select a source" in chat.source(broken, key)  # type: ignore[arg-type]
    tampered = {"citations": [{**place, "start": 0}], "closest": [{**place, "start": 0}]}
    assert "changed since this answer" in chat.source(tampered, key)


def test_a_closest_passage_opens_labelled_as_such():
    doc = Document(id="docs/harbour.txt", text="Before. Ships came in 1907. After.")
    view = document_html(doc, 8, 27, closest=True)
    assert "closest passage, not an answer" in view and 'qa-doc-text qa-closest"' in view
    assert "not an answer" not in document_html(doc, 8, 27)


def test_documents_sharing_a_file_name_are_listed_by_their_whole_name():
    names = ["seeds/notes.txt", "notes.txt", "seeds/other.txt"]
    assert display_names(names) == ["seeds/notes.txt", "notes.txt", "other.txt"]


def test_a_record_is_listed_by_its_whole_id():
    """ "https://example.org/news/2024/42" was listed as "42", "<b>x</b>" as "b>"."""
    ids = ["https://example.org/news/2024/42", "<b>x</b>", "a/b", "docs/notes.md"]
    assert display_names(ids) == ["https://example.org/news/2024/42", "<b>x</b>", "a/b", "notes.md"]


@pytest.mark.parametrize(("document", "sources", "name"), [
    ("/srv/docs/a/notes.txt", ["/srv/docs"], "docs/a/notes.txt"),
    ("/srv/docs/a/notes.txt", ["/srv/docs/"], "docs/a/notes.txt"),
    ("/srv/one.txt", ["/srv/docs", "/srv/one.txt"], "one.txt"),  # a file served by name
    ("seeds/article.txt", ["seeds/"], "seeds/article.txt"),
    ("seeds/article.txt", ["./seeds"], "seeds/article.txt"),
    ("notes.txt", ["."], "notes.txt"),
    ("../shared/docs/x.md", ["../shared/docs"], "docs/x.md"),
    ("notes.txt", ["/srv/docs"], "notes.txt"),  # an upload: its own file name
    ("d1", ["/srv/corpus.jsonl"], "d1"),  # a JSON-lines record: its id
    ("/tmp/old/x.txt", [], "x.txt"),  # read from where no source says: not the folder
])  # fmt: skip
def test_the_page_names_documents_without_server_paths(document, sources, name):
    assert public_name(document, sources) == name


def test_documents_of_one_name_get_told_apart_by_their_ids():
    ids = ["/a/docs/notes.txt", "/b/docs/notes.txt", "/a/docs/x.txt", "notes.txt"]
    names = public_names(ids, ["/a/docs", "/b/docs"])
    assert names[2:] == ["docs/x.txt", "notes.txt"]
    assert all(re.fullmatch(r"docs/notes\.txt \([0-9a-f]{6}\)", n) for n in names[:2])
    assert names[0] != names[1]
    # Not by place: a page that still shows the second never removes the first instead.
    assert public_names(ids[1:], ["/a/docs", "/b/docs"])[0] == "docs/notes.txt"
    assert public_names(ids[::-1], ["/a/docs", "/b/docs"])[2:] == names[1::-1]


def test_a_served_folder_shows_no_server_path_on_the_page(tmp_path, fake_embedder):
    docs = tmp_path / "served" / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "notes.txt").write_text("The lighthouse keeper was named Tobias Brand.")
    (docs / "sub" / "notes.txt").write_text(f"The ferry leaves hourly from the quay {XSS}.")
    assistant = Assistant.from_paths(
        [str(docs)], index_dir=tmp_path / "index", embedder=fake_embedder, progress=False
    )
    assert str(tmp_path) in assistant.documents[0].id  # the library keeps the path as given
    chat = WebChat(assistant)
    secret = str(tmp_path)
    assert dict(chat.document_choices()) == {
        "docs/notes.txt": "docs/notes.txt", "docs/sub/notes.txt": "docs/sub/notes.txt"
    }  # fmt: skip
    listing = chat.documents_html()
    assert 'title="docs/sub/notes.txt"' in listing and secret not in listing
    assert secret not in json.dumps(build_demo(assistant).get_config_file())

    for question in ("Who was the lighthouse keeper?", "When does the ferry leave the quay?"):
        answer = chat.ask(question)
        cites = answer.closest if answer.abstained else answer.citations
        key = "c1" if answer.abstained else "1"
        assert cites and {c.document for c in cites} <= {"docs/notes.txt", "docs/sub/notes.txt"}
        places = json.dumps(places_of(answer))  # kept in the page, sent back to open a source
        page = sources_html(answer) + answer_message(answer)
        view = chat.source(json.loads(places), key)
        assert f"<mark>{escape(cites[0].text)}</mark>" in view
        assert secret not in page + view + places
        assert "<img" not in page + view  # document text stays escaped
        assert f'title="Show in {cites[0].document}"' in page
    # Nor do the API's answers and passages, which anyone with the link may ask for.
    asked = chat.api_ask("Who was the lighthouse keeper?")
    assert asked["citations"] and secret not in json.dumps(asked)
    assert secret not in json.dumps(chat.api_search("lighthouse keeper"))
    # A served file comes back at the next start, and the page says so (it was removed
    # "for good" as far as the page told).
    removed = chat.remove("docs/sub/notes.txt")
    assert removed.startswith("Removed docs/sub/notes.txt. It is one of the files the app was")
    assert "comes back when the app is started again" in removed
    assert [d.id for d in assistant.documents] == [str(docs / "notes.txt")]


def test_the_conversation_lives_in_the_page_not_in_server_state(chat):
    # Server-side state is lost on a restart, or evicted by other sessions' calls, while the
    # chat still shows the conversation; follow-ups would silently lose their context.
    components, _ = page_config(chat)
    config = build_demo(chat.assistant).get_config_file()
    assert not [c for c in config["components"] if c["type"] == "state"]
    for key in ("qa-history", "qa-last-answer"):
        assert components[key]["visible"] == "hidden"


def page_config(chat: WebChat) -> tuple[dict[str, dict], list[dict]]:
    """The page's components by elem_id (or text, for Markdown), and its event handlers."""
    config = build_demo(chat.assistant).get_config_file()
    components = {}
    for c in config["components"]:
        props = c.get("props", {})
        key = props.get("elem_id") or (c["type"] == "markdown" and props.get("value"))
        if key:
            components[key] = {"id": c["id"], **props}
    return components, config["dependencies"]


def test_the_page_has_a_title_and_a_labelled_question_box(chat):
    config = build_demo(chat.assistant).get_config_file()
    assert config["title"] == "Ask the documents · qa"
    components, _ = page_config(chat)
    assert components["qa-question"]["label"] == "Question"
    assert components["qa-chat"]["show_label"] is False  # its badge covered the first line


def test_an_upload_shows_one_progress_display(chat):
    components, events = page_config(chat)
    upload_id = components["qa-upload"]["id"]
    (event,) = [e for e in events if e["targets"] == [(upload_id, "upload")]]
    assert len(event["outputs"]) == 5 and event["show_progress_on"] == [upload_id]


def test_the_examples_are_offered_only_beside_the_article_they_ask_about(
    chat, tmp_path, fake_embedder
):
    # They ask about the seed article: over other documents each would only abstain.
    seed = next(SEEDS.iterdir())
    assert SEED_SHA256 in [d.sha256 for d in chat.assistant.documents]  # as seeds/ reads
    assert chat.examples() == EXAMPLES
    assert page_config(chat)[0]["qa-examples"]["visible"] is True

    notes = tmp_path / "docs" / "notes.txt"
    notes.parent.mkdir()
    notes.write_text("The lighthouse keeper was named Tobias Brand.")
    other = WebChat(
        Assistant.from_paths(
            [str(notes.parent)], index_dir=tmp_path / "other", embedder=fake_embedder,
            progress=False,
        )
    )  # fmt: skip
    assert other.examples() == []
    components, events = page_config(other)
    assert components["qa-examples"]["visible"] is False
    assert "example" not in components["qa-chat"]["placeholder"]
    # Everything that shows the collection again (a page loaded, the Documents tab opened, an
    # upload, a removal) shows or hides them with it, by content: here the article uploaded
    # under another name.
    examples = components["qa-examples"]["id"]
    refreshed = [e for e in events if examples in e["outputs"]]
    assert sorted(kind for e in refreshed for _, kind in e["targets"]) == [
        "load", "select", "success", "upload"
    ]  # fmt: skip
    (removal,) = [e for e in refreshed if e["trigger_after"] is not None]
    (confirm,) = [e for e in events if e["id"] == removal["trigger_after"]]
    assert confirm["targets"] == [(components["qa-remove"]["id"], "click")]
    collection = next(f.fn for f in build_demo(other.assistant).fns.values()
                      if f.name == "collection")  # fmt: skip
    assert collection()[2] == {"__type__": "update", "visible": False}
    other.add_uploads([upload(tmp_path, "article.txt", seed.read_bytes())])
    assert other.examples() == EXAMPLES
    assert collection()[2] == {"__type__": "update", "visible": True}
    other.remove("article.txt")
    assert collection()[2] == {"__type__": "update", "visible": False}


def test_the_page_lists_exactly_the_file_types_an_upload_takes(chat, tmp_path):
    components, _ = page_config(chat)
    (intro,) = [text for text in components if isinstance(text, str) and text.startswith("Add ")]
    listed = re.match(r"Add (.*) files, up to 20 MB each", intro)
    assert listed and set(listed[1].split(", ")) == set(UPLOAD_SUFFIXES)
    assert components["qa-upload"]["file_types"] == sorted(UPLOAD_SUFFIXES)
    samples = {".pdf": make_pdf(["Plain words."]), ".docx": make_docx(["Plain words."]),
               ".html": PAGE, ".htm": PAGE}  # fmt: skip
    samples |= {suffix: b'{"_id": "d1", "text": "Plain words."}\n' for suffix in JSONL_SUFFIXES}
    for suffix in UPLOAD_SUFFIXES:
        data = samples.get(suffix, b"Plain words.")
        assert read_upload(upload(tmp_path, f"a{suffix}", data))[0].text
    assert "A JSON-lines file adds one document a record" in intro


def test_a_json_lines_upload_adds_its_records(chat, tmp_path):
    rows = [{"_id": "d1", "title": "Ships", "text": "The ships came in 1907."},
            {"_id": "d2", "text": "The quay was rebuilt in 1931."}]  # fmt: skip
    data = "\n".join(json.dumps(r) for r in rows).encode()
    message = chat.add_uploads([upload(tmp_path, "corpus.jsonl", data)])
    assert message == "Added 2 records of corpus.jsonl."
    assert {"d1", "d2"} <= {d.id for d in chat.assistant.documents}
    again = [{"_id": "d2", "text": "The quay was rebuilt in 1932."}]
    data = "\n".join(json.dumps(r) for r in again).encode()
    assert chat.add_uploads([upload(tmp_path, "more.jsonl", data)]) == (
        "Added 1 record of more.jsonl (1 replaced)."
    )
    assert chat.assistant.text_of("d2") == "The quay was rebuilt in 1932."


def test_a_json_lines_record_with_no_text_is_left_out_and_said_so(chat, tmp_path):
    rows = [{"_id": "d1", "text": "The ships came in 1907."}, {"_id": "d2", "text": " "}]
    data = "\n".join(json.dumps(r) for r in rows).encode()
    message = chat.add_uploads([upload(tmp_path, "corpus.jsonl", data)])
    assert message == "Added 1 record of corpus.jsonl (1 record with no text left out)."
    ids = {d.id for d in chat.assistant.documents}
    assert "d1" in ids and "d2" not in ids
    data = json.dumps({"_id": "d3", "text": ""}).encode()
    with pytest.raises(QAError, match=r"^blank\.jsonl holds no record with text$"):
        chat.add_uploads([upload(tmp_path, "blank.jsonl", data)])


def upload(tmp_path: Path, name: str, data: bytes) -> str:
    folder = tmp_path / "uploads"
    folder.mkdir(exist_ok=True)
    (folder / name).write_bytes(data)
    return str(folder / name)


def test_an_upload_reports_progress_to_the_progress_gradio_gives(chat, tmp_path):
    """Gradio passes a gr.Progress, which is falsy (it has a length, 0 outside a loop): the
    page showed a bare timer, no "Reading" and no passages counted, however long it took."""
    import gradio as gr

    steps: list[tuple[object, str]] = []

    class Recorded(gr.Progress):
        def __call__(self, progress, desc=None, total=None, unit="steps", _tqdm=None):
            steps.append((progress, desc or ""))

    text = " ".join(f"Ferry {i} leaves the harbour at {i} o'clock." for i in range(40))
    chat.add_uploads([upload(tmp_path, "ferries.txt", text.encode())], progress=Recorded())
    assert steps[0] == (0.0, "Reading ferries.txt")
    assert steps[-1][1] == "Indexing" and steps[-1][0][0] == steps[-1][0][1] > 0


def test_uploads_join_the_collection_persist_and_are_deleted(chat, tmp_path, fake_embedder):
    files = [
        upload(tmp_path, "notes.txt", b"The lighthouse keeper was named Tobias Brand."),
        upload(tmp_path, "page.html", PAGE),
        upload(tmp_path, "paper.pdf", make_pdf(["The quay was rebuilt in 1931."])),
        upload(tmp_path, "memo.docx", make_docx(["Ferries leave every hour."])),
    ]
    steps: list[tuple[object, str]] = []

    def progress(done, desc="", unit=""):
        steps.append((done, desc))

    message = chat.add_uploads(files, progress=progress)
    assert message.splitlines()[0] == "Added notes.txt (45 characters)."
    assert (0.5, "Reading paper.pdf") in steps
    # Indexing counts the passages embedded against those to embed: the new files' only.
    counts = [done for done, desc in steps if desc == "Indexing"]
    assert counts and all(d <= t for d, t in counts)
    assert [d for d, _ in counts] == sorted(d for d, _ in counts)
    new_passages = counts[-1][1]
    assert counts[-1] == (new_passages, new_passages)
    assert 0 < new_passages < chat.assistant.index.n_passages
    assert not any(Path(f).exists() for f in files)
    names = [name for name, _ in chat.document_choices()]
    assert names[1:] == ["notes.txt", "page.html", "paper.pdf", "memo.docx"]
    reopened = Assistant.load(chat.assistant.index_dir, embedder=fake_embedder)
    assert [d.id for d in reopened.documents] == [d.id for d in chat.assistant.documents]
    pdf = next(d for d in reopened.documents if d.id == "paper.pdf")
    assert pdf.text == "The quay was rebuilt in 1931."

    asked = chat.ask("Who was the lighthouse keeper?")
    cited = (asked.closest if asked.abstained else asked.citations)[0]
    assert cited.document == "notes.txt"
    again = chat.add_uploads([upload(tmp_path, "notes.txt", b"The keeper was Ada Brand.")])
    assert again == "Replaced notes.txt (25 characters)."
    # The earlier answer's offsets point into the old text: not highlighted in the new one.
    key = "c1" if asked.abstained else "1"
    assert "changed since this answer" in chat.source(asked, key)
    assert chat.remove("notes.txt") == "Removed notes.txt."
    reopened = Assistant.load(chat.assistant.index_dir, embedder=fake_embedder)
    assert "notes.txt" not in [d.id for d in reopened.documents]


@pytest.mark.parametrize(("name", "data", "message"), [
    ("empty.txt", b"", "is empty"),
    ("broken.pdf", b"%PDF-1.4 garbage", "not a readable PDF"),
    ("program.exe", b"MZ\x90\x00", "cannot be added"),
    ("disguised.txt", b"\x89PNG\r\n\x1a\n\x00\x00", "binary file"),
])  # fmt: skip
def test_a_bad_file_leaves_the_collection_as_it_was(chat, tmp_path, name, data, message):
    before = [(d.id, d.sha256) for d in chat.assistant.documents]
    version = sorted(p.name for p in chat.assistant.index_dir.iterdir())
    good = upload(tmp_path, "good.txt", b"A perfectly fine document.")
    bad = upload(tmp_path, name, data)
    with pytest.raises(QAError, match=message):
        chat.add_uploads([good, bad])
    assert [(d.id, d.sha256) for d in chat.assistant.documents] == before
    assert sorted(p.name for p in chat.assistant.index_dir.iterdir()) == version
    assert not Path(good).exists() and not Path(bad).exists()


def test_too_big_uploads_are_refused(chat, tmp_path):
    chat.max_upload_bytes = 10
    with pytest.raises(QAError, match="the limit is 10 bytes per file"):
        chat.add_uploads([upload(tmp_path, "big.md", b"# twelve bytes")])


def test_a_page_sending_no_history_or_chat_starts_afresh(chat):
    demo = build_demo(chat.assistant)
    respond = next(f.fn for f in demo.fns.values() if f.name == "respond")
    for junk in (None, 0, False, "x"):
        out = respond("Who is Ailana?", junk, junk)
        assert out[0] == "" and len(out[1]) == 2 and len(out[2]) == 2


def test_a_question_with_no_word_is_refused_and_leaves_the_chat_as_it_was(chat):
    """ "?" was answered with a bubble "No confident answer in the documents. Please ask a
    question." and added to the history, as if the documents had failed."""
    import gradio as gr

    demo = build_demo(chat.assistant)
    respond = next(f.fn for f in demo.fns.values() if f.name == "respond")
    with pytest.warns(UserWarning, match="Please ask a question"):
        out = respond("?!", [], [])
    assert all(isinstance(o, type(gr.skip())) for o in out)
    out = respond("Who is Ailana?", [], [])
    assert len(out[2]) == 2


def test_files_of_one_name_in_one_batch_are_refused(chat, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, second = tmp_path / "a" / "note.txt", tmp_path / "b" / "note.txt"
    first.write_text("The clock tower is green.")
    second.write_text("The bridge is blue.")
    before = [d.id for d in chat.assistant.documents]
    with pytest.raises(QAError, match="both called 'note.txt'"):
        chat.add_uploads([str(first), str(second)])
    assert [d.id for d in chat.assistant.documents] == before


def test_remove_needs_a_known_document(chat):
    with pytest.raises(QAError, match="choose a document"):
        chat.remove(None)
    with pytest.raises(QAError, match="no document"):
        chat.remove("missing.txt")
    with pytest.raises(QAError, match="cannot remove the last document"):
        chat.remove(chat.assistant.documents[0].id)


def test_one_question_at_a_time_is_in_flight(chat):
    # Each answer is computed on the chat the page sent with its question: a typed question
    # and an example in flight at once were each answered beside a chat without the other,
    # and whichever came back last dropped the first from the chat and the history.
    components, events = page_config(chat)
    ids = {key: components[key]["id"] for key in (
        "qa-question", "qa-ask", "qa-new-chat", "qa-examples", "qa-chat", "qa-history"
    )}  # fmt: skip
    locked = [ids["qa-question"], ids["qa-ask"], ids["qa-new-chat"]]
    after = {}
    for e in events:
        after.setdefault(e["trigger_after"], []).append(e)
    triggers = [[(ids["qa-question"], "submit"), (ids["qa-ask"], "click")],
                [(ids["qa-examples"], "click")]]  # fmt: skip
    for targets in triggers:
        (lock,) = [e for e in events if e["targets"] == targets]
        # The lock runs in the page, at once: no server call between the asking and it.
        assert not lock["backend_fn"] and "interactive: false" in lock["js"]
        assert lock["outputs"] == locked and "aria-disabled" in lock["js"]
        (answer,) = after[lock["id"]]
        assert answer["backend_fn"] and answer["trigger_mode"] == "once"
        assert {ids["qa-chat"], ids["qa-history"]} <= set(answer["outputs"])
        unlocks = after[answer["id"]]
        # After an answer, and after a failure: Gradio runs no .then() step after one.
        kinds = {(e["trigger_only_on_success"], e["trigger_only_on_failure"]) for e in unlocks}
        assert kinds == {(False, False), (False, True)}
        for unlock in unlocks:
            assert not unlock["backend_fn"] and "interactive: true" in unlock["js"]
            assert unlock["outputs"] == locked
    # Nothing else writes the chat but New chat (locked while answering) and the chat's clear.
    writers = [e for e in events if ids["qa-chat"] in e["outputs"] and e["trigger_after"] is None]
    assert sorted(e["targets"] for e in writers) == sorted(
        [[(ids["qa-new-chat"], "click")], [(ids["qa-chat"], "clear")]]
    )


@pytest.mark.parametrize(("files", "refusal"), [
    ([["program.exe", 4]],
     "program.exe: files of type .exe cannot be added; use " + ", ".join(sorted(UPLOAD_SUFFIXES))),
    ([["a.exe", 4], ["README", 9]], "a.exe: files of type .exe cannot be added; README: files of "
     "type (none) cannot be added; use " + ", ".join(sorted(UPLOAD_SUFFIXES))),
    ([["big.txt", 20 * 2**20 + 1]], "big.txt is over the 20 MB limit per file"),
    ([["a.exe", 4], ["big.md", 2**30], ["b.PDF", 2**30]], "big.md, b.PDF are over the 20 MB "
     "limit per file"),  # the page drops a.exe, then refuses the rest: all are too large
    ([["notes.TXT", 20 * 2**20]], None),
    ([["a.exe", 4], ["notes.txt", 10]], None),  # notes.txt is sent: add_uploads reports it
    (None, None), ("x", None), ([], None), ([["a.exe"]], None), ([[1, 2]], None),
])  # fmt: skip
def test_what_the_page_refuses_before_sending_is_said(chat, files, refusal):
    assert chat.refused_in_browser(files) == refusal


def test_every_file_picked_is_told_to_the_status_line(chat):
    components, events = page_config(chat)
    watcher, status = components["qa-picked"], components["qa-status"]["id"]
    assert "#qa-upload input[type=file]" in watcher["js_on_load"]
    assert "'drop'" in watcher["js_on_load"] and watcher["visible"] == "hidden"
    (told,) = [e for e in events if e["targets"] == [(watcher["id"], "upload")]]
    assert told["outputs"] == [status] and told["trigger_mode"] == "multiple"


def test_the_page_asks_before_removing_a_document(chat):
    components, events = page_config(chat)
    button = components["qa-remove"]["id"]
    (ask,) = [e for e in events if e["targets"] == [(button, "click")]]
    assert not ask["backend_fn"] and "confirm(" in ask["js"]
    (removal,) = [e for e in events if e["trigger_after"] == ask["id"]]
    assert removal["backend_fn"] and removal["trigger_only_on_success"]


# -- `qa serve` -----------------------------------------------------------------------------


def args(**kw) -> argparse.Namespace:
    base = {"paths": [], "host": "127.0.0.1", "port": 7860, "share": False, "auth": None,
            "no_auth": False, "index_dir": Path("index")}  # fmt: skip
    return argparse.Namespace(**{**base, **kw})


@pytest.mark.parametrize(
    ("options", "auth", "generated"),
    [
        ({}, None, False),
        ({"auth": "ann:s3cret:x"}, ("ann", "s3cret:x"), False),
        ({"share": True, "auth": "ann:pw"}, ("ann", "pw"), False),
        ({"share": True, "no_auth": True}, None, False),
        ({"host": "localhost"}, None, False),
        ({"host": "0.0.0.0", "no_auth": True}, None, False),
    ],
)
def test_resolve_auth(options, auth, generated, monkeypatch):
    monkeypatch.delenv("QA_AUTH", raising=False)
    assert resolve_auth(args(**options)) == (auth, generated)


def test_auth_from_the_environment_keeps_the_password_off_the_command_line(monkeypatch):
    monkeypatch.setenv("QA_AUTH", "ann:from-env")
    assert resolve_auth(args(host="0.0.0.0")) == (("ann", "from-env"), False)
    assert resolve_auth(args(auth="bob:given")) == (("bob", "given"), False)


@pytest.mark.parametrize("options", [{"share": True}, {"host": "0.0.0.0"}, {"host": "192.168.1.5"}])
def test_an_app_others_can_reach_gets_a_random_password(options):
    (user, password), generated = resolve_auth(args(**options))
    assert generated and user == "qa" and len(password) >= 16
    assert resolve_auth(args(**options))[0][1] != password


@pytest.mark.parametrize("bad", ["nopassword", ":pw", "user:"])
def test_bad_auth_is_refused(bad):
    with pytest.raises(QAError, match="USER:PASS"):
        resolve_auth(args(auth=bad))


def test_open_assistant_prefers_paths_then_the_index_then_seeds(
    tmp_path, fake_embedder, monkeypatch
):
    notes = tmp_path / "notes.txt"
    notes.write_text("The lighthouse is red.")
    index = tmp_path / "index"
    first = open_assistant([str(notes)], index, embedder=fake_embedder, progress=False)
    assert [d.id for d in first.documents] == [str(notes)]
    assert [d.id for d in open_assistant([], index, embedder=fake_embedder).documents] == [
        str(notes)
    ]
    monkeypatch.chdir(SEEDS.parent)
    seeds = open_assistant([], tmp_path / "empty", embedder=fake_embedder, progress=False)
    assert all(d.id.startswith("seeds") for d in seeds.documents)
    # `make run` and plain `qa serve` serve the seeds, so they offer the examples.
    assert WebChat(seeds).examples() == EXAMPLES
    assert WebChat(first).examples() == []


class Stderr(io.StringIO):
    """sys.stderr as a terminal or as a file (`qa serve > log 2>&1`)."""

    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize("tty", [True, False])
def test_serve_draws_the_indexing_bar_only_on_a_terminal(
    tmp_path, fake_embedder, monkeypatch, capsys, tty
):
    # As `qa index`: in a log or a pipe, a bar is every redraw of it, one after another.
    asked = []
    from_paths = Assistant.from_paths.__func__  # type: ignore[attr-defined]

    def recorded(cls, paths, **kwargs):
        asked.append(kwargs.get("progress", True))
        return from_paths(cls, paths, **{**kwargs, "embedder": fake_embedder})

    monkeypatch.setattr(Assistant, "from_paths", classmethod(recorded))
    monkeypatch.setattr("qa.app.build_demo", lambda assistant: FakeDemo())
    monkeypatch.setattr("qa.app._check_port", lambda host, port: None)
    stderr = Stderr(tty)
    monkeypatch.setattr("sys.stderr", stderr)
    assert serve(args(paths=[str(SEEDS)], index_dir=tmp_path / "index")) == 0
    assert asked == [tty]
    assert "qa: serving 1 document from" in capsys.readouterr().out  # its lines stay
    if not tty:
        assert stderr.getvalue() == ""


def test_uploads_stay_when_the_app_is_served_again_with_the_same_paths(chat, tmp_path):
    uploaded = tmp_path / "lighthouse.txt"
    uploaded.write_text("The lighthouse has 212 steps.")
    chat.add_uploads([str(uploaded)])
    embedder = chat.assistant.embedder
    again = open_assistant([str(SEEDS)], chat.assistant.index_dir, embedder=embedder)
    assert "lighthouse.txt" in [d.id for d in again.documents] and again.added == {"lighthouse.txt"}


def test_a_port_in_use_is_refused_before_indexing():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(QAError, match=f"port {port} on 127.0.0.1 is in use"):
            _check_port("127.0.0.1", port)
    _check_port("127.0.0.1", port)  # free again


def test_a_second_server_on_one_index_folder_is_refused(tmp_path):
    """Each server saves its own collection whole: two on one folder dropped each other's
    uploads."""
    first = hold_index(tmp_path / "index")
    assert first is not None
    with pytest.raises(QAError, match="another qa serve is using .*; stop it, or serve with"):
        hold_index(tmp_path / "index")
    assert hold_index(tmp_path / "other") is not None
    first.release()
    assert hold_index(tmp_path / "index") is not None  # free again


class FakeDemo:
    def __init__(self):
        self.kwargs = {}

    def launch(self, **kwargs):
        self.kwargs = kwargs
        return None, f"http://{kwargs['server_name']}:{kwargs['server_port']}/", None

    def block_thread(self):
        pass


@pytest.mark.parametrize("share", [False, True])
def test_serve_binds_loopback_limits_uploads_and_prints_the_url(
    chat, monkeypatch, capsys, share, tmp_path
):
    demo = FakeDemo()
    monkeypatch.setattr("qa.app.open_assistant", lambda paths, index_dir: chat.assistant)
    monkeypatch.setattr("qa.app.build_demo", lambda assistant: demo)
    monkeypatch.setattr("qa.app._check_port", lambda host, port: None)  # 7860 may be taken
    assert serve(args(share=share, index_dir=tmp_path)) == 0
    out = capsys.readouterr().out
    assert "at http://127.0.0.1:7860/" in out
    kw = demo.kwargs
    assert kw["server_name"] == "127.0.0.1" and kw["max_file_size"] == 20 * 2**20
    assert kw["allowed_paths"] == [] and kw["share"] is share
    if share:
        assert kw["auth"][0] == "qa" and f"password {kw['auth'][1]!r}" in out
        assert "could not open a public link" in out  # FakeDemo returns no share URL
    else:
        assert kw["auth"] is None and "password" not in out


# -- the running app and its API, on the fake embedder -------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_api_has_ask_and_search_and_answers_like_the_library(chat):
    from gradio_client import Client

    from qa.app import launch_options

    demo = build_demo(chat.assistant)
    _, url, _ = demo.launch(
        server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True,
        quiet=True, **launch_options(),
    )  # fmt: skip
    try:
        client = Client(url, verbose=False)
        endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
        assert sorted(endpoints) == ["/ask", "/search"]
        history = [
            {"role": "user", "content": "Who is Ailana?"},
            {"role": "assistant", "content": "A mother."},
        ]
        for h in ([], history):
            got = client.predict(QUESTION, h, api_name="/ask")
            assert got == chat.api_ask(QUESTION, h)
        hits = client.predict("Vyber", 2, api_name="/search")
        assert [h["start"] for h in hits] == [c.start for c in chat.assistant.search("Vyber", k=2)]
        with pytest.raises(Exception, match="keep it to at most"):
            client.predict("x" * 5000, [], api_name="/ask")
        assert call_over_http(url, "ask", [QUESTION, []]) == chat.api_ask(QUESTION, [])
    finally:
        demo.close()


def call_over_http(url: str, endpoint: str, data: list) -> Any:
    """What the README's curl lines do: post the inputs, then read the event stream."""
    import urllib.request

    post = urllib.request.Request(
        f"{url.rstrip('/')}/gradio_api/call/{endpoint}",
        data=json.dumps({"data": data}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(post, timeout=60) as r:
        event_id = json.load(r)["event_id"]
    with urllib.request.urlopen(
        f"{url.rstrip('/')}/gradio_api/call/{endpoint}/{event_id}", timeout=60
    ) as r:
        stream = r.read().decode()
    assert "event: complete" in stream, stream
    return json.loads(stream.split("event: complete\ndata: ", 1)[1].splitlines()[0])[0]


@pytest.mark.model
def test_the_spaces_entry_point_builds_demo_on_the_seeds(tmp_path, monkeypatch, real_embedder):
    import runpy

    import gradio as gr

    monkeypatch.setenv("QA_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.chdir(SEEDS.parent)
    namespace = runpy.run_path(str(SEEDS.parent / "app.py"))  # not as __main__: no launch
    assert isinstance(namespace["demo"], gr.Blocks)
    examples = next(
        c for c in namespace["demo"].get_config_file()["components"]
        if c.get("props", {}).get("elem_id") == "qa-examples"
    )  # fmt: skip
    assert examples["props"]["visible"] is True  # the seeds: the examples ask about them
    reopened = Assistant.load(tmp_path / "index", embedder=real_embedder)
    seeds = [f"seeds/{p.name}" for p in sorted(SEEDS.iterdir())]
    assert [d.id for d in reopened.documents] == seeds
