"""Opening a corpus for answering: load its documents, then its index (from the cache when
fresh), then an :class:`Answerer` over them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.core.answers import Answerer, AnswerSettings
from bot.core.corpus import LoadedCorpus, default_corpus_dir, load_folder
from bot.core.index import IndexSettings, Progress, load_or_build


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
    loaded = load_folder(folder)
    index, from_cache = load_or_build(loaded.documents, index_settings, cache_dir, progress)
    return OpenCorpus(folder, loaded, Answerer(index, answer_settings), from_cache)
