"""What the extensions work with, each job on its own pool so one kind of work cannot starve
another: searches on ``search_threads`` threads, server settings and the audit log on one
thread of their own, uploads on ``upload_workers`` threads (each waiting on a parser process),
at most one upload per server at a time. Nothing here knows about cogs.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp

from bot.chat.gate import Gate, UserError
from bot.chat.logs import log_event
from bot.config import DiscordConfig
from bot.core.answers import Answerer
from bot.core.index import SearchIndex
from bot.core.library import Library, server_collection
from bot.core.models import Answer, Document, Quote
from bot.store import AuditEntry, GuildSettings, Store

log = logging.getLogger(__name__)
T = TypeVar("T")

TOO_BIG = "That file is over the {limit} limit."
NOTHING_TO_ADD = "Attach a file, or give the url of a web page to add."
SERVER_FULL = "This server's collection is full ({what}); remove a document first."
NO_LIBRARY = "This bot has no data folder for server collections."


def size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{n / 1024:.0f} KB"


@dataclass(frozen=True)
class Added:
    """A stored upload and what its "Added" reply shows, all computed off the event loop."""

    doc: Document
    passages: int
    sample: Quote | None


class Settings:
    """Servers' own settings, read on a thread of their own and cached; warmed when a server
    becomes available, so answering a command never waits for the database."""

    def __init__(self, store: Store | None, pool: ThreadPoolExecutor) -> None:
        self.store = store
        self._pool = pool
        self._cache: dict[int, GuildSettings] = {}

    def cached(self, guild_id: int | None) -> GuildSettings | None:
        """A server's settings if they need no read, else None."""
        if guild_id is None or self.store is None:
            return GuildSettings()
        return self._cache.get(guild_id)

    async def get(self, guild_id: int | None) -> GuildSettings:
        cached = self.cached(guild_id)
        if cached is None:
            assert guild_id is not None and self.store is not None
            loop = asyncio.get_running_loop()
            cached = await loop.run_in_executor(self._pool, self.store.settings, guild_id)
            self._cache[guild_id] = cached
        return cached

    def keep(self, guild_id: int, settings: GuildSettings) -> None:
        """Cache settings just written, so the next command finds them without a read."""
        self._cache[guild_id] = settings

    def forget(self, guild_id: int | None) -> None:
        if guild_id is not None:
            self._cache.pop(guild_id, None)


class Acknowledgements:
    """Interactions Discord is waiting to see acknowledged (within 3 s). Work that can wait
    (a search and its answer) first waits until every interaction that arrived before its own
    is acknowledged, so a burst of questions is acknowledged first and answered after, and
    a steady stream cannot hold an answer back longer than the acknowledgements before it."""

    DEADLINE = 3.0  # after this Discord has given up on an interaction: stop waiting for it
    POLL = 0.005

    def __init__(self) -> None:
        self._pending: dict[int, tuple[float, Any]] = {}  # in arrival order
        self._waiters: list[tuple[float, int, asyncio.Future[None]]] = []
        self._watch: asyncio.Task[None] | None = None

    def arrived(self, interaction: Any) -> float:
        """Note an interaction as it arrives (before any of its work runs); returns the
        arrival time, also kept in ``interaction.extras["arrived"]``."""
        now = time.monotonic()
        interaction.extras["arrived"] = now
        self._pending[interaction.id] = (now, interaction)
        if self._watch is None or self._watch.done():
            self._watch = asyncio.get_running_loop().create_task(self._follow())
        return now

    async def before(self, arrived: float) -> None:
        """Return once no interaction that arrived at or before ``arrived`` waits for its
        acknowledgement."""
        if self._oldest() > arrived:
            return
        future = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (arrived, id(future), future))
        await future

    def _oldest(self) -> float:
        return next(iter(self._pending.values()))[0] if self._pending else float("inf")

    async def _follow(self) -> None:
        while self._pending or self._waiters:
            now = time.monotonic()
            for key, (at, interaction) in list(self._pending.items()):
                if interaction.response.is_done() or now - at > self.DEADLINE:
                    del self._pending[key]
            oldest = self._oldest()
            while self._waiters and self._waiters[0][0] < oldest:
                future = heapq.heappop(self._waiters)[2]
                if not future.done():
                    future.set_result(None)
            if self._pending or self._waiters:
                await asyncio.sleep(self.POLL)

    def close(self) -> None:
        if self._watch is not None:
            self._watch.cancel()


