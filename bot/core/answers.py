"""Answering a question with verbatim quotes.

1. BM25 finds the best passages for the question's content words.
2. Inside each, the tightest span (one sentence, or two adjacent ones when the second adds
   question words) is re-scored by the idf-weighted share of question words it holds.
3. A passage that holds too little of the question (idf-weighted *coverage*) is not an
   answer; when no passage is, the corpus does not answer and we say so, with the words that
   were not found.
4. Quotes from different documents that say the same thing are grouped ("also in").
"""

from __future__ import annotations

import bisect
import re
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bot.core.index import SearchIndex
from bot.core.models import Answer, Cited, Document, Quote, Timings
from bot.core.segment import Unit, paragraphs, sentences


class AnswerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    quotes: int = Field(default=3, ge=1, le=25, description="quotes per answer")
    candidates: int = Field(default=30, ge=1, le=1000, description="passages re-scored")
    min_coverage: float = Field(
        default=0.35,
        ge=0.0,
        le=1.0,
        description="idf-weighted share of the question's words a passage must hold",
    )
    max_sentences: int = Field(default=2, ge=1, le=5, description="sentences per quote")
    corroboration: float = Field(
        default=0.45, ge=0.0, le=1.0, description="word overlap (Jaccard) for 'also in'"
    )
    max_question_chars: int = Field(default=500, ge=10, le=4000)


class QuestionError(ValueError):
    """A question that cannot be searched; the message is shown to the user as is."""


def check_question(question: str, settings: AnswerSettings) -> str:
    q = " ".join(question.split())
    if not q:
        raise QuestionError(
            "The question is empty: ask something, e.g. `ask what did the report find?`"
        )
    if len(q) > settings.max_question_chars:
        raise QuestionError(
            f"The question is {len(q):,} characters long; the limit is "
            f"{settings.max_question_chars:,}."
        )
    return q


# Ranking constants: general choices, not fitted to a question set (see README).
PASSAGE_WEIGHT = 0.25  # how much the whole passage's BM25 score adds to its best span's
FRAGMENT_FACTOR = 0.75  # a span that does not end like a sentence is worth less
SENTENCE_ENDS = (".", "!", "?", "…")
PASSAGE_CACHE = 50_000  # analysed passages kept per answerer
MIN_PREFIX = 5  # shortest stem that may stand for a longer or shorter corpus term
NUMBER_FACTOR = 1.25  # a question asking "how many" or "when" prefers spans with a number
_WANTS_NUMBER = re.compile(
    r"^\W*(how (many|much|old|young|long|often)|when|what (year|date|age|number))\b", re.I
)
_NUMBER = re.compile(r"\d")


@dataclass(frozen=True, slots=True)
class _Word:
    """A content word of the question."""

    surface: str  # as the user wrote it
    terms: tuple[str, ...]  # index terms that count as this word
    weight: float  # its idf
    is_name: bool  # capitalised, and not the question's first word


def _present(words: Sequence[_Word], terms: Iterable[str]) -> frozenset[str]:
    """Surface forms of the question words found among ``terms``."""
    found = set(terms)
    return frozenset(w.surface for w in words if any(t in found for t in w.terms))


@dataclass(frozen=True, slots=True)
class _Passage:
    """A passage, analysed: its terms, and per paragraph its sentences with term counts."""

    terms: frozenset[str]
    runs: tuple[tuple[int, list[tuple[int, int, Counter[str]]]], ...]


@dataclass(frozen=True, slots=True)
class _Candidate:
    doc: Document
    start: int
    end: int
    paragraph: int
    matched: frozenset[str]  # question words inside the span
    score: float
    terms: frozenset[str]  # every index term of the span


