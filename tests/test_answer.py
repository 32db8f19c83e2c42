"""Answer selection details with a fake embedder: follow-ups, excerpts, answer-type proximity."""

import dataclasses
import json
import re
from importlib import resources

import numpy as np
import pytest

from qa import Assistant
from qa.answer import type_near
from qa.followup import resolve
from qa.text import terms, words

ARTICLE = """The Skerry lighthouse was built in 1852 by the engineer Alan Stevenson. It stands 48 metres tall. Its keepers rowed to the mainland for supplies.

The keepers left in 1998, when the light was automated. They had lived there for a century. Visitors now reach the island by ferry from Tobermory.

A museum on the island displays the original lens. It was made in Paris by Henry-Lepaute. The lens weighs four tonnes.

Storms closed the museum in 2012. It reopened the next spring. The ferry runs daily in summer."""


@pytest.fixture
def assistant(tmp_path, fake_embedder):
    f = tmp_path / "article.txt"
    f.write_text(ARTICLE)
    return Assistant.from_paths([f], embedder=fake_embedder)


HISTORY = [{"role": "user", "content": "Who is Alan Stevenson?"}]


@pytest.mark.parametrize(
    ("question", "history", "searched", "context"),
    [
        ("When was it built?", None, "When was it built?", None),
        # A pronoun: sentences are matched on the follow-up, passages with the referent too.
        (
            "What did he build?",
            HISTORY,
            "What did he build?",
            "What did he build? (Alan Stevenson)",
        ),
        # Ellipsis: the previous question carries the meaning.
        ("And in 1998?", HISTORY, "Who is Alan Stevenson? And in 1998?", None),
        # An elliptic follow-up with a name of its own asks the same of it instead.
        (
            "And in Tyva?",
            [{"role": "user", "content": "How many soldiers from Buryatia's units came home?"}],
            "And in Tyva? (How many soldiers from units came home)",
            None,
        ),
        # What is left may be only small words: it still says what is asked.
        (
            "And Vasily?",
            [{"role": "user", "content": "Who is Ailana?"}],
            "And Vasily? (Who is)",
            None,
        ),
        # A starter or "I" is no name: the previous question keeps its own.
        (
            "But why?",
            [{"role": "user", "content": "What is the income in Tyva?"}],
            "What is the income in Tyva? But why?",
            None,
        ),
        (
            "And can I bring my family?",
            [{"role": "user", "content": "What visa do I need in Canada?"}],
            "What visa do I need in Canada? And can I bring my family?",
            None,
        ),
        (
            "What about Tyva?",
            [{"role": "user", "content": "According to Free Buryatia, how many refused?"}],
            "What about Tyva? (According to, how many refused)",
            None,
        ),
        # A starter before a question of its own (a question word, a verb, a word of
        # content): that question, its pronoun read as any other's.
        (
            "And when was it last repaired?",
            [{"role": "user", "content": "When was the Kelvin Street bridge built?"}],
            "When was it last repaired?",
            "When was it last repaired? (Kelvin Street)",
        ),
        (
            "But why did he resign?",
            HISTORY,
            "Why did he resign?",
            "Why did he resign? (Alan Stevenson)",
        ),
        (
            "And how much is the H6?",
            [{"role": "user", "content": "How much does the H8 cost?"}],
            "How much is the H6?",
            None,
        ),
        # "she" stands for a person: a model number is no referent ("H6"), the older
        # question's name is.
        (
            "How did she vote?",
            [
                {"role": "user", "content": "Who is Priya Nair?"},
                {"role": "user", "content": "What about the H6?"},
            ],
            "How did she vote?",
            "How did she vote? (Priya Nair)",
        ),
        # A phrase with a noun of the previous question takes its place there.
        (
            "And the last ferry?",
            [{"role": "user", "content": "When does the first ferry leave Skerry Point?"}],
            "When does the last ferry leave Skerry Point?",
            None,
        ),
        (
            "And male soldiers?",
            [{"role": "user", "content": "How many female soldiers died?"}],
            "How many male soldiers died?",
            None,
        ),
        (
            "What about the old bridge?",
            [{"role": "user", "content": "How much did the bridge cost?"}],
            "How much did the old bridge cost?",
            None,
        ),
        (
            "And the last ferries?",  # the previous question's form of the noun
            [{"role": "user", "content": "When does the first ferry leave?"}],
            "When does the last ferry leave?",
            None,
        ),
        # ... but not where the word may be a verb, or what stands before it a noun.
        *(
            (detail, [{"role": "user", "content": previous}], f"{previous} {detail}", None)
            for previous, detail in [
                ("Where did officials send soldiers?", "And the wounded soldiers?"),
                ("Where do the buses stop?", "And the last stop?"),
                ("When do the children play outside?", "And the school play?"),
                ("When do guests need to check in?", "And the security check?"),
                ("How do we swim to the island?", "And the evening swim?"),
                ("When does the first ferry leave?", "And the ferries?"),  # nothing new
            ]
        ),
        # A day or a month in the phrase is no name: the phrase still takes its place.
        (
            "And the Sunday ferry?",
            [{"role": "user", "content": "When does the first ferry leave?"}],
            "When does the Sunday ferry leave?",
            None,
        ),
        (
            "And in July?",
            [{"role": "user", "content": "How many soldiers came home in June?"}],
            "And in July? (How many soldiers came home in)",
            None,
        ),
        # A short follow-up that starts with a small word is one, not a name.
        (
            "Since when?",
            [{"role": "user", "content": "Who is the ferry's captain?"}],
            "Who is the ferry's captain? Since when?",
            None,
        ),
        # So is a preposition and a question word ("Until what time?" had two content words).
        *(
            (detail, [{"role": "user", "content": previous}], f"{previous} {detail}", None)
            for previous, detail in [
                ("How often will the shuttle bus run?", "Until what time?"),
                ("How long is the bridge closed?", "From which day?"),
                ("Who chairs the committee?", "For how long?"),
            ]
        ),
        # ... and not one with a verb of its own.
        ("Until when is the museum open?", HISTORY, "Until when is the museum open?", None),
        (
            "And the last ferry?",
            [{"role": "user", "content": "When does the First Ferry leave?"}],  # a name
            "When does the First Ferry leave? And the last ferry?",
            None,
        ),
        (
            "And the 8 ferries?",
            [{"role": "user", "content": "When does the ferry leave?"}],
            "When does the ferry leave? And the 8 ferries?",
            None,
        ),
        # A self-contained follow-up is left alone.
        ("Where is the original lens shown?", HISTORY, "Where is the original lens shown?", None),
    ],
)
def test_followups_resolve_against_the_last_question(question, history, searched, context):
    resolved = resolve(question, history)
    assert (resolved.question, resolved.context) == (searched, context)
    assert resolved.shown == (context or searched)


