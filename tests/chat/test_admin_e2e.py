"""Corpus administration through the real bot and the Discord API double: who may change
what, servers never seeing each other's documents, uploads, removal, settings and audit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.chat import render
from bot.chat.admin import NOT_ALLOWED
from bot.chat.client import VerbatimBot
from bot.config import DiscordConfig
from bot.core.answers import AnswerSettings
from bot.core.index import IndexSettings
from bot.core.ingest import IngestLimits
from bot.core.library import CollectionSpec, Library
from bot.store import Store
from tests.chat.discord_double import DiscordDouble, GuildSpec, make_user, new_snowflake

LIGHTHOUSE = b"The lighthouse keeper logged 312 storms in 1911.\n\nThe lamp was lit nightly."


@dataclass
class World:
    double: DiscordDouble
    bot: VerbatimBot
    library: Library
    store: Store
    a: GuildSpec
    b: GuildSpec
    member: dict[str, Any]  # a member of A without Manage Server
    editor_role: int


def _roles(guild: GuildSpec, editor_role: int) -> list[dict[str, Any]]:
    base = {"color": 0, "hoist": False, "mentionable": False, "managed": False, "flags": 0}
    return [
        {
            **base,
            "id": str(guild.id),
            "name": "@everyone",
            "position": 0,
            "permissions": str(guild.everyone_permissions),
        },
        {**base, "id": str(editor_role), "name": "editor", "position": 1, "permissions": "0"},
    ]


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    owner_a, owner_b, member = make_user("owner-a"), make_user("owner-b"), make_user("member")
    editor_role = new_snowflake()
    a = GuildSpec(name="A", users=[owner_a, member])
    b = GuildSpec(name="B", users=[owner_b])
    a.extra["roles"] = _roles(a, editor_role)
    library = Library(
        [CollectionSpec(name="default")],
        tmp_path / "servers",
        IndexSettings(),
        AnswerSettings(),
        cache_dir=tmp_path / "cache",
        limits=IngestLimits(max_bytes=50_000),
    )
    await asyncio.to_thread(library.load)
    store = Store(tmp_path / "verbatim.sqlite3")
    async with DiscordDouble(guilds=[a, b]) as double:
        bot = VerbatimBot(
            DiscordConfig(cooldown_seconds=0), library.answerer_for, library=library, store=store
        )
        await double.start_client(bot)
        yield World(double, bot, library, store, a, b, member, editor_role)
        await double.stop_client(bot)
    store.close()


async def command(
    w: World, name: str, options: dict[str, Any] | list[dict[str, Any]] | None = None, **kw: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Dispatch a command; return (interaction, the bot's final reply payload)."""
    inter = w.double.make_slash_interaction(name, options, **kw)
    await w.double.dispatch("INTERACTION_CREATE", inter)
    callback = await w.double.wait_for_interaction_response(inter, timeout=30)
    if callback.json["type"] != 5:
        return inter, callback.json["data"]
    edit = await w.double.wait_for_request(
        lambda r: r.params.get("token") == inter["token"], method="PATCH", timeout=30
    )
    return inter, edit.json


async def upload(
    w: World,
    filename: str,
    data: bytes,
    guild: GuildSpec,
    user: dict[str, Any] | None = None,
    **fields: str,
) -> dict[str, Any]:
    attachment = w.double.add_attachment(filename, data)
    options = [{"name": "file", "type": 11, "value": attachment["id"]}]
    options += [{"name": k, "type": 3, "value": v} for k, v in fields.items()]
    _, reply = await command(
        w,
        "corpus add",
        options,
        resolved={"attachments": {attachment["id"]: attachment}},
        guild_id=guild.id,
        user=user or guild.users[0],
    )
    return reply


async def ask(w: World, question: str, guild: GuildSpec) -> str:
    _, reply = await command(w, "ask", {"question": question}, guild_id=guild.id)
    return render.plain(reply["embeds"][0]["description"])


