"""Many servers over one operator corpus: index memory and the cost of one upload.

Run from the repository root::

    python benchmarks/server_segments.py                  # 100k passages, 1,000 servers x 5
    python benchmarks/server_segments.py --passages 10000 --servers 100   # quick

An operator collection of ``--passages`` synthetic passages (pseudo-words drawn from a Zipf
law, one paragraph per passage) and ``--servers`` server folders of ``--per-server`` short
documents each are written to a temporary folder. A first process fills the index cache;
then each measurement runs in a fresh process, every index loaded from the cache:

* the library with the operator collection only (its index is the reference);
* the same library with every server's documents: each server's view joins the shared
  operator segment with the server's own small segment;

and reports the resident memory the library's ``load()`` added, the index bytes of every
distinct segment, and, in the second process, how long one more upload to one server takes
(``Library.add_upload``: the isolated extraction process, the document write, and the rebuild
of that server's segment) until the new document is answerable.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bm25_speed import make_words, release_free_memory, rss  # noqa: E402

from bot.core.answers import AnswerSettings  # noqa: E402
from bot.core.bm25 import compile_kernels  # noqa: E402
from bot.core.index import IndexSettings  # noqa: E402
from bot.core.library import CollectionSpec, Library  # noqa: E402
from bot.store import Store  # noqa: E402

MIB = 1024 * 1024
PARAGRAPHS_PER_DOC = 50


def write_corpus(root: Path, passages: int, servers: int, per_server: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    words = np.array(make_words(50_000, seed), dtype=object)
    ranks = np.arange(1, len(words) + 1, dtype=np.float64)
    cdf = np.cumsum((ranks + 30.0) ** -1.0)
    cdf /= cdf[-1]

    def paragraph() -> str:
        ids = np.searchsorted(cdf, rng.random(int(rng.integers(40, 80))), side="right")
        return " ".join(words[np.minimum(ids, len(words) - 1)].tolist()).capitalize() + "."

    operator = root / "operator"
    operator.mkdir()
    for d in range(-(-passages // PARAGRAPHS_PER_DOC)):
        n = min(PARAGRAPHS_PER_DOC, passages - d * PARAGRAPHS_PER_DOC)
        text = "\n\n".join(paragraph() for _ in range(n))
        (operator / f"doc-{d}.md").write_text(f"---\ntitle: Document {d}\n---\n{text}\n")
    for g in range(servers):
        folder = root / "servers" / str(10_000 + g)
        folder.mkdir(parents=True)
        for d in range(per_server):
            text = "\n\n".join(paragraph() for _ in range(3))
            (folder / f"own-{d}.md").write_text(f"---\ntitle: Own {d}\n---\n{text}\n")


def measure(root: Path, with_servers: bool, upload: bool = True) -> dict:
    # servers' documents live in the store: the first start imports the server folders
    store = Store(root / "verbatim.sqlite3", legacy_servers_dir=root / "servers")
    lib = Library(
        [CollectionSpec(name="operator", path=root / "operator")],
        store if with_servers else None,
        IndexSettings(),
        AnswerSettings(),
        cache_dir=root / "cache",
    )
    compile_kernels()  # (numba's code is not index memory)
    release_free_memory()
    base = rss()
    t0 = time.perf_counter()
    lib.load()
    load_s = time.perf_counter() - t0
    release_free_memory()
    grown = rss() - base
    segments = {id(s): s for a in lib._views.values() for s in a.index.segments}
    result = {
        "load_s": load_s,
        "rss": grown,
        "views": len(lib._views),
        "segments": len(segments),
        "index_bytes": sum(s.nbytes for s in segments.values()),
    }
    if with_servers and upload:
        guild = 10_000
        text = b"The lighthouse keeper logged 312 storms in 1911."
        t0 = time.perf_counter()
        lib.add_upload(guild, "new.txt", text, {"title": "Lighthouse"})
        result["add_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        answered = lib.answerer_for(guild).answer("lighthouse keeper storms").answered
        result["answer_s"] = time.perf_counter() - t0
        assert answered
        t0 = time.perf_counter()
        lib.reload_server(guild)  # the index part alone: re-read the folder, rebuild the segment
        result["reload_s"] = time.perf_counter() - t0
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--passages", type=int, default=100_000)
    p.add_argument("--servers", type=int, default=1_000)
    p.add_argument("--per-server", type=int, default=5)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--measure", help=argparse.SUPPRESS)
    p.add_argument("--with-servers", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--warm", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.measure:
        print(json.dumps(measure(Path(args.measure), args.with_servers, not args.warm)))
        return
    root = Path(tempfile.mkdtemp(prefix="verbatim-servers-"))
    try:
        t0 = time.perf_counter()
        write_corpus(root, args.passages, args.servers, args.per_server, args.seed)
        print(f"corpus written in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        rows = {}
        # first a run that fills the cache, so both measured runs load every index from it
        cmd = [sys.executable, __file__, "--measure", str(root), "--with-servers", "--warm"]
        subprocess.run(cmd, check=True, stdout=subprocess.PIPE)
        for label, flag in (("operator only", []), ("operator + servers", ["--with-servers"])):
            cmd = [sys.executable, __file__, "--measure", str(root), *flag]
            out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
            rows[label] = json.loads(out.strip().splitlines()[-1])
            print(f"{label}: {rows[label]}", file=sys.stderr)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    alone = rows["operator only"]
    print(
        f"{args.passages:,} operator passages; {args.servers:,} servers x {args.per_server}"
        " documents\n"
    )
    print("| library | views | segments | index MB | RSS added by load() MB | load s |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, r in rows.items():
        print(
            f"| {label} | {r['views']:,} | {r['segments']:,} | {r['index_bytes'] / MIB:,.1f} | "
            f"{r['rss'] / MIB:,.0f} | {r['load_s']:.1f} |"
        )
    both = rows["operator + servers"]
    print(
        f"\nIndex memory with every server / operator alone: "
        f"{both['index_bytes'] / alone['index_bytes']:.3f}x (index bytes), "
        f"{both['rss'] / alone['rss']:.2f}x (RSS). One more upload to one server: "
        f"{both['add_s']:.2f} s until answerable, of which the server's segment and view"
        f" {both['reload_s']:.2f} s (first answer {both['answer_s'] * 1000:.0f} ms)."
    )


if __name__ == "__main__":
    main()
