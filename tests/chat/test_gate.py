"""The gate through the real bot: allow-lists, cooldowns, and one reply per error."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator

from bot.chat.client import VerbatimBot
from bot.chat.gate import CHANNEL_REPLY, ERROR_REPLY, NOT_ALLOWED
from bot.config import DiscordConfig
from tests.chat.discord_double import FLAG_EPHEMERAL, DiscordDouble
from tests.chat.helpers import LIGHTHOUSE, World, ask, command, respond, upload


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


@contextlib.asynccontextmanager
async def settings_thread_busy(w: World) -> AsyncIterator[None]:
    """The settings thread held, and server A's settings not cached: any read of them waits."""
    release = threading.Event()
    held = asyncio.create_task(w.bot.services.db(release.wait, 10))
    w.bot.services.settings.forget(w.a.id)
    try:
        yield
    finally:
        release.set()
        await held


async def test_a_question_is_acknowledged_before_uncached_settings_are_read(world: World):
    w = world
    async with settings_thread_busy(w):
        inter = w.double.make_slash_interaction("ask", {"question": "Rotherham"}, guild_id=w.a.id)
        await w.double.dispatch("INTERACTION_CREATE", inter)
        callback = await w.double.wait_for_interaction_response(inter, timeout=2)
    assert callback.json["type"] == 5 and callback.json["data"]["flags"] & FLAG_EPHEMERAL
    reply = await respond(w.double, inter)
    assert "Rotherham" in reply["embeds"][0]["description"]


async def test_uncached_settings_still_decide_visibility_and_channel(world: World):
    w = world
    w.store.update_settings(w.a.id, 1, public_by_default=True)
    async with settings_thread_busy(w):
        inter = w.double.make_slash_interaction("ask", {"question": "Rotherham"}, guild_id=w.a.id)
        await w.double.dispatch("INTERACTION_CREATE", inter)
        await w.double.wait_for_interaction_response(inter, timeout=2)
    posted = await w.double.wait_for_request(
        lambda r: r.params.get("token") == inter["token"], method="POST", path=r"/webhooks/.*"
    )
    assert not (posted.json.get("flags") or 0) & FLAG_EPHEMERAL  # the server's default: public
    assert "Rotherham" in posted.json["embeds"][0]["description"]
    record = w.double.interactions[int(inter["id"])]
    assert record.original_message_id not in w.double.messages  # the private placeholder

    w.store.update_settings(w.a.id, 1, allowed_channels=[w.a.channel_id + 1])
    async with settings_thread_busy(w):
        inter, reply = await command(w, "ask", {"question": "Rotherham"}, guild_id=w.a.id)
    assert reply["content"] == CHANNEL_REPLY
    assert w.double.original_message(inter)["flags"] & FLAG_EPHEMERAL


async def test_an_admin_role_is_checked_after_the_acknowledgement(world: World):
    """A member whose right to /corpus comes from a role the server set (not Manage Server)
    is acknowledged before the settings holding that role are read."""
    w = world
    w.store.update_settings(w.a.id, 1, admin_roles=[w.editor_role])
    async with settings_thread_busy(w):
        inter = w.double.make_slash_interaction("corpus list", guild_id=w.a.id, user=w.member)
        inter["member"]["roles"] = [str(w.editor_role)]
        await w.double.dispatch("INTERACTION_CREATE", inter)
        callback = await w.double.wait_for_interaction_response(inter, timeout=2)
    assert callback.json["type"] == 5 and callback.json["data"]["flags"] & FLAG_EPHEMERAL
    reply = await respond(w.double, inter)
    assert reply["embeds"][0]["title"] == "Collections"

    w.bot.services.settings.forget(w.a.id)  # and a member without the role is refused
    inter, reply = await command(w, "corpus list", guild_id=w.a.id, user=w.member)
    assert reply["content"] == NOT_ALLOWED


async def test_an_admin_roles_button_is_checked_after_the_acknowledgement(world: World):
    w = world
    w.store.update_settings(w.a.id, 1, admin_roles=[w.editor_role])
    w.bot.services.settings.forget(w.a.id)
    await upload(w, "log.txt", LIGHTHOUSE, w.a)
    inter = w.double.make_slash_interaction(
        "corpus remove", {"id": "log"}, guild_id=w.a.id, user=w.member
    )
    inter["member"]["roles"] = [str(w.editor_role)]
    await w.double.dispatch("INTERACTION_CREATE", inter)
    await respond(w.double, inter)
    message = w.double.original_message(inter)
    async with settings_thread_busy(w):
        pressed = w.double.make_component_interaction(
            f"vb:rmno:{w.member['id']}", message, guild_id=w.a.id, user=w.member
        )
        pressed["member"]["roles"] = [str(w.editor_role)]
        await w.double.dispatch("INTERACTION_CREATE", pressed)
        callback = await w.double.wait_for_interaction_response(pressed, timeout=2)
    assert callback.json["type"] == 6  # a deferred update of the confirmation
    edit = await w.double.wait_for_request(
        lambda r: r.params.get("token") == pressed["token"], method="PATCH"
    )
    assert edit.json["content"] == "Nothing was removed." and edit.json["components"] == []
