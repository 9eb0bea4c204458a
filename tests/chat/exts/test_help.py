"""/help names every command and every option, admin commands included."""

from __future__ import annotations

import discord
from discord import app_commands

from bot.chat import render
from tests.chat.helpers import World, command


async def test_help_covers_every_command_and_option(world: World):
    w = world
    _, reply = await command(w, "help", guild_id=w.a.id, user=w.member)
    embed = reply["embeds"][0]
    text = embed["description"]
    assert len(text) <= render.DESCRIPTION_LIMIT and "…and" not in text
    assert "verbatim quotes" in text and "`public:`" in text
    commands = [c for c in w.bot.tree.walk_commands() if not isinstance(c, app_commands.Group)]
    assert {"corpus add", "settings set", "ask", "search"} <= {c.qualified_name for c in commands}
    for cmd in commands:
        assert f"`/{cmd.qualified_name}`" in text, cmd.qualified_name
        for option in cmd.parameters:
            assert f"`{option.name}:`" in text, f"{cmd.qualified_name} {option.name}"
    for menu in w.bot.tree.get_commands(type=discord.AppCommandType.message):
        assert f"**{menu.name}**" in text
