"""Answers as Discord embeds and text, always within Discord's limits.

Corpus and user text is escaped so it shows as written (no markdown, no mention styling);
escaping lengthens text, so we escape first and cut after, at word boundaries, marking every
cut with "…". Every shown piece of a quote is an exact slice of the quote.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import quote as url_quote

import discord

from bot.core.models import Answer, Document, Quote
from bot.core.segment import Unit

# Discord's limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits)
CONTENT_LIMIT = 2000
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
EMBEDS_TOTAL_LIMIT = 6000
CUSTOM_ID_LIMIT = 100
CHOICE_NAME_LIMIT = 100
CHOICES_LIMIT = 25

ELLIPSIS = "…"
NO_ANSWER = "No passage in the corpus answers that."
FOOTER = "Verbatim: every quote is the corpus's own words, matched words in bold."
COLOUR = discord.Colour.dark_teal()

_ALWAYS = re.compile(r"([\\*_~`|\[\]<@])")  # emphasis, code, spoilers, links, mentions
_LINE_START = re.compile(r"^(\s*)([-+#>]|\d+(?=\.\s))", re.MULTILINE)  # lists, headings, quotes


def escape(text: str) -> str:
    """Backslash-escape everything Discord could read as markdown or a mention."""
    return _LINE_START.sub(r"\1\\\2", _ALWAYS.sub(r"\\\1", text))


def unescape(text: str) -> str:
    """Inverse of :func:`escape` (for tests and checks)."""
    return re.sub(r"\\(.)", r"\1", text, flags=re.DOTALL)


def plain(markdown: str) -> str:
    """What a reader sees of markdown we rendered: block-quote prefixes and our bold markers
    removed, escapes resolved (cuts stay marked with "…")."""
    lines = [line[2:] if line.startswith("> ") else line for line in markdown.split("\n")]
    return "".join(
        m[1] or m[0]
        for m in re.finditer(r"\\(.)|\*\*|.", "\n".join(lines), flags=re.DOTALL)
        if m[0] != "**"
    )


def cut(text: str, limit: int) -> str:
    """Escaped ``text`` cut to ``limit`` characters at a word boundary, "…" marking the cut."""
    escaped = escape(text)
    if len(escaped) <= limit:
        return escaped
    lo, hi = 0, len(text)
    while lo < hi:  # longest prefix whose escaped form (plus "…") fits
        mid = (lo + hi + 1) // 2
        if len(escape(_word_prefix(text, mid))) + 1 <= limit:
            lo = mid
        else:
            hi = mid - 1
    return escape(_word_prefix(text, lo)) + ELLIPSIS if lo else ELLIPSIS[:limit]


def _word_prefix(text: str, n: int) -> str:
    """``text[:n]`` pulled back to the last word boundary (whole text if none)."""
    if n >= len(text):
        return text
    head = text[:n]
    if not text[n].isspace():
        space = max(head.rfind(" "), head.rfind("\n"))
        if space > 0:
            head = head[:space]
    return head.rstrip()


def quote_markdown(
    text: str, highlights: Sequence[tuple[int, int]], limit: int, prefix: str = "> "
) -> str:
    """A quote as a block quote with highlighted words in bold, at most ``limit`` characters.
    When it must be cut, the window is chosen around the first highlight; cuts fall between
    words and are marked "…"."""
    full = _render(text, 0, len(text), highlights, prefix)
    if len(full) <= limit:
        return full
    focus = highlights[0][0] if highlights else 0
    start = _word_start(text, max(0, focus - 60))
    best = None
    lo, hi = start + 1, len(text)
    while lo <= hi:
        mid = (lo + hi) // 2
        end = _word_end(text, mid, start)
        rendered = _render(text, start, end, highlights, prefix)
        if len(rendered) <= limit:
            best = rendered
            lo = mid + 1
        else:
            hi = mid - 1
    return best or _fallback(limit, prefix)


def _fallback(limit: int, prefix: str) -> str:
    return (prefix + ELLIPSIS)[:limit]


def _word_start(text: str, i: int) -> int:
    """First word start at or after ``i`` (``i`` itself if it starts a word)."""
    if i == 0 or text[i - 1].isspace():
        return i
    m = re.compile(r"\s+").search(text, i)
    return m.end() if m else i


def _word_end(text: str, i: int, floor: int) -> int:
    """Last word end at or before ``i`` (not before ``floor``)."""
    if i >= len(text) or text[i].isspace():
        end = i
    else:
        end = i
        while end > floor and not text[end - 1].isspace():
            end -= 1
    while end > floor and text[end - 1].isspace():
        end -= 1
    return end if end > floor else min(len(text), i)


def _render(
    text: str, start: int, end: int, highlights: Sequence[tuple[int, int]], prefix: str
) -> str:
    parts: list[str] = []
    pos = start
    for s, e in highlights:
        s, e = max(s, start), min(e, end)
        if s >= e or s < pos:
            continue
        parts.append(escape(text[pos:s]))
        parts.append("**" + escape(text[s:e]) + "**")
        pos = e
    parts.append(escape(text[pos:end]))
    body = "".join(parts)
    if start > 0:
        body = ELLIPSIS + body
    if end < len(text):
        body += ELLIPSIS
    return prefix + body.replace("\n", "\n" + prefix) if prefix else body


def citation(q: Quote, limit: int = 400) -> str:
    """ "— [Title](url), Publisher, 22 June 2022, ¶7" with every part escaped."""
    title = cut(q.title, 200)
    if q.url:
        safe_url = url_quote(q.link or q.url, safe=":/?&=#%~+,;@!$'*.-_")
        title = f"[{title}](<{safe_url}>)"
    parts = [title]
    for extra in (q.author, q.publisher):
        if extra:
            parts.append(cut(extra, 100))
    if q.published:
        parts.append(f"{q.published.day} {q.published:%B %Y}")
    where = cut(q.location, 200)  # section headings are corpus text: escaped
    parts.append(where)
    if q.retrieved:
        parts.append(f"retrieved {q.retrieved.day} {q.retrieved:%B %Y}")
    line = "— " + ", ".join(parts)
    if len(line) <= limit:
        return line
    where = ", " + where
    return "— " + cut(q.title, max(1, limit - 2 - len(where))) + where


_MENTION_MARKUP = re.compile(r"<(@[!&]?|#)(\d+)>")
_MENTION_WORDS = {"@": "@user", "@!": "@user", "@&": "@role", "#": "#channel"}


def title(text: str) -> str:
    """A title as readers should see it: mention markup (``<@123>``) named by kind rather than
    shown raw, then escaped and cut."""
    readable = _MENTION_MARKUP.sub(lambda m: _MENTION_WORDS[m[1]], text)
    return cut(" ".join(readable.split()), TITLE_LIMIT)


def fit_lines(
    lines: Sequence[str], limit: int, more: str = "…and {n} more", sep: str = "\n"
) -> str:
    """As many whole lines as fit in ``limit`` characters, then ``more`` (``{n}``: how many
    were left out); a first line longer than the limit is cut."""
    out: list[str] = []
    used = 0
    for i, line in enumerate(lines):
        left = len(lines) - i - 1
        reserve = len(sep) + len(more.format(n=left)) if left else 0
        gap = len(sep) if out else 0
        if used + gap + len(line) + reserve > limit:
            if out:
                out.append(more.format(n=left + 1))
                break
            line = _cut_markdown(line, limit - reserve)
        out.append(line)
        used += gap + len(line)
    return sep.join(out)


def _cut_markdown(text: str, limit: int) -> str:
    """Already-rendered text cut to ``limit`` (never inside an escape), "…" marking the cut."""
    if len(text) <= limit:
        return text
    head = text[: max(0, limit - 1)]
    trailing = len(head) - len(head.rstrip("\\"))
    if trailing % 2:  # do not leave half an escape
        head = head[:-1]
    return head + ELLIPSIS if limit > 0 else ""


def values_text(value: object, limit: int) -> str:
    """A setting's value for display: lists shown item by item, cut with a count."""
    if isinstance(value, list):
        if not value:
            return "none"
        return fit_lines([escape(str(v)) for v in value], limit, "…and {n} more", sep=", ")
    return cut("default" if value is None else str(value), limit)


