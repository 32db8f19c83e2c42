"""Names that clash: a sentence that speaks of another in place of the question's name."""

import pytest

from qa.assistant import Assistant
from qa.names import clash, name_runs


def test_name_runs_are_folded_and_start_on_no_function_word():
    assert name_runs("The Vireo H8 comes with Fécamp's warranty.") == [("vireo", "h8"), ("fecamp",)]
    assert name_runs("When did Nils Lindqvist die?") == [("nils", "lindqvist")]


@pytest.mark.parametrize(
    ("question", "sentence", "expected"),
    [
        # Another person of the same surname, another product of the same range.
        ("When did Nils Lindqvist die?", "Astrid Lindqvist died in Bergen in 2021.", True),
        ("What is the warranty on the Vireo H12?", "The Vireo H8 has a 7-year warranty.", True),
        ("What is the price of the Vireo H12?", "The price of the H8 is £6,950.", True),
        ("What did Fraser McRae say?", "Its chief executive, Fiona McRae, said no.", True),
        ("What began to decline after World War I?", "After World War II, spending rose.", True),
        ("Who refined Robert Mayow's work?", "English chemist John Mayow refined this work.", True),
        # The same name, written otherwise: longer, with a title, a slip, accents, joined up.
        ("What did Peter Nairn say?", "Councillor Peter Nairn voted against.", False),
        ("How long did Western Europe rule?", "Western European rule lasted 380 years.", False),
        ("Where does Sentanta Sports launch?", "Setanta Sports will launch on cable.", False),
        ("What was Fecamp Abbey the centre of?", "Fécamp Abbey was a centre of music.", False),
        ("What was Sky Drive Pro renamed?", '"SkyDrive Pro" becomes "OneDrive".', False),
        # The sentence names the question's one too, or no name that shares a word with it.
        ("When did Nils Lindqvist die?", "Nils and Astrid Lindqvist died in 2021.", False),
        ("Who bought Lindqvist Konstruksjon?", "Astrid Lindqvist founded the firm in 1984.", False),
        ("When did Nils Lindqvist die?", "He died in Bergen in 2021.", False),
        ("When did the ferry leave?", "The Vireo H8 left at noon.", False),
        ("", "Astrid Lindqvist died.", False),
    ],
)
def test_clash(question, sentence, expected):
    assert clash(question, sentence) is expected


def test_an_answer_about_another_of_the_same_name_is_less_sure(tmp_path, fake_embedder):
    confidence = {}
    for code in ("H8", "H12"):
        f = tmp_path / code / "faq.md"
        f.parent.mkdir()
        f.write_text(f"The Vireo {code} comes with a 7-year parts warranty.", encoding="utf-8")
        a = Assistant.from_paths([f], embedder=fake_embedder, progress=False)
        answer, ranked = a.ask_ranked("What is the warranty on the Vireo H12?")
        assert ranked[0].text == f"The Vireo {code} comes with a 7-year parts warranty."
        confidence[code] = answer.confidence
    # Quoted for the H12, the H8's sentence names another in its place: half as sure.
    assert confidence["H8"] < 0.6 * confidence["H12"], confidence


@pytest.mark.model
def test_no_confident_answer_from_another_persons_sentence(tmp_path, real_embedder):
    f = tmp_path / "bio.txt"
    f.write_text(
        "Astrid Lindqvist was born in Trondheim on 2 May 1948. Her younger brother, Nils "
        "Lindqvist, also an engineer, ran the firm's Stockholm office from 1990. She founded "
        "Lindqvist Konstruksjon in 1984.\n\n"
        "Astrid Lindqvist died in Bergen on 19 November 2021, aged 73.",
        encoding="utf-8",
    )
    a = Assistant.from_paths([f], embedder=real_embedder, progress=False)
    asked = a.ask("When did Astrid Lindqvist die?")
    assert not asked.abstained and "19 November 2021" in asked.citations[0].text
    other = a.ask("When did Nils Lindqvist die?")
    assert other.abstained, other  # not "Astrid Lindqvist died in Bergen on 19 November 2021"
    assert "Astrid Lindqvist died" in other.closest[0].text
