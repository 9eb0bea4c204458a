from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.chat.client import VerbatimBot
from bot.config import DiscordConfig
from bot.core.answers import Answerer
from tests.chat.discord_double import DiscordDouble
from tests.chat.helpers import World, two_server_world


@pytest.fixture
async def running(answerer: Answerer) -> AsyncIterator[tuple[DiscordDouble, VerbatimBot]]:
    """The bot answering from the default corpus (no server collections)."""
    async with DiscordDouble() as double:
        bot = VerbatimBot(DiscordConfig(cooldown_uses=50), lambda gid: answerer)
        await double.start_client(bot)
        yield double, bot
        await double.stop_client(bot)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    """Two servers, A (an owner, a member without rights, an editor role) and B, each with
    its own collection and settings."""
    async with two_server_world(tmp_path) as w:
        yield w
