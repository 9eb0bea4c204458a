"""BM25 over immutable segments, as Lucene and tantivy do.

A :class:`Segment` holds the postings of a run of passages in flat arrays (CSR: per term, the
sorted passage ids and term frequencies) plus each passage's length. A :class:`BM25Index` is
a list of segments scored with statistics summed across them (number of passages, average
length, document frequency), so its scores are exactly those of one segment built over the
same passages, in the same order: segments can be built, cached and shared separately (the
operator's corpus once for every server, each server's few documents on their own).

In ``okapi`` mode the scores equal rank-bm25's ``BM25Okapi.get_scores`` (bit for bit on one
segment), flaws included: a two-document corpus scores zero, and words found in more than half
of the documents get the epsilon floor. ``lucene`` mode uses Lucene's idf, ``log(1 + (N - n +
.5) / (n + .5))``, which is always positive and strictly decreasing in ``n``.

Queries run in compiled code (:mod:`bot.core.kernels`): windows of documents scored in a
cache-resident accumulator, whole windows skipped by block-max bounds, a bounded heap of the
best k; exact (the result equals sorting every score), and nothing the size of the corpus is
allocated per query.
"""

from __future__ import annotations

import bisect
import itertools
import operator
import sys
from array import array
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import cached_property
from math import log, log1p
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from rapidfuzz.distance import Levenshtein
from rapidfuzz.process import extractOne

from bot.core import kernels

BUILD_CHUNK = 20_000  # passages turned into term ids at a time (bounds the token lists held)


class BM25Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    k1: float = Field(default=1.5, ge=0.0, le=10.0)
    b: float = Field(default=0.75, ge=0.0, le=1.0)
    epsilon: float = Field(default=0.25, ge=0.0, description="okapi mode: negative idf floor")
    idf: Literal["lucene", "okapi"] = "lucene"


