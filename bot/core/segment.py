"""Splitting a document into paragraphs, sentences and passages, as character spans.

Nothing here copies text: every unit is a ``(start, end)`` span into the document, trimmed of
surrounding white space, so any quote made from it is an exact slice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

_BLANK_LINES = re.compile(r"\n[ \t\r\f\v]*\n")
# A line ends a paragraph when it ends like a sentence or a heading; otherwise the next line
# continues it only if that line starts in lower case (hard-wrapped prose).
_LINE_END_PUNCT = tuple(".!?:;\"”’')]…")

# Sentence boundary: terminal punctuation, optional closing quotes/brackets, white space, then
# something that can start a sentence (capital, digit, opening quote or bracket).
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s+[\"'“‘(\[]?[A-Z0-9£$€])")
# A section or list number ("5.9.4.", "2.") opening a paragraph or sentence: its label, not a
# sentence of its own.
_LABEL = re.compile(r"\s*\d+(?:\.\d+)*\.")
_ABBREVIATIONS = frozenset(
    """
    mr mrs ms dr prof sr jr st mt no vs etc inc ltd co corp dept gov sgt det insp supt cllr rev
    gen col capt lt cpl pc dc ds di dci dcs jan feb mar apr jun jul aug sep sept oct nov dec fig
    e.g i.e u.s u.k ca approx cf al vol vols pp ed eds est op esp viz
    """.split()
)


class SegmentSettings(BaseModel):
    """How documents become passages. Part of the index cache key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_passage_chars: int = Field(
        default=120, ge=1, description="short paragraphs join the next until this long"
    )
    max_passage_chars: int = Field(
        default=1200, ge=100, description="long paragraphs are split at sentences"
    )


@dataclass(frozen=True, slots=True)
class Unit:
    start: int
    end: int
    paragraph: int  # 1-based number of the paragraph holding the start


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def paragraphs(text: str) -> list[Unit]:
    """Non-empty paragraphs: blank-line separated blocks, split further at line breaks unless
    the next line continues a hard-wrapped sentence."""
    blocks: list[tuple[int, int]] = []
    pos = 0
    for m in _BLANK_LINES.finditer(text):
        blocks.append((pos, m.start()))
        pos = m.end()
    blocks.append((pos, len(text)))
    out: list[Unit] = []
    for b_start, b_end in blocks:
        para_start = line_start = b_start
        while True:
            nl = text.find("\n", line_start, b_end)
            line_end = b_end if nl == -1 else nl
            if nl != -1 and _continues(text[line_start:line_end], text[nl + 1 : nl + 40]):
                line_start = nl + 1
                continue
            s, e = _trimmed(text, para_start, line_end)
            if s < e:
                out.append(Unit(s, e, len(out) + 1))
            if nl == -1:
                break
            para_start = line_start = nl + 1
    return out


def _continues(line: str, following: str) -> bool:
    line = line.rstrip()
    return bool(line) and not line.endswith(_LINE_END_PUNCT) and following.lstrip()[:1].islower()


def sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Sentence spans inside ``text[start:end]`` (one paragraph)."""
    out: list[tuple[int, int]] = []
    cursor = start
    for m in _SENTENCE_END.finditer(text, start, end):
        stop = m.end()
        word = re.search(r"([\w.]+)[.]$", text[max(start, stop - 12) : m.start() + 1])
        if word and text[m.start()] == "." and _is_abbreviation(word.group(1)):
            continue
        if _LABEL.fullmatch(text, cursor, m.end()):
            continue  # "5.9.4." or "2." opening a paragraph numbers it: not a sentence
        s, e = _trimmed(text, cursor, stop)
        if s < e:
            out.append((s, e))
        cursor = stop
    s, e = _trimmed(text, cursor, end)
    if s < e:
        out.append((s, e))
    return out


def _is_abbreviation(word: str) -> bool:
    w = word.lower().rstrip(".")
    return w in _ABBREVIATIONS or (len(w) == 1 and w.isalpha())


def passages(text: str, settings: SegmentSettings | None = None) -> list[Unit]:
    """Retrieval windows of whole paragraphs: short paragraphs (headlines, captions, "Read
    More") join the following ones; paragraphs longer than the maximum split at sentences."""
    settings = settings or SegmentSettings()
    out: list[Unit] = []
    pending: Unit | None = None
    for para in paragraphs(text):
        for piece in _split_long(text, para, settings.max_passage_chars):
            if pending is None:
                pending = piece
            else:
                pending = Unit(pending.start, piece.end, pending.paragraph)
            if pending.end - pending.start >= settings.min_passage_chars:
                out.append(pending)
                pending = None
    if pending is not None:
        if out and pending.end - out[-1].start <= settings.max_passage_chars:
            last = out.pop()
            pending = Unit(last.start, pending.end, last.paragraph)
        out.append(pending)
    return out


def _split_long(text: str, para: Unit, max_chars: int) -> list[Unit]:
    if para.end - para.start <= max_chars:
        return [para]
    pieces: list[Unit] = []
    cur_start: int | None = None
    cur_end = para.start
    for s, e in sentences(text, para.start, para.end):
        if cur_start is not None and e - cur_start > max_chars:
            pieces.append(Unit(cur_start, cur_end, para.paragraph))
            cur_start = None
        if cur_start is None:
            cur_start = s
        cur_end = e
    if cur_start is not None:
        pieces.append(Unit(cur_start, cur_end, para.paragraph))
    return pieces
