"""Corpus and settings administration from Discord: ``/corpus …`` and ``/settings …``.

Only members with Manage Server, or a role the server configured, may change a server's own
collection or settings; nobody can change another server's collection or the operator's from
Discord. Uploads are parsed in an isolated process off the event loop; every change is
recorded in the audit log and, when configured, posted to the server's audit channel.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.chat import render
from bot.chat.commands import document_ids, show_document
from bot.core.ingest import IngestError
from bot.core.library import Library, server_collection
from bot.core.models import Document, Quote
from bot.core.segment import paragraphs, sentences
from bot.store import SETTING_KEYS, SettingError, Store, parse_setting

if TYPE_CHECKING:
    from bot.chat.client import VerbatimBot

log = logging.getLogger(__name__)

NOT_ALLOWED = "You need Manage Server, or an admin role this server set, to change its corpus."
GUILD_ONLY = "Corpus and settings commands work inside a server."
TOO_BIG = "That file is {size}; the limit is {limit}."
NO_SUCH_DOC = "This server's collection has no document with that id. `/corpus list` shows it."


class Admin(commands.Cog):
    corpus = app_commands.Group(
        name="corpus",
        description="This server's own documents",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )
    settings = app_commands.Group(
        name="settings",
        description="This server's settings",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(self, bot: VerbatimBot, library: Library, store: Store) -> None:
        self.bot = bot
        self.library = library
        self.store = store

    # -- permissions -------------------------------------------------------------------

    async def _allowed(self, interaction: discord.Interaction[Any]) -> bool:
        """Manage Server or a configured admin role; tells the member when not."""
        member = interaction.user
        if interaction.guild_id is None or not isinstance(member, discord.Member):
            await interaction.response.send_message(GUILD_ONLY, ephemeral=True)
            return False
        if member.guild_permissions.manage_guild:
            return True
        admin_roles = (await self.bot.guild_settings(interaction.guild_id)).admin_roles
        if any(role.id in admin_roles for role in member.roles):
            return True
        await interaction.response.send_message(NOT_ALLOWED, ephemeral=True)
        return False

    async def _audit(
        self,
        interaction: discord.Interaction[Any],
        action: str,
        doc: Document | None = None,
        detail: str | None = None,
    ) -> None:
        gid = interaction.guild_id
        await asyncio.to_thread(
            self.store.record,
            action,
            guild_id=gid,
            user_id=interaction.user.id,
            collection=server_collection(gid) if gid else None,
            doc_id=doc.id if doc else None,
            sha256=doc.sha256 if doc else None,
            detail=detail,
        )
        channel_id = (await self.bot.guild_settings(gid)).audit_channel
        channel = self.bot.get_channel(channel_id) if channel_id else None
        if isinstance(channel, discord.abc.Messageable):
            what = (
                f"`{doc.id}` ({render.cut(doc.title, 200)})"
                if doc
                else render.cut(detail or "", 500)
            )
            try:
                await channel.send(f"{interaction.user.mention} {action}: {what}")
            except discord.HTTPException:
                log.warning("could not post to audit channel %s", channel_id, exc_info=True)

    # -- /corpus -----------------------------------------------------------------------

    @corpus.command(
        name="add", description="Add a .txt, .md, .html or .pdf to this server's collection"
    )
    @app_commands.describe(
        file="The document",
        title="Title (default: what the file states, else its name)",
        publisher="Who published it",
        published="Publication date, YYYY-MM-DD",
        url="Where it was published",
    )
    async def add(
        self,
        interaction: discord.Interaction[Any],
        file: discord.Attachment,
        title: app_commands.Range[str, 1, 300] | None = None,
        publisher: app_commands.Range[str, 1, 200] | None = None,
        published: str | None = None,
        url: str | None = None,
    ) -> None:
        if not await self._allowed(interaction):
            return
        limits = self.library.limits
        if file.size > limits.max_bytes:
            await interaction.response.send_message(
                TOO_BIG.format(size=_size(file.size), limit=_size(limits.max_bytes)),
                ephemeral=True,
            )
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            overrides = _overrides(title, publisher, published, url)
            data = await file.read()
            doc = await asyncio.to_thread(
                self.library.add_upload, interaction.guild_id, file.filename, data, overrides
            )
        except (IngestError, ValueError) as exc:
            await interaction.edit_original_response(content=render.escape(f"Not added: {exc}"))
            return
        except discord.HTTPException:
            await interaction.edit_original_response(content="Could not download the file.")
            return
        await self._audit(interaction, "corpus.add", doc)
        await interaction.edit_original_response(embed=self._added_embed(doc, interaction.guild_id))

    def _added_embed(self, doc: Document, guild_id: int | None) -> discord.Embed:
        index = self.library.answerer_for(guild_id).index
        embed = discord.Embed(
            title=render.cut(f"Added: {doc.title}", render.TITLE_LIMIT), colour=render.COLOUR
        )
        embed.add_field(name="id", value=f"`{doc.id}`")
        embed.add_field(name="passages", value=f"{index.passages_of(doc.id):,}")
        embed.add_field(name="characters", value=f"{len(doc.text):,}")
        if doc.page_starts:
            embed.add_field(name="pages", value=f"{len(doc.page_starts):,}")
        sample = _first_sentence(doc)
        if sample is not None:
            embed.add_field(
                name="sample quote",
                value=render.quote_markdown(sample.text, [], 900)
                + "\n"
                + render.citation(sample, limit=100),
                inline=False,
            )
        return embed

    @corpus.command(name="remove", description="Remove a document from this server's collection")
    @app_commands.describe(id="Document id")
    async def remove(self, interaction: discord.Interaction[Any], id: str) -> None:
        if not await self._allowed(interaction):
            return
        own = self.library.collection(server_collection(interaction.guild_id or 0))
        doc = next((d for d in own.documents if d.id == id), None) if own else None
        if doc is None:
            await interaction.response.send_message(NO_SUCH_DOC, ephemeral=True)
            return
        view = ConfirmRemove(self, doc, interaction.user.id)
        await interaction.response.send_message(
            f"Remove `{doc.id}` ({render.cut(doc.title, 200)}) from this server's collection?",
            view=view,
            ephemeral=True,
        )

    @remove.autocomplete("id")
    async def _own_ids(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        own = self.library.collection(server_collection(interaction.guild_id or 0))
        docs = own.documents if own else ()
        return render.document_choices(docs, current)

    @corpus.command(name="list", description="The documents this server answers from")
    async def list_(self, interaction: discord.Interaction[Any]) -> None:
        gid = interaction.guild_id
        lines = []
        for name in self.library.view_key(gid):
            coll = self.library.collection(name)
            if coll is None:
                continue
            label = "this server's own" if coll.server is not None else f"operator: {name}"
            lines.append(f"**{label}** ({len(coll.documents)})")
            lines += [f"`{d.id}` {render.cut(d.title, 120)}" for d in coll.documents[:40]]
            if len(coll.documents) > 40:
                lines.append(f"…and {len(coll.documents) - 40} more")
        if not any(
            c.server is not None
            for c in map(self.library.collection, self.library.view_key(gid))
            if c
        ):
            lines.append("This server has no documents of its own yet: `/corpus add`.")
        embed = discord.Embed(title="Collections", description=_fit(lines), colour=render.COLOUR)
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @corpus.command(name="info", description="Details of one document")
    @app_commands.describe(id="Document id")
    async def info(self, interaction: discord.Interaction[Any], id: str) -> None:
        await show_document(self.bot, interaction, id)

    @info.autocomplete("id")
    async def _view_ids(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return document_ids(self.bot, interaction, current)

    @corpus.command(name="reload", description="Re-read this server's documents from disk")
    async def reload(self, interaction: discord.Interaction[Any]) -> None:
        if not await self._allowed(interaction):
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        coll = await asyncio.to_thread(self.library.reload_server, interaction.guild_id)
        await self._audit(interaction, "corpus.reload", detail=f"{len(coll.documents)} documents")
        lines = [f"Reloaded: {len(coll.documents)} documents."]
        lines += [render.escape(f"skipped {issue}") for issue in coll.issues[:10]]
        await interaction.edit_original_response(content=render.cut("\n".join(lines), 1900))

    @corpus.command(name="stats", description="Size of the index this server answers from")
    async def stats(self, interaction: discord.Interaction[Any]) -> None:
        index = self.library.answerer_for(interaction.guild_id).index
        audit = await asyncio.to_thread(self.store.audit, interaction.guild_id, 1)
        embed = discord.Embed(title="Corpus statistics", colour=render.COLOUR)
        embed.add_field(name="documents", value=f"{len(index.documents):,}")
        embed.add_field(name="passages", value=f"{len(index):,}")
        embed.add_field(name="vocabulary", value=f"{len(index.bm25.terms):,} terms")
        embed.add_field(name="index size", value=_size(index.nbytes))
        if audit:
            last = audit[0]
            embed.add_field(
                name="last change",
                value=f"{last.action} {last.doc_id or ''} <t:{int(_ts(last.at))}:R>",
                inline=False,
            )
        await interaction.response.send_message(embed=embed, ephemeral=True)

    # -- /settings ---------------------------------------------------------------------

    @settings.command(name="show", description="This server's settings")
    async def show(self, interaction: discord.Interaction[Any]) -> None:
        current = await self.bot.guild_settings(interaction.guild_id)
        lines = [
            f"`{key}` = {render.escape(str(value))}" for key, value in current.model_dump().items()
        ]
        embed = discord.Embed(title="Settings", description="\n".join(lines), colour=render.COLOUR)
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @settings.command(name="set", description="Change one of this server's settings")
    @app_commands.describe(key="Setting", value="New value ('default' resets it)")
    async def set_(self, interaction: discord.Interaction[Any], key: str, value: str) -> None:
        if not await self._allowed(interaction):
            return
        try:
            parsed = parse_setting(key, value)
            updated = await asyncio.to_thread(
                self.store.update_settings,
                interaction.guild_id,
                interaction.user.id,
                **{key: parsed},
            )
        except SettingError as exc:
            await interaction.response.send_message(render.escape(str(exc)), ephemeral=True)
            return
        self.bot.forget_settings(interaction.guild_id)
        shown = render.escape(str(getattr(updated, key)))
        await interaction.response.send_message(f"`{key}` = {shown}", ephemeral=True)

    @set_.autocomplete("key")
    async def _keys(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return [
            app_commands.Choice(name=f"{k}: {d}"[:100], value=k)
            for k, d in SETTING_KEYS.items()
            if current.lower() in k
        ][:25]


class ConfirmRemove(discord.ui.View):
    def __init__(self, cog: Admin, doc: Document, owner_id: int) -> None:
        super().__init__(timeout=120)
        self.cog, self.doc, self.owner_id = cog, doc, owner_id

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        return interaction.user.id == self.owner_id

    @discord.ui.button(label="Remove", style=discord.ButtonStyle.danger, custom_id="vb:rm:yes")
    async def confirm(
        self, interaction: discord.Interaction[Any], button: discord.ui.Button[Any]
    ) -> None:
        self.stop()
        gid = interaction.guild_id
        removed = await asyncio.to_thread(self.cog.library.remove, gid, self.doc.id)
        if removed is None:
            await interaction.response.edit_message(content=NO_SUCH_DOC, view=None)
            return
        await interaction.response.edit_message(content=f"Removed `{removed.id}`.", view=None)
        await self.cog._audit(interaction, "corpus.remove", removed)

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.secondary, custom_id="vb:rm:no")
    async def cancel(
        self, interaction: discord.Interaction[Any], button: discord.ui.Button[Any]
    ) -> None:
        self.stop()
        await interaction.response.edit_message(content="Nothing was removed.", view=None)


def _overrides(
    title: str | None, publisher: str | None, published: str | None, url: str | None
) -> dict[str, Any]:
    out: dict[str, Any] = {"title": title, "publisher": publisher, "url": url}
    if published:
        try:
            out["published"] = dt.date.fromisoformat(published.strip())
        except ValueError:
            raise ValueError(
                f"published must be a date like 2022-06-22, not {published!r}"
            ) from None
    return {k: v for k, v in out.items() if v}


def _first_sentence(doc: Document) -> Quote | None:
    for para in paragraphs(doc.text):
        for s, e in sentences(doc.text, para.start, para.end):
            if e - s >= 20:
                return Quote.from_document(doc, s, e, paragraph=para.paragraph)
    return None


def _fit(lines: list[str]) -> str:
    out: list[str] = []
    used = 0
    for line in lines:
        if used + len(line) + 1 > render.DESCRIPTION_LIMIT - 20:
            out.append("…")
            break
        out.append(line)
        used += len(line) + 1
    return "\n".join(out)


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{n / 1024:.0f} KB"


def _ts(iso: str) -> float:
    return dt.datetime.fromisoformat(iso).timestamp()
