import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from bot.core.answers import AnswerSettings
from bot.core.index import IndexSettings
from bot.core.ingest import IngestError
from bot.core.library import CollectionSpec, Library
from bot.store import Store

ROOT = Path(__file__).resolve().parents[2]
A, B = 111, 222


def make_library(tmp_path: Path, extra: list[CollectionSpec] | None = None) -> Library:
    lib = Library(
        [CollectionSpec(name="default"), *(extra or [])],
        Store(tmp_path / "verbatim.sqlite3"),
        IndexSettings(),
        AnswerSettings(),
        cache_dir=tmp_path / "cache",
    )
    lib.load()
    assert lib.wait_encoded(60)  # (the default corpus: its vectors made in the background)
    return lib


LIGHTHOUSE = b"The lighthouse keeper logged 312 storms in 1911.\n\nThe lamp was lit nightly."


def test_upload_is_quotable_from_its_own_server_only(tmp_path):
    lib = make_library(tmp_path)
    doc = lib.add_upload(A, "log.txt", LIGHTHOUSE, {"title": "Lighthouse log"})
    assert doc.id == "lighthouse-log" and doc.collection == f"server-{A}"
    answer = lib.answerer_for(A).answer("How many storms did the lighthouse keeper log?")
    assert answer.answered and answer.results[0].quote.doc_id == "lighthouse-log"
    # server B never sees server A's document, and still has the default corpus
    assert not lib.answerer_for(B).answer("lighthouse keeper storms").answered
    assert lib.answerer_for(B).answer("Operation Linden launched").answered
    assert "lighthouse-log" not in lib.answerer_for(B).index.by_id


def test_hostile_names_never_choose_a_path(tmp_path):
    lib = make_library(tmp_path)
    names = ["../../escape.txt", "/etc/passwd.txt", "a" * 5000 + ".txt", "..\\..\\x.md"]
    for n, name in enumerate(names):
        lib.add_upload(A, name, f"Some harmless words about tide {n}.".encode())
    assert not list(tmp_path.rglob("*.md"))  # documents live in the database, not in files
    ids = [d.id for d in lib.store.documents(A)]
    assert len(ids) == 4 and all(len(i) <= 64 and "/" not in i and "." not in i for i in ids)


def test_failed_parse_leaves_nothing_behind(tmp_path):
    lib = make_library(tmp_path)
    before = lib.answerer_for(A)
    with pytest.raises(IngestError):
        lib.add_upload(A, "x.pdf", b"%PDF-1.4 garbage")
    with pytest.raises(IngestError):
        lib.add_upload(A, "x.exe", b"MZ")
    assert lib.store.documents(A) == [] and lib.store.audit(A) == []
    assert lib.answerer_for(A) is before


def test_remove_only_touches_the_servers_own_collection(tmp_path):
    lib = make_library(tmp_path)
    lib.add_upload(A, "log.txt", LIGHTHOUSE, {"title": "Lighthouse log"})
    assert lib.remove(B, "lighthouse-log") is None  # B cannot remove A's document
    assert lib.remove(A, "rotherham-cse-fashion-accessory") is None  # nor the operator's
    assert lib.remove(A, "lighthouse-log") is not None
    assert not lib.answerer_for(A).answer("lighthouse keeper storms").answered


def test_operator_collections_go_only_to_their_servers(tmp_path):
    extra = tmp_path / "reports"
    extra.mkdir()
    (extra / "memo.md").write_text("---\ntitle: Memo\n---\nThe canal froze in 1963.")
    lib = make_library(tmp_path, [CollectionSpec(name="reports", path=extra, guilds=(A,))])
    assert lib.answerer_for(A).answer("When did the canal freeze?").answered
    assert not lib.answerer_for(B).answer("When did the canal freeze?").answered


