"""Buttons under answers. Every button is a stateless :class:`discord.ui.DynamicItem` whose
custom id carries what it needs (a quoted span, a page, who may press it), so buttons keep
working after a restart. Quotes are rebuilt from the current corpus through the checked path,
and a span that no longer matches fails closed. Buttons that act once (Post, Reply, Remove)
are disabled by the press; failures take the gate's one error path.
"""

from __future__ import annotations

import re
from typing import Any

import discord

from bot.chat import gate, render
from bot.core.models import Answer, Quote, QuoteIntegrityError

QUOTE_GONE = "That passage is no longer in the corpus as quoted; ask again."
NOT_YOURS = "Only the person who asked, or a moderator, can delete this answer."
NOT_YOUR_SEARCH = "Only the person who searched can page through these results."
QUESTION_GONE = "I can't find the question this answered any more; ask again."

_SPAN = r":(?P<start>\d{1,9}):(?P<end>\d{1,9}):(?P<doc>[a-z0-9][a-z0-9-]{0,63})"
_SPAN_ID = re.compile(r"vb:(ctx|cite)" + _SPAN)


class Button(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"$^"):
    """A stateless button: ``parse`` reads the custom id, ``run`` handles a press."""

    def __init__(self, custom_id: str, label: str, style: discord.ButtonStyle) -> None:
        super().__init__(discord.ui.Button(label=label, style=style, custom_id=custom_id))

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Button[Any],
        match: re.Match[str],
    ) -> Button:
        return cls.parse(match, item)

    @classmethod
    def parse(cls, match: re.Match[str], item: discord.ui.Button[Any]) -> Button:
        raise NotImplementedError

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        try:
            await self.run(interaction)
        except Exception as exc:
            await gate.on_error(interaction, exc)

    async def run(self, interaction: discord.Interaction[Any]) -> None:
        raise NotImplementedError


def requote(interaction: discord.Interaction[Any], doc_id: str, start: int, end: int) -> Quote:
    answerer = gate.services(interaction).answerer_for(interaction.guild_id)
    doc = answerer.index.by_id.get(doc_id)
    if doc is None:
        raise QuoteIntegrityError(f"document {doc_id!r} is gone")
    return Quote.from_document(doc, start, end, paragraph=answerer.paragraph_at(doc, start))


class _SpanButton(Button, template=r"$^"):
    """A button bound to one quoted span: ``vb:<action>:<start>:<end>:<doc id>``."""

    action = ""
    name = ""

    def __init__(self, doc_id: str, start: int, end: int, n: int | None = None) -> None:
        self.doc_id, self.start, self.end, self.n = doc_id, start, end, n
        super().__init__(
            f"vb:{self.action}:{start}:{end}:{doc_id}",
            f"{self.name} {n}" if n else self.name,
            discord.ButtonStyle.secondary,
        )

    @classmethod
    def parse(cls, match: re.Match[str], item: discord.ui.Button[Any]) -> Button:
        n = re.search(r"\d+", item.label or "")
        return cls(match["doc"], int(match["start"]), int(match["end"]), n and int(n[0]))

    async def run(self, interaction: discord.Interaction[Any]) -> None:
        try:
            quote = requote(interaction, self.doc_id, self.start, self.end)
        except QuoteIntegrityError:
            await gate.send(interaction, QUOTE_GONE)
            return
        await self.respond(interaction, quote)

    async def respond(self, interaction: discord.Interaction[Any], quote: Quote) -> None:
        raise NotImplementedError


class ContextButton(_SpanButton, template=r"vb:ctx" + _SPAN):
    """The paragraphs around a quote, the quote itself in bold."""

    action, name = "ctx", "Context"

    async def respond(self, interaction: discord.Interaction[Any], quote: Quote) -> None:
        answerer = gate.services(interaction).answerer_for(interaction.guild_id)
        doc = answerer.index.by_id[quote.doc_id]
        embed = discord.Embed(
            title=render.cut(quote.title, render.TITLE_LIMIT),
            description=render.context_markdown(doc, answerer.context_spans(quote), quote),
            colour=render.COLOUR,
        )
        embed.set_footer(text=render.citation(quote)[2:][: render.FOOTER_LIMIT])
        await interaction.response.send_message(embed=embed, ephemeral=True)


