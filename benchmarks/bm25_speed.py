"""Verbatim's BM25 against bm25s, tantivy and rank-bm25 on synthetic corpora, in one run.

Run from the repository root (bm25s and tantivy come with ``pip install -e '.[bench]'``)::

    python benchmarks/bm25_speed.py                   # 100k and 1M passages
    python benchmarks/bm25_speed.py --sizes 10000     # quick check, under a minute

For every size, each engine first builds its index in a process of its own (build time,
resident memory kept after the build and the peak during it, over the process's memory with
the corpus already generated), saving it to a temporary folder. This process then loads every
index and times top-10 queries on two query sets, engine after engine on the same queries:

* ``zipf``: 2 to 5 distinct words drawn from the corpus's own Zipf law, so very common words
  are frequent (the hard case for pruning);
* ``content``: the same, leaving out the 100 commonest words (what remains of a question after
  stopwords).

Engines: Verbatim's ``BM25Index.top`` (default settings: Lucene idf, k1 1.5, b 0.75; compiled
block-max kernel, one thread); bm25s (numba backend, ``retrieve(k=10, n_threads=1)``); tantivy
(a boolean query of SHOULD term queries, ``searcher.search(q, 10)``; block-max WAND); rank-bm25
(``get_scores`` + ``argpartition``, on a few queries). Verbatim in ``okapi`` mode is checked
against rank-bm25: the top-10 (ids and scores) must be identical.

The corpus is synthetic but shaped like real paragraphs after stopword removal and stemming:
token ids are drawn from a Zipf-Mandelbrot law (exponent 1, offset 30, so the commonest word
is in about one passage in five), the vocabulary grows with the corpus (Heaps-like: 50k words
at 10k passages, ~100k at 100k, ~200k at 1M), and passage lengths are a clipped normal
(mean 55, sd 12, 30..80 tokens). Everything is seeded, so runs are reproducible.

The full answer path (``--ask-sizes``, default 100k): the same Zipf words written out as
documents of 50 paragraphs (one passage each, sentences of 6 to 20 words, some capitalised
words and numbers), indexed with ``SearchIndex.build`` (the real analyzer), and questions
answered with ``Answerer.answer`` (search, candidate windows, the span and refusal models,
grouping, quotes), each question once, in order, GC on as in the bot: what a user waits for.
Half the questions take 3 to 5 words of a random passage (answerable), half are ``content``
queries; each gets a question word ("What", "How many", "When", "Who").
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import gc
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bot.core.answers import Answerer
from bot.core.bm25 import BM25Index, BM25Settings, Segment
from bot.core.index import IndexSettings, load_or_build, read_arrays, write_arrays
from bot.core.models import Document

Query = list[str]
Corpus = list[list[str]]

MIB = 1024 * 1024
PAGE = os.sysconf("SC_PAGE_SIZE")
TOP_K = 10
ZIPF_EXPONENT = 1.0
ZIPF_OFFSET = 30.0
LEN_MEAN, LEN_SD, LEN_MIN, LEN_MAX = 55.0, 12.0, 30, 80
GEN_CHUNK = 50_000  # passages generated per numpy batch, to bound temporaries
CONTENT_SKIP = 100  # "content" queries leave out this many commonest words
ENGINES = ("verbatim", "bm25s", "tantivy", "rank-bm25")


# --------------------------------------------------------------------------- memory


def rss() -> int:
    """Resident set size of this process, in bytes."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


LIBC = _libc()


def release_free_memory() -> None:
    """Collect garbage and hand freed heap pages back to the OS (glibc ``malloc_trim``), so
    that the next build's RSS growth is not hidden by memory freed after the previous one."""
    gc.collect()
    trim = getattr(LIBC, "malloc_trim", None)
    if trim is not None:
        trim(0)


def reset_peak() -> bool:
    """Reset the kernel's peak-RSS counter (VmHWM); False where that is not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def peak_rss() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


# --------------------------------------------------------------------------- corpus


def vocab_size(n_docs: int) -> int:
    """Heaps-like growth: 50k words at 10k passages, ~100k at 100k, ~200k at 1M."""
    return int(np.clip(50_000 * (n_docs / 10_000) ** 0.3, 50_000, 200_000))


def make_words(n: int, seed: int) -> list[str]:
    """``n`` distinct pseudo-words (lowercase, 3 to 14 letters), the same prefix for any n."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    words: dict[str, None] = {}
    while len(words) < n:
        batch = 2 * (n - len(words)) + 1000
        lens = np.clip(3 + rng.poisson(4.0, batch), 3, 14)
        chars = letters[rng.integers(0, 26, int(lens.sum()))]
        ends = np.cumsum(lens)
        flat = "".join(chars.tolist())
        for a, b in zip((ends - lens).tolist(), ends.tolist(), strict=True):
            words.setdefault(flat[a:b])
            if len(words) == n:
                break
    return list(words)


