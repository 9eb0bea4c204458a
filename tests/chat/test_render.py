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


def within_limits(embed: discord.Embed) -> None:
    assert len(embed.title or "") <= render.TITLE_LIMIT
    assert len(embed.description or "") <= render.DESCRIPTION_LIMIT
    assert len(embed.footer.text or "") <= render.FOOTER_LIMIT
    assert all(len(f.value or "") <= render.FIELD_VALUE_LIMIT for f in embed.fields)
    assert len(embed.fields) <= 25 and len(embed) <= render.EMBEDS_TOTAL_LIMIT


urls = st.text(st.sampled_from("abc/:?&=%_()<> "), max_size=4000).map(
    lambda u: "https://x.org/" + u
)
long_text = st.text(min_size=1, max_size=300).filter(str.strip)


@settings(max_examples=200, deadline=None)
@given(long_text, urls, st.text(max_size=200), nasty)
def test_cite_block_fits_a_message_whatever_the_url_and_title(title, url, publisher, text):
    """A long URL and title used to raise IndexError: the user got nothing."""
    doc = Document(
        id="d",
        text=text,
        meta=DocumentMeta(title=title.strip()[:300], publisher=publisher.strip() or None, url=url),
    )
    quote = Quote.from_document(doc, 0, len(text), paragraph=8)
    block = render.cite_block(quote)
    assert len(block) <= render.CONTENT_LIMIT


def test_cite_block_with_a_long_url_and_title_keeps_the_quote():
    doc = Document(
        id="d",
        text="The report was published in 2022.",
        meta=DocumentMeta(title="T " * 150, url="https://example.org/" + "a" * 2000),
    )
    block = render.cite_block(Quote.from_document(doc, 0, len(doc.text), paragraph=1))
    assert (
        block.startswith("```\n“The report was published in 2022.”\n— T T") and len(block) <= 2000
    )


ids = st.integers(10**17, 10**19)


@settings(max_examples=100, deadline=None)
@given(st.lists(ids, max_size=400), st.lists(ids, max_size=400), st.none() | ids)
def test_settings_fit_whatever_their_size(channels, roles, audit):
    values = {
        "allowed_channels": channels,
        "admin_roles": roles,
        "public_by_default": None,
        "results": 10,
        "audit_channel": audit,
    }
    embed = render.settings_embed(values)
    within_limits(embed)
    for key, value in values.items():
        line = render.setting_line(key, value)
        assert len(line) <= render.CONTENT_LIMIT
        if isinstance(value, list) and value:
            assert str(value[0]) in line
            if len(value) > 100:
                assert "more" in line


@settings(max_examples=100, deadline=None)
@given(nasty)
def test_refusals_echo_what_was_typed_cut_to_fit(typed):
    from bot.chat import gate
    from bot.store import SettingError, parse_setting

    for error in (SettingError(f"results: not {typed * 5!r}"), gate.UserError(typed * 10)):
        assert len(gate.reply_for(error)) <= render.CONTENT_LIMIT
    try:
        parse_setting("allowed_channels", typed * 20)
    except SettingError as exc:
        assert len(gate.reply_for(exc)) <= render.CONTENT_LIMIT


@settings(max_examples=200, deadline=None)
@given(st.lists(nasty, max_size=300), st.integers(30, 6000))
def test_fit_lines_keeps_whole_lines_and_counts_the_rest(lines, limit):
    lines = [render.escape(line.replace("\n", " ")) for line in lines]
    out = render.fit_lines(lines, limit)
    assert len(out) <= limit
    shown = out.split("\n") if out else []
    if shown and shown[-1].startswith("…and "):
        n = int(shown[-1].split()[1])
        assert n == len(lines) - (len(shown) - 1)


@given(st.lists(ids, min_size=1, max_size=5), nasty)
def test_titles_show_no_mention_markup(users, text):
    question = " ".join(f"<@{u}> <#{u}> <@&{u}>" for u in users) + text
    shown = render.unescape(render.title(question))
    assert not re.search(r"<(@[!&]?|#)\d+>", shown)
    assert len(render.title(question)) <= render.TITLE_LIMIT


def test_document_lists_fit(default_index):
    docs = [
        doc.model_copy(update={"id": f"{doc.id}-{i}"})
        for i in range(300)
        for doc in default_index.documents
    ]
    within_limits(render.documents_embed("600 documents", [("", docs)]))
    within_limits(render.documents_embed("Collections", [("a", docs), ("b", docs)]))


@settings(max_examples=100, deadline=None)
@given(st.text(min_size=1, max_size=render.SEARCH_QUERY_LIMIT).filter(str.strip))
def test_every_search_query_discord_accepts_rides_in_the_footer_of_any_page(query):
    answer, marks = _answer(["Some text."], query)
    query = answer.question
    embed = render.search_page_embed(answer, marks, 25, 25, 250)
    assert len(embed.footer.text or "") <= render.FOOTER_LIMIT
    assert render.search_query(embed.footer.text) == query
