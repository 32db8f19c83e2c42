"""Resolve follow-up questions against the chat history (pronouns and ellipsis)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .text import STOPWORDS, words

_PRONOUN = re.compile(
    r"\b(he|she|him|her|his|hers|they|them|their|theirs|it|its|this|that|these|those|there)\b",
    re.IGNORECASE,
)
_ELLIPTIC_START = re.compile(r"^\s*(and|what about|how about|also|but)\b", re.IGNORECASE)
_NAME = re.compile(r"\b[A-Z][\w'’-]*(?:\s+[A-Z][\w'’-]*)*")
_QUESTION_WORDS = {"Who", "What", "When", "Where", "Why", "How", "Which", "Whose", "Is", "Are", "Did", "Does", "Do", "Was", "Were", "Can", "The", "A", "An", "And", "In", "On", "Of"}  # fmt: skip


def last_user_turn(history: list[dict] | None) -> str:
    for message in reversed(history or []):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str) and content.strip():
                return content
    return ""


def names(text: str) -> list[str]:
    """Capitalised word groups, minus question words: the entities a pronoun may point at."""
    out = []
    for m in _NAME.finditer(text):
        parts = [w for w in m.group(0).split() if w not in _QUESTION_WORDS]
        if parts:
            out.append(" ".join(parts).rstrip("'’s").rstrip("'’"))
    return out


@dataclass(frozen=True)
class Resolved:
    """A question ready to search: `question` picks the sentences; `context`, when set, is the
    question with what it refers back to, and picks the passages they are read from."""

    question: str
    context: str | None = None

    @property
    def shown(self) -> str:
        return self.context or self.question


def resolve(question: str, history: list[dict] | None) -> Resolved:
    """Resolve a follow-up against the last question of `history`."""
    previous = last_user_turn(history)
    if not previous:
        return Resolved(question)
    content = [w for w in words(question) if w not in STOPWORDS]
    if _ELLIPTIC_START.match(question) or len(content) <= 1:
        # "And in Buryatia?" repeats the previous question with a new detail.
        return Resolved(f"{previous} {question}")
    if _PRONOUN.search(question):
        # "Where did her son call her from?" after "Who is Ailana?": the name says which
        # passages to read, but the sentence that answers often says "he", not "Ailana", so
        # sentences are still matched on the follow-up's own words.
        referents = names(previous) or [w for w in words(previous) if w not in STOPWORDS]
        if referents:
            return Resolved(question, f"{question} ({' '.join(referents)})")
    return Resolved(question)
