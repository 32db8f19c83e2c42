"""qa: ask questions of documents; every answer quotes the exact sentences it rests on."""

from .errors import QAError
from .results import Answer, Citation


def __getattr__(name: str):
    # Assistant pulls in numpy, faiss and the index code; `qa --help` must not pay for it.
    if name == "Assistant":
        from .assistant import Assistant

        return Assistant
    raise AttributeError(f"module 'qa' has no attribute {name!r}")


__all__ = ["Answer", "Assistant", "Citation", "QAError"]