@pytest.mark.parametrize(
    ("previous", "detail", "readings"),
    [
        # A noun with its "the", new to the previous question, in the place of its noun.
        (
            "What did the treasurer report?",
            "And the secretary?",
            ["What did the secretary report?"],
        ),
        ("Who is the treasurer?", "What about the secretary?", ["Who is the secretary?"]),
        ("Where do the buses stop?", "And the trams?", ["Where do the trams stop?"]),
        # Two words where a word of content, its verb, follows them; else one.
        ("What did the city council decide?", "And the mayor?", ["What did the mayor decide?"]),
        (
            "Where did her son call her from?",
            "And the daughter?",
            ["Where did her daughter call her from?"],
        ),
        (
            "When do the children play outside?",
            "And the teachers?",
            ["When do the teachers play outside?"],
        ),
        # With or without "first", the documents tell: each reading is tried.
        (
            "When does the first ferry leave?",
            "And the bus?",
            ["When does the bus leave?", "When does the first bus leave?"],
        ),
        # Not a noun with a "the", or nothing new: the previous question, the detail added.
        ("What did the treasurer report?", "And later?", []),
        ("When does the first ferry leave?", "And the ferries?", []),
        ("Who is the ferry's captain?", "And the engineer?", []),
        ("When does the ferry leave?", "And the 8 buses?", []),
        # A "last" of its own takes the place of "first"; a noun, that of a pronoun.
        (
            "When does the first ferry leave?",
            "And the last bus?",
            ["When does the last bus leave?"],
        ),
        ("When did she join?", "And the treasurer?", ["When did the treasurer join?"]),
        # A name of one word before its verb, as a noun would be; not a word of a longer one.
        (
            "How much does the H8 cost?",
            "And the installation?",
            ["How much does the installation cost?"],
        ),
        (
            "What did the Treasurer report?",
            "And the secretary?",
            ["What did the secretary report?"],
        ),
        ("How tall is the Eiffel Tower?", "And the bridge?", []),
        ("When did the Eiffel Tower open?", "And the bridge?", []),
    ],
)
def test_a_noun_alone_takes_the_place_of_the_previous_questions(previous, detail, readings):
    resolved = resolve(detail, [{"role": "user", "content": previous}])
    if readings:
        assert [resolved.question, *resolved.readings] == readings
        assert resolved.context is None
    else:
        assert (resolved.question, resolved.readings) == (f"{previous} {detail}", ())


@pytest.mark.model
def test_the_reading_the_documents_answer_is_taken(tmp_path, real_embedder):
    f = tmp_path / "minutes.txt"
    f.write_text(
        "The treasurer reported a surplus of 2,400 euros. The secretary reported that "
        "membership rose to 182. The first ferry leaves at 6:40. The last ferry leaves at "
        "22:15. The first bus leaves at 7:10. The new bridge cost 12 million euros. The tunnel "
        "cost 40 million euros."
    )
    a = Assistant.from_paths([f], embedder=real_embedder, progress=False)
    for previous, question, read, answer in [
        ("When does the first ferry leave?", "And the bus?", "When does the first bus leave?",
         "The first bus"),
        ("How much did the new bridge cost?", "And the tunnel?", "How much did the tunnel cost?",
         "The tunnel"),
        ("What did the treasurer report?", "And the secretary?", "What did the secretary report?",
         "The secretary"),
    ]:  # fmt: skip
        got, ranked = a.ask_ranked(question, [{"role": "user", "content": previous}])
        assert got.question == read
        assert ranked[0].text.startswith(answer), ranked[0].text


def _chat(*turns: str) -> list[dict]:
    """A chat history: the user's turns and the assistant's, in turn."""
    return [{"role": ("user", "assistant")[i % 2], "content": t} for i, t in enumerate(turns)]


def test_followup_referents_look_back_and_into_a_who_answer():
    chain = [
        {"role": "user", "content": "Who is Alan Stevenson?"},
        {"role": "assistant", "content": "“Alan Stevenson built the Skerry light.” [1]"},
        {"role": "user", "content": "What did his team build?"},
    ]
    # The last question names no one: the pronoun still points at Alan Stevenson.
    found = resolve("Where was he born?", chain)
    assert found.context == "Where was he born? (Alan Stevenson)" and found.about_referent
    # "she" after "Who heads X?" is the person the answer names, not X.
    who = [
        {"role": "user", "content": "Who heads the Northern Lighthouse Board?"},
        {"role": "assistant", "content": "“The head of the Board, Mary Brand, visited.” [1]"},
    ]
    found = resolve("What did she say?", who)
    assert found.context == "What did she say? (Mary Brand Northern Lighthouse Board)"
    # A possessive pronoun: the question is about her son, not her.
    assert not resolve("Where did her son call her from?", HISTORY).about_referent
    # "he" after a question with "he" is the one named before it, not that question's place;
    # "she" is someone else.
    moved = _chat(
        "Where was José Núñez born?",
        "“José Núñez was born in Sevilla.” [1]",
        "When did he move to Sweden?",
        "“In 1987 he moved to Malmö, Sweden.” [1]",
    )
    found = resolve("Who did he found the quartet with?", moved)
    assert found.context == "Who did he found the quartet with? (José Núñez)"
    found = resolve("Where did she live?", moved)
    assert found.context == "Where did she live? (Sweden)"
    # "she" two questions after "Who chairs ...?" is the chair its answer named.
    chair = _chat(
        "Who chairs the chess club?",
        "“The chair, Margaret O'Brien, opened it.” [1]",
        "When did she join?",
        "“Margaret O'Brien joined in 2009.” [1]",
    )
    found = resolve("Where does she live?", chair)
    assert found.context == "Where does she live? (Margaret O'Brien)"


def test_a_question_word_with_much_or_many_and_a_verb_asks_a_question_of_its_own():
    """ "How much are tickets?" after "When does the first ferry leave?" was read as "When
    does the first ferry leave? How much are tickets?" and quoted the timetable (0.55)."""
    chat = _chat("When does the first ferry leave?", "“The first ferry leaves at 7.” [1]")
    for question in ("How much are tickets?", "How many were killed?", "How long is the trip?"):
        assert resolve(question, chat).question == question
    for question in ("How much?", "How long?", "How many?"):
        assert resolve(question, chat).question == f"When does the first ferry leave? {question}"


def test_it_stands_for_what_the_last_question_asked_about():
    """ "Who was its last keeper?" after "When was the lighthouse automated?" was read with
    the mayor an earlier answer named ("Jan Berg")."""
    chat = _chat(
        "Who is the mayor?",
        "“The mayor, Jan Berg, opened the fair.” [1]",
        "When was the lighthouse automated?",
        "“The lighthouse was automated in 2003.” [1]",
    )
    found = resolve("Who was its last keeper?", chat)
    assert found.context == "Who was its last keeper? (lighthouse automated)"
    assert found.referents == ()
    # A person's pronoun still looks further back, and into a "Who ...?" answer.
    assert resolve("Where does he live?", chat).referents == ("Jan Berg",)
    # "it" after a question that names its subject.
    chat = _chat("Who runs the Skerry Point lighthouse?", "“Ada Lane, its keeper, runs it.” [1]")
    assert resolve("How tall is its tower?", chat).referents == ("Skerry Point",)


def test_an_elliptic_follow_up_of_an_elliptic_one_asks_the_question_before_them():
    chat = _chat("When does the first ferry leave?", "“a” [1]", "And the bus?", "“b” [1]")
    assert resolve("And the last ferry?", chat).question == "When does the last ferry leave?"
    # "he" in a chain of questions with "he", longer than the look-back, is still the first's.
    chain = _chat("Where was José Núñez born?", "“a” [1]")
    for question in ("When did he move?", "Who did he work with?", "Is he married?"):
        chain += _chat(question, "“b” [1]")
    assert resolve("When did he retire?", chain).context == "When did he retire? (José Núñez)"
    # A name with an accented capital is a name; the one asked about is not added again.
    judge = _chat("Who is Karin Öberg?", "“Judge Karin Öberg ruled.” [1]")
    assert resolve("What did she rule?", judge).context == "What did she rule? (Karin Öberg)"


def test_a_question_word_a_verb_and_a_noun_ask_a_question_of_their_own():
    previous = [{"role": "user", "content": "How many people does the company employ?"}]
    assert resolve("Who was the arbiter?", previous).question == "Who was the arbiter?"
    for elliptic in ("What year?", "Why?", "How many?", "When was it?"):
        assert resolve(elliptic, previous).shown.startswith("How many people")


