"""The searchable index of a set of documents: passages as flat span arrays, a BM25 index
over them, and an on-disk cache keyed by the documents' content and every setting that shapes
the index.

An index is one or more immutable *segments* (:class:`SearchIndex.join`), as in Lucene: the
operator's collections and each server's own documents are built, cached and memory-mapped
separately, and a server's view joins them without copying; BM25 sums the statistics across
segments, so scores are those of one index over the same passages. The cache is one file
per segment, written atomically and rebuilt whenever its key changes.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import json
import logging
import operator
import os
from collections import ChainMap, defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import cached_property
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict

from bot.core import encoder, semantic
from bot.core.analysed import Analysed, analyse, sentence_vectors
from bot.core.analysis import AnalysisSettings, analyzer_for
from bot.core.atomic import write_atomic
from bot.core.bm25 import BM25Index, BM25Settings, Segment, narrow
from bot.core.models import Document, Passage
from bot.core.segment import SegmentSettings
from bot.core.spans import Sentence, Spans

log = logging.getLogger(__name__)

FORMAT_VERSION = 10
PASSAGE_ARRAYS = ("p_doc", "p_start", "p_end", "p_para")
ALIGN = 64
MAGIC = b"VBTMIDX2"  # 8 bytes at the start of every cache file
Progress = Callable[[int, int], None]
Known = Callable[[Document], Analysed | None]  # a document's analysis made elsewhere, if any
# the arrays SearchIndex.build collects, document by document, and their types
_BUILT = {
    "p_start": np.int64,
    "p_end": np.int64,
    "p_para": np.int32,
    "s_start": np.int64,
    "s_end": np.int64,
    "s_para": np.int64,
    "s_flags": np.uint8,
    "s_tok": np.int64,
    "s_name": np.int64,
    "names": np.int32,
    "s_piece": np.int64,
    "pieces": np.uint16,
    "p_sent": np.int64,
    "p_next": np.int64,
    "tokens": np.int32,
}
_ANALYSED = (
    "p_start",
    "p_end",
    "p_para",
    "s_start",
    "s_end",
    "s_para",
    "s_flags",
    "names",
    "pieces",
    "p_next",
)


class IndexSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    analysis: AnalysisSettings = AnalysisSettings()
    passages: SegmentSettings = SegmentSettings()
    bm25: BM25Settings = BM25Settings()


class Joined(Sequence[int]):
    """Several integer arrays read as one (a joined index's passage arrays), each part's
    values shifted by its offset, without copying them."""

    def __init__(self, parts: Sequence[np.ndarray], shifts: Sequence[int]) -> None:
        self._parts = parts
        self._shifts = shifts
        self._starts = np.cumsum([0, *(len(p) for p in parts)]).tolist()

    def __len__(self) -> int:
        return self._starts[-1]

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        """The joined values as one new array (for numpy functions over the whole)."""
        out = np.concatenate([p + s for p, s in zip(self._parts, self._shifts, strict=True)])
        return out if dtype is None else out.astype(dtype)

    def __getitem__(self, i):  # type: ignore[override]
        if not isinstance(i, int | np.integer):
            return np.asarray(self)[i]
        i = int(i) + (len(self) if i < 0 else 0)
        if not 0 <= i < len(self):
            raise IndexError(i)
        n = bisect.bisect_right(self._starts, i) - 1
        return int(self._parts[n][i - self._starts[n]]) + self._shifts[n]


class Chain(Sequence[Document]):
    """The documents of several segments read as one sequence, without copying them."""

    def __init__(self, parts: Sequence[Sequence[Document]]) -> None:
        self._parts = parts
        self._starts = np.cumsum([0, *(len(p) for p in parts)]).tolist()

    def __len__(self) -> int:
        return self._starts[-1]

    def __iter__(self) -> Iterator[Document]:
        for part in self._parts:
            yield from part

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return tuple(self)[i]
        i += len(self) if i < 0 else 0
        if not 0 <= i < len(self):
            raise IndexError(i)
        n = bisect.bisect_right(self._starts, i) - 1
        return self._parts[n][i - self._starts[n]]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and tuple(self) == tuple(other)

    __hash__ = None  # type: ignore[assignment]


class SearchIndex:
    """Immutable once built: safe to query from several threads at once."""

    def __init__(
        self,
        documents: Sequence[Document],
        passage_arrays: Mapping[str, np.ndarray],
        bm25: BM25Index,
        settings: IndexSettings,
        key: str,
        spans: Spans | None = None,
        base: SearchIndex | None = None,
    ) -> None:
        self.documents = documents if isinstance(documents, Chain) else tuple(documents)
        self.p_doc = passage_arrays["p_doc"]
        self.p_start = passage_arrays["p_start"]
        self.p_end = passage_arrays["p_end"]
        self.p_para = passage_arrays["p_para"]
        self.bm25 = bm25
        self.settings = settings
        self.analyzer = analyzer_for(settings.analysis)
        self.key = key
        self.spans = spans  # None for a joined index: its segments have theirs
        self.base = base  # the index whose term numbering this one shares
        self.segments: tuple[SearchIndex, ...] = (self,)

    @cached_property
    def by_id(self) -> Mapping[str, Document]:
        if len(self.segments) > 1:
            return ChainMap(*(s.by_id for s in self.segments))
        return {d.id: d for d in self.documents}

    def __len__(self) -> int:
        return len(self.p_doc)

    @classmethod
    def build(
        cls,
        documents: Sequence[Document],
        settings: IndexSettings | None = None,
        progress: Progress | None = None,
        base: SearchIndex | None = None,
        known: Known | None = None,
        encode: bool = True,
    ) -> SearchIndex:
        """One segment over ``documents``, assembled from each document's analysis
        (:mod:`bot.core.analysed`): ``known(doc)``'s when it has one (made elsewhere, or cut
        from an earlier segment), else made here. ``base``: a (large) single-segment index
        whose term numbering this one shares (see :class:`~bot.core.bm25.Segment`).
        ``encode``: encode here the sentences that come without contextual vectors; if
        False, a segment whose documents do not all bring theirs is built without
        (:attr:`unencoded`: its vectors are to be made apart)."""
        settings = settings or IndexSettings()
        analyzer = analyzer_for(settings.analysis)
        on = None if base is None else base.bm25.segments[0]
        # every term's id, one C-level lookup a distinct term of each document (a missing
        # term gets the next id); with a base, its terms keep their ids
        n_base = 0 if on is None else len(on.terms)
        vocab: defaultdict[str, int] = defaultdict(itertools.count(n_base).__next__)
        if on is not None:
            vocab.update(on.vocab)
        parts: dict[str, list[np.ndarray]] = defaultdict(list)
        counts: dict[str, list[int]] = defaultdict(list)  # of each document: its passages, ...
        given = [known(doc) if known is not None else None for doc in documents]
        contextual = _within_budget(documents, base) and (
            encode or all(a is not None and a.contextual for a in given)
        )
        for i, doc in enumerate(documents):
            a = given[i]
            if a is None:
                a = analyse(doc.text, analyzer, settings.passages, contextual)
            if contextual:  # (a document brought without vectors is encoded here)
                vec = a.s_vec if a.contextual else sentence_vectors(doc.text, a.s_start, a.s_end)
                parts["s_vec"].append(vec)
            terms = a.terms
            ids = (
                operator.itemgetter(*terms)(vocab) if len(terms) > 1 else [vocab[t] for t in terms]
            )
            parts["tokens"].append(np.asarray(ids, np.int32).reshape(-1)[a.tokens])
            for name in _ANALYSED:
                parts[name].append(getattr(a, name))
            for name in ("s_tok", "s_name", "s_piece", "p_sent"):  # each one's counts from 0
                parts[name].append(getattr(a, name)[1:])
            for name, of in (("passages", a.p_start), ("sentences", a.s_start)):
                counts[name].append(len(of))
            counts["tokens"].append(len(a.tokens))
            counts["names"].append(len(a.names))
            counts["pieces"].append(len(a.pieces))
            if progress:
                progress(i + 1, len(documents))
        cat = {
            name: np.concatenate(parts[name]) if parts[name] else np.zeros(0, dtype)
            for name, dtype in _BUILT.items()
        }
        no_vectors = np.zeros((0, encoder.DIMENSIONS), np.float16)
        s_vec = np.concatenate(parts["s_vec"]) if parts["s_vec"] else no_vectors
        # number every document's sentences, tokens and names after the documents before it
        per_passage, per_sentence = counts["passages"], counts["sentences"]
        first = {
            n: np.cumsum([0, *counts[n]], dtype=np.int64)[:-1]
            for n in ("sentences", "tokens", "names", "pieces")
        }
        sent_shift = np.repeat(first["sentences"], per_passage)
        cat["p_doc"] = np.repeat(np.arange(len(per_passage), dtype=np.int32), per_passage)
        cat["s_tok"] += np.repeat(first["tokens"], per_sentence)
        cat["s_name"] += np.repeat(first["names"], per_sentence)
        cat["s_piece"] += np.repeat(first["pieces"], per_sentence)
        cat["p_sent"] += sent_shift
        cat["p_next"] = np.where(cat["p_next"] >= 0, cat["p_next"] + sent_shift, cat["p_next"])
        zero = np.zeros(1, np.int64)
        for name in ("s_tok", "s_name", "s_piece", "p_sent"):
            cat[name] = np.concatenate([zero, cat[name]])
        cat["doc_len"] = np.diff(cat["s_tok"][cat["p_sent"]]).astype(np.int32)
        terms = list(itertools.islice(vocab, n_base, None))
        if on is None:
            postings = Segment.from_tokens(terms, cat["tokens"], cat["doc_len"], settings.bm25)
            term_ids = cat["tokens"]
        else:
            postings, term_ids = Segment.from_tokens_on(
                on, terms, cat["tokens"], cat["doc_len"], settings.bm25
            )
        arrays = {name: cat[name] for name in PASSAGE_ARRAYS}
        spans = {
            **{n: _offsets(cat[n]) for n in ("s_start", "s_end", "s_para", "p_next")},
            **{n: _offsets(cat[n]) for n in ("s_tok", "s_name", "s_piece", "p_sent")},
            "s_flags": cat["s_flags"],
            "names": cat["names"].reshape(-1, 2),
            "pieces": cat["pieces"],
            "tokens": narrow(np.asarray(term_ids), np.uint16),  # 2 bytes under 65,536 terms
            "s_vec": s_vec,
        }
        key = cache_key(documents, settings, base)
        return cls(
            documents,
            arrays,
            BM25Index([postings], settings.bm25),
            settings,
            key,
            Spans(spans, postings),
            base,
        )

    def analysed(self, i: int) -> Analysed:
        """Document ``i`` of a single segment, as the analysis it was built from."""
        assert self.spans is not None and len(self.segments) == 1
        sp, (seg,) = self.spans, self.bm25.segments
        lo, hi = int(self._doc_start[i]), int(self._doc_start[i + 1])
        s_lo, s_hi = int(sp.p_sent[lo]), int(sp.p_sent[hi])
        t_lo, t_hi = int(sp.s_tok[s_lo]), int(sp.s_tok[s_hi])
        n_lo, n_hi = int(sp.s_name[s_lo]), int(sp.s_name[s_hi])
        k_lo, k_hi = int(sp.s_piece[s_lo]), int(sp.s_piece[s_hi])
        # the document's own terms, numbered in order of first use (as analysing gives)
        ids, first, inverse = np.unique(
            sp.tokens[t_lo:t_hi], return_index=True, return_inverse=True
        )
        order = np.argsort(first, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        p_next = np.asarray(sp.p_next[lo:hi], np.int64)
        return Analysed(
            p_start=np.asarray(self.p_start[lo:hi], np.int64),
            p_end=np.asarray(self.p_end[lo:hi], np.int64),
            p_para=np.asarray(self.p_para[lo:hi], np.int32),
            s_start=np.asarray(sp.s_start[s_lo:s_hi], np.int64),
            s_end=np.asarray(sp.s_end[s_lo:s_hi], np.int64),
            s_para=np.asarray(sp.s_para[s_lo:s_hi], np.int64),
            s_flags=np.asarray(sp.s_flags[s_lo:s_hi], np.uint8),
            s_tok=np.asarray(sp.s_tok[s_lo : s_hi + 1], np.int64) - t_lo,
            s_name=np.asarray(sp.s_name[s_lo : s_hi + 1], np.int64) - n_lo,
            names=np.asarray(sp.names[n_lo:n_hi], np.int32).reshape(-1, 2),
            s_piece=np.asarray(sp.s_piece[s_lo : s_hi + 1], np.int64) - k_lo,
            pieces=np.asarray(sp.pieces[k_lo:k_hi], np.uint16),
            p_sent=np.asarray(sp.p_sent[lo : hi + 1], np.int64) - s_lo,
            p_next=np.where(p_next >= 0, p_next - s_lo, p_next),
            tokens=rank[inverse.reshape(-1)].astype(np.int32),
            s_vec=np.array(sp.s_vec[s_lo:s_hi] if sp.contextual else sp.s_vec[:0]),
            terms=tuple(seg.terms[t] for t in ids[order].tolist()),
        )

    @classmethod
    def join(cls, parts: Sequence[SearchIndex]) -> SearchIndex:
        """One index over the segments of ``parts`` (single-segment indexes, same settings),
        scored as one index over all their passages; nothing is copied."""
        if len(parts) == 1:
            return parts[0]
        if not parts:
            raise ValueError("an index needs at least one segment")
        settings = parts[0].settings
        doc_shifts = np.cumsum([0, *(len(p.documents) for p in parts)])[:-1].tolist()
        zeros = [0] * len(parts)
        arrays = {
            n: Joined([getattr(p, n) for p in parts], doc_shifts if n == "p_doc" else zeros)
            for n in PASSAGE_ARRAYS
        }
        bm25 = BM25Index([s for p in parts for s in p.bm25.segments], settings.bm25)
        documents = Chain([p.documents for p in parts])
        key = hashlib.sha256("".join(p.key for p in parts).encode()).hexdigest()
        joined = cls(documents, arrays, bm25, settings, key)  # type: ignore[arg-type]
        joined.segments = tuple(parts)
        return joined

    def passage_ranges(self, docs: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """For each of ``docs``, its first passage and one past its last (passages are
        numbered document by document)."""
        if len(self.segments) == 1:
            d = np.asarray(docs, np.int64)
            return self._doc_start[d], self._doc_start[d + 1]
        lo, hi = [], []
        for d in docs:
            n = bisect.bisect_right(self._doc_offsets, d) - 1
            part, local, shift = self.segments[n], d - self._doc_offsets[n], self._part_starts[n]
            lo.append(int(part._doc_start[local]) + shift)
            hi.append(int(part._doc_start[local + 1]) + shift)
        return np.asarray(lo, np.int64), np.asarray(hi, np.int64)

    @cached_property
    def _doc_start(self) -> np.ndarray:
        """Of a single segment: document d holds passages doc_start[d] .. doc_start[d + 1] - 1."""
        return np.searchsorted(self.p_doc, np.arange(len(self.documents) + 1))

    @cached_property
    def _doc_offsets(self) -> list[int]:
        return np.cumsum([0, *(len(s.documents) for s in self.segments)]).tolist()

    def sentences(self, i: int) -> tuple[list[Sentence], int]:
        """Passage ``i``'s sentences, read from the stored analysis: those inside it, then
        the first of the paragraph after it; and how many lie inside."""
        part, i = self._part_of(i)
        assert part.spans is not None
        doc = part.document_of(i)
        return part.spans.passage(i, doc.text, part.analyzer)

    @cached_property
    def contextual(self) -> bool:
        """Every segment holds its sentences' contextual vectors (:mod:`bot.core.encoder`):
        the semantic features use them, else the static ones (:mod:`bot.core.semantic`)."""
        return all(s.spans is not None and s.spans.contextual for s in self.segments)

    @cached_property
    def unencoded(self) -> bool:
        """A single segment built without the contextual vectors its size allows
        (:meth:`build` with ``encode=False``): they are to be made apart, and it is never
        cached."""
        return not self.contextual and _within_budget(self.documents, self.base)

    def vectors(self, i: int, contextual: bool) -> np.ndarray:
        """The vectors of passage ``i``'s sentences (those :meth:`sentences` returns), one
        row each: contextual, or the static token sums."""
        part, i = self._part_of(i)
        assert part.spans is not None
        return part.spans.vectors(i, part.document_of(i).text, contextual)

    def _part_of(self, i: int) -> tuple[SearchIndex, int]:
        """The segment holding passage ``i``, and its number there."""
        if len(self.segments) == 1:
            return self, i
        n = bisect.bisect_right(self._part_starts, i) - 1
        return self.segments[n], i - self._part_starts[n]

    @cached_property
    def _part_starts(self) -> list[int]:
        return np.cumsum([0, *(len(s) for s in self.segments)]).tolist()

    def passages_of(self, doc_id: str) -> int:
        """How many passages a document has."""
        for seg in self.segments:
            i = next((n for n, d in enumerate(seg.documents) if d.id == doc_id), None)
            if i is not None:
                return int((np.asarray(seg.p_doc) == i).sum())
        return 0

    @cached_property
    def nbytes(self) -> int:
        """Memory held by the index arrays (the index never changes, so measured once)."""
        return sum(
            sum(np.asarray(getattr(s, n)).nbytes for n in PASSAGE_ARRAYS)
            + s.bm25.nbytes
            + (s.spans.nbytes if s.spans is not None else 0)
            for s in self.segments
        )

    def passage(self, i: int) -> Passage:
        return Passage(
            doc_id=self.documents[int(self.p_doc[i])].id,
            start=int(self.p_start[i]),
            end=int(self.p_end[i]),
            paragraph=int(self.p_para[i]),
        )

    def document_of(self, i: int) -> Document:
        return self.documents[int(self.p_doc[i])]

    def _arrays(self) -> dict[str, np.ndarray]:
        """A single-segment index as the flat arrays :meth:`_from_arrays` reads."""
        (postings,) = self.bm25.segments
        assert self.spans is not None
        return {
            **{n: np.asarray(getattr(self, n)) for n in PASSAGE_ARRAYS},
            **postings.arrays(),
            **{n: getattr(self.spans, n) for n in Spans.ARRAYS},
        }

    @classmethod
    def _from_arrays(
        cls,
        arrays: Mapping[str, np.ndarray],
        documents: Sequence[Document],
        settings: IndexSettings,
        key: str,
        base: SearchIndex | None,
    ) -> SearchIndex:
        segment = Segment.from_arrays(arrays, None if base is None else base.bm25.segments[0])
        bm25 = BM25Index([segment], settings.bm25)
        return cls(documents, arrays, bm25, settings, key, Spans(arrays, segment), base)

    def rebased(self, base: SearchIndex) -> SearchIndex:
        """This segment on ``base`` instead of its own base, nothing rebuilt: ``base`` must
        have the same key (the same documents and settings, so the same term numbering; e.g.
        the same segment once its sentences are encoded)."""
        if self.base is None or base.key != self.base.key:
            raise ValueError("a segment is rebased only onto a base with its own base's key")
        return self._from_arrays(self._arrays(), self.documents, self.settings, self.key, base)

    def save(self, path: Path) -> None:
        """Write a single-segment index to ``path`` atomically (temp file, fsync, rename),
        laid out so :meth:`load` can memory-map it."""
        arrays = self._arrays()
        write_atomic(path, lambda fh: write_arrays(fh, arrays, self.key))

    @classmethod
    def load(
        cls,
        path: Path,
        documents: Sequence[Document],
        settings: IndexSettings,
        base: SearchIndex | None = None,
    ) -> SearchIndex | None:
        """The cached index at ``path``, memory-mapped, if it was built from exactly these
        documents and settings (and base); None when it is missing, stale or unreadable."""
        key = cache_key(documents, settings, base)
        try:
            arrays = read_arrays(path, key)
        except (OSError, KeyError, ValueError, TypeError) as exc:
            if path.exists():
                log.warning("index cache %s is unreadable (%s); rebuilding", path, exc)
            return None
        if arrays is None:
            return None
        return cls._from_arrays(arrays, documents, settings, key, base)


def _within_budget(documents: Sequence[Document], base: SearchIndex | None) -> bool:
    """Whether a segment is to hold contextual vectors: its text within the encoder's
    budget, and its base (if any) holding them too (a view joining the two could not use
    them)."""
    return sum(len(d.text) for d in documents) <= encoder.MAX_CHARS and (
        base is None or base.contextual
    )


def _offsets(values: np.ndarray) -> np.ndarray:
    """4 bytes a value when they fit (they do unless a segment is enormous), else 8."""
    return narrow(values.astype(np.int64), np.int32)


def write_arrays(fh, arrays: Mapping[str, np.ndarray], key: str) -> None:
    """A magic, a JSON header (key, and each array's dtype, shape and offset), then the arrays,
    each aligned to 64 bytes."""
    layout, offset = {}, 0
    for name, a in arrays.items():
        layout[name] = [a.dtype.str, list(a.shape), offset]
        offset += -(-a.nbytes // ALIGN) * ALIGN
    header = json.dumps({"key": key, "arrays": layout}).encode()
    start = -(-(16 + len(header)) // ALIGN) * ALIGN
    fh.write(MAGIC + len(header).to_bytes(8, "little") + header)
    fh.write(b"\0" * (start - 16 - len(header)))
    for a in arrays.values():
        fh.write(np.ascontiguousarray(a).tobytes())
        fh.write(b"\0" * (-(-a.nbytes // ALIGN) * ALIGN - a.nbytes))


def read_arrays(path: Path, key: str) -> dict[str, np.ndarray] | None:
    total = os.path.getsize(path)
    with open(path, "rb") as fh:
        if fh.read(8) != MAGIC:
            raise ValueError("not an index cache file")
        size = int.from_bytes(fh.read(8), "little")
        if size > total:
            raise ValueError("truncated header")
        header = json.loads(fh.read(size))
    if header.get("key") != key:
        return None
    start = -(-(16 + size) // ALIGN) * ALIGN
    # a plain ndarray over the map (the memmap subclass makes every element read slower)
    raw = (
        np.memmap(path, dtype=np.uint8, mode="c").view(np.ndarray)
        if total > start
        else np.zeros(0, np.uint8)
    )
    out = {}
    for name, (dtype, shape, offset) in header["arrays"].items():
        dt = np.dtype(dtype)
        n = int(np.prod(shape, dtype=np.int64)) * dt.itemsize
        lo = start + offset
        if lo + n > total:
            raise ValueError(f"truncated at {name}")
        out[name] = raw[lo : lo + n].view(dt).reshape(shape) if n else np.zeros(shape, dt)
    return out


def cache_key(
    documents: Sequence[Document], settings: IndexSettings, base: SearchIndex | None = None
) -> str:
    h = hashlib.sha256()
    h.update(json.dumps({"format": FORMAT_VERSION, **settings.model_dump(mode="json")}).encode())
    h.update(f"\0tokeniser\0{semantic.fingerprint()}".encode())  # the stored token ids'
    h.update(f"\0encoder\0{encoder.fingerprint()}\0{encoder.MAX_CHARS}".encode())  # vectors'
    if base is not None:  # its term ids are the base's
        h.update(f"\0base\0{base.key}".encode())
    for doc in documents:
        h.update(f"\0{doc.collection}\0{doc.id}\0{doc.sha256}".encode())
    return h.hexdigest()


def cache_path(
    cache_dir: Path,
    documents: Sequence[Document],
    settings: IndexSettings,
    base: SearchIndex | None = None,
) -> Path:
    """``index-<collections>-<key>.bin``: the collections part lets pruning keep the latest
    files of every collection (the operator's and each server's) side by side."""
    names = sorted({d.collection for d in documents})
    group = hashlib.sha256("\0".join(names).encode()).hexdigest()[:12]
    return cache_dir / f"index-{group}-{cache_key(documents, settings, base)[:32]}.bin"


def load_or_build(
    documents: Sequence[Document],
    settings: IndexSettings,
    cache_dir: Path | None,
    progress: Progress | None = None,
    base: SearchIndex | None = None,
    known: Known | None = None,
    encode: bool = True,
) -> tuple[SearchIndex, bool]:
    """The index for these documents (numbered on ``base``'s terms, if given), from the cache
    when fresh, else built (from ``known`` analyses where it has them; ``encode``: as
    :meth:`SearchIndex.build`). Returns (index, from_cache). A segment built without the
    vectors it is to hold (:attr:`SearchIndex.unencoded`) is neither cached nor read from the
    cache (an earlier release cached some), so the cache holds it once they are made."""
    if cache_dir is not None:
        path = cache_path(cache_dir, documents, settings, base)
        cached = SearchIndex.load(path, documents, settings, base)
        if cached is not None and not cached.unencoded:
            return cached, True
    index = SearchIndex.build(documents, settings, progress, base, known, encode)
    if cache_dir is not None and not index.unencoded:
        try:
            index.save(path)
            _prune(cache_dir, keep=path)
            return SearchIndex.load(path, documents, settings, base) or index, False
        except OSError as exc:
            log.warning("could not write index cache %s: %s", cache_dir, exc)
    return index, False


def _prune(cache_dir: Path, keep: Path, per_group: int = 2) -> None:
    """Keep the cache folder small: of the files of ``keep``'s collections, only the newest
    ``per_group`` (other collections' files are left alone)."""
    group = keep.name.rsplit("-", 1)[0]
    files = sorted(cache_dir.glob(f"{group}-*.bin"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in [*files[per_group:], *cache_dir.glob("index-*.npz")]:  # .npz: format 1
        if old != keep:
            old.unlink(missing_ok=True)
