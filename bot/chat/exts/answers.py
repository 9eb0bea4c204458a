"""Answering: ``/ask``, ``/search``, the "Find sources" and "Answer with sources" message
commands, replies to mentions, and the documents answers quote from (``/sources``,
``/source``). Every command is acknowledged (deferred) before it searches."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.chat import gate, render, views
from bot.chat.services import Services

if TYPE_CHECKING:
    from bot.chat.client import VerbatimBot

EMPTY_MESSAGE = "That message has no text to look up."
NO_DOCUMENT = "There is no document with that id. `/sources` lists them."
EMPTY_MENTION = "Ask me a question after the mention, or use `/help`."


class Answers(commands.Cog):
    def __init__(self, services: Services, bot: commands.Bot) -> None:
        self.services = services
        self.bot = bot
        self.menus = [
            app_commands.ContextMenu(name="Find sources", callback=self.find_sources),
            app_commands.ContextMenu(name="Answer with sources", callback=self.answer_with_sources),
        ]
        for menu in self.menus:
            menu.add_check(gate.count_question)

    async def cog_load(self) -> None:
        for menu in self.menus:
            self.bot.tree.add_command(menu)

    async def cog_unload(self) -> None:
        for menu in self.menus:
            self.bot.tree.remove_command(menu.name, type=menu.type)

    async def _private(self, interaction: discord.Interaction[Any], public: bool | None) -> bool:
        if public is None:
            public = await self.services.public_by_default(interaction.guild_id)
        return not public

    async def _answer(
        self,
        interaction: discord.Interaction[Any],
        question: str,
        *,
        private: bool,
        via: str,
        reply_to: int | None = None,
    ) -> None:
        await gate.acknowledge(interaction, private=private)
        answer, embed = await self.services.ask(
            question,
            render.answer_embed,
            guild_id=interaction.guild_id,
            user_id=interaction.user.id,
            k=await self.services.results(interaction.guild_id),
            via=via,
            arrived=interaction.extras.get("arrived"),
        )
        view = views.answer_view(
            answer, private=private, owner_id=interaction.user.id, reply_to=reply_to
        )
        await gate.deliver(interaction, embed=embed, view=view, private=private)

    @app_commands.command(name="ask", description="Answer with verbatim, cited quotes")
    @app_commands.describe(
        question="What you want to know", public="Show the answer to the whole channel"
    )
    @gate.question_cooldown()
    async def ask(
        self,
        interaction: discord.Interaction[Any],
        question: app_commands.Range[str, 1, 4000],
        public: bool | None = None,
    ) -> None:
        private = await self._private(interaction, public)
        await self._answer(interaction, question, private=private, via="ask")

    def _message_question(
        self, interaction: discord.Interaction[Any], message: discord.Message
    ) -> str:
        text = " ".join(message.content.split())
        if not text:
            raise gate.UserError(EMPTY_MESSAGE)
        limit = self.services.answerer_for(interaction.guild_id).settings.max_question_chars
        return render._word_prefix(text, limit)

    async def find_sources(
        self, interaction: discord.Interaction[Any], message: discord.Message
    ) -> None:
        """Checks a message's claim against the corpus, privately."""
        question = self._message_question(interaction, message)
        await self._answer(interaction, question, private=True, via="find_sources")

    async def answer_with_sources(
        self, interaction: discord.Interaction[Any], message: discord.Message
    ) -> None:
        """A moderator's answer to a member: shown privately first, with a button that replies
        to the member's message with it."""
        question = self._message_question(interaction, message)
        await self._answer(
            interaction, question, private=True, via="answer_with_sources", reply_to=message.id
        )

    @app_commands.command(name="search", description="Search the corpus, page by page")
    @app_commands.describe(query="Words to look for", public="Show the results to the channel")
    @gate.question_cooldown()
    async def search(
        self,
        interaction: discord.Interaction[Any],
        query: app_commands.Range[str, 1, render.SEARCH_QUERY_LIMIT],
        public: bool | None = None,
    ) -> None:
        private = await self._private(interaction, public)
        await gate.acknowledge(interaction, private=private)
        embed, view = await views.search_page(interaction, query, 1)
        await gate.deliver(interaction, embed=embed, view=view, private=private)

    # -- the documents -----------------------------------------------------------------

    @app_commands.command(name="sources", description="List the documents I quote from")
    async def sources(self, interaction: discord.Interaction[Any]) -> None:
        docs = self.services.answerer_for(interaction.guild_id).index.documents
        embed = render.documents_embed(f"{len(docs)} documents", [("", docs)])
        await gate.send(interaction, embed=embed)

    @app_commands.command(name="source", description="Details of one document")
    @app_commands.describe(id="Document id (start typing an id or title)")
    async def source(self, interaction: discord.Interaction[Any], id: str) -> None:
        answerer = self.services.answerer_for(interaction.guild_id)
        doc = answerer.index.by_id.get(id)
        if doc is None:
            raise gate.UserError(NO_DOCUMENT)
        embed = render.document_embed(
            doc, len(answerer.paragraphs_of(doc)), answerer.index.passages_of(doc.id)
        )
        await gate.send(interaction, embed=embed)

    @source.autocomplete("id")
    async def source_ids(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        docs = self.services.answerer_for(interaction.guild_id).index.documents
        return render.document_choices(docs, current)

    # -- mentions ----------------------------------------------------------------------

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        me = self.bot.user
        if me is None or message.author.bot or me not in message.mentions:
            return
        reply_ref = message.to_reference(fail_if_not_exists=False)
        try:
            await self._mention(message, me.id, reply_ref)
        except gate.NotHere:
            return  # not a command: stay silent where the bot does not answer
        except Exception as exc:
            await message.channel.send(gate.reply_for(exc), reference=reply_ref)

    async def _mention(
        self, message: discord.Message, me: int, reply_ref: discord.MessageReference
    ) -> None:
        guild_id = message.guild.id if message.guild else None
        settings = await self.services.settings.get(guild_id)
        self.services.gate.channel(message.channel.id, settings.allowed_channels)
        self.services.gate.cooldown(message.author.id)
        question = re.sub(rf"<@!?{me}>", " ", message.content).strip()
        if not question:
            raise gate.UserError(EMPTY_MENTION)
        answer, embed = await self.services.ask(
            question,
            render.answer_embed,
            guild_id=guild_id,
            user_id=message.author.id,
            k=await self.services.results(guild_id),
            via="mention",
        )
        view = views.answer_view(answer, private=False, owner_id=message.author.id)
        await message.channel.send(
            embed=embed,
            view=view or discord.utils.MISSING,
            reference=reply_ref,
            mention_author=False,
        )


async def setup(bot: VerbatimBot) -> None:
    bot.add_dynamic_items(*views.DYNAMIC_ITEMS)
    await bot.add_cog(Answers(bot.services, bot))