def test_a_question_of_no_word_is_asked_for(assistant):
    for question in ("?", " ?! ", "…"):
        answer = assistant.ask(question)
        assert answer.abstained and answer.text == "Please ask a question."


def test_followup_answer_reports_the_question_with_its_referent(assistant):
    answer = assistant.ask("What did he build?", history=HISTORY)
    assert answer.question == "What did he build? (Alan Stevenson)"
    assert answer.citations or answer.closest


def test_excerpts_never_overlap(assistant):
    """Each sentence is quoted at most once, even when two excerpts would share a neighbour."""
    questions = [
        "When did the keepers leave?", "Who made the lens?", "How do visitors reach the island?",
        "How tall is the lighthouse?", "When did the museum reopen?", "What does the lens weigh?",
    ]  # fmt: skip
    for q in questions:
        _, ranked = assistant.ask_ranked(q)
        spans = sorted((c.start, c.end) for c in ranked)
        assert all(
            a_end <= b_start for (_, a_end), (b_start, _) in zip(spans, spans[1:], strict=False)
        ), q
        for c in ranked:
            assert ARTICLE[c.start : c.end] == c.text
            assert c.text.count(".") <= 2  # one sentence, or two adjacent ones


@pytest.mark.parametrize(
    ("question", "sentence", "want", "expected"),
    [
        (
            "Who heads Free Buryatia?",
            "The head of Free Buryatia, Aleksandra Garmazhapova, spoke.",
            "name",
            1.0,
        ),
        (
            "Who heads Free Buryatia?",
            "Free Buryatia reported that soldiers went to Moscow.",
            "name",
            1 / 6,
        ),
        ("Who heads Free Buryatia?", "Nobody named here heads anything.", "name", 0.0),
        ("How many soldiers refused?", "About 150 soldiers refused.", "num", 1.0),
        ("How many soldiers refused?", "The soldiers refused.", "num", 0.0),
        ("How many soldiers refused?", "No question words here at all.", "num", 0.0),
    ],
)
def test_type_near_measures_how_close_the_wanted_kind_stands(question, sentence, want, expected):
    got = type_near(sentence, frozenset(terms(question)), set(words(question)), want)
    assert got == pytest.approx(expected)


def test_tuning_starts_a_new_feature_at_zero():
    """qa.tune can run after a feature is added, before weights.json knows it."""
    from qa.answer import SENTENCE_FEATURES, Model
    from qa.tune import _with_zeros

    data = json.loads(resources.files("qa").joinpath("weights.json").read_text())
    del data["sentence"]["coef"]["cover_all"]
    with pytest.raises(KeyError):
        Model.from_dict(data)
    data["sentence"] = _with_zeros(data["sentence"], SENTENCE_FEATURES)
    assert data["sentence"]["coef"]["cover_all"] == 0.0
    assert list(data["sentence"]["coef"]) == list(SENTENCE_FEATURES)
    Model.from_dict(data)


@pytest.mark.model
def test_subject_followups_read_with_their_referent_on_the_seed_article(real_embedder):
    """A subject pronoun's question is also read with its referent; that reading answers only
    when it is surer and its sentence still holds the question's own words."""
    from conftest import SEEDS

    a = Assistant.from_paths([SEEDS], embedder=real_embedder, progress=False)
    who = [{"role": "user", "content": "Who is Ailana?"}]
    where = a.ask("Where is she from?", who)
    assert not where.abstained and "region of Tyva" in where.citations[0].text
    chain = [*who, {"role": "user", "content": "What happened to her son?"}]
    assert a.ask("Where is she from?", chain).question == "Where is she from? (Ailana)"
    # Her name alone does not answer what the article never says.
    assert a.ask("Is she married?", who).abstained
    assert a.ask("How old is she?", who).abstained
    # "And in Buryatia?" asks the income of Buryatia, which the article does not give; it
    # used to answer with Tyva's.
    income = [{"role": "user", "content": "What is the average monthly income in Tyva?"}]
    assert a.ask("And in Buryatia?", income).abstained


@pytest.mark.model
def test_an_elliptic_follow_up_quotes_its_own_answer_not_the_previous_one(tmp_path, real_embedder):
    """ "And the last ferry?" after the first ferry's question used to quote both sentences,
    the first ferry's first."""
    f = tmp_path / "harbour.txt"
    f.write_text(
        "The first ferry leaves at 6:40 every morning. The last ferry leaves at 22:15 on"
        " weekdays. The new bridge cost 12 million euros. The old bridge cost 2 million euros"
        " in 1950."
    )
    a = Assistant.from_paths([f], embedder=real_embedder, progress=False)
    for previous, question, answer in [
        ("When does the first ferry leave?", "And the last ferry?", "The last ferry leaves"),
        ("How much did the new bridge cost?", "And the old bridge?", "The old bridge cost"),
    ]:
        got = a.ask(question, [{"role": "user", "content": previous}])
        assert not got.abstained
        assert got.citations[0].text.startswith(answer), got.citations[0].text


@pytest.mark.model
def test_an_unrelated_document_of_odd_shape_leaves_the_answer_standing(tmp_path, real_embedder):
    """The confidence does not read BM25's absolute score, which moves with the collection's
    sentence lengths: one upload of 300 KB on a single line used to make this abstain."""
    from conftest import SEEDS

    junk = tmp_path / "longline.txt"
    junk.write_text("An otter called Pebble. " + "word " * 60000)
    q = "Which messaging app do the women use for their closed discussion groups?"
    alone = Assistant.from_paths([SEEDS], embedder=real_embedder, progress=False).ask(q)
    both = Assistant.from_paths([SEEDS, junk], embedder=real_embedder, progress=False).ask(q)
    assert not alone.abstained and not both.abstained
    assert both.citations[0].text == alone.citations[0].text


def test_a_name_ending_in_s_keeps_its_s_and_a_possessive_loses_it():
    from qa.answer import _capitalised, _new_name
    from qa.followup import names

    assert names("Who is Charles Ross?") == ["Charles Ross"]
    assert names("Where is Ailana's son?") == ["Ailana"]
    assert [w for w, _, _ in _capitalised("Then Sarah met Stalin in Paris's square.")] == [
        "sarah", "stalin", "paris",
    ]  # fmt: skip
    assert _new_name("Then Sarah spoke.", {"sarah"}) == 0.0  # not a new name: the question's


def test_a_question_with_a_name_of_its_own_is_not_a_follow_up():
    history = [{"role": "user", "content": "How deep is Lake Baikal?"}]
    assert resolve("Who is Ailana?", history).question == "Who is Ailana?"
    assert resolve("Why?", history).question == "How deep is Lake Baikal? Why?"


def test_wordless_excerpts_are_not_cited_and_do_not_hide_others(tmp_path, fake_embedder):
    from qa.answer import select_excerpts

    f = tmp_path / "lake.txt"
    f.write_text("Baikal is deep.\n\n🙂\n\nBaikal lies in Siberia.\n\nIts water is clear.")
    a = Assistant.from_paths([f], embedder=fake_embedder)
    ids = np.arange(a.index.n_sentences)
    scores = -ids.astype(float)  # in document order, the emoji second
    rows = np.zeros((len(ids), 1))
    chosen = select_excerpts(a.index, ids, scores, rows, dataclasses.replace(a.model, pair=None), 3)
    texts = [a.index.sentence_text(first) for first, _, _ in chosen]
    assert texts == ["Baikal is deep.", "Baikal lies in Siberia.", "Its water is clear."]


