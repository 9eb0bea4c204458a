"""Answering a question with verbatim quotes.

1. BM25 finds the best passages for the question's content words (:mod:`bot.core.question`).
2. Inside each, every window of one sentence, or two adjacent ones (the second may open the
   next paragraph), that holds a question word is a candidate quote; the span model
   (:mod:`bot.core.ranking`) scores it from explainable features, and a passage's best window
   is its quote.
3. The refusal model turns the best quote's evidence into the probability that the corpus
   answers the question; below the fitted threshold the bot says the corpus does not answer,
   naming the question's words the corpus never uses (or, when it uses them all, the ones no
   passage holds together with the rest).
4. Quotes from different documents that say the same thing are grouped ("also in"); the same
   text twice (a document added twice, a repeated caption) is shown once.
"""

from __future__ import annotations

import bisect
import itertools
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from bot.core import encoder, semantic
from bot.core.bm25 import compile_kernels
from bot.core.index import SearchIndex
from bot.core.models import Answer, Cited, Document, Quote, Timings
from bot.core.question import AnswerType, Word, answer_type, clean, content_words
from bot.core.ranking import SPAN_FEATURES, Weights, load_weights, sigmoid
from bot.core.segment import Unit, paragraphs
from bot.core.spans import Sentence


class AnswerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    quotes: int = Field(default=3, ge=1, le=25, description="quotes per answer")
    candidates: int = Field(default=30, ge=1, le=1000, description="passages re-scored")
    min_confidence: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="refuse below this probability that the corpus answers; "
        "default: the fitted operating point",
    )
    corroboration: float = Field(
        default=0.45, ge=0.0, le=1.0, description="word overlap (Jaccard) for 'also in'"
    )
    max_question_chars: int = Field(default=500, ge=10, le=4000)


def prepare() -> None:
    """Compile the search kernels and load the vectors and the sentence encoder now (about
    1 s the first time), rather than at the first question."""
    compile_kernels()
    semantic.load()
    encoder.load()


class QuestionError(ValueError):
    """A question that cannot be searched; the message is shown to the user as is."""


def check_question(question: str, settings: AnswerSettings) -> str:
    q = clean(question)
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


SHORT_QUOTE = 250  # two sentences this short make one quote whatever the second holds
SENTENCE_TERMS = 12.0  # a typical sentence's content terms: the length BM25 normalises to


@dataclass(frozen=True, slots=True)
class _Passage:
    """A passage, analysed: its terms, its sentences, then the sentence opening the next
    paragraph (a quote may reach into it)."""

    terms: frozenset[str]
    sentences: tuple[Sentence, ...]
    inside: int  # how many of ``sentences`` lie in the passage
    vectors: np.ndarray  # each sentence's vector (SearchIndex.vectors)


@dataclass(frozen=True, slots=True)
class Window:
    """A candidate quote: sentences ``first..last`` of a passage."""

    pid: int
    doc: Document
    start: int
    end: int
    paragraph: int
    matched: frozenset[str]  # surfaces of the question words inside
    terms: frozenset[str]  # every index term of the window


@dataclass(slots=True)
class Candidates:
    """Everything the models see about one question."""

    question: str
    words: list[Word]
    windows: list[Window]
    features: np.ndarray  # one row per window, SPAN_FEATURES order
    passage_coverage: dict[int, float]
    document_coverage: dict[int, float]
    kind: AnswerType | None
    search_ms: float