def make_corpus(n_docs: int, words: Sequence[str], seed: int) -> Corpus:
    """``n_docs`` passages of Zipf-distributed words, as lists of ``str``. Equal tokens are the
    same ``str`` object, which saves memory but changes neither index's work (both hash and
    compare the strings as usual)."""
    rng = np.random.default_rng(seed)
    n_vocab = vocab_size(n_docs)
    ranks = np.arange(1, n_vocab + 1, dtype=np.float64)
    cdf = np.cumsum((ranks + ZIPF_OFFSET) ** -ZIPF_EXPONENT)
    cdf /= cdf[-1]
    table = np.array(words[:n_vocab], dtype=object)
    lengths = np.clip(np.rint(rng.normal(LEN_MEAN, LEN_SD, n_docs)), LEN_MIN, LEN_MAX)
    lengths = lengths.astype(np.int64)
    docs: Corpus = []
    for start in range(0, n_docs, GEN_CHUNK):
        lens = lengths[start : start + GEN_CHUNK]
        ids = np.searchsorted(cdf, rng.random(int(lens.sum())), side="right")
        tokens = table[np.minimum(ids, n_vocab - 1)].tolist()
        ends = np.cumsum(lens)
        docs.extend(tokens[a:b] for a, b in zip((ends - lens).tolist(), ends.tolist(), strict=True))
    return docs


def zipf_cdf(n_vocab: int) -> np.ndarray:
    ranks = np.arange(1, n_vocab + 1, dtype=np.float64)
    cdf = np.cumsum((ranks + ZIPF_OFFSET) ** -ZIPF_EXPONENT)
    return cdf / cdf[-1]


def make_queries(n_docs: int, words: Sequence[str], n: int, skip: int, seed: int) -> list[Query]:
    """``n`` queries of 2 to 5 distinct words drawn from the corpus's Zipf law, leaving out the
    ``skip`` commonest words."""
    rng = np.random.default_rng(seed)
    n_vocab = vocab_size(n_docs)
    cdf = zipf_cdf(n_vocab)
    lo = cdf[skip - 1] if skip else 0.0
    queries: list[Query] = []
    for _ in range(n):
        size = int(rng.integers(2, 6))
        picked: dict[str, None] = {}
        while len(picked) < size:
            u = lo + (1.0 - lo) * rng.random()
            rank = min(int(np.searchsorted(cdf, u, side="right")), n_vocab - 1)
            picked.setdefault(words[rank])
        queries.append(list(picked))
    return queries


# --------------------------------------------------------------------------- answers

ASK_PARAGRAPHS = 50  # paragraphs (passages) per synthetic document
QUESTION_WORDS = ("What is", "How many", "When did", "Who said")


def make_documents(n_passages: int, words: Sequence[str], seed: int) -> list[Document]:
    """``n_passages`` paragraphs of the speed corpus's words as text, ``ASK_PARAGRAPHS`` to a
    document: sentences of 6 to 20 words, one word in 20 capitalised, one in 40 a number."""
    rng = np.random.default_rng(seed)
    docs = make_corpus(n_passages, words, seed)
    out = []
    for d in range(0, n_passages, ASK_PARAGRAPHS):
        paras = []
        for tokens in docs[d : d + ASK_PARAGRAPHS]:
            tokens = list(tokens)
            for i in np.flatnonzero(rng.random(len(tokens)) < 0.05).tolist():
                tokens[i] = tokens[i].capitalize()
            for i in np.flatnonzero(rng.random(len(tokens)) < 0.025).tolist():
                tokens[i] = str(int(rng.integers(2, 3000)))
            cuts = np.cumsum(rng.integers(6, 21, len(tokens)))
            sents, lo = [], 0
            for hi in cuts.tolist():
                if lo >= len(tokens):
                    break
                sent = tokens[lo:hi]
                sents.append(" ".join([sent[0].capitalize(), *sent[1:]]) + ".")
                lo = hi
            paras.append(" ".join(sents))
        out.append(Document(id=f"doc-{d // ASK_PARAGRAPHS}", text="\n\n".join(paras)))
    return out


