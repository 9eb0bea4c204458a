"""The real bot, unmodified, over real sockets against the Discord API double."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.chat import render
from bot.chat.client import CHANNEL_REPLY, ERROR_REPLY, VerbatimBot
from bot.chat.views import QUOTE_GONE
from bot.config import DiscordConfig
from bot.core.answers import Answerer
from tests.chat.discord_double import FLAG_EPHEMERAL, DiscordDouble

LINDEN = "Operation Linden was launched in 2014"
NO_PINGS = {"parse": []}


def _components(payload: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for row in payload.get("components") or [] for c in row.get("components", [])]


def _description(payload: dict[str, Any]) -> str:
    return render.plain(payload["embeds"][0]["description"])


@pytest.fixture
async def running(answerer: Answerer) -> AsyncIterator[tuple[DiscordDouble, VerbatimBot]]:
    async with DiscordDouble() as double:
        bot = VerbatimBot(DiscordConfig(cooldown_uses=50), lambda gid: answerer)
        await double.start_client(bot)
        yield double, bot
        await double.stop_client(bot)


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


async def test_ask_defers_then_answers_with_verbatim_cited_quotes(running):
    double, _ = running
    _, callback, edit = await ask(double, "When was Operation Linden launched?")
    assert callback.json["type"] == 5  # deferred first, off the 3 s deadline
    assert callback.json["data"]["flags"] & FLAG_EPHEMERAL  # private by default
    body = edit.json
    assert body["allowed_mentions"] == NO_PINGS
    text = _description(body)
    assert LINDEN in text
    assert "**Operation**" in body["embeds"][0]["description"]  # matched words in bold
    assert "— Rotherham CSE: Police officer claimed girls" in text and "22 June 2022, ¶7" in text
    ids = [c["custom_id"] for c in _components(body)]
    assert any(i.startswith("vb:ctx:") for i in ids) and any(i.startswith("vb:cite:") for i in ids)
    assert "vb:post" in ids
    assert not double.unmatched_requests and not double.internal_errors


async def test_cite_and_context_buttons_quote_exactly(running, answerer):
    double, _ = running
    inter, _, edit = await ask(double, "When was Operation Linden launched?")
    message = double.original_message(inter)
    ids = [c["custom_id"] for c in _components(edit.json)]
    cite_id = next(i for i in ids if i.startswith("vb:cite:"))
    _, _, start, end, doc_id = cite_id.split(":")
    doc = answerer.index.by_id[doc_id]
    press = double.make_component_interaction(cite_id, message)
    await double.dispatch("INTERACTION_CREATE", press)
    reply = await double.wait_for_interaction_response(press)
    assert reply.json["type"] == 4
    content = reply.json["data"]["content"]
    assert content.startswith("```\n“" + doc.text[int(start) : int(end)] + "”\n— ")
    assert content.rstrip("`").rstrip().endswith("22 June 2022, ¶7")

    ctx_id = cite_id.replace("vb:cite:", "vb:ctx:")
    press = double.make_component_interaction(ctx_id, message)
    await double.dispatch("INTERACTION_CREATE", press)
    reply = await double.wait_for_interaction_response(press)
    shown = render.plain(reply.json["data"]["embeds"][0]["description"])
    # the paragraphs either side, as stored
    assert "Police chief pledges to continue driving im...\n\n" + LINDEN in shown
    assert shown.endswith("Pakistani-heritage.\n\nSign up to our daily newsletter")


async def test_post_to_channel_reposts_a_private_answer_publicly(running):
    double, _ = running
    inter, _, _ = await ask(double, "When was Operation Linden launched?")
    press = double.make_component_interaction("vb:post", double.original_message(inter))
    await double.dispatch("INTERACTION_CREATE", press)
    reply = await double.wait_for_interaction_response(press)
    assert reply.json["type"] == 4
    assert not (reply.json["data"].get("flags") or 0) & FLAG_EPHEMERAL
    assert LINDEN in _description(reply.json["data"])
    assert reply.json["data"]["allowed_mentions"] == NO_PINGS
    assert "vb:post" not in [c["custom_id"] for c in _components(reply.json["data"])]


async def test_public_answers_have_no_post_button(running):
    double, _ = running
    _, callback, edit = await ask(double, "When was Operation Linden launched?", public=True)
    assert not ((callback.json.get("data") or {}).get("flags") or 0) & FLAG_EPHEMERAL
    assert "vb:post" not in [c["custom_id"] for c in _components(edit.json)]


async def test_unanswerable_question_gets_the_fixed_reply(running):
    double, _ = running
    _, _, edit = await ask(double, "What is the capital of France?")
    text = _description(edit.json)
    assert text.startswith(render.NO_ANSWER) and "capital, France" in text
    assert not _components(edit.json)


async def test_mentions_in_questions_ping_nobody(running):
    double, _ = running
    _, _, edit = await ask(double, "<@123> what did @everyone **Michael Lockwood** say?")
    assert edit.json["allowed_mentions"] == NO_PINGS
    title = edit.json["embeds"][0]["title"]
    assert "\\@everyone" in title and "\\*\\*Michael" in title
    assert "<@123>" not in title  # a mention of the bot is not part of the question


async def test_search_pages_with_buttons(running):
    double, _ = running
    inter = double.make_slash_interaction("search", {"query": "police officers"})
    await double.dispatch("INTERACTION_CREATE", inter)
    edit = await double.wait_for_request(
        lambda r: r.params.get("token") == inter["token"], method="PATCH"
    )
    first = edit.json["embeds"][0]
    assert first["footer"]["text"].startswith("Page 1/")
    buttons = {c["custom_id"]: c for c in _components(edit.json)}
    assert buttons["vb:prev"].get("disabled") and not buttons["vb:next"].get("disabled")
    press = double.make_component_interaction("vb:next", double.original_message(inter))
    await double.dispatch("INTERACTION_CREATE", press)
    reply = await double.wait_for_interaction_response(press)
    assert reply.json["type"] == 7  # the same message, updated
    page2 = reply.json["data"]["embeds"][0]
    assert page2["footer"]["text"].startswith("Page 2/")
    assert page2["description"] != first["description"]
    assert len(page2["description"]) <= render.DESCRIPTION_LIMIT


async def test_find_sources_checks_a_posted_claim(running):
    double, _ = running
    claim = double.make_message("Police said a 12-year-old girl had provided consent?!")
    await double.dispatch("MESSAGE_CREATE", claim)
    inter = double.make_message_command_interaction("Find sources", claim)
    await double.dispatch("INTERACTION_CREATE", inter)
    callback = await double.wait_for_interaction_response(inter)
    assert callback.json["type"] == 5
    edit = await double.wait_for_request(
        lambda r: r.params.get("token") == inter["token"], method="PATCH"
    )
    assert "a Detective Constable commented a 12-year-old girl had provided consent" in (
        _description(edit.json)
    )


async def test_mention_gets_a_reply_in_the_channel(running):
    double, _ = running
    msg = double.make_message(f"{double.bot_mention} who is Michael Lockwood? @everyone")
    await double.dispatch("MESSAGE_CREATE", msg)
    sent = await double.wait_for_request(method="POST", path=r"/channels/\d+/messages")
    assert sent.json["message_reference"]["message_id"] == int(msg["id"])
    assert sent.json["allowed_mentions"]["parse"] == []
    assert sent.json["allowed_mentions"].get("replied_user") is False
    assert "IOPC director-general Michael Lockwood said" in _description(sent.json)


async def test_sources_source_and_autocomplete(running):
    double, _ = running
    inter = double.make_slash_interaction("sources")
    await double.dispatch("INTERACTION_CREATE", inter)
    reply = await double.wait_for_interaction_response(inter)
    listing = reply.json["data"]["embeds"][0]
    assert listing["title"] == "2 documents"
    assert "shocking-police-failures-rotherham" in listing["description"]

    auto = double.make_autocomplete_interaction("source", {"id": "shock"}, focused="id")
    await double.dispatch("INTERACTION_CREATE", auto)
    reply = await double.wait_for_interaction_response(auto)
    assert reply.json["type"] == 8
    assert [c["value"] for c in reply.json["data"]["choices"]] == [
        "shocking-police-failures-rotherham"
    ]

    inter = double.make_slash_interaction("source", {"id": "shocking-police-failures-rotherham"})
    await double.dispatch("INTERACTION_CREATE", inter)
    reply = await double.wait_for_interaction_response(inter)
    fields = {f["name"]: f["value"] for f in reply.json["data"]["embeds"][0]["fields"]}
    assert fields["publisher"] == "Yahoo News UK" and fields["characters"] == "7,560"


async def test_help(running):
    double, _ = running
    inter = double.make_slash_interaction("help")
    await double.dispatch("INTERACTION_CREATE", inter)
    reply = await double.wait_for_interaction_response(inter)
    assert "verbatim quotes" in reply.json["data"]["embeds"][0]["description"]


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
            followup = await double.wait_for_request(
                lambda r: r.params.get("token") == inter["token"],
                method="POST",
                path=r"/webhooks/\d+/[^/]+",
            )
        assert followup.json["content"] == ERROR_REPLY
        assert "disk on fire" in caplog.text
        await double.stop_client(bot)


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
    import json

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


async def test_post_to_channel_fails_closed_when_the_corpus_changed(running, answerer):
    double, bot = running
    inter, _, _ = await ask(double, "When was Operation Linden launched?")
    message = double.original_message(inter)
    from bot.core.index import SearchIndex

    smaller = Answerer(SearchIndex.build(answerer.index.documents[1:]))  # one document removed
    bot._answerer_for = lambda gid: smaller
    press = double.make_component_interaction("vb:post", message)
    await double.dispatch("INTERACTION_CREATE", press)
    reply = await double.wait_for_interaction_response(press)
    assert reply.json["data"]["content"] == QUOTE_GONE
    assert reply.json["data"]["flags"] & FLAG_EPHEMERAL
