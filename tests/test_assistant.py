"""The public API with a fake embedder: offsets, citations, abstention, persistence, errors."""

import dataclasses
import json
import os

import numpy as np
import pytest

import qa
from qa import Answer, Assistant, Citation, QAError
from qa.answer import default_model

ARTICLE = """Lighthouses of the North

The Skerry lighthouse was built in 1852 by the engineer Alan Stevenson. It stands 48 metres tall.

The keepers left in 1998, when the light was automated. Visitors now reach the island by ferry from Tobermory.

A museum on the island displays the original lens. It was made in Paris by Henry-Lepaute."""


@pytest.fixture
def article(tmp_path):
    f = tmp_path / "article.txt"
    f.write_text(ARTICLE)
    return f


def test_public_names_are_pinned():
    assert qa.__all__ == ["Answer", "Assistant", "Citation", "QAError"]


def test_answer_cites_exact_span(article, fake_embedder):
    a = Assistant.from_paths([article], embedder=fake_embedder)
    answer = a.ask("When was the Skerry lighthouse built?")
    assert isinstance(answer, Answer) and answer.citations
    assert 0.0 <= answer.confidence <= 1.0
    top = answer.citations[0]
    assert isinstance(top, Citation)
    assert top.document == str(article)
    assert ARTICLE[top.start : top.end] == top.text
    assert top.text in top.context
    assert ARTICLE[top.context_start : top.context_start + len(top.context)] == top.context
    if not answer.abstained:
        assert "[1]" in answer.text and top.text in answer.text
        assert [c.score for c in answer.citations] == sorted(
            (c.score for c in answer.citations), reverse=True
        )


def test_every_marker_points_at_a_citation(article, fake_embedder):
    a = Assistant.from_paths([article], embedder=fake_embedder)
    for q in [
        "Who built the lighthouse?",
        "Where was the lens made?",
        "When did the keepers leave?",
    ]:
        answer = a.ask(q)
        markers = {int(m) for m in __import__("re").findall(r"\[(\d+)\]", answer.text)}
        assert markers <= set(range(1, len(answer.citations) + 1))


@pytest.mark.parametrize("question", ["", "   ", "\n\t"])
def test_empty_question_abstains(article, fake_embedder, question):
    answer = Assistant.from_paths([article], embedder=fake_embedder).ask(question)
    assert answer.abstained and answer.citations == [] and answer.confidence == 0.0


def test_bad_question_and_history_raise_qaerror(article, fake_embedder):
    a = Assistant.from_paths([article], embedder=fake_embedder)
    with pytest.raises(QAError, match="keep it to at most 2,000 characters"):
        a.ask("x" * 1_000_000)
    with pytest.raises(QAError, match="history"):
        a.ask("Who?", history="not a list")  # type: ignore[arg-type]
    with pytest.raises(QAError, match="text"):
        a.ask(None)  # type: ignore[arg-type]
    with pytest.raises(QAError, match="whole number"):
        a.search("lighthouse", k=True)
    assert a.search("lighthouse", k=np.int64(2)) == a.search("lighthouse", k=2)


def test_a_question_of_exactly_the_limit_is_asked(article, fake_embedder):
    # The message says "at most 2,000": 2,000 characters (after trimming) are asked, 2,001 not.
    a = Assistant.from_paths([article], embedder=fake_embedder)
    question = ("When was the lighthouse built? " * 70)[:2000]  # ends inside a word
    assert len(question) == 2000
    assert isinstance(a.ask(f"  {question}\n"), Answer)  # 2,000 once trimmed
    with pytest.raises(QAError, match=r"^the question has 2,001 characters; keep it to at most "):
        a.ask(question + "s")


def test_paths_as_bytes_or_wrong_types(article, fake_embedder):
    a = Assistant.from_paths(os.fsencode(article), embedder=fake_embedder)
    assert [d.id for d in a.documents] == [str(article)]
    with pytest.raises(QAError, match="not int"):
        Assistant.from_paths([47], embedder=fake_embedder)  # type: ignore[list-item]