def make_questions(
    documents: Sequence[Document], n_docs: int, words: Sequence[str], n: int, seed: int
) -> list[str]:
    """Half from a random passage's words (3 to 5 of them), half ``content`` queries; each
    opened by a question word."""
    rng = np.random.default_rng(seed)
    content = make_queries(n_docs, words, n, CONTENT_SKIP, seed)
    out = []
    for i in range(n):
        if i % 2:
            q = content[i]
        else:
            doc = documents[int(rng.integers(len(documents)))]
            paras = doc.text.split("\n\n")
            para = paras[int(rng.integers(len(paras)))].replace(".", "").split()
            size = min(len(para), int(rng.integers(3, 6)))
            picks = rng.choice(len(para), size=size, replace=False)
            q = [para[j] for j in sorted(picks.tolist())]
        out.append(f"{QUESTION_WORDS[i % len(QUESTION_WORDS)]} {' '.join(q)}?")
    return out


def bench_ask(n_docs: int, words: Sequence[str], args: argparse.Namespace) -> dict:
    """Per-question time of ``Answerer.answer`` over ``n_docs`` synthetic passages."""
    documents = make_documents(n_docs, words, args.seed + n_docs)
    cache = Path(args.ask_cache) if args.ask_cache else Path(tempfile.mkdtemp(prefix="ask-"))
    cache.mkdir(parents=True, exist_ok=True)
    log(f"{n_docs:,} passages: indexing {len(documents):,} documents for the answer path ...")
    t0 = time.perf_counter()
    index, cached = load_or_build(documents, IndexSettings(), cache)
    built = time.perf_counter() - t0
    log(f"  {'loaded' if cached else 'built'} in {built:.1f} s ({len(index):,} passages)")
    answerer = Answerer(index)
    questions = make_questions(documents, n_docs, words, args.questions, args.seed + 3)
    for q in make_questions(documents, n_docs, words, 20, args.seed + 4):
        answerer.answer(q)  # warm-up: other questions
    total, search, gen2 = [], [], []
    gc.collect()
    answered = 0

    def on_gc(phase: str, info: dict) -> None:
        if phase == "stop" and info["generation"] == 2:
            gen2.append(1)

    gc.callbacks.append(on_gc)
    try:
        for q in questions:
            t0 = time.perf_counter()
            ans = answerer.answer(q)
            total.append((time.perf_counter() - t0) * 1e3)
            search.append(ans.timings.search_ms)
            answered += ans.answered
    finally:
        gc.callbacks.remove(on_gc)
    # then the best of more passes (nothing is cached between them: each pass reads the
    # passages' stored sentences again), so that a question preempted by another process on
    # this shared machine is not charged for it
    best = np.asarray(total)
    for _ in range(args.rounds - 1):
        again = []
        for q in questions:
            t0 = time.perf_counter()
            answerer.answer(q)
            again.append((time.perf_counter() - t0) * 1e3)
        best = np.minimum(best, again)
    if not args.ask_cache:
        shutil_rmtree(cache)
    return {
        "passages": len(index),
        "questions": len(questions),
        "answered": answered,
        "p50": float(np.percentile(total, 50)),
        "p99": float(np.percentile(total, 99)),
        "max": float(max(total)),
        "best_p50": float(np.percentile(best, 50)),
        "best_p99": float(np.percentile(best, 99)),
        "search_p50": float(np.percentile(search, 50)),
        "search_p99": float(np.percentile(search, 99)),
        "gen2": len(gen2),
        "index_s": built,
        "from_cache": cached,
    }


