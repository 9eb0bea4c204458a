"""Storage backends side by side: SQLite (the default) and PostgreSQL (a throwaway server,
durable settings, on this machine, as tests/postgres.py starts it). With 1,000 servers x 20
documents stored, for each backend:

- add: one document committed with its audit row (and, PostgreSQL, its NOTIFY);
- propagate: from that commit until another process's library serves the document (a second
  store with its own connections, following changes as the bot does: LISTEN/NOTIFY, or the
  SQLite poll; that library already serves the server, as it would since its start), and
  until it serves it with contextual vectors (encoded in the background since they exist);
- rebuild: a server's documents read from the database, then its index built;
- first start (SQLite only): a library with no index cache reading the default corpus and
  ``--start-servers`` of these servers, until every one answers, and until every one answers
  with contextual vectors, and the longest the library's write lock (which every change
  takes) was held meanwhile (``--first-start-only`` measures just this).

Run from the repository root (needs PostgreSQL's server binaries, as the tests do):

    python benchmarks/storage.py [--servers 1000] [--docs 20] [--samples 20]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.core import encoder
from bot.core.answers import AnswerSettings
from bot.core.collection import server_collection
from bot.core.index import IndexSettings, load_or_build
from bot.core.library import CollectionSpec, Library
from bot.core.models import Document
from bot.store import Store
from bot.store.store import insert_audit, insert_document
from tests.postgres import running_cluster

SQLITE_POLL = 1.0  # seconds (the config's default follow_changes_seconds is 5)


def make_doc(rng: random.Random, words: list[str], guild: int, n: int) -> Document:
    paragraphs = [" ".join(rng.choices(words, k=rng.randint(40, 80))) + "." for _ in range(4)]
    return Document(
        id=f"doc-{n}", collection=server_collection(guild), text="\n\n".join(paragraphs)
    )


def seed(store: Store, servers: int, docs: int) -> None:
    rng = random.Random(5)
    words = [f"w{i}" for i in range(20_000)]
    for first in range(1, servers + 1, 100):
        with store.backend.transaction() as tx:
            for guild in range(first, min(first + 100, servers + 1)):
                for n in range(docs):
                    doc = make_doc(rng, words, guild, n)
                    insert_document(tx, guild, None, doc)
                    insert_audit(tx, "corpus.add", guild, None, doc_id=doc.id, sha256=doc.sha256)


def ms(values: list[float]) -> str:
    p90 = sorted(values)[max(0, int(len(values) * 0.9) - 1)]
    return f"{statistics.median(values) * 1000:8.1f} ms (p90 {p90 * 1000:.1f})"


async def measure(target: Path | str, servers: int, docs: int, samples: int) -> dict[str, str]:
    encoder.forget()  # each backend's builds start cold: the same texts were encoded before
    results: dict[str, str] = {}
    started = time.perf_counter()
    with Store(target) as writer:
        seed(writer, servers, docs)
        results["seed"] = f"{time.perf_counter() - started:8.1f} s"
    writer = Store(target)
    follower_store = Store(target)
    follower = Library([], follower_store, IndexSettings(), AnswerSettings())
    rng = random.Random(9)
    words = [f"w{i}" for i in range(20_000)]
    seen = follower_store.latest_audit_id()
    arrived: dict[tuple[int, str], float] = {}
    lock = threading.Lock()

    async def follow() -> None:  # what VerbatimBot._follow_changes does
        nonlocal seen
        async for _ in follower_store.changes(SQLITE_POLL):
            entries = await asyncio.to_thread(follower_store.audit_since, seen)
            for entry in entries:
                seen = entry.id
                if entry.guild_id is not None and entry.action.startswith("corpus."):
                    await asyncio.to_thread(follower.reload_server, entry.guild_id)
                    with lock:
                        arrived.setdefault(
                            (entry.guild_id, entry.doc_id or ""), time.perf_counter()
                        )

    task = asyncio.create_task(follow())
    await asyncio.sleep(0.5)
    adds, propagations, encoded = [], [], []
    for i in range(samples):
        guild = rng.randint(1, servers)
        doc = make_doc(rng, words, guild, 1000 + i)
        # the follower serves the server already, as after its start (untimed): it then
        # rebuilds the server's segment from the analyses it holds and the new document's
        await asyncio.to_thread(follower.reload_server, guild)
        await contextual(follower, [guild])  # (its documents encoded, if in the background)
        await asyncio.sleep(rng.uniform(0, SQLITE_POLL))  # changes come at random moments
        t0 = time.perf_counter()
        await asyncio.to_thread(writer.add_document, guild, 1, doc)
        t1 = time.perf_counter()
        adds.append(t1 - t0)
        while (guild, doc.id) not in arrived:
            await asyncio.sleep(0.001)
        assert doc.id in follower.answerer_for(guild).index.by_id
        propagations.append(arrived[(guild, doc.id)] - t0)
        await contextual(follower, [guild])
        encoded.append(time.perf_counter() - t0)
    task.cancel()
    results["add"] = ms(adds)
    results["propagate"] = ms(propagations)
    results["encoded"] = ms(encoded)

    reads, builds = [], []
    for guild in rng.sample(range(1, servers + 1), samples):
        t0 = time.perf_counter()
        stored = writer.documents(guild)
        t1 = time.perf_counter()
        load_or_build(stored, IndexSettings(), None)
        t2 = time.perf_counter()
        reads.append(t1 - t0)
        builds.append(t2 - t1)
    results["read"] = ms(reads)
    results["build"] = ms(builds)
    results["rebuild"] = ms([r + b for r, b in zip(reads, builds, strict=True)])
    writer.close()
    follower_store.close()
    return results


async def contextual(library: Library, guilds: list[int]) -> None:
    """Return once every one of these servers is answered with contextual vectors."""
    while not all(library.answerer_for(g).contextual for g in guilds):
        await asyncio.sleep(0.001)


class TimedLock:
    """A lock that records how long each hold lasted: how long a change could wait."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.holds: list[float] = []

    def __enter__(self) -> None:
        self._lock.acquire()
        self._since = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.holds.append(time.perf_counter() - self._since)
        self._lock.release()