class Answerer:
    """Answers questions from one :class:`SearchIndex`. Thread-safe."""

    def __init__(
        self,
        index: SearchIndex,
        settings: AnswerSettings | None = None,
        weights: Weights | None = None,
        contextual: bool | None = None,
    ) -> None:
        """``contextual``: the semantic features from the contextual encoder (by default
        when the index holds its vectors), else from the static word vectors."""
        self.index = index
        self.settings = settings or AnswerSettings()
        self.contextual = index.contextual if contextual is None else contextual
        if self.contextual and not index.contextual:
            raise ValueError("this index holds no contextual vectors")
        self.models = (weights or load_weights()).models(self.contextual)
        self._embed = encoder.embed if self.contextual else semantic.embed
        self._paragraphs: dict[str, list[Unit]] = {}
        self._heading_starts: dict[str, frozenset[int]] = {}
        self._numbers = frozenset(index.analyzer.terms(NUMBER_WORDS))

    @property
    def threshold(self) -> float:
        s = self.settings.min_confidence
        return self.models.threshold if s is None else s

    def answer(self, question: str, k: int | None = None) -> Answer:
        t0 = time.perf_counter()
        cands = self.candidates(check_question(question, self.settings))
        k = k or self.settings.quotes
        scores = self.models.span.score(cands.features) if cands.windows else np.zeros(0)
        order = sorted(range(len(scores)), key=lambda i: -scores[i])
        confidence = self.confidence(cands, scores, order)
        answered = bool(order) and confidence >= self.threshold
        ranked = [(cands.windows[i], float(scores[i])) for i in order]
        groups = self._group(ranked, k) if answered else []
        cited = [
            Cited(quote=self._quote(*group[0]), also_in=[self._quote(*m) for m in group[1:]])
            for group in groups
        ]
        return Answer(
            question=cands.question,
            answered=bool(cited),
            results=cited,
            unmatched_terms=self._unmatched(cands, groups, ranked),
            absent_terms=[w.surface for w in cands.words if not w.terms],
            confidence=round(confidence, 4),
            timings=Timings(search_ms=cands.search_ms, total_ms=(time.perf_counter() - t0) * 1000),
        )

    # -- candidates and features -------------------------------------------------------

    def candidates(self, question: str) -> Candidates:
        """The question's candidate windows in the best BM25 passages, with their features."""
        t0 = time.perf_counter()
        words = content_words(self.index, question)
        terms = sorted({t for w in words for t in w.terms})
        hits = self.index.bm25.top(terms, self.settings.candidates) if terms else []
        search_ms = (time.perf_counter() - t0) * 1000
        kind = answer_type(question)
        total = sum(w.weight for w in words) or 1.0
        k1, b = self.index.bm25.settings.k1, self.index.bm25.settings.b
        best = hits[0][1] if hits else 1.0
        doc_best: dict[int, float] = {}
        for pid, score in hits:
            doc_best.setdefault(int(self.index.p_doc[pid]), score)
        numbers = self._numbers
        wanted = Wanted(
            kind,
            frozenset(w.surface.casefold() for w in words),
            frozenset(t for w in words for t in w.terms if _is_number(t, numbers)),
            numbers,
        )
        pairs = _pairs(words)
        rarest = max(words, key=lambda w: w.weight) if words else None
        meaning = self._embed(question)
        windows: list[Window] = []
        vectors: list[np.ndarray] = []
        rows: list[list[float]] = []
        coverage: dict[int, float] = {}
        doc_coverage = self._document_coverage(words, doc_best, total)
        for pid, passage_score in hits:
            passage = self._passage(pid)
            coverage[pid] = _coverage(words, passage.terms) / total
            doc = self.index.document_of(pid)
            passage_row = (
                passage_score / total,
                passage_score / best,
                doc_best[int(self.index.p_doc[pid])] / best,
                coverage[pid],
                doc_coverage[int(self.index.p_doc[pid])],
            )
            sents = passage.sentences
            headings = self._headings(doc)
            for i in range(passage.inside):
                for j in (i, i + 1):
                    if j >= len(sents) or (
                        j > i and not _extends(sents[i], sents[j], words, wanted)
                    ):
                        continue
                    window = sents[i : j + 1]
                    if any(s.furniture or s.start in headings for s in window) or _label(window):
                        continue
                    tf = window[0].tf if j == i else window[0].tf + window[1].tf
                    matched = [w for w in words if any(t in tf for t in w.terms)]
                    if not matched:
                        continue
                    length = sum(len(s.terms) for s in window)
                    norm = k1 * (1 - b + b * length / SENTENCE_TERMS)
                    bm25 = 0.0
                    for w in matched:
                        n = sum(tf[t] for t in w.terms)
                        bm25 += w.weight * n * (k1 + 1) / (n + norm)
                    start, end = window[0].start, window[-1].end
                    vectors.append(passage.vectors[i : j + 1].sum(axis=0))
                    rows.append(
                        [
                            bm25 / total,
                            sum(w.weight for w in matched) / total,
                            *passage_row,
                            float(wanted.held_by(window)),
                            math.log(end - start),
                            float(j > i),
                            float(not window[-1].is_sentence),
                            _proximity(window, matched),
                            _phrases(window, pairs),
                            float(rarest in matched),
                            len(matched) / len(words),
                        ]
                    )
                    windows.append(
                        Window(
                            pid,
                            doc,
                            start,
                            end,
                            window[0].paragraph,
                            frozenset(w.surface for w in matched),
                            frozenset(tf),
                        )
                    )
        # The lexical features per window, then the two semantic ones (SPAN_FEATURES' last).
        similarity = semantic.unit(np.asarray(vectors).reshape(-1, len(meaning))) @ meaning
        features = np.column_stack(
            [
                np.asarray(rows, dtype=np.float64).reshape(-1, len(SPAN_FEATURES) - 2),
                similarity,
                similarity - (similarity.max() if len(similarity) else 0.0),
            ]
        )
        return Candidates(
            question, words, windows, features, coverage, doc_coverage, kind, search_ms
        )

    def _document_coverage(
        self, words: Sequence[Word], docs: Iterable[int], total: float
    ) -> dict[int, float]:
        """For each of ``docs``, the idf-weighted share of the question's words it holds
        (a binary search of each word's postings for the document's passage range)."""
        docs = list(docs)
        lo, hi = self.index.passage_ranges(docs)
        held = np.zeros(len(docs))
        for w in words:
            has = np.zeros(len(docs), np.bool_)
            for t in w.terms:
                p = self.index.bm25.postings(t)
                if len(p):
                    i = np.searchsorted(p, lo)
                    has |= (i < len(p)) & (p[np.minimum(i, len(p) - 1)] < hi)
            held += np.where(has, w.weight, 0.0)
        return dict(zip(docs, (held / total).tolist(), strict=True))

    def refusal_features(
        self, cands: Candidates, scores: np.ndarray, order: Sequence[int]
    ) -> list[float]:
        """The refusal model's features (REFUSAL_FEATURES order); ``order`` ranks windows."""
        words = cands.words
        total = sum(w.weight for w in words) or 1.0
        missing = sum(w.weight for w in words if not w.terms) / total
        missing_name = float(any(w.is_name and not w.terms for w in words))
        top = order[0]
        top_pid = cands.windows[top].pid
        runner_up = next((i for i in order if cands.windows[i].pid != top_pid), None)
        margin = scores[top] - scores[runner_up] if runner_up is not None else 1.0
        f = cands.features[top]
        col = list(SPAN_FEATURES).index
        return [
            float(scores[top]),
            float(f[col("span_coverage")]),
            max(cands.passage_coverage.values()),
            max(cands.document_coverage.values()),
            missing,
            missing_name,
            float(margin),
            float(f[col("answer_type")]),
            math.log1p(len(words)),
            float(f[col("semantic")]),
            # (the best quote's wording may be diluted, a long sentence quoting someone)
            float(cands.features[:, col("semantic")].max()),
        ]

    def confidence(self, cands: Candidates, scores: np.ndarray, order: Sequence[int]) -> float:
        """Probability that the corpus answers the question (0 when nothing matched)."""
        if not order:
            return 0.0
        x = np.asarray([self.refusal_features(cands, scores, order)])
        return sigmoid(float(self.models.refusal.score(x)[0]))

    # -- documents, paragraphs, passages -----------------------------------------------

    def highlights(self, quote: Quote) -> list[tuple[int, int]]:
        """Spans of ``quote.text`` that are question words (for bold), never overlapping."""
        wanted = {
            t for w in content_words(self.index, " ".join(quote.matched_terms)) for t in w.terms
        }
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

    def paragraphs_of(self, doc: Document) -> list[Unit]:
        paras = self._paragraphs.get(doc.id)
        if paras is None:
            paras = paragraphs(doc.text)
            self._paragraphs[doc.id] = paras
        return paras

    def _headings(self, doc: Document) -> frozenset[int]:
        """Where the document's section headings start: a heading names what its section
        is about (each quote's attribution shows it) but claims nothing, so it is no quote."""
        found = self._heading_starts.get(doc.id)
        if found is None:
            found = frozenset(start for start, _ in doc.sections or ())
            self._heading_starts[doc.id] = found
        return found

    def _passage(self, pid: int) -> _Passage:
        """A passage's sentences, their terms and vectors, as analysed when the index was
        built."""
        sents, inside = self.index.sentences(pid)
        return _Passage(
            frozenset(itertools.chain.from_iterable(s.terms for s in sents[:inside])),
            tuple(sents),
            inside,
            self.index.vectors(pid, self.contextual),
        )

    # -- choosing and grouping quotes --------------------------------------------------

    def _unmatched(
        self,
        cands: Candidates,
        groups: Sequence[Sequence[tuple[Window, float]]],
        ranked: Sequence[tuple[Window, float]],
    ) -> list[str]:
        """Question words not shown: with quotes, those no quote holds; when refusing, those
        the closest passage lacks."""
        words = cands.words
        if groups:
            shown = set().union(*(w.matched for g in groups for w, _ in g))
            return [w.surface for w in words if w.surface not in shown]
        if not ranked:
            return [w.surface for w in words]
        best = self._passage(ranked[0][0].pid).terms
        return [w.surface for w in words if not any(t in best for t in w.terms)]

    def _group(
        self, ranked: Sequence[tuple[Window, float]], k: int
    ) -> list[list[tuple[Window, float]]]:
        """Up to ``k`` groups: each a quote and the quotes of other documents saying the same.
        A window overlapping, or repeating the text of, one already taken is dropped."""
        groups: list[list[tuple[Window, float]]] = []
        seen_text: set[str] = set()
        for window, score in ranked:
            text = " ".join(window.doc.text[window.start : window.end].split())
            if text in seen_text:
                continue
            home = None
            duplicate = False
            for g, members in enumerate(groups):
                for m, _ in members:
                    same_doc = m.doc.id == window.doc.id
                    if same_doc and window.start < m.end and m.start < window.end:
                        duplicate = True
                    elif _similar(window.terms, m.terms, self.settings.corroboration):
                        if same_doc:
                            duplicate = True
                        elif home is None:
                            home = g
                if duplicate:
                    break
            if duplicate:
                continue
            seen_text.add(text)
            if home is not None:
                if all(m.doc.id != window.doc.id for m, _ in groups[home]):
                    groups[home].append((window, score))
            elif len(groups) < k:
                groups.append([(window, score)])
        return groups

    def _quote(self, window: Window, score: float) -> Quote:
        return Quote.from_document(
            window.doc,
            window.start,
            window.end,
            paragraph=window.paragraph,
            score=round(score, 6),
            matched_terms=sorted(window.matched, key=str.casefold),
        )


