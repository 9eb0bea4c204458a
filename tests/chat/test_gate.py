"""The gate through the real bot: allow-lists, cooldowns, and one reply per error."""

from __future__ import annotations

import asyncio
import logging

from bot.chat.client import VerbatimBot
from bot.chat.gate import CHANNEL_REPLY, ERROR_REPLY
from bot.config import DiscordConfig
from tests.chat.discord_double import FLAG_EPHEMERAL, DiscordDouble
from tests.chat.helpers import ask


async def test_cooldown_and_channel_allow_list(answerer):
    async with DiscordDouble() as double:
        allowed = double.guild.channel_id + 1
        config = DiscordConfig(cooldown_uses=1, cooldown_seconds=60)
        bot = VerbatimBot(config, lambda gid: answerer)
        await double.start_client(bot)
        await ask(double, "Operation Linden")
        again = double.make_slash_interaction("ask", {"question": "Operation Linden"})
        await double.dispatch("INTERACTION_CREATE", again)
        reply = await double.wait_for_interaction_response(again)
        assert reply.json["type"] == 4 and "please wait" in reply.json["data"]["content"]
        assert reply.json["data"]["flags"] & FLAG_EPHEMERAL

        bot.config.allowed_channels = [allowed]
        elsewhere = double.make_slash_interaction("ask", {"question": "Operation Linden"})
        await double.dispatch("INTERACTION_CREATE", elsewhere)
        reply = await double.wait_for_interaction_response(elsewhere)
        assert reply.json["data"]["content"] == CHANNEL_REPLY
        await double.stop_client(bot)


async def test_errors_reach_the_user_as_a_fixed_message_and_the_log(answerer, caplog):
    class Broken:
        settings = answerer.settings
        index = answerer.index

        def answer(self, question: str, k: int | None = None) -> None:
            raise RuntimeError("disk on fire")

    async with DiscordDouble() as double:
        bot = VerbatimBot(DiscordConfig(), lambda gid: Broken())  # type: ignore[arg-type,return-value]
        await double.start_client(bot)
        with caplog.at_level(logging.ERROR):
            inter = double.make_slash_interaction("ask", {"question": "anything"})
            await double.dispatch("INTERACTION_CREATE", inter)
            reply = await double.wait_for_request(
                lambda r: r.params.get("token") == inter["token"],
                method="PATCH",
                path=r"/webhooks/\d+/[^/]+/messages/@original",
            )
        assert reply.json["content"] == ERROR_REPLY
        assert "disk on fire" in caplog.text
        await double.stop_client(bot)


async def test_an_expired_interaction_is_logged_not_answered(running, caplog):
    double, _ = running
    double.interaction_timeout = 0.0  # every callback arrives too late
    inter = double.make_slash_interaction("ask", {"question": "Operation Linden"})
    with caplog.at_level(logging.WARNING):
        await double.dispatch("INTERACTION_CREATE", inter)
        await double.wait_for_request(method="POST", path=r"/interactions/\d+/[^/]+/callback")
        await asyncio.sleep(0.2)
    assert "expired before it was answered" in caplog.text
    assert "interaction failed" not in caplog.text
    assert len(double.requests_for(inter)) == 1  # no second try at an error reply
