"""Corpus administration through the real bot and the Discord API double: who may change
what, servers never seeing each other's documents, uploads, removal, caps and audit."""

from __future__ import annotations

import pytest

from bot.chat import render
from bot.chat.gate import NOT_ALLOWED
from bot.chat.services import SERVER_FULL, TOO_BIG, size
from tests.chat.helpers import LIGHTHOUSE, World, ask_in, command, custom_ids, press, upload


async def test_admin_upload_is_indexed_and_quotable_in_its_server_only(world: World):
    w = world
    reply = await upload(w, "log.txt", LIGHTHOUSE, w.a, title="Lighthouse log")
    embed = reply["embeds"][0]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert embed["title"] == "Added: Lighthouse log"
    assert fields["id"] == "`lighthouse-log`" and fields["passages"] == "1"
    assert "The lighthouse keeper logged 312 storms in 1911." in render.plain(
        fields["sample quote"]
    )
    assert "The lighthouse keeper logged 312 storms" in await ask_in(w, "lighthouse storms", w.a)
    # server B: never quotes A's document, cannot see it, cannot remove it
    assert (await ask_in(w, "lighthouse storms", w.b)).startswith(render.NO_ANSWER)
    _, listing = await command(w, "corpus list", guild_id=w.b.id, user=w.b.users[0])
    assert "lighthouse" not in listing["embeds"][0]["description"]
    _, info = await command(w, "source", {"id": "lighthouse-log"}, guild_id=w.b.id)
    assert "no document" in info["content"]
    _, removal = await command(
        w, "corpus remove", {"id": "lighthouse-log"}, guild_id=w.b.id, user=w.b.users[0]
    )
    assert "no document" in removal["content"]
    assert w.library.answerer_for(w.a.id).index.by_id["lighthouse-log"]
    audit = w.store.audit(w.a.id)
    assert [e.action for e in audit] == ["corpus.add"]
    assert audit[0].doc_id == "lighthouse-log" and audit[0].user_id == int(w.a.users[0]["id"])
    assert audit[0].sha256 and len(audit[0].sha256) == 64


async def test_member_without_rights_is_refused_and_nothing_is_stored(world: World, tmp_path):
    w = world
    reply = await upload(w, "log.txt", LIGHTHOUSE, w.a, user=w.member)
    assert reply["content"] == NOT_ALLOWED
    assert w.store.documents(w.a.id) == []
    _, settings = await command(
        w, "settings set", {"key": "results", "value": "5"}, guild_id=w.a.id, user=w.member
    )
    assert settings["content"] == NOT_ALLOWED
    assert w.store.settings(w.a.id).results is None


async def test_bad_uploads_are_refused_clearly(world: World, tmp_path):
    w = world
    too_big = await upload(w, "big.txt", b"x " * 40_000, w.a)
    assert too_big["content"].startswith("That file is")
    wrong = await upload(w, "tool.exe", b"MZ\x90\x00", w.a)
    assert "unsupported file type" in render.unescape(wrong["content"])
    broken = await upload(w, "report.pdf", b"%PDF-1.4\nnot really", w.a)
    assert render.unescape(broken["content"]).startswith("Not added:")
    hostile = await upload(w, "../../../etc/passwd.txt", b"Harbour records from 1850.", w.a)
    assert hostile["embeds"][0]["fields"][0]["value"] == "`passwd`"
    assert not list(tmp_path.rglob("*.md"))  # no upload ever names a file
    assert [d.id for d in w.store.documents(w.a.id)] == ["passwd"]


async def test_remove_asks_for_confirmation(world: World):
    w = world
    await upload(w, "log.txt", LIGHTHOUSE, w.a, title="Lighthouse log")
    inter, reply = await command(w, "corpus remove", {"id": "lighthouse-log"}, guild_id=w.a.id)
    assert "Remove `lighthouse-log`" in reply["content"]
    message = w.double.original_message(inter)
    owner = w.a.users[0]["id"]
    assert custom_ids(reply) == [f"vb:rm:{owner}:lighthouse-log", f"vb:rmno:{owner}"]
    # a member without rights pressing it is told so, and nothing is removed
    _, refused = await press(
        w.double, f"vb:rm:{owner}:lighthouse-log", message, guild_id=w.a.id, user=w.member
    )
    assert refused.json["data"]["content"] == NOT_ALLOWED
    pressed, ack = await press(w.double, f"vb:rm:{owner}:lighthouse-log", message, guild_id=w.a.id)
    assert ack.json["type"] == 7  # answered (buttons gone) before the index is rebuilt
    assert ack.json["data"]["content"] == "Removing `lighthouse-log`…"
    assert ack.json["data"]["components"] == []
    done = await w.double.wait_for_request(
        lambda r: r.params.get("token") == pressed["token"], method="PATCH", timeout=30
    )
    assert done.json["content"] == "Removed `lighthouse-log`."
    assert (await ask_in(w, "lighthouse storms", w.a)).startswith(render.NO_ANSWER)
    assert [e.action for e in w.store.audit(w.a.id)] == ["corpus.remove", "corpus.add"]


async def test_stats_and_reload(world: World):
    w = world
    await upload(w, "log.txt", LIGHTHOUSE, w.a, title="Lighthouse log")
    _, stats = await command(w, "corpus stats", guild_id=w.a.id)
    fields = {f["name"]: f["value"] for f in stats["embeds"][0]["fields"]}
    assert fields["documents"] == "3" and "corpus.add lighthouse-log" in fields["last change"]
    _, reloaded = await command(w, "corpus reload", guild_id=w.a.id)
    assert reloaded["content"].startswith("Reloaded: 1 documents.")


