"""Each passage's sentences, analysed once, when the index is built.

Answering looks inside the best passages for quotes of one or two sentences, and needs every
sentence's span, paragraph, index terms in order, and a few facts read from its text (does it
hold a number, a date, capitalised names; does it end like a sentence; is it cut off). They
are worked out here, at index time, and kept as flat arrays in the index (memory-mapped from
the cache, no Python object per sentence), so a question re-tokenises only itself.

A passage's sentences are those of its paragraphs inside it, then the first sentence of the
paragraph after it (a quote may reach into it). Inside sentences are stored in passage order
and their terms, concatenated, are the passage's own (the terms BM25 indexes): the term ids
are the index's forward index, shared with the postings' build. Every sentence's token ids
for the semantic vectors (:mod:`bot.core.semantic`; 2 bytes each) are stored too, so a
passage's sentence vectors are sums of stored ids, not a tokenisation per question.
"""

from __future__ import annotations

import bisect
import itertools
import re
from array import array
from collections import Counter, _count_elements  # type: ignore[attr-defined]
from collections.abc import Mapping, Sequence
from operator import attrgetter
from typing import NamedTuple, Protocol

import numpy as np

from bot.core import encoder, semantic
from bot.core.analysis import Analyzer
from bot.core.segment import Unit, paragraphs, sentences

SENTENCE_ENDS = (".", "!", "?", "…", ":")
_CLOSERS = "\"'”’)]"
# Page furniture, never a quote: text cut off mid-word ("…driving im...", a teaser), or a
# link's label ("Read more: …", "Related: …", "See also: …").
_FURNITURE = re.compile(
    r"\w(\.\.\.|…)[\"'”’)\]]*$|^\W*(read more|related( articles?| stories)?|see also|"
    r"more on this( story)?|recommended)\s*:",
    re.I,
)
# A quantity: digits that are not a year, or a number word.
_NUMBER = re.compile(
    r"\d+(?:[.,]\d+)*%?(?<!\b1\d{3})(?<!\b20\d{2})(?!\d)|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|"
    r"forty|fifty|sixty|seventy|eighty|ninety|hundreds?|thousands?|millions?|billions?|"
    r"dozens?|half|once|twice)\b",
    re.I,
)
_DATE = re.compile(
    r"\b(1\d{3}|20\d{2})s?\b|\b(January|February|March|April|May|June|July|August|September|"
    r"October|November|December|century|centuries|decade)\b",
    re.I,
)
# An amount of money: a currency sign or code beside a number, or a number of pounds, dollars...
_MONEY = re.compile(
    r"[£$€¥]\s?\d|\d\s?(?:[mb]n?\b|million|billion)?\s?(?:pounds|dollars|euros|yen|"
    r"USD|GBP|EUR|pence|cents)\b|\b(?:USD|GBP|EUR)\s?\d",
    re.I,
)
_CAPITALISED = re.compile(r"(?<=[\s(“\"'‘])[A-Z][\w'’-]*")

# Bits of a sentence's flags.
NUMBER, DATE, IS_SENTENCE, FURNITURE, MONEY = 1, 2, 4, 8, 16

_NONE: frozenset[str] = frozenset()
_END = attrgetter("end")
NEXT_NONE = -1  # the passage's paragraph is its document's last
NEXT_LIVE = -2  # the next sentence is no stored sentence: analysed when asked (never seen)


class Sentence(NamedTuple):
    """One analysed sentence (a named tuple: made for every candidate passage of every
    question, so as cheap to make as can be)."""

    start: int
    end: int
    paragraph: int
    terms: tuple[str, ...]  # index terms in order
    tf: Counter[str]
    number: bool
    date: bool
    names: frozenset[str]  # capitalised words past the sentence's first, case-folded
    is_sentence: bool  # ends like a sentence (not a headline, caption or link)
    furniture: bool  # cut off mid-word, or a link's label: page furniture, never a quote
    money: bool


def flags(body: str) -> int:
    return (
        NUMBER * bool(_NUMBER.search(body))
        | DATE * bool(_DATE.search(body))
        | IS_SENTENCE * body.rstrip(_CLOSERS).endswith(SENTENCE_ENDS)
        | FURNITURE * bool(_FURNITURE.search(body))
        | MONEY * _money(body)
    )


# A currency sign or word, looked for first (a substring test is much cheaper than _MONEY,
# and few sentences hold one).
_CURRENCY_SIGNS = ("£", "$", "€", "¥")
_CURRENCY_WORDS = ("pound", "dollar", "euro", "yen", "usd", "gbp", "eur", "pence", "cent")


