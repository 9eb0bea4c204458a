"""The embedded SQLite database: per-server settings and the audit log of corpus changes.

Migrations are numbered SQL scripts tracked with ``PRAGMA user_version``; each runs in one
transaction. Every write is one ``BEGIN IMMEDIATE`` transaction, and each thread has its own
connection, so two admins changing things at once cannot interleave half-writes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

MIGRATIONS = (
    """
    CREATE TABLE guild_settings (
        guild_id INTEGER PRIMARY KEY,
        data TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        updated_by INTEGER
    );
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        guild_id INTEGER,
        user_id INTEGER,
        action TEXT NOT NULL,
        collection TEXT,
        doc_id TEXT,
        sha256 TEXT,
        detail TEXT
    );
    CREATE INDEX audit_guild_at ON audit (guild_id, at);
    """,
)


class StoreError(RuntimeError):
    """The database cannot be used (e.g. it was written by a newer version)."""


class SettingError(ValueError):
    """A setting value that cannot be used; the message names the key."""


class GuildSettings(BaseModel):
    """A server's own settings; None / empty means "use the operator's config"."""

    model_config = ConfigDict(extra="forbid")

    allowed_channels: list[int] = Field(default_factory=list)
    admin_roles: list[int] = Field(default_factory=list)
    public_by_default: bool | None = None
    results: int | None = Field(default=None, ge=1, le=10)
    audit_channel: int | None = None


SETTING_KEYS = {
    "allowed_channels": "channels I answer in (mentions or ids; none: all)",
    "admin_roles": "roles that may change the corpus and settings, besides Manage Server",
    "public_by_default": "answers visible to the channel unless asked otherwise (true/false)",
    "results": "quotes per answer, 1-10",
    "audit_channel": "channel where corpus changes are posted (none: off)",
}
_CHANNEL_ID = re.compile(r"<#(\d+)>|(\d{5,25})")
_ROLE_ID = re.compile(r"<@&(\d+)>|(\d{5,25})")
_BOOLS = {"true": True, "yes": True, "on": True, "false": False, "no": False, "off": False}


def parse_setting(key: str, raw: str) -> Any:
    """The value a user typed for ``key``, validated; "default" resets the key."""
    if key not in SETTING_KEYS:
        raise SettingError(f"unknown setting {key!r}; one of: {', '.join(SETTING_KEYS)}")
    text = raw.strip()
    if text.lower() == "default":
        return GuildSettings.model_fields[key].get_default(call_default_factory=True)
    if key in ("allowed_channels", "admin_roles"):
        if text.lower() in ("", "none"):
            return []
        pattern, kind = (
            (_CHANNEL_ID, "channel") if key == "allowed_channels" else (_ROLE_ID, "role")
        )
        leftover = pattern.sub("", text).replace(",", " ").strip()
        if leftover:
            raise SettingError(f"{key}: give {kind} mentions or ids, not {leftover!r}")
        return list(dict.fromkeys(int(a or b) for a, b in pattern.findall(text)))
    if key == "public_by_default":
        if text.lower() not in _BOOLS:
            raise SettingError(f"{key}: true or false (or default)")
        return _BOOLS[text.lower()]
    if key == "audit_channel":
        if text.lower() in ("", "none"):
            return None
        found = _CHANNEL_ID.fullmatch(text)
        if not found:
            raise SettingError(f"{key}: a channel mention or id, or none")
        return int(found[1] or found[2])
    try:
        return int(text)
    except ValueError:
        raise SettingError(f"{key}: a whole number from 1 to 10 (or default)") from None


