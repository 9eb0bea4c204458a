"""The answering extension through the real bot and the Discord API double over real
sockets: /ask, buttons, /search, message commands, mentions, /sources and /source."""

from __future__ import annotations

import discord

from bot.chat import render
from bot.chat.client import VerbatimBot
from bot.chat.views import NOT_YOUR_SEARCH, NOT_YOURS, QUOTE_GONE
from bot.config import DiscordConfig
from bot.core.answers import Answerer, AnswerSettings
from tests.chat.discord_double import FLAG_EPHEMERAL, DiscordDouble, make_user
from tests.chat.helpers import (
    LINDEN,
    NO_PINGS,
    ask,
    components,
    custom_ids,
    description,
    press,
    respond,
)


async def test_ask_defers_then_answers_with_verbatim_cited_quotes(running):
    double, _ = running
    _, callback, edit = await ask(double, "When was Operation Linden launched?")
    assert callback.json["type"] == 5  # deferred first, off the 3 s deadline
    assert callback.json["data"]["flags"] & FLAG_EPHEMERAL  # private by default
    body = edit.json
    assert body["allowed_mentions"] == NO_PINGS
    text = description(body)
    assert LINDEN in text
    assert "**Operation**" in body["embeds"][0]["description"]  # matched words in bold
    assert "— Rotherham CSE: Police officer claimed girls" in text and "22 June 2022, ¶7" in text
    ids = [c["custom_id"] for c in components(body)]
    assert any(i.startswith("vb:ctx:") for i in ids) and any(i.startswith("vb:cite:") for i in ids)
    assert "vb:post" in ids
    assert not double.unmatched_requests and not double.internal_errors


async def test_cite_and_context_buttons_quote_exactly(running, answerer):
    double, _ = running
    inter, _, edit = await ask(double, "When was Operation Linden launched?")
    message = double.original_message(inter)
    ids = [c["custom_id"] for c in components(edit.json)]
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


async def test_post_to_channel_posts_once_with_a_readable_title_and_a_delete_button(running):
    double, _ = running
    question = "<@123> when was Operation Linden launched, <#456>?"
    inter, _, _ = await ask(double, question)
    message = double.original_message(inter)
    press_inter, reply = await press(double, "vb:post", message)
    assert reply.json["type"] == 7  # the private answer, updated: Post is now disabled
    post = next(c for c in components(reply.json["data"]) if c["custom_id"] == "vb:post")
    assert post["disabled"] is True
    posted = await double.wait_for_request(
        lambda r: r.params.get("token") == press_inter["token"],
        method="POST",
        path=r"/webhooks/\d+/[^/]+",
    )
    assert not (posted.json.get("flags") or 0) & FLAG_EPHEMERAL
    assert LINDEN in description(posted.json)
    assert posted.json["allowed_mentions"] == NO_PINGS
    title = posted.json["embeds"][0]["title"]
    assert "<" not in render.unescape(title) and "when was Operation Linden" in title
    ids = custom_ids(posted.json)
    assert "vb:post" not in ids and f"vb:del:{double.user['id']}" in ids
    stored = components(double.messages[int(message["id"])])  # Discord keeps it disabled
    assert [c.get("disabled") for c in stored if c["custom_id"] == "vb:post"] == [True]


async def test_public_answers_have_no_post_button(running):
    double, _ = running
    _, callback, edit = await ask(double, "When was Operation Linden launched?", public=True)
    assert not ((callback.json.get("data") or {}).get("flags") or 0) & FLAG_EPHEMERAL
    assert "vb:post" not in [c["custom_id"] for c in components(edit.json)]


async def test_unanswerable_question_gets_the_fixed_reply(running):
    double, _ = running
    _, _, edit = await ask(double, "What is the capital of France?")
    text = description(edit.json)
    assert text.startswith(render.NO_ANSWER) and "capital, France" in text
    assert not components(edit.json)


