"""Slash commands, the "Find sources" message command and replies to mentions."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.chat import render
from bot.chat.client import CHANNEL_REPLY, COOLDOWN_REPLY, CoolingDown, NotHere
from bot.chat.views import SearchPager, answer_view
from bot.core.answers import QuestionError
from bot.core.models import Answer

if TYPE_CHECKING:
    from bot.chat.client import VerbatimBot

HELP_TEXT = (
    "I answer only with **verbatim quotes** from the documents in my corpus, each with its "
    "source: I never write a sentence of my own about the subject. When no passage answers "
    "a question, I say so.\n\n"
    "`/ask question:` the best quotes, with **Context** (the paragraphs around a quote), "
    "**Cite** (a citation ready to paste) and **Post to channel** buttons.\n"
    "`/search query:` more results, page by page.\n"
    "`/sources` the documents I quote from; `/source id:` one document's details.\n"
    "**Find sources** (right-click a message → Apps) checks a message's claim against the "
    "corpus.\n"
    "Mention me with a question (`@Verbatim who published the report?`) for a reply in the "
    "channel."
)
EMPTY_MESSAGE = "That message has no text to look up."
NO_DOCUMENT = "There is no document with that id. `/sources` lists them."


class Verbatim(commands.Cog):
    def __init__(self, bot: VerbatimBot) -> None:
        self.bot = bot
        self.find_sources_menu = app_commands.ContextMenu(
            name="Find sources", callback=self.find_sources
        )

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.find_sources_menu)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.find_sources_menu.name, type=self.find_sources_menu.type)

    # -- answering ---------------------------------------------------------------------

    async def _search(
        self,
        interaction: discord.Interaction[Any],
        question: str,
        *,
        ephemeral: bool,
        via: str,
        k: int,
    ) -> Answer | None:
        """Gate, defer, then search off the event loop. None when the question was refused
        (the user has been told why)."""
        await self.bot.check(interaction.guild_id, interaction.channel_id, interaction.user.id)
        await interaction.response.defer(ephemeral=ephemeral, thinking=True)
        try:
            return await self.bot.ask(
                question, guild_id=interaction.guild_id, user_id=interaction.user.id, k=k, via=via
            )
        except QuestionError as exc:
            await interaction.edit_original_response(content=render.escape(str(exc)))
            return None

    async def _answer(
        self,
        interaction: discord.Interaction[Any],
        question: str,
        *,
        ephemeral: bool,
        via: str,
    ) -> None:
        k = await self.bot.results(interaction.guild_id)
        answer = await self._search(interaction, question, ephemeral=ephemeral, via=via, k=k)
        if answer is None:
            return
        await interaction.edit_original_response(
            embed=self._embed(answer, interaction.guild_id),
            view=answer_view(answer, ephemeral=ephemeral),
        )

    def _embed(
        self, answer: Answer, guild_id: int | None, quote_chars: int | None = None
    ) -> discord.Embed:
        answerer = self.bot.answerer_for(guild_id)
        marks = [answerer.highlights(c.quote) for c in answer.results]
        return render.answer_embed(answer, marks, quote_chars=quote_chars)

    async def _ephemeral(self, guild_id: int | None, public: bool | None) -> bool:
        return not (await self.bot.public_by_default(guild_id) if public is None else public)

    @app_commands.command(name="ask", description="Answer with verbatim, cited quotes")
    @app_commands.describe(
        question="What you want to know", public="Show the answer to the whole channel"
    )
    async def ask(
        self,
        interaction: discord.Interaction[Any],
        question: app_commands.Range[str, 1, 4000],
        public: bool | None = None,
    ) -> None:
        ephemeral = await self._ephemeral(interaction.guild_id, public)
        await self._answer(interaction, question, ephemeral=ephemeral, via="ask")

    async def find_sources(
        self, interaction: discord.Interaction[Any], message: discord.Message
    ) -> None:
        text = " ".join(message.content.split())
        if not text:
            await interaction.response.send_message(EMPTY_MESSAGE, ephemeral=True)
            return
        limit = self.bot.answerer_for(interaction.guild_id).settings.max_question_chars
        question = render._word_prefix(text, limit)
        await self._answer(interaction, question, ephemeral=True, via="find_sources")

    @app_commands.command(name="search", description="Search the corpus, page by page")
    @app_commands.describe(query="Words to look for", public="Show the results to the channel")
    async def search(
        self,
        interaction: discord.Interaction[Any],
        query: app_commands.Range[str, 1, 4000],
        public: bool | None = None,
    ) -> None:
        cfg = self.bot.config
        ephemeral = await self._ephemeral(interaction.guild_id, public)
        k = cfg.search_page_size * cfg.search_pages
        answer = await self._search(interaction, query, ephemeral=ephemeral, via="search", k=k)
        if answer is None:
            return
        if not answer.answered:
            await interaction.edit_original_response(
                embed=self._embed(answer, interaction.guild_id)
            )
            return
        size = cfg.search_page_size
        chunks = [answer.results[i : i + size] for i in range(0, len(answer.results), size)]
        pages = []
        for n, chunk in enumerate(chunks, 1):
            page = answer.model_copy(update={"results": chunk})
            embed = self._embed(page, interaction.guild_id, quote_chars=700)
            embed.set_footer(
                text=f"Page {n}/{len(chunks)} · {len(answer.results)} results · {render.FOOTER}"
            )
            pages.append(embed)
        view = SearchPager(pages, interaction.user.id) if len(pages) > 1 else None
        await interaction.edit_original_response(embed=pages[0], view=view or discord.utils.MISSING)

    # -- the corpus --------------------------------------------------------------------

    @app_commands.command(name="sources", description="List the documents I quote from")
    async def sources(self, interaction: discord.Interaction[Any]) -> None:
        docs = self.bot.answerer_for(interaction.guild_id).index.documents
        lines: list[str] = []
        used = 0
        for i, doc in enumerate(docs):
            line = f"`{doc.id}` {render.cut(doc.title, 150)}"
            if doc.meta.publisher:
                line += f", {render.cut(doc.meta.publisher, 60)}"
            if doc.meta.published:
                line += f", {doc.meta.published.isoformat()}"
            if used + len(line) + 60 > render.DESCRIPTION_LIMIT:
                lines.append(f"…and {len(docs) - i} more: `/source id:` finds any of them.")
                break
            lines.append(line)
            used += len(line) + 1
        embed = discord.Embed(
            title=f"{len(docs)} documents", description="\n".join(lines), colour=render.COLOUR
        )
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @app_commands.command(name="source", description="Details of one document")
    @app_commands.describe(id="Document id (start typing an id or title)")
    async def source(self, interaction: discord.Interaction[Any], id: str) -> None:
        await show_document(self.bot, interaction, id)

    @source.autocomplete("id")
    async def source_ids(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return document_ids(self.bot, interaction, current)

    @app_commands.command(name="help", description="What I do and how to ask")
    async def help(self, interaction: discord.Interaction[Any]) -> None:
        embed = discord.Embed(title="Verbatim", description=HELP_TEXT, colour=render.COLOUR)
        await interaction.response.send_message(embed=embed, ephemeral=True)

    # -- mentions ----------------------------------------------------------------------

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        me = self.bot.user
        if me is None or message.author.bot or me not in message.mentions:
            return
        question = re.sub(rf"<@!?{me.id}>", " ", message.content).strip()
        reply_ref = message.to_reference(fail_if_not_exists=False)
        guild_id = message.guild.id if message.guild else None
        try:
            await self.bot.check(guild_id, message.channel.id, message.author.id)
        except NotHere:
            return
        except CoolingDown as exc:
            seconds = max(1, round(exc.retry_after))
            await message.reply(COOLDOWN_REPLY.format(seconds=seconds), mention_author=False)
            return
        if not question:
            await message.channel.send(
                "Ask me a question after the mention, or use `/help`.", reference=reply_ref
            )
            return
        try:
            answer = await self.bot.ask(
                question,
                guild_id=guild_id,
                user_id=message.author.id,
                k=await self.bot.results(guild_id),
                via="mention",
            )
        except QuestionError as exc:
            await message.channel.send(render.escape(str(exc)), reference=reply_ref)
            return
        await message.channel.send(
            embed=self._embed(answer, guild_id),
            view=answer_view(answer, ephemeral=False) or discord.utils.MISSING,
            reference=reply_ref,
            mention_author=False,
        )


async def show_document(
    bot: VerbatimBot, interaction: discord.Interaction[Any], doc_id: str
) -> None:
    """One document's metadata and size, for /source and /corpus info."""
    answerer = bot.answerer_for(interaction.guild_id)
    doc = answerer.index.by_id.get(doc_id)
    if doc is None:
        await interaction.response.send_message(NO_DOCUMENT, ephemeral=True)
        return
    embed = render.document_embed(
        doc, len(answerer.paragraphs_of(doc)), answerer.index.passages_of(doc.id)
    )
    await interaction.response.send_message(embed=embed, ephemeral=True)


def document_ids(
    bot: VerbatimBot, interaction: discord.Interaction[Any], current: str
) -> list[app_commands.Choice[str]]:
    """Autocomplete over the documents a server answers from."""
    docs = bot.answerer_for(interaction.guild_id).index.documents
    return render.document_choices(docs, current)


__all__ = ["CHANNEL_REPLY", "Verbatim", "document_ids", "show_document"]
