"""PDF pages to the text Verbatim stores: paragraphs that read like the page.

Text comes from PDFium (pypdfium2), chosen by measurement (``benchmarks/extraction.py``): on
TeX-made PDFs it keeps the spaces between words that pypdf loses, marks line-end hyphenation,
and is the fastest. From each page's lines and their positions this module

- drops running headers and footers (a line at the top or bottom of the page whose text,
  digits aside, recurs there on three pages or more), lone page numbers, and
  table-of-contents lines with dot leaders;
- joins a hard-wrapped line to the next (one where the next line's first word would not have
  fitted, in its column), keeps a short line's break (code, addresses, lists) and starts a
  paragraph at a vertical gap, a first-line indent, a change of font size or a heading;
- removes line-end hyphenation (``reintroduc-/ing``), keeping the hyphen of words the
  document hyphenates elsewhere (``two-/step``) or that go on with a capital;
- keeps each page's printed label (``44``, ``iv``) and the section headings of the outline
  (bookmarks), located at the heading's line on its page; without an outline, short lines
  set larger than the body text are the headings.

Pages are separated by a blank line, so each page starts its own paragraph.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Callable, Sequence
from ctypes import byref, c_double
from dataclasses import dataclass, field

_LIGATURES = str.maketrans(
    {"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st"}
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x02\ufeff]")
_SOFT = "\ufffe"  # PDFium's mark for a hyphen it removed at a line end
_DOT_LEADER = re.compile(r"(?:\.\s?){5,}\s*\S{0,8}\s*$|(?:\s\.){4,}")
_PAGE_NUMBER = re.compile(
    r"^(?:page\s+)?(?:\d{1,5}|[ivxlcdm]{1,8})(?:\s*(?:/|of)\s*\d{1,5})?$", re.IGNORECASE
)
_BULLET = re.compile(r"[•◦▪‣∙·\-–—*]\s|\(?\d{1,2}[.)]\s")  # a list item starts its own line
_EDGE_LINES = 2  # lines at the top and at the bottom of a page where running heads live
_MIN_REPEATS = 3


@dataclass
class Line:
    text: str
    x0: float
    x1: float
    y: float  # bottom of the line's first character
    size: float
    y_end: float = 0.0  # baseline of the last character
    heading: str | None = None  # the section this line's heading opens


@dataclass
class Page:
    lines: list[Line]
    label: str | None = None
    width: float = 0.0
    headings: list[tuple[str, float]] = field(default_factory=list)  # (outline title, top y)


@dataclass
class PdfText:
    text: str
    page_starts: tuple[int, ...]
    page_labels: tuple[str, ...] | None
    sections: tuple[tuple[int, str], ...]
    title: str | None
    author: str | None


class PdfError(ValueError):
    """The PDF cannot be read; the message is for the uploader."""


def read_pdf(
    data: bytes,
    *,
    max_pages: int,
    check: Callable[[], None] = lambda: None,
) -> PdfText:
    """The stored text of a PDF. ``check`` is called before each page (time limits);
    raises :class:`PdfError` for unreadable, encrypted or oversized PDFs."""
    import pypdfium2 as pdfium

    try:
        doc = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise PdfError("this PDF is password-protected; upload an unprotected copy") from None
        raise PdfError(f"this PDF could not be read ({exc})") from None
    try:
        count = len(doc)
        if count > max_pages:
            raise PdfError(f"PDF has {count:,} pages; the limit is {max_pages:,}")
        pages = []
        for index in range(count):
            check()
            page = doc[index]
            width = float(page.get_width())
            textpage = page.get_textpage()
            try:
                lines = _page_lines(textpage)
            finally:
                textpage.close()
                page.close()
            pages.append(Page(lines, label=_label(doc, index), width=width))
        _attach_outline(doc, pages)
        meta = _metadata(doc)
    finally:
        doc.close()
    return assemble(pages, title=meta.get("Title"), author=meta.get("Author"))


def _label(doc: object, index: int) -> str | None:
    try:
        label = doc.get_page_label(index)  # type: ignore[attr-defined]
    except Exception:  # a broken label tree is no reason to refuse the text
        return None
    label = " ".join(str(label or "").split())
    return label[:20] or None


def _metadata(doc: object) -> dict[str, str]:
    try:
        return {k: v for k, v in doc.get_metadata_dict().items() if isinstance(v, str)}  # type: ignore[attr-defined]
    except Exception:
        return {}


def _page_lines(textpage: object) -> list[Line]:
    """The page's lines, with the position of their first and last characters; pieces of
    one visual line (same baseline) are joined."""
    import pypdfium2.raw as raw

    text: str = textpage.get_text_range()  # type: ignore[attr-defined]
    count: int = textpage.count_chars()  # type: ignore[attr-defined]
    geometry = len(text) == count
    lines: list[Line] = []
    ox, oy = c_double(), c_double()
    pos = 0
    for piece in text.split("\n"):
        start, pos = pos, pos + len(piece) + 1
        stripped = _CONTROL.sub("", piece.replace("\r", "")).translate(_LIGATURES).strip()
        if not stripped:
            continue
        if geometry:
            first = start + len(piece) - len(piece.lstrip())
            last = start + len(piece.rstrip("\r ")) - 1
            x0, y0, _, _ = textpage.get_charbox(first)  # type: ignore[attr-defined]
            _, y1, x1, _ = textpage.get_charbox(max(first, last))  # type: ignore[attr-defined]
            if raw.FPDFText_GetCharOrigin(textpage.raw, first, byref(ox), byref(oy)):  # type: ignore[attr-defined]
                x0, y0 = ox.value, oy.value  # the baseline, whatever the glyph's descent
            if raw.FPDFText_GetCharOrigin(textpage.raw, max(first, last), byref(ox), byref(oy)):  # type: ignore[attr-defined]
                y1 = oy.value  # lower than y0 when PDFium joined a hyphenated line break
            size = float(raw.FPDFText_GetFontSize(textpage.raw, first))  # type: ignore[attr-defined]
        else:
            x0, y0, x1, size = 0.0, -float(len(lines)) * 12, 1000.0, 10.0
            y1 = y0
        prev = lines[-1] if lines else None
        if prev is not None and abs(prev.y - y0) < 0.4 * max(size, 1) and x0 >= prev.x1 - 2:
            prev.text = f"{prev.text} {stripped}"
            prev.x1 = max(prev.x1, x1)
            prev.y_end = min(prev.y_end, y1)
            continue
        lines.append(Line(stripped, x0, x1, y0, size, y_end=min(y0, y1)))
    return lines


def _attach_outline(doc: object, pages: list[Page]) -> None:
    try:
        for bookmark in doc.get_toc(max_depth=6):  # type: ignore[attr-defined]
            title = " ".join((bookmark.get_title() or "").split())
            dest = bookmark.get_dest()
            if not title or dest is None:
                continue
            index = dest.get_index()
            if index is None or not 0 <= index < len(pages):
                continue
            _, view = dest.get_view()
            top = float(view[1]) if len(view) > 1 and view[1] else float("inf")
            pages[index].headings.append((title[:200], top))
    except Exception:  # a broken outline is no reason to refuse the text
        return


# --- from lines to text --------------------------------------------------------------------


def _key(text: str) -> str:
    return re.sub(r"\d+", "#", " ".join(text.lower().split()))


def _drop_running_lines(pages: Sequence[Page]) -> None:
    """Remove running headers and footers, lone page numbers and dot-leader lines."""
    seen: Counter[str] = Counter()
    for page in pages:
        edge = page.lines[:_EDGE_LINES] + page.lines[-_EDGE_LINES:]
        seen.update({_key(line.text) for line in edge})
    for page in pages:
        n = len(page.lines)
        kept = []
        for i, line in enumerate(page.lines):
            at_edge = (i < _EDGE_LINES or i >= n - _EDGE_LINES) and line.heading is None
            if at_edge and (
                seen[_key(line.text)] >= _MIN_REPEATS
                or _PAGE_NUMBER.match(line.text)
                or _carries_label(line.text, page.label)
            ):
                continue
            if _DOT_LEADER.search(line.text):
                continue
            kept.append(line)
        page.lines = kept


def _mark_large_lines(pages: Sequence[Page]) -> None:
    """Without an outline, a short line set at least 15% larger than the body text (the
    size most characters have) and not ending a sentence is taken as a heading."""
    sizes: Counter[float] = Counter()
    for page in pages:
        for line in page.lines:
            sizes[round(line.size, 1)] += len(line.text)
    if not sizes:
        return
    body = sizes.most_common(1)[0][0]
    for page in pages:
        for line in page.lines:
            text = line.text
            if (
                line.size >= 1.15 * body
                and 2 <= len(text) <= 120
                and text[-1] not in ".,;:"
                and any(c.isalpha() for c in text)
            ):
                line.heading = text


def _carries_label(text: str, label: str | None) -> bool:
    """A running head with the page's printed number: "5.9. Moving packages 43"."""
    words = text.split()
    return (
        label is not None
        and len(words) > 1
        and len(text) <= 120
        and label in (words[0], words[-1])
        and text[-1:] not in ".:;,"
    )


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def _mark_headings(page: Page) -> None:
    """Find each outline heading's line on its page (the line ending with its title, nearest
    the bookmark's position); the section is named as the page prints it (with its number)."""
    for title, top in page.headings:
        want = _norm(title)
        best: Line | None = None
        for line in page.lines:
            got = _norm(line.text)
            if (
                want
                and got.endswith(want)
                and len(got) <= len(want) + 16
                and line.heading is None
                and (best is None or abs(line.y - top) < abs(best.y - top))
            ):
                best = line
        if best is not None:
            # as printed when the page adds to the title (its number), else the outline's
            best.heading = best.text if _norm(best.text) != want else title
        else:  # not printed as a line: the section starts at the first line below its mark
            below = next((ln for ln in page.lines if ln.y <= top and ln.heading is None), None)
            if below is not None:
                below.heading = title
            elif page.lines and page.lines[0].heading is None:
                page.lines[0].heading = title


