"""Driving the real bot through the Discord API double: a bot answering from the default
corpus, a two-server world with uploads and settings, and helpers to run commands."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.chat import render
from bot.chat.client import VerbatimBot
from bot.config import DiscordConfig
from bot.core.answers import AnswerSettings
from bot.core.index import IndexSettings
from bot.core.ingest import IngestLimits
from bot.core.library import CollectionSpec, Library
from bot.store import Store
from tests.chat.discord_double import DiscordDouble, GuildSpec, make_user, new_snowflake

LINDEN = "Operation Linden was launched in 2014"
LIGHTHOUSE = b"The lighthouse keeper logged 312 storms in 1911.\n\nThe lamp was lit nightly."
NO_PINGS = {"parse": []}


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


def components(payload: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for row in payload.get("components") or [] for c in row.get("components", [])]


def custom_ids(payload: dict[str, Any]) -> list[str]:
    return [c["custom_id"] for c in components(payload)]


def description(payload: dict[str, Any]) -> str:
    return render.plain(payload["embeds"][0]["description"])


def roles(guild: GuildSpec, editor_role: int) -> list[dict[str, Any]]:
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


def make_library(store: Store, tmp_path: Path, max_bytes: int = 50_000) -> Library:
    return Library(
        [CollectionSpec(name="default")],
        store,
        IndexSettings(),
        AnswerSettings(),
        cache_dir=tmp_path / "cache",
        limits=IngestLimits(max_bytes=max_bytes),
    )


def two_servers() -> tuple[GuildSpec, GuildSpec, dict[str, Any], int]:
    owner_a, owner_b, member = make_user("owner-a"), make_user("owner-b"), make_user("member")
    editor_role = new_snowflake()
    a = GuildSpec(name="A", users=[owner_a, member])
    b = GuildSpec(name="B", users=[owner_b])
    a.extra["roles"] = roles(a, editor_role)
    return a, b, member, editor_role


async def open_world(
    tmp_path: Path,
    config: DiscordConfig | None = None,
    max_bytes: int = 50_000,
    database: Path | str | None = None,
) -> tuple[Library, Store]:
    """A library and its store: SQLite in ``tmp_path`` unless ``database`` names another."""
    store = Store(database or tmp_path / "verbatim.sqlite3")
    library = make_library(store, tmp_path, max_bytes)
    await asyncio.to_thread(library.load)
    await asyncio.to_thread(library.wait_encoded, 60)  # (the default corpus's vectors)
    return library, store


@asynccontextmanager
async def two_server_world(
    tmp_path: Path, database: Path | str | None = None
) -> AsyncIterator[World]:
    """Two servers, A (an owner, a member without rights, an editor role) and B, each with
    its own collection and settings, the bot running against the double; the store on
    SQLite in ``tmp_path`` unless ``database`` names another."""
    a, b, member, editor_role = two_servers()
    library, store = await open_world(tmp_path, database=database)
    async with DiscordDouble(guilds=[a, b]) as double:
        bot = VerbatimBot(
            DiscordConfig(cooldown_seconds=0), library.answerer_for, library=library, store=store
        )
        await double.start_client(bot)
        yield World(double, bot, library, store, a, b, member, editor_role)
        await double.stop_client(bot)
    store.close()


async def respond(
    double: DiscordDouble, inter: dict[str, Any], timeout: float = 30
) -> dict[str, Any]:
    """The bot's final reply to an interaction: the response, or the edit after a defer."""
    callback = await double.wait_for_interaction_response(inter, timeout=timeout)
    if callback.json["type"] != 5:
        return callback.json["data"]
    edit = await double.wait_for_request(
        lambda r: r.params.get("token") == inter["token"], method="PATCH", timeout=timeout
    )
    return edit.json


async def command(
    w: World, name: str, options: dict[str, Any] | list[dict[str, Any]] | None = None, **kw: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Dispatch a command; return (interaction, the bot's final reply payload)."""
    inter = w.double.make_slash_interaction(name, options, **kw)
    await w.double.dispatch("INTERACTION_CREATE", inter)
    return inter, await respond(w.double, inter)


def attachment_options(
    double: DiscordDouble, filename: str, data: bytes, declared: int | None = None, **fields: str
) -> dict[str, Any]:
    attachment = double.add_attachment(filename, data)
    if declared is not None:
        attachment["size"] = declared
    options = [{"name": "file", "type": 11, "value": attachment["id"]}]
    options += [{"name": k, "type": 3, "value": v} for k, v in fields.items()]
    return {"options": options, "resolved": {"attachments": {attachment["id"]: attachment}}}


async def upload(
    w: World,
    filename: str,
    data: bytes,
    guild: GuildSpec,
    user: dict[str, Any] | None = None,
    declared: int | None = None,
    **fields: str,
) -> dict[str, Any]:
    opts = attachment_options(w.double, filename, data, declared, **fields)
    _, reply = await command(
        w,
        "corpus add",
        opts["options"],
        resolved=opts["resolved"],
        guild_id=guild.id,
        user=user or guild.users[0],
    )
    return reply


async def ask_in(w: World, question: str, guild: GuildSpec) -> str:
    _, reply = await command(w, "ask", {"question": question}, guild_id=guild.id)
    return render.plain(reply["embeds"][0]["description"])


async def ask(double: DiscordDouble, question: str, **options: Any) -> tuple[dict, Any, Any]:
    """Dispatch /ask; return (interaction, callback request, the final original message)."""
    inter = double.make_slash_interaction("ask", {"question": question, **options})
    await double.dispatch("INTERACTION_CREATE", inter)
    callback = await double.wait_for_interaction_response(inter)
    edit = await double.wait_for_request(
        lambda r: r.params.get("token") == inter["token"],
        method="PATCH",
        path=r"/webhooks/\d+/[^/]+/messages/@original",
    )
    return inter, callback, edit


async def press(
    double: DiscordDouble, custom_id: str, message: Any, **kw: Any
) -> tuple[dict[str, Any], Any]:
    """Press a button on a stored message; return (interaction, the callback request)."""
    inter = double.make_component_interaction(custom_id, message, **kw)
    await double.dispatch("INTERACTION_CREATE", inter)
    return inter, await double.wait_for_interaction_response(inter, timeout=30)


class StallMeter:
    """The longest time the event loop took to wake a task that asked to sleep ``period``."""

    def __init__(self, period: float = 0.005) -> None:
        self.period = period
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            t0 = time.perf_counter()
            await asyncio.sleep(self.period)
            self.worst = max(self.worst, time.perf_counter() - t0 - self.period)

    async def __aenter__(self) -> StallMeter:
        self._task = asyncio.create_task(self._run())
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
