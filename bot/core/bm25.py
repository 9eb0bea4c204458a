"""A BM25 inverted index kept in flat arrays (CSR postings), scored per query in time
proportional to the postings of the query's terms.

In ``okapi`` mode the scores equal rank-bm25's ``BM25Okapi.get_scores`` (to float rounding),
flaws included: a two-document corpus scores zero, and words found in more than half of the
documents get the epsilon floor. ``lucene`` mode uses Lucene's idf, ``log(1 + (N - n + .5) /
(n + .5))``, which is always positive and strictly decreasing in ``n``.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field


class BM25Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    k1: float = Field(default=1.5, ge=0.0, le=10.0)
    b: float = Field(default=0.75, ge=0.0, le=1.0)
    epsilon: float = Field(default=0.25, ge=0.0, description="okapi mode: negative idf floor")
    idf: Literal["lucene", "okapi"] = "lucene"


class BM25Index:
    """Postings for ``n_docs`` documents. Immutable once built, so safe to share across
    threads: every query allocates its own buffers."""

    def __init__(
        self,
        terms: Sequence[str],
        indptr: np.ndarray,
        doc_ids: np.ndarray,
        tfs: np.ndarray,
        doc_len: np.ndarray,
        settings: BM25Settings,
    ) -> None:
        self.terms = list(terms)
        self.vocab = {t: i for i, t in enumerate(self.terms)}
        self.indptr = indptr.astype(np.int64, copy=False)
        self.doc_ids = doc_ids.astype(np.int32, copy=False)
        self.tfs = tfs.astype(np.int32, copy=False)
        self.doc_len = doc_len.astype(np.int32, copy=False)
        self.settings = settings
        self.n_docs = len(self.doc_len)
        self.df = np.diff(self.indptr)
        self._sorted_terms: list[str] | None = None
        self.idf = _idf(self.df, self.n_docs, settings)
        # Per-posting term-frequency part of BM25, in float64 so okapi scores match rank-bm25.
        k1, b = settings.k1, settings.b
        avgdl = float(self.doc_len.sum()) / self.n_docs if self.n_docs else 1.0
        norm = k1 * (1.0 - b + b * self.doc_len.astype(np.float64) / (avgdl or 1.0))
        tf = self.tfs.astype(np.float64)
        self.weights = tf * (k1 + 1.0) / (tf + norm[self.doc_ids])

    @classmethod
    def build(cls, documents: Iterable[Sequence[str]], settings: BM25Settings) -> BM25Index:
        vocab: dict[str, int] = {}
        lengths: list[int] = []
        chunks: list[np.ndarray] = []
        for doc in documents:
            lengths.append(len(doc))
            chunks.append(np.fromiter((vocab.setdefault(t, len(vocab)) for t in doc), np.int64))
        n_docs = len(lengths)
        doc_len = np.asarray(lengths, dtype=np.int32)
        term_ids = np.concatenate(chunks) if chunks else np.zeros(0, np.int64)
        owners = np.repeat(np.arange(n_docs, dtype=np.int64), doc_len)
        # Sort (term, doc) pairs and count repeats: postings sorted by term, then document.
        keys, tfs = np.unique(term_ids * max(n_docs, 1) + owners, return_counts=True)
        post_terms = keys // max(n_docs, 1)
        doc_ids = (keys % max(n_docs, 1)).astype(np.int32)
        indptr = np.zeros(len(vocab) + 1, dtype=np.int64)
        np.cumsum(np.bincount(post_terms, minlength=len(vocab)), out=indptr[1:])
        return cls(list(vocab), indptr, doc_ids, tfs, doc_len, settings)

    def arrays(self) -> dict[str, np.ndarray]:
        """The index as flat arrays, for saving; ``BM25Index(**arrays, settings=...)``
        rebuilds it."""
        return {
            "terms": np.asarray(self.terms, dtype=np.str_),
            "indptr": self.indptr,
            "doc_ids": self.doc_ids,
            "tfs": self.tfs,
            "doc_len": self.doc_len,
        }

    def term_idf(self, term: str) -> float:
        """idf of a term; a term absent from the index weighs as much as the rarest term can
        (one found in a single document)."""
        tid = self.vocab.get(term)
        if tid is not None:
            return float(self.idf[tid])
        return float(_idf(np.ones(1, np.int64), max(self.n_docs, 1), self.settings)[0])

    def prefix_relatives(self, term: str, min_len: int, limit: int = 8) -> tuple[str, ...]:
        """Index terms of at least ``min_len`` characters that extend ``term`` or that
        ``term`` extends: a cheap fallback for words whose exact stem is not indexed."""
        if len(term) < min_len:
            return ()
        if self._sorted_terms is None:
            self._sorted_terms = sorted(self.terms)
        ordered = self._sorted_terms
        lo = bisect.bisect_left(ordered, term)
        hi = bisect.bisect_left(ordered, term + "\U0010ffff")
        longer = ordered[lo : min(hi, lo + limit)]
        shorter = [
            term[:n] for n in range(len(term) - 1, min_len - 1, -1) if term[:n] in self.vocab
        ]
        return tuple(dict.fromkeys([*shorter, *longer]))[:limit]

    def scores(self, query: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(document ids, scores) of the documents that contain a query term. Repeated query
        terms count as often as they appear, as in rank-bm25."""
        counts = Counter(query)
        found = [(self.vocab[t], c) for t, c in counts.items() if t in self.vocab]
        if not found:
            return np.zeros(0, np.int32), np.zeros(0, np.float64)
        if len(found) == 1:
            tid, c = found[0]
            lo, hi = self.indptr[tid], self.indptr[tid + 1]
            return self.doc_ids[lo:hi], (c * self.idf[tid]) * self.weights[lo:hi]
        # Per-query buffers (thread safety); marking matches beats np.unique over the
        # concatenated postings by 4-5x (benchmarks/bm25_speed.py).
        acc = np.zeros(self.n_docs, dtype=np.float64)
        hit = np.zeros(self.n_docs, dtype=bool)
        for tid, c in found:
            lo, hi = self.indptr[tid], self.indptr[tid + 1]
            ids = self.doc_ids[lo:hi]
            acc[ids] += (c * self.idf[tid]) * self.weights[lo:hi]
            hit[ids] = True
        ids = np.flatnonzero(hit)
        return ids, acc[ids]

    def top(self, query: Sequence[str], k: int) -> list[tuple[int, float]]:
        """The ``k`` best (document id, score) among documents matching a query term, best
        first; ties go to the lower id."""
        ids, scores = self.scores(query)
        if len(ids) == 0 or k <= 0:
            return []
        if len(ids) > k:
            # Keep everything tied with the k-th best, so the tie-break below is exact.
            kth = -np.partition(-scores, k - 1)[k - 1]
            keep = np.flatnonzero(scores >= kth)
            ids, scores = ids[keep], scores[keep]
        order = np.lexsort((ids, -scores))[:k]
        return [(int(ids[i]), float(scores[i])) for i in order]

    def postings(self, term: str) -> np.ndarray:
        """Ids of the documents holding ``term``, ascending (empty for an unknown term)."""
        tid = self.vocab.get(term)
        if tid is None:
            return np.zeros(0, np.int32)
        return self.doc_ids[self.indptr[tid] : self.indptr[tid + 1]]

    def get_scores(self, query: Sequence[str]) -> np.ndarray:
        """Scores of every document, like rank-bm25's ``get_scores`` (for tests and
        benchmarks; answering uses :meth:`top`)."""
        out = np.zeros(self.n_docs, dtype=np.float64)
        ids, scores = self.scores(query)
        out[ids] = scores
        return out


def _idf(df: np.ndarray, n_docs: int, settings: BM25Settings) -> np.ndarray:
    df = df.astype(np.float64)
    if settings.idf == "lucene":
        return np.log1p((n_docs - df + 0.5) / (df + 0.5))
    idf = np.log(n_docs - df + 0.5) - np.log(df + 0.5)
    if len(idf):
        # rank-bm25: the average is taken over the raw idfs, then negative ones are floored.
        eps = settings.epsilon * sum(idf.tolist()) / len(idf)
        idf[idf < 0] = eps
    return idf