def test_answer_text_brackets_are_references_only(tmp_path, fake_embedder):
    f = tmp_path / "paris.txt"
    f.write_text("Paris is the capital of France.[2] It lies on the Seine.")
    a = Assistant.from_paths([f], embedder=fake_embedder)
    a.model = dataclasses.replace(a.model, threshold=-1.0)  # answer whatever is found
    answer = a.ask("What is the capital of France?")
    markers = [int(n) for n in re.findall(r"\[(\d+)\]", answer.text)]
    assert markers and all(1 <= n <= len(answer.citations) for n in markers)
    if "[2]" in answer.citations[0].text:  # its own footnote, quoted as "(2)"
        assert "France.(2)" in answer.text
    shy = dataclasses.replace(a.model, threshold=1.01)
    a.model = shy
    abstained = a.ask("What is [3]?")
    assert abstained.abstained and "[3]" not in abstained.text and "(3)" in abstained.text


def test_closest_passages_neither_overlap_nor_repeat(tmp_path, fake_embedder):
    same = "The ferry to the island leaves at noon. It returns at six. Tickets are sold aboard."
    long = " ".join(f"Sentence {i} tells of the harbour wall and the ferry." for i in range(40))
    for name, text in (("a.txt", same), ("b.txt", same), ("c.txt", long)):
        (tmp_path / name).write_text(text)
    a = Assistant.from_paths([tmp_path], embedder=fake_embedder)
    a.model = dataclasses.replace(a.model, threshold=1.01)  # always abstain, showing passages
    for q in ("When does the ferry leave?", "What is the harbour wall?"):
        closest = a.ask(q).closest
        assert len(closest) == 2
        x, y = closest  # the passages (`context`; the first's excerpt is its best sentence)
        assert x.context != y.context and x.text in x.context and y.text == y.context
        x_end, y_end = x.context_start + len(x.context), y.context_start + len(y.context)
        assert x.document != y.document or x_end <= y.context_start or y_end <= x.context_start


def test_headings_are_told_from_sentences(tmp_path, fake_embedder):
    from qa.answer import headings
    from qa.assistant import Assistant

    page = tmp_path / "bakery.md"
    page.write_text(
        "Marsh Lane Bakery\n\nThe bakery on Marsh Lane sells buns.\n\n# Opening hours\n\n"
        "Open daily\n\nIts owner, Telma Quist, opened it in 2004.\r\n\r\nSee Also Elsewhere\n\n"
        "Staff 9 bakers\n\nthe end of a line\n\nOwner: Telma Quist\n  \nFresh Rye Daily\n \n"
        "It is good."
    )
    a = Assistant.from_paths([page], embedder=fake_embedder)
    texts = [a.index.sentence_text(s) for s in range(a.index.n_sentences)]
    found = headings(a.index, np.arange(a.index.n_sentences))
    assert dict(zip(texts, found.tolist(), strict=True)) == {
        "Marsh Lane Bakery": 1.0, "The bakery on Marsh Lane sells buns.": 0.0,
        "# Opening hours": 1.0, "Open daily": 1.0,
        "Its owner, Telma Quist, opened it in 2004.": 0.0, "See Also Elsewhere": 1.0,
        "Staff 9 bakers": 0.0, "the end of a line": 0.0, "Owner: Telma Quist": 0.0,
        "Fresh Rye Daily": 1.0, "It is good.": 0.0,
    }  # fmt: skip


def test_the_confidence_keeps_the_signs_a_reader_expects():
    """Fitted freely, data where full coverage marks traps gives coverage a negative weight;
    qa.tune holds it at zero, and a missing term never counts for an answer."""
    from qa.answer import CONFIDENCE_FEATURES
    from qa.tune import DOUBT, SURER, Sample, fit_confidence

    rng = np.random.default_rng(0)
    col = {n: i for i, n in enumerate(CONFIDENCE_FEATURES)}
    samples = []
    for i in range(400):
        answerable = bool(i % 2)
        qf = rng.normal(size=len(CONFIDENCE_FEATURES))
        qf[col["top_dense"]] += 1.0 if answerable else -1.0  # a real signal
        qf[col["top_cover"]] += -1.0 if answerable else 1.0  # traps copy the words
        qf[col["missing_idf"]] += 1.0 if answerable else -1.0  # and a backwards one
        none = np.zeros(0)
        samples.append(Sample("a", answerable, none, none, none, qf, "", None, none, []))  # type: ignore[arg-type]
    conf = fit_confidence(samples, C=0.1)
    coef = dict(zip(CONFIDENCE_FEATURES, conf.coef.tolist(), strict=True))
    assert coef["top_dense"] > 0.5
    assert coef["top_cover"] == 0.0 and coef["missing_idf"] == 0.0
    assert all(coef[n] >= 0 for n in SURER) and all(coef[n] <= 0 for n in DOUBT)
    assert not (SURER | DOUBT) - set(CONFIDENCE_FEATURES)


@pytest.mark.model
def test_a_heading_does_not_answer_in_place_of_the_sentence_below_it(tmp_path, real_embedder):
    from qa.assistant import Assistant

    page = tmp_path / "bakery.html"
    page.write_text(
        "<html><head><title>Marsh Lane Bakery</title></head><body><h1>Marsh Lane Bakery</h1>"
        "<p>The bakery on Marsh Lane sells cardamom buns for 3 euros.</p>"
        "<p>Its owner, Telma Quist, opened it in 2004 and still bakes every night.</p></body></html>"
    )
    a = Assistant.from_paths([page], embedder=real_embedder, progress=False)
    answer = a.ask("Who owns the bakery on Marsh Lane?")
    assert "Telma Quist" in answer.citations[0].text
    assert not answer.citations[0].text.startswith("Marsh Lane Bakery")


@pytest.mark.model
def test_a_yes_no_question_needs_its_predicate_near_the_answer(real_embedder):
    from conftest import SEEDS

    from qa.assistant import Assistant

    a = Assistant.from_paths([SEEDS], embedder=real_embedder, progress=False)
    # Her introduction names her but says nothing of marriage: not an answer.
    assert a.ask("Is Ailana married?").abstained
    assert a.ask(
        "Is she married?", history=[{"role": "user", "content": "Who is Ailana?"}]
    ).abstained
    mother = a.ask("Is Ailana a soldier's mother?")
    assert not mother.abstained and "soldier's mother" in mother.citations[0].text


@pytest.mark.model
def test_a_yes_no_question_on_what_the_documents_never_mention_abstains(tmp_path, real_embedder):
    """ "made" beside the best sentence counted as speaking of "make a loss"."""
    a = _one_file(
        tmp_path,
        real_embedder,
        "nordlys.md",
        '"Our new turbines made this our best quarter ever," said the chief executive.\n\n'
        "Nordlys Energy employs 410 people and plans to hire 60 more.\n\n"
        "Operating profit rose to 212 million kroner.",
    )
    assert a.ask("Did Nordlys Energy make a loss?").abstained
    assert not a.ask("Did Nordlys Energy make a profit?").abstained
    assert a.ask("Does Nordlys Energy employ people in Lisbon?").abstained  # never named


