"""HTML pages to the text Verbatim stores, keeping the document's structure.

The main region is ``<main>`` (or ``role="main"``), else the longest ``<article>``, else the
body; navigation, headers and footers of the site, sidebars, scripts and forms are left out
(by element, ARIA role, and class or id names such as ``nav``, ``navheader``, ``footer``,
``sidebar``, ``breadcrumb``). Each block becomes one paragraph (blocks are separated by a
blank line): a heading, a paragraph, a list item, a definition term or description, a code
block (its lines kept), a table row (``header: cell; header: cell``, never pipes). Tables
that only lay out other blocks (admonitions, DocBook's notes) are read as those blocks.
``<br>`` keeps its line break; other whitespace is collapsed as a browser shows it.

Metadata comes only from what the markup states (``<meta>`` tags, the canonical link, the
title); a date in the body text is never taken as the page's date.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_BLOCKS = {
    "address", "article", "aside", "blockquote", "body", "caption", "center", "dd", "details",
    "dialog", "div", "dl", "dt", "fieldset", "figcaption", "figure", "hr", "html", "li",
    "main", "ol", "p", "section", "summary", "table", "tbody", "td", "tfoot", "th", "thead",
    "tr", "ul", "header", "hgroup", "legend", "menu", "nav", "footer",
}  # fmt: skip
_DROP = {
    "script", "style", "noscript", "template", "nav", "aside", "form", "button", "iframe",
    "svg", "canvas", "select", "input", "textarea", "head", "object", "embed", "audio",
    "video", "map", "dialog",
}  # fmt: skip
_DROP_ROLES = {"navigation", "banner", "contentinfo", "complementary", "search", "menu"}
_BOILERPLATE = {
    "nav", "navbar", "navigation", "navheader", "navfooter", "menu", "breadcrumb",
    "breadcrumbs", "footer", "sidebar", "cookie", "cookies", "share", "sharing", "social",
    "related", "advert", "advertisement", "ads", "skip", "skiplink", "toc", "masthead",
    "sphinxsidebar", "headerlink", "permalink",
}  # fmt: skip
_SPACE = re.compile(r"[ \t\r\n\f\v\u00a0]+")
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.IGNORECASE)
_DATE = re.compile(r"^(\d{4})[-/](\d{2})[-/](\d{2})")


@dataclass
class Page:
    blocks: list[str] = field(default_factory=list)
    headings: set[int] = field(default_factory=set)  # indexes of blocks that are headings
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return "\n\n".join(self.blocks)

    def sections(self) -> tuple[tuple[int, str], ...]:
        found, offset = [], 0
        for i, block in enumerate(self.blocks):
            if i in self.headings:
                found.append((offset, " ".join(block.split())))
            offset += len(block) + 2
        return tuple(found)


def parse(data: bytes) -> Any:
    """The page's element tree (lxml), decoded as it declares, else UTF-8, else cp1252."""
    from lxml import html

    declared = _CHARSET.search(data[:4096])
    encoding = declared.group(1).decode("ascii") if declared else None
    if encoding is None:
        try:
            data.decode("utf-8")
            encoding = "utf-8"
        except UnicodeDecodeError:
            encoding = "windows-1252"
    try:
        parser = html.HTMLParser(encoding=encoding, remove_comments=True)
    except LookupError:
        parser = html.HTMLParser(encoding="utf-8", remove_comments=True)
    return html.document_fromstring(data, parser=parser)


def read_html(data: bytes) -> Page:
    root = parse(data)
    page = Page(meta=_metadata(root))
    region = _main_region(root)
    _Walker(page).walk(region)
    body = root.find("body")
    if not page.blocks and body is not None and region is not body:
        _Walker(page).walk(body)  # an empty <main> or <article>: the whole page, then
    return page


# --- the main region and what is left out ----------------------------------------------------


def _text_length(el: Any) -> int:
    return len(" ".join(el.text_content().split()))


def _main_region(root: Any) -> Any:
    for query in ("//main", "//*[@role='main']"):
        found = root.xpath(query)
        if found:
            return found[0]
    articles = root.xpath("//article")
    if articles:
        return max(articles, key=_text_length)
    body = root.find("body")
    return body if body is not None else root


def _left_out(el: Any) -> bool:
    tag = el.tag
    if tag in _DROP or el.get("hidden") is not None or el.get("aria-hidden") == "true":
        return True
    if (el.get("role") or "").lower() in _DROP_ROLES:
        return True
    if tag in ("header", "footer") and not _inside(el, {"article", "main", "section"}):
        return True
    names = f"{el.get('class') or ''} {el.get('id') or ''}".lower()
    return bool(_BOILERPLATE & set(re.split(r"[\s_-]+", names)))


def _inside(el: Any, tags: set[str]) -> bool:
    parent = el.getparent()
    while parent is not None:
        if parent.tag in tags:
            return True
        parent = parent.getparent()
    return False


# --- blocks ------------------------------------------------------------------------------------


