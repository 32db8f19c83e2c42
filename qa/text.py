"""Word tokens for BM25 and for comparing questions with sentences: lower-cased, stemmed."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import simplemma
import Stemmer
from bm25s.stopwords import STOPWORDS_EN

_WORD = re.compile(r"\w+(?:[.,'’]\w+)*", re.UNICODE)
# Wh-words and a few question verbs are kept out of the index terms: they are in every
# question and say nothing about where the answer is.
STOPWORDS = frozenset(STOPWORDS_EN) | {
    "what", "which", "who", "whom", "whose", "when", "where", "why", "how", "did", "does",
    "do", "many", "much", "s", "also", "according",
}  # fmt: skip

_stemmer = Stemmer.Stemmer("english")


# Changes whenever terms() would cut the same text differently; saved with each index.
# What a finished sentence (or a clause handing over) ends with: no heading ends so.
CLOSES_SENTENCE = tuple('.!?:;"”’)]…')
TERMS_VERSION = "lemma-snowball-nfc-2"


@lru_cache(maxsize=262144)
def lemma(word: str) -> str:
    """The dictionary form of a lower-cased word: "smallest" is "small", "began" is "begin"."""
    return simplemma.lemmatize(word, lang="en")


@lru_cache(maxsize=262144)
def _stem(word: str) -> str:
    # Lemmatise first so irregular forms meet (gave/give, went/go), then stem the rest.
    return _stemmer.stemWord(lemma(word))


def words(text: str) -> list[str]:
    """Lower-cased word tokens; numbers like 1,351 and words like don't stay whole. Accents
    are composed first, so "Zu\u0308rich" (as macOS writes it) is the word "zürich"."""
    return _WORD.findall(unicodedata.normalize("NFC", text).lower())


def terms(text: str) -> list[str]:
    """Stemmed content words: the vocabulary of the BM25 indexes."""
    return [_stem(w) for w in words(text) if w not in STOPWORDS]
