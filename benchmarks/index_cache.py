"""Index cache: building an index from documents vs loading it from the on-disk cache.
Run from the repository root:

    python benchmarks/index_cache.py [--docs 20000]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.core.index import IndexSettings, load_or_build
from bot.core.models import Document


def synthetic(n: int, seed: int = 7) -> list[Document]:
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(30_000)]
    weights = [1 / (i + 10) for i in range(len(words))]

    def paragraph() -> str:
        return " ".join(rng.choices(words, weights, k=rng.randint(40, 90))) + "."

    return [
        Document(id=f"doc-{i}", text="\n\n".join(paragraph() for _ in range(rng.randint(3, 8))))
        for i in range(n)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, default=20_000)
    args = parser.parse_args()
    docs = synthetic(args.docs)
    with tempfile.TemporaryDirectory() as cache:
        t0 = time.perf_counter()
        index, cached = load_or_build(docs, IndexSettings(), Path(cache))
        build = time.perf_counter() - t0
        assert not cached
        loads = []
        for _ in range(3):
            t0 = time.perf_counter()
            _, cached = load_or_build(docs, IndexSettings(), Path(cache))
            loads.append(time.perf_counter() - t0)
            assert cached
        size = sum(f.stat().st_size for f in Path(cache).glob("index-*.bin"))
    print(f"{args.docs:,} documents, {len(index):,} passages, {len(index.bm25.terms):,} terms\n")
    print("| build + save s | load from cache s (best of 3) | cache file MB | speed-up |")
    print("|---|---|---|---|")
    print(f"| {build:.2f} | {min(loads):.2f} | {size / 1e6:.1f} | {build / min(loads):.0f}x |")


if __name__ == "__main__":
    main()