async def first_start(target: Path, servers: int, docs: int) -> dict[str, str]:
    """A library's first start (no index cache) over the default corpus and ``servers``
    stored servers: seconds until every server answers, and until every one answers with
    contextual vectors; and the longest the library's write lock was held meanwhile (a
    change waits that long: the operator's segment, once encoded, is taken into every
    server's view under it)."""
    encoder.forget()
    with Store(target) as store:
        seed(store, servers, docs)
        library = Library(
            [CollectionSpec(name="default")], store, IndexSettings(), AnswerSettings()
        )
        lock = TimedLock()
        library._write = lock  # type: ignore[assignment]
        t0 = time.perf_counter()
        await asyncio.to_thread(library.load)
        t1 = time.perf_counter()
        lock.holds.clear()  # (the load itself: nothing is served before it)
        await contextual(library, list(range(1, servers + 1)))
        t2 = time.perf_counter()
        library.close()
    return {
        "start": f"{t1 - t0:8.1f} s",
        "start_encoded": f"{t2 - t0:8.1f} s",
        "longest_hold": f"{max(lock.holds, default=0.0):.2f} s",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=1000)
    parser.add_argument("--docs", type=int, default=20)
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--start-servers", type=int, default=50)
    parser.add_argument("--first-start-only", action="store_true")
    args = parser.parse_args()
    if args.first_start_only:
        with tempfile.TemporaryDirectory() as tmp:
            start = asyncio.run(first_start(Path(tmp) / "s.sqlite3", args.start_servers, args.docs))
        print(first_start_line(args.start_servers, start))
        return
    with tempfile.TemporaryDirectory() as tmp, running_cluster(durable=True) as cluster:
        start = asyncio.run(first_start(Path(tmp) / "s.sqlite3", args.start_servers, args.docs))
        sqlite = asyncio.run(
            measure(Path(tmp) / "v.sqlite3", args.servers, args.docs, args.samples)
        )
        postgres = asyncio.run(
            measure(cluster.new_database(), args.servers, args.docs, args.samples)
        )
    rows = [
        ("seed (servers x docs, untimed setup)", "seed"),
        ("add a document (+ audit row)", "add"),
        ("propagate to another process", "propagate"),
        ("  ... until served with contextual vectors", "encoded"),
        ("rebuild a server: read documents", "read"),
        ("rebuild a server: build its index", "build"),
        ("rebuild a server: total", "rebuild"),
    ]
    print(
        f"{args.servers:,} servers x {args.docs} documents stored; medians of {args.samples} "
        f"samples (p90); SQLite follows by polling every {SQLITE_POLL:g} s"
    )
    print(f"{'':40} {'SQLite':>28} {'PostgreSQL':>28}")
    for label, key in rows:
        print(f"{label:40} {sqlite[key]:>28} {postgres[key]:>28}")
    print(first_start_line(args.start_servers, start))


def first_start_line(servers: int, start: dict[str, str]) -> str:
    return (
        f"first start, no index cache, the default corpus and {servers} servers (SQLite): "
        f"every server answers after {start['start'].strip()}, with contextual vectors after "
        f"{start['start_encoded'].strip()}; the write lock held at most "
        f"{start['longest_hold']} at a time meanwhile"
    )


if __name__ == "__main__":
    main()