async def test_mentions_in_questions_ping_nobody(running):
    double, _ = running
    asked = "<@123> what did @everyone and @mods **Michael Lockwood** say?"
    _, _, edit = await ask(double, asked)
    assert edit.json["allowed_mentions"] == NO_PINGS
    title = edit.json["embeds"][0]["title"]
    assert "\\@mods" in title and "\\*\\*Michael" in title
    # mentions of the bot and of everyone are not part of the question
    assert "<@123>" not in title and "everyone" not in title


async def test_search_pages_survive_a_restart_and_belong_to_the_searcher(answerer: Answerer):
    async with DiscordDouble() as double:
        bot = VerbatimBot(DiscordConfig(), lambda gid: answerer)
        await double.start_client(bot)
        inter = double.make_slash_interaction("search", {"query": "police officers"})
        await double.dispatch("INTERACTION_CREATE", inter)
        edit = await double.wait_for_request(
            lambda r: r.params.get("token") == inter["token"], method="PATCH"
        )
        first = edit.json["embeds"][0]
        assert first["footer"]["text"].startswith("Page 1/")
        prev, next_ = components(edit.json)
        assert prev["label"] == "Previous" and prev.get("disabled")
        assert next_["label"] == "Next" and not next_.get("disabled")
        await double.stop_client(bot)  # a restart: nothing of the search is remembered

        bot = VerbatimBot(DiscordConfig(), lambda gid: answerer)
        await double.start_client(bot)
        message = double.original_message(inter)
        stranger = make_user("stranger")
        _, refused = await press(double, next_["custom_id"], message, user=stranger)
        assert refused.json["data"]["content"] == NOT_YOUR_SEARCH
        paging, reply = await press(double, next_["custom_id"], message)
        assert reply.json["type"] == 6  # acknowledged before searching again
        page2 = await double.wait_for_request(
            lambda r: r.params.get("token") == paging["token"], method="PATCH"
        )
        embed = page2.json["embeds"][0]
        assert embed["footer"]["text"].startswith("Page 2/")
        assert embed["description"] != first["description"]
        assert len(embed["description"]) <= render.DESCRIPTION_LIMIT
        assert [c.get("disabled", False) for c in components(page2.json)] == [False, False]
        await double.stop_client(bot)


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
        description(edit.json)
    )


async def test_mention_gets_a_reply_in_the_channel(running):
    double, _ = running
    msg = double.make_message(f"{double.bot_mention} who is Michael Lockwood? @everyone")
    await double.dispatch("MESSAGE_CREATE", msg)
    sent = await double.wait_for_request(method="POST", path=r"/channels/\d+/messages")
    assert sent.json["message_reference"]["message_id"] == int(msg["id"])
    assert sent.json["allowed_mentions"]["parse"] == []
    assert sent.json["allowed_mentions"].get("replied_user") is False
    assert "IOPC director-general Michael Lockwood said" in description(sent.json)


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


async def test_post_to_channel_fails_closed_when_the_corpus_changed(running, answerer):
    double, bot = running
    inter, _, _ = await ask(double, "When was Operation Linden launched?")
    message = double.original_message(inter)
    from bot.core.index import SearchIndex

    smaller = Answerer(SearchIndex.build(answerer.index.documents[1:]))  # one document removed
    bot.services._answerer_for = lambda gid: smaller
    press = double.make_component_interaction("vb:post", message)
    await double.dispatch("INTERACTION_CREATE", press)
    reply = await double.wait_for_interaction_response(press)
    assert reply.json["data"]["content"] == QUOTE_GONE
    assert reply.json["data"]["flags"] & FLAG_EPHEMERAL