@pytest.mark.model
def test_a_yes_no_follow_up_needs_its_referent_near_the_answer(tmp_path, real_embedder):
    """ "Is she married?" after "Who is the chief engineer?" quoted "He married Elin ..." of
    another document."""
    (tmp_path / "bridge.txt").write_text(
        "Lena Vik is the chief engineer of the Sound bridge. She designed its towers."
    )
    (tmp_path / "nunez.txt").write_text(
        "José Núñez: a life in music\n\nJosé Núñez was born in Sevilla.\n\n"
        "He plays the guitar.\n\nHe married Elin Sjöberg in 1990."
    )
    a = Assistant.from_paths([tmp_path], embedder=real_embedder, progress=False)
    first = a.ask("Who is the chief engineer?")
    chat = [
        {"role": "user", "content": "Who is the chief engineer?"},
        {"role": "assistant", "content": first.text},
    ]
    assert a.ask("Is she married?", chat).abstained
    him = [{"role": "user", "content": "Where was José Núñez born?"}]
    married = a.ask("Is he married?", him)  # his name is in the headline, not beside it
    assert not married.abstained and "married" in married.citations[0].text


_BAKER = (
    "Five minutes with: Rosa Delgado, head baker at Crumb & Co.\n\n"
    "Rosa Delgado opened Crumb & Co. on Fenwick Street in 2019 after twelve years as a pastry "
    "chef in Lyon. Her sourdough now sells out most mornings by ten. We spoke to her about "
    "flour, early starts and the queue outside.\n\n"
    "Where does your flour come from?\nAlmost all of it comes from Tollen Mill, a family mill "
    "about forty miles north of here.\n"
)
_GLASS = (
    "Agnes Lindqvist: a life in glass\n\n"
    "Agnes Lindqvist was a Swedish glass artist. She was born on 9 March 1931 in Växjö.\n\n"
    "She trained at the Konstfack school in Stockholm from 1950 to 1954, and then joined the "
    "Orrefors glassworks as an apprentice.\n\n"
    "In 1971 Lindqvist left Orrefors and opened her own studio on the island of Öland, where "
    "she worked until she was nearly eighty.\n"
)


def test_a_pronoun_follow_up_names_whom_it_points_at():
    chat = _chat("Who is Rosa Delgado?", "“Rosa Delgado opened Crumb & Co.” [1]")
    assert resolve("Where did she work before?", chat).referents == ("Rosa Delgado",)
    # No name before: the previous question's words pick the passages, but name no one.
    chat = _chat("How often does the shuttle bus run?", "“Every 15 minutes.” [1]")
    found = resolve("What time does it stop?", chat)
    assert found.context and found.referents == ()


def test_a_search_within_documents_ranks_only_their_units(tmp_path, fake_embedder):
    from qa.retrieve import Fusion, search_passages, search_sentences

    for name in "abc":
        text = " ".join(
            f"The {name} lighthouse keeper number {i} climbed the stairs." for i in range(30)
        )
        (tmp_path / f"{name}.txt").write_text(text + "\n")
    index = Assistant.from_paths([tmp_path], embedder=fake_embedder, progress=False).index
    q = fake_embedder.embed(["lighthouse keeper"])[0]
    # So shallow a search finds units of the first documents only, over the whole collection.
    fusion = Fusion(depth=3)
    b = index.doc_position[str(tmp_path / "b.txt")]
    for search, unit_doc in (
        (search_passages, index.passage_doc),
        (search_sentences, index.sent_doc),
    ):
        found = search(index, q, terms("lighthouse keeper"), fusion, np.array([b]))
        assert len(found.ids) >= 3 and set(unit_doc[found.ids].tolist()) == {b}
        assert (found.fused[:-1] >= found.fused[1:]).all()
    assert len(search_passages(index, q, terms("keeper"), fusion, np.zeros(0, dtype=int)).ids) == 0


@pytest.mark.model
def test_a_follow_up_in_a_collection_reads_the_documents_that_name_its_referent(
    tmp_path, real_embedder
):
    """ "Where did she work before?" after "Who is Rosa Delgado?" ranked another woman's
    biography first ("... where she worked until she was nearly eighty")."""
    (tmp_path / "baker.txt").write_text(_BAKER, encoding="utf-8")
    (tmp_path / "glass.txt").write_text(_GLASS, encoding="utf-8")
    a = Assistant.from_paths([tmp_path], embedder=real_embedder, progress=False)
    first = a.ask("Who is Rosa Delgado?")
    chat = _chat("Who is Rosa Delgado?", first.text)
    got, ranked = a.ask_ranked("Where did she work before?", chat)
    assert ranked and all(c.document.endswith("baker.txt") for c in ranked), ranked
    assert "Lyon" in ranked[0].text
    shown = got.citations or got.closest
    assert "Lyon" in shown[0].text
    # Asked of her by name, or of someone both name, every document is still read.
    got = a.ask("Where did Agnes Lindqvist open her studio?", chat)
    assert not got.abstained and "Öland" in got.citations[0].text


def test_which_questions_name_the_noun_they_ask_for():
    from qa.answer import asks_which

    assert asks_which("Which firm inspected the bridge?")[0] == terms("firm")[0]
    assert asks_which("What companies bid?")[0] == terms("company")[0]
    for question in ("What is the firm called?", "Who inspected it?", "Which was first?"):
        assert asks_which(question) is None


@pytest.mark.model
def test_a_sentence_that_refers_to_what_is_asked_is_quoted_with_the_one_naming_it(
    tmp_path, real_embedder
):
    """ "Which firm inspected the bridge?" quoted "The firm has inspected the bridge every
    three years since 2009." alone: it does not say which firm."""
    a = _one_file(
        tmp_path,
        real_embedder,
        "bridge.txt",
        "Harrow Street footbridge to close for eight weeks\n\n"
        "The 62-metre bridge, built in 1974, carries about 3,100 pedestrians a day. Repairs are "
        "expected to cost £410,000.\n\n"
        '"We\'d rather close it now," said Cllr. Maria Okafor. She said the damage was found '
        "during a routine inspection in February by engineers from Halden & Pryce Ltd. The firm "
        "has inspected the bridge every three years since 2009.\n",
    )
    got = a.ask("Which firm inspected the bridge?")
    assert not got.abstained and "Halden & Pryce" in got.citations[0].text
    assert got.citations[0].text.endswith("every three years since 2009.")
    # A question that does not ask for the firm quotes the sentence alone.
    got = a.ask("How often has the bridge been inspected?")
    assert got.citations[0].text.startswith("The firm has inspected")


def _one_file(tmp_path, embedder, name: str, text: str) -> Assistant:
    """An assistant over one file `name` holding `text`."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return Assistant.from_paths([path], embedder=embedder, progress=False)


@pytest.mark.model
@pytest.mark.parametrize(
    ("text", "cases"),
    [
        pytest.param(
            "The water department serves 48,000 households in the district. "
            "It is led by director Priya Raman, who was appointed in January 2021. "
            "Before that she ran the laboratory for nine years.\n\n"
            "In 2023 the department replaced 310 lead service lines. "
            "About 740 lead service lines remain, most of them in the old town.\n",
            [
                ("Who was appointed director in 2021?", "Priya Raman",
                 "Who was appointed director in 2022?"),
                ("How many lead service lines were replaced in 2023?", "310",
                 "How many lead service lines were replaced in 2019?"),
            ],
            id="a figure the best sentence does not give",
        ),
        pytest.param(
            "The Rhine flows through six countries before it reaches the North Sea. "
            "Duisburg, where the Ruhr joins it, has the largest inland port in Europe. "
            "The river carries more goods than any other waterway on the continent.\n\n"
            "Its first bridge was built by the Romans near Koblenz. "
            "Today the most famous crossing is the Hohenzollern Bridge in Cologne.\n",
            [
                ("Which city has the largest inland port in Europe?", "Duisburg",
                 "Which city has the smallest inland port in Europe?"),
                ("Who built the first bridge over the Rhine?", "Romans",
                 "Who built the last bridge over the Rhine?"),
            ],
            id="the opposite of what is said",
        ),
    ],
)  # fmt: skip
def test_a_near_miss_of_an_answered_question_is_not_answered(tmp_path, real_embedder, text, cases):
    """A question answered, and its twin with one word changed, which abstains: "Who was
    appointed director in 2022?" is not answered by "appointed in 2021", nor a question about
    the smallest inland port by "the largest inland port"."""
    a = _one_file(tmp_path, real_embedder, "report.md", text)
    for asked, quote, twin in cases:
        answer = a.ask(asked)
        assert not answer.abstained and quote in answer.citations[0].text
        assert a.ask(twin).abstained


@pytest.mark.model
def test_an_interviewers_question_is_not_quoted_as_the_answer(tmp_path, real_embedder):
    """The question line of an interview holds the asker's words; the reply answers."""
    a = _one_file(
        tmp_path,
        real_embedder,
        "interview.txt",
        "Eliza Marchetti opened the Fennel & Rye bakery in Corby in 2015.\n\n"
        "DANIEL OSEI: Where does your flour come from?\n\n"
        "ELIZA MARCHETTI: From Holt Mill in Norfolk, about ninety miles away. "
        "They stone-grind it.\n\n"
        "DANIEL OSEI: How much do you bake now?\n\n"
        "ELIZA MARCHETTI: About 600 loaves a day. We have nine staff.\n",
    )
    flour = a.ask("Where does the flour come from?")
    assert "Holt Mill" in flour.citations[0].text
    assert "?" not in flour.citations[0].text