def test_questions_are_answered_from_the_old_index_during_a_rebuild(tmp_path, monkeypatch):
    lib = make_library(tmp_path)
    import bot.core.library as library_module

    real = library_module.load_or_build
    entered, release = threading.Event(), threading.Event()

    def slow(*args, **kwargs):
        entered.set()
        release.wait(5)
        return real(*args, **kwargs)

    monkeypatch.setattr(library_module, "load_or_build", slow)
    worker = threading.Thread(target=lib.add_upload, args=(A, "log.txt", LIGHTHOUSE))
    worker.start()
    assert entered.wait(10)
    # mid-rebuild: still answering, from the previous index
    assert lib.answerer_for(A).answer("Operation Linden launched").answered
    assert not lib.answerer_for(A).answer("lighthouse storms").answered
    release.set()
    worker.join(10)
    assert lib.answerer_for(A).answer("lighthouse storms").answered


def test_a_failed_rebuild_keeps_the_old_index_and_stores_nothing(tmp_path, monkeypatch):
    lib = make_library(tmp_path)
    lib.add_upload(A, "a.txt", b"First document about harbours.", {"title": "Harbours"})
    import bot.core.library as library_module

    def broken(*args, **kwargs):
        raise MemoryError("simulated")

    monkeypatch.setattr(library_module, "load_or_build", broken)
    with pytest.raises(MemoryError):
        lib.add_upload(A, "b.txt", b"Second document about lighthouses.", {"title": "Lights"})
    monkeypatch.undo()
    assert lib.answerer_for(A).answer("harbours").answered
    assert [d.id for d in lib.store.documents(A)] == ["harbours"]
    assert [e.doc_id for e in lib.store.audit(A)] == ["harbours"]


def test_two_admins_adding_at_once_both_land(tmp_path):
    lib = make_library(tmp_path)
    errors: list[BaseException] = []

    def add(n: int) -> None:
        try:
            lib.add_upload(
                A, f"doc{n}.txt", f"Unique word zebra{n} here.".encode(), {"title": "Same"}
            )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    ids = {d.id for d in lib.collection(f"server-{A}").documents}
    assert ids == {"same", "same-2", "same-3", "same-4"}
    for n in range(4):
        assert lib.answerer_for(A).answer(f"zebra{n}").answered


def test_crash_while_committing_loses_nothing_and_leaves_no_unaudited_change(tmp_path, monkeypatch):
    lib = make_library(tmp_path)
    lib.add_upload(A, "a.txt", b"Harbour records from 1850.", {"title": "Harbours"})
    import bot.store.store as store_module

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("power cut")  # a BaseException, like a kill

    monkeypatch.setattr(store_module, "insert_audit", crash)  # after the document's row
    with pytest.raises(KeyboardInterrupt):
        lib.add_upload(A, "b.txt", b"Lighthouse records.", {"title": "Lights"})
    monkeypatch.undo()
    assert "lights" not in lib.answerer_for(A).index.by_id
    again = make_library(tmp_path)  # "restart"
    assert again.answerer_for(A).answer("harbour records").answered
    assert [d.id for d in again.store.documents(A)] == ["harbours"]


