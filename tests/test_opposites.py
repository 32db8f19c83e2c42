"""The opposites table and the question/sentence check that reads it."""

import json

import pytest

from qa.opposites import OPPOSITES, antonyms, opposed


@pytest.mark.parametrize(
    ("question", "sentence", "expected"),
    [
        ("What is the smallest inland port?", "Duisburg is the largest inland port.", True),
        ("What is the largest inland port?", "Duisburg is the largest inland port.", False),
        # Another form of the question's word in the sentence: no contradiction.
        ("Which port is larger?", "Duisburg is the largest inland port.", False),
        # A negating prefix is an opposite too.
        ("There were insignificant changes in what?", "There were significant changes.", True),
        ("When did the last wave end?", "The first wave ended in 1349.", True),
        # The question names both: it asks about the pair, not against the sentence.
        ("Is the first bridge older than the last?", "The first bridge is Roman.", False),
        # Nothing opposed, or no words at all.
        ("Who built the bridge?", "The Romans built the bridge.", False),
        ("", "Anything.", False),
        ("What is the smallest?", "", False),
        # A time counted from now, counted otherwise.
        ("What rise did Westbay offer last year?", "It has offered 3.5 per cent this year.", True),
        ("What rise was offered this year?", "It has offered 3.5 per cent this year.", False),
        ("What rise was offered in the past year?", "The offer made last year stands.", False),
        ("What rise was offered last year?", "It grew 5% this month, 2% last year.", False),
        ("What rise was offered last year?", "It has offered 3.5 per cent this month.", False),
        # Case does not matter.
        ("WHICH CITY HAS THE SMALLEST PORT?", "Duisburg Has The Largest Port.", True),
    ],
)
def test_opposed(question, sentence, expected):
    assert opposed(question, sentence) is expected


def test_the_table_goes_both_ways_and_carries_its_licence():
    data = json.loads(OPPOSITES.read_text(encoding="utf-8"))
    assert "Princeton University" in data["licence"]
    table = antonyms()
    assert "small" in table["large"] and "last" in table["first"]
    assert all(word in table[other] for word, others in table.items() for other in others)