def test_abstention_shows_closest_passages_not_citations(article, fake_embedder):
    shy = dataclasses.replace(default_model(), threshold=1.01)  # no answer is sure enough
    a = Assistant.from_paths([article], embedder=fake_embedder, model=shy)
    assert a.model is shy
    answer = a.ask("Which football club won the league?")
    assert answer.abstained and answer.citations == [] and answer.closest
    assert answer.text == (
        "The article does not seem to say: no sentence answers “Which football club won the "
        "league?” with enough confidence. The closest passages are shown for context, not as an answer."
    )
    other = article.with_name("other.txt")
    other.write_text("Lighthouses guide ships at night.")
    two = Assistant.from_paths([article, other], embedder=fake_embedder, model=shy)
    assert two.ask("Which football club won the league?").text.startswith(
        "The documents do not seem to say: no sentence answers"
    )


def test_abstention_with_no_passage_to_show_offers_none(tmp_path, fake_embedder):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    answer = Assistant.from_paths([empty], embedder=fake_embedder).ask("Who won?")
    assert answer.abstained and answer.closest == []
    assert answer.text == (
        "The article holds no text to answer from, so nothing answers “Who won?”: index a file "
        "that has text."
    )


def test_search_returns_ranked_passages_with_record_ids(tmp_path, fake_embedder):
    corpus = tmp_path / "corpus.jsonl"
    rows = [
        {"_id": "d1", "title": "Cats", "text": "Cats purr when content. They sleep a lot."},
        {"_id": "d2", "title": "Dogs", "text": "Dogs bark at strangers. They love walks."},
    ]
    corpus.write_text("\n".join(json.dumps(r) for r in rows))
    a = Assistant.from_paths([corpus], embedder=fake_embedder)
    hits = a.search("why do dogs bark", k=2)
    assert hits[0].document == "d2"
    assert a.search("", k=3) == [] and a.search("  ", k=1) == []
    assert a.search("?!", k=3) == []  # no word to search for: no passage "matches" it
    with pytest.raises(QAError, match="^the query has 2,001 characters"):
        a.search("x" * 2001)


@pytest.mark.parametrize("k", [0, -1, np.int64(0)])
@pytest.mark.parametrize("query", ["lighthouse", ""])
def test_search_refuses_k_below_one(article, fake_embedder, k, query):
    a = Assistant.from_paths([article], embedder=fake_embedder)
    with pytest.raises(QAError, match=f"^k must be at least 1, not {k}$"):
        a.search(query, k=k)
    assert len(a.search("lighthouse", k=1)) == 1


def test_index_persists_and_reloads_without_reembedding(article, tmp_path, fake_embedder):
    d = tmp_path / "index"
    first = Assistant.from_paths([article], index_dir=d, embedder=fake_embedder)
    calls = fake_embedder.recording()
    second = Assistant.from_paths([article], index_dir=d, embedder=fake_embedder)
    assert sum(map(len, calls)) == 0
    q = "Who built the lighthouse?"
    assert second.ask(q).to_dict() == first.ask(q).to_dict()
    loaded = Assistant.load(d, embedder=fake_embedder)
    assert loaded.ask(q).to_dict() == first.ask(q).to_dict()


def _folder(tmp_path, files: dict[str, str]):
    """A folder "docs" in tmp_path holding `files` (name: text)."""
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in files.items():
        (docs / name).write_text(text)
    return docs


def test_changed_document_is_the_only_one_reembedded(tmp_path, fake_embedder):
    docs = _folder(
        tmp_path, {"a.txt": "Alpha is first. It leads.", "b.txt": "Beta is second. It follows."}
    )
    d = tmp_path / "index"
    Assistant.from_paths([docs], index_dir=d, embedder=fake_embedder)
    calls = fake_embedder.recording()
    (docs / "b.txt").write_text("Beta changed. It now leads too.")
    a = Assistant.from_paths([docs], index_dir=d, embedder=fake_embedder)
    seen = [t for texts in calls for t in texts]
    assert seen and all("Alpha" not in t and "first" not in t for t in seen)
    assert any("Beta changed" in t for t in seen)
    assert a.ask("What changed?").citations[0].document.endswith(("a.txt", "b.txt"))


def test_the_same_files_by_another_path_are_not_embedded_again(
    tmp_path, fake_embedder, monkeypatch
):
    docs = _folder(
        tmp_path,
        {"a.txt": "The ferry leaves at noon. It returns at six.",
         "b.txt": "The kettle was invented in 1891."},
    )  # fmt: skip
    d = tmp_path / "index"
    monkeypatch.chdir(tmp_path)
    Assistant.from_paths(["docs"], index_dir=d, embedder=fake_embedder)
    calls = fake_embedder.recording()
    moved = tmp_path / "moved"
    docs.rename(moved)
    a = Assistant.from_paths([str(moved)], index_dir=d, embedder=fake_embedder)
    assert calls == [] and sorted(doc.id for doc in a.documents) == [
        str(moved / "a.txt"), str(moved / "b.txt")
    ]  # fmt: skip
    answer = a.ask("When does the ferry leave?")
    c = answer.citations[0] if not answer.abstained else answer.closest[0]
    assert a.text_of(c.document)[c.start : c.end] == c.text


