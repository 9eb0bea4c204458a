"""Isolation in the database: acting in one server through every command never shows or
changes another server's documents, settings or audit entries, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.chat.helpers import World, command, two_server_world, upload


@pytest.fixture
async def world_on(tmp_path: Path, db_target: Path | str) -> AsyncIterator[World]:
    """The two-server world (tests/chat/conftest.py) on each backend."""
    async with two_server_world(tmp_path, database=db_target) as w:
        yield w


async def test_no_command_in_one_server_reads_or_changes_anothers_data(world_on: World):
    """Server A has a document, settings and audit entries; acting in server B (as its
    owner, with every right there) through every command never shows any of it nor
    changes it, in the replies or in the database."""
    w = world_on
    marker = "quixotic"  # a word only A's document has (B never types it)
    await upload(
        w, "log.txt", b"The " + marker.encode() + b" keeper logged 312 storms.", w.a,
        title="Zephyrine log",
    )  # fmt: skip
    a_channel = str(w.a.channel_id)
    await command(
        w, "settings set", {"key": "allowed_channels", "value": a_channel}, guild_id=w.a.id
    )
    await command(w, "settings set", {"key": "results", "value": "2"}, guild_id=w.a.id)

    def snapshot() -> tuple[object, ...]:
        return (
            w.store.documents(w.a.id),
            w.store.settings(w.a.id),
            [e.model_dump() for e in w.store.audit(w.a.id, 100)],
        )

    before = snapshot()
    owner_b = w.b.users[0]
    replies: list[object] = []

    async def in_b(name: str, options: Any = None) -> dict[str, Any]:
        _, reply = await command(w, name, options, guild_id=w.b.id, user=owner_b)
        replies.append(reply)
        return reply

    await in_b("ask", {"question": "How many storms did the keeper log?"})
    await in_b("search", {"query": "keeper logged 312 storms"})
    await in_b("sources")
    await in_b("source", {"id": "zephyrine-log"})
    await in_b("help")
    await in_b("corpus list")
    await in_b("corpus stats")
    await in_b("corpus reload")
    await in_b("settings show")
    await in_b("settings set", {"key": "results", "value": "5"})
    removal = await in_b("corpus remove", {"id": "zephyrine-log"})
    assert "no document" in removal["content"]
    # B may use the same id for its own document: a separate row, A's stays as it was
    added = await upload(w, "b.txt", b"Tide tables for the estuary.", w.b, title="Zephyrine log")
    replies.append(added)
    assert "`zephyrine-log`" in json.dumps(added)
    claim = w.double.make_message("The keeper logged 312 storms?", guild_id=w.b.id)
    await w.double.dispatch("MESSAGE_CREATE", claim)
    for menu in ("Find sources", "Answer with sources"):
        inter = w.double.make_message_command_interaction(menu, claim, user=owner_b)
        await w.double.dispatch("INTERACTION_CREATE", inter)
        found = await w.double.wait_for_request(
            lambda r, inter=inter: r.params.get("token") == inter["token"],
            method="PATCH",
            timeout=30,
        )
        replies.append(found.json)

    shown = json.dumps(replies)
    assert marker not in shown and a_channel not in shown
    assert snapshot() == before  # A's documents, settings and audit: untouched
    assert w.store.settings(w.b.id).results == 5
    assert [d.text for d in w.store.documents(w.b.id)] == ["Tide tables for the estuary."]
    assert {e.guild_id for e in w.store.audit(w.b.id, 100)} == {w.b.id}
    # the control: the same question in A does quote A's document
    _, in_a = await command(
        w, "ask", {"question": "How many storms did the keeper log?"}, guild_id=w.a.id
    )
    assert marker in json.dumps(in_a)
