"""Speed and size of Verbatim's BM25 index against rank-bm25, on synthetic corpora.

Run from the repository root::

    python benchmarks/bm25_speed.py                      # 10k, 100k and 1M passages
    python benchmarks/bm25_speed.py --sizes 10000        # quick check, well under a minute

For every corpus size, in the same process and on the same passages and queries, it builds

* ``BM25Index`` with the default settings (Lucene idf): this is what the bot answers with;
* ``BM25Index`` with ``idf="okapi"``: same code path, used to check scores against rank-bm25;
* rank-bm25's ``BM25Okapi``: the reference (skipped, with a note, when its estimated memory
  does not fit),

and prints a Markdown table: build time, index size, RSS growth (retained after the build,
and peak during it), query latency (p50 / p99 / mean of ``.top(q, 10)`` for ours, of
``get_scores`` + ``argpartition`` top-10 for rank-bm25), the speed-up, and the largest
absolute score difference between okapi mode and rank-bm25.

The corpus is synthetic but shaped like real paragraphs after stopword removal and stemming:
token ids are drawn from a Zipf-Mandelbrot law (exponent 1, offset 30, so the commonest word
is in about one passage in five), the vocabulary grows with the corpus (Heaps-like: 50k words
at 10k passages, ~100k at 100k, ~200k at 1M), and passage lengths are a clipped normal
(mean 55, sd 12, 30..80 tokens). Queries have 2 to 5 distinct terms taken from one passage,
at least one among its rarest terms and one among its commonest, so every query matches.
Everything is seeded, so runs are reproducible.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import gc
import importlib.metadata
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

import numpy as np
from rank_bm25 import BM25Okapi

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bot.core.bm25 import BM25Index, BM25Settings

Query = list[str]
Corpus = list[list[str]]

MIB = 1024 * 1024
PAGE = os.sysconf("SC_PAGE_SIZE")
TOP_K = 10
ZIPF_EXPONENT = 1.0
ZIPF_OFFSET = 30.0
LEN_MEAN, LEN_SD, LEN_MIN, LEN_MAX = 55.0, 12.0, 30, 80
GEN_CHUNK = 50_000  # passages generated per numpy batch, to bound temporaries
RANK_BM25_LIMIT = 8 * 1024**3  # never let rank-bm25 use more than this
CHECK_TOL = 1e-9


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


def mem_available() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return RANK_BM25_LIMIT


T = TypeVar("T")


@dataclass
class Built(Generic[T]):
    obj: T
    seconds: float
    rss_growth: int
    peak_growth: int | None


def measure_build(make: Callable[[], T]) -> Built[T]:
    """Build something, timing it and tracking RSS before, after and at peak."""
    release_free_memory()
    base = rss()
    has_peak = reset_peak()
    t0 = time.perf_counter()
    obj = make()
    seconds = time.perf_counter() - t0
    peak = peak_rss() - base if has_peak else None
    release_free_memory()
    return Built(obj, seconds, rss() - base, peak)


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


def make_queries(docs: Corpus, words: Sequence[str], n: int, seed: int) -> list[Query]:
    """``n`` queries of 2 to 5 distinct terms from random passages: one of the passage's rarest
    terms, one of its commonest, the rest at random; in random order."""
    rng = np.random.default_rng(seed)
    rank = {w: i for i, w in enumerate(words)}
    queries: list[Query] = []
    for d in rng.integers(0, len(docs), n).tolist():
        terms = sorted(dict.fromkeys(docs[d]), key=rank.__getitem__)  # commonest first
        size = min(int(rng.integers(2, 6)), len(terms))
        third = max(1, len(terms) // 3)
        common = terms[int(rng.integers(0, third))]
        rare = terms[len(terms) - 1 - int(rng.integers(0, third))]
        picked = [common] if common == rare else [common, rare]
        rest = [t for t in terms if t not in picked]
        extra = rng.choice(len(rest), size=max(0, size - len(picked)), replace=False)
        picked += [rest[i] for i in extra.tolist()]
        rng.shuffle(picked)
        queries.append(picked)
    return queries


# --------------------------------------------------------------------------- timing


@dataclass
class Latency:
    ms: np.ndarray  # one per query

    @property
    def p50(self) -> float:
        return float(np.percentile(self.ms, 50))

    @property
    def p99(self) -> float:
        return float(np.percentile(self.ms, 99))

    @property
    def mean(self) -> float:
        return float(self.ms.mean())

    def head(self, n: int) -> Latency:
        return Latency(self.ms[:n])


def time_queries(run: Callable[[Query], object], queries: Sequence[Query], warmup: int) -> Latency:
    """Per-query wall time in ms, after ``warmup`` untimed queries. The garbage collector is
    off while timing (as in :mod:`timeit`): a full collection over millions of token lists
    would land on some random query of either index."""
    for q in queries[:warmup]:
        run(q)
    out = np.empty(len(queries), dtype=np.float64)
    gc.disable()
    try:
        for i, q in enumerate(queries):
            t0 = time.perf_counter()
            run(q)
            out[i] = time.perf_counter() - t0
    finally:
        gc.enable()
    return Latency(out * 1e3)


def rank_bm25_top(bm25: BM25Okapi, query: Query, k: int = TOP_K) -> np.ndarray:
    """What a rank-bm25 user does for a top-k: score every document, then partition."""
    scores = bm25.get_scores(query)
    top = np.argpartition(-scores, k)[:k]
    return top[np.argsort(-scores[top], kind="stable")]


# --------------------------------------------------------------------------- correctness


@dataclass
class Check:
    max_abs_diff: float = 0.0
    top_ok: int = 0
    top_total: int = 0
    notes: list[str] = field(default_factory=list)


def same_top(ours: list[tuple[int, float]], ref: np.ndarray, k: int) -> bool:
    """Do our top-k and rank-bm25's agree, up to the order of tied scores? Compares the sorted
    score lists, then requires every id found in only one list to tie with the k-th score."""
    ref_ids = np.argpartition(-ref, k)[:k]
    ref_sorted = np.sort(ref[ref_ids])[::-1]
    our_scores = np.array([s for _, s in ours])
    if len(ours) < k:  # fewer than k matches: the rest of rank-bm25's top-k scores 0
        our_scores = np.concatenate([our_scores, np.zeros(k - len(ours))])
    if not np.allclose(our_scores, ref_sorted, rtol=0.0, atol=CHECK_TOL):
        return False
    kth = ref_sorted[-1]
    mine, theirs = {i for i, _ in ours}, set(ref_ids.tolist())
    return all(abs(ref[i] - kth) <= CHECK_TOL for i in mine ^ theirs)


def check(okapi: BM25Index, bm25: BM25Okapi, queries: Sequence[Query]) -> Check:
    result = Check()
    for q in queries:
        ref = bm25.get_scores(q)
        ours = okapi.get_scores(q)
        result.max_abs_diff = max(result.max_abs_diff, float(np.max(np.abs(ours - ref))))
        result.top_total += 1
        if same_top(okapi.top(q, TOP_K), ref, TOP_K):
            result.top_ok += 1
        else:
            result.notes.append(f"top-{TOP_K} differs for {q!r}")
    return result


# --------------------------------------------------------------------------- estimate


def estimate_rank_bm25_bytes(docs: Corpus, n_vocab: int) -> int:
    """rank-bm25 keeps one dict per passage ({word: tf}) plus two vocabulary-wide dicts (df
    and idf). Extrapolated from a sample of passages, with Python's own object sizes."""
    sample = docs[: min(len(docs), 5_000)]
    per_doc = sum(sys.getsizeof(dict.fromkeys(d, 0)) for d in sample) / len(sample)
    per_doc += 8 + 8  # list slots in doc_freqs and doc_len
    return int(len(docs) * per_doc + n_vocab * 2 * 100)  # dict entry + float, generously


