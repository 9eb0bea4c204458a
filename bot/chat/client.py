"""The Discord bot: a thin adapter between Discord and the answering core.

Search runs in a worker thread (``asyncio.to_thread``) so the event loop, and with it the
gateway heartbeat, never waits on it. Mentions are off for everything the bot sends.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.chat.logs import log_event
from bot.config import DiscordConfig
from bot.core.answers import Answerer
from bot.core.library import Library
from bot.core.models import Answer
from bot.store import GuildSettings, Store

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

    def check(self, channel_id: int | None, user_id: int, allowed: list[int] | None = None) -> None:
        """Raise :class:`NotHere` or :class:`CoolingDown`, or count one use. ``allowed``: the
        server's own channel list, which replaces the config's when set."""
        allowed = allowed or self.config.allowed_channels
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
        *,
        library: Library | None = None,
        store: Store | None = None,
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
        self.library = library
        self.store = store
        self._settings: dict[int, GuildSettings] = {}
        # Search is CPU-bound: more threads than cores would only fight the event loop for
        # the GIL, so questions queue for a small pool of their own.
        self._seen_audit = 0
        self._follower: asyncio.Task[None] | None = None
        self._search_pool = ThreadPoolExecutor(
            max_workers=config.search_threads, thread_name_prefix="search"
        )

    def answerer_for(self, guild_id: int | None) -> Answerer:
        """The answerer for a server (its collections); read fresh on every use, so a corpus
        swap takes effect at once."""
        return self._answerer_for(guild_id)

    async def guild_settings(self, guild_id: int | None) -> GuildSettings:
        """A server's own settings, read off the event loop and cached (a /settings set
        forgets the cached copy)."""
        if guild_id is None or self.store is None:
            return GuildSettings()
        cached = self._settings.get(guild_id)
        if cached is None:
            cached = await asyncio.to_thread(self.store.settings, guild_id)
            self._settings[guild_id] = cached
        return cached

    def forget_settings(self, guild_id: int | None) -> None:
        if guild_id is not None:
            self._settings.pop(guild_id, None)

    async def check(self, guild_id: int | None, channel_id: int | None, user_id: int) -> None:
        """Channel allow-list (the server's, else the config's) and the user's cooldown."""
        allowed = (await self.guild_settings(guild_id)).allowed_channels
        self.gate.check(channel_id, user_id, allowed)

    async def results(self, guild_id: int | None) -> int:
        return (await self.guild_settings(guild_id)).results or self.config.results

    async def public_by_default(self, guild_id: int | None) -> bool:
        own = (await self.guild_settings(guild_id)).public_by_default
        return self.config.public_by_default if own is None else own

    async def setup_hook(self) -> None:
        from bot.chat.commands import Verbatim
        from bot.chat.views import DYNAMIC_ITEMS

        self.add_dynamic_items(*DYNAMIC_ITEMS)
        await self.add_cog(Verbatim(self))
        if self.library is not None and self.store is not None:
            from bot.chat.admin import Admin

            await self.add_cog(Admin(self, self.library, self.store))
            self._seen_audit = await asyncio.to_thread(self.store.latest_audit_id)
            if self.config.follow_changes_seconds > 0:
                self._follower = asyncio.create_task(self._follow_changes())

    async def _follow_changes(self) -> None:
        while True:
            await asyncio.sleep(self.config.follow_changes_seconds)
            try:
                await self.follow_changes_once()
            except Exception:
                log.exception("could not follow corpus and settings changes")

    async def follow_changes_once(self) -> None:
        """Pick up changes other processes (shards) recorded in the shared audit log: forget
        cached settings and re-read changed server collections, off the event loop."""
        assert self.store is not None and self.library is not None
        entries = await asyncio.to_thread(self.store.audit_since, self._seen_audit)
        changed: set[int] = set()
        for entry in entries:
            self._seen_audit = entry.id
            if entry.guild_id is None:
                continue
            if entry.action.startswith("settings."):
                self.forget_settings(entry.guild_id)
            elif entry.action.startswith("corpus."):
                changed.add(entry.guild_id)
        for guild_id in changed:
            await asyncio.to_thread(self.library.reload_server, guild_id)

    async def close(self) -> None:
        if self._follower is not None:
            self._follower.cancel()
        await super().close()
        if self._search_pool is not None:
            self._search_pool.shutdown(wait=False, cancel_futures=True)

    async def on_message(self, message: discord.Message) -> None:
        """No prefix commands: mentions are answered by the cog's listener."""

    async def ask(
        self, question: str, *, guild_id: int | None, user_id: int, k: int, via: str
    ) -> Answer:
        """Answer off the event loop and log the outcome (not the question, unless asked to)."""
        answerer = self.answerer_for(guild_id)
        started = time.perf_counter()
        if self._search_pool is None:
            self._search_pool = ThreadPoolExecutor(
                max_workers=self.config.search_threads, thread_name_prefix="search"
            )
        loop = asyncio.get_running_loop()
        answer = await loop.run_in_executor(self._search_pool, answerer.answer, question, k)
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