def _coverage(words: Sequence[Word], terms: frozenset[str]) -> float:
    return sum(w.weight for w in words if any(t in terms for t in w.terms))


def _extends(first: Sentence, second: Sentence, words: Sequence[Word], wanted: Wanted) -> bool:
    """A second sentence joins a quote when both are short, or when it adds a question word
    the first lacks, or the kind of answer asked for (a number, a date) the first lacks; never
    with a fragment (a headline, dateline or caption is not part of a statement), nor after a
    sentence that holds neither a question word nor the kind of answer asked for."""
    if not (first.is_sentence and second.is_sentence):
        return False
    holds_first = wanted.held_by((first,))
    if not holds_first and not any(t in first.tf for w in words for t in w.terms):
        return False  # a leading sentence carries the question or its answer
    if wanted.kind != "entity" and not holds_first and wanted.held_by((second,)):
        return True
    if second.end - first.start <= SHORT_QUOTE:
        return True
    return any(
        any(t in second.tf for t in w.terms) and not any(t in first.tf for t in w.terms)
        for w in words
    )


@dataclass(frozen=True, slots=True)
class Wanted:
    """What a question asks for, and what it gives (which is not its answer)."""

    kind: AnswerType | None
    asked: frozenset[str]  # the question's words, case-folded
    given: frozenset[str]  # the index terms of the numbers the question holds
    numbers: frozenset[str]  # the index terms of number words

    def held_by(self, window: Sequence[Sentence]) -> bool:
        """Whether the window holds the kind of thing the question asks for (a number the
        question gives, "the three brothers", does not answer "how long")."""
        kind = self.kind
        if kind == "entity":
            return any(s.names - self.asked for s in window)
        if kind == "date":
            return any(s.date for s in window)
        if kind not in ("number", "money") or not any(
            s.money if kind == "money" else s.number for s in window
        ):
            return False
        return not self.given or any(
            t not in self.given and _is_number(t, self.numbers) for s in window for t in s.terms
        )