def test_index_from_another_model_is_rebuilt_not_used(article, tmp_path, fake_embedder, capsys):
    d = tmp_path / "index"
    Assistant.from_paths([article], index_dir=d, embedder=fake_embedder)
    manifest_path = next(d.glob("v-*/manifest.json"))
    m = json.loads(manifest_path.read_text())
    m["model"]["weights_sha256"] = "other"
    manifest_path.write_text(json.dumps(m))
    with pytest.raises(QAError, match="built with other weights of the embedding model"):
        Assistant.load(d, embedder=fake_embedder)
    Assistant.from_paths([article], index_dir=d, embedder=fake_embedder)
    assert "rebuilding" in capsys.readouterr().err
    Assistant.load(d, embedder=fake_embedder)


def test_followup_uses_history(tmp_path, fake_embedder):
    f = tmp_path / "a.txt"
    f.write_text(
        "Ailana is a soldier's mother from Tyva.\n\nHer son called her from Belarus before the war.\n\n"
        "Vasily is an activist. His wife helps soldiers."
    )
    a = Assistant.from_paths([f], embedder=fake_embedder)
    history = [
        {"role": "user", "content": "Who is Ailana?"},
        {"role": "assistant", "content": "A mother."},
    ]
    answer = a.ask("Where did her son call her from?", history)
    assert "Ailana" in answer.question


@pytest.mark.parametrize(
    ("message", "why"),
    [
        # Gradio's Chatbot message form: content as a list of parts, not a string.
        ({"role": "user", "content": [{"type": "text", "text": "Who is Ailana?"}]}, "list"),
        ({"role": "assistant", "content": None}, "NoneType"),
        ({"role": "user", "content": 5}, "int"),
        ({"role": "user"}, None),
    ],
)
def test_history_content_must_be_text(article, fake_embedder, message, why):
    a = Assistant.from_paths([article], embedder=fake_embedder)
    history = [{"role": "user", "content": "Who built the lighthouse?"}, message]
    said = f"message 2's content is {why}, not str" if why else "message 2 has no content"
    with pytest.raises(QAError, match=f"^history must be a list of .*; {said}$"):
        a.ask("When was it built?", history)
    assert a.ask("When was it built?", history[:1]).question  # the valid part is asked


def test_history_roles_are_user_or_assistant_and_system_is_ignored(article, fake_embedder):
    """ "bot" was taken, and the follow-up read as if there were no history."""
    a = Assistant.from_paths([article], embedder=fake_embedder)
    for role in ("bot", None, 5):
        history = [{"role": role, "content": "Who built the lighthouse?"}]
        with pytest.raises(QAError, match=f"message 1's role is {role!r}"):
            a.ask("When was it built?", history)
    system = [{"role": "system", "content": "Be brief."}]
    asked = [{"role": "user", "content": "Who built the lighthouse?"}]
    assert a.ask("When was it built?", system + asked) == a.ask("When was it built?", asked)


def test_add_and_remove_documents(article, tmp_path, fake_embedder):
    from qa.ingest import Document

    d = tmp_path / "index"
    a = Assistant.from_paths([article], index_dir=d, embedder=fake_embedder)
    a.add([Document(id="extra", text="The ferry leaves at noon. It returns at six.")])
    assert {doc.id for doc in Assistant.load(d, embedder=fake_embedder).documents} == {
        str(article),
        "extra",
    }
    a.remove("extra")
    assert [doc.id for doc in Assistant.load(d, embedder=fake_embedder).documents] == [str(article)]
    with pytest.raises(QAError):
        a.remove("nope")


def test_add_refuses_two_documents_with_one_id(article, fake_embedder):
    # The last of the two used to win without a word, as a dict keeps the last.
    from qa.ingest import Document

    a = Assistant.from_paths([article], embedder=fake_embedder)
    pair = [Document(id="note", text="The ferry leaves at noon."),
            Document(id="note", text="The ferry leaves at one.")]  # fmt: skip
    with pytest.raises(QAError, match=r"^two of the documents added are both called 'note'"):
        a.add(pair)
    assert [doc.id for doc in a.documents] == [str(article)]


