"""The two databases behind the store: the embedded SQLite file (the default) and a
PostgreSQL server (a deployment spanning machines).

Each gives the store the same few things: a write transaction, reads, versioned migrations
run under a lock every process shares, a change announcement made inside the writing
transaction, and a stream of wake-ups telling a process to look for other processes' changes
(PostgreSQL: LISTEN/NOTIFY; SQLite: a timer). The SQL is written once, in
:mod:`bot.store.store`, with ``?`` placeholders.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

log = logging.getLogger(__name__)

CHANNEL = "verbatim_changes"
_MIGRATION_LOCK = 0x76657262  # "verb": the advisory lock every migrating process takes


class StoreError(RuntimeError):
    """The database cannot be used (unreachable, not ours, written by a newer version)."""


Row = dict[str, Any]


class Tx(ABC):
    """A connection inside a transaction (or, for reads, in autocommit)."""

    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        rows = self.execute(sql, params)
        return rows[0] if rows else None


@dataclass(frozen=True)
class Migration:
    """One schema version: its SQL in each dialect, then an optional data step run in the
    same transaction."""

    sqlite: str
    postgresql: str
    data: Callable[[Tx], None] | None = None

    def statements(self, dialect: str) -> list[str]:
        script = self.sqlite if dialect == "sqlite" else self.postgresql
        return [s for s in script.split(";") if s.strip()]


def redact(url: str) -> str:
    """A database URL safe to print: its password (in the user part or the query) as ***."""
    parts = urlsplit(url)
    if parts.password is not None:
        host = parts.hostname or ""
        netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
        parts = parts._replace(netloc=netloc)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if any(key == "password" for key, _ in query):
        safe = [(k, "***" if k == "password" else v) for k, v in query]
        parts = parts._replace(query=urlencode(safe, safe="*"))
    return urlunsplit(parts)


class Backend(ABC):
    dialect: str
    where: str  # how messages name the database (never with a password)

    @abstractmethod
    def transaction(self) -> contextlib.AbstractContextManager[Tx]:
        """One write transaction: committed on exit, rolled back on any exception."""

    @abstractmethod
    def read(self) -> contextlib.AbstractContextManager[Tx]: ...

    @abstractmethod
    def snapshot(self) -> contextlib.AbstractContextManager[Tx]:
        """Reads that all see the database as of one moment (an export while bots run)."""

    @abstractmethod
    def migrate(self, migrations: Sequence[Migration]) -> tuple[int, int]:
        """Bring the schema up to ``len(migrations)``; (version before, version after)."""

    @abstractmethod
    def lock(self, tx: Tx, key: int) -> None:
        """Hold ``key`` (a server id) until ``tx`` ends, so read-modify-write transactions on
        one server run one after the other, in every process."""

    @abstractmethod
    def announce(self, tx: Tx, payload: str) -> None:
        """Tell every other process, once ``tx`` commits, that something changed."""

    @abstractmethod
    def wake_ups(self, poll_seconds: float) -> AsyncIterator[None]:
        """Yields whenever other processes may have changed something (once at the start)."""

    @abstractmethod
    def close(self) -> None: ...


def _scrub(exc: Exception, url: str) -> str:
    """An error's first line, with the URL's passwords (if they appear at all) blanked."""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    parts = urlsplit(url)
    secrets = [parts.password, *(v for k, v in parse_qsl(parts.query) if k == "password")]
    for secret in filter(None, secrets):
        message = message.replace(secret, "***")
    return message


def _too_new(where: str, version: int, known: int) -> StoreError:
    return StoreError(
        f"{where} was written by a newer Verbatim (schema {version}, this one knows {known}); "
        "upgrade Verbatim or use another database"
    )


# -- SQLite --------------------------------------------------------------------------------


class _SQLiteTx(Tx):
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return [dict(row) for row in self.conn.execute(sql, tuple(params))]


def _wal(conn: sqlite3.Connection, wait: float = 30.0) -> None:
    """Switch to write-ahead logging. The switch can answer "database is locked" at once,
    without the busy timeout, while other processes open a new file: retry then."""
    deadline = time.monotonic() + wait
    delay = 0.005
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


class SQLiteBackend(Backend):
    """One file; each thread has its own connection; every write is ``BEGIN IMMEDIATE``, so
    writers (threads or processes) queue instead of interleaving."""

    dialect = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.where = str(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._open: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(
                    self.path, timeout=30, isolation_level=None, check_same_thread=False
                )
                conn.row_factory = sqlite3.Row
                conn.execute("PRAGMA busy_timeout=30000")
                _wal(conn)
                conn.execute("PRAGMA foreign_keys=ON")
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"{self.path} is not a Verbatim database: {exc}") from None
            self._local.conn = conn
            with self._lock:
                self._open.append(conn)
        return conn

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Tx]:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield _SQLiteTx(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @contextlib.contextmanager
    def read(self) -> Iterator[Tx]:
        yield _SQLiteTx(self._conn())

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[Tx]:
        conn = self._conn()
        conn.execute("BEGIN")  # deferred: in WAL mode, one consistent read snapshot
        try:
            yield _SQLiteTx(conn)
        finally:
            conn.execute("COMMIT")

    def migrate(self, migrations: Sequence[Migration]) -> tuple[int, int]:
        # The version is read inside the write transaction, so two processes opening a new
        # file at once cannot both run a migration: the second waits, then sees it done.
        before = None
        while True:
            with self.transaction() as tx:
                try:
                    version = int(tx.execute("PRAGMA user_version")[0]["user_version"])
                except sqlite3.DatabaseError as exc:
                    raise StoreError(f"{self.path} is not a Verbatim database: {exc}") from None
                before = version if before is None else before
                if version > len(migrations):
                    raise _too_new(self.where, version, len(migrations))
                if version == len(migrations):
                    return before, version
                step = migrations[version]
                for statement in step.statements(self.dialect):
                    tx.execute(statement)
                if step.data is not None:
                    step.data(tx)
                tx.execute(f"PRAGMA user_version = {version + 1}")

    def lock(self, tx: Tx, key: int) -> None:
        """Nothing more to take: BEGIN IMMEDIATE already serialises every writer."""

    def announce(self, tx: Tx, payload: str) -> None:
        """Nothing to send: other processes poll the audit log (:meth:`wake_ups`)."""

    async def wake_ups(self, poll_seconds: float) -> AsyncIterator[None]:
        yield
        while poll_seconds > 0:
            await asyncio.sleep(poll_seconds)
            yield

    def close(self) -> None:
        with self._lock:
            conns, self._open = self._open, []
        for conn in conns:
            conn.close()
        self._local = threading.local()


# -- PostgreSQL ----------------------------------------------------------------------------


def _psycopg() -> Any:
    try:
        import psycopg
        import psycopg_pool  # noqa: F401
    except ImportError:
        raise StoreError(
            "a PostgreSQL database_url needs psycopg: pip install 'verbatim[postgres]'"
        ) from None
    return psycopg


class _PostgresTx(Tx):
    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        cur = self.conn.execute(sql.replace("?", "%s"), tuple(params))
        return list(cur.fetchall()) if cur.description is not None else []


class PostgresBackend(Backend):
    """A connection pool (psycopg_pool); migrations under a transaction-scoped advisory lock;
    changes announced with NOTIFY inside the writing transaction (delivered on commit)."""

    dialect = "postgresql"

    def __init__(self, url: str, *, pool_size: int = 4) -> None:
        psycopg = _psycopg()
        from psycopg.rows import dict_row
        from psycopg_pool import ConnectionPool

        self.url = url
        self.where = redact(url)
        try:  # one plain connection first: an unreachable server is a clear error at once
            psycopg.connect(url, connect_timeout=10).close()
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to {self.where}: {_scrub(exc, url)}") from None
        self.pool = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            kwargs={"row_factory": dict_row, "autocommit": True},
            open=False,
            name="verbatim",
            check=ConnectionPool.check_connection,  # a server restart costs no failed request
        )
        self.pool.open(wait=True, timeout=30)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Tx]:
        with self.pool.connection() as conn, conn.transaction():
            yield _PostgresTx(conn)

    @contextlib.contextmanager
    def read(self) -> Iterator[Tx]:
        with self.pool.connection() as conn:
            yield _PostgresTx(conn)

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[Tx]:
        with self.pool.connection() as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield _PostgresTx(conn)

    def migrate(self, migrations: Sequence[Migration]) -> tuple[int, int]:
        with self.transaction() as tx:
            tx.execute("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))
            tx.execute("CREATE TABLE IF NOT EXISTS verbatim_schema (version INTEGER NOT NULL)")
            row = tx.one("SELECT version FROM verbatim_schema")
            if row is None:
                tx.execute("INSERT INTO verbatim_schema (version) VALUES (0)")
            before = version = int(row["version"]) if row else 0
            if version > len(migrations):
                raise _too_new(self.where, version, len(migrations))
            for step in migrations[version:]:
                for statement in step.statements(self.dialect):
                    tx.execute(statement)
                if step.data is not None:
                    step.data(tx)
                version += 1
            tx.execute("UPDATE verbatim_schema SET version = ?", (version,))
            return before, version

    def lock(self, tx: Tx, key: int) -> None:
        # Server ids are Discord snowflakes (> 2**50): never _MIGRATION_LOCK.
        tx.execute("SELECT pg_advisory_xact_lock(?)", (key,))

    def announce(self, tx: Tx, payload: str) -> None:
        tx.execute("SELECT pg_notify(?, ?)", (CHANNEL, payload))

    async def wake_ups(self, poll_seconds: float) -> AsyncIterator[None]:
        import psycopg

        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(self.url, autocommit=True)
                async with conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    yield  # (re)connected: catch up on anything missed meanwhile
                    async for _ in conn.notifies():
                        yield
            except psycopg.Error as exc:  # server restart, network: reconnect, catch up
                log.warning(
                    "lost the change feed from %s (%s); reconnecting",
                    self.where,
                    _scrub(exc, self.url),
                )
                await asyncio.sleep(1)

    def close(self) -> None:
        self.pool.close()


def open_backend(target: Path | str) -> Backend:
    """``postgresql://…`` (or ``postgres://…``): a server; ``sqlite:///path`` or a path: a
    file."""
    if isinstance(target, Path):
        return SQLiteBackend(target)
    if target.startswith(("postgresql://", "postgres://")):
        return PostgresBackend(target)
    if target.startswith("sqlite:///"):
        return SQLiteBackend(Path(target.removeprefix("sqlite:///")))
    raise StoreError(
        f"database_url {redact(target)!r}: use postgresql://user:password@host/db or sqlite:///path"
    )