async def test_a_download_is_cut_off_past_the_limit_whatever_size_was_declared(world: World):
    w = world
    served = b"Harbour records. " * (15 * 1024 * 1024 // 17)  # 15 MiB, declared as 1 KB
    reply = await upload(w, "records.txt", served, w.a, declared=1024)
    assert reply["content"] == TOO_BIG.format(limit=size(w.library.limits.max_bytes))
    assert not w.library.collection("server-" + str(w.a.id))
    assert w.store.audit(w.a.id) == []


async def test_a_server_collection_has_caps_on_documents_and_bytes(world: World):
    w = world
    w.bot.services.config.server_max_documents = 1
    assert (await upload(w, "log.txt", LIGHTHOUSE, w.a))["embeds"]
    full = await upload(w, "more.txt", b"Tide tables for the harbour, 1911.", w.a)
    assert full["content"] == SERVER_FULL.format(what="1 documents")
    w.bot.services.config.server_max_documents = 10
    w.bot.services.config.server_max_bytes = len(LIGHTHOUSE) + 10
    over = await upload(w, "more.txt", b"Tide tables for the harbour, 1911. " * 5, w.a)
    assert over["content"].startswith("This server's collection is full")
    assert [d.id for d in w.bot.services.own_documents(w.a.id)] == ["log"]
    assert [e.action for e in w.store.audit(w.a.id)] == ["corpus.add"]


@pytest.mark.parametrize(
    "name, options",
    [
        ("corpus stats", None),
        ("corpus list", None),
        ("corpus reload", None),
        ("corpus remove", {"id": "log"}),
        ("settings show", None),
    ],
)
async def test_every_admin_command_checks_rights_itself(world: World, name, options):
    """Discord's default permissions can be loosened by a server: the bot checks anyway."""
    w = world
    _, reply = await command(w, name, options, guild_id=w.a.id, user=w.member)
    assert reply["content"] == NOT_ALLOWED


async def test_cancel_is_for_the_admin_who_asked(world: World):
    w = world
    await upload(w, "log.txt", LIGHTHOUSE, w.a)
    inter, _ = await command(w, "corpus remove", {"id": "log"}, guild_id=w.a.id)
    message = w.double.original_message(inter)
    owner = w.a.users[0]["id"]
    _, cancelled = await press(w.double, f"vb:rmno:{owner}", message, guild_id=w.a.id)
    assert cancelled.json["type"] == 7
    assert cancelled.json["data"]["content"] == "Nothing was removed."
    assert [d.id for d in w.bot.services.own_documents(w.a.id)] == ["log"]


PAGE = b"""<html><head><title>Harbour report</title></head><body>
<nav><a href="/">Home</a> <a href="/news">News</a></nav>
<article><h1>Harbour report</h1>
<p>The harbour master counted 418 herring boats during the winter of 1911.</p></article>
<footer>Copyright the Gazette</footer></body></html>"""


async def test_a_web_page_is_added_by_url_and_quoted_with_its_link(world: World):
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(PAGE)))
            self.end_headers()
            self.wfile.write(PAGE)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_port}/harbour"
    try:
        # loopback is refused by default (a private address)
        _, refused = await command(w := world, "corpus add", {"url": url}, guild_id=w.a.id)
        assert "Not added" in str(refused) and not w.store.documents(w.a.id)
        w.library.limits = w.library.limits.model_copy(update={"allow_loopback": True})
        _, added = await command(w, "corpus add", {"url": url}, guild_id=w.a.id)
        assert "harbour-report" in str(added)
    finally:
        httpd.shutdown()
    (doc,) = w.store.documents(w.a.id)
    assert str(doc.meta.url) == url and doc.meta.retrieved is not None
    assert "Home" not in doc.text  # navigation is not the document
    answer = await ask_in(w, "How many herring boats did the harbour master count?", w.a)
    assert "418 herring boats" in answer
    assert "418 herring boats" not in await ask_in(w, "How many herring boats?", w.b)


async def test_add_without_a_file_or_a_url_says_what_it_needs(world: World):
    _, reply = await command(world, "corpus add", {"title": "Nothing"}, guild_id=world.a.id)
    assert "Attach a file, or give the url of a web page to add." in str(reply)


async def test_an_upload_is_analysed_by_its_parser_process_not_the_bots(world: World, monkeypatch):
    import bot.core.index as index_module

    def refuse(*args, **kwargs):
        raise AssertionError("an upload was analysed in the bot's process")

    monkeypatch.setattr(index_module, "analyse", refuse)
    w = world
    reply = await upload(w, "log.txt", LIGHTHOUSE, w.a, title="Lighthouse log")
    assert reply["embeds"][0]["title"] == "Added: Lighthouse log"
    more = b"Harbour records from 1850 name every ship that called at the port."
    reply = await upload(w, "ships.txt", more, w.a, title="Ships")
    assert reply["embeds"][0]["title"] == "Added: Ships"
    assert "The lighthouse keeper logged 312 storms" in await ask_in(w, "lighthouse storms", w.a)
    assert "name every ship" in await ask_in(w, "harbour records ships", w.a)
