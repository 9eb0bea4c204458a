"""``/corpus …``: a server's own documents. Only members with Manage Server, or a role the
server set, may use these commands or press their buttons (checked here, not left to
Discord's default permissions, which a server can loosen); nobody can change another server's
collection or the operator's from Discord. Uploads are downloaded with a size cap, parsed in a
process of their own on the upload threads, and every change is recorded in the audit log and,
when configured, posted to the server's audit channel.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from pydantic import ValidationError

from bot.chat import gate, render
from bot.chat.services import NOTHING_TO_ADD, TOO_BIG, Services, size
from bot.chat.views import Button
from bot.core.ingest import IngestError
from bot.core.models import Document

if TYPE_CHECKING:
    from bot.chat.client import VerbatimBot

log = logging.getLogger(__name__)

NO_SUCH_DOC = "This server's collection has no document with that id. `/corpus list` shows it."
NOT_YOUR_BUTTON = "Only the admin who asked can confirm or cancel this."


async def announce(
    interaction: discord.Interaction[Any],
    action: str,
    doc: Document | None = None,
    detail: str | None = None,
    *,
    recorded: bool = False,
) -> None:
    """Record a change in the audit log (unless it was ``recorded`` with the change itself)
    and post it to the server's audit channel, if it has one."""
    services: Services = gate.services(interaction)
    gid = interaction.guild_id
    assert gid is not None
    if not recorded:
        uid = interaction.user.id
        await services.record(action, guild_id=gid, user_id=uid, doc=doc, detail=detail)
    channel_id = (await services.settings.get(gid)).audit_channel
    channel = interaction.client.get_channel(channel_id) if channel_id else None
    if isinstance(channel, discord.abc.Messageable):
        what = (
            f"`{doc.id}` ({render.cut(doc.title, 200)})" if doc else render.cut(detail or "", 500)
        )
        try:
            await channel.send(f"{interaction.user.mention} {action}: {what}")
        except discord.HTTPException:
            log.warning("could not post to audit channel %s", channel_id, exc_info=True)


