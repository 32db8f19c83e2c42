"""Typing slips in a question, mended with the documents' own words.

"How much did the ferry repares cost?" finds nothing by the word "repares", and the
question's embedding drifts too. A word is mended only when it is no English word (in the
dictionaries of pyspellchecker and simplemma, British spellings included) and the documents
do not use it, and then into the closest word that the documents use (or a question word:
"whta"): one edit away for a word of up to six letters, two for a longer one (rapidfuzz's
optimal string alignment, where swapping two letters is one edit), one with the same first
letter first, then the closest, then the one the documents use most. A capitalised word
inside the question is a name and is left as it is: "Who is Eric Dahl?" of documents that
name an Erik is not theirs to answer. Accents are another matter: a word typed without them
("Malmo", "Nunez", "Sao", "Lodz" for "Łódź"), or with them where the documents have none, is
read as the documents' word that differs from it only in its accents ("Malmö"), a name
included. And an acronym the documents do not use ("CEO") is read as what it stands for, as
they say it ("chief executive officer", of documents that say "chief executive").
"""

from __future__ import annotations

import re
import unicodedata
import weakref
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np
import simplemma
from rapidfuzz import process
from rapidfuzz.distance import OSA

from .opposites import acronyms
from .text import STOPWORDS, _stem, terms, words

if TYPE_CHECKING:
    from .index import Index

# A word of two letters or more; one glued to an apostrophe ("wouldn't") or a digit is left.
_WORD = re.compile(r"(?<![\w'’])[^\W\d_]{2,}(?![\w'’])")
SHORTEST_SLIP = 4  # letters: a shorter word is too near too many others to be mended
_LETTERS = re.compile(r"[^\W\d_]{2,}")


def mend(question: str, index: Index) -> str:
    """`question` with each slip replaced by the word of `index`'s documents it stands for."""
    lex = index.sentence_bm25
    out, last = [], 0
    # Mostly in capitals ("WHO IS THE CHEIF EXECUTIVE of the foundation?"): no word of it is
    # told for a name or an acronym by its capitals.
    letters = _LETTERS.findall(question)
    shouted = 2 * sum(w.isupper() for w in letters) >= len(letters) > 0
    for m in _WORD.finditer(question):
        word = m.group(0)
        lower = word.lower()
        if _stem(lower) in lex.vocab:
            continue
        if word.isupper() and not shouted and (phrase := _spelled_out(word, index)):
            out += [question[last : m.start()], phrase]
            last = m.end()
            continue
        if lower in STOPWORDS:
            continue
        better = _accented(lower, index)
        if better is None:
            if len(word) < SHORTEST_SLIP:
                continue
            if word[0].isupper() and not shouted and question[: m.start()].strip():
                continue  # a name or an acronym, not the question's first word
            better = _closest(lower, index)
        if better is None:
            continue
        if word.isupper():
            better = better.upper()
        elif word[0].isupper():
            better = better[0].upper() + better[1:]
        out += [question[last : m.start()], better]
        last = m.end()
    return "".join(out) + question[last:] if out else question


def _spelled_out(acronym: str, index: Index) -> str | None:
    """What `acronym` (no word of the documents) stands for in WordNet, as the documents say
    it: the phrase whose words they use most, all of them or all but one ("chief executive
    officer" of documents that say "chief executive")."""
    vocab = index.sentence_bm25.vocab
    best, share = None, 0.0
    for phrase in acronyms().get(acronym, ()):
        needed = set(terms(phrase))
        found = len([t for t in needed if t in vocab])
        if needed and found >= max(len(needed) - 1, 1) and found / len(needed) > share:
            best, share = phrase, found / len(needed)
    return best


# Letters that Unicode does not take apart into a letter and an accent.
_PLAIN_LETTERS = str.maketrans({"ł": "l", "ø": "o", "đ": "d", "ħ": "h", "ı": "i", "ß": "ss",
                                "æ": "ae", "œ": "oe", "þ": "th", "ð": "d"})  # fmt: skip


def _unaccented(text: str) -> str:
    """`text` in lower case without its accents: "Malmö" is "malmo", "núñez" is "nunez",
    "łódź" is "lodz"."""
    text = unicodedata.normalize("NFKD", text.lower()).translate(_PLAIN_LETTERS)
    return "".join(c for c in text if not unicodedata.combining(c))


# Each BM25 index's terms by their unaccented form (None where two share it), made once
# per index.
_BY_UNACCENTED: weakref.WeakKeyDictionary[Any, dict[str, str | None]] = weakref.WeakKeyDictionary()


def _accented(word: str, index: Index) -> str | None:
    """The word of the documents that `word` (no term of theirs) differs from only in its
    accents, if there is exactly one."""
    lex = index.sentence_bm25
    by_plain: dict[str, str | None] | None = _BY_UNACCENTED.get(lex)
    if by_plain is None:
        by_plain = {}
        for term in lex.vocab:
            plain = _unaccented(term)  # lower-cased: simplemma's lemma of "malmö" is "Malmö"
            # Two words that differ by their accents alone ("resume", "résumé"): no guessing.
            by_plain[plain] = term if by_plain.get(plain, term) == term else None
        _BY_UNACCENTED[lex] = by_plain
    found = by_plain.get(_unaccented(_stem(word)))
    return _surface(found, index) if found is not None else None


def _closest(word: str, index: Index) -> str | None:
    """The word of the documents (or a question word) that `word` is a slip for, if it is
    a slip."""
    spell = _dictionary()
    if spell.known([word]) or simplemma.is_known(word, lang="en"):
        # A real word the documents do not use (the question may ask beyond them), in
        # American or British spelling ("defence", "analysed": simplemma's dictionary).
        return None
    lex = index.sentence_bm25
    allowed = 1 if len(word) <= 6 else 2
    found: dict[str, float] = {}  # word -> its idf in the documents (a question word: 0)
    # Words of the dictionary one edit away that the documents use, or a question word
    # ("whta"): a slip in a long word ("concentraton") lies far from its stem ("concentr").
    for c in spell.known(spell.edit_distance_1(word)):
        if c in STOPWORDS or _stem(c) in lex.vocab:
            found[c] = 0.0 if c in STOPWORDS else lex.idf(_stem(c))
    # Words of the documents, found by their stems, as a sentence spells them.
    for term, _, _ in process.extract(
        _stem(word), lex.vocab.keys(), scorer=OSA.distance, score_cutoff=allowed + 1, limit=8
    ):
        surface = _surface(term, index)
        if surface is not None:
            found.setdefault(surface, lex.idf(term))
    best = min(
        (
            # One with the same first letter first (a slip seldom changes it: "repares" is
            # "repairs", not "prepares"), then the closest, then the commonest (lowest idf).
            (c[0] != word[0], distance, idf, c)
            for c, idf in found.items()
            if c != word and (distance := OSA.distance(word, c)) <= allowed
        ),
        default=None,
    )
    return best[3] if best is not None else None


def _surface(term: str, index: Index) -> str | None:
    """The word of the documents that `term` stems from, as a sentence holding it spells it."""
    scores = index.sentence_bm25.scores([term])
    if not len(scores) or scores.max() <= 0:
        return None
    text = index.sentence_text(int(np.argmax(scores)))
    return next((w for w in words(text) if _stem(w) == term and w.isalpha()), None)


@cache
def _dictionary() -> Any:
    """The English dictionary of pyspellchecker, loaded once (a fifth of a second)."""
    from spellchecker import SpellChecker

    return SpellChecker(language="en", distance=1)