class _Walker:
    def __init__(self, page: Page) -> None:
        self.page = page
        self.buffer: list[str] = []

    def flush(self) -> None:
        text = "".join(self.buffer)
        self.buffer = []
        lines = [" ".join(line.split()) for line in text.split("\n")]
        block = "\n".join(line for line in lines if line)
        if block:
            self.page.blocks.append(block)

    def add(self, block: str, *, heading: bool = False) -> None:
        self.flush()
        if block:
            if heading:
                self.page.headings.add(len(self.page.blocks))
            self.page.blocks.append(block)

    def walk(self, el: Any) -> None:
        tag = el.tag if isinstance(el.tag, str) else ""
        if not tag or _left_out(el):
            return
        if tag in _HEADINGS:
            self.add(" ".join(_visible_text(el).split()), heading=True)
            return
        if tag == "pre":
            lines = [line.rstrip() for line in el.text_content().strip("\n").split("\n")]
            self.add("\n".join(lines).strip("\n"))
            return
        if tag == "table" and not _lays_out(el):
            self.flush()
            for row in _table_rows(el):
                self.add(row)
            return
        if tag == "br":
            self.buffer.append("\n")
            return
        block = tag in _BLOCKS
        if block:
            self.flush()
        if el.text:
            self.buffer.append(_SPACE.sub(" ", el.text))
        for child in el:
            self.walk(child)
            if child.tail:
                self.buffer.append(_SPACE.sub(" ", child.tail))
        if block:
            self.flush()


def _visible_text(el: Any) -> str:
    """The element's text without what is left out of pages (a heading's "¶" permalink)."""
    parts = [el.text or ""]
    for child in el:
        if isinstance(child.tag, str) and not _left_out(child):
            parts.append(_visible_text(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _lays_out(table: Any) -> bool:
    """A table holding paragraphs, lists or code lays them out; it holds no data."""
    return bool(table.xpath(".//td//p | .//td//ul | .//td//ol | .//td//pre | .//td//div"))


def _table_rows(table: Any) -> list[str]:
    """Each row as text: ``header: cell; header: cell`` when the table has a header row."""
    rows = [r for r in table.iter("tr") if not _left_out(r)]
    header: list[str] = []
    out = []
    for row in rows:
        cells = [" ".join(c.text_content().split()) for c in row if c.tag in ("td", "th")]
        if not any(cells):
            continue
        if not header and all(c.tag == "th" for c in row if c.tag in ("td", "th")):
            header = cells
            out.append("; ".join(c for c in cells if c))
            continue
        if header and len(header) == len(cells):
            pairs = [f"{h}: {c}" if h else c for h, c in zip(header, cells, strict=True) if c]
            out.append("; ".join(pairs))
        else:
            out.append("; ".join(c for c in cells if c))
    return out


# --- metadata ----------------------------------------------------------------------------------


def _meta(root: Any, *names: str) -> str | None:
    for name in names:
        for attr in ("property", "name", "itemprop"):
            for el in root.xpath(f"//meta[@{attr}=$v]", v=name):
                content = " ".join((el.get("content") or "").split())
                if content:
                    return content
    return None


def _date(root: Any) -> str | None:
    stated = _meta(
        root,
        "article:published_time",
        "og:published_time",
        "datePublished",
        "date",
        "DC.date.issued",
        "DC.date",
        "dcterms.created",
        "dcterms.issued",
        "citation_publication_date",
        "citation_date",
    )
    if stated is None:
        for el in root.xpath("//time[@itemprop='datePublished'][@datetime]"):
            stated = el.get("datetime")
            break
    found = _DATE.match(stated or "")
    return f"{found.group(1)}-{found.group(2)}-{found.group(3)}" if found else None


# How a page's <title> joins its own title to the site's name ("Managing Packages — Debian
# documentation", "Park approved | The Daily Example").
_TITLE_SEPARATORS = (" — ", " – ", " | ", " - ", " · ", " :: ")


def _page_title(title: str, root: Any) -> str:
    """The <title> without the site's name when one side of it is the page's main heading."""
    shown = (h for h in root.iter("h1") if not any(map(_left_out, h.iterancestors())))
    h1 = next(shown, None)  # (not a site's logo in a header or navigation left out)
    heading = " ".join(_visible_text(h1).split()) if h1 is not None else ""
    if heading and heading != title:
        for sep in _TITLE_SEPARATORS:
            if title.startswith(heading + sep) or title.endswith(sep + heading):
                return heading
    return title


def _metadata(root: Any) -> dict[str, Any]:
    title = _meta(root, "og:title")
    if title is None:
        el = root.find(".//title")
        title = _page_title(" ".join(el.text_content().split()), root) if el is not None else None
    author = _meta(root, "author", "article:author", "DC.creator", "citation_author")
    if author and re.match(r"https?://", author):
        author = None  # a profile link, not a name
    url = None
    for link in root.xpath("//link[@rel='canonical'][@href]"):
        url = link.get("href")
        break
    url = url or _meta(root, "og:url")
    if url and not re.match(r"https?://", url):
        url = None
    return {
        "title": title,
        "publisher": _meta(root, "og:site_name"),
        "author": author,
        "published": _date(root),
        "url": url,
    }
