"""Opening corpora for answering.

:func:`open_corpus` opens one folder (the command line). :class:`Library` holds the bot's
collections: the operator's, folders named in the config, and each server's own, read from
the store (:class:`ServerDocuments`: SQLite or PostgreSQL, shared by every process).
A server answers from the operator collections assigned to it plus its own; each distinct set
of collections is a *view*. Every collection is one index segment, built (or memory-mapped
from the cache) once and shared by every view that includes it; a view joins its segments
without copying them, so a server's upload rebuilds only that server's small segment. Changes
are serialised by a lock, rebuilt off the event loop by the caller's thread, and swapped in
with one assignment, so questions keep being answered from the previous views during a
rebuild, and a failed change leaves them serving. An upload's text is analysed for the index
by the parser process that extracted it, and a rebuilt segment takes its other documents'
analyses from the segment it replaces, so a change costs this process only the assembly.

Encoding sentences (:mod:`bot.core.encoder`) costs far more than the rest (1.5 s against
28 ms for a server of 20 short documents), so a segment whose documents do not all bring
their vectors is built and served without them first (the static vectors), and encoded in
the background, one segment after another, on one thread of lower priority
(:class:`Background`); the contextual segment then takes its place unless the collection
changed meanwhile, and goes to the index cache.
"""

from __future__ import annotations

import atexit
import dataclasses
import functools
import logging
import os
import sys
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

import numpy as np
from pydantic import BaseModel, ConfigDict

from bot.core import collection as folders
from bot.core import encoder
from bot.core.analysed import Analysed, analyse_to_bytes, sentence_vectors
from bot.core.analysis import analyzer_for
from bot.core.answers import Answerer, AnswerSettings, prepare
from bot.core.collection import server_collection
from bot.core.corpus import CorpusIssue, LoadedCorpus, default_corpus_dir, load_folder
from bot.core.fetch import extract_url
from bot.core.index import IndexSettings, Known, Progress, SearchIndex, load_or_build
from bot.core.ingest import (
    Extracted,
    ExtractionWorker,
    IngestError,
    IngestLimits,
    as_stored,
    extract_isolated,
)
from bot.core.models import Document, DocumentMeta

log = logging.getLogger(__name__)
T = TypeVar("T")
# A stored document this short (another process added it) is analysed here, not in a parser
# process: about 30 ms under the GIL for 20,000 characters, where starting a process and its
# imports takes 0.5-0.9 s.
ANALYSE_HERE_CHARS = 20_000
# Sentences encoded in the background between two looks at whether to go on (~50 ms): the
# process must not exit while onnxruntime runs on another thread (it aborts).
ENCODE_CHUNK = 16
Made = Mapping[str, tuple[str, Analysed]]  # document id -> (its text, the text's analysis)


@dataclass(frozen=True)
class OpenCorpus:
    folder: Path
    loaded: LoadedCorpus
    answerer: Answerer
    from_cache: bool


def open_corpus(
    folder: Path | None,
    index_settings: IndexSettings,
    answer_settings: AnswerSettings,
    cache_dir: Path | None,
    progress: Progress | None = None,
) -> OpenCorpus:
    folder = folder or default_corpus_dir()
    loaded = load_folder(folder, cache_dir=cache_dir)  # (caches extracted .html/.pdf files)
    index, from_cache = load_or_build(loaded.documents, index_settings, cache_dir, progress)
    return OpenCorpus(folder, loaded, Answerer(index, answer_settings), from_cache)