class CiteButton(_SpanButton, template=r"vb:cite" + _SPAN):
    """A plain-text citation, ready to paste."""

    action, name = "cite", "Cite"

    async def respond(self, interaction: discord.Interaction[Any], quote: Quote) -> None:
        await interaction.response.send_message(render.cite_block(quote), ephemeral=True)


def _checked_spans(interaction: discord.Interaction[Any]) -> list[discord.ui.Item[Any]]:
    """The Context and Cite buttons of the pressed message, every span re-checked against the
    current corpus (raises :class:`QuoteIntegrityError` when one changed)."""
    items: list[discord.ui.Item[Any]] = []
    for row in interaction.message.components if interaction.message else []:
        for child in getattr(row, "children", []):
            m = _SPAN_ID.fullmatch(getattr(child, "custom_id", None) or "")
            if m is None:
                continue
            doc_id, start, end = m["doc"], int(m["start"]), int(m["end"])
            requote(interaction, doc_id, start, end)
            cls = ContextButton if m[1] == "ctx" else CiteButton
            n = re.search(r"\d+", getattr(child, "label", None) or "")
            items.append(cls(doc_id, start, end, n and int(n[0])))
    return items


def _used(message: discord.Message, custom_id: str) -> discord.ui.View:
    """The message's buttons with the pressed single-use one disabled."""
    view = discord.ui.View.from_message(message, timeout=None)
    for item in view.children:
        if isinstance(item, discord.ui.Button) and item.custom_id == custom_id:
            item.disabled = True
    return view


class _OnceButton(Button, template=r"$^"):
    """Publishes a private answer once: checks every quoted span, disables itself, then
    publishes with a Delete button for the person who pressed it."""

    async def run(self, interaction: discord.Interaction[Any]) -> None:
        message = interaction.message
        if message is None or not message.embeds:
            raise gate.UserError(QUOTE_GONE)
        try:
            items = _checked_spans(interaction)
        except QuoteIntegrityError:
            raise gate.UserError(QUOTE_GONE) from None
        view = discord.ui.View(timeout=None)
        for item in [*items, DeleteButton(interaction.user.id)]:
            view.add_item(item)
        embeds = [_readable_title(e) for e in message.embeds]
        await interaction.response.edit_message(view=_used(message, self.item.custom_id or ""))
        await self.publish(interaction, embeds, view)

    async def publish(
        self,
        interaction: discord.Interaction[Any],
        embeds: list[discord.Embed],
        view: discord.ui.View,
    ) -> None:
        raise NotImplementedError


def _readable_title(embed: discord.Embed) -> discord.Embed:
    copy = embed.copy()
    if copy.title:
        copy.title = render.title(render.unescape(copy.title))
    return copy


class PostButton(_OnceButton, template=r"vb:post"):
    """Posts an answer that only its asker could see to the channel."""

    def __init__(self) -> None:
        super().__init__("vb:post", "Post to channel", discord.ButtonStyle.primary)

    @classmethod
    def parse(cls, match: re.Match[str], item: discord.ui.Button[Any]) -> Button:
        return cls()

    async def publish(
        self,
        interaction: discord.Interaction[Any],
        embeds: list[discord.Embed],
        view: discord.ui.View,
    ) -> None:
        await interaction.followup.send(embeds=embeds, view=view)


class ReplyButton(_OnceButton, template=r"vb:reply:(?P<message>\d{1,20})"):
    """Replies to a member's message with an answer a moderator first saw privately."""

    def __init__(self, message_id: int) -> None:
        self.message_id = message_id
        super().__init__(
            f"vb:reply:{message_id}", "Reply to the message", discord.ButtonStyle.primary
        )

    @classmethod
    def parse(cls, match: re.Match[str], item: discord.ui.Button[Any]) -> Button:
        return cls(int(match["message"]))

    async def publish(
        self,
        interaction: discord.Interaction[Any],
        embeds: list[discord.Embed],
        view: discord.ui.View,
    ) -> None:
        channel = interaction.channel
        if not isinstance(channel, discord.abc.Messageable):
            raise gate.UserError("I can't post in this channel.")
        reference = discord.MessageReference(
            message_id=self.message_id, channel_id=channel.id, fail_if_not_exists=False
        )
        await channel.send(embeds=embeds, view=view, reference=reference, mention_author=False)


