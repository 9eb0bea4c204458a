"""``/settings …``: a server's own settings, for the same people as ``/corpus``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands

from bot.chat import gate, render
from bot.chat.services import Services
from bot.store import SETTING_KEYS, parse_setting

if TYPE_CHECKING:
    from bot.chat.client import VerbatimBot


class Settings(gate.AdminCog):
    settings = gate.admin_group("settings", "This server's settings")
    services: Services

    @settings.command(name="show", description="This server's settings")
    async def show(self, interaction: discord.Interaction[Any]) -> None:
        current = await self.services.settings.get(interaction.guild_id)
        embed = render.settings_embed(current.model_dump())
        await gate.send(interaction, embed=embed)

    @settings.command(name="set", description="Change one of this server's settings")
    @app_commands.describe(key="Setting", value="New value ('default' resets it)")
    async def set_(self, interaction: discord.Interaction[Any], key: str, value: str) -> None:
        assert interaction.guild_id is not None
        parsed = parse_setting(key, value)
        await gate.acknowledge(interaction, private=True)
        store = self.services.require_store()
        updated = await self.services.db(
            store.update_settings, interaction.guild_id, interaction.user.id, **{key: parsed}
        )
        self.services.settings.keep(interaction.guild_id, updated)
        await interaction.edit_original_response(
            content=render.setting_line(key, getattr(updated, key))
        )

    @set_.autocomplete("key")
    async def _keys(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return [
            app_commands.Choice(name=f"{k}: {d}"[: render.CHOICE_NAME_LIMIT], value=k)
            for k, d in SETTING_KEYS.items()
            if current.lower() in k
        ][: render.CHOICES_LIMIT]


async def setup(bot: VerbatimBot) -> None:
    await bot.add_cog(Settings(bot.services))