def ask_table(rows: Sequence[dict], rounds: int) -> str:
    lines = [
        "| passages | questions (answered) | first pass p50 / p99 / max ms "
        f"| best of {rounds} p50 / p99 ms | search p50 / p99 ms | full GCs in first pass |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['passages']:,} | {r['questions']:,} ({r['answered']:,}) "
            f"| {r['p50']:.2f} / {r['p99']:.2f} / {r['max']:.2f} "
            f"| {r['best_p50']:.2f} / {r['best_p99']:.2f} "
            f"| {r['search_p50']:.3f} / {r['search_p99']:.3f} | {r['gen2']} |"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------- engines


def build(engine: str, docs: Corpus, folder: Path) -> Callable[[], object]:
    """A function building one engine's index over ``docs`` and saving it into ``folder``."""
    if engine == "verbatim":

        def run() -> object:
            seg = Segment.build(docs, BM25Settings())
            save_verbatim(seg, folder / "verbatim-lucene.bin")
            return seg

        return run
    if engine == "bm25s":
        import bm25s

        def run() -> object:
            retriever = bm25s.BM25(backend="numba")
            retriever.index(docs, show_progress=False)
            retriever.save(str(folder / "bm25s"), show_progress=False)
            return retriever

        return run
    if engine == "tantivy":
        import tantivy

        def run() -> object:
            builder = tantivy.SchemaBuilder()
            builder.add_text_field("body", stored=False, tokenizer_name="whitespace")
            path = folder / "tantivy"
            path.mkdir(exist_ok=True)
            index = tantivy.Index(builder.build(), path=str(path))
            writer = index.writer(heap_size=256 * MIB, num_threads=1)
            for doc in docs:
                writer.add_document(tantivy.Document(body=" ".join(doc)))
            writer.commit()
            writer.wait_merging_threads()
            return index

        return run
    if engine == "rank-bm25":
        from rank_bm25 import BM25Okapi

        return lambda: BM25Okapi(docs)
    raise ValueError(engine)


def save_verbatim(seg: Segment, path: Path) -> None:
    with open(path, "wb") as fh:
        write_arrays(fh, seg.arrays(), "bench")


def load_verbatim(path: Path, idf: str) -> BM25Index:
    arrays = read_arrays(path, "bench")
    assert arrays is not None
    return BM25Index([Segment.from_arrays(arrays)], BM25Settings(idf=idf))


def searchers(folder: Path, engines: Sequence[str], docs: Corpus | None) -> dict[str, Callable]:
    """Each engine's ``query -> top-10 ids``, over the indexes saved in ``folder``."""
    out: dict[str, Callable] = {}
    if "verbatim" in engines:
        ours = load_verbatim(folder / "verbatim-lucene.bin", "lucene")
        out["verbatim"] = lambda q: ours.top(q, TOP_K)
    if "bm25s" in engines:
        import bm25s

        retriever = bm25s.BM25.load(str(folder / "bm25s"), show_progress=False)
        retriever.backend = "numba"
        retriever.activate_numba_scorer()

        def run_bm25s(q: Query) -> object:
            return retriever.retrieve([q], k=TOP_K, show_progress=False, n_threads=1)

        out["bm25s"] = run_bm25s
    if "tantivy" in engines:
        import tantivy

        index = tantivy.Index.open(str(folder / "tantivy"))
        schema = index.schema
        searcher = index.searcher()

        def run_tantivy(q: Query) -> object:
            clauses = [
                (tantivy.Occur.Should, tantivy.Query.term_query(schema, "body", t)) for t in q
            ]
            return searcher.search(tantivy.Query.boolean_query(clauses), TOP_K).hits

        out["tantivy"] = run_tantivy
    if "rank-bm25" in engines and docs is not None:
        from rank_bm25 import BM25Okapi

        reference = BM25Okapi(docs)
        out["rank-bm25"] = lambda q: rank_bm25_top(reference, q)
        out["_reference"] = reference.get_scores
    return out


def rank_bm25_top(bm25, query: Query, k: int = TOP_K) -> np.ndarray:
    """What a rank-bm25 user does for a top-k: score every document, then partition."""
    scores = bm25.get_scores(query)
    top = np.argpartition(-scores, k)[:k]
    return top[np.argsort(-scores[top], kind="stable")]


def same_top(ours: list[tuple[int, float]], scores: np.ndarray, query: Query, docs: Corpus) -> bool:
    """Is our top-10 exactly rank-bm25's (same ids, same scores, ties to the lower id), among
    the passages holding a query word?"""
    words = set(query)
    matching = [i for i, d in enumerate(docs) if not words.isdisjoint(d)]
    best = sorted(matching, key=lambda i: (-scores[i], i))[:TOP_K]
    return ours == [(i, float(scores[i])) for i in best]


# --------------------------------------------------------------------------- timing


def time_queries(
    run: Callable[[Query], object], queries: Sequence[Query], warmup: int, rounds: int
) -> np.ndarray:
    """Per-query wall time in ms: the best of ``rounds`` passes over all the queries (so a
    query preempted by another process on this shared machine is not charged for it), after
    ``warmup`` untimed queries, GC off while timing."""
    for q in queries[:warmup]:
        run(q)
    out = np.full(len(queries), np.inf)
    gc.disable()
    try:
        for _ in range(rounds):
            for i, q in enumerate(queries):
                t0 = time.perf_counter()
                run(q)
                out[i] = min(out[i], time.perf_counter() - t0)
    finally:
        gc.enable()
    return out * 1e3


# --------------------------------------------------------------------------- processes


def build_process(args: argparse.Namespace) -> None:
    """Child process: generate the corpus, build one engine's index, print a JSON line."""
    words = make_words(args.words, seed=args.seed)
    docs = make_corpus(args.size, words, seed=args.seed + args.size)
    folder = Path(args.folder)
    make = build(args.build, docs, folder)
    if args.build in ("verbatim", "bm25s"):  # compile (or load) their numba code first
        build(args.build, docs[:1000], Path(tempfile.mkdtemp(prefix="bm25-warm-")))()
    release_free_memory()
    base = rss()
    has_peak = reset_peak()
    t0 = time.perf_counter()
    obj = make()
    seconds = time.perf_counter() - t0
    peak = peak_rss() - base if has_peak else None
    release_free_memory()
    result = {"build_s": seconds, "retained": rss() - base, "peak": peak}
    del obj
    if args.build == "verbatim":
        path = folder / "verbatim-lucene.bin"
        t0 = time.perf_counter()
        load_verbatim(path, "lucene")
        result["load_s"] = time.perf_counter() - t0
        result["file"] = path.stat().st_size
        save_verbatim(Segment.build(docs, BM25Settings(idf="okapi")), folder / "verbatim-okapi.bin")
    print(json.dumps(result), flush=True)


def run_build(engine: str, size: int, folder: Path, args: argparse.Namespace) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--build",
        engine,
        "--size",
        str(size),
        "--folder",
        str(folder),
    ]
    cmd += ["--seed", str(args.seed), "--words", str(vocab_size(max(args.size_list)))]
    done = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- main


