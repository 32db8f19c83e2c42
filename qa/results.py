"""What the assistant returns: small frozen dataclasses with a JSON form."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

_BRACKETED_NUMBER = re.compile(r"\[(\d+)\]")


def plural(n: int, noun: str) -> str:
    """ "1 passage", "1,024 passages"."""
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def quoted(text: str) -> str:
    """`text` in quotation marks for an answer's text, a "[2]" of its own (a footnote) written
    "(2)": in `Answer.text` every "[n]" is a reference to `citations[n-1]`."""
    return "“" + _BRACKETED_NUMBER.sub(r"(\1)", text) + "”"


@dataclass(frozen=True)
class Citation:
    """An exact excerpt: `document` text [start:end] == `text`; `context` is its passage."""

    text: str
    document: str
    start: int
    end: int
    context: str
    score: float
    context_start: int = 0  # offset of `context` in the document, to highlight the excerpt in it

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Answer:
    """`[n]` in `text` refers to `citations[n-1]`; `closest` holds passages shown on abstention
    (each as its `context`; the first has as its excerpt the one an answer would have quoted
    first, the others the whole passage)."""

    text: str
    abstained: bool
    confidence: float
    citations: list[Citation] = field(default_factory=list)
    closest: list[Citation] = field(default_factory=list)
    question: str = ""  # the question as searched, after resolving follow-ups

    def read_as(self, asked: str) -> str | None:
        """The question as it was read, where that differs from `asked`, the question as
        typed (a slip mended, a follow-up completed); None where it does not."""
        return None if self.question.split() in ([], asked.split()) else self.question

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "abstained": self.abstained,
            "confidence": round(self.confidence, 4),
            "citations": [c.to_dict() for c in self.citations],
            "closest": [c.to_dict() for c in self.closest],
            "question": self.question,
        }
