"""The Discord bot: a thin adapter between Discord and the answering core.

Search runs in a worker thread (``asyncio.to_thread``) so the event loop, and with it the
gateway heartbeat, never waits on it. Mentions are off for everything the bot sends.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.chat.logs import log_event
from bot.config import DiscordConfig
from bot.core.answers import Answerer
from bot.core.models import Answer

log = logging.getLogger(__name__)

COOLDOWN_REPLY = "You're asking quickly: please wait {seconds} s before the next question."
CHANNEL_REPLY = "I don't answer in this channel."
ERROR_REPLY = "Something went wrong on my side; it has been logged. Please try again."


class NotHere(app_commands.CheckFailure):
    """The channel is not on the allow-list."""


class CoolingDown(app_commands.CheckFailure):
    def __init__(self, retry_after: float) -> None:
        super().__init__("cooldown")
        self.retry_after = retry_after


class Gate:
    """Channel allow-list and per-user cooldowns, shared by commands, buttons and mentions."""

    def __init__(self, config: DiscordConfig) -> None:
        self.config = config
        self._buckets: dict[int, app_commands.Cooldown] = {}

    def check(self, channel_id: int | None, user_id: int) -> None:
        """Raise :class:`NotHere` or :class:`CoolingDown`, or count one use."""
        allowed = self.config.allowed_channels
        if allowed and channel_id not in allowed:
            raise NotHere("channel not allowed")
        if self.config.cooldown_seconds <= 0:
            return
        if len(self._buckets) > 10_000:  # forget users whose window has passed
            now = time.time()
            self._buckets = {k: b for k, b in self._buckets.items() if b._window + b.per > now}
        bucket = self._buckets.get(user_id)
        if bucket is None:
            bucket = app_commands.Cooldown(self.config.cooldown_uses, self.config.cooldown_seconds)
            self._buckets[user_id] = bucket
        retry = bucket.update_rate_limit()
        if retry:
            raise CoolingDown(retry)


class VerbatimTree(app_commands.CommandTree["VerbatimBot"]):
    async def on_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        if isinstance(error, app_commands.CommandInvokeError) and isinstance(
            error.original, app_commands.CheckFailure
        ):
            error = error.original
        if isinstance(error, CoolingDown):
            message = COOLDOWN_REPLY.format(seconds=max(1, round(error.retry_after)))
        elif isinstance(error, NotHere):
            message = CHANNEL_REPLY
        else:
            log.error("command failed", exc_info=error)
            message = ERROR_REPLY
        await reply_privately(interaction, message)


async def reply_privately(interaction: discord.Interaction[Any], message: str) -> None:
    try:
        if interaction.response.is_done():
            await interaction.followup.send(message, ephemeral=True)
        else:
            await interaction.response.send_message(message, ephemeral=True)
    except discord.HTTPException:
        log.warning("could not send an error reply", exc_info=True)


class VerbatimBot(commands.AutoShardedBot):
    def __init__(
        self,
        config: DiscordConfig,
        answerer_for: Callable[[int | None], Answerer],
        **options: Any,
    ) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        intents.guild_messages = True  # mentions of the bot carry their content
        intents.dm_messages = True
        super().__init__(
            command_prefix=commands.when_mentioned,
            help_command=None,
            intents=intents,
            allowed_mentions=discord.AllowedMentions.none(),
            tree_cls=VerbatimTree,
            application_id=config.application_id,
            shard_count=config.shard_count,
            shard_ids=config.shard_ids,
            **options,
        )
        self.config = config
        self.gate = Gate(config)
        self._answerer_for = answerer_for

    def answerer_for(self, guild_id: int | None) -> Answerer:
        """The answerer for a server (its collections); read fresh on every use, so a corpus
        swap takes effect at once."""
        return self._answerer_for(guild_id)

    async def setup_hook(self) -> None:
        from bot.chat.commands import Verbatim
        from bot.chat.views import DYNAMIC_ITEMS

        self.add_dynamic_items(*DYNAMIC_ITEMS)
        await self.add_cog(Verbatim(self))

    async def on_message(self, message: discord.Message) -> None:
        """No prefix commands: mentions are answered by the cog's listener."""

    async def ask(
        self, question: str, *, guild_id: int | None, user_id: int, k: int, via: str
    ) -> Answer:
        """Answer off the event loop and log the outcome (not the question, unless asked to)."""
        answerer = self.answerer_for(guild_id)
        started = time.perf_counter()
        answer = await asyncio.to_thread(answerer.answer, question, k)
        log_event(
            "answer",
            via=via,
            guild=guild_id,
            user=user_id,
            answered=answer.answered,
            quotes=len(answer.results),
            search_ms=round(answer.timings.search_ms, 3),
            total_ms=round((time.perf_counter() - started) * 1000, 3),
            question=question if self.config.log_questions else None,
        )
        return answer