async def test_a_moderator_answers_a_members_message_with_sources(running):
    """Answer with sources: the moderator sees the answer privately, then replies to the
    member's message with it; the reply can be deleted by the moderator, not by others."""
    double, _ = running
    member = make_user("member")
    question = double.make_message("When was Operation Linden launched?", author=member)
    await double.dispatch("MESSAGE_CREATE", question)
    inter = double.make_message_command_interaction("Answer with sources", question)
    await double.dispatch("INTERACTION_CREATE", inter)
    private = await respond(double, inter)
    callback = double.interactions[int(inter["id"])]
    assert callback.response_type == 5 and callback.callback_data["flags"] & FLAG_EPHEMERAL
    assert LINDEN in description(private)
    reply_id = f"vb:reply:{question['id']}"
    assert reply_id in custom_ids(private) and "vb:post" not in custom_ids(private)

    start = len(double.requests)
    _, pressed = await press(double, reply_id, double.original_message(inter))
    assert pressed.json["type"] == 7  # the private copy: Reply is now disabled
    used = [c for c in components(pressed.json["data"]) if c["custom_id"] == reply_id]
    assert used[0]["disabled"] is True
    sent = await double.wait_for_request(
        method="POST", path=rf"/channels/{question['channel_id']}/messages", start=start
    )
    assert sent.json["message_reference"]["message_id"] == int(question["id"])
    assert sent.json["allowed_mentions"]["parse"] == [] and LINDEN in description(sent.json)
    moderator = double.user["id"]
    assert f"vb:del:{moderator}" in custom_ids(sent.json)
    public = next(m for m in double.messages.values() if m.get("message_reference"))

    _, refused = await press(double, f"vb:del:{moderator}", public, user=member)
    assert refused.json["data"]["content"] == NOT_YOURS
    assert refused.json["data"]["flags"] & FLAG_EPHEMERAL
    _, deleted = await press(double, f"vb:del:{moderator}", public)
    assert deleted.json["type"] == 6
    await double.wait_for_request(
        method="DELETE", path=rf"/channels/\d+/messages/{public['id']}", start=start
    )


async def test_a_message_no_passage_answers_can_still_be_answered_in_reply(running):
    double, _ = running
    question = double.make_message("What is the capital of France?")
    await double.dispatch("MESSAGE_CREATE", question)
    inter = double.make_message_command_interaction("Answer with sources", question)
    await double.dispatch("INTERACTION_CREATE", inter)
    private = await respond(double, inter)
    assert description(private).startswith(render.NO_ANSWER)
    assert custom_ids(private) == [f"vb:reply:{question['id']}"]


async def test_a_public_answer_can_be_deleted_by_its_asker_and_moderators(running):
    double, _ = running
    inter, _, edit = await ask(double, "When was Operation Linden launched?", public=True)
    asker = double.user["id"]
    assert custom_ids(edit.json)[-1] == f"vb:del:{asker}"
    message = double.original_message(inter)
    moderator = make_user("moderator")
    _, refused = await press(double, f"vb:del:{asker}", message, user=moderator)
    assert refused.json["data"]["content"] == NOT_YOURS
    _, done = await press(
        double,
        f"vb:del:{asker}",
        message,
        user=moderator,
        permissions=discord.Permissions(manage_messages=True).value,
    )
    assert done.json["type"] == 6
    await double.wait_for_request(method="DELETE", path=rf"/channels/\d+/messages/{message['id']}")


async def test_the_longest_search_query_discord_accepts_still_pages(default_index):
    answerer = Answerer(default_index, AnswerSettings(max_question_chars=4000))
    async with DiscordDouble() as double:
        bot = VerbatimBot(DiscordConfig(), lambda gid: answerer)
        await double.start_client(bot)
        option = bot.tree.get_command("search").to_dict(bot.tree)["options"][0]  # type: ignore[union-attr]
        assert option["max_length"] == render.SEARCH_QUERY_LIMIT  # Discord refuses longer
        words = "police officers Rotherham "
        query = (words * 100)[: render.SEARCH_QUERY_LIMIT + 1].rsplit(" ", 1)[0]  # whole words
        inter = double.make_slash_interaction("search", {"query": query})
        await double.dispatch("INTERACTION_CREATE", inter)
        edit = await double.wait_for_request(
            lambda r: r.params.get("token") == inter["token"], method="PATCH", timeout=10
        )
        _, next_ = components(edit.json)
        paging, _ = await press(double, next_["custom_id"], double.original_message(inter))
        page2 = await double.wait_for_request(
            lambda r: r.params.get("token") == paging["token"], method="PATCH", timeout=10
        )
        assert page2.json["embeds"][0]["footer"]["text"].startswith("Page 2/")
        assert render.search_query(page2.json["embeds"][0]["footer"]["text"]) == query
        await double.stop_client(bot)