def test_killed_mid_rebuild_then_restart_keeps_every_document(tmp_path):
    lib = make_library(tmp_path)
    lib.add_upload(A, "a.txt", b"Harbour records from 1850.", {"title": "Harbours"})
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(ROOT)!r})
        import bot.core.library as L
        from bot.core.answers import AnswerSettings
        from bot.core.index import IndexSettings
        def stall(*a, **k):
            print("rebuilding", flush=True)
            time.sleep(60)
        if __name__ == "__main__":
            from bot.store import Store
            store = Store(L.Path({str(tmp_path / "verbatim.sqlite3")!r}))
            lib = L.Library([L.CollectionSpec(name="default")], store,
                            IndexSettings(), AnswerSettings())
            lib.load()
            L.load_or_build = stall
            lib.add_upload({A}, "b.txt", b"Lighthouse records.", {{"title": "Lights"}})
    """)
    path = tmp_path / "adder.py"
    path.write_text(script)
    proc = subprocess.Popen([sys.executable, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        deadline = time.time() + 60
        while time.time() < deadline and proc.stdout.readline().strip() != "rebuilding":
            pass
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(10)
    again = make_library(tmp_path)
    answerer = again.answerer_for(A)
    assert answerer.answer("harbour records").answered
    for doc in answerer.index.documents:  # every document that is there is whole
        assert doc.text in {"Harbour records from 1850.", "Lighthouse records."} or (
            doc.collection == "default"
        )


def test_servers_share_the_operator_segment_and_uploads_rebuild_only_their_own(
    tmp_path, monkeypatch
):
    lib = make_library(tmp_path)
    lib.add_upload(A, "log.txt", LIGHTHOUSE, {"title": "Lighthouse log"})
    import bot.core.library as library_module

    real, built = library_module.load_or_build, []

    def spy(documents, *args, **kwargs):
        built.append({d.collection for d in documents})
        return real(documents, *args, **kwargs)

    monkeypatch.setattr(library_module, "load_or_build", spy)
    lib.add_upload(B, "a.txt", b"Harbour records from 1850.", {"title": "Harbours"})
    assert built == [{f"server-{B}"}]
    a, b, other = (lib.answerer_for(g).index for g in (A, B, 333))
    assert a.segments[0] is b.segments[0] is other
    assert len(a.segments) == len(b.segments) == 2
    # a server's segment numbers its terms after the operator's: no vocabulary of its own
    assert a.segments[1].base is b.segments[1].base is other
    assert b.segments[1].bm25.segments[0].base is other.bm25.segments[0]
    assert lib.answerer_for(B).answer("harbour records").answered
    assert "harbours" in b.by_id and "harbours" not in a.by_id


def test_a_joined_view_answers_like_one_index_over_the_same_documents(tmp_path):
    from bot.core.answers import Answerer
    from bot.core.index import SearchIndex

    lib = make_library(tmp_path)
    lib.add_upload(A, "log.txt", LIGHTHOUSE, {"title": "Lighthouse log"})
    joined = lib.answerer_for(A)
    assert len(joined.index.segments) == 2
    one = Answerer(SearchIndex.build(list(joined.index.documents)), joined.settings)
    answered = 0
    for question in ("lighthouse storms 1911", "Operation Linden launched", "police failures"):
        got, want = joined.answer(question), one.answer(question)
        assert got.answered == want.answered
        assert [r.quote for r in got.results] == [r.quote for r in want.results]
        answered += got.answered
    assert answered >= 2


def test_the_same_text_is_never_stored_twice_for_a_server(tmp_path):
    lib = make_library(tmp_path)
    lib.add_upload(A, "log.txt", LIGHTHOUSE, {"title": "Lighthouse log"})
    with pytest.raises(IngestError, match="already in the corpus as 'lighthouse-log'"):
        lib.add_upload(A, "copy.txt", LIGHTHOUSE, {"title": "Another title"})
    operator = next(iter(lib.answerer_for(A).index.documents))
    with pytest.raises(IngestError, match=f"already in the corpus as '{operator.id}'"):
        lib.add_upload(A, "again.txt", operator.text.encode())
    lib.add_upload(B, "log.txt", LIGHTHOUSE)  # another server may hold the same text
    assert [d.id for d in lib.store.documents(A)] == ["lighthouse-log"]
    assert len(lib.store.documents(B)) == 1


def test_uploads_are_analysed_by_the_parser_process_never_by_this_one(tmp_path, monkeypatch):
    import bot.core.index as index_module
    from bot.core.index import SearchIndex
    from tests.core.test_analysed import arrays

    lib = make_library(tmp_path)
    forbid(monkeypatch, index_module, "analyse", "an upload was analysed in the bot's process")
    lib.add_upload(A, "log.txt", LIGHTHOUSE, {"title": "Lighthouse log"})
    # the server's segment is rebuilt over both: the first is cut from the old segment
    lib.add_upload(
        A, "ships.txt", b"Harbour records from 1850 name every ship.", {"title": "Ships"}
    )
    assert lib.answerer_for(A).answer("lighthouse storms 1911").answered
    assert lib.remove(A, "lighthouse-log") is not None
    answerer = lib.answerer_for(A)
    assert answerer.answer("harbour records ships").results[0].quote.doc_id == "ships"
    assert not answerer.answer("lighthouse storms 1911").answered
    monkeypatch.undo()
    operator, own = answerer.index.segments
    assert arrays(own) == arrays(SearchIndex.build(list(own.documents), base=operator))


def test_an_upload_is_encoded_in_the_parser_only_within_the_servers_budget(tmp_path, monkeypatch):
    import bot.core.index as index_module
    from bot.core import encoder
    from bot.core.corpus import default_corpus_dir, load_folder

    operator_chars = sum(len(d.text) for d in load_folder(default_corpus_dir()).documents)
    monkeypatch.setattr(encoder, "MAX_CHARS", operator_chars)  # the operator's segment fits
    lib = make_library(tmp_path)
    forbid(monkeypatch, index_module, "sentence_vectors", "an upload was encoded here")
    assert lib._analyse_for(A).keywords["budget"] == operator_chars
    lib.add_upload(A, "log.txt", LIGHTHOUSE, {"title": "Lighthouse log"})
    assert lib.answerer_for(A).contextual  # encoded by the parser process
    # what the server's segment has left: a text longer is not encoded (it would not be used)
    left = operator_chars - len(lib.store.documents(A)[0].text)
    assert lib._analyse_for(A).keywords["budget"] == left
    ships = b"Harbour records from 1850 name every ship. " * (operator_chars // 40)
    lib.add_upload(A, "ships.txt", ships, {"title": "Ships"})
    answerer = lib.answerer_for(A)  # over the budget: static vectors, nothing encoded here
    assert not answerer.contextual and answerer.answer("harbour records ships").answered
    assert lib._analyse_for(A).keywords["budget"] == 0  # its view is static now
    lib.add_upload(B, "log.txt", LIGHTHOUSE)
    assert lib.answerer_for(B).contextual  # each server has its own budget


def bad_analysis(text: str, budget: int = 0) -> bytes:
    """A parser process's analysis that is no analysis (module level: pickled by name)."""
    return b"not an analysis"


