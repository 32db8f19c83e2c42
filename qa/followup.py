"""Resolve follow-up questions against the chat history (pronouns and ellipsis)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import zip_longest

from .text import STOPWORDS, lemma, words

PRONOUNS = (
    "he", "she", "him", "her", "his", "hers", "they", "them", "their", "theirs", "it", "its",
    "this", "that", "these", "those", "there",
)  # fmt: skip
_PRONOUN = re.compile(rf"\b({'|'.join(PRONOUNS)})\b", re.IGNORECASE)
# A pronoun standing for the one the question is about ("Where is she from?"), not for a
# possessor or an object ("Where did her son call her from?").
_SUBJECT = re.compile(r"\b(he|she|they|it)\b", re.IGNORECASE)
_WHO = re.compile(r"^\W*(who|whom)\b", re.IGNORECASE)
# A question word and a verb: with a word of content, a question of its own ("Who was the
# arbiter?", "How much are tickets?"), not an elliptic one ("What year?", "Why?", "How much?").
_ASKS_WITH_VERB = re.compile(
    r"^\W*(who|whom|whose|what|which|when|where|why|how)"
    r"(\s+(much|many|long|far|old|often|big|large|soon|late|early))?"
    r"\s+(is|are|was|were|will|would|did|does|do|has|have|had|can|could|should|may|might|must)\b",
    re.IGNORECASE,
)
# Pronouns that stand for the same one: a question with "he" after one with "he" means the
# same man, whom the earlier one named.
_KINDS = ({"he", "him", "his"}, {"she", "her", "hers"}, {"they", "them", "their", "theirs"})
_QUOTED = re.compile(r"^“(.+?)”", re.DOTALL)  # an answer's quoted sentence (qa.assistant)
LOOK_BACK = 3  # user turns searched for the last name a pronoun may point at
_ELLIPTIC_START = re.compile(r"^\s*(and|what about|how about|also|but)\b", re.IGNORECASE)
_POSSESSIVE = re.compile(r"['’]s?$")
_DETERMINERS = frozenset(
    ("the", "a", "an", "this", "that", "these", "those", "his", "her", "its", "their", "my",
     "our", "your")
)  # fmt: skip
# What a noun of the previous question must follow for a follow-up's phrase to take its
# place: "the", "many" (a verb follows none of them: "Where do the buses stop?").
_BEFORE_NOUN = _DETERMINERS | {"many", "much", "few", "each", "every", "all", "some", "any", "no"}
# The words that may stand between them there and be replaced with it: those that tell one
# of a kind from another ("the first ferry", "the new bridge"). Other words may be nouns
# ("the children play") that the swap would leave without their verb.
_CONTRASTS = frozenset(
    ("first", "second", "third", "fourth", "fifth", "last", "next", "previous", "final",
     "new", "old", "other", "same", "main", "early", "late", "earlier", "later", "male",
     "female", "north", "south", "east", "west", "northern", "southern", "eastern", "western",
     "upper", "lower", "morning", "evening", "night", "summer", "winter")
)  # fmt: skip
# Small words a verb is not: after "the city council" comes its verb ("decide"), after
# "her son call" a pronoun ("her"), so "call" is the verb there.
_FUNCTION = frozenset(PRONOUNS) | {
    "from", "with", "for", "in", "on", "at", "to", "of", "by", "about", "after", "before",
    "during", "into", "over", "under", "up", "down", "out", "off", "outside", "inside", "here",
    "now", "then", "again", "me", "you", "us", "him", "them", "we", "i",
}  # fmt: skip
# Days and months: capitalised, but no names ("And the Sunday ferry?" asks of a ferry).
_CALENDAR = frozenset(
    ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "january",
     "february", "march", "april", "may", "june", "july", "august", "september", "october",
     "november", "december")
)  # fmt: skip
_FIGURE = re.compile(r"\d")
_PLAIN_WORD = re.compile(r"[^\W\d_]+")
_WORD = re.compile(r"[^\W_]+")
_NOT_A_PHRASE = re.compile(r"[^\w\s?.!]|\d")  # a comma, a figure, a quote: not one phrase
# A capital letter, accented ones too ("Öberg", "Łódź", "Åsa").
_UPPER = "[A-Z" + "".join(c for c in map(chr, range(0xC0, 0x250)) if c.isupper()) + "]"
_NAME = re.compile(rf"\b{_UPPER}[\w'’-]*(?:\s+{_UPPER}[\w'’-]*)*")
_QUESTION_WORDS = {"Who", "What", "When", "Where", "Why", "How", "Which", "Whose", "Is", "Are", "Did", "Does", "Do", "Was", "Were", "Can", "The", "A", "An", "And", "In", "On", "Of", "According", "But", "Also", "I", "For", "Since", "Until", "Even", "After", "Before", "Only", "Not", "Or", "So", "Then", "With", "Without", "At", "From", "To", "By"}  # fmt: skip


def turns(history: list[dict] | None, role: str) -> list[str]:
    """The non-empty `role` messages of `history`, the latest first."""
    out = []
    for message in reversed(history or []):
        if isinstance(message, dict) and message.get("role") == role:
            content = message.get("content")
            if isinstance(content, str) and content.strip():
                out.append(content)
    return out


def without_possessive(name: str) -> str:
    """ "Ailana's" is Ailana, "Ross'" is Ross; the s of "Charles Ross" or "Sarah" stays."""
    return _POSSESSIVE.sub("", name)


def names(text: str) -> list[str]:
    """Capitalised word groups, minus question words: the entities a pronoun may point at."""
    return [name for _, name in _name_matches(text)]


def _name_matches(text: str) -> Iterator[tuple[re.Match[str], str]]:
    """Each capitalised word group of `text` that holds a name, with that name (question
    words left out, possessive stripped)."""
    for m in _NAME.finditer(text):
        parts = [w for w in m.group(0).split() if w not in _QUESTION_WORDS]
        if parts:
            yield m, without_possessive(" ".join(parts))


@dataclass(frozen=True)
class Resolved:
    """A question ready to search: `question` picks the sentences; `context`, when set, is the
    question with what it refers back to, and picks the passages they are read from."""

    question: str
    context: str | None = None
    # The pronoun is the question's subject: the question with its referent ("Where is she
    # from? (Ailana)") may pick the sentences better than the question alone.
    about_referent: bool = False
    # Other readings of the follow-up, as questions of their own, in the order they are
    # tried when the documents do not answer the question (qa.assistant).
    readings: tuple[str, ...] = ()
    # The names the follow-up's pronoun may stand for ("Rosa Delgado" for "she"): in a
    # collection, the documents that name none of them are not read (qa.assistant).
    referents: tuple[str, ...] = ()

    @property
    def shown(self) -> str:
        return self.context or self.question


def resolve(question: str, history: list[dict] | None) -> Resolved:
    """Resolve a follow-up against the last questions of `history` (and the last answer)."""
    users = turns(history, "user")
    if not users:
        return Resolved(question)
    starter = _ELLIPTIC_START.match(question)
    if starter and _asks_of_its_own(question[starter.end() :]):
        # "And when was it last repaired?" after "When was the bridge built?" asks a new
        # question, not the last one again with a detail: read it as if asked without "And".
        detail = question[starter.end() :].lstrip(" ,")
        question, starter = detail[:1].upper() + detail[1:], None
    if starter or _elliptic(question):
        # "And in 1998?" or "Why?" repeats the previous question with a new detail; "And in
        # Buryatia?" asks it of Buryatia instead of the names the previous question had.
        # "Who is Ailana?" is a question of its own. The previous question is the last one
        # of its own: "And the last ferry?" after "When does the first ferry leave?" and
        # "And the bus?" still asks of the ferry.
        previous = next((u for u in users[:LOOK_BACK] if not _elliptic(u)), users[0])
        detail = question[starter.end() :] if starter else question
        new = names(detail)
        # "And the Sunday ferry?" swaps a phrase: a day is no name there.
        named = [n for n in new if n.lower() not in _CALENDAR]
        swapped = None if named else _swap_phrase(previous, detail)
        if swapped:
            return Resolved(swapped)
        swaps = [] if named else _swap_noun(previous, detail)
        if swaps:
            return Resolved(swaps[0], readings=tuple(swaps[1:]))
        rest = _without_names(previous, new) if new else ""
        if not rest:
            return Resolved(f"{previous} {question}")
        return Resolved(f"{question} ({rest})")
    if _PRONOUN.search(question):
        # "Where did her son call her from?" after "Who is Ailana?": the name says which
        # passages to read, but the sentence that answers often says "he", not "Ailana", so
        # sentences are still matched on the follow-up's own words.
        named = _referents(question, users, turns(history, "assistant"))
        # No name before: the last question's words say which passages to read.
        referents = named or [w for w in words(users[0]) if w not in STOPWORDS]
        if referents:
            subject = bool(_SUBJECT.search(question))
            context = f"{question} ({' '.join(referents)})"
            return Resolved(question, context, subject, referents=tuple(named))
    return Resolved(question)


# A preposition and a question word, with a word or two at most: "Until what time?", "Since
# when?", "For how long?", "In which year?".
_ASKS_BY_PREPOSITION = re.compile(
    r"^\W*(?:until|till|since|from|for|by|in|at|on|to|after|before|during)\s+"
    r"(?:what|which|when|where|whom|how)\b(?:\s+[\w'’-]+){0,2}\W*$",
    re.IGNORECASE,
)


def _asks_of_its_own(question: str) -> bool:
    """Whether `question` (what follows "And", "But", ...) is a question of its own: a
    question word, a verb and a word of content ("when was it last repaired?", "why did he
    resign?"), not "in 1998?", "what about the H6?" nor "can I bring my family?"."""
    content = [w for w in words(question) if w not in STOPWORDS and w not in PRONOUNS]
    return bool(_ASKS_WITH_VERB.match(question)) and bool(content)


def _elliptic(question: str) -> bool:
    """Whether `question` leans on the one before: "And in 1998?", "Why?", "What year?",
    "Until what time?", not "Who was the arbiter?" (a question word, a verb and a noun) nor
    "Who is Ailana?"."""
    if _ELLIPTIC_START.match(question) or _ASKS_BY_PREPOSITION.match(question):
        return True
    content = [w for w in words(question) if w not in STOPWORDS]
    own = len(content) == 1 and _ASKS_WITH_VERB.match(question) and not _PRONOUN.search(question)
    return len(content) <= 1 and not names(question) and not own


def _swap_phrase(previous: str, detail: str) -> str | None:
    """ "And the last ferry?" after "When does the first ferry leave Skerry Point?" asks
    "When does the last ferry leave Skerry Point?": the detail is a phrase of lower-case
    words whose last, its noun, stands in the previous question right after "the" (or
    "many", ...), or after "the" and words like "first" or "new"; the detail takes the place
    of those words. None when the detail is not such a phrase ("And in 1998?", "And can I
    bring my family?") or the previous question has no such place ("Where do the buses
    stop?": "stop" is its verb; "When do the children play outside?")."""
    if _NOT_A_PHRASE.search(detail):
        return None
    parts = _PLAIN_WORD.findall(detail)
    while parts and parts[0].lower() in _DETERMINERS:
        parts.pop(0)
    if not 2 <= len(parts) <= 4 or not all(p.islower() or p.lower() in _CALENDAR for p in parts):
        return None  # a noun alone ("And the ferries?") brings nothing to put in its place
    if any(p in STOPWORDS for p in parts):
        return None
    found = list(_PLAIN_WORD.finditer(previous))
    noun = lemma(parts[-1])
    at = next(
        (i for i, m in enumerate(found) if m.group(0).islower() and lemma(m.group(0)) == noun),
        None,
    )
    if at is None:  # not there, or only in a name ("the First Ferry")
        return None
    start = at
    while start > 0 and found[start - 1].group(0) in _CONTRASTS:
        start -= 1
    if start == 0 or found[start - 1].group(0).lower() not in _BEFORE_NOUN:
        return None
    end = found[at].end()
    if previous[end:].lstrip(" ").startswith(("'", "’")):
        return None  # "the ferry's captain": the noun belongs to another
    # The previous question's form of the noun: "And the last ferries?" asks of the ferry.
    phrase = " ".join([*parts[:-1], found[at].group(0)])
    swapped = previous[: found[start].start()] + phrase + previous[end:]
    return swapped if swapped != previous else None


def _swap_noun(previous: str, detail: str) -> list[str]:
    """ "And the secretary?" after "What did the treasurer report?" asks "What did the
    secretary report?": a noun with its "the" (or "a", "his", ...), new to the previous
    question, takes the place of what follows "the" (or "many", ...) there: two words ("the
    city council") if a word of content, its verb, follows them, or else one ("her son call
    her from"; "the treasurer report"), with or without a word like "first" before them ("And the last
    bus?" keeps its own); or of a pronoun ("When did she join?": "When did the treasurer
    join?"). The readings, one for each place, a pronoun's first, then those that replace
    more (none when the detail is no such noun); the documents tell which is meant
    (qa.assistant)."""
    if _NOT_A_PHRASE.search(detail):
        return []
    parts = _PLAIN_WORD.findall(detail)
    if len(parts) < 2 or parts[0].lower() not in _DETERMINERS:
        return []  # "And later?", "And yesterday?": no noun, nothing to swap
    if not all(p in _CONTRASTS for p in parts[1:-1]):
        return []
    noun = " ".join(parts[1:])
    if not noun.islower() or parts[-1] in STOPWORDS or parts[-1] in _CONTRASTS:
        return []
    found = list(_WORD.finditer(previous))  # "H8" one word
    if any(lemma(m.group(0).lower()) == lemma(parts[-1]) for m in found):
        return []  # "And the ferries?" after "When does the first ferry leave?": nothing new
    # "And the treasurer?" after "When did she join?": "When did the treasurer join?".
    readings = [
        previous[: m.start()] + " ".join(parts) + previous[m.end() :]
        for m in found
        if _SUBJECT.fullmatch(m.group(0))
    ]
    spans: list[tuple[int, str]] = []  # (words replaced, reading)
    plain = [m.group(0).islower() and m.group(0) not in STOPWORDS | _FUNCTION for m in found]
    # A name of one word ("the H8", "the Treasurer") before its verb: "And the installation?"
    # after "How much does the H8 cost?" asks "How much does the installation cost?". Not a
    # word of a longer name ("the Eiffel Tower").
    one_name = [
        not plain[i]
        and m.group(0)[:1].isalpha()
        and (m.group(0)[:1].isupper() or any(c.isdigit() for c in m.group(0)))
        and any(plain[i + 1 : i + 2])
        for i, m in enumerate(found)
    ]
    for i in range(1, len(found)):
        if found[i - 1].group(0).lower() not in _BEFORE_NOUN:
            continue
        first = i  # past "first" or "new", which the detail may or may not keep
        while first < len(found) and found[first].group(0) in _CONTRASTS:
            first += 1
        # "And the last bus?" brings its own "last": it takes the place of "first" too.
        for start in dict.fromkeys((i, first) if len(parts) == 2 else (i,)):
            # Two words ("the city council decide", not "the mayor council") where a word of
            # content follows them, its verb; else one ("her son call her": "call" is the verb).
            for last in (first + 1, first):
                if last >= len(found):
                    continue
                if last > first and not any(plain[last + 1 : last + 2]):
                    continue  # nothing after the two, or a small word: the second is a verb
                if not all(plain[start : last + 1]) and not (start == last and one_name[last]):
                    continue
                if previous[found[last].end() :].startswith(("'", "’")):
                    continue  # "the ferry's captain": the noun belongs to another
                reading = previous[: found[start].start()] + noun + previous[found[last].end() :]
                spans.append((last - start, reading))
                break
    spans.sort(key=lambda span: -span[0])  # stable: the earlier place first among equals
    return list(dict.fromkeys(readings + [reading for _, reading in spans]))


def _without_names(previous: str, new: list[str]) -> str:
    """What `previous` asks, without its names: "And in Tyva?" after "How many soldiers from
    Buryatia came home?" asks how many soldiers came home, of Tyva instead ("And Vasily?"
    after "Who is Ailana?" asks "Who is"). Empty if not a word would be left."""
    kept, at = [], 0
    for m, name in _name_matches(previous):
        if name not in new:
            kept.append(previous[at : m.start()])
            at = m.end()
    text = "".join(kept) + previous[at:]
    text = re.sub(r"^\W+|\W+$|\s+(?=[,.!])|(?<=\s)[/&-](?=\s)", "", text)
    text = " ".join(text.split())
    return text if words(text) else ""


def _kind(question: str) -> frozenset[str] | None:
    """The kind of person pronoun `question` holds ("he", "she", "they"), if any."""
    said = set(words(question))
    return next((frozenset(k) for k in _KINDS if k & said), None)


def _referents(question: str, users: list[str], answers: list[str]) -> list[str]:
    """What a pronoun of `question` may point at: the names of the latest question that has
    any ("What happened to her son?" after "Who is Ailana?" still means Ailana), with, after
    "Who heads X?", the full names its answer quotes (she is the head); a question with the
    same pronoun is passed over, its pronoun standing for the same one. "it" and the like
    look at the latest question only, and take no name from its answer. None if no recent
    question names anyone."""
    kind = _kind(question)
    person = kind is not None and "they" not in kind
    # "it", "its", "this": the thing the last question asked about, not a person named before
    # it ("Who was its last keeper?" after "When was the lighthouse automated?" is not about
    # the mayor an earlier answer named).
    look_back = LOOK_BACK if kind else 1
    found: list[str] = []
    for same in (True, False):
        looked = 0
        for turn, answer in zip_longest(users, answers[: len(users)]):
            if same and kind and _kind(turn) == kind:
                # "Who did he found the quartet with?" after "When did he move to Sweden?":
                # he is still the one named before, not Sweden; such questions, a chain of
                # them, do not count against the look-back.
                continue
            if looked == look_back:
                break
            looked += 1
            quoted = _QUOTED.match(answer) if answer else None
            if kind and _WHO.match(turn) and quoted:
                asked = set(names(turn))
                # Not the name asked about again ("Judge Karin Öberg" for "Karin Öberg").
                found += [
                    n for n in names(quoted.group(1)) if " " in n and not any(a in n for a in asked)
                ]
            # "he" or "she" is no "H6" or "Vireo H8": a person's name has no figure ("they"
            # may be "the 55th Brigade").
            found += [n for n in names(turn) if not (person and _FIGURE.search(n))]
            if found:
                return list(dict.fromkeys(found))
    return []