def _paragraphs(page: Page) -> list[tuple[str, str | None]]:
    """(paragraph text, heading it opens) for one page; lines joined as described above."""
    lines = page.lines
    if not lines:
        return []
    # Line pitch: the lower quartile of the gaps between lines of one size (paragraph gaps
    # and headings only make gaps larger).
    gaps = sorted(
        a.y_end - b.y
        for a, b in itertools.pairwise(lines)
        if abs(a.size - b.size) <= 0.6 and 0.8 * a.size <= a.y_end - b.y < 3 * a.size
    )
    pitch = gaps[len(gaps) // 4] if gaps else max(line.size for line in lines) * 1.2
    column = _columns(lines, page.width)
    out: list[tuple[list[str], str | None]] = []
    prev: Line | None = None
    for line in lines:
        left, right = column(prev or line)
        wrapped = prev is not None and _wrapped(prev, line, left, right)
        new = (
            prev is None
            or line.heading is not None
            or prev.heading is not None
            or abs(line.size - prev.size) > 0.6
            or prev.y_end - line.y > 1.35 * pitch
            or (  # a first-line indent after a line at the left margin
                prev.x0 - left < 0.5 * prev.size < line.x0 - left < 4 * prev.size and wrapped
            )
            or prev.y_end - line.y < -pitch  # reading order jumped back up: a new column or box
        )
        if new:
            out.append(([line.text], line.heading))
        else:
            parts = out[-1][0]
            joined = wrapped and not _BULLET.match(line.text)
            parts.append((" " if joined else "\n") + line.text)
        prev = line
    return [("".join(parts), heading) for parts, heading in out]


def _wrapped(prev: Line, line: Line, left: float, right: float) -> bool:
    """Whether ``prev`` was broken by the layout: it reaches the margin, or it fills most of
    the column and the first word of ``line`` would not have fitted in the room left at its
    end (character widths estimated from ``prev``)."""
    if prev.x1 >= right - 1.5 * prev.size:
        return True
    if prev.x1 - left < 0.75 * (right - left):
        return False  # a short line: its break is the author's (code, lists, verse)
    word = line.text.split(maxsplit=1)[0] if line.text.strip() else ""
    per_char = (prev.x1 - prev.x0) / max(len(prev.text), 1)
    return prev.x1 + (len(word) + 1) * per_char > right - 0.25 * prev.size


def _right_edge(lines: list[Line], mirror: float) -> float:
    """Where the column's lines end: the edge most long lines reach (justified text), else
    the furthest line when most lines come near it (ragged text), else the furthest of the
    lines and the mirror of the left margin."""
    furthest = max(max(line.x1 for line in lines), mirror)
    ends = Counter(round(line.x1 / 2) for line in lines if line.x1 >= 0.85 * furthest)
    if ends:
        edge, count = ends.most_common(1)[0]
        if count >= 3 and count >= 0.2 * len(lines):
            return edge * 2.0
    reach = max(line.x1 for line in lines)
    if len(lines) >= 5 and sum(line.x1 >= 0.8 * reach for line in lines) >= 0.6 * len(lines):
        return reach  # ragged lines filling a column narrower than the page
    return furthest


def _columns(lines: list[Line], width: float) -> Callable[[Line], tuple[float, float]]:
    """The left and right edges of the column holding a line. Margins are taken as even: a
    line is full when it reaches the mirror of the left margin (uneven ones make lines look
    short, so their breaks are kept: nothing is wrongly joined). Two columns are recognised
    when lines start right of the middle, none of the others crosses it, and those fill
    most of the left half."""
    left = min(line.x0 for line in lines)
    whole = (left, _right_edge(lines, width - left))
    mid = width / 2
    body = [line for line in lines if line.heading is None]
    second = [line for line in body if line.x0 >= mid - 2]
    first = [line for line in body if line.x0 < mid - 2]
    if len(first) < 3 or len(second) < 3 or max(line.x1 for line in first) > mid + 2:
        return lambda line: whole
    widths = sorted(line.x1 - line.x0 for line in first)
    if widths[len(widths) // 2] < 0.6 * (mid - left):  # short cells, not a column of text
        return lambda line: whole
    edges = (
        (left, max(line.x1 for line in first)),
        (min(line.x0 for line in second), _right_edge(second, width - left)),
    )
    return lambda line: edges[line.x0 >= mid - 2]


class _Dehyphenator:
    """Remove line-end hyphenation (PDFium's mark): ``reintroduc-ing`` becomes
    ``reintroducing``, unless the document hyphenates the word elsewhere or the second
    part starts with a capital (``Non-Maintainer``)."""

    def __init__(self, text: str) -> None:
        self.hyphenated = {m.group(0).lower() for m in re.finditer(r"\w+-\w+", text)}

    def __call__(self, text: str) -> str:
        text = re.sub(rf"(\w+){_SOFT}(\w+)", self._join, text)
        return text.replace(_SOFT, "-")

    def _join(self, match: re.Match[str]) -> str:
        left, right = match.group(1), match.group(2)
        keep = right[:1].isupper() or f"{left}-{right}".lower() in self.hyphenated
        return f"{left}-{right}" if keep else f"{left}{right}"


def assemble(
    pages: Sequence[Page], *, title: str | None = None, author: str | None = None
) -> PdfText:
    """Join the pages' lines into the stored text, its page offsets, labels and sections."""
    if any(page.headings for page in pages):
        for page in pages:
            _mark_headings(page)
        _drop_running_lines(pages)
    else:  # no outline: headings are the short lines set larger than the body text
        _drop_running_lines(pages)
        _mark_large_lines(pages)
    per_page = [_paragraphs(page) for page in pages]
    dehyphenate = _Dehyphenator("\n".join(p for paras in per_page for p, _ in paras))
    parts: list[str] = []
    starts: list[int | None] = []
    sections: list[tuple[int, str]] = []
    length = 0
    for paragraphs in per_page:
        if not paragraphs:
            starts.append(None)
            continue
        for n, (paragraph, heading) in enumerate(paragraphs):
            if parts:
                parts.append("\n\n")
                length += 2
            if n == 0:
                starts.append(length)
            if heading is not None:
                sections.append((length, dehyphenate(heading)))
            fixed = dehyphenate(paragraph)
            parts.append(fixed)
            length += len(fixed)
    page_starts: list[int] = []
    for start in reversed(starts):  # an empty page starts where the next one does
        page_starts.insert(0, start if start is not None else (page_starts or [length])[0])
    labels = tuple(page.label or str(i + 1) for i, page in enumerate(pages))
    printed = any(label != str(i + 1) for i, label in enumerate(labels))
    return PdfText(
        text="".join(parts),
        page_starts=tuple(page_starts),
        page_labels=labels if printed else None,
        sections=tuple(sections),
        title=title,
        author=author,
    )
