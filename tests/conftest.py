from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.answers import Answerer
from bot.core.bm25 import compile_kernels
from bot.core.corpus import default_corpus_dir, load_folder
from bot.core.index import SearchIndex

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"


@pytest.fixture(scope="session", autouse=True)
def _compiled_kernels() -> None:
    """Compile the numba kernels once, before any test that times its replies."""
    compile_kernels()


@pytest.fixture(scope="session")
def default_index() -> SearchIndex:
    loaded = load_folder(default_corpus_dir())
    assert not loaded.issues
    return SearchIndex.build(loaded.documents)


@pytest.fixture(scope="session")
def answerer(default_index: SearchIndex) -> Answerer:
    return Answerer(default_index)
