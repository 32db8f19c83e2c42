"""Slips in a question mended with the documents' own words (qa/spelling.py)."""

from __future__ import annotations

import pytest

from qa.assistant import Assistant
from qa.ingest import Document
from qa.spelling import mend

FERRY = (
    "The ferry MS Tärna spent fourteen weeks in dry dock. The repairs cost 3.2 million kronor. "
    "The chief executive, Erik Dahl, prepared a statement. Passengers wouldn't wait. Tickets "
    "went up. The guides measured the concentration of salt in the community's herb bed, "
    "behind a new fence."
)


def _of(text: str) -> Assistant:
    """An assistant over one document holding `text`, with the fake embedder."""
    from conftest import HashEmbedder

    return Assistant.from_documents(
        [Document(id="t.txt", text=text)], embedder=HashEmbedder(), progress=False
    )


@pytest.fixture(scope="module")
def ferry():
    from conftest import HashEmbedder

    return Assistant.from_documents(
        [Document(id="ferry.txt", text=FERRY)], embedder=HashEmbedder(), progress=False
    )


@pytest.mark.parametrize(
    ("question", "read"),
    [
        # A slip: no English word, and a word of the documents one or two edits away.
        ("How much did the repares cost?", "How much did the repairs cost?"),
        ("who is the cheif executiv?", "who is the chief executive?"),  # "ei" swapped: one edit
        ("HOW MUCH DID THE REPARES COST?", "HOW MUCH DID THE REPAIRS COST?"),
        ("Repares cost how much?", "Repairs cost how much?"),  # the first word is no name
        # Left as typed: words of the documents, English words they do not use (the question
        # may ask beyond them), names, and words with a digit.
        ("How much did the repairs cost?", "How much did the repairs cost?"),
        ("How much did the bridge cost?", "How much did the bridge cost?"),
        ("Who is Eric Dahl?", "Who is Eric Dahl?"),
        ("What did the Cheif say?", "What did the Cheif say?"),
        ("Why wouldnt they wait?", "Why wouldn't they wait?"),  # a question word's slip
        ("What is repares2?", "What is repares2?"),
        ("Who is Dhal?", "Who is Dhal?"),
        ("Did the REPARES end?", "Did the REPARES end?"),  # an acronym, perhaps
        ("WHO IS THE CHEIF EXECUTIVE of the ferry?", "WHO IS THE CHIEF EXECUTIVE of the ferry?"),
        # One slip in a long word, far from its stem ("concentr"); a question word.
        ("Where was the concentraton measured?", "Where was the concentration measured?"),
        ("Whta did the comunity giude say?", "What did the community guide say?"),
        ("How much is a tickt?", "How much is a ticket?"),
        # British spellings are English words: "defence" is no slip for "fence".
        ("How much went on defence?", "How much went on defence?"),
        ("Was the kerb repaired?", "Was the kerb repaired?"),
        ("What was analysed?", "What was analysed?"),
    ],
)
def test_a_slip_is_mended_with_the_documents_word(ferry, question, read):
    assert mend(question, ferry.index) == read


def test_the_word_with_the_same_first_letter_wins(ferry):
    # "repares" is two edits from "repairs", one from "prepares" (the documents' "prepared").
    assert "prepared" in FERRY
    assert mend("repares", ferry.index) == "repairs"


def test_the_answer_tells_the_question_as_read_and_quotes_it_as_typed(ferry):
    answer = ferry.ask("How much did the repares cost?")
    assert answer.question == "How much did the repairs cost?"
    assert "repares" not in answer.question
    if answer.abstained:
        assert "“How much did the repares cost?”" in answer.text


def test_the_terminal_and_the_page_show_how_a_question_was_read():
    from qa.cli import format_answer
    from qa.render import answer_message
    from qa.results import Answer

    answer = Answer(text="x", abstained=True, confidence=0.1, question="Who is the chief?")
    assert "(read as “Who is the chief?”)" in format_answer(answer, 0.4, "Who is the  cheif?")
    assert "read as" not in format_answer(answer, 0.4, " Who is the chief? ")
    assert "read as “Who is the chief?”" in answer_message(answer, "Who is the cheif?")
    assert "read as" not in answer_message(answer, "Who is the chief?")
    assert "read as" not in answer_message(answer)


def test_a_word_too_far_does_not_keep_a_near_one_out():
    """ "hores" (five letters: one edit allowed) is one edit from "cores"; "hoarded", whose stem
    lies near and whose first letter is the same, is three edits away and must not stand in
    the way."""
    a = _of("The hoarded grain was eaten. Apple cores rot fast.")
    assert mend("What rots, the hores?", a.index) == "What rots, the cores?"


@pytest.mark.parametrize(
    ("question", "read"),
    [
        # Typed without the accents, or with them where the documents have none: the
        # documents' word, a name included, a short one too.
        ("When did Jose Nunez move to Malmo?", "When did José Núñez move to Malmö?"),
        ("WHO MOVED TO MALMO?", "WHO MOVED TO MALMÖ?"),
        ("Who met the Sao Paulo team?", "Who met the São Paulo team?"),
        ("Was the cafe open?", "Was the café open?"),
        ("Where is Lódz?", "Where is Lodz?"),
        ("Where is Malmø?", "Where is Malmö?"),  # ø and ö: o with an accent alike
        ("Where is Łodz?", "Where is Lodz?"),
        ("Where is Tromso?", "Where is Tromsø?"),
        ("Who lives in Gdansk?", "Who lives in Gdańsk?"),
        # Written as the documents write it: as typed.
        ("When did José move?", "When did José move?"),
        # Two words of the documents differ by their accents alone: no guessing.
        ("Was the resumé long?", "Was the resumé long?"),
    ],
)
def test_a_word_typed_without_its_accents_is_the_documents_word(question, read):
    text = (
        "José Núñez moved to Malmö in 2019 and met the São Paulo team in Lodz. The café was "
        "open. His resume and his résumé were both long, and so was the rèsume. Tromsø and "
        "Gdańsk."
    )
    assert mend(question, _of(text).index) == read


@pytest.mark.parametrize(
    ("question", "read"),
    [
        # An acronym the documents do not use: the phrase WordNet spells it with, as they
        # use its words (all, or all but one: no "officer" here).
        ("Who is the CEO of Nordlys?", "Who is the chief executive officer of Nordlys?"),
        ("What did the WHO say?", "What did the World Health Organization say?"),
        ("How much did GDP fall in the US?", "How much did gross domestic product fall in the US?"),
        # Used by the documents, no phrase of it used, not an acronym there, or shouted.
        ("What did the UN say?", "What did the UN say?"),
        ("What did the EU say?", "What did the EU say?"),
        ("Who is the CFO?", "Who is the CFO?"),
        ("WHO IS THE CEO?", "WHO IS THE CEO?"),
        ("What did the who say?", "What did the who say?"),
    ],
)
def test_an_acronym_the_documents_do_not_use_is_spelled_out(question, read):
    text = (
        "Chief executive Ingrid Solberg spoke. The World Health Organization warned. Gross "
        "domestic product fell. The UN met. Us and them."
    )
    assert mend(question, _of(text).index) == read
