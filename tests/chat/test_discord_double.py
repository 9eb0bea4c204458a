"""The Discord double drives real discord.py clients over real sockets."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands
from discord.gateway import DiscordWebSocket
from discord.http import Route

from tests.chat.discord_double import FLAG_EPHEMERAL, FLAG_LOADING, DiscordDouble, GuildSpec


def make_bot(*, sharded: bool = False) -> commands.Bot:
    cls = commands.AutoShardedBot if sharded else commands.Bot
    return cls(command_prefix="!", intents=discord.Intents.default(), help_command=None)


async def eventually(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


@pytest.fixture
async def double() -> AsyncIterator[DiscordDouble]:
    async with DiscordDouble() as d:
        yield d


async def test_client_connects_gets_ready_and_heartbeats() -> None:
    original = (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)
    async with DiscordDouble(heartbeat_interval_ms=50, token="s3cret") as double:
        assert f"{double.http_url}/api/v10" == Route.BASE
        client = discord.Client(intents=discord.Intents.default())
        await double.start_client(client, token="s3cret")

        assert client.user is not None and client.user.id == double.bot_user_id
        assert client.user.name == "Verbatim" and client.user.bot
        assert client.application_id == double.application_id
        guild = client.get_guild(double.guild.id)
        assert guild is not None and not guild.unavailable
        assert guild.me is not None and guild.me.id == double.bot_user_id
        assert isinstance(guild.get_channel(double.channel_id), discord.TextChannel)

        (session,) = double.sessions
        assert session.token == "s3cret"
        assert session.intents == discord.Intents.default().value
        assert session.connection is not None and session.connection.compress == "zlib-stream"
        beats = await double.wait_for_heartbeats(3, timeout=3)
        assert all(b.acked_at is not None for b in beats)
        assert client.latency < 1.0  # the client processed the ACKs
        routes = [(r.method, r.route, r.status) for r in double.requests]
        assert routes == [("GET", "/users/@me", 200), ("GET", "/oauth2/applications/@me", 200)]
        assert double.requests[0].headers["Authorization"] == "Bot s3cret"

        await double.stop_client(client)
        assert client.is_closed()
    assert original == (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)


async def test_wrong_token_is_refused() -> None:
    async with DiscordDouble(token="right") as double:
        with pytest.raises(discord.LoginFailure):
            await double.start_client(discord.Client(intents=discord.Intents.none()), token="wrong")


async def test_privileged_intents_can_be_refused() -> None:
    async with DiscordDouble(privileged_intents=0) as double:
        client = discord.Client(intents=discord.Intents.all())
        with pytest.raises(discord.PrivilegedIntentsRequired):
            await double.start_client(client)


async def test_slash_command_send_message(double: DiscordDouble) -> None:
    bot = make_bot(sharded=True)

    @bot.tree.command(name="echo", description="Echo some text")
    async def echo(interaction: discord.Interaction, text: str) -> None:
        await interaction.response.send_message(
            text, allowed_mentions=discord.AllowedMentions.none()
        )

    await double.start_client(bot)
    assert double.sessions[0].shard == (0, 1)  # AutoShardedBot asked /gateway/bot
    inter = double.make_slash_interaction("echo", {"text": "hi @everyone"})
    await double.dispatch("INTERACTION_CREATE", inter)

    callback = await double.wait_for_interaction_response(inter)
    assert callback.status == 200, callback.response
    assert callback.json["type"] == 4
    assert callback.json["data"]["content"] == "hi @everyone"
    assert callback.json["data"]["allowed_mentions"] == {"parse": []}
    message = double.original_message(inter)
    assert message is not None and message["content"] == "hi @everyone"
    assert message["type"] == 20 and message["mention_everyone"] is False
    assert callback.response["interaction"]["response_message_id"] == message["id"]
    assert double.unmatched_requests == []


async def test_defer_then_edit_and_followups(double: DiscordDouble) -> None:
    bot = make_bot()
    followups: list[discord.WebhookMessage] = []

    @bot.tree.command(name="slow", description="Defers, edits, follows up")
    async def slow(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.edit_original_response(content="done")
        followups.append(await interaction.followup.send("extra", ephemeral=True, wait=True))

    @bot.tree.command(name="later", description="Defers then follows up")
    async def later(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        followups.append(await interaction.followup.send("first", wait=True))

    await double.start_client(bot)
    slow_inter = double.make_slash_interaction("slow")
    await double.dispatch("INTERACTION_CREATE", slow_inter)
    callback = await double.wait_for_interaction_response(slow_inter)
    assert callback.json["type"] == 5
    assert callback.response["interaction"]["response_message_loading"] is True
    edit = await double.wait_for_request(
        method="PATCH", path=r"/webhooks/\d+/[^/]+/messages/@original"
    )
    assert edit.params["token"] == slow_inter["token"]
    assert edit.json["content"] == "done"
    followup = await double.wait_for_request(method="POST", path=r"/webhooks/\d+/[^/]+")
    assert followup.json["content"] == "extra" and followup.json["flags"] & FLAG_EPHEMERAL
    original = double.original_message(slow_inter)
    assert original is not None and original["content"] == "done"
    assert not original["flags"] & FLAG_LOADING
    assert followup.response["id"] != original["id"]
    assert [r.method for r in double.requests_for(slow_inter)] == ["POST", "PATCH", "POST"]

    later_inter = double.make_slash_interaction("later")
    await double.dispatch("INTERACTION_CREATE", later_inter)
    event = await double.wait_for_message(lambda e: e.message["content"] == "first", kind="update")
    # Discord: the first follow-up after a "thinking" defer replaces the placeholder
    assert event.message["id"] == str(
        double.interactions[int(later_inter["id"])].original_message_id
    )
    await eventually(lambda: len(followups) == 2)
    assert followups[-1].id == int(event.message["id"])


async def test_button_press_reaches_view_callback(double: DiscordDouble) -> None:
    bot = make_bot()
    presses: list[str] = []

    class Pager(discord.ui.View):
        @discord.ui.button(label="Next", custom_id="pager:next")
        async def next_page(
            self, interaction: discord.Interaction, button: discord.ui.Button[Any]
        ) -> None:
            presses.append(interaction.user.name)
            await interaction.response.edit_message(content="page 2", view=self)

    class Persistent(discord.ui.View):
        def __init__(self) -> None:
            super().__init__(timeout=None)

        @discord.ui.button(label="Cite", custom_id="persistent:cite")
        async def cite(
            self, interaction: discord.Interaction, button: discord.ui.Button[Any]
        ) -> None:
            await interaction.response.send_message("cited", ephemeral=True)

    @bot.tree.command(name="pager", description="A paged answer")
    async def pager(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("page 1", view=Pager(timeout=30))

    await double.start_client(bot)
    bot.add_view(Persistent())
    inter = double.make_slash_interaction("pager")
    await double.dispatch("INTERACTION_CREATE", inter)
    await double.wait_for_interaction_response(inter)
    message = double.original_message(inter)
    assert message is not None
    assert message["components"][0]["components"][0]["custom_id"] == "pager:next"

    press = double.make_component_interaction("pager:next", int(message["id"]))
    await double.dispatch("INTERACTION_CREATE", press)
    callback = await double.wait_for_interaction_response(press)
    assert callback.status == 200, callback.response
    assert callback.json["type"] == 7 and callback.json["data"]["content"] == "page 2"
    assert presses == ["tester"]
    assert double.messages[int(message["id"])]["content"] == "page 2"

    cite = double.make_component_interaction("persistent:cite", int(message["id"]))
    await double.dispatch("INTERACTION_CREATE", cite)
    callback = await double.wait_for_interaction_response(cite)
    assert callback.json["type"] == 4 and callback.json["data"]["flags"] == FLAG_EPHEMERAL


async def test_message_context_menu_gets_target_content(double: DiscordDouble) -> None:
    bot = make_bot()

    @app_commands.context_menu(name="Find sources")
    async def find_sources(interaction: discord.Interaction, message: discord.Message) -> None:
        await interaction.response.send_message(f"sources for: {message.content}", ephemeral=True)

    @app_commands.context_menu(name="Who")
    async def who(interaction: discord.Interaction, member: discord.Member) -> None:
        await interaction.response.send_message(f"that is {member.name}")

    bot.tree.add_command(find_sources)
    bot.tree.add_command(who)
    await double.start_client(bot)
    user_inter = double.make_user_command_interaction("Who", double.user)
    await double.dispatch("INTERACTION_CREATE", user_inter)
    callback = await double.wait_for_interaction_response(user_inter)
    assert callback.json["data"]["content"] == "that is tester"

    target = double.make_message("The quick brown fox")
    inter = double.make_message_command_interaction("Find sources", target)
    await double.dispatch("INTERACTION_CREATE", inter)

    callback = await double.wait_for_interaction_response(inter)
    assert callback.status == 200, callback.response
    assert callback.json["data"]["content"] == "sources for: The quick brown fox"
    message = double.original_message(inter)
    assert message is not None and message["flags"] & FLAG_EPHEMERAL and message["type"] == 23


async def test_mention_gets_a_reply_and_content_needs_intent(double: DiscordDouble) -> None:
    bot = make_bot()
    seen: list[str] = []

    @bot.listen("on_message")
    async def on_message(message: discord.Message) -> None:
        seen.append(message.content)
        if bot.user is not None and bot.user in message.mentions:
            async with message.channel.typing():
                await message.reply(f"pong: {message.content}", mention_author=False)

    await double.start_client(bot)
    await double.dispatch("MESSAGE_CREATE", double.make_message("no mention here"))
    ping = double.make_message(f"{double.bot_mention} ping")
    await double.dispatch("MESSAGE_CREATE", ping)

    reply = await double.wait_for_request(
        method="POST", path=rf"/channels/{double.channel_id}/messages"
    )
    assert reply.json["content"] == f"pong: {double.bot_mention} ping"
    assert reply.json["message_reference"]["message_id"] == int(ping["id"])
    assert reply.json["allowed_mentions"]["replied_user"] is False
    assert reply.response["referenced_message"]["id"] == ping["id"]
    # default allowed mentions: the bot's own mention resolves, the replied-to author is not pinged
    assert [u["id"] for u in reply.response["mentions"]] == [str(double.bot_user_id)]
    assert seen[0] == ""  # no MESSAGE_CONTENT intent and not mentioned: redacted like Discord
    assert any(r.route == f"/channels/{double.channel_id}/typing" for r in double.requests)


async def test_autocomplete_returns_choices(double: DiscordDouble) -> None:
    bot = make_bot()

    @bot.tree.command(name="search", description="Search the corpus")
    async def search(interaction: discord.Interaction, query: str) -> None:
        await interaction.response.send_message(query)

    @search.autocomplete("query")
    async def complete(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return [
            app_commands.Choice(name=f"{current} {i}", value=f"{current}-{i}") for i in range(3)
        ]

    await double.start_client(bot)
    inter = double.make_autocomplete_interaction("search", {"query": "bm2"}, focused="query")
    await double.dispatch("INTERACTION_CREATE", inter)

    callback = await double.wait_for_interaction_response(inter)
    assert callback.json["type"] == 8
    assert callback.json["data"]["choices"] == [
        {"name": f"bm2 {i}", "value": f"bm2-{i}"} for i in range(3)
    ]


async def test_interaction_rules_late_and_double_acks(double: DiscordDouble) -> None:
    bot = make_bot()
    errors: list[int] = []

    @bot.tree.command(name="late", description="Answers too late")
    async def late(interaction: discord.Interaction) -> None:
        await asyncio.sleep(0.15)
        try:
            await interaction.response.send_message("too late")
        except discord.NotFound as exc:
            errors.append(exc.code)

    @bot.tree.command(name="twice", description="Answers twice")
    async def twice(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("one")
        try:
            await interaction.followup.send("")
        except discord.HTTPException as exc:
            errors.append(exc.code)

    await double.start_client(bot)
    twice_inter = double.make_slash_interaction("twice")
    await double.dispatch("INTERACTION_CREATE", twice_inter)
    await eventually(lambda: errors == [50006])  # an empty follow-up
    double.interaction_timeout = 0.05  # Discord's is 3 s
    late_inter = double.make_slash_interaction("late")
    await double.dispatch("INTERACTION_CREATE", late_inter)
    await eventually(lambda: errors == [50006, 10062])
    assert (await double.wait_for_interaction_response(late_inter)).status == 404

    url = f"{double.http_url}/api/v10/interactions/{twice_inter['id']}/{twice_inter['token']}"
    body = {"type": 4, "data": {"content": "two"}}
    async with (  # a second acknowledgement (discord.py itself guards against this)
        aiohttp.ClientSession() as session,
        session.post(f"{url}/callback", json=body) as response,
    ):
        assert response.status == 400
        assert (await response.json())["code"] == 40060


async def test_rest_limits_files_errors_and_injected_faults(double: DiscordDouble) -> None:
    client = discord.Client(intents=discord.Intents.none())
    await double.start_client(client)
    channel = client.get_channel(double.channel_id)
    assert channel is None  # no GUILDS intent: no GUILD_CREATE
    channel = await client.fetch_channel(double.channel_id)
    assert isinstance(channel, discord.TextChannel)

    with pytest.raises(discord.HTTPException) as too_long:
        await channel.send("x" * 2001)
    assert too_long.value.status == 400 and too_long.value.code == 50035
    assert "content" in too_long.value.text

    sent = await channel.send("with file", file=discord.File(io.BytesIO(b"abc"), "notes.txt"))
    upload = double.requests[-1]
    assert upload.json["content"] == "with file"
    assert [(f.filename, f.data) for f in upload.files] == [("notes.txt", b"abc")]
    assert sent.attachments[0].filename == "notes.txt" and sent.attachments[0].size == 3

    edited = await sent.edit(content="edited")
    assert edited.content == "edited" and double.messages[sent.id]["edited_timestamp"]
    await sent.delete()
    assert sent.id not in double.messages

    double.rate_limit_next("POST", r"/channels/\d+/messages", retry_after=0.01)
    start = len(double.requests)
    await channel.send("after a 429")
    assert [r.status for r in double.requests[start:]] == [429, 200]

    double.fail_next("GET", r"/users/\d+", status=503)
    with pytest.raises(discord.DiscordServerError):
        await client.fetch_user(int(double.user["id"]))

    with pytest.raises(discord.NotFound):
        await client.http.request(Route("GET", "/nowhere/{x}", x=1))
    assert [r.route for r in double.unmatched_requests] == ["/nowhere/1"]

    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{double.http_url}/api/v10/gateway") as response,
    ):
        assert response.headers["Content-Type"] == "application/json"  # exactly, for discord.py
        assert await response.json() == {"url": double.gateway_url}


async def test_resume_replays_events_missed_while_disconnected(double: DiscordDouble) -> None:
    bot = make_bot()
    resumed = asyncio.Event()
    contents: list[str] = []

    @bot.listen("on_resumed")
    async def on_resumed() -> None:
        resumed.set()

    @bot.listen("on_message")
    async def on_message(message: discord.Message) -> None:
        contents.append(message.content)

    await double.start_client(bot)
    await double.drop_connections()
    await double.dispatch("MESSAGE_CREATE", double.make_message(f"{double.bot_mention} while away"))
    await asyncio.wait_for(resumed.wait(), 5)
    (session,) = double.sessions
    assert session.resumes == 1 and session.connection is not None
    assert session.connection.path == "/gateway-resume"

    await double.request_reconnect()
    await double.dispatch("MESSAGE_CREATE", double.make_message(f"{double.bot_mention} after op 7"))
    await eventually(lambda: len(contents) == 2)
    assert contents == [f"{double.bot_mention} while away", f"{double.bot_mention} after op 7"]
    assert session.resumes == 2


async def test_command_sync_and_guild_commands() -> None:
    guild = GuildSpec(name="Second")
    async with DiscordDouble(guilds=[GuildSpec(), guild]) as double:
        bot = make_bot()

        @bot.tree.command(name="ask", description="Ask the corpus")
        async def ask(interaction: discord.Interaction, question: str) -> None:
            await interaction.response.send_message(f"Q: {question}")

        @bot.tree.command(name="local", description="Guild only")
        @app_commands.guilds(guild.id)
        async def local(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("local")

        await double.start_client(bot)
        assert len(bot.guilds) == 2
        synced = await bot.tree.sync()
        assert [c.name for c in synced] == ["ask"]
        guild_synced = await bot.tree.sync(guild=discord.Object(guild.id))
        assert [c.name for c in guild_synced] == ["local"]
        fetched = await bot.tree.fetch_commands()
        assert [(c.id, c.name) for c in fetched] == [(c.id, c.name) for c in synced]

        inter = double.make_slash_interaction("ask", {"question": "why?"})
        assert inter["data"]["id"] == str(synced[0].id)
        local_inter = double.make_slash_interaction(
            "local", command_guild_id=guild.id, guild_id=guild.id
        )
        for payload in (inter, local_inter):
            await double.dispatch("INTERACTION_CREATE", payload)
        assert (await double.wait_for_interaction_response(inter)).json["data"][
            "content"
        ] == "Q: why?"
        assert (await double.wait_for_interaction_response(local_inter)).json["data"][
            "content"
        ] == "local"


async def test_many_concurrent_interactions_are_acknowledged_in_time(double: DiscordDouble) -> None:
    bot = make_bot(sharded=True)

    @bot.tree.command(name="ask", description="Ask")
    async def ask(interaction: discord.Interaction, question: str) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.followup.send(f"A: {question}")

    await double.start_client(bot)
    payloads = [double.make_slash_interaction("ask", {"question": f"q{i}"}) for i in range(300)]
    await asyncio.gather(*(double.dispatch("INTERACTION_CREATE", p) for p in payloads))

    done = await double.wait_for_requests(600, path=r"/(interactions|webhooks)/.*", timeout=20)
    assert {r.status for r in done} == {200}
    assert all(double.original_message(p)["content"] == f"A: q{i}" for i, p in enumerate(payloads))  # type: ignore[index]


async def test_modal_round_trip(double: DiscordDouble) -> None:
    bot = make_bot()
    answers: list[str] = []

    class Feedback(discord.ui.Modal, title="Feedback"):
        comment: discord.ui.TextInput[Any] = discord.ui.TextInput(label="Comment", custom_id="c")

        async def on_submit(self, interaction: discord.Interaction) -> None:
            answers.append(self.comment.value)
            await interaction.response.send_message("thanks", ephemeral=True)

    @bot.tree.command(name="feedback", description="Send feedback")
    async def feedback(interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(Feedback(custom_id="feedback-modal"))

    await double.start_client(bot)
    inter = double.make_slash_interaction("feedback")
    await double.dispatch("INTERACTION_CREATE", inter)
    callback = await double.wait_for_interaction_response(inter)
    assert callback.json["type"] == 9 and callback.json["data"]["custom_id"] == "feedback-modal"

    submit = double.make_modal_submit_interaction("feedback-modal", {"c": "great bot"})
    await double.dispatch("INTERACTION_CREATE", submit)
    callback = await double.wait_for_interaction_response(submit)
    assert callback.json["type"] == 4 and answers == ["great bot"]


async def test_member_chunk_requests_are_answered(double: DiscordDouble) -> None:
    client = discord.Client(intents=discord.Intents(guilds=True, members=True))
    await double.start_client(client)
    guild = client.get_guild(double.guild.id)
    assert guild is not None and guild.chunked
    members = await guild.query_members("tes")
    assert [m.name for m in members] == ["tester"]
    frame = await double.wait_for_gateway_frame(8)
    assert frame["d"]["query"] == "tes"