class Answerer:
    """Answers questions from one :class:`SearchIndex`. Thread-safe."""

    def __init__(self, index: SearchIndex, settings: AnswerSettings | None = None) -> None:
        self.index = index
        self.settings = settings or AnswerSettings()
        self._paragraphs: dict[str, list[Unit]] = {}
        self._analysed: dict[int, _Passage] = {}

    def answer(self, question: str, k: int | None = None) -> Answer:
        t0 = time.perf_counter()
        q = check_question(question, self.settings)
        k = k or self.settings.quotes
        words = self._query(q)
        total = sum(w.weight for w in words) or 1.0
        terms = sorted({t for w in words for t in w.terms})
        hits = self.index.bm25.top(terms, self.settings.candidates) if terms else []
        search_ms = (time.perf_counter() - t0) * 1000

        candidates: list[_Candidate] = []
        best_passage: frozenset[str] | None = None
        # A name (capitalised, not first word) that no document contains: the question is
        # about something the corpus does not cover.
        unknown_names = [w.surface for w in words if w.is_name and not w.terms]
        wants_number = bool(_WANTS_NUMBER.match(q))
        for pid, passage_score in [] if unknown_names else hits:
            doc = self.index.document_of(pid)
            passage = self._passage(pid)
            present = _present(words, passage.terms)
            if best_passage is None:
                best_passage = present
            if sum(w.weight for w in words if w.surface in present) / total < (
                self.settings.min_coverage
            ):
                continue
            span = self._best_span(doc, passage, words, wants_number)
            if span is not None:
                s, e, para, matched, value, span_terms = span
                score = value + PASSAGE_WEIGHT * passage_score
                candidates.append(_Candidate(doc, s, e, para, matched, score, span_terms))

        candidates.sort(key=lambda c: (-c.score, c.doc.id, c.start))
        groups = self._group(candidates, k)
        if groups:
            shown: set[str] = set().union(*(c.matched for g in groups for c in g))
        else:
            shown = set(best_passage or ())
        unmatched = [w.surface for w in words if w.surface not in shown]
        cited = [
            Cited(quote=self._quote(group[0]), also_in=[self._quote(c) for c in group[1:]])
            for group in groups
        ]
        return Answer(
            question=q,
            answered=bool(cited),
            results=cited,
            unmatched_terms=unmatched,
            timings=Timings(search_ms=search_ms, total_ms=(time.perf_counter() - t0) * 1000),
        )

    def _query(self, question: str) -> list[_Word]:
        """The question's content words, each with the index terms that stand for it: its own
        term, or for a word the corpus lacks, corpus terms sharing its stem as a prefix
        ("complaint" finds "complain", "disciplined" finds "disciplinari")."""
        bm25 = self.index.bm25
        words = []
        for n, (surface, term) in enumerate(self.index.analyzer.query_words(question)):
            is_name = surface[:1].isupper() and n > 0
            if term in bm25.vocab:
                words.append(_Word(surface, (term,), bm25.term_idf(term), is_name))
                continue
            alts = bm25.prefix_relatives(term, MIN_PREFIX)
            weight = max((bm25.term_idf(t) for t in alts), default=bm25.term_idf(term))
            words.append(_Word(surface, alts, weight, is_name))
        return words

    def highlights(self, quote: Quote) -> list[tuple[int, int]]:
        """Spans of ``quote.text`` that are question words (for bold), never overlapping."""
        wanted = {t for w in self._query(" ".join(quote.matched_terms)) for t in w.terms}
        return [
            (t.start, t.end) for t in self.index.analyzer.tokens(quote.text) if t.term in wanted
        ]

    def paragraph_at(self, doc: Document, offset: int) -> int:
        """1-based number of the paragraph holding (or nearest before) ``offset``."""
        paras = self.paragraphs_of(doc)
        i = bisect.bisect_right([p.start for p in paras], offset) - 1
        return paras[max(i, 0)].paragraph if paras else 1

    def context_spans(self, quote: Quote, around: int = 1) -> list[Unit]:
        """The quote's paragraphs and ``around`` paragraphs either side."""
        doc = self.index.by_id[quote.doc_id]
        paras = self.paragraphs_of(doc)
        first = self.paragraph_at(doc, quote.start) - 1
        last = self.paragraph_at(doc, max(quote.start, quote.end - 1)) - 1
        return paras[max(0, first - around) : last + around + 1]

    # -- spans -------------------------------------------------------------------------

    def paragraphs_of(self, doc: Document) -> list[Unit]:
        paras = self._paragraphs.get(doc.id)
        if paras is None:
            paras = paragraphs(doc.text)
            self._paragraphs[doc.id] = paras
        return paras

    def _passage(self, pid: int) -> _Passage:
        """A passage's sentences and their terms, analysed once and kept (bounded)."""
        cached = self._analysed.get(pid)
        if cached is not None:
            return cached
        doc = self.index.document_of(pid)
        p_start, p_end = int(self.index.p_start[pid]), int(self.index.p_end[pid])
        analyzer = self.index.analyzer
        runs = []
        for para in self.paragraphs_of(doc):
            if para.end <= p_start or para.start >= p_end:
                continue
            sents = sentences(doc.text, max(para.start, p_start), min(para.end, p_end))
            runs.append(
                (
                    para.paragraph,
                    [(s, e, Counter(analyzer.terms(doc.text, s, e))) for s, e in sents],
                )
            )
        passage = _Passage(
            frozenset(t for _, sents in runs for *_, c in sents for t in c), tuple(runs)
        )
        if len(self._analysed) >= PASSAGE_CACHE:
            self._analysed.clear()
        self._analysed[pid] = passage
        return passage

    def _best_span(
        self, doc: Document, passage: _Passage, words: Sequence[_Word], wants_number: bool
    ) -> tuple[int, int, int, frozenset[str], float, frozenset[str]] | None:
        """The best run of at most ``max_sentences`` sentences inside one paragraph of the
        passage: (start, end, paragraph, matched words, value, the span's terms). A span's
        value is the idf of the question words it holds, with BM25's term-frequency
        saturation; a further sentence is only taken if it adds question words, and a
        fragment that is not a sentence (a headline, a caption, a link) is worth less."""
        k1 = self.index.bm25.settings.k1
        best: tuple[Any, ...] | None = None
        for paragraph, sents in passage.runs:
            for i in range(len(sents)):
                tf: Counter[str] = Counter()
                for j in range(i, min(i + self.settings.max_sentences, len(sents))):
                    grown = tf + sents[j][2]
                    if j > i and _present(words, grown) == _present(words, tf):
                        break  # a further sentence must add question words
                    tf = grown
                    value = 0.0
                    matched = set()
                    for w in words:
                        n = sum(tf[t] for t in w.terms)
                        if n:
                            matched.add(w.surface)
                            value += w.weight * n * (k1 + 1) / (n + k1)
                    if not value:
                        continue
                    start, end = sents[i][0], sents[j][1]
                    if not doc.text[start:end].rstrip("\"'”’)]").endswith(SENTENCE_ENDS):
                        value *= FRAGMENT_FACTOR
                    if wants_number and _NUMBER.search(doc.text, start, end):
                        value *= NUMBER_FACTOR
                    key = (value, -(j - i), -(end - start))
                    if best is None or key > best[:3]:
                        best = (
                            *key,
                            start,
                            end,
                            paragraph,
                            frozenset(matched),
                            value,
                            frozenset(tf),
                        )
        return None if best is None else best[3:]  # type: ignore[return-value]

    # -- grouping ----------------------------------------------------------------------

    def _group(self, candidates: Sequence[_Candidate], k: int) -> list[list[_Candidate]]:
        """Up to ``k`` groups: each a quote and the quotes of other documents saying the same."""
        groups: dict[int, list[_Candidate]] = {}
        words: dict[int, frozenset[str]] = {}
        for n, cand in enumerate(candidates):
            terms = cand.terms
            home = None
            duplicate = False
            for g, members in groups.items():
                for m in members:
                    same_doc = m.doc.id == cand.doc.id
                    if same_doc and (cand.start < m.end and m.start < cand.end):
                        duplicate = True
                    elif _similar(terms, words[id(m)], self.settings.corroboration):
                        if same_doc:
                            duplicate = True
                        elif home is None:
                            home = g
                if duplicate:
                    break
            if duplicate:
                continue
            words[id(cand)] = terms
            if home is not None:
                if all(m.doc.id != cand.doc.id for m in groups[home]):
                    groups[home].append(cand)
            elif len(groups) < k:
                groups[n] = [cand]
        return list(groups.values())

    def _quote(self, cand: _Candidate) -> Quote:
        return Quote.from_document(
            cand.doc,
            cand.start,
            cand.end,
            paragraph=cand.paragraph,
            score=round(cand.score, 6),
            matched_terms=sorted(cand.matched, key=str.casefold),
        )


def _similar(a: frozenset[str], b: frozenset[str], threshold: float) -> bool:
    """Jaccard overlap of two quotes' index terms."""
    return bool(a and b) and len(a & b) / len(a | b) >= threshold
