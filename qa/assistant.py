"""The public entry point: build or load an index, then ask questions and search."""

from __future__ import annotations

import contextlib
import copy
import operator
import os
import re
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from . import store
from .answer import (
    Model,
    Scored,
    asks_which,
    asks_why,
    default_model,
    headline_of,
    score,
    select_excerpts,
)
from .chunk import ChunkParams
from .embed import Embedder, default_embedder, one_blas_thread
from .errors import QAError
from .followup import PRONOUNS, Resolved, names, resolve
from .index import Index, build
from .ingest import Document, count_documents, read_paths, without_surrogates
from .names import clash
from .results import Answer, Citation, quoted
from .spelling import mend
from .staging import FOLDER as staging_folder
from .staging import Staging
from .text import TERMS_VERSION, _stem, terms
from .tokens import question_vectors

MAX_QUESTION_CHARS = 2000
CITATIONS = 3


# BM25 keeps pronouns as terms; they say nothing of what a follow-up asks.
_PRONOUN_TERMS = frozenset(terms(" ".join(PRONOUNS)))


def _asked_terms(question: str) -> set[str]:
    """The terms of `question` that say what it asks: its pronouns left out."""
    return set(terms(question)) - _PRONOUN_TERMS


# Verbs that say little of what is asked: "make" in "Did Nordlys make a loss?".
_LIGHT_VERBS = frozenset(_stem(w) for w in ("make", "take", "give", "get", "go", "put", "keep"))


def _name_terms(question: str) -> set[str]:
    """The terms of the names in `question` ("Ailana" in "Is Ailana married?")."""
    return set(terms(" ".join(names(question))))


# A question answered yes or no: what it asks is its predicate, beside the names.
_YES_NO = re.compile(
    r"^\W*(is|are|was|were|do|does|did|has|have|had|can|could|will|would|should)\b", re.I
)

# "How much does a plot cost?" asks for a sum of money, which "Plot rents for 2025 have been
# paid by 71 of the 84 plot holders" does not give (unlike "Tickets are free.").
_ASKS_PRICE = re.compile(
    r"^\W*how\s+much\b(?=.*\b(?:cost|costs|costing|pay|paid|pays|paying|price|prices|priced|"
    r"rent|rents|spend|spent|fine|fined|charge|charges|charged|fee|fees|worth|salary|wage|"
    r"wages|earn|earns|earned|budget|fund|funding|invest|invested|donate|donated)\b)",
    re.IGNORECASE,
)
_MONEY = re.compile(
    r"[$£€¥₹₽]\s?\d|\d(?-i:p)\b|\d\s*(?:[kmb]n?|million|billion|thousand|hundred)?\s*(?:euros?|dollars?|"
    r"pounds?|pence|cents?|rubles?|roubles?|kronor|krona|kroner|krone|yen|yuan|francs?|rupees?|"
    r"usd|eur|gbp|nok|sek|dkk|chf|rub|jpy)\b|\b(?:usd|eur|gbp|nok|sek|dkk|chf|rub|jpy)\s?\d|"
    r"\bfree\b|\bno charge\b|\b(?:cost|costs|paid|pay|pays|priced at|charged?|fined|worth)\s+"
    r"(?:about|around|nearly|almost|over|under|just|some|up to|more than|less than)?\s*\d",
    re.IGNORECASE,
)
# A question that asks who or what a name is ("Who is Adam Lenton?"), and the most sentences
# that may hold the name for the one quoted to be all the documents say of it.
_WHO_IS = re.compile(r"^\W*(?:who|what)\s+(?:is|was|are|were)\s+(.+?)[\s?.!]*$", re.I)
FEW_MENTIONS = 2
CHANGE_ATTEMPTS = 5  # add() or remove() made again on what another process saved meanwhile
_ARTICLE = re.compile(r"^(?:the|a|an)\s+", re.I)