@pytest.mark.parametrize("text", ["", "   ", "\n\t \u3000\n"])
def test_add_refuses_a_document_with_no_text(article, tmp_path, fake_embedder, text):
    from qa import store
    from qa.ingest import Document

    d = tmp_path / "index"
    a = Assistant.from_paths([article], index_dir=d, embedder=fake_embedder)
    saved = store.read_manifest(d)
    good = Document(id="ferry", text="The ferry leaves at noon.")
    with pytest.raises(QAError, match=r"^the document 'e' has no text; give it some text or"):
        a.add([good, Document(id="e", text=text)])
    # The batch is refused whole: nothing added, in memory or on disk.
    assert [doc.id for doc in a.documents] == [str(article)] and a.added == set()
    assert store.read_manifest(d) == saved


def test_an_empty_file_in_a_folder_is_still_indexed(tmp_path, fake_embedder):
    # Only add() refuses empty text: a folder holding an empty file is indexed (the empty
    # document has nothing to search; `qa index` notes it), not refused whole.
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "ferry.txt").write_text("The ferry leaves at noon.")
    a = Assistant.from_paths([tmp_path], embedder=fake_embedder)
    assert sorted(os.path.basename(doc.id) for doc in a.documents) == ["empty.txt", "ferry.txt"]
    assert a.search("ferry", k=5)[0].document.endswith("ferry.txt")


def test_a_question_of_documents_with_no_text_says_so(tmp_path, fake_embedder):
    (tmp_path / "blank.md").write_text("  \n\n ")
    one = Assistant.from_paths([tmp_path / "blank.md"], embedder=fake_embedder)
    answer = one.ask("Who won?")
    assert answer.abstained and answer.confidence == 0.0
    assert answer.text.startswith("The article holds no text to answer from, so nothing answers")
    (tmp_path / "empty.txt").write_text("")
    two = Assistant.from_paths([tmp_path], embedder=fake_embedder)
    assert two.ask("Who won?").text.startswith("The documents hold no text to answer from")


def test_added_documents_are_kept_unless_told_otherwise(
    article, tmp_path, fake_embedder, monkeypatch
):
    # The web app serves its paths plus what was uploaded on the page: started again with the
    # same command it keeps the uploads (`keep_added`, as `qa index` does unless told
    # --drop-uploads); `from_paths` keeps them too unless told `keep_added=False`: their
    # text is nowhere else. A path's own document of the same id wins over an added one.
    from qa.ingest import Document

    d = tmp_path / "index"
    a = Assistant.from_paths([article], index_dir=d, embedder=fake_embedder)
    a.add([Document(id="ferry.txt", text="The ferry leaves at noon."), Document(id="x", text="X.")])
    a.remove("x")
    assert a.added == {"ferry.txt"}
    original = fake_embedder.embed
    fake_embedder.embed = lambda texts, **kw: pytest.fail("nothing changed, nothing to embed")
    again = Assistant.from_paths([article], index_dir=d, embedder=fake_embedder, keep_added=True)
    assert [doc.id for doc in again.documents] == [str(article), "ferry.txt"]
    assert again.added == {"ferry.txt"} == Assistant.load(d, embedder=fake_embedder).added
    fake_embedder.embed = original

    other = tmp_path / "ferry.txt"
    other.write_text("The ferry is now a bus.")
    monkeypatch.chdir(tmp_path)  # so that the path's id is "ferry.txt", the added document's
    both = Assistant.from_paths([article, "ferry.txt"], index_dir=d, embedder=fake_embedder,
                                keep_added=True)  # fmt: skip
    assert both.text_of("ferry.txt") == "The ferry is now a bus." and both.added == set()

    Assistant.load(d, embedder=fake_embedder).add([Document(id="up.txt", text="Up.")])
    plain = Assistant.from_paths([article], index_dir=d, embedder=fake_embedder)
    assert [doc.id for doc in plain.documents] == [str(article), "up.txt"]
    dropped = Assistant.from_paths([article], index_dir=d, embedder=fake_embedder,
                                   keep_added=False)  # fmt: skip
    assert [doc.id for doc in dropped.documents] == [str(article)]
    assert Assistant.load(d, embedder=fake_embedder).added == set()


