"""Resolve follow-up questions against the chat history (pronouns and ellipsis)."""

from __future__ import annotations

import re

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


def contextualize(question: str, history: list[dict] | None) -> str:
    """The question to search with: the follow-up, plus what it refers back to."""
    previous = last_user_turn(history)
    if not previous:
        return question
    content = [w for w in words(question) if w not in STOPWORDS]
    if _ELLIPTIC_START.match(question) or len(content) <= 1:
        # "And in Buryatia?" repeats the previous question with a new detail.
        return f"{previous} {question}"
    if _PRONOUN.search(question):
        referents = names(previous) or [w for w in words(previous) if w not in STOPWORDS]
        if referents:
            return f"{question} ({' '.join(referents)})"
    return question
