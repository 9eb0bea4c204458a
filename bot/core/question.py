"""Reading a question: clean it, find its content words and the kind of answer it asks for.

Nothing here knows about documents: a question becomes :class:`Word` s (each with the index
terms that stand for it and its idf) and an expected :data:`AnswerType`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from bot.core.index import SearchIndex

AnswerType = Literal["money", "number", "date", "entity"]

MIN_PREFIX = 5  # shortest stem that may stand for a longer or shorter corpus term
MIN_FUZZY = 6  # shortest unknown word matched to a corpus term one edit away (a typo)

# Discord markup that is not part of the question: user, role and channel mentions, @everyone
# and @here, and a leading "@Name" (a mention typed as text).
_MENTIONS = re.compile(r"<@[!&]?\d+>|<#\d+>|@(?:everyone|here)\b|^\s*@\S+")

# What kind of answer a question asks for. A preference for spans holding such a thing, never
# a filter; the first pattern that matches anywhere in the question decides. A question asking
# for a reason or a manner wants no number, date or name, whatever it holds.
_TYPES: tuple[tuple[AnswerType | None, re.Pattern[str]], ...] = (
    (None, re.compile(r"^\W*(why|how (do|does|did|can|could|should|is|are|was|were))\b", re.I)),
    (
        "date",
        re.compile(
            r"\b(when|what (year|date|day|month|century|decade|period|time)|"
            r"(which|what|in which|in what) (year|years|century|decade|month|era|period)|"
            r"how long ago|since when|until when|what age)\b",
            re.I,
        ),
    ),
    (
        "money",
        re.compile(
            r"\bhow much\b.*\b(costs?|pay|paid|spen[dt]|charged?|worth|earn(ed)?|raised?|sold|"
            r"price[sd]?)\b|\bhow much money\b|"
            r"\bwhat (is|was|are|were|will be)?\s?(the )?(\w+ )?(costs?|prices?|budget|fees?)\b|"
            r"^(?!.*\b(who|what|when|where|which|why|how)\b).*\b(costs?|prices?|budget|fees?)\b",
            re.I,
        ),
    ),
    (
        "number",
        re.compile(
            r"\bhow (many|much|old|young|long|far|large|big|high|tall|often|fast|heavy|wide)\b|"
            r"\bwhat (number|percentage|percent|proportion|share|amount|size|age|fraction)\b",
            re.I,
        ),
    ),
    (
        "entity",
        re.compile(r"\b(who|whom|whose|where|which \w+|(the )?name of|called|named)\b", re.I),
    ),
)


@dataclass(frozen=True, slots=True)
class Word:
    """A content word of the question."""

    surface: str  # as the user wrote it
    terms: tuple[str, ...]  # index terms that count as this word (empty: not in the corpus)
    weight: float  # its idf
    is_name: bool  # capitalised, and not the question's first word


def clean(question: str) -> str:
    """The question without Discord mentions (@everyone and @here too), white space
    collapsed."""
    return " ".join(_MENTIONS.sub(" ", question).split())


def answer_type(question: str) -> AnswerType | None:
    for kind, pattern in _TYPES:
        if pattern.search(question):
            return kind
    return None


def content_words(index: SearchIndex, question: str) -> list[Word]:
    """The question's content words, each with the index terms that stand for it: its own
    term; for a word the corpus lacks, corpus terms sharing its stem as a prefix ("complaint"
    finds "complain"), else a corpus term one edit away when the word is long (a typo or a
    spelling variant). A word with no terms weighs as much as the rarest corpus term."""
    bm25 = index.bm25
    words = []
    for n, (surface, term) in enumerate(index.analyzer.query_words(question)):
        is_name = surface[:1].isupper() and n > 0
        if term in bm25.vocab:
            terms: tuple[str, ...] = (term,)
        else:
            terms = bm25.prefix_relatives(term, MIN_PREFIX) or _near(index, term)
        weight = max((bm25.term_idf(t) for t in terms), default=bm25.term_idf(term))
        words.append(Word(surface, terms, weight, is_name))
    return words


def _near(index: SearchIndex, term: str) -> tuple[str, ...]:
    """The corpus term one edit away from a long unknown term, if there is one."""
    if len(term) < MIN_FUZZY or term.isdigit():
        return ()
    best = index.bm25.one_edit_away(term)
    return (best,) if best else ()