async def test_admin_upload_is_indexed_and_quotable_in_its_server_only(world: World):
    w = world
    reply = await upload(w, "log.txt", LIGHTHOUSE, w.a, title="Lighthouse log")
    embed = reply["embeds"][0]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert embed["title"] == "Added: Lighthouse log"
    assert fields["id"] == "`lighthouse-log`" and fields["passages"] == "1"
    assert "The lighthouse keeper logged 312 storms in 1911." in render.plain(
        fields["sample quote"]
    )
    assert "The lighthouse keeper logged 312 storms" in await ask(w, "lighthouse storms", w.a)
    # server B: never quotes A's document, cannot see it, cannot remove it
    assert (await ask(w, "lighthouse storms", w.b)).startswith(render.NO_ANSWER)
    _, listing = await command(w, "corpus list", guild_id=w.b.id, user=w.b.users[0])
    assert "lighthouse" not in listing["embeds"][0]["description"]
    _, info = await command(w, "corpus info", {"id": "lighthouse-log"}, guild_id=w.b.id)
    assert "no document" in info["content"]
    _, removal = await command(
        w, "corpus remove", {"id": "lighthouse-log"}, guild_id=w.b.id, user=w.b.users[0]
    )
    assert "no document" in removal["content"]
    assert w.library.answerer_for(w.a.id).index.by_id["lighthouse-log"]
    audit = w.store.audit(w.a.id)
    assert [e.action for e in audit] == ["corpus.add"]
    assert audit[0].doc_id == "lighthouse-log" and audit[0].user_id == int(w.a.users[0]["id"])
    assert audit[0].sha256 and len(audit[0].sha256) == 64


async def test_member_without_rights_is_refused_and_nothing_is_stored(world: World, tmp_path):
    w = world
    reply = await upload(w, "log.txt", LIGHTHOUSE, w.a, user=w.member)
    assert reply["content"] == NOT_ALLOWED
    assert not (tmp_path / "servers" / str(w.a.id)).exists()
    _, settings = await command(
        w, "settings set", {"key": "results", "value": "5"}, guild_id=w.a.id, user=w.member
    )
    assert settings["content"] == NOT_ALLOWED
    assert w.store.settings(w.a.id).results is None


async def test_a_configured_admin_role_may_change_the_corpus(world: World):
    w = world
    _, reply = await command(
        w,
        "settings set",
        {"key": "admin_roles", "value": f"<@&{w.editor_role}>"},
        guild_id=w.a.id,
    )
    assert reply["content"] == f"`admin_roles` = \\[{w.editor_role}\\]"
    editor = dict(w.member)
    inter_user = {**editor}
    attachment = w.double.add_attachment("notes.md", b"---\ntitle: Notes\n---\nTide tables.")
    inter = w.double.make_slash_interaction(
        "corpus add",
        [{"name": "file", "type": 11, "value": attachment["id"]}],
        resolved={"attachments": {attachment["id"]: attachment}},
        guild_id=w.a.id,
        user=inter_user,
    )
    inter["member"]["roles"] = [str(w.editor_role)]
    await w.double.dispatch("INTERACTION_CREATE", inter)
    edit = await w.double.wait_for_request(
        lambda r: r.params.get("token") == inter["token"], method="PATCH", timeout=30
    )
    assert edit.json["embeds"][0]["title"] == "Added: Notes"


async def test_bad_uploads_are_refused_clearly(world: World, tmp_path):
    w = world
    too_big = await upload(w, "big.txt", b"x " * 40_000, w.a)
    assert too_big["content"].startswith("That file is")
    wrong = await upload(w, "tool.exe", b"MZ\x90\x00", w.a)
    assert "unsupported file type" in render.unescape(wrong["content"])
    broken = await upload(w, "report.pdf", b"%PDF-1.4\nnot really", w.a)
    assert render.unescape(broken["content"]).startswith("Not added:")
    hostile = await upload(w, "../../../etc/passwd.txt", b"Harbour records from 1850.", w.a)
    assert hostile["embeds"][0]["fields"][0]["value"] == "`passwd`"
    written = [p.relative_to(tmp_path) for p in tmp_path.rglob("*.md")]
    assert written == [Path("servers") / str(w.a.id) / "passwd.md"]