@pytest.mark.model
def test_a_headline_in_sentence_case_does_not_answer_for_the_story(tmp_path, real_embedder):
    a = _one_file(
        tmp_path,
        real_embedder,
        "ferry.txt",
        "Harbour ferry service to resume in May\n\n"
        "The ferry link between Lindqvist Harbour and the island of Saltholm will resume on "
        "12 May after a seven-month suspension, the transport authority said on Tuesday. "
        "The service was halted in October when the vessel failed a hull inspection.\n",
    )
    answer = a.ask("When will the ferry service resume?")
    assert "12 May" in answer.citations[0].text


@pytest.mark.model
def test_an_excerpt_crosses_a_blank_line_only_to_a_sentence_that_carries_on(
    tmp_path, real_embedder
):
    a = _one_file(
        tmp_path,
        real_embedder,
        "ferry.txt",
        "The ferry link to Saltholm will resume on 12 May.\n\n"
        "The crossing takes 35 minutes. A single adult ticket will cost 7 euros, up from 5.50 "
        "euros. Children under 12 travel free.\n\n"
        "During the suspension, about 900 residents of Saltholm relied on a temporary "
        "water-taxi service run by local fisherman Olle Brandt, who carried up to 40 "
        "passengers a day in his boat.\n",
    )
    children = a.ask("Do children pay for the ferry?")
    quoted = children.citations[0].text
    assert "Children under 12 travel free." in quoted and "Olle Brandt" not in quoted


@pytest.mark.model
def test_a_yes_no_question_is_answered_by_the_sentence_holding_all_its_words(
    tmp_path, real_embedder
):
    a = _one_file(
        tmp_path,
        real_embedder,
        "ferry.txt",
        "The ferry link to Saltholm will resume on 12 May.\n\n"
        "During the suspension, about 900 residents of Saltholm relied on a temporary "
        "water-taxi service run by local fisherman Olle Brandt, who carried up to 40 "
        "passengers a day in his boat.\n",
    )
    who = [{"role": "user", "content": "Who is Olle Brandt?"}]
    for question, history in (("Is Olle Brandt a fisherman?", None), ("Is he a fisherman?", who)):
        answer = a.ask(question, history)
        assert not answer.abstained and "fisherman Olle Brandt" in answer.citations[0].text
    assert a.ask("Is Olle Brandt a farmer?").abstained


@pytest.mark.model
def test_who_a_name_is_is_answered_by_the_sentence_that_names_it(real_embedder):
    """A name the article mentions once is all it says of that person: the sentence is the
    answer, though a short question lies far from a long sentence in embedding space."""
    from conftest import SEEDS

    from qa.assistant import Assistant

    a = Assistant.from_paths([SEEDS], embedder=real_embedder, progress=False)
    for question in ("Who is Adam Lenton?", "Who is Lenton?", "who is adam lenton"):
        lenton = a.ask(question)
        assert not lenton.abstained, question
        assert "political scientist Adam Lenton" in lenton.citations[0].text
    # "Buryat soldiers" does not say who the Buryats are; an absent name answers nothing.
    assert a.ask("Who are the Buryats?").abstained
    assert a.ask("Who is Joe Smith?").abstained


def _of(fake_embedder, *texts: str) -> Assistant:
    from qa.ingest import Document

    docs = [Document(id=f"d{i}.txt", text=t) for i, t in enumerate(texts)]
    return Assistant.from_documents(docs, embedder=fake_embedder, progress=False)


def test_the_question_rules_hold_on_an_index_with_no_sentence(fake_embedder):
    """A yes/no question, or "Who is ...?", of an index of one empty file abstains."""
    a = _of(fake_embedder, "")
    for question in ("Is Oslo cold?", "Who is Oslo?", "Does it rain?"):
        assert a.ask(question).abstained


def test_who_a_name_is_needs_more_than_a_sentences_first_capital(fake_embedder):
    a = _of(fake_embedder, "Funding was cut by the council in March.")
    assert not a._introduces("What is funding?", a._score(resolve("What is funding?", None)))
    b = _of(fake_embedder, "Adam Lenton studies regional deaths.")
    assert b._introduces("Who is Adam Lenton?", b._score(resolve("Who is Adam Lenton?", None)))


def _feature_rows(a: Assistant, question: str, *starts: str) -> list[np.ndarray]:
    """The scorer's feature rows, for `question`, of the sentences that begin with `starts`."""
    from qa.answer import score

    scored = score(a.index, question, a.embedder.embed([question])[0], a.model)
    rank = {a.index.sentence_text(int(s)): i for i, s in enumerate(scored.sentences)}
    return [
        scored.features[scored.order[next(r for t, r in rank.items() if t.startswith(start))]]
        for start in starts
    ]


def test_a_heading_is_no_context_of_the_sentence_below_it(fake_embedder):
    """ "Held on 3 March at the Hall." under "# Eastfield Chess Club" took the heading's
    words for its own context, and answered who the club's treasurer is: they are the
    context of every sentence alike, and no neighbour of the one below."""
    from qa.answer import SENTENCE_FEATURES

    text = (
        "# Eastfield Chess Club minutes\n\nHeld on 3 March at the Hall. Tea was served. "
        "Cake too.\n\nThe treasurer, David Chen, reported a balance."
    )
    a = _of(fake_embedder, text)
    q = "Who is the treasurer of the chess club?"
    held, tea = _feature_rows(a, q, "Held", "Tea")
    ctx, dense, window = (
        SENTENCE_FEATURES.index(n) for n in ("cover_ctx", "dense", "dense_prev_win")
    )
    assert held[ctx] == tea[ctx] > 0
    assert held[window] == pytest.approx(held[dense])  # no sentence before it: the heading is none


def test_a_headline_is_the_context_of_every_sentence(fake_embedder):
    """The headline names what the whole document is about: "He taught at the Academy." says
    where José Núñez taught, its neighbours naming him or not."""
    from qa.answer import SENTENCE_FEATURES

    text = (
        "José Núñez: a life in music\n\nJosé Núñez was born in Sevilla.\n\nHis album won an "
        "award.\n\nHe taught at the Malmö Academy of Music."
    )
    a = _of(fake_embedder, text)
    (row,) = _feature_rows(a, "Where did Núñez teach?", "He taught")
    assert row[SENTENCE_FEATURES.index("cover_ctx")] == pytest.approx(1.0)
    assert row[SENTENCE_FEATURES.index("entity_cover")] == 1.0
    assert row[SENTENCE_FEATURES.index("cover")] < 1.0