def test_a_bad_analysis_from_the_parser_changes_nothing(tmp_path):
    lib = make_library(tmp_path)
    lib.add_upload(A, "log.txt", LIGHTHOUSE, {"title": "Lighthouse log"})
    before = lib.answerer_for(A)
    lib._analyse = bad_analysis
    with pytest.raises(IngestError, match="bad analysis"):
        lib.add_upload(A, "ships.txt", b"Harbour records from 1850 name every ship.")
    assert lib.answerer_for(A) is before
    assert [d.id for d in lib.store.documents(A)] == ["lighthouse-log"]
    assert [e.action for e in lib.store.audit(A)] == ["corpus.add"]


def shards_after_an_upload(tmp_path) -> tuple[Library, Library]:
    """Two libraries on one store (two shards), the first having added the lighthouse log."""
    here, there = make_library(tmp_path), make_library(tmp_path)
    here.add_upload(A, "log.txt", LIGHTHOUSE, {"title": "Lighthouse log"})
    return here, there


def forbid(monkeypatch, module, name: str, what: str) -> None:
    """Make calling ``module.name`` fail the test, saying ``what`` happened."""

    def refuse(*args, **kwargs):
        raise AssertionError(what)

    monkeypatch.setattr(module, name, refuse)


def assert_quotes_the_log(library: Library) -> None:
    answer = library.answerer_for(A).answer("How many storms did the lighthouse keeper log?")
    assert answer.answered and answer.results[0].quote.doc_id == "lighthouse-log"


def test_another_processs_upload_is_analysed_in_a_parser_process_too(tmp_path, monkeypatch):
    import bot.core.index as index_module
    import bot.core.library as library_module

    monkeypatch.setattr(library_module, "ANALYSE_HERE_CHARS", 10)  # these texts count as long
    here, there = shards_after_an_upload(tmp_path)
    forbid(monkeypatch, index_module, "analyse", "a stored document was analysed in this process")
    there.reload_server(A)
    assert_quotes_the_log(there)
    here.add_upload(A, "ships.txt", b"Harbour records from 1850 name every ship.")
    there.reload_server(A)  # the first is cut from its segment, the second analysed apart
    assert there.answerer_for(A).answer("harbour records ships").answered


def test_another_processs_short_upload_is_analysed_here_without_a_process(tmp_path, monkeypatch):
    import bot.core.library as library_module

    _, there = shards_after_an_upload(tmp_path)
    forbid(monkeypatch, library_module, "ExtractionWorker", "a parser process was started")
    there.reload_server(A)
    assert_quotes_the_log(there)