class CollectionSpec(BaseModel):
    """An operator collection: a folder, and the servers that answer from it (empty: all)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    path: Path | None = None  # None: the bundled default corpus
    guilds: tuple[int, ...] = ()


class ServerDocuments(Protocol):
    """Where servers' own documents are kept (bot.store.Store). Each change is committed
    with its audit row, in one transaction."""

    def server_ids(self) -> list[int]: ...
    def documents(self, guild_id: int) -> list[Document]: ...
    def add_document(self, guild_id: int, user_id: int | None, doc: Document) -> object: ...
    def remove_document(self, guild_id: int, user_id: int | None, doc_id: str) -> object: ...


@dataclass(frozen=True)
class Collection:
    name: str
    folder: Path | None  # None: a server's own, kept in the store
    documents: tuple[Document, ...]
    issues: tuple[CorpusIssue, ...]
    server: int | None  # the server owning it, None for the operator's


class Stale(Exception):
    """A background job's work is no longer wanted (its collection changed, or the library
    closed)."""


class Background:
    """Jobs run one after another on one thread of its own (started for the first job, ended
    when none is left) at a lower CPU priority (Linux, where a thread's nice value is its
    own), so they take what the threads that answer and build leave. Each job has a key: a
    new job for a key still queued replaces the old one in its place, and :meth:`prefer`
    moves chosen keys' jobs to the front; otherwise jobs run in the order they came. A job that
    raises :class:`Stale` is dropped quietly, any other error logged. Every one still open is
    closed at exit (a job should check :attr:`closed` often)."""

    NICE = 19  # below the parser processes (10): an upload someone waits for goes first

    def __init__(self, name: str) -> None:
        self.name = name
        self.closed = False
        self._jobs: OrderedDict[Hashable, Callable[[], None]] = OrderedDict()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        _OPEN.add(self)

    def put(self, key: Hashable, job: Callable[[], None]) -> None:
        with self._cond:
            if self.closed:
                return
            self._jobs[key] = job
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()

    def prefer(self, chosen: Callable[[Any], bool]) -> None:
        """Run the jobs whose keys are ``chosen`` next (in their order)."""
        with self._cond:
            for key in reversed([k for k in self._jobs if chosen(k)]):
                self._jobs.move_to_end(key, last=False)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until no job is left (or ``timeout`` seconds); whether none is."""
        with self._cond:
            return self._cond.wait_for(lambda: self._thread is None, timeout)

    def close(self, timeout: float = 1.0) -> None:
        """Drop the jobs waiting and wait at most ``timeout`` seconds for the one running to
        see :attr:`closed` (the thread is a daemon thread)."""
        with self._cond:
            self.closed = True
            self._jobs.clear()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        if sys.platform == "linux":
            with suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), self.NICE)
        while True:
            with self._cond:
                if self.closed or not self._jobs:
                    self._thread = None
                    self._cond.notify_all()
                    return
                _, job = self._jobs.popitem(last=False)
            try:
                job()
            except Stale:
                pass
            except Exception:
                log.exception("a background job failed")


_OPEN: weakref.WeakSet[Background] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    for background in list(_OPEN):
        background.close(timeout=10.0)  # (a chunk of sentences, however busy the machine)