class AuditEntry(BaseModel):
    id: int
    at: str
    guild_id: int | None
    user_id: int | None
    action: str
    collection: str | None = None
    doc_id: str | None = None
    sha256: str | None = None
    detail: str | None = None


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._migrate()

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
        return conn

    def _migrate(self) -> None:
        try:
            conn = self._conn()
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path} is not a Verbatim database: {exc}") from None
        if version > len(MIGRATIONS):
            raise StoreError(
                f"{self.path} was written by a newer Verbatim (schema {version}, this one "
                f"knows {len(MIGRATIONS)}); upgrade Verbatim or use another data_dir"
            )
        for number, script in enumerate(MIGRATIONS[version:], version + 1):
            with self._transaction() as conn:
                for statement in filter(str.strip, script.split(";")):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number}")

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken before reading (BEGIN IMMEDIATE); rolled back on any
        exception, so a failure leaves what was there before."""
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def settings(self, guild_id: int) -> GuildSettings:
        row = (
            self._conn()
            .execute("SELECT data FROM guild_settings WHERE guild_id = ?", (guild_id,))
            .fetchone()
        )
        return GuildSettings.model_validate_json(row["data"]) if row else GuildSettings()

    def update_settings(self, guild_id: int, user_id: int, **changes: Any) -> GuildSettings:
        """Validate and write changes, and audit them, in one transaction."""
        with self._transaction() as conn:
            current = self.settings(guild_id).model_dump()
            try:
                updated = GuildSettings.model_validate({**current, **changes})
            except ValidationError as exc:
                err = exc.errors()[0]
                key = ".".join(str(p) for p in err["loc"])
                raise SettingError(f"{key}: {err['msg']}") from None
            now = _now()
            conn.execute(
                "INSERT INTO guild_settings (guild_id, data, updated_at, updated_by) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (guild_id) DO UPDATE SET "
                "data = excluded.data, updated_at = excluded.updated_at, "
                "updated_by = excluded.updated_by",
                (guild_id, updated.model_dump_json(), now, user_id),
            )
            self._insert_audit(
                conn, "settings.set", guild_id, user_id, detail=json.dumps(changes, default=str)
            )
        return updated

    def record(
        self,
        action: str,
        *,
        guild_id: int | None,
        user_id: int | None,
        collection: str | None = None,
        doc_id: str | None = None,
        sha256: str | None = None,
        detail: str | None = None,
    ) -> AuditEntry:
        with self._transaction() as conn:
            return self._insert_audit(
                conn, action, guild_id, user_id, collection, doc_id, sha256, detail
            )

    def _insert_audit(
        self,
        conn: sqlite3.Connection,
        action: str,
        guild_id: int | None,
        user_id: int | None,
        collection: str | None = None,
        doc_id: str | None = None,
        sha256: str | None = None,
        detail: str | None = None,
    ) -> AuditEntry:
        at = _now()
        cur = conn.execute(
            "INSERT INTO audit (at, guild_id, user_id, action, collection, doc_id, sha256, "
            "detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (at, guild_id, user_id, action, collection, doc_id, sha256, detail),
        )
        return AuditEntry(
            id=int(cur.lastrowid or 0),
            at=at,
            guild_id=guild_id,
            user_id=user_id,
            action=action,
            collection=collection,
            doc_id=doc_id,
            sha256=sha256,
            detail=detail,
        )

    def audit(self, guild_id: int | None, limit: int = 20) -> list[AuditEntry]:
        """Newest first; ``guild_id`` None: the operator's (command-line) entries."""
        where = "guild_id IS NULL" if guild_id is None else "guild_id = ?"
        args: tuple[Any, ...] = () if guild_id is None else (guild_id,)
        rows = self._conn().execute(
            f"SELECT * FROM audit WHERE {where} ORDER BY id DESC LIMIT ?", (*args, limit)
        )
        return [AuditEntry(**dict(row)) for row in rows]

    def audit_since(self, after_id: int, limit: int = 500) -> list[AuditEntry]:
        """Entries newer than ``after_id``, oldest first (for other processes to follow)."""
        rows = self._conn().execute(
            "SELECT * FROM audit WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit)
        )
        return [AuditEntry(**dict(row)) for row in rows]

    def latest_audit_id(self) -> int:
        row = self._conn().execute("SELECT MAX(id) FROM audit").fetchone()
        return int(row[0] or 0)

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