# -- contextual vectors made in the background ---------------------------------------------


class Gate:
    """Holds the background encoder (its ``sentence_vectors``) until opened."""

    def __init__(self, monkeypatch) -> None:
        import bot.core.library as library_module

        self.entered, self.open = threading.Event(), threading.Event()
        real = library_module.sentence_vectors

        def held(*args, **kwargs):
            self.entered.set()
            assert self.open.wait(30), "the test never let the encoder go on"
            return real(*args, **kwargs)

        monkeypatch.setattr(library_module, "sentence_vectors", held)


def published_views(lib: Library, guild_id: int, monkeypatch) -> list[tuple[set[str], bool]]:
    """Every state of the server's view published from now on: its document ids, and
    whether it is contextual."""
    seen: list[tuple[set[str], bool]] = []
    real = lib._publish

    def publish(collections, views):
        real(collections, views)
        index = lib.answerer_for(guild_id).index
        seen.append((set(index.by_id), index.contextual))

    monkeypatch.setattr(lib, "_publish", publish)
    return seen


def test_a_server_answers_before_its_documents_are_encoded_then_contextually(tmp_path, monkeypatch):
    import bot.core.index as index_module
    import bot.core.library as library_module
    from bot.core.collection import server_collection
    from bot.core.models import Document

    store = Store(tmp_path / "verbatim.sqlite3")  # another process added them: no vectors
    text = LIGHTHOUSE.decode()
    store.add_document(A, None, Document(id="log", collection=server_collection(A), text=text))
    gate = Gate(monkeypatch)
    cache = tmp_path / "cache"
    lib = Library([CollectionSpec(name="default")], store, IndexSettings(), AnswerSettings(), cache)
    lib.load()  # a first start: nothing cached
    assert gate.entered.wait(30)  # encoding has begun, in the background
    answerer = lib.answerer_for(A)
    assert not answerer.contextual and answerer.answer("lighthouse keeper storms").answered
    assert not lib.wait_encoded(0.2)
    gate.open.set()
    assert lib.wait_encoded(60)
    answerer = lib.answerer_for(A)  # the operator's segment, then the server's on it
    assert answerer.contextual and answerer.answer("lighthouse keeper storms").answered
    assert lib.answerer_for(B).contextual
    # the vectors reached the index cache: a restart encodes nothing
    for module in (index_module, library_module):
        forbid(monkeypatch, module, "sentence_vectors", "a restart encoded again")
    forbid(monkeypatch, index_module, "analyse", "a restart analysed again")
    again = Library(
        [CollectionSpec(name="default")], store, IndexSettings(), AnswerSettings(), cache
    )
    again.load()
    assert again.wait_encoded(0) and again.answerer_for(A).contextual


def test_a_server_that_asks_is_encoded_before_the_servers_that_do_not(tmp_path, monkeypatch):
    from bot.core.collection import server_collection
    from bot.core.models import Document

    store = Store(tmp_path / "verbatim.sqlite3")  # another process added them: no vectors
    servers = (A, B, 333, 444)
    for gid in servers:
        doc = Document(id="log", collection=server_collection(gid), text=LIGHTHOUSE.decode())
        store.add_document(gid, None, doc)
    gate = Gate(monkeypatch)
    cache = tmp_path / "cache"
    lib = Library([CollectionSpec(name="default")], store, IndexSettings(), AnswerSettings(), cache)
    order: list[int] = []  # the servers, as each one's view turns contextual
    real = lib._publish

    def publish(collections, views):
        real(collections, views)
        for gid in servers:
            if gid not in order and lib.answerer_for(gid).contextual:
                order.append(gid)

    lib.load()  # a first start: the operator's segment, then each server's, queued in turn
    assert gate.entered.wait(30)  # the operator's segment is being encoded
    monkeypatch.setattr(lib, "_publish", publish)
    lib.answerer_for(444).answer("lighthouse keeper storms")  # the last server read asks
    gate.open.set()
    assert lib.wait_encoded(60)
    assert order[0] == 444 and sorted(order) == sorted(servers), order