class DeleteButton(Button, template=r"vb:del:(?P<owner>\d{1,20})"):
    """Deletes a public answer: for the person who asked or posted it, and moderators."""

    def __init__(self, owner_id: int) -> None:
        self.owner_id = owner_id
        super().__init__(f"vb:del:{owner_id}", "Delete", discord.ButtonStyle.danger)

    @classmethod
    def parse(cls, match: re.Match[str], item: discord.ui.Button[Any]) -> Button:
        return cls(int(match["owner"]))

    async def run(self, interaction: discord.Interaction[Any]) -> None:
        moderator = interaction.permissions.manage_messages
        if interaction.user.id != self.owner_id and not moderator:
            raise gate.UserError(NOT_YOURS)
        await interaction.response.defer()
        if interaction.message is not None:
            await interaction.message.delete()


class PageButton(Button, template=r"vb:page:(?P<page>\d{1,3}):(?P<owner>\d{1,20}):(?P<dir>[pn])"):
    """Previous / Next through /search results: the page and searcher are in the custom id,
    the query in the message's footer, so paging survives restarts."""

    def __init__(self, page: int, owner_id: int, direction: str, disabled: bool = False) -> None:
        self.page, self.owner_id = page, owner_id
        super().__init__(
            f"vb:page:{page}:{owner_id}:{direction}",
            "Previous" if direction == "p" else "Next",
            discord.ButtonStyle.secondary,
        )
        self.item.disabled = disabled

    @classmethod
    def parse(cls, match: re.Match[str], item: discord.ui.Button[Any]) -> Button:
        return cls(int(match["page"]), int(match["owner"]), match["dir"])

    async def run(self, interaction: discord.Interaction[Any]) -> None:
        if interaction.user.id != self.owner_id:
            raise gate.UserError(NOT_YOUR_SEARCH)
        message = interaction.message
        footer = message.embeds[0].footer.text if message and message.embeds else None
        query = render.search_query(footer)
        if query is None:
            raise gate.UserError(QUESTION_GONE)
        await interaction.response.defer()
        embed, view = await search_page(interaction, query, self.page)
        await interaction.edit_original_response(embed=embed, view=view)


async def search_page(
    interaction: discord.Interaction[Any], query: str, page: int
) -> tuple[discord.Embed, discord.ui.View | None]:
    """Search again and show page ``page`` (1-based) with its Previous / Next buttons."""
    services = gate.services(interaction)
    cfg = services.config
    size = cfg.search_page_size

    def show(answer: Answer, marks: list[list[tuple[int, int]]]) -> tuple[discord.Embed, int]:
        if not answer.answered:
            return render.answer_embed(answer, marks), 1
        pages = -(-len(answer.results) // size)
        at = (max(1, min(pages, page)) - 1) * size
        chunk = answer.model_copy(update={"results": answer.results[at : at + size]})
        shown = render.search_page_embed(
            chunk, marks[at : at + size], at // size + 1, pages, len(answer.results)
        )
        return shown, pages

    _, (embed, pages) = await services.ask(
        query,
        show,
        guild_id=interaction.guild_id,
        user_id=interaction.user.id,
        k=size * cfg.search_pages,
        via="search",
        arrived=interaction.extras.get("arrived"),
    )
    page = max(1, min(pages, page))
    if pages == 1 or render.search_query(embed.footer.text) is None:
        return embed, None
    view = discord.ui.View(timeout=None)
    owner = interaction.user.id
    view.add_item(PageButton(page - 1, owner, "p", disabled=page == 1))
    view.add_item(PageButton(page + 1, owner, "n", disabled=page == pages))
    return embed, view


def answer_view(
    answer: Answer, *, private: bool, owner_id: int, reply_to: int | None = None
) -> discord.ui.View | None:
    """Context and Cite for each quote; then Reply to the message (an answer to a member's
    message, seen privately first), Post to channel (another private answer), or Delete (a
    public answer, for ``owner_id`` and moderators)."""
    view = discord.ui.View(timeout=None)
    for n, cited in enumerate(answer.results[:4] if answer.answered else [], 1):
        q = cited.quote
        view.add_item(ContextButton(q.doc_id, q.start, q.end, n))
        view.add_item(CiteButton(q.doc_id, q.start, q.end, n))
    if private and reply_to is not None:
        view.add_item(ReplyButton(reply_to))
    elif private and answer.answered:
        view.add_item(PostButton())
    elif not private:
        view.add_item(DeleteButton(owner_id))
    return view if view.children else None


DYNAMIC_ITEMS = (ContextButton, CiteButton, PostButton, ReplyButton, DeleteButton, PageButton)