class Library:
    def __init__(
        self,
        operator: Sequence[CollectionSpec],
        store: ServerDocuments | None,
        index_settings: IndexSettings,
        answer_settings: AnswerSettings,
        cache_dir: Path | None = None,
        limits: IngestLimits | None = None,
    ) -> None:
        self.operator = tuple(operator)
        self.store = store
        self.index_settings = index_settings
        self.answer_settings = answer_settings
        self.cache_dir = cache_dir
        self.limits = limits or IngestLimits()
        self._collections: dict[str, Collection] = {}
        self._views: dict[tuple[str, ...], Answerer] = {}
        # Segments by (collection, ids of documents left out because an earlier collection of
        # the view has them), built from that collection's documents at the time.
        self._segments: dict[tuple[str, frozenset[str]], tuple[Collection, SearchIndex]] = {}
        self._write = threading.Lock()
        self._encoding = Background("encoder")  # segments waiting for their vectors
        self._analyse = functools.partial(
            analyse_to_bytes, analysis=index_settings.analysis, segments=index_settings.passages
        )

    # -- reading (any thread, never blocks on a change) ----------------------------------

    def view_key(
        self, guild_id: int | None, collections: dict[str, Collection] | None = None
    ) -> tuple[str, ...]:
        """The collections a server answers from."""
        collections = self._collections if collections is None else collections
        names = [c.name for c in self.operator if not c.guilds or guild_id in c.guilds]
        own = collections.get(server_collection(guild_id)) if guild_id else None
        if own is not None and own.documents:
            names.append(own.name)
        return tuple(names)

    def answerer_for(self, guild_id: int | None) -> Answerer:
        key = self.view_key(guild_id)
        answerer = self._views.get(key)
        if answerer is None:  # only before load(): every reachable view is built by _swap
            answerer = self._build_views([key], self._collections)[key]
        if guild_id and not answerer.contextual:  # a server asking goes before the others
            own = server_collection(guild_id)
            self._encoding.prefer(lambda key: key[0] == own)
        return answerer

    def collection(self, name: str) -> Collection | None:
        return self._collections.get(name)

    def collections(self) -> list[Collection]:
        return list(self._collections.values())

    def wait_encoded(self, timeout: float | None = None) -> bool:
        """Block until no segment waits for its sentences to be encoded (or ``timeout``
        seconds); whether none does."""
        return self._encoding.wait(timeout)

    def close(self) -> None:
        """Stop encoding in the background (promptly: a segment being encoded is dropped)."""
        self._encoding.close()

    # -- loading and changing (worker threads) -------------------------------------------

    def load(self) -> None:
        """(Re)read every collection (folders and the store) and rebuild every view."""
        prepare()  # here, off the event loop, rather than at the first question
        analyzer_for(self.index_settings.analysis).terms("and the lemmatiser's word lists")
        with self._write:
            collections: dict[str, Collection] = {}
            for spec in self.operator:
                collections[spec.name] = _read(
                    spec.name, spec.path or default_corpus_dir(), self.cache_dir
                )
            for gid in self.store.server_ids() if self.store is not None else ():
                collections[server_collection(gid)] = self._read_server(gid)
            self._swap(collections, rebuild_all=True)

    def add_upload(
        self,
        guild_id: int,
        filename: str,
        data: bytes,
        overrides: dict[str, Any] | None = None,
        user_id: int | None = None,
        check: Callable[[Sequence[Document]], None] | None = None,
    ) -> Document:
        """Parse an upload in an isolated process, build the new views, commit the document
        with its audit row, then swap the views in. ``check`` sees the server's documents as
        they would be and may refuse them by raising. Raises :class:`IngestError` (or the
        store's or ``check``'s error) and changes nothing on failure."""
        analyse = self._analyse_for(guild_id)
        extracted = extract_isolated(filename, data, self.limits, analyse=analyse)
        return self._add(guild_id, extracted, filename, overrides, user_id, check)

    def add_url(
        self,
        guild_id: int,
        url: str,
        overrides: dict[str, Any] | None = None,
        user_id: int | None = None,
        check: Callable[[Sequence[Document]], None] | None = None,
    ) -> Document:
        """Fetch a web page (or PDF) within the limits and add it as :meth:`add_upload` does;
        the document keeps the URL it was fetched from and the date it was retrieved."""
        analyse = self._analyse_for(guild_id)
        extracted = extract_url(
            url, self.limits, lambda n, d: extract_isolated(n, d, self.limits, analyse=analyse)
        )
        hint = urlsplit(str(extracted.meta.url or url)).path.rstrip("/").rsplit("/", 1)[-1]
        return self._add(guild_id, extracted, hint or "page", overrides, user_id, check)

    def _analyse_for(self, guild_id: int) -> Callable[[str], bytes]:
        """The parser's analysis of an upload to a server: with contextual vectors only if
        the server's view has them and its segment would stay within the encoder's budget
        (else they would be thrown away: :meth:`SearchIndex.build`), and the upload is no
        longer than an upload may be to be encoded (``encoder.UPLOAD_CHARS``; a longer one
        is encoded in the background once it is answerable)."""
        own = self._collections.get(server_collection(guild_id))
        used = sum(len(d.text) for d in own.documents) if own is not None else 0
        view = self._views.get(self.view_key(guild_id))
        left = min(encoder.MAX_CHARS - used, encoder.UPLOAD_CHARS)
        budget = left if view is None or view.contextual else 0
        return functools.partial(self._analyse, budget=budget)

    def _add(
        self,
        guild_id: int,
        extracted: Extracted,
        filename: str,
        overrides: dict[str, Any] | None,
        user_id: int | None,
        check: Callable[[Sequence[Document]], None] | None,
    ) -> Document:
        with self._write:
            name = server_collection(guild_id)
            stored = self._documents().documents(guild_id)  # with other processes' changes
            visible = (*self.answerer_for(guild_id).index.documents, *stored)
            folders.refuse_duplicate(extracted.text, visible)
            taken = {d.id for d in visible}
            doc = folders.new_document(
                extracted, collection=name, name_hint=filename, overrides=overrides, taken=taken
            )
            fresh = _server(guild_id, (*stored, doc))
            if check is not None:
                check(fresh.documents)
            made = {doc.id: (doc.text, _analysis(extracted))} if extracted.analysis else {}
            self._change(
                fresh, lambda: self._documents().add_document(guild_id, user_id, doc), made
            )
            return doc

    def remove(self, guild_id: int, doc_id: str, user_id: int | None = None) -> Document | None:
        """Delete a document from the server's own collection (never an operator's), with
        its audit row; None when the server has no such document."""
        with self._write:
            current = self._collections.get(server_collection(guild_id))
            doc = next((d for d in current.documents if d.id == doc_id), None) if current else None
            if doc is None:
                return None
            fresh = _server(guild_id, tuple(d for d in current.documents if d.id != doc_id))
            removed = self._change(
                fresh, lambda: self._documents().remove_document(guild_id, user_id, doc_id)
            )
            if removed is None:  # another process removed it first: take the store's state
                self._install(self._read_server(guild_id))
                return None
            return doc

    def reload_server(self, guild_id: int) -> Collection:
        """Re-read a server's documents from the store (another process changed them)."""
        with self._write:
            fresh = self._read_server(guild_id)
            current = self._collections.get(fresh.name)
            if current is not None and _same(current.documents, fresh.documents):
                return current
            self._install(fresh, self._analysed_apart(fresh))
            return fresh

        # -- internals (under the write lock) ------------------------------------------------

    def _documents(self) -> ServerDocuments:
        if self.store is None:
            raise RuntimeError("no store is configured for servers' own documents")
        return self.store

    def _read_server(self, guild_id: int) -> Collection:
        return _server(guild_id, tuple(self._documents().documents(guild_id)))

    def _change(self, fresh: Collection, commit: Callable[[], T], made: Made | None = None) -> T:
        """Build the views ``fresh`` needs, commit, then swap: a failure before the commit
        changes nothing, and nothing is swapped in that was not committed. ``made``: analyses
        of new documents' texts, by id."""
        collections = {**self._collections, fresh.name: fresh}
        segments = dict(self._segments)
        try:
            views = self._views_for(collections, changed=fresh.name, made=made or {})
            result = commit()
        except BaseException:
            self._segments = segments  # (so the segments being encoded stay current)
            raise
        self._publish(collections, views)
        return result

    def _install(self, fresh: Collection, made: Made | None = None) -> None:
        collections = {**self._collections, fresh.name: fresh}
        self._publish(collections, self._views_for(collections, changed=fresh.name, made=made))

    def _analysed_apart(self, coll: Collection) -> Made:
        """Analyses of the collection's documents that no segment holds (another process
        added them), made in a parser process as an upload's is, unless short (then, and for
        a document the parser fails on, the index is built from an analysis made here);
        without vectors, which are made in the background."""
        known = self._known(coll.name, {})
        new = [d for d in coll.documents if known(d) is None and len(d.text) > ANALYSE_HERE_CHARS]
        made: dict[str, tuple[str, Analysed]] = {}
        if new:
            analyse = functools.partial(self._analyse, budget=0)
            with ExtractionWorker(self.limits, target=as_stored, analyse=analyse) as worker:
                for doc in new:
                    with suppress(IngestError):
                        extracted = worker.extract(f"{doc.id}.txt", doc.text.encode())
                        made[doc.id] = (doc.text, _analysis(extracted))
        return made

    def _swap(self, collections: dict[str, Collection], *, rebuild_all: bool) -> None:
        self._publish(collections, self._views_for(collections, rebuild_all=rebuild_all))

    def _views_for(
        self,
        collections: dict[str, Collection],
        *,
        rebuild_all: bool = False,
        changed: str | None = None,
        made: Made | None = None,
    ) -> dict[tuple[str, ...], Answerer]:
        """Every view some server reaches in ``collections``: kept when unchanged, else
        built."""
        guilds = [c.server for c in collections.values() if c.server is not None]
        guilds += [g for spec in self.operator for g in spec.guilds]
        keys = {self.view_key(None, collections)} | {self.view_key(g, collections) for g in guilds}
        stale = {k for k in keys if rebuild_all or k not in self._views or changed in k}
        views = {k: v for k, v in self._views.items() if k in keys and k not in stale}
        views.update(self._build_views(sorted(stale), collections, made or {}))
        return views

    def _publish(
        self, collections: dict[str, Collection], views: dict[tuple[str, ...], Answerer]
    ) -> None:
        # Readers see either the old state or the new one: views first, then collections
        # (a reader between the two gets an old key, still present in the new views or
        # built on the spot from the old collections).
        self._views = {**self._views, **views}
        self._collections = collections
        self._views = views  # drop views no server reaches any more
        live = {id(s) for answerer in views.values() for s in answerer.index.segments}
        self._segments = {k: v for k, v in self._segments.items() if id(v[1]) in live}

    def _build_views(
        self,
        keys: Sequence[tuple[str, ...]],
        collections: dict[str, Collection],
        made: Made | None = None,
    ) -> dict[tuple[str, ...], Answerer]:
        built = {}
        for key in keys:
            parts: list[SearchIndex] = []
            seen: set[str] = set()
            for name in key:
                coll = collections.get(name)
                if coll is None or not coll.documents:
                    continue
                # the first collection to use an id keeps it
                hidden = frozenset(d.id for d in coll.documents if d.id in seen)
                seen.update(d.id for d in coll.documents)
                # a server's few documents number their terms after the operator's first
                # collection (no vocabulary of their own)
                base = parts[0] if parts and coll.server is not None else None
                parts.append(self._segment(coll, hidden, base, made or {}))
            if not parts:
                parts.append(load_or_build([], self.index_settings, None)[0])
            built[key] = Answerer(SearchIndex.join(parts), self.answer_settings)
        return built

    def _segment(
        self,
        coll: Collection,
        hidden: frozenset[str],
        base: SearchIndex | None = None,
        made: Made | None = None,
    ) -> SearchIndex:
        """The collection's segment, shared by every view; rebuilt only when its documents
        (or the ``base`` whose terms it numbers by) changed, from the analyses ``made``
        elsewhere and those of its documents already in a segment (on a new base of the same
        documents, e.g. that base once encoded, its term ids hold: it is only rebased).
        Sentences without their contextual vectors are not encoded here: the segment goes
        without, and is queued to be encoded in the background (:meth:`_encode`)."""
        key = (coll.name, hidden)
        same = self._segments.get(key)
        old = same[1] if same is not None and same[0].documents == coll.documents else None
        if old is not None and old.base is base:
            return old
        known: Known | None = None  # (a rebased segment holds every analysis it had)
        both_based = base is not None and old is not None and old.base is not None
        if both_based and old.base.key == base.key:  # its base, now encoded: the same term ids
            index = old.rebased(base)
        else:
            known = self._known(coll.name, made or {})
            docs = [d for d in coll.documents if d.id not in hidden]
            index, _ = load_or_build(
                docs, self.index_settings, self.cache_dir, base=base, known=known, encode=False
            )
        self._segments[key] = (coll, index)
        if index.unencoded:
            job = functools.partial(self._encode, coll, hidden, index, known)
            self._encoding.put(key, job)
        return index

    def _encode(
        self,
        coll: Collection,
        hidden: frozenset[str],
        unencoded: SearchIndex,
        known: Known | None,
    ) -> None:
        """(The encoder's thread.) Build the segment ``unencoded`` again with every
        sentence's contextual vector, from the analyses it was built from (``known``'s, which
        may bring vectors, else cut from it), then swap it in (and into the cache) unless it
        is no longer the collection's: the newer segment has been queued in its turn. Raises
        :class:`Stale` when it is (or the library closed)."""
        key = (coll.name, hidden)

        def changed() -> None:
            if self._encoding.closed or self._collections.get(coll.name) is not coll:
                raise Stale

        def current() -> None:  # (under the write lock: no change is half made)
            changed()
            entry = self._segments.get(key)
            if entry is None or entry[1] is not unencoded:
                raise Stale

        def with_vectors(doc: Document) -> Analysed:
            analysed = (known and known(doc)) or unencoded.analysed(at[doc.id])
            if analysed.contextual:
                return analysed
            vectors = []
            for lo in range(0, len(analysed.s_start), ENCODE_CHUNK):
                changed()
                hi = lo + ENCODE_CHUNK
                starts, ends = analysed.s_start[lo:hi], analysed.s_end[lo:hi]
                vectors.append(sentence_vectors(doc.text, starts, ends))
            return dataclasses.replace(analysed, s_vec=np.concatenate(vectors))

        with self._write:
            current()
        at = {d.id: i for i, d in enumerate(unencoded.documents)}
        index, _ = load_or_build(
            unencoded.documents,
            self.index_settings,
            self.cache_dir,
            base=unencoded.base,
            known=with_vectors,
        )
        with self._write:
            current()
            self._segments[key] = (coll, index)
            views = self._views_for(self._collections, changed=coll.name)
            self._publish(self._collections, views)

    def _known(self, name: str, made: Made) -> Known:
        """A document's analysis when one is at hand: ``made`` for it, or cut from a
        segment of collection ``name`` holding the same text."""
        indexed: dict[str, tuple[str, SearchIndex, int]] = {}
        for (collection, _), (_, index) in self._segments.items():
            if collection == name:
                for i, d in enumerate(index.documents):
                    indexed.setdefault(d.id, (d.text, index, i))

        def known(doc: Document) -> Analysed | None:
            text, analysed = made.get(doc.id, ("", None))
            if analysed is not None and text == doc.text:
                return analysed
            text, index, i = indexed.get(doc.id, ("", None, 0))
            return index.analysed(i) if index is not None and text == doc.text else None

        return known


def _analysis(extracted: Extracted) -> Analysed:
    """The parser process's analysis of the extracted text, checked."""
    assert extracted.analysis is not None
    try:
        return Analysed.from_bytes(extracted.analysis, extracted.text)
    except ValueError as exc:
        raise IngestError(f"the parser process sent a bad analysis of the text: {exc}") from None


def _read(name: str, folder: Path, cache_dir: Path | None) -> Collection:
    loaded = load_folder(folder, collection=name, cache_dir=cache_dir)
    return Collection(name, folder, tuple(loaded.documents), tuple(loaded.issues), None)


def _server(guild_id: int, documents: tuple[Document, ...]) -> Collection:
    return Collection(server_collection(guild_id), None, documents, (), guild_id)


def _same(a: Sequence[Document], b: Sequence[Document]) -> bool:
    def key(docs: Sequence[Document]) -> list[tuple[str, str, DocumentMeta]]:
        return sorted((d.id, d.sha256, d.meta) for d in docs)

    return key(a) == key(b)