def test_a_large_upload_is_answerable_at_once_and_encoded_in_the_background(tmp_path, monkeypatch):
    from bot.core import encoder

    lib = make_library(tmp_path)
    monkeypatch.setattr(encoder, "UPLOAD_CHARS", 10)  # the lighthouse log counts as large
    assert lib._analyse_for(A).keywords["budget"] == 10  # the parser does not encode it
    gate = Gate(monkeypatch)
    lib.add_upload(A, "log.txt", LIGHTHOUSE, {"title": "Lighthouse log"})
    assert gate.entered.wait(30)
    assert not lib.answerer_for(A).contextual
    assert_quotes_the_log(lib)
    gate.open.set()
    assert lib.wait_encoded(60) and lib.answerer_for(A).contextual
    assert_quotes_the_log(lib)


def test_a_change_while_encoding_drops_the_stale_segment(tmp_path, monkeypatch):
    from bot.core import encoder

    lib = make_library(tmp_path)
    monkeypatch.setattr(encoder, "UPLOAD_CHARS", 10)  # uploads reach the encoder unencoded
    gate = Gate(monkeypatch)
    seen = published_views(lib, A, monkeypatch)
    lib.add_upload(A, "log.txt", LIGHTHOUSE, {"title": "Lighthouse log"})
    assert gate.entered.wait(30)  # the server's segment with the log alone is being encoded
    ships = b"Harbour records from 1850 name every ship."
    lib.add_upload(A, "ships.txt", ships, {"title": "Ships"})
    gate.open.set()
    assert lib.wait_encoded(60)
    operator = {d.id for d in lib.answerer_for(None).index.documents}
    own = [(ids - operator, contextual) for ids, contextual in seen]
    both = {"lighthouse-log", "ships"}
    # the log's contextual segment, stale once the ships came, was never published
    assert own == [({"lighthouse-log"}, False), (both, False), (both, True)], own
    assert lib.answerer_for(A).answer("harbour records ships").answered


def test_closing_with_an_encoding_pending_returns_promptly(tmp_path, monkeypatch):
    import asyncio

    from bot.chat.services import Services
    from bot.config import DiscordConfig
    from bot.core import encoder

    lib = make_library(tmp_path)
    monkeypatch.setattr(encoder, "UPLOAD_CHARS", 10)
    gate = Gate(monkeypatch)
    lib.add_upload(A, "log.txt", LIGHTHOUSE, {"title": "Lighthouse log"})
    lib.add_upload(B, "log.txt", LIGHTHOUSE, {"title": "Lighthouse log"})  # (queued)
    assert gate.entered.wait(30)
    services = Services(DiscordConfig(), lib.answerer_for, lib)
    started = time.perf_counter()
    asyncio.run(services.close())  # the bot's close path, the encoder still held
    assert time.perf_counter() - started < 2.0
    gate.open.set()
    assert lib.wait_encoded(30)  # the one being encoded is dropped, the queued one too
    assert not lib.answerer_for(A).contextual and not lib.answerer_for(B).contextual
    assert_quotes_the_log(lib)


def test_a_process_exiting_while_encoding_in_the_background_exits_cleanly(tmp_path):
    """(Were onnxruntime still running on the encoder's thread at exit, the process would
    abort.)"""
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(ROOT)!r})
        import bot.core.library as L
        from bot.core.answers import AnswerSettings
        from bot.core.index import IndexSettings
        from bot.core.models import Document
        from bot.store import Store
        real = L.sentence_vectors
        def encoding(*args, **kwargs):
            print("encoding", flush=True)
            return real(*args, **kwargs)
        L.sentence_vectors = encoding
        store = Store(L.Path({str(tmp_path / "verbatim.sqlite3")!r}))
        text = " ".join(f"Sentence {{n}} of the harbour log." for n in range(20_000))
        store.add_document({A}, None, Document(id="log", collection="server-{A}", text=text))
        lib = L.Library([], store, IndexSettings(), AnswerSettings())
        lib.load()
        assert lib.answerer_for({A}).answer("harbour log").answered
        print("answered", flush=True)
        time.sleep(1.0)  # then exit, never closing the library, mid-document
    """)
    path = tmp_path / "exits.py"
    path.write_text(script)
    done = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "answered" in done.stdout and "encoding" in done.stdout