def _is_number(term: str, numbers: frozenset[str]) -> bool:
    """Whether an index term is a number: digits, or one of ``numbers`` (number words)."""
    return term[:1].isdigit() or term in numbers


def _proximity(window: Sequence[Sentence], matched: Sequence[Word]) -> float:
    """Question words held per term of the shortest stretch holding one of each (1 when they
    stand together, towards 0 when spread out); 0 for a single word."""
    if len(matched) < 2:
        return 0.0
    terms = [t for s in window for t in s.terms]
    owner = {t: n for n, w in enumerate(matched) for t in w.terms}
    last: dict[int, int] = {}
    best = len(terms)
    for pos, t in enumerate(terms):
        n = owner.get(t)
        if n is None:
            continue
        last[n] = pos
        if len(last) == len(matched):
            best = min(best, pos - min(last.values()) + 1)
    return len(matched) / best if best else 0.0


NUMBER_WORDS = (
    "one two three four five six seven eight nine ten eleven twelve dozen dozens hundred "
    "hundreds thousand thousands million millions billion billions"
)
LABEL_WORDS = 6  # a fragment of fewer words, alone, is a heading or label: it claims nothing


def _label(window: Sequence[Sentence]) -> bool:
    """A window that is only a heading, caption or label: no quote on its own."""
    return len(window) == 1 and not window[0].is_sentence and len(window[0].terms) < LABEL_WORDS


def _pairs(words: Sequence[Word]) -> list[frozenset[tuple[str, str]]]:
    """The question's adjacent content words, each pair as the term pairs standing for it."""
    return [
        frozenset((x, y) for x in a.terms for y in b.terms) for a, b in itertools.pairwise(words)
    ]


def _phrases(window: Sequence[Sentence], pairs: Sequence[frozenset[tuple[str, str]]]) -> float:
    """Share of the question's word pairs that stand side by side in the window."""
    if not pairs:
        return 0.0
    terms = [t for s in window for t in s.terms]
    adjacent = set(itertools.pairwise(terms))
    return sum(bool(p & adjacent) for p in pairs) / len(pairs)


def _similar(a: frozenset[str], b: frozenset[str], threshold: float) -> bool:
    """Jaccard overlap of two quotes' index terms."""
    return bool(a and b) and len(a & b) / len(a | b) >= threshold