def rank_bm25_bytes(bm25: BM25Okapi) -> int:
    """Python object sizes of what rank-bm25 keeps: one {word: tf} dict per passage, the
    passage-length list, and the idf dict (words are shared with the corpus, not counted)."""
    size = sys.getsizeof(bm25.doc_freqs) + sum(map(sys.getsizeof, bm25.doc_freqs))
    size += sys.getsizeof(bm25.doc_len) + sys.getsizeof(bm25.idf)
    return size + len(bm25.idf) * sys.getsizeof(1.0)


# --------------------------------------------------------------------------- table


@dataclass
class Row:
    passages: int
    vocab: int
    index: str
    build_s: float | None = None
    size_mb: float | None = None
    rss_mb: float | None = None
    peak_mb: float | None = None
    queries: int | None = None
    lat: Latency | None = None
    speedup: str = ""
    diff: str = ""
    top: str = ""
    note: str = ""


def fmt(x: float | None, digits: int = 1) -> str:
    if x is None:
        return "—"
    if digits == 3 and x < 0.1:
        return f"{x:.4f}"
    return f"{x:,.{digits}f}"


def table(rows: Sequence[Row]) -> str:
    head = [
        "passages",
        "vocab",
        "index",
        "build s",
        "size MB",
        "RSS +MB",
        "peak +MB",
        "queries",
        "p50 ms",
        "p99 ms",
        "mean ms",
        "speed-up (mean / p50)",
        "max abs Δscore",
        f"top-{TOP_K} = rank-bm25",
    ]
    align = [":---" if h == "index" else "---:" for h in head]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(align) + "|"]
    for r in rows:
        cells = [
            f"{r.passages:,}",
            f"{r.vocab:,}",
            r.index,
            fmt(r.build_s, 2),
            fmt(r.size_mb),
            fmt(r.rss_mb, 0),
            fmt(r.peak_mb, 0),
            "—" if r.queries is None else f"{r.queries:,}",
            fmt(r.lat.p50 if r.lat else None, 3),
            fmt(r.lat.p99 if r.lat else None, 3),
            fmt(r.lat.mean if r.lat else None, 3),
            r.speedup or "—",
            r.diff or "—",
            r.top or "—",
        ]
        if r.note:
            cells[2] += f" ({r.note})"
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def machine() -> str:
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0))
    total = os.sysconf("SC_PHYS_PAGES") * PAGE / 1024**3
    return (
        f"Machine: {cores} cores (nproc), {model}, {total:.0f} GiB RAM; "
        f"{platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}, numpy {np.__version__}, "
        f"rank-bm25 {importlib.metadata.version('rank-bm25')}"
    )


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- main