def fmt(x: float | None, digits: int = 2) -> str:
    return "—" if x is None else f"{x:,.{digits}f}"


def bench_size(n_docs: int, words: Sequence[str], args: argparse.Namespace) -> tuple[list, list]:
    engines = [e for e in ENGINES if e in args.engines]
    folder = Path(tempfile.mkdtemp(prefix="bm25-bench-"))
    builds = {}
    for engine in engines:
        log(f"{n_docs:,} passages: building {engine} in its own process ...")
        builds[engine] = run_build(engine, n_docs, folder, args)
        log(f"  {builds[engine]}")
    docs = make_corpus(n_docs, words, seed=args.seed + n_docs) if "rank-bm25" in engines else None
    run = searchers(folder, engines, docs)
    sets = {
        "zipf": make_queries(n_docs, words, args.queries, 0, args.seed + 1),
        "content": make_queries(n_docs, words, args.queries, CONTENT_SKIP, args.seed + 2),
    }
    speed_rows = []
    for name, queries in sets.items():
        cells = {}
        for engine in engines:
            qs = queries[: args.reference_queries] if engine == "rank-bm25" else queries
            ms = time_queries(run[engine], qs, min(args.warmup, len(qs) // 5), args.rounds)
            cells[engine] = (float(np.percentile(ms, 50)), float(np.percentile(ms, 99)), len(qs))
            log(f"  {name} {engine}: p50 {cells[engine][0]:.3f} ms, p99 {cells[engine][1]:.3f} ms")
        check = "—"
        if docs is not None:
            okapi = load_verbatim(folder / "verbatim-okapi.bin", "okapi")
            qs = queries[: args.check_queries]
            ok = sum(same_top(okapi.top(q, TOP_K), run["_reference"](q), q, docs) for q in qs)
            check = f"{ok}/{len(qs)}"
            log(f"  {name}: okapi top-{TOP_K} identical to rank-bm25 for {check} queries")
        speed_rows.append((n_docs, name, cells, check))
    shutil_rmtree(folder)
    return speed_rows, [(n_docs, e, builds[e]) for e in engines]


def shutil_rmtree(folder: Path) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


def tables(speed: list, builds: list, engines: Sequence[str]) -> str:
    names = {
        "verbatim": "Verbatim",
        "bm25s": "bm25s (numba)",
        "tantivy": "tantivy",
        "rank-bm25": "rank-bm25",
    }
    head = "| passages | queries | " + " | ".join(names[e] for e in engines)
    lines = [
        head + f" | okapi top-{TOP_K} = rank-bm25 |",
        "|---|---|" + "---:|" * len(engines) + "---:|",
    ]
    for n_docs, name, cells, check in speed:
        row = [f"{n_docs:,}", name]
        row += [f"{cells[e][0]:.3f} / {cells[e][1]:.3f}" if e in cells else "—" for e in engines]
        lines.append("| " + " | ".join([*row, check]) + " |")
    lines += [
        "",
        "| passages | engine | build s | retained MB | peak MB during build | cache load s |",
    ]
    lines.append("|---|---|---:|---:|---:|---:|")
    for n_docs, engine, b in builds:
        peak = None if b["peak"] is None else b["peak"] / MIB
        lines.append(
            f"| {n_docs:,} | {names[engine]} | {b['build_s']:.2f} | {b['retained'] / MIB:,.0f} | "
            f"{fmt(peak, 0)} | {fmt(b.get('load_s'), 3)} |"
        )
    return "\n".join(lines)


def machine() -> str:
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        model = next(
            (ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), model
        )
    versions = ", ".join(
        f"{p} {importlib.metadata.version(p)}"
        for p in ("numpy", "numba", "bm25s", "tantivy", "rank-bm25")
    )
    total = os.sysconf("SC_PHYS_PAGES") * PAGE / 1024**3
    return (
        f"Machine: {len(os.sched_getaffinity(0))} cores, {model}, {total:.0f} GiB RAM; "
        f"{platform.system()} {platform.release()}; Python {platform.python_version()}, {versions}"
    )


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--sizes", default="100000,1000000", help="corpus sizes (default: %(default)s)")
    p.add_argument("--engines", default=",".join(ENGINES), help="default: %(default)s")
    p.add_argument("--queries", type=int, default=1000, help="timed queries per set")
    p.add_argument("--reference-queries", type=int, default=20, help="timed for rank-bm25")
    p.add_argument("--check-queries", type=int, default=20, help="okapi top-10 vs rank-bm25")
    p.add_argument("--warmup", type=int, default=50, help="untimed queries before timing")
    p.add_argument("--rounds", type=int, default=3, help="passes over the queries (best kept)")
    p.add_argument("--seed", type=int, default=20240601)
    p.add_argument("--ask-sizes", default="100000", help="answer-path sizes ('' for none)")
    p.add_argument("--questions", type=int, default=1000, help="questions on the answer path")
    p.add_argument("--ask-cache", help="keep the answer path's index cache in this folder")
    p.add_argument("--no-engines", action="store_true", help="only the answer path")
    p.add_argument("--build", choices=ENGINES, help=argparse.SUPPRESS)
    p.add_argument("--size", type=int, help=argparse.SUPPRESS)
    p.add_argument("--folder", help=argparse.SUPPRESS)
    p.add_argument("--words", type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.size_list = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    args.engines = [e.strip() for e in args.engines.split(",")]
    args.ask_list = [int(s.replace("_", "")) for s in args.ask_sizes.split(",") if s.strip()]
    if args.no_engines:
        args.size_list = []
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if args.build:
        build_process(args)
        return
    t0 = time.perf_counter()
    words = make_words(vocab_size(max([*args.size_list, *args.ask_list])), seed=args.seed)
    speed, builds, asks = [], [], []
    for n_docs in args.size_list:
        s, b = bench_size(n_docs, words, args)
        speed += s
        builds += b
        gc.collect()
    for n_docs in args.ask_list:
        asks.append(bench_ask(n_docs, words, args))
        log(f"  {asks[-1]}")
        gc.collect()
    engines = [e for e in ENGINES if e in args.engines]
    print(machine())
    print()
    if asks:
        print(ask_table(asks, args.rounds))
        print()
        print(
            "Answer path: Answerer.answer per question (search, candidate windows, models,"
            f" quotes), GC on, the index loaded from its cache file; first pass: each question"
            f" once, as a user waits for it; best of {args.rounds}: each question's fastest of"
            " that many passes (only the tokeniser's cache of question words is kept"
            " between passes)."
        )
        print()
    if not speed:
        return
    print(tables(speed, builds, engines))
    print()
    print(
        f"Latency: p50 / p99 ms of a top-{TOP_K} query, {args.queries} queries per set for the"
        f" engines (rank-bm25: the first {args.reference_queries}), each query's best of"
        f" {args.rounds} passes, one thread, GC off while timing, indexes loaded from their saved"
        " files. Builds: each engine in its own process;"
        " retained and peak: resident memory over the process's own before the build (the"
        " corpus already generated; numba code compiled beforehand). Cache load: Verbatim's"
        " memory-mapped index file."
    )
    log(f"done in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