async def test_remove_asks_for_confirmation(world: World):
    w = world
    await upload(w, "log.txt", LIGHTHOUSE, w.a, title="Lighthouse log")
    inter, reply = await command(w, "corpus remove", {"id": "lighthouse-log"}, guild_id=w.a.id)
    assert "Remove `lighthouse-log`" in reply["content"]
    message = w.double.original_message(inter)
    press = w.double.make_component_interaction("vb:rm:yes", message, guild_id=w.a.id)
    await w.double.dispatch("INTERACTION_CREATE", press)
    done = await w.double.wait_for_interaction_response(press, timeout=30)
    assert done.json["data"]["content"] == "Removed `lighthouse-log`."
    assert (await ask(w, "lighthouse storms", w.a)).startswith(render.NO_ANSWER)
    assert [e.action for e in w.store.audit(w.a.id)] == ["corpus.remove", "corpus.add"]


async def test_settings_and_audit_channel(world: World):
    w = world
    channel = w.a.channel_id
    _, reply = await command(
        w, "settings set", {"key": "audit_channel", "value": f"<#{channel}>"}, guild_id=w.a.id
    )
    assert reply["content"] == f"`audit_channel` = {channel}"
    _, bad = await command(w, "settings set", {"key": "results", "value": "99"}, guild_id=w.a.id)
    assert "results" in bad["content"]
    start = len(w.double.requests)
    await upload(w, "log.txt", LIGHTHOUSE, w.a, title="Lighthouse log")
    posted = await w.double.wait_for_request(
        method="POST", path=rf"/channels/{channel}/messages", start=start, timeout=30
    )
    assert "corpus.add" in posted.json["content"] and "lighthouse-log" in posted.json["content"]
    assert posted.json["allowed_mentions"]["parse"] == []
    _, shown = await command(w, "settings show", guild_id=w.a.id)
    assert f"`audit_channel` = {channel}" in shown["embeds"][0]["description"]


async def test_stats_and_reload(world: World):
    w = world
    await upload(w, "log.txt", LIGHTHOUSE, w.a, title="Lighthouse log")
    _, stats = await command(w, "corpus stats", guild_id=w.a.id)
    fields = {f["name"]: f["value"] for f in stats["embeds"][0]["fields"]}
    assert fields["documents"] == "3" and "corpus.add lighthouse-log" in fields["last change"]
    _, reloaded = await command(w, "corpus reload", guild_id=w.a.id)
    assert reloaded["content"].startswith("Reloaded: 1 documents.")


async def test_server_settings_change_how_the_bot_answers_there(world: World):
    w = world
    _, reply = await command(w, "settings set", {"key": "results", "value": "1"}, guild_id=w.a.id)
    assert reply["content"] == "`results` = 1"
    _, answer = await command(w, "ask", {"question": "Rotherham police"}, guild_id=w.a.id)
    assert answer["embeds"][0]["description"].count("\n— ") == 1
    _, answer_b = await command(w, "ask", {"question": "Rotherham police"}, guild_id=w.b.id)
    assert answer_b["embeds"][0]["description"].count("\n— ") == 3  # B keeps the default
    other = w.a.channel_id + 1
    await command(
        w, "settings set", {"key": "allowed_channels", "value": str(other)}, guild_id=w.a.id
    )
    _, refused = await command(w, "ask", {"question": "Rotherham police"}, guild_id=w.a.id)
    assert refused["content"] == "I don't answer in this channel."


async def test_another_process_picks_up_changes_from_the_audit_log(world: World, tmp_path):
    """Two shard processes share the data folder and database: what one changes, the other
    serves after following the audit log."""
    w = world
    other_library = Library(
        [CollectionSpec(name="default")], tmp_path / "servers", IndexSettings(), AnswerSettings()
    )
    await asyncio.to_thread(other_library.load)
    other_store = Store(tmp_path / "verbatim.sqlite3")
    other = VerbatimBot(
        DiscordConfig(follow_changes_seconds=0),
        other_library.answerer_for,
        library=other_library,
        store=other_store,
    )
    await other.setup_hook()
    assert await other.results(w.a.id) == 3  # cached before the change
    await upload(w, "log.txt", LIGHTHOUSE, w.a, title="Lighthouse log")
    await command(w, "settings set", {"key": "results", "value": "2"}, guild_id=w.a.id)
    assert not other_library.answerer_for(w.a.id).answer("lighthouse storms").answered
    assert await other.results(w.a.id) == 3  # stale until the log is followed
    await other.follow_changes_once()
    assert other_library.answerer_for(w.a.id).answer("lighthouse storms").answered
    assert await other.results(w.a.id) == 2
    other_store.close()  # ("other" never connected, so there is nothing else to close)