class Corpus(gate.AdminCog):
    corpus = gate.admin_group("corpus", "This server's own documents")
    services: Services

    @corpus.command(
        name="add",
        description="Add a .txt, .md, .html or .pdf, or a web page by url, to this server's "
        "collection",
    )
    @app_commands.describe(
        file="The document (or give only a url: the page is fetched)",
        title="Title (default: what the file states, else its name)",
        publisher="Who published it",
        published="Publication date, YYYY-MM-DD",
        url="Where it was published; without a file, the web page to add",
    )
    async def add(
        self,
        interaction: discord.Interaction[Any],
        file: discord.Attachment | None = None,
        title: app_commands.Range[str, 1, 300] | None = None,
        publisher: app_commands.Range[str, 1, 200] | None = None,
        published: str | None = None,
        url: str | None = None,
    ) -> None:
        assert interaction.guild_id is not None
        if file is None and not url:
            raise gate.UserError(NOTHING_TO_ADD)
        limit = self.services.require_library().limits.max_bytes
        if file is not None and file.size > limit:
            raise gate.UserError(TOO_BIG.format(limit=size(limit)))
        overrides = _overrides(title, publisher, published, url if file is not None else None)
        await gate.acknowledge(interaction, private=True)
        user = interaction.user.id
        try:
            if file is None:
                assert url is not None
                added = await self.services.add_url(interaction.guild_id, url, overrides, user)
            else:
                added = await self.services.add_upload(
                    interaction.guild_id, file.filename, file.url, overrides, user
                )
        except (IngestError, ValidationError) as exc:
            raise gate.UserError(f"Not added: {gate.one_line(exc)}") from exc
        await announce(interaction, "corpus.add", added.doc, recorded=True)
        await interaction.edit_original_response(
            embed=render.added_embed(added.doc, added.passages, added.sample)
        )

    @corpus.command(name="remove", description="Remove a document from this server's collection")
    @app_commands.describe(id="Document id")
    async def remove(self, interaction: discord.Interaction[Any], id: str) -> None:
        assert interaction.guild_id is not None
        doc = next(
            (d for d in self.services.own_documents(interaction.guild_id) if d.id == id), None
        )
        if doc is None:
            raise gate.UserError(NO_SUCH_DOC)
        view = discord.ui.View(timeout=None)
        view.add_item(RemoveButton(interaction.user.id, doc.id))
        view.add_item(CancelButton(interaction.user.id))
        await gate.send(
            interaction,
            f"Remove `{doc.id}` ({render.cut(doc.title, 200)}) from this server's collection?",
            view=view,
        )

    @remove.autocomplete("id")
    async def _own_ids(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        docs = self.services.own_documents(interaction.guild_id or 0)
        return render.document_choices(docs, current)

    @corpus.command(name="list", description="The documents this server answers from")
    async def list_(self, interaction: discord.Interaction[Any]) -> None:
        library = self.services.require_library()
        sections: list[tuple[str, tuple[Document, ...]]] = []
        own = False
        for name in library.view_key(interaction.guild_id):
            coll = library.collection(name)
            if coll is None:
                continue
            own = own or coll.server is not None
            label = "this server's own" if coll.server is not None else f"operator: {name}"
            sections.append((label, coll.documents))
        embed = render.documents_embed("Collections", sections)
        if not own:
            embed.set_footer(text="This server has no documents of its own yet: /corpus add.")
        await gate.send(interaction, embed=embed)

    @corpus.command(name="reload", description="Re-read this server's documents from the database")
    async def reload(self, interaction: discord.Interaction[Any]) -> None:
        assert interaction.guild_id is not None
        await gate.acknowledge(interaction, private=True)
        coll = await self.services.reload(interaction.guild_id)
        await announce(interaction, "corpus.reload", detail=f"{len(coll.documents)} documents")
        lines = [f"Reloaded: {len(coll.documents)} documents."]
        lines += [render.escape(f"skipped {issue}") for issue in coll.issues]
        await interaction.edit_original_response(
            content=render.fit_lines(lines, render.CONTENT_LIMIT)
        )

    @corpus.command(name="stats", description="Size of the index this server answers from")
    async def stats(self, interaction: discord.Interaction[Any]) -> None:
        assert interaction.guild_id is not None
        await gate.acknowledge(interaction, private=True)
        index = self.services.answerer_for(interaction.guild_id).index
        last = await self.services.last_change(interaction.guild_id)
        embed = discord.Embed(title="Corpus statistics", colour=render.COLOUR)
        embed.add_field(name="documents", value=f"{len(index.documents):,}")
        embed.add_field(name="passages", value=f"{len(index):,}")
        embed.add_field(name="vocabulary", value=f"{len(index.bm25.terms):,} terms")
        embed.add_field(name="index size", value=size(index.nbytes))
        if last is not None:
            at = int(dt.datetime.fromisoformat(last.at).timestamp())
            embed.add_field(
                name="last change",
                value=f"{last.action} {last.doc_id or ''} <t:{at}:R>",
                inline=False,
            )
        await interaction.edit_original_response(embed=embed)


class _ConfirmButton(Button, template=r"$^"):
    owner_id = 0

    async def run(self, interaction: discord.Interaction[Any]) -> None:
        await gate.require_admin(interaction)
        if interaction.user.id != self.owner_id:
            raise gate.UserError(NOT_YOUR_BUTTON)
        await self.confirm(interaction)

    async def confirm(self, interaction: discord.Interaction[Any]) -> None:
        raise NotImplementedError


class RemoveButton(
    _ConfirmButton, template=r"vb:rm:(?P<owner>\d{1,20}):(?P<doc>[a-z0-9][a-z0-9-]{0,63})"
):
    def __init__(self, owner_id: int, doc_id: str) -> None:
        self.owner_id, self.doc_id = owner_id, doc_id
        super().__init__(f"vb:rm:{owner_id}:{doc_id}", "Remove", discord.ButtonStyle.danger)

    @classmethod
    def parse(cls, match: re.Match[str], item: discord.ui.Button[Any]) -> Button:
        return cls(int(match["owner"]), match["doc"])

    async def confirm(self, interaction: discord.Interaction[Any]) -> None:
        """Acknowledge (and take the buttons away) first: removal rebuilds an index."""
        assert interaction.guild_id is not None
        await gate.update(interaction, f"Removing `{self.doc_id}`…")
        removed = await gate.services(interaction).remove(
            interaction.guild_id, self.doc_id, interaction.user.id
        )
        if removed is None:
            await interaction.edit_original_response(content=NO_SUCH_DOC)
            return
        await announce(interaction, "corpus.remove", removed, recorded=True)
        await interaction.edit_original_response(content=f"Removed `{removed.id}`.")


class CancelButton(_ConfirmButton, template=r"vb:rmno:(?P<owner>\d{1,20})"):
    def __init__(self, owner_id: int) -> None:
        self.owner_id = owner_id
        super().__init__(f"vb:rmno:{owner_id}", "Cancel", discord.ButtonStyle.secondary)

    @classmethod
    def parse(cls, match: re.Match[str], item: discord.ui.Button[Any]) -> Button:
        return cls(int(match["owner"]))

    async def confirm(self, interaction: discord.Interaction[Any]) -> None:
        await gate.update(interaction, "Nothing was removed.")


def _overrides(
    title: str | None, publisher: str | None, published: str | None, url: str | None
) -> dict[str, Any]:
    out: dict[str, Any] = {"title": title, "publisher": publisher, "url": url}
    if published:
        try:
            out["published"] = dt.date.fromisoformat(published.strip())
        except ValueError:
            raise gate.UserError(
                f"published must be a date like 2022-06-22, not {published!r}"
            ) from None
    return {k: v for k, v in out.items() if v}


async def setup(bot: VerbatimBot) -> None:
    bot.add_dynamic_items(RemoveButton, CancelButton)
    await bot.add_cog(Corpus(bot.services))
