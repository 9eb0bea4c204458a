from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.core.answers import Answerer
from bot.core.bm25 import compile_kernels
from bot.core.corpus import default_corpus_dir, load_folder
from bot.core.index import SearchIndex
from tests.postgres import HOW_TO, Cluster, running_cluster, server_bin

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


@pytest.fixture(scope="session")
def postgres() -> Iterator[Cluster]:
    """One throwaway PostgreSQL server for the whole session (each test takes a fresh
    database from it). Skipped where no server binary is installed, but never in CI."""
    if server_bin() is None:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the PostgreSQL tests: {HOW_TO}")
        pytest.skip(HOW_TO)
    with running_cluster() as cluster:
        yield cluster


@pytest.fixture(params=["sqlite", "postgresql"])
def db_target(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """Where a store lives: an SQLite file, or a fresh database on the test PostgreSQL."""
    if request.param == "sqlite":
        return tmp_path / "db" / "verbatim.sqlite3"
    cluster: Cluster = request.getfixturevalue("postgres")
    return cluster.new_database()


@pytest.fixture
def postgres_or_none(request: pytest.FixtureRequest, db_target: Path | str) -> Cluster | None:
    """The test PostgreSQL when ``db_target`` is on it."""
    return None if isinstance(db_target, Path) else request.getfixturevalue("postgres")
