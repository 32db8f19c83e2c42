"""Names that clash: a question asks about one thing and a sentence speaks of another by a
name that shares a word with it ("Nils Lindqvist" and "Astrid Lindqvist", "Vireo H12" and
"Vireo H8", "World War I" and "World War II").

Such a sentence answers for the other one: quoting "Astrid Lindqvist died in Bergen ..." for
"When did Nils Lindqvist die?" puts a wrong date in a reader's hands under a real citation. On
SQuAD 2.0 a question renamed so is one of the ways its unanswerable questions were written
("Who refined Robert Mayow's work?" of "John Mayow ... refined this work").
"""

from __future__ import annotations

import re
import unicodedata
from difflib import SequenceMatcher
from functools import lru_cache

from .text import STOPWORDS

_TOKEN = re.compile(r"\w+(?:[.'’-]\w+)*")
# A model or part code: letters, then a number ("H12", "MPEG-4", "A320", "B12a").
_CODE = re.compile(r"^([a-z]+)-?(\d+)([a-z]?)$")
# Words that open a sentence, capitalised, without being a name ("After World War II, ...").
_OPENERS = STOPWORDS | {
    "after", "before", "during", "since", "until", "while", "although", "though", "however",
    "from", "i", "he", "she", "we", "you", "his", "her", "its", "our", "my", "your", "here",
    "were", "has", "have", "had", "can", "could", "would", "should", "may", "might", "yes",
    "so", "once", "each", "every", "all", "some", "both", "most", "one", "those",
}  # fmt: skip
# A question that asks for another of the kind ("What channel replaced Sky Travel?", "what
# other lake ...?"): the answer's sentence may name it alone.
_ANOTHER = re.compile(
    r"\b(?:other|another|else|besides|instead|replac\w*|succeed\w*|successors?|succession|"
    r"rename\w*|rebrand\w*)\b",
    re.I,
)
# Titles: "President Wilson" is "Woodrow Wilson", "Councillor Peter Nairn" is "Peter Nairn".
_TITLES = frozenset(
    ("president", "king", "queen", "prince", "princess", "duke", "duchess", "lord", "lady",
     "sir", "dame", "dr", "mr", "mrs", "ms", "professor", "prof", "councillor", "cllr", "pope",
     "saint", "st", "general", "gen", "colonel", "col", "captain", "capt", "judge", "senator",
     "governor", "mayor", "chancellor", "minister", "emperor", "empress", "sultan", "chief",
     "bishop", "archbishop", "reverend", "rev", "father", "count", "countess", "baron",
     "emir", "sheikh", "tsar", "czar", "shah", "lieutenant", "sergeant")
)  # fmt: skip
# Spellings of one name: a slip ("Setanta"/"Sentanta"), or a longer form ("Europe"/"European").
_SAME_SPELLING = 0.75


def _fold(word: str) -> str:
    """Lower-cased, without accents ("Fécamp" is "fecamp") or a possessive "'s"."""
    decomposed = unicodedata.normalize("NFKD", word.lower())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return bare[:-2] if bare.endswith(("'s", "’s")) else bare


@lru_cache(maxsize=65536)
def _same(x: str, y: str) -> bool:
    """Whether two folded words may spell one name; codes only when equal ("H8" is no "H12")."""
    if x == y:
        return True
    if _CODE.match(x) or _CODE.match(y):
        return False
    if min(len(x), len(y)) >= 4 and (x in y or y in x):  # "SkyDrive" and "Drive"
        return True
    return SequenceMatcher(None, x, y).ratio() >= _SAME_SPELLING


def name_runs(text: str) -> list[tuple[str, ...]]:
    """The runs of adjacent capitalised words or codes in `text`, folded, without a leading
    function word ("The Vireo H8" is ("vireo", "h8"); "When" alone starts none)."""
    runs: list[tuple[str, ...]] = []
    run: list[str] = []
    end = 0
    for m in _TOKEN.finditer(text):
        word = _fold(m.group(0))
        name_like = m.group(0)[:1].isupper() or _CODE.match(word) is not None
        if name_like and (run or word not in _OPENERS):
            if run and text[end : m.start()].strip():  # something between: a new run
                runs.append(tuple(run))
                run = []
            run.append(word)
            end = m.end()
        elif run:
            runs.append(tuple(run))
            run = []
    if run:
        runs.append(tuple(run))
    return runs


def asked_names(question: str) -> list[tuple[str, ...]]:
    """The names of `question` that a sentence can clash with: runs of two or more words,
    and codes."""
    return [r for r in name_runs(question) if len(r) > 1 or _CODE.match(r[0])]


def clash(question: str, sentence: str) -> bool:
    """Whether `sentence` names, in place of the name `question` asks about, another that
    shares a word with it: the same first word and then another ("Vireo H12"/"Vireo H8",
    "World War I"/"World War II"), or the same last word after another ("Nils
    Lindqvist"/"Astrid Lindqvist"), the question's word nowhere in the sentence and the
    sentence's not in the question's name ("East India Trading Company" is the "East India
    Company"); or a code of the same letters with another number ("H12"/"H8").

    None clashes when the sentence names one of the question's names in full ("Nils and
    Astrid Lindqvist", "the Ethiopian Empire" of "the British Empire or the Ethiopian
    Empire"), or when the question asks for another ("what other lake ...?", "What channel
    replaced Sky Travel?"). Titles do not count ("President Wilson" is "Woodrow Wilson")."""
    if _ANOTHER.search(question):
        return False
    asked = [n for n in (_untitled(r) for r in asked_names(question)) if n]
    if not asked:
        return False
    words = {_fold(w) for w in _TOKEN.findall(sentence)}

    def present(x: str) -> bool:
        return any(_same(x, w) for w in words)

    if any(all(present(x) for x in name) for name in asked):
        return False
    runs = [r for r in (_untitled(r) for r in name_runs(sentence)) if len(r) > 1]
    for name in asked:
        for run in runs:
            for a, b in ((name, run), (name[::-1], run[::-1])):
                if not _same(a[0], b[0]):
                    continue
                for x, y in zip(a[1:], b[1:], strict=False):
                    if not _same(x, y):
                        if not present(x) and not any(_same(y, z) for z in name):
                            return True
                        break
        for x in name:
            if (m := _CODE.match(x)) is not None and x not in words:
                for w in words:
                    if (n := _CODE.match(w)) is not None and n[1] == m[1] and n[2] != m[2]:
                        return True
    return False


def _untitled(name: tuple[str, ...]) -> tuple[str, ...]:
    """`name` without its titles: ("president", "wilson") is ("wilson",)."""
    return tuple(x for x in name if x not in _TITLES)
