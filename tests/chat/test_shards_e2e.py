"""Two bot processes (shards) on one PostgreSQL, through the Discord API double: a document an
admin adds or removes through one is quoted (or no longer) by the other within a second,
announced with LISTEN/NOTIFY, with no polling; a process killed mid-change leaves nothing
half-done.

Each bot is a real process (tests/chat/shard_process.py) with its own store, library and
event loop; only the double (here) and the database are shared. Discord routes a server's
events to one shard; here each event goes to the process chosen to handle it, as when a
server moves to another process.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.chat import render
from bot.store import Store
from tests.chat.discord_double import (
    DiscordDouble,
    GatewaySession,
    GuildSpec,
    InteractionRecord,
    make_user,
)

ROOT = Path(__file__).resolve().parents[2]
JSON = dict[str, Any]
LIGHTHOUSE = b"The lighthouse keeper logged 312 storms in 1911.\n\nThe lamp was lit nightly."
QUESTION = "How many storms did the lighthouse keeper log?"


@dataclass
class Shards:
    double: DiscordDouble
    url: str
    tmp: Path
    processes: list[subprocess.Popen[str]]
    sessions: list[GatewaySession]
    guild: GuildSpec

    async def start(self, *flags: str) -> int:
        """Start one more bot process; its index in ``processes`` and ``sessions``."""
        n = len(self.processes)
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "tests.chat.shard_process", self.double.http_url,
                self.double.gateway_url, self.url, str(self.tmp / f"cache{n}"), *flags,
            ],
            cwd=ROOT, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.processes.append(proc)
        assert await self.line(n) == "ready"
        self.sessions = list(self.double.sessions)
        assert len(self.sessions) == n + 1
        return n

    async def line(self, n: int, timeout: float = 60) -> str:
        stdout = self.processes[n].stdout
        assert stdout is not None
        return (await asyncio.wait_for(asyncio.to_thread(stdout.readline), timeout)).strip()


@pytest.fixture
async def shards(postgres: Any, tmp_path: Path) -> AsyncIterator[Shards]:
    guild = GuildSpec(name="A", users=[make_user("owner")])
    async with DiscordDouble(guilds=[guild]) as double:
        s = Shards(double, postgres.new_database(), tmp_path, [], [], guild)
        try:
            yield s
        finally:
            for proc in s.processes:
                proc.kill()
                proc.wait(10)


async def dispatch_to(s: Shards, session: GatewaySession, interaction: JSON) -> None:
    """INTERACTION_CREATE to one process only (the double's dispatch() sends it to every
    session handling the server)."""
    record = InteractionRecord(payload=interaction, dispatched_at=time.monotonic())
    s.double.interactions[record.id] = record
    s.double._by_token[record.token] = record
    await s.double._dispatch_to(session, "INTERACTION_CREATE", interaction)


async def send(s: Shards, shard: int, interaction: JSON) -> JSON:
    """Deliver an interaction to one bot only; its final reply payload."""
    await dispatch_to(s, s.sessions[shard], interaction)
    callback = await s.double.wait_for_interaction_response(interaction, timeout=30)
    if callback.json["type"] != 5:
        return callback.json["data"]
    edit = await s.double.wait_for_request(
        lambda r: r.params.get("token") == interaction["token"], method="PATCH", timeout=30
    )
    return edit.json


async def ask(s: Shards, shard: int, question: str) -> str:
    inter = s.double.make_slash_interaction("ask", {"question": question}, guild_id=s.guild.id)
    reply = await send(s, shard, inter)
    return render.plain(reply["embeds"][0]["description"]) if reply.get("embeds") else ""


async def within_a_second(s: Shards, shard: int, question: str, quoted: bool) -> float:
    """Seconds until ``shard`` answers ``question`` with (or without) the lighthouse quote."""
    started = time.perf_counter()
    while True:
        text = await ask(s, shard, question)
        elapsed = time.perf_counter() - started
        if ("The lighthouse keeper logged 312 storms" in text) == quoted:
            return elapsed
        assert elapsed < 1.0, f"shard {shard} still answers {text[:80]!r} after {elapsed:.2f}s"
        await asyncio.sleep(0.02)


def upload(s: Shards, filename: str, data: bytes, title: str) -> JSON:
    attachment = s.double.add_attachment(filename, data)
    return s.double.make_slash_interaction(
        "corpus add",
        [
            {"name": "file", "type": 11, "value": attachment["id"]},
            {"name": "title", "type": 3, "value": title},
        ],
        resolved={"attachments": {attachment["id"]: attachment}},
        guild_id=s.guild.id,
        user=s.guild.users[0],
    )


async def test_a_change_through_one_shard_is_served_by_the_other_within_a_second(
    shards: Shards,
):
    s = shards
    owner = s.guild.users[0]
    first, second = await s.start(), await s.start()
    assert (await ask(s, second, QUESTION)).startswith(render.NO_ANSWER)

    added = await send(s, first, upload(s, "log.txt", LIGHTHOUSE, "Lighthouse log"))
    assert added["embeds"][0]["title"] == "Added: Lighthouse log"
    await within_a_second(s, second, QUESTION, quoted=True)

    remove = s.double.make_slash_interaction(
        "corpus remove", {"id": "lighthouse-log"}, guild_id=s.guild.id, user=owner
    )
    asked = await send(s, first, remove)
    assert "Remove `lighthouse-log`" in asked["content"]
    message = s.double.original_message(remove)
    press = s.double.make_component_interaction(
        f"vb:rm:{owner['id']}:lighthouse-log", message, guild_id=s.guild.id, user=owner
    )
    await dispatch_to(s, s.sessions[first], press)
    done = await s.double.wait_for_request(  # acknowledged first, then edited when done
        lambda r: r.params.get("token") == press["token"] and "Removed" in str(r.json),
        method="PATCH",
        timeout=30,
    )
    assert done.json["content"] == "Removed `lighthouse-log`."
    await within_a_second(s, second, QUESTION, quoted=False)

    # both changes were committed with their audit rows, by the admin, exactly once
    with Store(s.url) as store:
        audit = store.audit(s.guild.id)
    assert [(e.action, e.doc_id) for e in audit] == [
        ("corpus.remove", "lighthouse-log"),
        ("corpus.add", "lighthouse-log"),
    ]
    assert {e.user_id for e in audit} == {int(owner["id"])}


async def test_a_shard_killed_mid_change_loses_nothing_and_leaves_nothing_unaudited(
    shards: Shards,
):
    s = shards
    doomed, survivor = await s.start("--stall-commit"), await s.start()
    inter = upload(s, "log.txt", LIGHTHOUSE, "Lighthouse log")
    await dispatch_to(s, s.sessions[doomed], inter)
    assert await s.line(doomed) == "committing"  # document and audit rows written, no COMMIT
    os.kill(s.processes[doomed].pid, signal.SIGKILL)
    s.processes[doomed].wait(10)
    with Store(s.url) as store:
        assert store.documents(s.guild.id) == [] and store.audit(s.guild.id) == []
    assert (await ask(s, survivor, QUESTION)).startswith(render.NO_ANSWER)
    # the survivor takes the change over and the admin retries: it lands everywhere
    added = await send(s, survivor, upload(s, "log.txt", LIGHTHOUSE, "Lighthouse log"))
    assert added["embeds"][0]["title"] == "Added: Lighthouse log"
    restarted = await s.start()
    assert "The lighthouse keeper logged 312 storms" in await ask(s, restarted, QUESTION)