def _money(body: str) -> bool:
    if not any(c in body for c in _CURRENCY_SIGNS):
        lower = body.lower()
        if not any(w in lower for w in _CURRENCY_WORDS):
            return False
    return bool(_MONEY.search(body))


def name_spans(body: str) -> list[tuple[int, int]]:
    """Capitalised words past the first, as spans into ``body``."""
    return [m.span() for m in _CAPITALISED.finditer(body)]


# (number, date, is_sentence, furniture, money) of each value of a sentence's flags
_FLAGS = tuple(
    tuple(bool(f & bit) for bit in (NUMBER, DATE, IS_SENTENCE, FURNITURE, MONEY)) for f in range(32)
)
FLAG_VALUES = len(_FLAGS)  # a stored sentence's flags are below this


def sentence(
    text: str, start: int, end: int, paragraph: int, terms: tuple[str, ...], bits: int, names
) -> Sentence:
    tf: Counter[str] = Counter()
    _count_elements(tf, terms)
    number, date, is_sentence, furniture, money = _FLAGS[bits]
    return Sentence(
        start,
        end,
        paragraph,
        terms,
        tf,
        number,
        date,
        frozenset([text[start + a : start + b].casefold() for a, b in names]) if names else _NONE,
        is_sentence,
        furniture,
        money,
    )


def analyse(text: str, start: int, end: int, paragraph: int, analyzer: Analyzer) -> Sentence:
    """One sentence analysed from its text (what the index stores, made on the spot)."""
    body = text[start:end]
    terms = tuple(analyzer.terms(text, start, end))
    return sentence(text, start, end, paragraph, terms, flags(body), name_spans(body))