def test_no_documents_is_a_clear_error(tmp_path, fake_embedder):
    with pytest.raises(QAError, match="no documents given"):
        Assistant.from_paths([], embedder=fake_embedder)
    (tmp_path / "empty").mkdir()
    with pytest.raises(QAError, match="holds no"):
        Assistant.from_paths([tmp_path / "empty"], embedder=fake_embedder)


def test_text_of_is_the_text_that_offsets_index(tmp_path, fake_embedder):
    # A BOM and Windows line endings: offsets index the file as decoded, BOM dropped and
    # line endings kept, which is what open(..., encoding="utf-8-sig", newline="") reads.
    path = tmp_path / "windows.txt"
    path.write_bytes("\ufeffFerries run daily.\r\nThe kettle was invented in 1891.\r\n".encode())
    a = Assistant.from_paths([path], embedder=fake_embedder)
    answer = a.ask("When was the kettle invented?")
    for c in answer.citations:
        assert a.text_of(c.document)[c.start : c.end] == c.text
        raw = open(c.document, encoding="utf-8-sig", newline="").read()  # noqa: SIM115
        assert raw[c.start : c.end] == c.text
    with pytest.raises(QAError, match="no document 'elsewhere.txt'"):
        a.text_of("elsewhere.txt")


def test_further_citations_from_other_documents_must_share_a_word(tmp_path, fake_embedder):
    sure = dataclasses.replace(default_model(), threshold=-1.0)  # always answer
    for name, text in {
        "ferry.txt": "Ferries run to Oban daily.",
        "cats.txt": "Cats sleep a lot.",
        "kettle.txt": "The kettle was invented in 1891.",
        "port.txt": "Oban has a busy port.",
    }.items():
        (tmp_path / name).write_text(text)
    a = Assistant.from_paths(sorted(tmp_path.glob("*.txt")), embedder=fake_embedder, model=sure)
    answer = a.ask("When do ferries run to Oban?")
    first = answer.citations[0].document
    assert first.endswith("ferry.txt")
    others = {os.path.basename(c.document) for c in answer.citations[1:] if c.document != first}
    assert others == {"port.txt"}  # shares "Oban"; cats and kettles share nothing


def test_an_index_folder_that_cannot_be_written_is_refused_before_embedding(
    tmp_path, fake_embedder
):
    # A first build into a folder the index cannot be saved in would embed everything, then
    # fail at the save: it is refused before the model is called.
    (tmp_path / "a.txt").write_text("The ferry leaves at noon.")
    occupied = tmp_path / "index"
    occupied.write_text("a file where the folder should be")
    fake_embedder.embed = lambda texts, **kw: pytest.fail("embedded before the save failed")
    with pytest.raises(QAError, match=r"index is a file, not a folder; choose another --index-dir"):
        Assistant.from_paths([tmp_path / "a.txt"], index_dir=occupied, embedder=fake_embedder)
    with pytest.raises(QAError) as caught:
        Assistant.from_paths(
            [tmp_path / "a.txt"], index_dir=occupied / "sub", embedder=fake_embedder
        )
    assert "free some space" not in str(caught.value)
    # A probe that succeeds leaves no folder behind if the build then fails.
    with pytest.raises(QAError, match="does not exist"):
        Assistant.from_paths([tmp_path / "none.txt"], index_dir=tmp_path / "new" / "deep" / "index",
                             embedder=fake_embedder)  # fmt: skip
    assert not (tmp_path / "new").exists()


def test_texts_moving_between_ids_are_indexed_as_they_now_are(tmp_path, fake_embedder):
    # A copy of a file beside it, and two files swapping texts: vectors are reused by
    # content, but each document gets its own rows and its own current text.
    docs = _folder(
        tmp_path,
        {"a.txt": "The ferry leaves at noon. It returns at six.",
         "b.txt": "The bakery opens at six. Telma Quist owns it."},
    )  # fmt: skip
    d = tmp_path / "index"
    Assistant.from_paths([docs], index_dir=d, embedder=fake_embedder)
    calls = fake_embedder.recording()
    (docs / "a copy.txt").write_text((docs / "a.txt").read_text())
    copied = Assistant.from_paths([docs], index_dir=d, embedder=fake_embedder)
    assert calls == [] and copied.text_of(str(docs / "a copy.txt")) == copied.text_of(
        str(docs / "a.txt")
    )
    a, b = (docs / "a.txt").read_text(), (docs / "b.txt").read_text()
    (docs / "a.txt").write_text(b)
    (docs / "b.txt").write_text(a)
    swapped = Assistant.from_paths([docs], index_dir=d, embedder=fake_embedder)
    assert calls == []
    for x in (swapped, Assistant.load(d, embedder=fake_embedder)):
        assert x.text_of(str(docs / "a.txt")) == b and x.text_of(str(docs / "b.txt")) == a
        for s in range(x.index.n_sentences):
            doc = x.index.documents[x.index.sent_doc[s]]
            assert x.index.sentence_text(s) in doc.text


