"""Server settings through the real bot and the Discord API double."""

from __future__ import annotations

from tests.chat.helpers import LIGHTHOUSE, World, command, upload


async def test_a_configured_admin_role_may_change_the_corpus(world: World):
    w = world
    _, reply = await command(
        w,
        "settings set",
        {"key": "admin_roles", "value": f"<@&{w.editor_role}>"},
        guild_id=w.a.id,
    )
    assert reply["content"] == f"`admin_roles` = {w.editor_role}"
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


async def test_many_channels_and_long_values_fit_discords_limits(world: World):
    w = world
    channels = [w.a.channel_id + n for n in range(190)]
    typed = " ".join(f"<#{c}>" for c in channels)
    _, reply = await command(
        w, "settings set", {"key": "allowed_channels", "value": typed}, guild_id=w.a.id
    )
    assert reply["content"].startswith(f"`allowed_channels` = {channels[0]}, {channels[1]}")
    assert reply["content"].endswith("more") and len(reply["content"]) <= 2000
    await command(w, "settings set", {"key": "admin_roles", "value": typed}, guild_id=w.a.id)
    _, shown = await command(w, "settings show", guild_id=w.a.id)
    text = shown["embeds"][0]["description"]
    assert len(text) <= 4096 and f"`allowed_channels` = {channels[0]}" in text
    rejected = "x" * 3000
    _, bad = await command(
        w, "settings set", {"key": "results", "value": rejected}, guild_id=w.a.id
    )
    assert bad["content"].startswith("results:") and len(bad["content"]) <= 2000
    assert not w.double.unmatched_requests
    assert all(r.status < 400 for r in w.double.requests)
