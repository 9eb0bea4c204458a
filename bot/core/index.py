"""The searchable index of a set of documents: passages as flat span arrays, a BM25 index
over them, and an on-disk cache keyed by the documents' content and every setting that shapes
the index. The cache is written atomically and rebuilt whenever its key changes."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict

from bot.core.analysis import AnalysisSettings, Analyzer
from bot.core.atomic import write_atomic
from bot.core.bm25 import BM25Index, BM25Settings
from bot.core.models import Document, Passage
from bot.core.segment import SegmentSettings, passages

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
Progress = Callable[[int, int], None]


class IndexSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    analysis: AnalysisSettings = AnalysisSettings()
    passages: SegmentSettings = SegmentSettings()
    bm25: BM25Settings = BM25Settings()


class SearchIndex:
    """Immutable once built: safe to query from several threads at once."""

    def __init__(
        self,
        documents: Sequence[Document],
        passage_arrays: dict[str, np.ndarray],
        bm25: BM25Index,
        settings: IndexSettings,
        key: str,
    ) -> None:
        self.documents = tuple(documents)
        self.by_id = {d.id: d for d in self.documents}
        self.p_doc = passage_arrays["p_doc"]
        self.p_start = passage_arrays["p_start"]
        self.p_end = passage_arrays["p_end"]
        self.p_para = passage_arrays["p_para"]
        self.bm25 = bm25
        self.settings = settings
        self.analyzer = Analyzer(settings.analysis)
        self.key = key

    def __len__(self) -> int:
        return len(self.p_doc)

    @classmethod
    def build(
        cls,
        documents: Sequence[Document],
        settings: IndexSettings | None = None,
        progress: Progress | None = None,
    ) -> SearchIndex:
        settings = settings or IndexSettings()
        analyzer = Analyzer(settings.analysis)
        p_doc: list[int] = []
        p_start: list[int] = []
        p_end: list[int] = []
        p_para: list[int] = []
        token_lists: list[list[str]] = []
        for i, doc in enumerate(documents):
            for unit in passages(doc.text, settings.passages):
                p_doc.append(i)
                p_start.append(unit.start)
                p_end.append(unit.end)
                p_para.append(unit.paragraph)
                token_lists.append(analyzer.terms(doc.text, unit.start, unit.end))
            if progress:
                progress(i + 1, len(documents))
        arrays = {
            "p_doc": np.asarray(p_doc, dtype=np.int32),
            "p_start": np.asarray(p_start, dtype=np.int64),
            "p_end": np.asarray(p_end, dtype=np.int64),
            "p_para": np.asarray(p_para, dtype=np.int32),
        }
        bm25 = BM25Index.build(token_lists, settings.bm25)
        return cls(documents, arrays, bm25, settings, cache_key(documents, settings))

    def passages_of(self, doc_id: str) -> int:
        """How many passages a document has."""
        i = next((n for n, d in enumerate(self.documents) if d.id == doc_id), None)
        return 0 if i is None else int((self.p_doc == i).sum())

    @cached_property
    def nbytes(self) -> int:
        """Memory held by the index arrays (the index never changes, so measured once)."""
        arrays = [self.p_doc, self.p_start, self.p_end, self.p_para, *self.bm25.arrays().values()]
        return sum(a.nbytes for a in arrays) + self.bm25.weights.nbytes

    def passage(self, i: int) -> Passage:
        return Passage(
            doc_id=self.documents[int(self.p_doc[i])].id,
            start=int(self.p_start[i]),
            end=int(self.p_end[i]),
            paragraph=int(self.p_para[i]),
        )

    def document_of(self, i: int) -> Document:
        return self.documents[int(self.p_doc[i])]

    def save(self, path: Path) -> None:
        """Write the index to ``path`` atomically (temp file, fsync, rename)."""
        arrays = {
            "p_doc": self.p_doc,
            "p_start": self.p_start,
            "p_end": self.p_end,
            "p_para": self.p_para,
            "key": np.asarray(self.key),
            **self.bm25.arrays(),
        }
        write_atomic(path, lambda fh: np.savez(fh, **arrays))

    @classmethod
    def load(
        cls, path: Path, documents: Sequence[Document], settings: IndexSettings
    ) -> SearchIndex | None:
        """The cached index at ``path`` if it was built from exactly these documents and
        settings; None when it is missing, stale or unreadable."""
        key = cache_key(documents, settings)
        try:
            with np.load(path, allow_pickle=False) as data:
                if str(data["key"]) != key:
                    return None
                arrays = {name: data[name] for name in data.files}
        except (OSError, KeyError, ValueError) as exc:
            if path.exists():
                log.warning("index cache %s is unreadable (%s); rebuilding", path, exc)
            return None
        bm25 = BM25Index(
            arrays["terms"].tolist(),
            arrays["indptr"],
            arrays["doc_ids"],
            arrays["tfs"],
            arrays["doc_len"],
            settings.bm25,
        )
        return cls(documents, arrays, bm25, settings, key)


def cache_key(documents: Sequence[Document], settings: IndexSettings) -> str:
    h = hashlib.sha256()
    h.update(json.dumps({"format": FORMAT_VERSION, **settings.model_dump(mode="json")}).encode())
    for doc in documents:
        h.update(f"\0{doc.collection}\0{doc.id}\0{doc.sha256}".encode())
    return h.hexdigest()


def load_or_build(
    documents: Sequence[Document],
    settings: IndexSettings,
    cache_dir: Path | None,
    progress: Progress | None = None,
) -> tuple[SearchIndex, bool]:
    """The index for these documents, from the cache when fresh. Returns (index, from_cache)."""
    if cache_dir is not None:
        path = cache_dir / f"index-{cache_key(documents, settings)[:32]}.npz"
        cached = SearchIndex.load(path, documents, settings)
        if cached is not None:
            return cached, True
    index = SearchIndex.build(documents, settings, progress)
    if cache_dir is not None:
        try:
            index.save(path)
            _prune(cache_dir, keep=path)
        except OSError as exc:
            log.warning("could not write index cache %s: %s", cache_dir, exc)
    return index, False


def _prune(cache_dir: Path, keep: Path, max_files: int = 8) -> None:
    """Keep the cache folder small: drop the oldest index files beyond ``max_files``."""
    files = sorted(cache_dir.glob("index-*.npz"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in files[max_files:]:
        if old != keep:
            old.unlink(missing_ok=True)
