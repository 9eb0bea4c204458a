import datetime as dt
import re

import discord
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.chat import render
from bot.core.models import Answer, Cited, Document, DocumentMeta, Quote, Timings

# Text that stresses escaping: markdown, mentions, quotes, newlines, long words.
nasty = (
    st.lists(
        st.sampled_from([*"ab c\n*_~`|>#-[]()<@:\\.1’“”", "@everyone", "**", "```", "word "]),
        min_size=1,
        max_size=800,
    )
    .map("".join)
    .filter(lambda t: t.strip())
)


def _strip_markup(rendered: str) -> list[str]:
    """The verbatim pieces a rendered quote shows, markup and escapes removed."""
    return [p for p in render.plain(rendered).split(render.ELLIPSIS) if p]


@settings(max_examples=300, deadline=None)
@given(nasty, st.integers(20, 4096), st.data())
def test_quote_markdown_fits_and_shows_only_verbatim_pieces(text, limit, data):
    text = text.strip()
    n = len(text)
    starts = sorted(data.draw(st.sets(st.integers(0, max(0, n - 1)), max_size=5)))
    marks = []
    for s in starts:
        e = min(n, s + data.draw(st.integers(1, 10)))
        if not marks or s >= marks[-1][1]:
            marks.append((s, e))
    out = render.quote_markdown(text, marks, limit)
    assert len(out) <= limit
    for piece in _strip_markup(out):
        assert piece in text


@given(nasty)
def test_escape_round_trips_and_neutralises_mentions(text):
    escaped = render.escape(text)
    assert render.unescape(escaped) == text
    assert "@everyone" not in escaped.replace("\\@", "")
    assert not re.search(r"(?<!\\)\*\*", escaped)


def _answer(texts: list[str], question: str) -> tuple[Answer, list[list[tuple[int, int]]]]:
    results = []
    for i, t in enumerate(texts):
        doc = Document(
            id=f"d{i}",
            text=t,
            meta=DocumentMeta(
                title=("T*_" * 200)[:300],
                publisher="@everyone News",
                published=dt.date(2022, 6, 22),
                url="https://example.org/a_(b)",
            ),
        )
        q = Quote.from_document(doc, 0, len(t), paragraph=i + 1)
        results.append(Cited(quote=q, also_in=[q.model_copy(update={"doc_id": "x"})] * 3))
    answer = Answer(
        question=question,
        answered=bool(results),
        results=results,
        timings=Timings(search_ms=1, total_ms=1),
    )
    return answer, [[(0, min(3, len(t)))] for t in texts]


@settings(max_examples=100, deadline=None)
@given(st.lists(nasty.map(str.strip).filter(bool), min_size=0, max_size=10), nasty)
def test_answer_embed_is_within_every_discord_limit(texts, question):
    answer, marks = _answer(texts, question)
    embed = render.answer_embed(answer, marks)
    assert len(embed.title or "") <= render.TITLE_LIMIT
    assert len(embed.description or "") <= render.DESCRIPTION_LIMIT
    assert len(embed) <= render.EMBEDS_TOTAL_LIMIT
    assert len(embed.fields) <= 25
    if not texts:
        assert render.NO_ANSWER in (embed.description or "")


def test_cite_block_is_pasteable():
    doc = Document(
        id="d",
        text="He said “no” to @everyone.",
        meta=DocumentMeta(title="A Title", publisher="Pub", published=dt.date(2022, 6, 22)),
    )
    quote = Quote.from_document(doc, 0, len(doc.text), paragraph=4)
    block = render.cite_block(quote)
    assert block == "```\n“He said “no” to @everyone.”\n— A Title, Pub, 22 June 2022, ¶4\n```"


def test_embed_colour_and_footer():
    answer, marks = _answer(["Some text."], "q")
    embed = render.answer_embed(answer, marks)
    assert embed.footer.text == render.FOOTER
    assert isinstance(embed.colour, discord.Colour)


def test_button_custom_ids_fit_discords_limit():
    from bot.chat.views import CiteButton, ContextButton

    longest_id = "a" * 64  # the longest slug a document id may be
    for cls in (ContextButton, CiteButton):
        button = cls(longest_id, 999_999_999, 999_999_999, 25)
        assert len(button.item.custom_id or "") <= render.CUSTOM_ID_LIMIT
