"""The Discord bot: holds the services and loads the extensions by name.

Features live in ``bot.chat.exts``, each module ending with ``async def setup(bot)``; the bot
never imports them. Mentions are off for everything the bot sends.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Callable
from typing import Any

import aiohttp
import discord
from discord.ext import commands

from bot.chat.gate import VerbatimTree
from bot.chat.services import Services
from bot.config import DiscordConfig
from bot.core.answers import Answerer
from bot.core.library import Library
from bot.store import Store

log = logging.getLogger(__name__)

EXTENSIONS = (
    "bot.chat.exts.answers",
    "bot.chat.exts.corpus",
    "bot.chat.exts.settings",
    "bot.chat.exts.help",
)
ADMIN_EXTENSIONS = frozenset({"bot.chat.exts.corpus", "bot.chat.exts.settings"})


def settle_collector() -> None:
    """Keep Python's cyclic garbage collector from pausing the bot (it holds the GIL, so
    every thread waits): what exists at start (the corpus, its index) lives as long as the
    process and is moved out of its reach, and it runs after 50,000 new objects rather than
    700, so building an upload's index no longer triggers hundreds of collections. Measured
    with benchmarks/discord_load.py (500 questions, 8 uploads): 0.75-0.9 s of collection
    per burst before, 0.2-0.3 s after. Once per process."""
    if gc.get_freeze_count() == 0:
        gc.collect()
        gc.freeze()
        gc.set_threshold(50_000, 20, 20)


class AcksFirst(aiohttp.TCPConnector):
    """Connections to Discord's API in two pools. Interaction callbacks (the
    acknowledgements Discord wants within 3 s, one per interaction) have a pool of their own,
    unbounded, so they never queue behind answers being sent; everything else (answers'
    edits, follow-ups, messages) shares ``limit`` connections, so a burst reuses them
    instead of opening (and, with Discord, handshaking) one each."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit=limit)
        self.acks = aiohttp.TCPConnector(limit=0)

    async def connect(
        self, req: aiohttp.ClientRequest, traces: list[Any], timeout: aiohttp.ClientTimeout
    ) -> Any:
        if req.method == "POST" and req.url.path.endswith("/callback"):
            return await self.acks.connect(req, traces, timeout)
        return await super().connect(req, traces, timeout)

    async def close(self, *, abort_ssl: bool = False) -> None:
        await self.acks.close(abort_ssl=abort_ssl)
        await super().close(abort_ssl=abort_ssl)


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
        self.services = Services(config, answerer_for, library, store)
        self._follower: asyncio.Task[None] | None = None

    async def login(self, token: str) -> None:
        self.http.connector = AcksFirst(self.config.http_connections)
        await super().login(token)

    async def setup_hook(self) -> None:
        settle_collector()
        admin = self.services.library is not None and self.services.store is not None
        for name in EXTENSIONS:
            if admin or name not in ADMIN_EXTENSIONS:
                await self.load_extension(name)
        if admin:
            assert self.services.store is not None
            self.services.seen_audit = await self.services.db(self.services.store.latest_audit_id)
            self._follower = asyncio.create_task(self._follow_changes())

    async def on_guild_available(self, guild: discord.Guild) -> None:
        """Read a server's settings as soon as it is available, so commands find them cached."""
        try:
            await self.services.settings.get(guild.id)
        except Exception:
            log.exception("could not read the settings of server %s", guild.id)

    async def _follow_changes(self) -> None:
        """Woken by the store: on every committed change (PostgreSQL NOTIFY), or every
        follow_changes_seconds (SQLite)."""
        assert self.services.store is not None
        async for _ in self.services.store.changes(self.config.follow_changes_seconds):
            try:
                await self.services.follow_changes_once()
            except Exception:
                log.exception("could not follow corpus and settings changes")

    def dispatch(self, event_name: str, /, *args: Any, **kwargs: Any) -> None:
        """Every interaction is noted as it arrives, before any of its work is scheduled."""
        if event_name == "interaction":
            self.services.acks.arrived(args[0])
        super().dispatch(event_name, *args, **kwargs)

    async def on_message(self, message: discord.Message) -> None:
        """No prefix commands: mentions are answered by the answers extension's listener."""

    async def close(self) -> None:
        if self._follower is not None:
            self._follower.cancel()
        await super().close()
        await self.services.close()
