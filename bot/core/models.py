"""Pydantic models at the core's boundaries: documents, passages, quotes and answers.

A :class:`Quote` can only be made through :func:`Quote.from_document`, which slices the
document and checks the slice: a quote that is not ``document.text[start:end]`` is never built.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any, Self
from urllib.parse import quote as quote_url

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator, model_validator

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"


class QuoteIntegrityError(RuntimeError):
    """A quote's text is not the exact slice of its document it claims to be."""


class DocumentMeta(BaseModel):
    """Front matter of a corpus document. Nothing here is ever inferred or invented."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str | None = Field(default=None, pattern=SLUG_PATTERN)
    title: str | None = Field(default=None, min_length=1, max_length=300)
    publisher: str | None = Field(default=None, min_length=1, max_length=200)
    author: str | None = Field(default=None, min_length=1, max_length=200)
    published: dt.date | None = None
    url: HttpUrl | None = None
    retrieved: dt.date | None = None  # when a web page was fetched (added by URL)

    @field_validator("published", "retrieved", mode="before")
    @classmethod
    def _date_only(cls, value: Any) -> Any:
        if isinstance(value, dt.datetime):
            return value.date()
        return value


class Document(BaseModel):
    """One corpus document: its text exactly as stored, and its metadata."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(pattern=SLUG_PATTERN)
    collection: str = "default"
    text: str = Field(min_length=1)
    meta: DocumentMeta = DocumentMeta()
    path: str | None = None
    # Character offsets at which each PDF page starts; None for documents without pages.
    page_starts: tuple[int, ...] | None = None
    # The label printed on each page ("iv", "44"), when it is not the page's number.
    page_labels: tuple[str, ...] | None = None
    # (offset, heading) where each section starts, in order; None: no headings known.
    sections: tuple[tuple[int, str], ...] | None = None

    @property
    def title(self) -> str:
        return self.meta.title or self.id

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def page_at(self, offset: int) -> int | None:
        """1-based page number holding ``offset``, for paged (PDF) documents."""
        if not self.page_starts:
            return None
        page = 0
        for i, start in enumerate(self.page_starts):
            if start <= offset:
                page = i
            else:
                break
        return page + 1

    def page_label_at(self, offset: int) -> str | None:
        """The page number printed on the page holding ``offset`` (else its number)."""
        page = self.page_at(offset)
        if page is None:
            return None
        labels = self.page_labels or ()
        return labels[page - 1] if page <= len(labels) else str(page)

    def section_at(self, offset: int) -> str | None:
        """The heading of the section holding ``offset``."""
        found = None
        for start, heading in self.sections or ():
            if start > offset:
                break
            found = heading
        return found


class Span(BaseModel):
    model_config = ConfigDict(frozen=True)

    start: int = Field(ge=0)
    end: int = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end < self.start:
            raise ValueError("span end precedes start")
        return self


class Passage(Span):
    """A retrieval unit: a window of whole paragraphs of one document."""

    doc_id: str
    paragraph: int = Field(ge=1, description="1-based number of the first paragraph")