class Assistant:
    """Answers questions from a set of documents, quoting the sentences it rests on."""

    def __init__(
        self,
        index: Index,
        *,
        embedder: Embedder | None = None,
        index_dir: Path | None = None,
        sources: Sequence[str] = (),
        model: Model | None = None,
        added: Iterable[str] = (),
        cwd: str | None = None,
    ) -> None:
        self.index = index
        self.embedder = embedder or default_embedder()
        self.index_dir = index_dir
        self.sources = list(sources)
        # The folder relative `sources` and ids are relative to: where they were read (None
        # for an index saved before qa kept it).
        self.cwd = cwd
        # Ids of the documents put in by add() rather than read from `sources` (the web app's
        # uploads); from_paths(..., keep_added=True) keeps them.
        self.added = set(added) & set(index.doc_position)
        # What from_paths found in folders but could not read, or does not read, each in a
        # line saying why (a scanned PDF, a .rtf file).
        self.skipped: list[str] = []
        self.model = model or default_model()
        # add() and remove() read, rebuild and swap the index: two at once would each drop
        # the other's change. Asks need no lock (see _pinned).
        self._writing = threading.Lock()
        # The saved version `index` is (None: not saved, or not known): another process may
        # save a newer one, which a change is then made to instead.
        self._version: str | None = None

    # -- building -------------------------------------------------------------------------
    @classmethod
    def from_paths(
        cls,
        paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
        *,
        index_dir: str | os.PathLike[str] | None = None,
        embedder: Embedder | None = None,
        progress: bool = True,
        index_type: str = "auto",
        model: Model | None = None,
        keep_added: bool = True,
    ) -> Assistant:
        """Index `paths` (files, folders, .jsonl), reusing a saved index in `index_dir` if current.

        With `index_dir=None` everything stays in memory. A saved index whose documents,
        model or chunking differ is rebuilt, re-embedding only the documents that changed.
        Documents are read and embedded in batches, so a huge .jsonl is never held whole, and
        an interrupted build resumes. `index_type` is flat, hnsw, ivfpq, or auto (by size).
        `model` is the learned scorer and confidence (default: `qa/weights.json`).
        The index holds the documents under `paths`, and those that `add` put in the saved
        index (uploads in the web app: their text is nowhere else), unless a path gives a
        document of the same id; with `keep_added=False`, the documents under `paths` alone.
        """
        if isinstance(paths, (str, bytes, os.PathLike)):
            paths = [paths]
        if not isinstance(paths, Iterable):
            raise QAError(f"pass a path or a list of paths, not {type(paths).__name__}")
        sources = []
        for p in paths:
            if not isinstance(p, (str, bytes, os.PathLike)):
                raise QAError(f"a path must be a str or os.PathLike, not {type(p).__name__}")
            sources.append(os.fsdecode(p))
        if not sources:
            raise QAError("no documents given; pass at least one file or folder")
        expected = count_documents(sources) if progress else None
        skipped: list[str] = []
        return cls.from_documents(
            read_paths(sources, skipped), index_dir=index_dir, embedder=embedder,
            sources=sources, progress=progress, index_type=index_type,
            expected_documents=expected, model=model, keep_added=keep_added, skipped=skipped,
        )  # fmt: skip

    @classmethod
    def from_documents(
        cls,
        docs: Iterable[Document],
        *,
        index_dir: str | os.PathLike[str] | None = None,
        embedder: Embedder | None = None,
        sources: Sequence[str] = (),
        progress: bool = True,
        index_type: str = "auto",
        expected_documents: int | None = None,
        model: Model | None = None,
        keep_added: bool = True,
        skipped: Sequence[str] = (),
    ) -> Assistant:
        embedder = embedder or default_embedder()
        directory = _as_dir(index_dir) if index_dir is not None else None
        loaded = _load_if_compatible(directory, embedder) if directory is not None else None
        previous = loaded.index if loaded is not None else None
        added: set[str] = set()
        saved: dict = {}  # the saved manifest: the loaded version's, if it loaded
        if loaded is not None:
            saved = loaded.manifest
        elif directory is not None:
            saved = store.read_manifest_or_none(directory) or {}
        if keep_added and directory is not None:
            added = _added_ids(saved)
            # From the index's vectors if it can be reused, else from its text files alone
            # (an index of another model or format is rebuilt, uploads included).
            kept = (
                [d for d in previous.documents if d.id in added]
                if previous is not None
                else store.added_documents(directory)
            )
            docs = _then_kept(docs, kept, added)
        if directory is not None and previous is None:
            store.check_writable(directory)  # else a whole build would be lost at the save
        params = ChunkParams()
        # Folders this build makes (the index folder and missing parents), gone if it fails.
        made = [p for p in (directory, *directory.parents) if not p.exists()] if directory else []
        staging = (
            Staging(directory / staging_folder, embedder, params) if directory is not None else None
        )
        counted = _Counted(_only_documents(docs))
        try:
            index = build(
                counted, embedder, params=params, previous=previous, progress=progress,
                index_type=index_type, staging=staging, expected_documents=expected_documents,
            )  # fmt: skip
            if not counted.n:
                raise QAError(
                    f"no documents found in {', '.join(sources) or 'the input'}"
                    + "".join(f"; {reason}" for reason in skipped[:3])
                )
        except QAError:
            # Bad input: leave no trace but the work worth resuming (batches already embedded).
            if staging is not None and not staging.docs and not staging.used:
                staging.discard()
                for folder in made:  # deepest first
                    with contextlib.suppress(OSError):
                        folder.rmdir()
            elif staging is not None:
                staging.release()
            raise
        # Saved when anything changed, the sources or the uploads kept included (an upload
        # whose id a path now gives is one no more).
        listed = (saved.get("sources"), sorted(saved.get("added") or []))
        version = loaded.version if loaded is not None else None
        if directory is not None and (
            index is not previous or listed != (list(sources), sorted(added))
        ):
            version = store.save(
                index, directory, embedder, sources=list(sources), added=added
            ).name
        if staging is not None:
            staging.discard()
        assistant = cls(
            index, embedder=embedder, index_dir=directory, sources=sources, model=model,
            added=added, cwd=os.getcwd(),
        )  # fmt: skip
        assistant.skipped = list(skipped)
        assistant._version = version
        return assistant

    @classmethod
    def load(
        cls, index_dir: str | os.PathLike[str], *, embedder: Embedder | None = None
    ) -> Assistant:
        """Open a saved index as it is; a damaged or foreign one is refused with a message."""
        embedder = embedder or default_embedder()
        directory = _as_dir(index_dir)
        loaded = store.load_current(directory, embedder)
        assistant = cls(loaded.index, embedder=embedder, index_dir=directory)
        assistant._adopt(loaded)
        return assistant

    def _adopt(self, loaded: store.Loaded) -> None:
        """Take the saved version `loaded` as this assistant's index."""
        manifest = loaded.manifest
        self.index = loaded.index
        self.sources = list(manifest.get("sources", []))
        self.added = _added_ids(manifest) & set(loaded.index.doc_position)
        self.cwd = manifest.get("cwd") if isinstance(manifest.get("cwd"), str) else None
        self._version = loaded.version

    @property
    def documents(self) -> list[Document]:
        """The indexed documents, each with its id, title and text as read."""
        return list(self.index.documents)

    def text_of(self, document: str) -> str:
        """The text of `document` (a citation's `document`) as read: the text its offsets
        index, also for a PDF, an HTML page, a .docx file or a JSON-lines record."""
        position = self.index.doc_position.get(document)
        if position is None:
            raise QAError(f"no document {document!r} in the index")
        return self.index.documents[position].text

    def add(
        self,
        docs: Sequence[Document],
        *,
        progress: bool = True,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> None:
        """Add or replace documents; only they are embedded. Saved if the index lives on disk.
        `on_progress` is told (passages embedded, passages to embed) as the work goes.
        A document with no text (empty or blank) is refused: nothing in it could be found."""
        given = list(_only_documents(docs))
        twice = next((i for i, k in Counter(d.id for d in given).items() if k > 1), None)
        if twice is not None:  # one would silently replace the other
            raise QAError(
                f"two of the documents added are both called {twice!r}; rename one and add them again"
            )
        new = {d.id: d for d in given}
        blank = next((i for i, d in new.items() if not d.text.strip()), None)
        if blank is not None:
            # Files are another matter: from_paths indexes an empty file and `qa index` notes
            # it, so a folder is not refused for one empty file.
            raise QAError(f"the document {blank!r} has no text; give it some text or leave it out")

        def with_new(documents: list[Document]) -> list[Document]:
            by_id = {d.id: d for d in documents}
            by_id.update(new)
            return list(by_id.values())

        with self._writing:
            self._change(with_new, progress, on_progress, added=new.keys())

    def remove(self, document_id: str) -> None:
        def without(documents: list[Document]) -> list[Document]:
            remaining = [d for d in documents if d.id != document_id]
            if not remaining:
                raise QAError("cannot remove the last document; index something else first")
            return remaining

        with self._writing:
            if not isinstance(document_id, str) or document_id not in self.index.doc_position:
                raise QAError(f"no document {document_id!r} in the index")
            self._change(without, progress=False)  # its id leaves `added` with it

    def _change(
        self,
        change: Callable[[list[Document]], list[Document]],
        progress: bool,
        on_progress: Callable[[int, int], None] | None = None,
        added: Iterable[str] = (),
    ) -> None:
        """Rebuild with `change` made to the documents. If another process saved the index
        folder meanwhile (another `qa serve`, a script calling add), the change is made to
        what it saved, so neither change is lost."""
        for attempt in range(CHANGE_ATTEMPTS):
            try:
                self._rebuild(change(self.documents), progress, on_progress, added)
                return
            except store.Moved:
                if attempt == CHANGE_ATTEMPTS - 1:
                    raise
                assert self.index_dir is not None
                self._adopt(store.load_current(self.index_dir, self.embedder))

    def _rebuild(
        self,
        docs: list[Document],
        progress: bool,
        on_progress: Callable[[int, int], None] | None = None,
        added: Iterable[str] = (),
    ) -> None:
        index = build(
            # An index saved with older terms has all its terms cut anew (cheaply: the vectors
            # stay), so that every document is searched by the same terms.
            docs, self.embedder, params=replace(self.index.params, terms_version=TERMS_VERSION),
            previous=self.index, progress=progress,
            index_type=self.index.index_type, on_progress=on_progress,
        )  # fmt: skip
        now_added = (self.added | set(added)) & set(index.doc_position)
        if self.index_dir is not None:
            self._version = store.save(
                index, self.index_dir, self.embedder, sources=self.sources, added=now_added,
                cwd=self.cwd, expect=self._version,
            ).name  # fmt: skip
        self.index = index  # swapped only after a successful save
        self.added = now_added

    # -- asking ---------------------------------------------------------------------------
    def ask(self, question: str, history: list[dict] | None = None) -> Answer:
        """Answer `question`, quoting the sentences it rests on, or abstain plainly."""
        return self._pinned().ask_ranked(question, history)[0]

    def ask_ranked(
        self, question: str, history: list[dict] | None = None
    ) -> tuple[Answer, list[Citation]]:
        """The answer, and the best-ranked excerpts whether or not it abstained (for evaluation)."""
        question = _clean_question(question)
        if not any(c.isalnum() for c in question):  # "", or "?" alone
            return Answer(text="Please ask a question.", abstained=True, confidence=0.0), []
        if self.index.n_sentences == 0:
            held = "The article holds" if len(self.index.documents) == 1 else "The documents hold"
            text = f"{held} no text to answer from" if self.index.documents else "No documents"
            text += f", so nothing answers {quoted(question)}: index a file that has text."
            return Answer(text=text, abstained=True, confidence=0.0, question=question), []
        # A slip ("repares") is mended with the documents' own word before anything reads it.
        resolved = resolve(mend(question, self.index), _check_history(history))
        scored = self._score(resolved)
        for reading in resolved.readings:
            # "And the mayor?" after "What did the city council decide?": "What did the
            # mayor decide?", or if the documents do not answer that, "What did the mayor
            # council decide?" if they answer it.
            if scored.confidence >= scored.model.threshold:
                break
            other = Resolved(reading)
            if (scored_other := self._score(other)).confidence >= scored.model.threshold:
                resolved, scored = other, scored_other
        searched = resolved.shown
        ranked = self._citations(scored, _asked_terms(searched), resolved.question)
        confidence = scored.confidence
        yes_no = _YES_NO.match(resolved.question) is not None
        asked = _asked_terms(resolved.question)
        named = _name_terms(resolved.question)
        own = asked - named - _LIGHT_VERBS
        referent = _asked_terms(resolved.context) - asked if resolved.context else set()
        if yes_no and (
            not self._mentions(own, scored)
            or not named <= self.index.sentence_bm25.vocab.keys()
            or not self._mentions(referent, scored, headline=True)
        ):
            # "Is Ailana married?" is not answered by a sentence (nor one beside it) that
            # names her but says nothing of marriage: the SQuAD-learned confidence, which
            # has seen few yes/no questions, does not know that. Nor is "Did Nordlys make a
            # loss?" by one that speaks of what was made, nor "Did Núñez study in Lisbon?" by
            # documents that never name Lisbon, nor "Is she married? (Lena Vik)" by "He
            # married ..." far from her name.
            confidence /= 2
        elif _ASKS_PRICE.match(resolved.question) and not (
            ranked and _MONEY.search(ranked[0].text)
        ):
            # The SQuAD-learned confidence sees a figure where a price is asked (on SQuAD's
            # dev articles two questions ask one).
            confidence /= 2
        elif ranked and clash(resolved.question, ranked[0].text):
            # Nor that "Astrid Lindqvist died in Bergen ..." answers "When did Nils Lindqvist
            # die?": it names another in the place of the name asked about (qa.names). On
            # SQuAD's dev articles that marks 17 unanswerable questions and 3 answerable ones.
            confidence /= 2
        elif (
            yes_no
            and asked
            and len(scored.sentences)
            and asked <= self.index.sentence_terms(int(scored.sentences[0]))
        ) or self._introduces(resolved.question, scored):
            # Nor that a sentence holding every word of "Is Olle Brandt a fisherman?" ("local
            # fisherman Olle Brandt") is the evidence, either way, that a reader checks. And
            # "Who is Adam Lenton?" of an article that names him once, as "U.S. political
            # scientist Adam Lenton": that sentence is all it says of him, so it is the
            # answer. The SQuAD-learned confidence, which saw few such questions, finds a
            # short question far from a long sentence and would abstain.
            confidence = max(confidence, scored.model.threshold)
        if not ranked or confidence < scored.model.threshold:
            closest = self._closest(scored, 2, ranked[0] if ranked else None)
            text = (
                # The closest passages may still hold the answer, unrecognised: they are
                # shown as context, without claiming they do not answer.
                # "does not seem to": it may say it in words the scorer does not recognise.
                f"{self._not_said(seem=True)}: no sentence answers {quoted(question)} with "
                "enough confidence. The closest passages are shown for context, not as an answer."
                if closest
                else f"{self._not_said()} anything that answers {quoted(question)}."
            )
            answer = Answer(
                text=text,
                abstained=True,
                confidence=confidence,
                closest=closest,
                question=searched,
            )
            return answer, ranked
        text = f"{quoted(ranked[0].text)} [1]"
        if len(ranked) > 1:
            text += " See also " + ", ".join(f"[{i}]" for i in range(2, len(ranked) + 1)) + "."
        answer = Answer(
            text=text,
            abstained=False,
            confidence=confidence,
            citations=ranked,
            question=searched,
        )
        return answer, ranked

    def search(self, query: str, k: int = 5) -> list[Citation]:
        """The `k` best passages for `query` by hybrid retrieval; `document` is the document id.
        `k` must be at least 1; an empty query finds nothing."""
        return self._pinned()._search(query, k)

    def _pinned(self) -> Assistant:
        """This assistant bound to the current index. add() and remove() in another thread swap
        `self.index`; an answer must read one index throughout, or it cites the wrong sentences."""
        return copy.copy(self)

    def _search(self, query: str, k: int) -> list[Citation]:
        try:
            if isinstance(k, bool):
                raise TypeError
            k = operator.index(k)  # an int, or a NumPy integer
        except TypeError:
            raise QAError(f"k must be a whole number, not {type(k).__name__}") from None
        if k < 1:
            raise QAError(f"k must be at least 1, not {k}")
        query = _clean_question(query, "query")
        if not any(c.isalnum() for c in query):  # "", or "?!" alone: nothing to search for
            return []
        from .retrieve import search_passages
        from .text import terms

        q = self.embedder.embed([query])[0]
        ranked = search_passages(
            self.index, q, list(dict.fromkeys(terms(query))), self.model.fusion
        )
        # A passage printed twice (the same file under two names, a repeated boilerplate) is
        # listed once, at its best rank.
        hits: list[Citation] = []
        seen: set[str] = set()
        for p, s in zip(ranked.ids.tolist(), ranked.fused.tolist(), strict=False):
            hit = self._passage_citation(int(p), float(s))
            if hit.text not in seen:
                seen.add(hit.text)
                hits.append(hit)
                if len(hits) == k:
                    break
        return hits

    def _score(self, resolved: Resolved) -> Scored:
        with one_blas_thread():
            return self._score_unlimited(resolved)

    def _score_unlimited(self, resolved: Resolved) -> Scored:
        texts = [resolved.question] + ([resolved.context] if resolved.context else [])
        if self.index.tokens is not None and self.model.tokens is not None:
            vectors, found = self.embedder.embed_with_tokens(texts)
        else:
            vectors, found = self.embedder.embed(texts), None

        def q_tokens(i: int) -> np.ndarray | None:
            return question_vectors(found[i].words, found[i].vectors) if found else None

        context = (resolved.context, vectors[1]) if resolved.context else None
        # A follow-up's referents, and its own names too: "her" in "Where did Agnes
        # Lindqvist open her studio?" may be Agnes Lindqvist, whoever was asked about before.
        within = (
            self._naming([*resolved.referents, *names(resolved.question)])
            if resolved.referents
            else None
        )
        scored = score(
            self.index, resolved.question, vectors[0], self.model, context, q_tokens(0), within
        )
        if resolved.context and resolved.about_referent:
            # "Where is she from? (Ailana)" read whole, referent included: the reading the
            # scorer is surer of answers. Its vector is already there; the cost is one score().
            whole = score(
                self.index, resolved.context, vectors[1], self.model, None, q_tokens(1), within
            )
            if whole.confidence > scored.confidence and self._speaks_to(resolved.question, whole):
                return whole
        return scored

    def _naming(self, referents: list[str]) -> np.ndarray | None:
        """The documents (positions) that name one of `referents` by its last word
        ("Delgado"), when that leaves others out: "Where did she work before?" after "Who is
        Rosa Delgado?" is not answered by another woman's biography. None when there is no
        referent, or every document or none names one (a follow-up asked of one article, a
        name the documents never use)."""
        last = {t[-1] for t in (terms(name) for name in referents) if t}
        if not last or len(self.index.documents) < 2:
            return None
        named = self.index.sentence_bm25.scores(sorted(last)) > 0
        found = np.unique(self.index.sent_doc[named])
        return found if 0 < len(found) < len(self.index.documents) else None

    def _speaks_to(self, question: str, scored: Scored) -> bool:
        """Whether the best sentence, or one beside it, holds a term of `question` itself: the
        referent may pick the sentence, but it must still say something about what was asked
        ("Is she married?" is not answered by any sentence that merely names her)."""
        return self._mentions(_asked_terms(question), scored)

    def _mentions(self, own: set[str], scored: Scored, headline: bool = False) -> bool:
        """Whether the best sentence, or one beside it (or with `headline`, its document's
        headline), holds one of the terms `own`."""
        if not own or not len(scored.sentences):
            return True
        top = int(scored.sentences[0])
        near = [
            s
            for s in (top - 1, top, top + 1)
            if 0 <= s < self.index.n_sentences
            and self.index.sent_doc[s] == self.index.sent_doc[top]
        ]
        if headline and (line := int(headline_of(self.index, np.array([top]))[0])) >= 0:
            near.append(line)
        return any(own & self.index.sentence_terms(s) for s in near)

    def _introduces(self, question: str, scored: Scored) -> bool:
        """Whether `question` asks only who or what a name is, the best sentence holds that
        name, capitalised as names are, and the name's rarest word stands in at most
        `FEW_MENTIONS` sentences of the index."""
        m = _WHO_IS.match(question)
        if m is None or not len(scored.sentences):
            return False
        name = _ARTICLE.sub("", m[1])
        top = self.index.sentence_text(int(scored.sentences[0]))
        # As the sentence writes it, so "who is adam lenton" finds "Adam Lenton"; "Buryat
        # soldiers" does not say who the Buryats are, nor "the harbour master" name anyone.
        found = re.search(rf"(?<!\w){re.escape(name)}(?!\w)", top, re.I)
        asked = set(terms(name))
        if found is None or not asked or not all(w[:1].isupper() for w in found[0].split()):
            return False
        if " " not in found[0].strip() and not re.search(r"\w", top[: found.start()]):
            return False  # "Funding was cut ...": any first word is capitalised
        lex = self.index.sentence_bm25
        return min(lex.units_with(t) for t in asked) <= FEW_MENTIONS

    def _not_said(self, seem: bool = False) -> str:
        one = len(self.index.documents) == 1
        if seem:
            return "The article does not seem to say" if one else "The documents do not seem to say"
        return "The article does not say" if one else "The documents do not say"

    def _citations(self, scored: Scored, asked: set[str], question: str) -> list[Citation]:
        """The best excerpts for `question`; after the first, those of another document only
        if they share a term with the question (`asked`), and one of its names if it names
        any: in a small collection the third best may be about anything ("By 1999 it employed
        210 people." for "How many people live on Holm?"), while one beside the answer in its
        own document may say it in other words."""
        chosen = select_excerpts(
            self.index,
            scored.sentences,
            scored.scores,
            scored.features[scored.order],
            scored.model,
            CITATIONS,
            asks_which(question),
            asks_why(question),
        )
        cited = [self._sentence_citation(first, last, sc) for first, last, sc in chosen]
        named = _name_terms(question)

        def shares(c: Citation) -> bool:
            said = set(terms(c.text))
            return bool(asked & said) and (not named or bool(named & said))

        return cited[:1] + [
            c for c in cited[1:] if not asked or c.document == cited[0].document or shares(c)
        ]

    def _sentence_citation(self, first: int, last: int, score: float) -> Citation:
        idx = self.index
        doc = idx.documents[idx.sent_doc[first]]
        start, end = int(idx.sent_start[first]), int(idx.sent_end[last])
        p = int(idx.sent_passage[first])
        c_start, c_end = idx.passage_span(p)
        c_start, c_end = min(c_start, start), max(c_end, end)
        return Citation(
            text=doc.text[start:end], document=doc.id, start=start, end=end,
            context=doc.text[c_start:c_end], score=float(score), context_start=c_start,
        )  # fmt: skip

    def _closest(self, scored: Scored, k: int, best: Citation | None) -> list[Citation]:
        """The k best passages, none overlapping or repeating one already shown (passages
        share a sentence inside long paragraphs; two documents may hold the same text).
        The first is the one that holds `best`, the excerpt an answer would have quoted
        first, with that excerpt as its `text` and the passage as its `context`: a passage
        searched for the whole question may lack it ("Who was her husband?" abstaining, and
        the two passages closest to it not naming him, where the best sentence does), and
        marked, it is found at a glance when it does answer, only too unsurely ("Repairs are
        expected to cost £410,000" for "How much will the repairs cost?", 0.41). It is the
        excerpt, not its best sentence alone: "Her sourdough now sells out most mornings by
        ten." is the best sentence for "Where did she work before? (Rosa Delgado)", but
        quoted with the sentence before it, which says "a pastry chef in Lyon"."""
        fused = dict(zip(scored.passages.ids.tolist(), scored.passages.fused.tolist(), strict=True))
        order = list(fused)
        first = -1
        if best is not None:
            first = int(self.index.sent_passage[self._sentence_at(best)])
            order = [first, *(p for p in order if p != first)]
        out: list[Citation] = []
        for p in order:
            score = float(fused.get(p, 0.0))
            if best is not None and p == first:
                c = replace(best, score=score)
            else:
                c = self._passage_citation(p, score)
            if not any(
                c.context == o.context
                or (
                    c.document == o.document
                    and c.context_start < o.context_start + len(o.context)
                    and o.context_start < c.context_start + len(c.context)
                )
                for o in out
            ):
                out.append(c)
                if len(out) == k:
                    break
        return out

    def _sentence_at(self, citation: Citation) -> int:
        """The sentence that `citation` (an excerpt of this index) starts with."""
        d = self.index.doc_position[citation.document]
        bounds = self.index.doc_rows()[1]
        first, last = int(bounds[d]), int(bounds[d + 1])
        return first + int(np.searchsorted(self.index.sent_start[first:last], citation.start))

    def _passage_citation(self, p: int, score: float) -> Citation:
        doc = self.index.documents[self.index.passage_doc[p]]
        start, end = self.index.passage_span(p)
        text = doc.text[start:end]
        return Citation(
            text=text,
            document=doc.id,
            start=start,
            end=end,
            context=text,
            score=score,
            context_start=start,
        )


def _clean_question(question: object, what: str = "question") -> str:
    if not isinstance(question, str):
        raise QAError(f"the {what} must be text, not {type(question).__name__}")
    # Lone surrogates (undecodable command-line bytes) cannot be printed or embedded.
    question = without_surrogates(question).replace("\x00", " ").strip()
    if len(question) > MAX_QUESTION_CHARS:
        raise QAError(
            f"the {what} has {len(question):,} characters; keep it to at most "
            f"{MAX_QUESTION_CHARS:,} characters"
        )
    # An answer's "[1]" pasted back at the end of a question is no part of it ("What is
    # [3]?" asks about a footnote, and keeps it).
    return _PASTED_MARKER.sub("", question).strip()


_PASTED_MARKER = re.compile(r"(\s*\[\d{1,3}\])+\s*$")


def _as_dir(index_dir: object) -> Path:
    if isinstance(index_dir, (str, os.PathLike)) and isinstance(os.fspath(index_dir), str):
        return Path(index_dir)
    raise QAError(f"index_dir must be a folder path (str or Path), not {type(index_dir).__name__}")


def _added_ids(manifest: dict) -> set[str]:
    """The ids a saved index's manifest lists as added beside its sources."""
    added = manifest.get("added")
    return {a for a in added if isinstance(a, str)} if isinstance(added, list) else set()


def _then_kept(docs: Iterable[Document], kept: list[Document], ids: set[str]) -> Iterator[Document]:
    """`docs`, then the `kept` documents whose ids they did not give; `ids` is left holding
    the ids of those kept."""
    seen = set()
    for doc in _only_documents(docs):
        seen.add(doc.id)
        yield doc
    ids.intersection_update(d.id for d in kept if d.id not in seen)
    yield from (d for d in kept if d.id in ids)


def _only_documents(docs: object) -> Iterator[Document]:
    """`docs` one by one (it may be a stream), refusing anything that is not a Document."""
    if isinstance(docs, (str, bytes, dict, Document)) or not isinstance(docs, Iterable):
        raise QAError("pass documents as a list of qa.ingest.Document(id=..., text=...)")
    for doc in docs:
        if not isinstance(doc, Document):
            raise QAError(f"expected a qa.ingest.Document, not {type(doc).__name__}")
        yield doc


_HISTORY = 'history must be a list of {"role": "user"|"assistant", "content": str} messages'


def _check_history(history: object) -> list[dict] | None:
    if history is None:
        return None
    if not isinstance(history, list) or not all(isinstance(m, dict) for m in history):
        raise QAError(_HISTORY)
    for n, m in enumerate(history, 1):
        if m.get("role") not in ("user", "assistant", "system"):
            # "bot" or "human" would be read as neither: the follow-up would lose its context.
            raise QAError(
                f"{_HISTORY}; message {n}'s role is {m.get('role')!r} "
                "(a system message is allowed and ignored)"
            )
        if not isinstance(m.get("content"), str):
            got = (
                f"message {n}'s content is {type(m['content']).__name__}, not str"
                if "content" in m
                else f"message {n} has no content"
            )
            raise QAError(f"{_HISTORY}; {got}")
    # Earlier questions are searched again with a follow-up, so they are cleaned the same way;
    # an over-long one (a chat keeps a refused question) is clipped rather than refused.
    return [
        {**m, "content": _clean_question(m["content"][:MAX_QUESTION_CHARS])}
        if m.get("role") == "user"
        else m
        for m in history
    ]


def _load_if_compatible(directory: Path, embedder: Embedder) -> store.Loaded | None:
    """The saved index to reuse vectors from, or None if there is none or it cannot be used."""
    try:
        return store.load_current(directory, embedder)
    except QAError as exc:
        if store.current_version(directory) is not None:
            print(f"qa: rebuilding: {getattr(exc, 'problem', exc)}", file=sys.stderr)
        return None


class _Counted:
    """Passes documents through, counting them (the input may be a one-pass generator)."""

    def __init__(self, docs: Iterable[Document]) -> None:
        self.docs = docs
        self.n = 0

    def __iter__(self) -> Iterator[Document]:
        for doc in self.docs:
            self.n += 1
            yield doc