class Segment:
    """Postings of ``n_docs`` passages. Immutable; its arrays may be memory-mapped.

    ``block_max[j]`` bounds the term-frequency part of BM25 over postings ``j * BLOCK`` to
    ``(j + 1) * BLOCK - 1``, at this segment's own average length (used for pruning; see
    :meth:`BM25Index.top`).

    A small segment (a server's own documents) may number its terms after a *base* segment
    (the operator's) instead of keeping a vocabulary of its own: ``keys`` holds, for each of
    its terms in id order, the term's id in the base, or ``len(base.terms) + n`` for the n-th
    of its ``terms`` the base lacks. Its vocabulary then costs 4 bytes a term, and no Python
    object a term."""

    ARRAYS = ("terms", "indptr", "doc_ids", "tfs", "doc_len", "block_max")

    def __init__(
        self,
        terms: Sequence[str],
        indptr: np.ndarray,
        doc_ids: np.ndarray,
        tfs: np.ndarray,
        doc_len: np.ndarray,
        block_max: np.ndarray,
        keys: np.ndarray | None = None,
        base: Segment | None = None,
    ) -> None:
        # Interned: a term's string is shared by every segment that has it.
        terms = list(map(sys.intern, terms))
        self.base = base
        self.keys = keys
        self.vocab: Mapping[str, int]
        if base is None:
            self.terms = terms
            self.vocab = {t: i for i, t in enumerate(terms)}
        else:
            if base.base is not None or keys is None:
                raise ValueError("a segment's base must have a vocabulary of its own")
            self.new_terms = terms
            new = {t: len(base.terms) + n for n, t in enumerate(terms)}
            self.vocab = BasedVocabulary(self, new)
        self.indptr = indptr
        self.doc_ids = doc_ids
        self.tfs = tfs
        self.doc_len = doc_len
        self.block_max = block_max
        self.n_docs = len(doc_len)
        self.total_len = int(doc_len.sum(dtype=np.int64))
        self.avgdl = self.total_len / self.n_docs if self.total_len else 1.0

    @classmethod
    def build(
        cls,
        documents: Iterable[Sequence[str]],
        settings: BM25Settings,
        base: Segment | None = None,
    ) -> Segment:
        """Postings of tokenised passages (see :func:`tokenise`), numbering the terms after
        ``base``'s if given."""
        if base is None:
            return cls.from_tokens(*tokenise(documents), settings)
        return cls.from_tokens_on(base, *tokenise(documents, base), settings)[0]

    @classmethod
    def from_tokens(
        cls, terms: list[str], term_ids: np.ndarray, doc_len: np.ndarray, settings: BM25Settings
    ) -> Segment:
        """Postings from the term id of every token, passage after passage (``doc_len``
        tokens each), by a compiled counting sort: memory peaks at a few bytes per token."""
        total = int(doc_len.sum(dtype=np.int64))
        avgdl = total / len(doc_len) if total else 1.0
        indptr, doc_ids, tfs, block_max = kernels.postings(
            term_ids, doc_len, len(terms), settings.k1, settings.b, avgdl
        )
        return cls(terms, indptr, doc_ids, tfs, doc_len, block_max)

    @classmethod
    def from_tokens_on(
        cls,
        base: Segment,
        new_terms: list[str],
        term_ids: np.ndarray,
        doc_len: np.ndarray,
        settings: BM25Settings,
    ) -> tuple[Segment, np.ndarray]:
        """Like :meth:`from_tokens`, ``term_ids`` numbered after ``base`` (see
        :func:`tokenise`); returns the segment and every token's id in it."""
        keys = np.unique(term_ids).astype(np.int32)
        local = np.searchsorted(keys, term_ids).astype(np.int32)
        total = int(doc_len.sum(dtype=np.int64))
        avgdl = total / len(doc_len) if total else 1.0
        indptr, doc_ids, tfs, block_max = kernels.postings(
            local, doc_len, len(keys), settings.k1, settings.b, avgdl
        )
        # Such segments are small (a server's documents): the narrowest types that hold
        # their numbers (the kernels are compiled for these too).
        indptr, doc_ids, tfs = (
            narrow(indptr, np.uint16),
            narrow(doc_ids, np.uint16),
            narrow(tfs, np.uint8),
        )
        return cls(new_terms, indptr, doc_ids, tfs, doc_len, block_max, keys, base), local

    @cached_property
    def terms(self) -> list[str]:
        """Terms by id (of a segment on a base: made when first asked for)."""
        assert self.base is not None and self.keys is not None
        base, n = self.base.terms, len(self.base.terms)
        return [base[k] if k < n else self.new_terms[k - n] for k in self.keys.tolist()]

    def arrays(self) -> dict[str, np.ndarray]:
        """The segment as flat arrays, for saving; :meth:`from_arrays` reads them back."""
        own = self.terms if self.base is None else self.new_terms
        blob = "\n".join(own).encode()
        keys = {} if self.keys is None else {"keys": self.keys}
        return {
            "terms": np.frombuffer(blob, np.uint8),
            "indptr": self.indptr,
            "doc_ids": self.doc_ids,
            "tfs": self.tfs,
            "doc_len": self.doc_len,
            "block_max": self.block_max,
            **keys,
        }

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], base: Segment | None = None) -> Segment:
        """A segment from :meth:`arrays`' output (``base``: the one it was built on)."""
        blob = bytes(arrays["terms"]).decode()
        terms = blob.split("\n") if blob else []
        keys = arrays.get("keys")
        if (keys is None) != (base is None):
            raise ValueError("a segment built on a base is read with that base, and only then")
        return cls(terms, *(arrays[name] for name in cls.ARRAYS[1:]), keys, base)

    @cached_property
    def nbytes(self) -> int:
        """Bytes of the segment's arrays, the terms counted as saved (UTF-8, one separator)."""
        arrays = [self.indptr, self.doc_ids, self.tfs, self.doc_len, self.block_max]
        own = self.terms if self.base is None else self.new_terms
        if self.keys is not None:
            arrays.append(self.keys)
        return sum(a.nbytes for a in arrays) + sum(map(len, own)) + len(own)

    @cached_property
    def sorted_terms(self) -> list[str]:
        return sorted(self.terms)

    @cached_property
    def by_length(self) -> dict[int, tuple[list[str], np.ndarray]]:
        """The terms of each length, in order, with their ids."""
        lengths = np.fromiter(map(len, self.terms), np.int64, len(self.terms))
        out = {}
        for n in np.unique(lengths).tolist():
            ids = np.flatnonzero(lengths == n)
            out[n] = ([self.terms[i] for i in ids.tolist()], ids)
        return out

    def one_edit_away(self, term: str) -> str | None:
        """The first term (in id order) one edit from ``term`` (which is not a term): only
        terms one character shorter, as long or longer can be."""
        found: tuple[int, str] | None = None
        for n in (len(term) - 1, len(term), len(term) + 1):
            terms, ids = self.by_length.get(n, ((), ()))
            best = extractOne(term, terms, scorer=Levenshtein.distance, score_cutoff=1)
            if best is not None and (found is None or ids[best[2]] < found[0]):
                found = (int(ids[best[2]]), best[0])
        return None if found is None else found[1]

    def df(self, term: str) -> int:
        t = self.vocab.get(term)
        return 0 if t is None else int(self.indptr[t + 1] - self.indptr[t])