class Quote(BaseModel):
    """A verbatim span of a corpus document with its citation."""

    model_config = ConfigDict(frozen=True)

    text: str
    doc_id: str
    collection: str = "default"
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    score: float = 0.0
    title: str
    publisher: str | None = None
    author: str | None = None
    published: dt.date | None = None
    url: str | None = None
    retrieved: dt.date | None = None
    paragraph: int = Field(ge=1)
    page: int | None = None
    page_label: str | None = None
    section: str | None = None
    matched_terms: list[str] = Field(default_factory=list)

    @classmethod
    def from_document(
        cls,
        document: Document,
        start: int,
        end: int,
        *,
        paragraph: int,
        score: float = 0.0,
        matched_terms: list[str] | None = None,
    ) -> Quote:
        """The only way quotes are made: slice the document, then check the slice."""
        if not 0 <= start < end <= len(document.text):
            raise QuoteIntegrityError(
                f"span {start}:{end} is outside document {document.id!r} "
                f"of length {len(document.text)}"
            )
        text = document.text[start:end]
        meta = document.meta
        quote = cls(
            text=text,
            doc_id=document.id,
            collection=document.collection,
            start=start,
            end=end,
            score=score,
            title=document.title,
            publisher=meta.publisher,
            author=meta.author,
            published=meta.published,
            url=str(meta.url) if meta.url else None,
            retrieved=meta.retrieved,
            paragraph=paragraph,
            page=document.page_at(start),
            page_label=document.page_label_at(start),
            section=document.section_at(start),
            matched_terms=matched_terms or [],
        )
        verify_quote(quote, document)
        return quote

    @property
    def attribution(self) -> str:
        """ "Title, Publisher, 22 June 2022, §2 Scope, p. 4, ¶7, url": the source, in the
        corpus's own metadata."""
        parts = [self.title]
        if self.author:
            parts.append(self.author)
        if self.publisher:
            parts.append(self.publisher)
        if self.published:
            parts.append(f"{self.published.day} {self.published:%B %Y}")
        parts.append(self.location)
        if self.url:
            parts.append(self.link or self.url)
        if self.retrieved:
            parts.append(f"retrieved {self.retrieved.day} {self.retrieved:%B %Y}")
        return ", ".join(parts)

    @property
    def link(self) -> str | None:
        """The source's URL, opening a web page at the quote: a text fragment
        (``#:~:text=``) built from the quote's own words. PDFs (paged) get the plain URL."""
        if not self.url:
            return None
        if self.page is not None or "#" in self.url:
            return self.url
        words = self.text.split()
        if not words:
            return self.url
        if len(words) <= 8:
            fragment = _fragment_part(" ".join(words))
        else:
            start, end = " ".join(words[:4]), " ".join(words[-4:])
            fragment = f"{_fragment_part(start)},{_fragment_part(end)}"
        return f"{self.url}#:~:text={fragment}"

    @property
    def location(self) -> str:
        """Where in the document: "§5.9.4 Orphaning a package, p. 44, ¶12" (section and page
        when known; the printed page label, else the page's number)."""
        parts = []
        if self.section:
            numbered = self.section[:1].isdigit()
            parts.append(f"§{self.section}" if numbered else f"section “{self.section}”")
        if self.page:
            parts.append(f"p. {self.page_label or self.page}")
        parts.append(f"¶{self.paragraph}")
        return ", ".join(parts)


def _fragment_part(text: str) -> str:
    """Percent-encoded for a text fragment: '-', ',' and '&' too, which it reserves."""
    return quote_url(text, safe="").replace("-", "%2D")


def verify_quote(quote: Quote, document: Document) -> None:
    """Fail closed unless ``quote.text == document.text[quote.start:quote.end]``."""
    if quote.doc_id != document.id or document.text[quote.start : quote.end] != quote.text:
        raise QuoteIntegrityError(
            f"quote {quote.start}:{quote.end} does not match document {document.id!r}"
        )


class Cited(BaseModel):
    """One answer entry: a quote and the quotes from other documents that say the same."""

    quote: Quote
    also_in: list[Quote] = Field(default_factory=list)


class Timings(BaseModel):
    search_ms: float
    total_ms: float


class Answer(BaseModel):
    question: str
    answered: bool
    results: list[Cited] = Field(default_factory=list)
    # Question words no shown quote holds (when refusing: that the closest passage lacks).
    unmatched_terms: list[str] = Field(default_factory=list)
    # Question words the corpus never uses.
    absent_terms: list[str] = Field(default_factory=list)
    # The answering model's estimate that the corpus answers the question (0..1).
    confidence: float = 0.0
    timings: Timings

    @property
    def missing_note(self) -> str | None:
        """The fixed line that says which question words were not found, and where."""
        if self.answered:
            return (
                "Not in these quotes: " + ", ".join(self.unmatched_terms)
                if (self.unmatched_terms)
                else None
            )
        if self.absent_terms:
            return "Not in the corpus: " + ", ".join(self.absent_terms)
        if self.unmatched_terms:
            return "Not in the closest passage: " + ", ".join(self.unmatched_terms)
        return None
