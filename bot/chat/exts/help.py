"""``/help``: what the bot does, then every command and option, read from the command tree
itself so it cannot fall behind."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.chat import gate, render

if TYPE_CHECKING:
    from bot.chat.client import VerbatimBot

INTRO = (
    "I answer only with **verbatim quotes** from the documents in my corpus, each with its "
    "source: I never write a sentence of my own about the subject. When no passage answers "
    "a question, I say so. Answers are private unless you pick `public: True` (a server can "
    "change that default); a public answer has a **Delete** button for its asker and "
    "moderators.\n"
    "Under an answer: **Context** (the paragraphs around a quote), **Cite** (a citation "
    "ready to paste) and **Post to channel**.\n"
    "Mention me with a question for a reply in the channel."
)
MENUS = {
    "Find sources": "checks a message's claim against the corpus, privately",
    "Answer with sources": "for moderators: see the answer to a member's message privately, "
    "then reply to their message with it",
}


def command_lines(tree: app_commands.CommandTree[Any]) -> list[str]:
    """One line per command: its name, options and description."""
    lines: list[str] = []
    for command in tree.walk_commands():
        if isinstance(command, app_commands.Group):
            continue
        options = " ".join(f"`{p.name}:`" + ("" if p.required else "?") for p in command.parameters)
        described = "; ".join(
            f"{p.name}: {p.description}" for p in command.parameters if p.description != "…"
        )
        line = f"`/{command.qualified_name}` {options} {command.description}".replace("  ", " ")
        lines.append(line + (f" ({described})" if described else ""))
    for menu in tree.get_commands(type=discord.AppCommandType.message):
        what = MENUS.get(menu.name, "")
        lines.append(f"**{menu.name}** (right-click a message → Apps) {what}")
    return lines


class Help(commands.Cog):
    def __init__(self, bot: commands.Bot) -> None:
        self.bot = bot

    @app_commands.command(name="help", description="What I do, and every command and option")
    async def help(self, interaction: discord.Interaction[Any]) -> None:
        text = INTRO + "\n\n" + "\n".join(command_lines(self.bot.tree))
        embed = discord.Embed(
            title="Verbatim",
            description=render.fit_lines(text.split("\n"), render.DESCRIPTION_LIMIT),
            colour=render.COLOUR,
        )
        embed.set_footer(text="Corpus and settings commands need Manage Server or an admin role.")
        await gate.send(interaction, embed=embed)


async def setup(bot: VerbatimBot) -> None:
    await bot.add_cog(Help(bot))
