"""The gate: who may use the bot where and how often, and the one place errors become replies.

Every command passes :meth:`VerbatimTree.interaction_check` (the channel allow-list; admin
commands are exempt so a server cannot lock its admins out); questions also pass the per-user
cooldown (:func:`question_cooldown`). Every failure, from a command, a button or a mention,
reaches the user through :func:`reply_for`: errors that carry their own message
(:class:`UserError` and the core's one-line errors) are shown escaped and cut; anything else is
logged and answered with a fixed sentence, so no traceback reaches a user.
"""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands
from pydantic import ValidationError

from bot.chat import render
from bot.config import DiscordConfig
from bot.core.answers import QuestionError
from bot.core.ingest import IngestError
from bot.store import SettingError

log = logging.getLogger(__name__)

ERROR_REPLY = "Something went wrong on my side; it has been logged. Please try again."
CHANNEL_REPLY = "I don't answer in this channel."
COOLDOWN_REPLY = "You're asking quickly: please wait {seconds} s before the next question."
NOT_ALLOWED = "You need Manage Server, or an admin role this server set, to change its corpus."
GUILD_ONLY = "Corpus and settings commands work inside a server."
ADMIN_GROUPS = frozenset({"corpus", "settings"})
EXPIRED_INTERACTION = 10062  # Discord's "Unknown interaction": answered too late


class UserError(app_commands.AppCommandError):
    """A refusal or failure whose message is meant for the user, shown as written (an
    ``AppCommandError``, so discord.py hands it to the tree's error handler unwrapped)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotHere(UserError):
    def __init__(self) -> None:
        super().__init__(CHANNEL_REPLY)


class CoolingDown(UserError):
    def __init__(self, retry_after: float) -> None:
        super().__init__(COOLDOWN_REPLY.format(seconds=max(1, round(retry_after))))
        self.retry_after = retry_after


class NotAllowed(UserError):
    def __init__(self, message: str = NOT_ALLOWED) -> None:
        super().__init__(message)


# Errors from the core whose one-line message is written for the user.
_DOMAIN_ERRORS = (QuestionError, IngestError, SettingError)


def one_line(error: Exception) -> str:
    """An error's message on one line (a validation error: its first problem and where)."""
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return f"{where}: {first['msg']}" if where else first["msg"]
    return " ".join(str(error).split())


def reply_for(error: BaseException) -> str:
    """The one reply for an error (logged when it is ours, not the user's)."""
    if isinstance(error, app_commands.CommandInvokeError):
        error = error.original
    if isinstance(error, UserError):
        return render.cut(error.message, render.CONTENT_LIMIT)
    if isinstance(error, _DOMAIN_ERRORS):
        return render.cut(one_line(error), render.CONTENT_LIMIT)
    if isinstance(error, app_commands.NoPrivateMessage):
        return GUILD_ONLY
    if isinstance(error, app_commands.CheckFailure):
        return NOT_ALLOWED
    log.error("interaction failed", exc_info=error)
    return ERROR_REPLY


async def send(
    interaction: discord.Interaction[Any],
    content: str | None = None,
    *,
    embed: discord.Embed | None = None,
    view: discord.ui.View | None = None,
    ephemeral: bool = True,
) -> None:
    """Answer an interaction however far it got: the response, else the deferred reply, else
    a follow-up. A reply Discord refuses is logged, never raised."""
    kwargs: dict[str, Any] = {"content": content}
    if embed is not None:
        kwargs["embed"] = embed
    if view is not None:
        kwargs["view"] = view
    try:
        if not interaction.response.is_done():
            await interaction.response.send_message(**kwargs, ephemeral=ephemeral)
        elif interaction.response.type == discord.InteractionResponseType.deferred_channel_message:
            await interaction.edit_original_response(**kwargs)
        else:
            await interaction.followup.send(**kwargs, ephemeral=ephemeral)
    except discord.HTTPException:
        log.warning("could not send a reply", exc_info=True)


async def acknowledge(interaction: discord.Interaction[Any], *, private: bool) -> None:
    """Defer with "thinking…" (private or not) unless the interaction is acknowledged
    already."""
    if not interaction.response.is_done():
        await interaction.response.defer(ephemeral=private, thinking=True)
        interaction.extras["deferred_private"] = private


async def deliver(
    interaction: discord.Interaction[Any],
    *,
    embed: discord.Embed,
    view: discord.ui.View | None,
    private: bool,
) -> None:
    """Put a deferred command's reply in place of its "thinking…" placeholder. A public
    reply whose placeholder is private (acknowledged before the server's settings were read)
    is posted as a public follow-up, and the placeholder deleted."""
    if private or not interaction.extras.get("deferred_private"):
        await interaction.edit_original_response(embed=embed, view=view)
        return
    await interaction.delete_original_response()
    await interaction.followup.send(
        embed=embed, view=view or discord.utils.MISSING, ephemeral=False
    )


