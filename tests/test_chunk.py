"""Sentences and passages: offsets exact, sentences never cut, paragraphs respected."""

from pathlib import Path

import pytest

from qa.chunk import ChunkParams, chunk, paragraphs, sentences

SEED_DIR = Path(__file__).parent.parent / "seeds"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", []),
        ("One.", ["One."]),
        ("Dr. Smith went home. He slept.", ["Dr. Smith went home.", "He slept."]),
        ("U.S. political scientist Adam Lenton spoke. Then he left.",
         ["U.S. political scientist Adam Lenton spoke.", "Then he left."]),
        ("It said that 1,351 of its personnel had died. Others disagreed.",
         ["It said that 1,351 of its personnel had died.", "Others disagreed."]),
        ('"He didn\'t sign up for a war," she said. "It was a deception."',
         ['"He didn\'t sign up for a war," she said.', '"It was a deception."']),
        ("Title line\n\nFirst paragraph. Second sentence.",
         ["Title line", "First paragraph.", "Second sentence."]),
        ("J. R. R. Tolkien wrote books. They sold.", ["J. R. R. Tolkien wrote books.", "They sold."]),
        # List items: each its own sentence, marker left out, full stop or not.
        ("Highlights:\n- Loans rose to 96,450\n- E-book loans fell.\n  * It was busy. Very.",
         ["Highlights:", "Loans rose to 96,450", "E-book loans fell.", "It was busy.", "Very."]),
        ("Plans:\n1. Replace the van.\n2. Open a branch\n3) Hire staff\n\u2022 Paint",
         ["Plans:", "Replace the van.", "Open a branch", "Hire staff", "Paint"]),
        # Not list markers: a decimal, a hyphen inside a word, a dash with no space after.
        ("It cost 3.5 million. It is well-known.\n-dash here.",
         ["It cost 3.5 million.", "It is well-known.\n-dash here."]),
        # A Markdown heading line is one sentence, its "2." included.
        ("## 2. Treasurer's report\nThe treasurer reported.",
         ["## 2. Treasurer's report", "The treasurer reported."]),
        # A line that ends a sentence ends it, though blingfire reads "pm." as an abbreviation;
        # a line wrapped after an initial or a title does not, nor one inside a sentence.
        ("The last bus leaves at 11.30 pm.\nBuses run every 10 minutes.",
         ["The last bus leaves at 11.30 pm.", "Buses run every 10 minutes."]),
        ('“I will go,” she said at 6 pm.\n“Good,” he replied.',
         ["“I will go,” she said at 6 pm.", "“Good,” he replied."]),
        ("He met John F.\nKennedy at 5 pm. Then\nhe left at 6 pm.\n2,000 came.",
         ["He met John F.\nKennedy at 5 pm.", "Then\nhe left at 6 pm.", "2,000 came."]),
        ("He met Dr.\nSmith at 5 pm. It rained.", ["He met Dr.\nSmith at 5 pm.", "It rained."]),
        # Inside a line: a sentence ends before a figure and after a time, which blingfire
        # joins, and not after a title, where it cuts; "No." alone is an answer.
        ("It was founded in 2016. 410 people work there. 2023 was its best year.",
         ["It was founded in 2016.", "410 people work there.", "2023 was its best year."]),
        ("It needs a 2.4 GHz network. 5 GHz networks fail. About approx. 5 came, see p. 12.",
         ["It needs a 2.4 GHz network.", "5 GHz networks fail.",
          "About approx. 5 came, see p. 12."]),
        ("Open 10 am to 3 pm. Helen Marsh will ask. Doors at 7 p.m. Tickets are free.",
         ["Open 10 am to 3 pm.", "Helen Marsh will ask.", "Doors at 7 p.m.", "Tickets are free."]),
        ("We met at 7 p.m. Monday and at 3 p.m. EST. It was 3.5 m. 4 fell.",
         ["We met at 7 p.m. Monday and at 3 p.m. EST.", "It was 3.5 m. 4 fell."]),
        ('"We will close it," said Cllr. Maria Okafor. Cllrs. Ahmed and Lee agreed.',
         ['"We will close it," said Cllr. Maria Okafor.', "Cllrs. Ahmed and Lee agreed."]),
        ("No. Only the filter may go in.", ["No.", "Only the filter may go in."]),
        # Label lines one below the other are a sentence each; a wrapped line is not.
        ("Date: 11 March, 7.30 pm\nPresent: Helen Marsh (chair), Tom Okoye\nApologies: Bill",
         ["Date: 11 March, 7.30 pm", "Present: Helen Marsh (chair), Tom Okoye", "Apologies: Bill"]),
        ("He said: the\nweather is bad.", ["He said: the\nweather is bad."]),
    ],
)  # fmt: skip
def test_sentences(text, expected):
    assert [text[a:b] for a, b, _ in sentences(text)] == expected


def test_long_unpunctuated_sentence_is_capped_without_losing_offsets():
    text = ("word " * 40_000).strip()
    spans = sentences(text)
    assert all(b - a <= ChunkParams().max_sentence_chars for a, b, _ in spans)
    assert "".join(text[a:b] for a, b, _ in spans).replace(" ", "") == text.replace(" ", "")


def test_unicode_offsets():
    text = "Café «quoted» naïve — text. Second 日本語 sentence! مرحبا بالعالم. 🎉 Done."
    for a, b, _ in sentences(text):
        assert text[a:b].strip() == text[a:b] and text[a:b]


def test_paragraphs():
    assert paragraphs("a\n\n\n b \n\nc") == [(0, 1), (5, 6), (9, 10)]


@pytest.mark.parametrize(
    "params", [ChunkParams(), ChunkParams(max_words=30), ChunkParams(max_words=5)]
)
def test_passages_cover_every_sentence_and_respect_limits(params):
    text = next(SEED_DIR.glob("*.txt")).read_text()
    c = chunk(text, params)
    covered = set()
    for f, last in zip(c.passage_first, c.passage_last, strict=True):
        assert f < last
        covered.update(range(f, last))
        words = sum(len(text[c.sent_start[i] : c.sent_end[i]].split()) for i in range(f, last))
        assert last - f == 1 or words <= params.max_words + 5
    assert covered == set(range(len(c.sent_start)))


def test_passage_starts_at_paragraph_boundary_when_previous_paragraph_ends():
    text = "A b c d e. F g h i j.\n\nK l m n o. P q r s t."
    c = chunk(text, ChunkParams(max_words=10))
    starts = [text[c.sent_start[f] : c.sent_start[f] + 1] for f in c.passage_first]
    assert starts == ["A", "K"]