def test_a_one_line_note_is_no_headline(fake_embedder):
    from qa.answer import headings

    note = _of(fake_embedder, "The Oban ferry now leaves from the north pier")
    assert headings(note.index, np.arange(note.index.n_sentences)).tolist() == [0.0]
    story = _of(fake_embedder, "Ferry to leave from the north pier\n\nThe Oban ferry moves.")
    assert headings(story.index, np.arange(story.index.n_sentences)).tolist() == [1.0, 0.0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A headline may hold a figure or a colon, unlike a heading inside the text.
        ("Edith Marlowe, lighthouse keeper, dies aged 91\n\nShe died at home.", [1.0, 0.0]),
        ("Skerry Island Wind Farm: Planning Decision\n\nThe farm was approved.", [1.0, 0.0]),
        # A kicker before the headline: a word and a colon, then five words or more.
        (
            "Interview: Baker Hana Okafor on ten years of Marsh Lane Bakery\n\n"
            "Q: Where does your rye come from?\n\nA: All our rye comes from the Lindqvist mill.",
            [1.0, 0.0, 0.0],
        ),
        ("Analysis: why the ferry costs more this year\n\nFuel went up.", [1.0, 0.0]),
        # Or a name, a colon, then a phrase in lower case.
        ("José Núñez: a life in music\n\nHe was born in 1961.", [1.0, 0.0]),
        ("Venue: Eastfield Community Hall\n\nThe board met.", [0.0, 0.0]),
        ("Venue: the hall, room 2\n\nThe board met.", [0.0, 0.0]),
        # A label and its value may be the answer, first line or not.
        ("Date: 12 March 2024\n\nThe board met.", [0.0, 0.0]),
        ("Opening hours: 9 to 5 daily\n\nThe board met.", [0.0, 0.0]),
        ("The board met.\n\nFounded: 1990\n\nIt grew.", [0.0, 0.0, 0.0]),
        ("The board met.\n\nAged 91 Years\n\nIt grew.", [0.0, 0.0, 0.0]),
    ],
)
def test_a_headline_may_hold_a_figure_or_a_colon(fake_embedder, text, expected):
    from qa.answer import headings

    a = _of(fake_embedder, text)
    assert headings(a.index, np.arange(a.index.n_sentences)).tolist() == expected


@pytest.mark.parametrize(
    ("text", "figures"),
    [
        ("in 2022?", ["2022"]), ("at 10am", ["10"]), ("$4.1bn", ["4.1"]), ("the 1990s", ["1990"]),
        ("100,000 people", ["100,000"]), ("the 55th brigade", []), ("1st", []), ("v2", []),
    ],
)  # fmt: skip
def test_figures_are_read_with_units_attached_but_not_as_ordinals(text, figures):
    from qa.answer import _FIGURE

    assert _FIGURE.findall(text) == figures


@pytest.mark.parametrize(
    ("second", "crosses"),
    [
        ("Islanders have waited long enough, said Marit Elling.", True),
        ("Its owner, Telma Quist, opened it in 2004.", False),  # carries on
        ("They stone-grind it.", False),
    ],
)
def test_an_excerpt_may_cross_a_blank_line_to_a_sentence_that_carries_on(
    fake_embedder, second, crosses
):
    from qa.answer import _crosses_paragraph

    a = _of(fake_embedder, f"The MV Tova arrived last week.\n\n{second}")
    assert _crosses_paragraph(a.index, 0, 1) is crosses
    said = _of(fake_embedder, f"The authority said:\n\n{second}")
    assert _crosses_paragraph(said.index, 0, 1) is False  # handed over by a colon


@pytest.mark.parametrize(
    ("text", "apart"),
    [
        ("- First model: the Lumora Haul 2\n- Battery supplier: Nordcell", True),
        ("The plant opened in May.\n1. Battery supplier: Nordcell", True),
        ("Key facts:\n- Battery supplier: Nordcell", False),  # handed over by a colon
        ("The plant opened in May. It employs 140 people.", False),  # one line, no list
        ("The plant opened in May.\nIt employs 140 people.", False),  # a wrapped line
    ],
)
def test_an_excerpt_does_not_run_one_list_item_into_its_neighbour(fake_embedder, text, apart):
    from qa.answer import _apart_in_list

    a = _of(fake_embedder, text)
    assert a.index.n_sentences == 2
    assert _apart_in_list(a.index, 0, 1) is apart


@pytest.mark.model
def test_closest_passages_on_abstention_lead_with_the_best_sentence(tmp_path, real_embedder):
    """When it abstains, the passages shown hold the sentence it ranked best: "Who was her
    husband?" found "she married the architect Bo Hellström" first, then showed two passages
    searched for the whole question that named neither him nor the marriage."""
    bio = tmp_path / "lindqvist.txt"
    bio.write_text(
        "Agnes Lindqvist: a life in glass\n\n"
        "Agnes Lindqvist was a Swedish glass artist whose coloured bowls and lamps helped define"
        " Scandinavian design in the 1960s. She was born on 9 March 1931 in Växjö, the youngest"
        " of four children of a railway clerk and a seamstress.\n\n"
        "She trained at the Konstfack school in Stockholm from 1950 to 1954, and then joined the"
        " Orrefors glassworks as an apprentice under the master blower Sven Ek. In 1958 she"
        " married the architect Bo Hellström; they had two daughters.\n\n"
        'Her breakthrough came in 1962, when her "Tidvatten" series of blue-green bowls won a'
        " gold medal at the Milan Triennale. Within five years the series had sold more than"
        " 40,000 pieces.\n\n"
        "In 1971 Lindqvist left Orrefors and opened her own studio on the island of Öland, where"
        " she worked until she was nearly eighty.\n\n"
        "Lindqvist died in Kalmar on 17 November 2019, aged 88. Her studio is now run by her"
        " granddaughter, Maja Hellström.\n"
    )
    a = Assistant.from_paths([bio], embedder=real_embedder, progress=False)
    a.model = dataclasses.replace(a.model, threshold=1.01)  # abstain, showing passages
    answer, ranked = a.ask_ranked("Who was her husband?")
    assert answer.abstained and ranked
    assert "Bo Hellström" in ranked[0].text
    # It is the first passage's excerpt, so the card and the document view mark it.
    first = answer.closest[0]
    assert first.text == ranked[0].text and bio.read_text()[first.start : first.end] == first.text
    start = first.context_start
    assert first.text in first.context and first.context == bio.read_text()[start : start + len(
        first.context)]  # fmt: skip