def narrow(a: np.ndarray, dtype: type[np.integer]) -> np.ndarray:
    """``a`` as ``dtype`` when every value fits, else as it is."""
    info = np.iinfo(dtype)
    if len(a) == 0 or (int(a.max()) <= info.max and int(a.min()) >= info.min):
        return a.astype(dtype)
    return a


def tokenise(
    documents: Iterable[Sequence[str]], base: Segment | None = None
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(terms, term id of every token, tokens per passage) of tokenised passages. Tokens
    become ids chunk by chunk through one dict (``operator.itemgetter``: no Python call per
    token). With a ``base``, its terms keep its ids and only the terms it lacks are
    returned, numbered after its own."""
    # A missing term gets the next id (C-level factory), so one lookup per token does it.
    n_base = 0 if base is None else len(base.terms)
    vocab: defaultdict[str, int] = defaultdict(itertools.count(n_base).__next__)
    if base is not None:
        vocab.update(base.vocab)
    ids: list[np.ndarray] = []
    lengths: list[np.ndarray] = []
    docs = iter(documents)
    while chunk := list(itertools.islice(docs, BUILD_CHUNK)):
        flat = list(itertools.chain.from_iterable(chunk))
        found = operator.itemgetter(*flat)(vocab) if len(flat) > 1 else [vocab[t] for t in flat]
        ids.append(np.frombuffer(array("i", found), np.int32))
        lengths.append(np.fromiter(map(len, chunk), np.int32, len(chunk)))
        del chunk, flat, found
    term_ids = np.concatenate(ids) if ids else np.zeros(0, np.int32)
    del ids
    doc_len = np.concatenate(lengths) if lengths else np.zeros(0, np.int32)
    return list(itertools.islice(vocab, n_base, None)), term_ids, doc_len


def compile_kernels() -> None:
    """Compile (or load from numba's disk cache) the search kernels now, so that the first
    question does not wait for it (a few seconds the first time after installing): for
    segments of their own and for small segments on a base (narrower arrays)."""
    settings = BM25Settings()
    base = Segment.build([["a", "b"], ["b"]], settings)
    small = Segment.build([["a", "c"]], settings, base=base)
    BM25Index([base, small], settings).top(["a", "b"], 1)


class BasedVocabulary(Mapping[str, int]):
    """A segment-on-a-base's term -> id: the term's id in the base (or among the segment's
    new terms), found among the segment's ``keys``."""

    def __init__(self, segment: Segment, new: dict[str, int]) -> None:
        self._segment = segment
        self._base = segment.base.vocab  # type: ignore[union-attr]
        self._new = new

    def get(self, term: str, default=None):  # type: ignore[override]
        key = self._base.get(term)
        if key is None:
            key = self._new.get(term)
            if key is None:
                return default
        keys = self._segment.keys
        i = int(np.searchsorted(keys, key))  # type: ignore[arg-type]
        return i if i < len(keys) and keys[i] == key else default  # type: ignore[arg-type]

    def __contains__(self, term: object) -> bool:
        return isinstance(term, str) and self.get(term) is not None

    def __getitem__(self, term: str) -> int:
        i = self.get(term)
        if i is None:
            raise KeyError(term)
        return i

    def __iter__(self) -> Iterator[str]:
        return iter(self._segment.terms)

    def __len__(self) -> int:
        return len(self._segment.keys)  # type: ignore[arg-type]


class Vocabulary(Mapping[str, int]):
    """The terms of several segments as one mapping (term -> id, ids numbered segment after
    segment; a term keeps its id in the first segment that has it), without copying them."""

    def __init__(self, segments: Sequence[Segment]) -> None:
        self._segments = segments

    def __contains__(self, term: object) -> bool:
        return any(term in s.vocab for s in self._segments)

    def __getitem__(self, term: str) -> int:
        base = 0
        for s in self._segments:
            t = s.vocab.get(term)
            if t is not None:
                return base + t
            base += len(s.vocab)
        raise KeyError(term)

    def __iter__(self) -> Iterator[str]:
        seen: set[str] = set()
        for n, s in enumerate(self._segments):
            for term in s.terms:
                if n == 0 or term not in seen:
                    seen.add(term)
                    yield term

    def __len__(self) -> int:
        return self._len

    @cached_property
    def _len(self) -> int:
        return sum(1 for _ in self)


class BM25Index:
    """BM25 over segments, with statistics summed across them. Immutable, so safe to share
    across threads: every query allocates only its own small buffers (k and the query's
    terms), never anything the size of the corpus."""

    def __init__(self, segments: Sequence[Segment], settings: BM25Settings) -> None:
        self.segments = tuple(segments)
        self.settings = settings
        self.n_docs = sum(s.n_docs for s in self.segments)
        total = sum(s.total_len for s in self.segments)
        self.avgdl = total / self.n_docs if total else 1.0
        self.bases = np.cumsum([0, *(s.n_docs for s in self.segments)])[:-1].tolist()
        one = len(self.segments) == 1
        self.vocab: Mapping[str, int] = self.segments[0].vocab if one else Vocabulary(segments)
        self._okapi_floor = self._okapi_epsilon() if settings.idf == "okapi" else 0.0

    @cached_property
    def _weights(self) -> np.ndarray:
        """tf_weight by (length, tf) at this average length, for the search kernel (64 KiB):
        made at the first search, so a view no one searches (of a thousand servers') holds
        none."""
        return kernels.weight_table(self.settings.k1, self.settings.b, self.avgdl)

    @classmethod
    def build(cls, documents: Iterable[Sequence[str]], settings: BM25Settings) -> BM25Index:
        return cls([Segment.build(documents, settings)], settings)

    @property
    def terms(self) -> Sequence[str]:
        if len(self.segments) == 1:
            return self.segments[0].terms
        return list(self.vocab)

    @property
    def nbytes(self) -> int:
        return sum(s.nbytes for s in self.segments)

    # -- idf ---------------------------------------------------------------------------

    def _okapi_epsilon(self) -> float:
        """rank-bm25's floor for negative idfs: epsilon times the average idf over every
        term of the corpus (across segments: each term once, with its summed frequency)."""
        dfs = (self.segments[0].indptr[1:] - self.segments[0].indptr[:-1]).tolist()
        if len(self.segments) > 1:
            merged = dict(zip(self.segments[0].terms, dfs, strict=True))
            for s in self.segments[1:]:
                counts = (s.indptr[1:] - s.indptr[:-1]).tolist()
                for term, df in zip(s.terms, counts, strict=True):
                    merged[term] = merged.get(term, 0) + df
            dfs = list(merged.values())
        if not dfs:
            return 0.0
        n = self.n_docs
        return (
            self.settings.epsilon * sum(log(n - df + 0.5) - log(df + 0.5) for df in dfs) / len(dfs)
        )

    def idf(self, df: int) -> float:
        """idf of a term found in ``df`` passages (rank-bm25's arithmetic in okapi mode)."""
        n = self.n_docs
        if self.settings.idf == "lucene":
            return log1p((n - df + 0.5) / (df + 0.5))
        idf = log(n - df + 0.5) - log(df + 0.5)
        return self._okapi_floor if idf < 0 else idf

    def df(self, term: str) -> int:
        """How many passages contain ``term``, over every segment."""
        return sum(s.df(term) for s in self.segments)

    def term_idf(self, term: str) -> float:
        """idf of a term; a term absent from the index weighs as much as the rarest term can
        (one found in a single document)."""
        return self.idf(max(self.df(term), 1))

    def one_edit_away(self, term: str) -> str | None:
        """The first term one edit from ``term`` (not a term itself) in :attr:`terms`
        order: the first segment's terms, then each later one's new terms."""
        for s in self.segments:
            found = s.one_edit_away(term)
            if found is not None:
                return found
        return None

    def prefix_relatives(self, term: str, min_len: int, limit: int = 8) -> tuple[str, ...]:
        """Index terms of at least ``min_len`` characters that extend ``term`` or that
        ``term`` extends: a cheap fallback for words whose exact stem is not indexed."""
        if len(term) < min_len:
            return ()
        longer: set[str] = set()
        for s in self.segments:
            ordered = s.sorted_terms
            lo = bisect.bisect_left(ordered, term)
            hi = bisect.bisect_left(ordered, term + "\U0010ffff")
            longer.update(ordered[lo : min(hi, lo + limit)])
        shorter = [
            term[:n] for n in range(len(term) - 1, min_len - 1, -1) if term[:n] in self.vocab
        ]
        return tuple(dict.fromkeys([*shorter, *sorted(longer)[:limit]]))[:limit]

    # -- scoring -----------------------------------------------------------------------

    def _query(self, query: Sequence[str]) -> tuple[list[str], list[float], list[int]]:
        """The query's indexed terms (distinct, in order of first appearance), their idf, and
        the query's positions as indexes into that list (repeats count, as in rank-bm25)."""
        index: dict[str, int] = {}
        positions: list[int] = []
        for t in query:
            i = index.get(t)
            if i is None:
                if t not in self.vocab:
                    continue
                i = index[t] = len(index)
            positions.append(i)
        terms = list(index)
        return terms, [self.idf(self.df(t)) for t in terms], positions

    def top(self, query: Sequence[str], k: int) -> list[tuple[int, float]]:
        """The ``k`` best (document id, score) among documents matching a query term, best
        first; ties go to the lower id."""
        terms, idfs, where = self._query(query)
        if not terms or k <= 0:
            return []
        idf = np.asarray(idfs)
        counts = np.bincount(where, minlength=len(terms)).astype(np.float64)
        positions = np.asarray(where, np.int64)
        # okapi's floor can make an idf negative; bounds would not hold, so no pruning then
        prune = min(idfs) > 0
        heap_s = np.empty(k, np.float64)
        heap_d = np.empty(k, np.int64)
        size = 0
        s = self.settings
        for seg, base in zip(self.segments, self.bases, strict=True):
            tids = [seg.vocab.get(t, -1) for t in terms]
            if max(tids) < 0:
                continue
            # A segment's block_max was taken at its own average length; at a larger average
            # every weight grows by at most the ratio of the averages (the length norm
            # shrinks by at most that much). 1e-6: block_max is float32.
            grow = max(1.0, self.avgdl / seg.avgdl) * (1.0 + 1e-6) if prune else 0.0
            size = kernels.search(
                seg.doc_ids,
                seg.tfs,
                seg.doc_len,
                seg.indptr,
                seg.block_max,
                np.asarray(tids, np.int64),
                idf,
                counts,
                positions,
                s.k1,
                s.b,
                self.avgdl,
                self._weights,
                grow,
                seg.n_docs,
                base,
                heap_s,
                heap_d,
                size,
            )
        found = sorted(zip((-heap_s[:size]).tolist(), heap_d[:size].tolist(), strict=True))
        return [(d, -neg) for neg, d in found]

    def postings(self, term: str) -> np.ndarray:
        """Ids of the documents holding ``term``, ascending (empty for an unknown term)."""
        parts = []
        for seg, base in zip(self.segments, self.bases, strict=True):
            t = seg.vocab.get(term)
            if t is not None:
                ids = seg.doc_ids[seg.indptr[t] : seg.indptr[t + 1]]
                parts.append(ids if base == 0 else ids.astype(np.int64) + base)
        if len(parts) == 1:
            return parts[0]
        return np.concatenate(parts) if parts else np.zeros(0, np.int32)

    def get_scores(self, query: Sequence[str]) -> np.ndarray:
        """Scores of every document, like rank-bm25's ``get_scores`` (for tests and
        benchmarks; answering uses :meth:`top`)."""
        out = np.zeros(self.n_docs, dtype=np.float64)
        terms, idfs, positions = self._query(query)
        s = self.settings
        for p in positions:
            for seg, base in zip(self.segments, self.bases, strict=True):
                t = seg.vocab.get(terms[p])
                if t is not None:
                    lo, hi = int(seg.indptr[t]), int(seg.indptr[t + 1])
                    kernels.add_scores(
                        out, seg.doc_ids, seg.tfs, seg.doc_len, lo, hi, idfs[p], s.k1, s.b,
                        self.avgdl, base,
                    )  # fmt: skip
        return out
