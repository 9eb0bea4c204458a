"""The bot object: extensions loaded by name, shards, structured logs."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from bot.chat.client import VerbatimBot
from bot.config import DiscordConfig
from tests.chat.discord_double import DiscordDouble
from tests.chat.helpers import ask


async def test_logs_are_structured_and_leave_out_questions(answerer, capsys):
    from bot.chat.logs import setup_logging

    setup_logging()
    try:
        async with DiscordDouble() as double:
            bot = VerbatimBot(DiscordConfig(), lambda gid: answerer)
            await double.start_client(bot)
            await ask(double, "When was Operation Linden launched?")
            bot.config.log_questions = True
            await ask(double, "Who is Michael Lockwood?")
            await double.stop_client(bot)
    finally:
        logging.getLogger().handlers.clear()

    events = [
        json.loads(line) for line in capsys.readouterr().err.splitlines() if '"answer"' in line
    ]
    assert [e["message"] for e in events] == ["answer", "answer"]
    assert "question" not in events[0] and events[0]["answered"] is True
    assert events[0]["via"] == "ask" and events[0]["quotes"] >= 1 and "search_ms" in events[0]
    assert events[1]["question"] == "Who is Michael Lockwood?"


def test_shard_settings_reach_discord_py(answerer):
    bot = VerbatimBot(DiscordConfig(shard_count=4, shard_ids=[2, 3]), lambda gid: answerer)
    assert bot.shard_count == 4 and bot.shard_ids == [2, 3]
    with pytest.raises(ValueError, match="shard_ids needs shard_count"):
        DiscordConfig(shard_ids=[0])


async def test_acknowledgements_never_wait_for_connections_answers_hold(answerer):
    """With one connection for everything else and Discord taking 0.5 s per reply, a
    question asked while another's answer is being sent is still acknowledged at once:
    acknowledgements have connections of their own."""
    async with DiscordDouble(latency=0.5) as double:
        bot = VerbatimBot(DiscordConfig(http_connections=2), lambda gid: answerer)
        await double.start_client(bot)
        first = double.make_slash_interaction("ask", {"question": "Operation Linden"})
        await double.dispatch("INTERACTION_CREATE", first)
        await double.wait_for_interaction_response(first)  # its answer's edit is now sent
        await asyncio.sleep(0.1)  # ... and waiting 0.5 s for Discord on the one connection
        second = double.make_slash_interaction("ask", {"question": "Michael Lockwood"})
        await double.dispatch("INTERACTION_CREATE", second)
        await double.wait_for_requests(
            2, lambda r: r.method == "PATCH" and r.route.endswith("/@original"), timeout=10
        )
        record = double.interactions[int(second["id"])]
        edit = next(
            r
            for r in double.requests
            if r.params.get("token") == first["token"] and r.method == "PATCH"
        )
        await double.stop_client(bot)
    assert record.responded_at is not None
    # the second acknowledgement reached Discord before the first answer's reply came back
    assert record.responded_at < edit.timestamp + double.latency