class SpanBuilder:
    """Collects the sentences of passages as they are analysed, passage after passage, document
    after document (:func:`bot.core.analysed.analyse`: one document)."""

    def __init__(self, analyzer: Analyzer) -> None:
        self.analyzer = analyzer
        self.s_start: list[int] = []
        self.s_end: list[int] = []
        self.s_para: list[int] = []
        self.s_flags = bytearray()
        self.s_tok: list[int] = [0]
        self.s_name: list[int] = [0]
        self.names: list[int] = []  # flat (start, end) pairs, relative to the sentence
        self.s_piece: list[int] = [0]
        self.pieces = array("H")  # every sentence's semantic token ids (a 30,522-token vocabulary)
        self.p_sent: list[int] = [0]
        self.p_next: list[int] = []
        self._doc_first = 0  # first sentence of the current document
        self._pending: list[tuple[int, tuple[int, int]]] = []  # (passage, span of its next)

    def passage(self, text: str, paras: Sequence[Unit], start: int, end: int) -> list[str]:
        """Analyse the passage ``text[start:end]`` (``paras``: its document's paragraphs);
        returns its terms (its sentences' terms, in order)."""
        terms: list[str] = []
        self.p_next.append(NEXT_NONE)
        # paragraphs are in order: skip those ending before the passage without a scan
        for para in itertools.islice(paras, bisect.bisect_right(paras, start, key=_END), None):
            if para.start >= end:  # the next paragraph: only its first sentence
                span = sentences(text, para.start, para.end)[0]
                self._pending.append((len(self.p_next) - 1, span))
                break
            for s, e in sentences(text, max(para.start, start), min(para.end, end)):
                body = text[s:e]
                words = self.analyzer.terms(text, s, e)
                terms += words
                self.s_start.append(s)
                self.s_end.append(e)
                self.s_para.append(para.paragraph)
                self.s_flags.append(flags(body))
                self.s_tok.append(self.s_tok[-1] + len(words))
                for a, b in name_spans(body):
                    self.names += (a, b)
                self.s_name.append(len(self.names) // 2)
                self.pieces.extend(semantic.token_ids(body))
                self.s_piece.append(len(self.pieces))
        self.p_sent.append(len(self.s_start))
        return terms

    def end_document(self) -> None:
        """Point each passage of the document just done at its next sentence (the first of
        a later passage of the same document)."""
        first = self._doc_first
        where = {
            (s, e): first + i
            for i, (s, e) in enumerate(zip(self.s_start[first:], self.s_end[first:], strict=True))
        }
        for p, span in self._pending:
            self.p_next[p] = where.get(span, NEXT_LIVE)
        self._pending.clear()
        self._doc_first = len(self.s_start)

    def arrays(self) -> dict[str, np.ndarray]:
        """The sentences as flat arrays (8-byte integers: the index narrows them)."""
        ints = {
            name: np.asarray(getattr(self, name), np.int64)
            for name in (
                "s_start",
                "s_end",
                "s_para",
                "s_tok",
                "s_name",
                "s_piece",
                "p_sent",
                "p_next",
            )
        }
        return {
            **ints,
            "s_flags": np.frombuffer(bytes(self.s_flags), np.uint8),
            "names": np.asarray(self.names, np.int32).reshape(-1, 2),
            "pieces": np.frombuffer(self.pieces, np.uint16),
        }


class HasTerms(Protocol):
    @property
    def terms(self) -> Sequence[str]: ...


class Spans:
    """The stored sentences of one segment's passages."""

    ARRAYS = (
        "s_start",
        "s_end",
        "s_para",
        "s_flags",
        "s_tok",
        "s_name",
        "names",
        "p_sent",
        "p_next",
        "tokens",
        "s_piece",
        "pieces",
        "s_vec",
    )

    def __init__(self, arrays: Mapping[str, np.ndarray], segment: HasTerms) -> None:
        for name in self.ARRAYS:
            setattr(self, name, arrays[name])
        self.segment = segment  # its terms (by id) are the tokens' (read when needed)

    @property
    def contextual(self) -> bool:
        """Every sentence has its contextual vector (``s_vec``, :mod:`bot.core.encoder`)."""
        return len(self.s_vec) == len(self.s_start)

    @property
    def nbytes(self) -> int:
        return sum(getattr(self, n).nbytes for n in self.ARRAYS)

    def passage(self, pid: int, text: str, analyzer: Analyzer) -> tuple[list[Sentence], int]:
        """Passage ``pid``'s sentences (those inside it, then the next one) and how many of
        them lie inside. ``text``: its document's; ``analyzer`` serves only a next sentence
        that is not stored."""
        lo, hi = int(self.p_sent[pid]), int(self.p_sent[pid + 1])
        nxt = int(self.p_next[pid])
        rows = [(lo, hi)] if nxt < 0 else [(lo, hi), (nxt, nxt + 1)]
        out = []
        terms = self.segment.terms
        for a, b in rows:  # each run of sentences read at once
            tok = self.s_tok[a : b + 1].tolist()
            words = list(map(terms.__getitem__, self.tokens[tok[0] : tok[-1]].tolist()))
            at = self.s_name[a : b + 1].tolist()
            names = self.names[at[0] : at[-1]].tolist()
            for n, (start, end, para, bits) in enumerate(
                zip(
                    self.s_start[a:b].tolist(),
                    self.s_end[a:b].tolist(),
                    self.s_para[a:b].tolist(),
                    self.s_flags[a:b].tolist(),
                    strict=True,
                )
            ):
                own = tuple(words[tok[n] - tok[0] : tok[n + 1] - tok[0]])
                spans = names[at[n] - at[0] : at[n + 1] - at[0]]
                out.append(sentence(text, start, end, para, own, bits, spans))
        if nxt == NEXT_LIVE:
            out.append(analyse(text, *self._live_next(pid, text), analyzer))
        return out, hi - lo

    def vectors(self, pid: int, text: str, contextual: bool) -> np.ndarray:
        """Passage ``pid``'s sentences' vectors (float32, those :meth:`passage` returns, one
        row each): contextual (:mod:`bot.core.encoder`; only if :attr:`contextual`), or the
        static token sums (:func:`bot.core.semantic.token_sums`)."""
        lo, hi = int(self.p_sent[pid]), int(self.p_sent[pid + 1])
        nxt = int(self.p_next[pid])
        rows = np.arange(lo, hi + (nxt >= 0))
        if nxt >= 0:
            rows[-1] = nxt
        if contextual:
            out = self.s_vec[rows].astype(np.float32)
        else:
            out = semantic.sums(self.pieces, self.s_piece[rows], self.s_piece[rows + 1])
        if nxt == NEXT_LIVE:
            s, e, _ = self._live_next(pid, text)
            live = encoder.encode if contextual else semantic.token_sums
            out = np.concatenate([out, live([text[s:e]])])
        return out

    def _live_next(self, pid: int, text: str) -> tuple[int, int, int]:
        """The span and paragraph of a passage's next sentence that is not stored."""
        # paragraphs are numbered from 1: this is the one after the passage's last sentence's
        para = paragraphs(text)[int(self.s_para[int(self.p_sent[pid + 1]) - 1])]
        s, e = sentences(text, para.start, para.end)[0]
        return s, e, para.paragraph