def answer_embed(
    answer: Answer,
    highlights: Sequence[Sequence[tuple[int, int]]],
    *,
    quote_chars: int | None = None,
) -> discord.Embed:
    """The embed for an answer: each quote as a block quote, then its citation and the
    other documents that say the same."""
    embed = discord.Embed(title=title(answer.question), colour=COLOUR)
    if not answer.answered:
        lines = [NO_ANSWER]
        if answer.missing_note:
            lines.append(cut(answer.missing_note, 1000))
        embed.description = "\n".join(lines)
        return embed
    blocks: list[str] = []
    n = max(1, len(answer.results))
    budget = (DESCRIPTION_LIMIT - 200) // n
    for cited, marks in zip(answer.results, highlights, strict=True):
        cite_lines = [citation(cited.quote, limit=budget // 2)]
        cite_lines += ["also in: " + citation(o, limit=budget // 2)[2:] for o in cited.also_in]
        while len(cite_lines) > 1 and len("\n".join(cite_lines)) > budget // 2:
            cite_lines.pop()
        tail = "\n".join(cite_lines)
        room = min(quote_chars or budget, budget - len(tail) - 1)
        blocks.append(quote_markdown(cited.quote.text, marks, room) + "\n" + tail)
    embed.description = "\n\n".join(blocks)
    embed.set_footer(text=FOOTER)
    return embed


def context_markdown(doc: Document, units: Sequence[Unit], quote: Quote) -> str:
    """Paragraphs around a quote, each escaped and cut to fit, the quote in bold."""
    budget = (DESCRIPTION_LIMIT - 50) // max(1, len(units))
    pieces = []
    for unit in units:
        text = doc.text[unit.start : unit.end]
        s = max(quote.start, unit.start) - unit.start
        e = min(quote.end, unit.end) - unit.start
        marks = [(s, e)] if s < e else []
        pieces.append(quote_markdown(text, marks, budget, prefix=""))
    return "\n\n".join(pieces)


def cite_block(quote: Quote) -> str:
    """The quote in quotation marks and an attribution line, as a code block to copy, within
    a message's limit: the attribution is cut to at most half of it, the quote to the rest."""
    attribution = "— " + quote.attribution
    if len(attribution) > CONTENT_LIMIT // 2:
        attribution = _word_prefix(attribution, CONTENT_LIMIT // 2 - 1) + ELLIPSIS
    room = CONTENT_LIMIT - len(attribution) - 20
    text = quote.text
    if len(text) > room:
        text = _word_prefix(text, room - 1) + ELLIPSIS
    body = f"“{text}”\n{attribution}"
    if "```" in body:  # cannot fence it: show it escaped instead
        return cut(f"“{text}”", CONTENT_LIMIT - len(attribution) - 10) + "\n" + escape(attribution)
    return f"```\n{body}\n```"


def document_choices(
    docs: Sequence[Document], current: str
) -> list[discord.app_commands.Choice[str]]:
    """Autocomplete: documents whose id or title contains what was typed so far."""
    needle = current.casefold().strip()
    choices = []
    for doc in docs:
        if needle in doc.id or needle in doc.title.casefold():
            suffix = f" ({doc.id})"
            name = doc.title
            if len(name) + len(suffix) > CHOICE_NAME_LIMIT:
                name = name[: CHOICE_NAME_LIMIT - len(suffix) - 1] + ELLIPSIS
            choices.append(discord.app_commands.Choice(name=name + suffix, value=doc.id))
            if len(choices) == CHOICES_LIMIT:
                break
    return choices


def document_embed(doc: Document, paragraphs: int, passages: int) -> discord.Embed:
    """One document's metadata and size."""
    m = doc.meta
    embed = discord.Embed(title=cut(doc.title, TITLE_LIMIT), colour=COLOUR)
    embed.add_field(name="id", value=f"`{doc.id}`")
    embed.add_field(name="collection", value=escape(doc.collection))
    for name, value in (
        ("publisher", m.publisher),
        ("author", m.author),
        ("published", m.published and m.published.isoformat()),
    ):
        if value:
            embed.add_field(name=name, value=cut(value, FIELD_VALUE_LIMIT))
    if m.url:
        embed.add_field(name="url", value=f"<{m.url}>"[:FIELD_VALUE_LIMIT], inline=False)
    embed.add_field(name="characters", value=f"{len(doc.text):,}")
    embed.add_field(name="paragraphs", value=f"{paragraphs:,}")
    embed.add_field(name="passages", value=f"{passages:,}")
    if doc.page_starts:
        embed.add_field(name="pages", value=f"{len(doc.page_starts):,}")
    embed.add_field(name="sha256", value=f"`{doc.sha256}`", inline=False)
    return embed


def documents_embed(
    heading: str, sections: Sequence[tuple[str, Sequence[Document]]]
) -> discord.Embed:
    """Lists of documents (``/sources``, ``/corpus list``): a heading per section, a line per
    document, "…and N more" when they do not fit."""
    lines: list[str] = []
    for label, docs in sections:
        if label:
            lines.append(f"**{escape(label)}** ({len(docs)})")
        for doc in docs:
            line = f"`{doc.id}` {cut(doc.title, 150)}"
            if doc.meta.publisher:
                line += f", {cut(doc.meta.publisher, 60)}"
            if doc.meta.published:
                line += f", {doc.meta.published.isoformat()}"
            lines.append(line)
    more = "…and {n} more: `/source id:` finds any document."
    return discord.Embed(
        title=cut(heading, TITLE_LIMIT),
        description=fit_lines(lines, DESCRIPTION_LIMIT, more) or "No documents.",
        colour=COLOUR,
    )


def added_embed(doc: Document, passages: int, sample: Quote | None) -> discord.Embed:
    """The reply to an upload: its id, size and a sample quote."""
    embed = discord.Embed(title=cut(f"Added: {doc.title}", TITLE_LIMIT), colour=COLOUR)
    embed.add_field(name="id", value=f"`{doc.id}`")
    embed.add_field(name="passages", value=f"{passages:,}")
    embed.add_field(name="characters", value=f"{len(doc.text):,}")
    if doc.page_starts:
        embed.add_field(name="pages", value=f"{len(doc.page_starts):,}")
    if sample is not None:
        embed.add_field(
            name="sample quote",
            value=quote_markdown(sample.text, [], 900) + "\n" + citation(sample, limit=100),
            inline=False,
        )
    return embed


def settings_embed(values: dict[str, object]) -> discord.Embed:
    """``/settings show``: every key and its value, each value cut to its share."""
    share = (DESCRIPTION_LIMIT - 20 * len(values)) // max(1, len(values)) - 40
    lines = [f"`{key}` = {values_text(value, share)}" for key, value in values.items()]
    return discord.Embed(title="Settings", description="\n".join(lines), colour=COLOUR)


def setting_line(key: str, value: object) -> str:
    """The reply to ``/settings set``."""
    head = f"`{key}` = "
    return head + values_text(value, CONTENT_LIMIT - len(head))


SEARCH_MARK = "\nsearch: "
MAX_PAGES, MAX_RESULTS = 25, 250  # search_pages and search_pages * search_page_size at most


def _search_footer(page: int, pages: int, total: int) -> str:
    return f"Page {page}/{pages} · {total} results · {FOOTER}"


# The longest /search query: the footer of any page carries it whole, so paging always works.
SEARCH_QUERY_LIMIT = (
    FOOTER_LIMIT - len(_search_footer(MAX_PAGES, MAX_PAGES, MAX_RESULTS)) - len(SEARCH_MARK)
)


def search_page_embed(
    answer: Answer,
    highlights: Sequence[Sequence[tuple[int, int]]],
    page: int,
    pages: int,
    total: int,
) -> discord.Embed:
    """One page of ``/search`` results. The footer carries the query as typed (footers show
    plain text), so the page buttons need no memory of it."""
    embed = answer_embed(answer, highlights, quote_chars=700)
    footer = _search_footer(page, pages, total)
    query = SEARCH_MARK + answer.question
    embed.set_footer(text=footer + query if len(footer + query) <= FOOTER_LIMIT else footer)
    return embed


def search_query(footer: str | None) -> str | None:
    """The query a search page's footer carries (None when it carries none)."""
    if not footer or SEARCH_MARK not in footer:
        return None
    return footer.split(SEARCH_MARK, 1)[1]