class Services:
    """The bot's services: answering, settings, audit, uploads and downloads."""

    def __init__(
        self,
        config: DiscordConfig,
        answerer_for: Callable[[int | None], Answerer],
        library: Library | None = None,
        store: Store | None = None,
    ) -> None:
        self.config = config
        self._answerer_for = answerer_for
        self.library = library
        self.store = store
        self.gate = Gate(config)
        self.acks = Acknowledgements()
        # Search is CPU-bound: more threads than cores would only fight the event loop for
        # the GIL, so questions queue for a small pool of their own.
        self._search = ThreadPoolExecutor(config.search_threads, thread_name_prefix="search")
        self._db = ThreadPoolExecutor(1, thread_name_prefix="settings")
        self._uploads = ThreadPoolExecutor(config.upload_workers, thread_name_prefix="upload")
        self._upload_slots = asyncio.Semaphore(config.upload_workers)
        self._server_locks: dict[int, asyncio.Lock] = {}
        self.settings = Settings(store, self._db)
        self._http: aiohttp.ClientSession | None = None
        self.seen_audit = 0

    def answerer_for(self, guild_id: int | None) -> Answerer:
        """The answerer for a server (its collections); read fresh on every use, so a corpus
        swap takes effect at once."""
        return self._answerer_for(guild_id)

    async def results(self, guild_id: int | None) -> int:
        return (await self.settings.get(guild_id)).results or self.config.results

    async def public_by_default(self, guild_id: int | None) -> bool:
        own = (await self.settings.get(guild_id)).public_by_default
        return self.config.public_by_default if own is None else own

    async def ask(
        self,
        question: str,
        show: Callable[[Answer, list[list[tuple[int, int]]]], T],
        *,
        guild_id: int | None,
        user_id: int,
        k: int,
        via: str,
        arrived: float | None = None,
    ) -> tuple[Answer, T]:
        """Answer on the search pool, and there too ``show`` it (with each quote's matched
        words), so the event loop only sends; log the outcome (not the question, unless
        asked to). Waits first for the acknowledgements of interactions that arrived before
        ``arrived`` (when the question came; default now)."""
        started = time.perf_counter()
        await self.acks.before(time.monotonic() if arrived is None else arrived)
        answerer = self.answerer_for(guild_id)

        def work() -> tuple[Answer, T]:
            answer = answerer.answer(question, k)
            return answer, show(answer, [answerer.highlights(c.quote) for c in answer.results])

        loop = asyncio.get_running_loop()
        answer, shown = await loop.run_in_executor(self._search, work)
        log_event(
            "answer",
            via=via,
            guild=guild_id,
            user=user_id,
            answered=answer.answered,
            quotes=len(answer.results),
            search_ms=round(answer.timings.search_ms, 3),
            total_ms=round((time.perf_counter() - started) * 1000, 3),
            question=question if self.config.log_questions else None,
        )
        return answer, shown

    # -- the database (its own thread) -------------------------------------------------

    async def db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._db, lambda: fn(*args, **kwargs))

    def require_store(self) -> Store:
        if self.store is None or self.library is None:
            raise UserError(NO_LIBRARY)
        return self.store

    def require_library(self) -> Library:
        self.require_store()
        assert self.library is not None
        return self.library

    async def record(
        self,
        action: str,
        *,
        guild_id: int,
        user_id: int,
        doc: Document | None = None,
        detail: str | None = None,
    ) -> None:
        await self.db(
            self.require_store().record,
            action,
            guild_id=guild_id,
            user_id=user_id,
            collection=server_collection(guild_id),
            doc_id=doc.id if doc else None,
            sha256=doc.sha256 if doc else None,
            detail=detail,
        )

    async def last_change(self, guild_id: int) -> AuditEntry | None:
        entries = await self.db(self.require_store().audit, guild_id, 1)
        return entries[0] if entries else None

    # -- uploads (their own threads, bounded per server and overall) -------------------

    def own_documents(self, guild_id: int) -> tuple[Document, ...]:
        own = self.require_library().collection(server_collection(guild_id))
        return own.documents if own else ()

    async def download(self, url: str, limit: int) -> bytes:
        """The attachment at ``url``, read in chunks and abandoned past ``limit`` bytes
        whatever size it declared."""
        if self._http is None:
            self._http = aiohttp.ClientSession()
        chunks: list[bytes] = []
        got = 0
        async with self._http.get(url) as response:
            response.raise_for_status()
            async for chunk in response.content.iter_chunked(64 * 1024):
                got += len(chunk)
                if got > limit:
                    raise UserError(TOO_BIG.format(limit=size(limit)))
                chunks.append(chunk)
        return b"".join(chunks)

    async def add_upload(
        self,
        guild_id: int,
        filename: str,
        url: str,
        overrides: dict[str, Any],
        user_id: int | None = None,
    ) -> Added:
        """Download, parse and store an upload, within the server's caps; the slow parts run
        on the upload threads, one upload per server at a time and ``upload_workers`` overall."""
        library = self.require_library()
        lock = self._server_locks.setdefault(guild_id, asyncio.Lock())
        async with lock, self._upload_slots:
            loop = asyncio.get_running_loop()  # (measuring the collection reads all its text)
            await loop.run_in_executor(self._uploads, self._check_room, guild_id, 1)
            data = await self.download(url, library.limits.max_bytes)

            def add(check: Callable[[Sequence[Document]], None]) -> Document:
                return library.add_upload(guild_id, filename, data, overrides, user_id, check)

            return await loop.run_in_executor(self._uploads, self._store, add, guild_id)

    async def add_url(
        self, guild_id: int, url: str, overrides: dict[str, Any], user_id: int | None = None
    ) -> Added:
        """Fetch, parse and store a web page, within the server's caps, as :meth:`add_upload`
        does an attachment."""
        library = self.require_library()
        lock = self._server_locks.setdefault(guild_id, asyncio.Lock())
        async with lock, self._upload_slots:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._uploads, self._check_room, guild_id, 1)

            def add(check: Callable[[Sequence[Document]], None]) -> Document:
                return library.add_url(guild_id, url, overrides, user_id, check)

            return await loop.run_in_executor(self._uploads, self._store, add, guild_id)

    def _check_room(self, guild_id: int, new_documents: int = 0) -> None:
        """Raise when the server's own documents (plus ``new_documents``) pass its caps."""
        self._check_documents(self.own_documents(guild_id), new_documents)

    def _check_documents(self, docs: Sequence[Document], new_documents: int = 0) -> None:
        if len(docs) + new_documents > self.config.server_max_documents:
            raise UserError(SERVER_FULL.format(what=f"{len(docs)} documents"))
        used = sum(len(d.text.encode()) for d in docs)
        if used > self.config.server_max_bytes:
            limit = size(self.config.server_max_bytes)
            raise UserError(SERVER_FULL.format(what=f"{size(used)} of {limit}"))

    def _store(
        self, add: Callable[[Callable[[Sequence[Document]], None]], Document], guild_id: int
    ) -> Added:
        """``add`` (the library's add_upload or add_url) with the server's caps as its check:
        parsed, checked, then stored and audited in one transaction."""
        library = self.require_library()
        doc = add(self._check_documents)
        index = library.answerer_for(guild_id).index
        return Added(doc, index.passages_of(doc.id), first_sentence(index, doc.id))

    async def remove(
        self, guild_id: int, doc_id: str, user_id: int | None = None
    ) -> Document | None:
        """Removed and audited in one transaction."""
        library = self.require_library()
        lock = self._server_locks.setdefault(guild_id, asyncio.Lock())
        async with lock:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(
                self._uploads, library.remove, guild_id, doc_id, user_id
            )

    async def reload(self, guild_id: int) -> Any:
        library = self.require_library()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._uploads, library.reload_server, guild_id)

    # -- other processes' changes ------------------------------------------------------

    async def follow_changes_once(self) -> None:
        """Pick up changes other processes (shards) recorded in the shared audit log: re-read
        changed settings and server collections, off the event loop."""
        store, library = self.require_store(), self.require_library()
        entries = await self.db(store.audit_since, self.seen_audit)
        changed: set[int] = set()
        settings_changed: set[int] = set()
        for entry in entries:
            self.seen_audit = entry.id
            if entry.guild_id is None:
                continue
            if entry.action.startswith("settings."):
                settings_changed.add(entry.guild_id)
            elif entry.action.startswith("corpus."):
                changed.add(entry.guild_id)
        for guild_id in settings_changed:  # read again now, so no command waits for them
            self.settings.forget(guild_id)
            await self.settings.get(guild_id)
        loop = asyncio.get_running_loop()
        for guild_id in changed:
            await loop.run_in_executor(self._uploads, library.reload_server, guild_id)

    async def close(self) -> None:
        self.acks.close()
        if self._http is not None:
            await self._http.close()
        for pool in (self._search, self._db, self._uploads):
            pool.shutdown(wait=False, cancel_futures=True)
        if self.library is not None:  # (its background encoding)
            await asyncio.to_thread(self.library.close)


def first_sentence(index: SearchIndex, doc_id: str) -> Quote | None:
    """A sample quote for the "Added" reply: the document's first sentence of 20 characters
    or more, read from the sentences its index stored (nothing is analysed again)."""
    at = next((i for i, d in enumerate(index.documents) if d.id == doc_id), None)
    if at is None:
        return None
    doc = index.documents[at]
    first, end = (int(a[0]) for a in index.passage_ranges([at]))
    for pid in range(first, end):
        found, inside = index.sentences(pid)
        for s in found[:inside]:
            if s.end - s.start >= 20:
                return Quote.from_document(doc, s.start, s.end, paragraph=s.paragraph)
    return None