async def on_error(interaction: discord.Interaction[Any], error: BaseException) -> None:
    """The one error path for commands and buttons."""
    original = getattr(error, "original", error)
    if isinstance(original, discord.NotFound) and original.code == EXPIRED_INTERACTION:
        log.warning("interaction %s expired before it was answered", interaction.id)
        return  # nobody is left to tell
    await send(interaction, reply_for(error))


class Gate:
    """Channel allow-lists (a server's own, else the config's) and per-user cooldowns."""

    def __init__(self, config: DiscordConfig) -> None:
        self.config = config
        self._cooldowns: commands.CooldownMapping[int] = commands.CooldownMapping(
            commands.Cooldown(config.cooldown_uses, config.cooldown_seconds),
            lambda user_id: user_id,
        )

    def channel(self, channel_id: int | None, allowed: list[int]) -> None:
        allowed = allowed or self.config.allowed_channels
        if allowed and channel_id not in allowed:
            raise NotHere()

    def cooldown(self, user_id: int) -> None:
        if self.config.cooldown_seconds <= 0:
            return
        bucket = self._cooldowns.get_bucket(user_id)
        retry = bucket.update_rate_limit() if bucket else None
        if retry:
            raise CoolingDown(retry)


def services(interaction: discord.Interaction[Any]) -> Any:
    """The bot's services (``bot.chat.services.Services``; typed loosely so this module, which
    the services use, does not import them back)."""
    return interaction.client.services  # type: ignore[attr-defined]


async def count_question(interaction: discord.Interaction[Any]) -> bool:
    """A check for commands that ask a question: counts one use of the user's cooldown."""
    services(interaction).gate.cooldown(interaction.user.id)
    return True


def question_cooldown() -> Any:
    return app_commands.check(count_question)


async def require_admin(interaction: discord.Interaction[Any]) -> None:
    """Manage Server or an admin role the server set; raises :class:`NotAllowed`."""
    member = interaction.user
    if interaction.guild_id is None or not isinstance(member, discord.Member):
        raise NotAllowed(GUILD_ONLY)
    if member.guild_permissions.manage_guild:
        return
    settings = services(interaction).settings.cached(interaction.guild_id)
    if settings is None:  # acknowledged first (privately), read after
        if interaction.type is discord.InteractionType.component:
            await interaction.response.defer()
        else:
            await acknowledge(interaction, private=True)
        settings = await services(interaction).settings.get(interaction.guild_id)
    if not any(role.id in settings.admin_roles for role in member.roles):
        raise NotAllowed()


async def update(interaction: discord.Interaction[Any], content: str) -> None:
    """Replace the message a button is on (as the response, or after a deferred update)."""
    if interaction.response.is_done():
        await interaction.edit_original_response(content=content, view=None)
    else:
        await interaction.response.edit_message(content=content, view=None)


async def admin_check(interaction: discord.Interaction[Any]) -> bool:
    """The admin extensions' own check (Discord's default permissions for a command can be
    loosened by a server, so they are not relied on). Autocomplete passes: it only lists."""
    if interaction.type is not discord.InteractionType.autocomplete:
        await require_admin(interaction)
    return True


def admin_group(name: str, description: str) -> app_commands.Group:
    """A command group for a server's admins (Discord shows it to Manage Server by default;
    :class:`AdminCog` checks for itself)."""
    return app_commands.Group(
        name=name,
        description=description,
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )


class AdminCog(commands.Cog):
    """A cog whose every command and autocomplete passes :func:`admin_check`."""

    def __init__(self, services: Any) -> None:
        self.services = services

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:  # type: ignore[override]
        return await admin_check(interaction)


class VerbatimTree(app_commands.CommandTree[Any]):
    """Every command passes the channel allow-list; every error takes the one error path.
    A server's settings not yet cached are read after the interaction is acknowledged
    (privately: a refusal must not show in the channel), never before."""

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        command = interaction.command
        root = getattr(command, "root_parent", None) or command
        if root is not None and root.name in ADMIN_GROUPS:
            return True
        if interaction.type is discord.InteractionType.autocomplete:
            return True
        settings = services(interaction).settings.cached(interaction.guild_id)
        if settings is None:
            await acknowledge(interaction, private=True)
            settings = await services(interaction).settings.get(interaction.guild_id)
        services(interaction).gate.channel(interaction.channel_id, settings.allowed_channels)
        return True

    async def on_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        await on_error(interaction, error)
