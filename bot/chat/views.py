"""Buttons under answers. Answer buttons are stateless :class:`discord.ui.DynamicItem`s whose
custom id carries the quoted span, so they keep working after a restart; the quote is rebuilt
from the current corpus through the checked path, and a span that no longer matches fails
closed."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import discord

from bot.chat import render
from bot.core.models import Answer, Quote, QuoteIntegrityError

if TYPE_CHECKING:
    from bot.chat.client import VerbatimBot

QUOTE_GONE = "That passage is no longer in the corpus as quoted; ask again."


def _bot(interaction: discord.Interaction[Any]) -> VerbatimBot:
    return interaction.client  # type: ignore[no-any-return]


def _requote(interaction: discord.Interaction[Any], doc_id: str, start: int, end: int) -> Quote:
    answerer = _bot(interaction).answerer_for(interaction.guild_id)
    doc = answerer.index.by_id.get(doc_id)
    if doc is None:
        raise QuoteIntegrityError(f"document {doc_id!r} is gone")
    return Quote.from_document(doc, start, end, paragraph=answerer.paragraph_at(doc, start))


class _SpanButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"$^"):
    """A button bound to one quoted span: ``vb:<action>:<start>:<end>:<doc id>``."""

    action = ""
    label = ""

    def __init__(self, doc_id: str, start: int, end: int, n: int | None = None) -> None:
        self.doc_id, self.start, self.end = doc_id, start, end
        label = f"{self.label} {n}" if n else self.label
        super().__init__(
            discord.ui.Button(
                label=label,
                style=discord.ButtonStyle.secondary,
                custom_id=f"vb:{self.action}:{start}:{end}:{doc_id}",
            )
        )

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Button[Any],
        match: re.Match[str],
    ) -> _SpanButton:
        return cls(match["doc"], int(match["start"]), int(match["end"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        try:
            quote = _requote(interaction, self.doc_id, self.start, self.end)
        except QuoteIntegrityError:
            await interaction.response.send_message(QUOTE_GONE, ephemeral=True)
            return
        await self.respond(interaction, quote)

    async def respond(self, interaction: discord.Interaction[Any], quote: Quote) -> None:
        raise NotImplementedError


_SPAN = r":(?P<start>\d{1,9}):(?P<end>\d{1,9}):(?P<doc>[a-z0-9][a-z0-9-]{0,63})"


class ContextButton(_SpanButton, template=r"vb:ctx" + _SPAN):
    """The paragraphs around a quote, the quote itself in bold."""

    action, label = "ctx", "Context"

    async def respond(self, interaction: discord.Interaction[Any], quote: Quote) -> None:
        answerer = _bot(interaction).answerer_for(interaction.guild_id)
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

    action, label = "cite", "Cite"

    async def respond(self, interaction: discord.Interaction[Any], quote: Quote) -> None:
        await interaction.response.send_message(render.cite_block(quote), ephemeral=True)


class PostButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"vb:post"):
    """Posts an answer that only its asker could see to the channel."""

    def __init__(self) -> None:
        super().__init__(
            discord.ui.Button(
                label="Post to channel", style=discord.ButtonStyle.primary, custom_id="vb:post"
            )
        )

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Button[Any],
        match: re.Match[str],
    ) -> PostButton:
        return cls()

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        """Repost the answer publicly, after checking that every quoted span is still the
        corpus's text (fail closed: a changed corpus means ask again)."""
        message = interaction.message
        if message is None or not message.embeds:
            await interaction.response.send_message(QUOTE_GONE, ephemeral=True)
            return
        view = discord.ui.View(timeout=None)
        try:
            for component in message.components:
                for child in getattr(component, "children", []):
                    m = re.fullmatch(
                        r"vb:(ctx|cite)" + _SPAN, getattr(child, "custom_id", "") or ""
                    )
                    if m is None:
                        continue
                    doc_id, start, end = m["doc"], int(m["start"]), int(m["end"])
                    _requote(interaction, doc_id, start, end)
                    cls = ContextButton if m[1] == "ctx" else CiteButton
                    n = re.search(r"\d+", getattr(child, "label", None) or "")
                    view.add_item(cls(doc_id, start, end, n and int(n[0])))
        except QuoteIntegrityError:
            await interaction.response.send_message(QUOTE_GONE, ephemeral=True)
            return
        await interaction.response.send_message(embeds=message.embeds, view=view)


def answer_view(answer: Answer, *, ephemeral: bool) -> discord.ui.View | None:
    """Context and Cite for each quote, and Post to channel when only the asker sees it."""
    if not answer.answered:
        return None
    view = discord.ui.View(timeout=None)
    for n, cited in enumerate(answer.results[:4], 1):
        q = cited.quote
        view.add_item(ContextButton(q.doc_id, q.start, q.end, n))
        view.add_item(CiteButton(q.doc_id, q.start, q.end, n))
    if ephemeral:
        view.add_item(PostButton())
    return view


class SearchPager(discord.ui.View):
    """Previous / Next through pages of /search results, kept in memory for a while."""

    def __init__(self, pages: Sequence[discord.Embed], owner_id: int) -> None:
        super().__init__(timeout=900)
        self.pages = list(pages)
        self.page = 0
        self.owner_id = owner_id
        self._sync()

    def _sync(self) -> None:
        self.previous.disabled = self.page == 0
        self.next.disabled = self.page >= len(self.pages) - 1

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        if interaction.user.id != self.owner_id:
            await interaction.response.send_message(
                "Only the person who searched can page through these results.", ephemeral=True
            )
            return False
        return True

    async def _show(self, interaction: discord.Interaction[Any], step: int) -> None:
        self.page = max(0, min(len(self.pages) - 1, self.page + step))
        self._sync()
        await interaction.response.edit_message(embed=self.pages[self.page], view=self)

    @discord.ui.button(label="Previous", style=discord.ButtonStyle.secondary, custom_id="vb:prev")
    async def previous(
        self, interaction: discord.Interaction[Any], button: discord.ui.Button[Any]
    ) -> None:
        await self._show(interaction, -1)

    @discord.ui.button(label="Next", style=discord.ButtonStyle.secondary, custom_id="vb:next")
    async def next(
        self, interaction: discord.Interaction[Any], button: discord.ui.Button[Any]
    ) -> None:
        await self._show(interaction, +1)


DYNAMIC_ITEMS = (ContextButton, CiteButton, PostButton)