def test_uploads_survive_a_rebuild_for_another_model_and_cwd_and_lists_stay_true(
    article, tmp_path, fake_embedder, monkeypatch
):
    from qa import store
    from qa.ingest import Document

    d = tmp_path / "index"
    monkeypatch.chdir(tmp_path)
    a = Assistant.from_paths([article], index_dir=d, embedder=fake_embedder)
    a.add([Document(id="ferry.txt", text="The ferry leaves at noon.")])
    # Another folder adds a document: the index's files are still relative to the first.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    Assistant.load(d, embedder=fake_embedder).add([Document(id="x.txt", text="X marks it.")])
    assert store.read_manifest(d)["cwd"] == str(tmp_path)
    monkeypatch.chdir(tmp_path)
    # Another model cannot reuse the vectors: the uploads are read from the text files.
    fake_embedder.name = "another-model"
    again = Assistant.from_paths([article], index_dir=d, embedder=fake_embedder, keep_added=True)
    assert {doc.id for doc in again.documents} == {str(article), "ferry.txt", "x.txt"}
    # A path now gives an upload's id with the same text: nothing to embed, but the
    # manifest no longer lists it as an upload.
    (tmp_path / "ferry.txt").write_text("The ferry leaves at noon.")
    Assistant.from_paths([article, "ferry.txt"], index_dir=d, embedder=fake_embedder,
                         keep_added=True)  # fmt: skip
    assert store.read_manifest(d)["added"] == ["x.txt"]


def test_a_folder_with_nothing_readable_says_why(tmp_path, fake_embedder):
    (tmp_path / "scan.pdf").write_bytes(b"%PDF-1.4 garbage")
    with pytest.raises(QAError, match=r"no documents found in .*scan.pdf is not a readable PDF"):
        Assistant.from_paths([tmp_path], embedder=fake_embedder)


def test_an_answers_marker_pasted_into_a_question_is_ignored(article, fake_embedder):
    a = Assistant.from_paths([article], embedder=fake_embedder)
    plain = a.ask("When was the harbour built?")
    pasted = a.ask("When was the harbour built? [1]")
    assert pasted.question == plain.question and pasted.confidence == plain.confidence


def test_two_processes_changing_one_folder_lose_neither_change(article, tmp_path, fake_embedder):
    # Two servers, or a script beside a server: each add() used to save its own documents
    # over what the other had saved meanwhile, so the first upload was lost.
    from qa import store
    from qa.ingest import Document

    d = tmp_path / "index"
    Assistant.from_paths([article], index_dir=d, embedder=fake_embedder)
    one = Assistant.load(d, embedder=fake_embedder)
    two = Assistant.from_paths([article], index_dir=d, embedder=fake_embedder, keep_added=True)
    one.add([Document(id="ferry", text="The ferry leaves at noon.")])
    two.add([Document(id="kettle", text="The kettle was invented in 1891.")])
    both = {str(article), "ferry", "kettle"}
    assert {doc.id for doc in two.documents} == both and two.added == {"ferry", "kettle"}
    assert {doc.id for doc in Assistant.load(d, embedder=fake_embedder).documents} == both
    one.remove("ferry")  # made to what `two` saved: the kettle stays
    saved = Assistant.load(d, embedder=fake_embedder)
    assert {doc.id for doc in saved.documents} == {str(article), "kettle"}
    assert saved.added == {"kettle"} and saved.ask("When was the kettle invented?").citations
    assert len([p for p in d.iterdir() if p.name.startswith("v-")]) == 1
    # Saved over by a version it did not make, a change is refused rather than lost.
    with pytest.raises(store.Moved, match="another process changed the index"):
        store.save(one.index, d, fake_embedder, sources=[], expect="v-gone")