@pytest.mark.model
def test_a_faq_question_line_opens_its_answer_not_the_one_above(tmp_path, real_embedder):
    """A question in the text lends its words to the answer below it, not to the last sentence
    of the answer above ("Is the kettle dishwasher-safe?" quoted "The buttons on the base work
    without any connection."); in bold, it is still a question, not an answer."""
    qa_pairs = [
        ("How long does it take to boil?", "A full kettle boils in about 3 minutes 40 seconds at"
         " 3,000 W. One cup (250 ml) takes about 55 seconds."),
        ("Can I set the temperature?", "Yes. You can choose 40, 60, 70, 80, 90 or 100 °C on the"
         " base, or any whole degree in the app. The keep-warm function holds it for up to 30"
         " minutes."),
        ("Does the app work without Wi-Fi?", "No. The app needs a Wi-Fi network. The buttons on"
         " the base work without any connection."),
        ("Is the kettle dishwasher-safe?", "No. Only the limescale filter may go in the"
         " dishwasher. Wipe the body with a damp cloth."),
    ]  # fmt: skip
    for bold in ("", "**"):
        faq = tmp_path / f"faq{len(bold)}.md"
        faq.write_text(
            "# Kettlewise K2: frequently asked questions\n\n"
            + "\n\n".join(f"{bold}{q}{bold}\n{a}" for q, a in qa_pairs)
            + "\n"
        )
        a = Assistant.from_paths([faq], embedder=real_embedder, progress=False)
        for q, expected in [
            ("Can I set the temperature?", "You can choose"),
            ("Is the kettle dishwasher-safe?", "limescale filter"),
        ]:
            first = a.ask_ranked(q)[1][0].text
            assert expected in first and "?" not in first, (bold, q, first)


@pytest.mark.model
def test_a_section_heading_is_the_context_of_the_sentences_under_it(tmp_path, real_embedder):
    """Minutes name the matter in the heading, not in its sentences: "What did the treasurer
    report?" quoted the list of who was present, "Tom Okoye (treasurer)", and not the report
    under "## 2. Treasurer's report". The label lines above are a sentence each."""
    minutes = tmp_path / "minutes.md"
    minutes.write_text(
        "# Riverside Allotment Society: committee meeting\n\n"
        "Date: Tuesday 11 March 2025, 7.30 pm, Riverside Community Hall\n"
        "Present: Helen Marsh (chair), Tom Okoye (treasurer), Priya Shah (secretary)\n"
        "Apologies: Bill Dunmore\n\n"
        "## 1. Minutes of the previous meeting\n\n"
        "The minutes of the meeting of 11 February were approved without changes.\n\n"
        "## 2. Treasurer's report\n\n"
        "Tom Okoye reported a balance of £6,842 at the end of February. Plot rents for 2025"
        " have been paid by 71 of the 84 plot holders.\n\n"
        "## 3. Water supply\n\n"
        "The main tap at the north gate leaked again in January. The committee agreed to"
        " accept the AquaFix quote.\n"
    )
    a = Assistant.from_paths([minutes], embedder=real_embedder, progress=False)
    first = a.ask_ranked("What did the treasurer report?")[1][0]
    text = minutes.read_text()
    report = text.index("Tom Okoye reported")
    assert report <= first.start < text.index("## 3."), first.text
    assert a.index.sentence_text(2) == (
        "Present: Helen Marsh (chair), Tom Okoye (treasurer), Priya Shah (secretary)"
    )


@pytest.mark.model
def test_a_reported_question_is_no_answer(tmp_path, real_embedder):
    """ "Bill Dunmore asked whether bonfires could be allowed in winter." asks, as a question
    in the text does; the decision after it answers "Will bonfires be allowed?"."""
    minutes = tmp_path / "minutes.txt"
    minutes.write_text(
        "The open day will be held on Saturday 17 May. Volunteers are needed for the tea tent."
        "\n\nBill Dunmore asked, by email, whether bonfires could be allowed in winter. The"
        " committee decided that the ban on bonfires stays in place.\n"
    )
    a = Assistant.from_paths([minutes], embedder=real_embedder, progress=False)
    for q in ("Will bonfires be allowed?", "Are bonfires allowed in winter?"):
        assert "ban on bonfires" in a.ask_ranked(q)[1][0].text, q


@pytest.mark.model
def test_a_price_question_needs_a_sum_of_money(tmp_path, real_embedder):
    """ "How much is the annual plot rent?" was answered (0.46) with "Plot rents for 2025 have
    been paid by 71 of the 84 plot holders.": a figure, but no price."""
    text = (
        "Tom Okoye reported a balance of £6,842 at the end of February. Plot rents for 2025"
        " have been paid by 71 of the 84 plot holders. He will send reminders to the rest.\n"
    )
    paid = tmp_path / "minutes.txt"
    paid.write_text(text)
    priced = tmp_path / "priced.txt"
    priced.write_text(text.replace("He will", "The annual plot rent is £45. He will"))
    q = "How much is the annual plot rent?"
    assert Assistant.from_paths([paid], embedder=real_embedder, progress=False).ask(q).abstained
    answer = Assistant.from_paths([priced], embedder=real_embedder, progress=False).ask(q)
    assert not answer.abstained and "£45" in answer.citations[0].text
    # Pence as British English writes them: "20p" had not been read as a sum (0.31).
    rise = tmp_path / "budget.txt"
    rise.write_text("Car parking charges will rise by 20p an hour from April.\n")
    answer = Assistant.from_paths([rise], embedder=real_embedder, progress=False).ask(
        "How much will parking charges rise?"
    )
    assert not answer.abstained and "20p" in answer.citations[0].text


def test_a_sum_of_money_in_pence_but_not_a_temperature():
    from qa.assistant import _MONEY

    assert _MONEY.search("rise by 20p an hour") and _MONEY.search("costs 45 pence")
    assert not _MONEY.search("It was 20P in the table") and not _MONEY.search("at 5C")


_VOTE = (
    '"We did not take this decision lightly," said Councillor Priya Nair, who chairs the '
    "transport committee.\n\n"
    "Her deputy on the committee, Councillor Peter Nairn, voted against the timetable. He "
    "argued that the work should have waited until after the Christmas trading period. "
    "Pedestrians will cross on a temporary footbridge."
)


def test_why_questions_know_a_reason_from_a_sentence_without_one():
    from qa.answer import _REASON, asks_why

    assert asks_why("Why did Peter Nairn oppose the timetable?") and not asks_why("Who voted?")
    assert _REASON.search("He argued that the work should have waited.")
    assert not _REASON.search("Councillor Peter Nairn voted against the timetable.")


@pytest.mark.model
def test_a_why_question_quotes_the_reason_given_next(tmp_path, real_embedder):
    """ "Why did Peter Nairn oppose the timetable?" quoted "..., Councillor Peter Nairn, voted
    against the timetable." alone: what he did, not why."""
    a = _one_file(tmp_path, real_embedder, "vote.txt", _VOTE)
    got = a.ask("Why did Peter Nairn oppose the timetable?")
    assert got.citations and "Christmas trading period" in got.citations[0].text, got
    assert "voted against" in got.citations[0].text
    # Asked what he did, the sentence that says it is quoted alone.
    got = a.ask("How did Peter Nairn vote on the timetable?")
    assert got.citations and got.citations[0].text.endswith("voted against the timetable.")


@pytest.mark.model
def test_see_also_from_another_document_names_what_the_question_names(tmp_path, real_embedder):
    """ "How many people live on Holm?" gave "By 1999 it employed 210 people." of a
    biography under See also: it shares "people", not Holm."""
    (tmp_path / "ferry.txt").write_text(
        "About 400 people live on Holm all year.",
        encoding="utf-8",
    )
    (tmp_path / "bio.txt").write_text(
        "Astrid Lindqvist founded her firm in 1984. By 1999 it employed 210 people.",
        encoding="utf-8",
    )
    a = Assistant.from_paths([tmp_path], embedder=real_embedder, progress=False)
    _, ranked = a.ask_ranked("How many people live on Holm?")
    assert ranked and ranked[0].document.endswith("ferry.txt") and "400" in ranked[0].text
    assert all(c.document.endswith("ferry.txt") for c in ranked), ranked
    # Without a name in the question, a word in common is enough, as before.
    _, ranked = a.ask_ranked("How many people did the firm employ?")
    assert any(c.document.endswith("bio.txt") for c in ranked)