def bench_size(n_docs: int, words: Sequence[str], args: argparse.Namespace) -> list[Row]:
    t0 = time.perf_counter()
    docs = make_corpus(n_docs, words, seed=args.seed + n_docs)
    queries = make_queries(docs, words, args.queries, seed=args.seed + 1 + n_docs)
    n_ref = args.reference_queries if n_docs < 1_000_000 else args.reference_queries_1m
    n_ref = min(n_ref, len(queries))
    n_tokens = sum(map(len, docs))
    log(
        f"{n_docs:,} passages, {n_tokens:,} tokens generated in {time.perf_counter() - t0:.1f} s"
        f" (RSS {rss() / MIB:,.0f} MB)"
    )

    rows: list[Row] = []
    indexes: dict[str, BM25Index] = {}
    for idf in ("lucene", "okapi"):
        built = measure_build(lambda idf=idf: BM25Index.build(docs, BM25Settings(idf=idf)))
        index = built.obj
        indexes[idf] = index
        size = sum(a.nbytes for a in index.arrays().values()) + index.weights.nbytes
        lat = time_queries(lambda q, ix=index: ix.top(q, TOP_K), queries, args.warmup)
        log(
            f"  ours ({idf}): build {built.seconds:.2f} s, {size / MIB:,.1f} MB, "
            f"p50 {lat.p50:.3f} ms, p99 {lat.p99:.3f} ms, mean {lat.mean:.3f} ms"
        )
        rows.append(
            Row(
                passages=n_docs,
                vocab=len(index.terms),
                index="ours" + (" (default: lucene idf)" if idf == "lucene" else " (okapi idf)"),
                build_s=built.seconds,
                size_mb=size / MIB,
                rss_mb=built.rss_growth / MIB,
                peak_mb=None if built.peak_growth is None else built.peak_growth / MIB,
                queries=len(queries),
                lat=lat,
            )
        )
    vocab = len(indexes["lucene"].terms)

    estimate = estimate_rank_bm25_bytes(docs, vocab)
    budget = min(RANK_BM25_LIMIT, int(0.8 * mem_available()))
    if args.no_reference or estimate > budget:
        why = (
            "skipped (--no-reference)"
            if args.no_reference
            else f"skipped: needs ~{estimate / 1024**3:.1f} GB > {budget / 1024**3:.1f} GB budget"
        )
        log(f"  rank-bm25: {why}")
        rows.append(Row(passages=n_docs, vocab=vocab, index="rank-bm25 BM25Okapi", note=why))
        return rows

    log(f"  rank-bm25: building (estimated {estimate / MIB:,.0f} MB) ...")
    built_ref = measure_build(lambda: BM25Okapi(docs))
    bm25 = built_ref.obj
    ref_queries = queries[:n_ref]
    ref_lat = time_queries(lambda q: rank_bm25_top(bm25, q), ref_queries, min(2, n_ref))
    log(
        f"  rank-bm25: build {built_ref.seconds:.2f} s, RSS +{built_ref.rss_growth / MIB:,.0f} MB,"
        f" p50 {ref_lat.p50:.2f} ms, mean {ref_lat.mean:.2f} ms over {n_ref} queries"
    )
    result = check(indexes["okapi"], bm25, queries[: args.check_queries])
    for note in result.notes:
        log(f"  CHECK FAILED: {note}")
    log(
        f"  check: max |Δscore| {result.max_abs_diff:.2e}, "
        f"top-{TOP_K} equal {result.top_ok}/{result.top_total}"
    )
    rows.append(
        Row(
            passages=n_docs,
            vocab=vocab,
            index="rank-bm25 BM25Okapi",
            build_s=built_ref.seconds,
            size_mb=rank_bm25_bytes(bm25) / MIB,
            rss_mb=built_ref.rss_growth / MIB,
            peak_mb=None if built_ref.peak_growth is None else built_ref.peak_growth / MIB,
            queries=n_ref,
            lat=ref_lat,
        )
    )
    # Speed-up on the very queries rank-bm25 ran (the first n_ref of ours), not on all of ours.
    for row in rows[:2]:
        assert row.lat is not None
        mine = row.lat.head(n_ref)
        row.speedup = f"{ref_lat.mean / mine.mean:,.0f}× / {ref_lat.p50 / mine.p50:,.0f}×"
    okapi_row = rows[1]
    okapi_row.diff = f"{result.max_abs_diff:.1e}"
    okapi_row.top = f"{result.top_ok}/{result.top_total}"
    return rows


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument(
        "--sizes",
        default="10000,100000,1000000",
        help="comma-separated corpus sizes in passages (default: %(default)s)",
    )
    p.add_argument("--queries", type=int, default=1000, help="timed queries for ours")
    p.add_argument(
        "--reference-queries",
        type=int,
        default=50,
        help="timed queries for rank-bm25 below 1M passages (default: %(default)s)",
    )
    p.add_argument(
        "--reference-queries-1m",
        type=int,
        default=10,
        help="timed queries for rank-bm25 at 1M passages and more (default: %(default)s)",
    )
    p.add_argument(
        "--check-queries",
        type=int,
        default=5,
        help="queries whose full score vectors are compared with rank-bm25",
    )
    p.add_argument("--warmup", type=int, default=20, help="untimed queries before timing")
    p.add_argument("--seed", type=int, default=20240601)
    p.add_argument("--no-reference", action="store_true", help="skip rank-bm25 entirely")
    args = p.parse_args(argv)
    args.size_list = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    if not args.size_list or min(args.size_list) < 20 or args.queries < 1:
        p.error("sizes must be >= 20 passages and --queries >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    t0 = time.perf_counter()
    words = make_words(vocab_size(max(args.size_list)), seed=args.seed)
    rows: list[Row] = []
    for n_docs in args.size_list:
        rows += bench_size(n_docs, words, args)
        gc.collect()
    print(machine())
    print()
    print(table(rows))
    print()
    print(
        f"Latency: `.top(q, {TOP_K})` for ours, `get_scores(q)` + `argpartition` top-{TOP_K} for"
        f" rank-bm25, wall time per query after {args.warmup} warm-up queries, GC off while"
        " timing. Queries: 2-5 distinct terms from one passage (common and rare terms mixed)."
        " Speed-up: rank-bm25 / ours on the same queries (the first ones rank-bm25 ran)."
        " Size: our flat arrays (terms, indptr, doc_ids, tfs, doc_len) plus the per-posting"
        " weights; for rank-bm25, the sizes of its Python objects (per-passage dicts, idf dict)."
        " RSS +MB: resident memory kept after the build; peak +MB: highest resident"
        " memory during it, both over the process's RSS before the build. Δscore and top-"
        f"{TOP_K}: okapi mode vs rank-bm25 over {args.check_queries} queries (every passage's"
        " score compared). Okapi and Lucene modes share the scoring code; only idf differs."
    )
    log(f"done in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
