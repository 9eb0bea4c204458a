"""The services through the real bot: nothing CPU-heavy on the event loop, uploads bounded
per server and overall, settings reads that uploads cannot starve, following other processes."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.chat.client import VerbatimBot
from bot.chat.services import first_sentence
from bot.config import DiscordConfig
from bot.core.answers import AnswerSettings
from bot.core.corpus import default_corpus_dir, load_folder
from bot.core.index import IndexSettings, SearchIndex
from bot.core.library import CollectionSpec, Library
from bot.core.models import Document
from bot.core.segment import paragraphs, sentences
from bot.store import Store
from tests.chat.discord_double import DiscordDouble
from tests.chat.helpers import (
    LIGHTHOUSE,
    StallMeter,
    World,
    attachment_options,
    command,
    open_world,
    respond,
    two_servers,
    upload,
)

# The longest the event loop may stall while uploads are parsed and indexed. Stalls of a
# few milliseconds are the GIL's switch interval; work on the loop shows up as whole seconds.
MAX_STALL = 0.5


def big_text(chars: int) -> bytes:
    words = "the keeper logged storms tides lamps ships harbour night".split()
    paragraphs: list[str] = []
    n = size = 0
    while size < chars:
        sentence = " ".join(words[(n + i) % len(words)] for i in range(12))
        paragraphs.append(f"Entry {n}: {sentence.capitalize()} in {1800 + n % 200}.")
        size += len(paragraphs[-1]) + 2
        n += 1
    return "\n\n".join(paragraphs).encode()[:chars]


@pytest.fixture
async def busy_world(tmp_path: Path):
    a, b, member, editor_role = two_servers()
    library, store = await open_world(tmp_path, max_bytes=10 * 1024 * 1024)
    async with DiscordDouble(guilds=[a, b]) as double:
        bot = VerbatimBot(
            DiscordConfig(cooldown_seconds=0, upload_workers=2),
            library.answerer_for,
            library=library,
            store=store,
        )
        await double.start_client(bot)
        yield World(double, bot, library, store, a, b, member, editor_role)
        await double.stop_client(bot)
    store.close()


async def test_a_large_upload_never_stalls_the_event_loop(busy_world: World):
    w = busy_world
    data = big_text(2_000_000)
    async with StallMeter() as meter:
        reply = await upload(w, "ledger.txt", data, w.a, title="Ledger")
    assert reply["embeds"][0]["title"] == "Added: Ledger"
    assert meter.worst < MAX_STALL, f"the event loop stalled {meter.worst:.3f} s"


class Concurrency:
    """Wraps ``Library.add_upload`` to record how many uploads were parsed at once, overall
    and per server."""

    def __init__(self, library: Library) -> None:
        self._inner = library.add_upload
        self._lock = threading.Lock()
        self.now: dict[int, int] = {}
        self.most = 0
        self.most_per_server = 0
        library.add_upload = self  # type: ignore[method-assign]

    def __call__(self, guild_id: int, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            self.now[guild_id] = self.now.get(guild_id, 0) + 1
            self.most = max(self.most, sum(self.now.values()))
            self.most_per_server = max(self.most_per_server, self.now[guild_id])
        try:
            return self._inner(guild_id, *args, **kwargs)
        finally:
            with self._lock:
                self.now[guild_id] -= 1


async def test_eight_uploads_are_bounded_and_never_delay_a_question(busy_world: World):
    w = busy_world
    seen = Concurrency(w.library)
    uploads = []
    for n in range(8):
        guild = w.a if n % 2 else w.b
        text = big_text(100_000) + f"\n\nLog number {n}.".encode()  # the same text is refused
        opts = attachment_options(w.double, f"log-{n}.txt", text, title=f"Log {n}")
        inter = w.double.make_slash_interaction(
            "corpus add",
            opts["options"],
            resolved=opts["resolved"],
            guild_id=guild.id,
            user=guild.users[0],
        )
        uploads.append(inter)
    async with StallMeter() as meter:
        for inter in uploads:
            await w.double.dispatch("INTERACTION_CREATE", inter)
        await asyncio.sleep(0.5)  # parsers are running
        w.bot.services.settings.forget(w.b.id)  # a server whose settings are not cached
        started = time.perf_counter()
        ask, answer = await command(w, "ask", {"question": "Rotherham police"}, guild_id=w.b.id)
        answered_in = time.perf_counter() - started
        replies = [await respond(w.double, inter, timeout=120) for inter in uploads]
    record = w.double.interactions[int(ask["id"])]
    acknowledged_in = (record.responded_at or 0) - record.dispatched_at
    assert record.response_type == 5 and acknowledged_in < 1.0, acknowledged_in
    assert answered_in < 3.0, f"/ask took {answered_in:.2f} s while uploads were parsed"
    assert "Rotherham" in answer["embeds"][0]["description"]
    assert all(r["embeds"][0]["title"].startswith("Added: Log") for r in replies)
    assert seen.most <= 2 and seen.most_per_server == 1  # unbounded: up to 6 at once
    assert meter.worst < MAX_STALL, f"the event loop stalled {meter.worst:.3f} s"


async def test_another_process_picks_up_changes_from_the_audit_log(world: World, tmp_path):
    """Two shard processes share the SQLite database: what one changes, the other serves
    after following the audit log (with PostgreSQL, announced: tests/chat/test_shards_e2e.py)."""
    w = world
    other_store = Store(tmp_path / "verbatim.sqlite3")
    other_library = Library(
        [CollectionSpec(name="default")], other_store, IndexSettings(), AnswerSettings()
    )
    await asyncio.to_thread(other_library.load)
    other = VerbatimBot(
        DiscordConfig(follow_changes_seconds=0),
        other_library.answerer_for,
        library=other_library,
        store=other_store,
    )
    await other.setup_hook()
    assert await other.services.results(w.a.id) == 3  # cached before the change
    await upload(w, "log.txt", LIGHTHOUSE, w.a, title="Lighthouse log")
    await command(w, "settings set", {"key": "results", "value": "2"}, guild_id=w.a.id)
    assert not other_library.answerer_for(w.a.id).answer("lighthouse storms").answered
    assert await other.services.results(w.a.id) == 3  # stale until the log is followed
    await other.services.follow_changes_once()
    assert other_library.answerer_for(w.a.id).answer("lighthouse storms").answered
    cached = other.services.settings.cached(w.a.id)  # read again already: no command waits
    assert cached is not None and cached.results == 2
    assert await other.services.results(w.a.id) == 2
    other_store.close()  # ("other" never connected, so there is nothing else to close)


class _Pending:
    """An interaction as the acknowledgements see it: an id, extras, and whether its
    response is done."""

    def __init__(self, n: int) -> None:
        self.id, self.extras, self.done = n, {}, False
        self.response = self

    def is_done(self) -> bool:
        return self.done


async def test_answers_wait_for_earlier_interactions_acknowledgements():
    from bot.chat.services import Acknowledgements

    acks = Acknowledgements()
    first, second, third = _Pending(1), _Pending(2), _Pending(3)
    acks.arrived(first)
    at = acks.arrived(second)
    acks.arrived(third)  # arrived later: never waited for
    second.done = True
    waiting = asyncio.create_task(acks.before(at))
    await asyncio.sleep(0.05)
    assert not waiting.done()  # the first is not acknowledged yet
    first.done = True
    await asyncio.wait_for(waiting, 1)
    assert second.extras["arrived"] == at
    acks.DEADLINE = 0.1  # Discord gives up on an interaction after 3 s: so does the wait
    await asyncio.wait_for(acks.before(time.monotonic()), 1)
    acks.close()


_WORD = st.sampled_from(["Mr.", "Smith", "said", "it", "1,400", "children", "in", "2014", "e.g."])
_SENTENCE = st.lists(_WORD, min_size=1, max_size=8).map(lambda ws: " ".join(ws) + ".")
_TEXT = st.lists(
    st.lists(_SENTENCE, min_size=1, max_size=6).map(" ".join), min_size=1, max_size=5
).map("\n\n".join)


@settings(max_examples=50, deadline=None)
@given(_TEXT)
def test_the_added_replys_sample_is_the_first_sentence_of_20_characters(text):
    doc = Document(id="d", collection="server-1", text=text)
    index = SearchIndex.join(
        [
            SearchIndex.build(load_folder(default_corpus_dir()).documents[:1]),
            SearchIndex.build([doc]),
        ]
    )
    expected = next(
        (
            (s, e, para.paragraph)
            for para in paragraphs(text)
            for s, e in sentences(text, para.start, para.end)
            if e - s >= 20
        ),
        None,
    )
    sample = first_sentence(index, "d")
    got = None if sample is None else (sample.start, sample.end, sample.paragraph)
    assert got == expected
