"""Answer selection details with a fake embedder: follow-ups, excerpts, answer-type proximity."""

import json
from importlib import resources

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
        # A self-contained follow-up is left alone.
        ("Where is the original lens shown?", HISTORY, "Where is the original lens shown?", None),
    ],
)
def test_followups_resolve_against_the_last_question(question, history, searched, context):
    resolved = resolve(question, history)
    assert (resolved.question, resolved.context) == (searched, context)
    assert resolved.shown == (context or searched)


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
