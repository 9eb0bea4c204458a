"""English text analysis: text to index terms, each with its character span in the original.

Tokens are found in the original text (so a term always points back at the exact characters
it came from); each token is then normalised (NFKC, case folding, accents, apostrophes,
possessives, thousands separators) and stemmed with Snowball (PyStemmer).
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache, cached_property

import simplemma
import Stemmer
from pydantic import BaseModel, ConfigDict, Field, field_validator

# Lucene/Snowball-style English stopwords: function words that carry no topic. Question words
# ("who", "when", "how") are stopwords too: BM25 cannot use them, and an answer must not match
# on them.
ENGLISH_STOPWORDS = frozenset(
    """
    a about above after again against all am an and any are aren as at be because been before
    being below between both but by can cannot could couldn did didn do does doesn doing don
    down during each few for from further had hadn has hasn have haven having he her here hers
    herself him himself his how i if in into is isn it its itself just let ll me more most mustn
    my myself no nor not now of off on once only or other ought our ours ourselves out over own
    re s same shan she should shouldn so some such t than that the their theirs them themselves
    then there these they this those through to too under until up ve very was wasn we were
    weren what when where which while who whom why will with won would wouldn you your yours
    yourself yourselves d m o y ain also however yet whose shall may might must tell told say
    says said please anyone anything something someone many much
    """.split()
)

# A token is a number (with optional thousands separators and decimals) or a run of letters
# and marks with optional inner apostrophes ("didn't", "O’Neill").
_TOKEN = re.compile(
    r"\d{1,3}(?:,\d{3})+(?:\.\d+)?(?!\d)"  # 1,400 or 1,400.5
    r"|\d+(?:\.\d+)?"  # 1400, 16, 2.5
    r"|[^\W\d_]+(?:['’][^\W\d_]+)*",  # words, with inner apostrophes
)
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "`": "'"})


class AnalysisSettings(BaseModel):
    """How text becomes terms. Part of the index cache key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    stemmer: str | None = Field(
        default="english", description='Snowball stemmer language, or "none"'
    )
    stopwords: bool = True
    extra_stopwords: tuple[str, ...] = ()
    keep_stopwords: tuple[str, ...] = Field(
        default=(), description="words to keep even though they are on the stopword list"
    )
    fold_numbers: bool = Field(default=True, description="'1,400' and '1400' are the same term")
    fold_accents: bool = Field(default=True, description="'Dvořák' and 'Dvorak' are the same term")
    lemmatizer: str | None = Field(
        default="en",
        description="simplemma language whose lemmas come before stemming ('froze' -> "
        "'freeze', 'youngest' -> 'young'), or none",
    )
    min_token_chars: int = Field(default=1, ge=1, le=10)

    @field_validator("lemmatizer", mode="before")
    @classmethod
    def _known_lemmatizer(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().lower() in ("", "none"):
            return None
        if isinstance(value, str):
            try:
                simplemma.lemmatize("test", lang=value)
            except ValueError:
                raise ValueError(
                    f"unknown lemmatizer language {value!r}; simplemma's codes: en, de, fr, ..."
                ) from None
        return value

    @field_validator("stemmer", mode="before")
    @classmethod
    def _known_stemmer(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().lower() in ("", "none"):
            return None
        if isinstance(value, str) and value not in Stemmer.algorithms():
            raise ValueError(
                f"unknown stemmer {value!r}; one of: none, {', '.join(Stemmer.algorithms())}"
            )
        return value


@dataclass(frozen=True, slots=True)
class Token:
    term: str  # the normalised, stemmed index term
    start: int  # span of the original characters
    end: int


class Analyzer:
    """Turns text into index terms. Thread-safe: each thread gets its own stemmer."""

    def __init__(self, settings: AnalysisSettings | None = None) -> None:
        self.settings = settings or AnalysisSettings()
        self._local = threading.local()
        self._cache: dict[str, str | None] = {}

    @cached_property
    def stopwords(self) -> frozenset[str]:
        s = self.settings
        if not s.stopwords:
            return frozenset(w.casefold() for w in s.extra_stopwords)
        words = (ENGLISH_STOPWORDS | {w.casefold() for w in s.extra_stopwords}) - {
            w.casefold() for w in s.keep_stopwords
        }
        return frozenset(words)

    def _stemmer(self) -> Stemmer.Stemmer | None:
        if self.settings.stemmer is None:
            return None
        stemmer = getattr(self._local, "stemmer", None)
        if stemmer is None:
            stemmer = Stemmer.Stemmer(self.settings.stemmer)
            self._local.stemmer = stemmer
        return stemmer

    def normalise(self, word: str) -> str | None:
        """One raw token to its index term, or None for a stopword or a too-short token."""
        cached = self._cache.get(word)
        if cached is not None or word in self._cache:
            return cached
        term = self._normalise(word)
        if len(self._cache) < 200_000:
            self._cache[word] = term
        return term

    def _normalise(self, word: str) -> str | None:
        w = unicodedata.normalize("NFKC", word).casefold().translate(_APOSTROPHES)
        if self.settings.fold_accents and not w.isascii():
            w = "".join(c for c in unicodedata.normalize("NFKD", w) if not unicodedata.combining(c))
        if w[0].isdigit():
            return w.replace(",", "") if self.settings.fold_numbers else w
        if w.endswith("'s"):
            w = w[:-2]
        if w in self.stopwords or len(w) < self.settings.min_token_chars:
            return None
        if self.settings.lemmatizer:
            w = simplemma.lemmatize(w, lang=self.settings.lemmatizer).casefold()
        stemmer = self._stemmer()
        if stemmer is not None:
            w = stemmer.stemWord(w.replace("'", ""))
        return w or None

    def tokens(self, text: str, start: int = 0, end: int | None = None) -> Iterator[Token]:
        """Index terms of ``text[start:end]``, with spans into ``text``."""
        for m in _TOKEN.finditer(text, start, len(text) if end is None else end):
            term = self.normalise(m.group())
            if term is not None:
                yield Token(term, m.start(), m.end())

    def terms(self, text: str, start: int = 0, end: int | None = None) -> list[str]:
        return [t.term for t in self.tokens(text, start, end)]

    def query_words(self, text: str) -> list[tuple[str, str]]:
        """(surface word, term) for each content word of a question, first occurrence only."""
        seen: set[str] = set()
        out: list[tuple[str, str]] = []
        for tok in self.tokens(text):
            if tok.term not in seen:
                seen.add(tok.term)
                out.append((text[tok.start : tok.end], tok.term))
        return out


@cache
def analyzer_for(settings: AnalysisSettings) -> Analyzer:
    """One shared analyzer per settings (thread-safe; its cache of normalised words serves
    every index made with them)."""
    return Analyzer(settings)
