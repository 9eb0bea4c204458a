"""The store: per-server settings, servers' own documents and the audit log, in SQLite or
PostgreSQL (:mod:`bot.store.backends`), with one set of queries for both.

Every query that reads or writes a server's settings or documents lives in
:class:`ServerData`, which is made for one server id and puts it in every WHERE clause and
every row it writes: there is no other way in. Every change is committed in one transaction
with its audit row and its announcement to other processes, so no crash can leave a change
unaudited or unannounced.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

from pydantic import BaseModel, ValidationError

from bot.core.collection import server_collection
from bot.core.models import Document, DocumentMeta
from bot.store.backends import Backend, StoreError, Tx, open_backend
from bot.store.schema import migrations, now
from bot.store.settings import GuildSettings, SettingError

log = logging.getLogger(__name__)


class DocumentExists(ValueError):
    """Another admin (or shard) added a document with this id a moment ago."""


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


def insert_audit(
    tx: Tx,
    action: str,
    guild_id: int | None,
    user_id: int | None,
    collection: str | None = None,
    doc_id: str | None = None,
    sha256: str | None = None,
    detail: str | None = None,
    at: str | None = None,
) -> AuditEntry:
    at = at or now()
    row = tx.one(
        "INSERT INTO audit (at, guild_id, user_id, action, collection, doc_id, sha256, detail) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (at, guild_id, user_id, action, collection, doc_id, sha256, detail),
    )
    assert row is not None
    return AuditEntry(
        id=int(row["id"]),
        at=at,
        guild_id=guild_id,
        user_id=user_id,
        action=action,
        collection=collection,
        doc_id=doc_id,
        sha256=sha256,
        detail=detail,
    )


def insert_document(
    tx: Tx, guild_id: int, user_id: int | None, doc: Document, at: str | None = None
) -> bool:
    """False when the server already has a document with this id (nothing is written)."""
    row = tx.one(
        "INSERT INTO server_documents "
        "(guild_id, doc_id, text, meta, page_starts, layout, sha256, added_at, added_by) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (guild_id, doc_id) DO NOTHING "
        "RETURNING doc_id",
        (
            guild_id,
            doc.id,
            doc.text,
            doc.meta.model_dump_json(exclude_none=True),
            json.dumps(list(doc.page_starts)) if doc.page_starts else None,
            _layout(doc),
            doc.sha256,
            at or now(),
            user_id,
        ),
    )
    return row is not None


def _layout(doc: Document) -> str | None:
    """A document's printed page labels and section headings, as stored (JSON)."""
    if not (doc.page_labels or doc.sections):
        return None
    return json.dumps({"page_labels": doc.page_labels, "sections": doc.sections})


def _document(row: dict[str, Any], guild_id: int) -> Document:
    layout = json.loads(row["layout"]) if row.get("layout") else {}
    return Document(
        id=row["doc_id"],
        collection=server_collection(guild_id),
        text=row["text"],
        meta=DocumentMeta.model_validate_json(row["meta"]),
        page_starts=tuple(json.loads(row["page_starts"])) if row["page_starts"] else None,
        page_labels=layout.get("page_labels"),
        sections=layout.get("sections"),
    )


class _SettingsRecord(BaseModel):
    guild_id: int
    data: str
    updated_at: str
    updated_by: int | None = None


class _DocumentRecord(BaseModel):
    guild_id: int
    doc_id: str
    text: str
    meta: str
    page_starts: str | None = None
    layout: str | None = None
    sha256: str
    added_at: str
    added_by: int | None = None


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        return f"{'.'.join(str(p) for p in err['loc']) or 'record'}: {err['msg']}"
    return str(exc)


class ServerData:
    """One server's settings, documents and audit entries: the only queries that touch them,
    each scoped by this server's id."""

    def __init__(self, store: Store, guild_id: int) -> None:
        if not isinstance(guild_id, int) or isinstance(guild_id, bool) or guild_id <= 0:
            raise ValueError(f"not a server id: {guild_id!r}")
        self._db = store.backend
        self.guild_id = guild_id

    def _audit(self, tx: Tx, action: str, user_id: int | None, **fields: Any) -> AuditEntry:
        entry = insert_audit(tx, action, self.guild_id, user_id, **fields)
        self._db.announce(tx, json.dumps({"guild": self.guild_id, "audit": entry.id}))
        return entry

    # -- settings ------------------------------------------------------------------------

    def settings(self, tx: Tx | None = None) -> GuildSettings:
        sql, args = "SELECT data FROM guild_settings WHERE guild_id = ?", (self.guild_id,)
        if tx is None:
            with self._db.read() as tx:
                row = tx.one(sql, args)
        else:
            row = tx.one(sql, args)
        return GuildSettings.model_validate_json(row["data"]) if row else GuildSettings()

    def update_settings(self, user_id: int | None, **changes: Any) -> GuildSettings:
        """Validate and write changes, and audit them, in one transaction (holding this
        server's lock, so concurrent changes to other keys are never lost)."""
        with self._db.transaction() as tx:
            self._db.lock(tx, self.guild_id)
            current = self.settings(tx).model_dump()
            try:
                updated = GuildSettings.model_validate({**current, **changes})
            except ValidationError as exc:
                raise SettingError(_first_error(exc)) from None
            tx.execute(
                "INSERT INTO guild_settings (guild_id, data, updated_at, updated_by) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (guild_id) DO UPDATE SET "
                "data = excluded.data, updated_at = excluded.updated_at, "
                "updated_by = excluded.updated_by",
                (self.guild_id, updated.model_dump_json(), now(), user_id),
            )
            self._audit(tx, "settings.set", user_id, detail=json.dumps(changes, default=str))
        return updated

    # -- documents -----------------------------------------------------------------------

    def documents(self) -> list[Document]:
        with self._db.read() as tx:
            rows = tx.execute(
                "SELECT doc_id, text, meta, page_starts, layout FROM server_documents "
                "WHERE guild_id = ? ORDER BY doc_id",
                (self.guild_id,),
            )
        return [_document(row, self.guild_id) for row in rows]

    def add_document(
        self, user_id: int | None, doc: Document, detail: str | None = None
    ) -> AuditEntry:
        """Store ``doc`` with its audit row, in one transaction; :class:`DocumentExists`
        when the id was taken meanwhile."""
        with self._db.transaction() as tx:
            if not insert_document(tx, self.guild_id, user_id, doc):
                raise DocumentExists(f"a document with id {doc.id!r} was just added; try again")
            return self._audit(
                tx, "corpus.add", user_id, collection=server_collection(self.guild_id),
                doc_id=doc.id, sha256=doc.sha256, detail=detail,
            )  # fmt: skip

    def remove_document(self, user_id: int | None, doc_id: str) -> AuditEntry | None:
        """Delete a document with its audit row; None when there is none with that id."""
        with self._db.transaction() as tx:
            row = tx.one(
                "DELETE FROM server_documents WHERE guild_id = ? AND doc_id = ? RETURNING sha256",
                (self.guild_id, doc_id),
            )
            if row is None:
                return None
            return self._audit(
                tx, "corpus.remove", user_id, collection=server_collection(self.guild_id),
                doc_id=doc_id, sha256=row["sha256"],
            )  # fmt: skip

    # -- audit ---------------------------------------------------------------------------

    def record(self, action: str, user_id: int | None, **fields: Any) -> AuditEntry:
        with self._db.transaction() as tx:
            return self._audit(tx, action, user_id, **fields)

    def audit(self, limit: int = 20) -> list[AuditEntry]:
        """Newest first."""
        with self._db.read() as tx:
            rows = tx.execute(
                "SELECT * FROM audit WHERE guild_id = ? ORDER BY id DESC LIMIT ?",
                (self.guild_id, limit),
            )
        return [AuditEntry(**row) for row in rows]


class Store:
    """Open with a path (SQLite) or a database URL; migrations run on opening.

    ``legacy_servers_dir``: where releases before the documents table kept servers'
    documents as files; they are imported by the migration that adds the table, and the
    folder is then renamed ``<name>.imported`` (it is not read again).
    """

    def __init__(self, target: Path | str, *, legacy_servers_dir: Path | None = None) -> None:
        self.backend: Backend = open_backend(target)
        try:
            before, after = self.backend.migrate(migrations(legacy_servers_dir))
        except BaseException:
            self.backend.close()
            raise
        self.migrated = (before, after)
        if before < 2 <= after and legacy_servers_dir is not None and legacy_servers_dir.is_dir():
            done = legacy_servers_dir.with_name(legacy_servers_dir.name + ".imported")
            try:
                legacy_servers_dir.rename(done)
            except OSError as exc:  # imported all the same: the folder is never read again
                log.warning("imported %s; could not rename it: %s", legacy_servers_dir, exc)
            else:
                log.warning("imported server documents from %s (now %s)", legacy_servers_dir, done)

    @property
    def where(self) -> str:
        return self.backend.where

    def describe(self) -> dict[str, Any]:
        """For the start-up log: which database (never its password) and how changes from
        other processes arrive."""
        return {
            "database": self.where,
            "backend": self.backend.dialect,
            "schema": self.migrated[1],
            "changes": "notify" if self.backend.dialect == "postgresql" else "poll",
        }

    def server(self, guild_id: int) -> ServerData:
        return ServerData(self, guild_id)

    # Shorthands the adapters use (each goes through ServerData).

    def settings(self, guild_id: int) -> GuildSettings:
        return self.server(guild_id).settings()

    def update_settings(self, guild_id: int, user_id: int, **changes: Any) -> GuildSettings:
        return self.server(guild_id).update_settings(user_id, **changes)

    def documents(self, guild_id: int) -> list[Document]:
        return self.server(guild_id).documents()

    def add_document(self, guild_id: int, user_id: int | None, doc: Document) -> AuditEntry:
        return self.server(guild_id).add_document(user_id, doc)

    def remove_document(self, guild_id: int, user_id: int | None, doc_id: str) -> AuditEntry | None:
        return self.server(guild_id).remove_document(user_id, doc_id)

    def audit(self, guild_id: int | None, limit: int = 20) -> list[AuditEntry]:
        """Newest first; ``guild_id`` None: the operator's (command-line) entries."""
        if guild_id is not None:
            return self.server(guild_id).audit(limit)
        with self.backend.read() as tx:
            rows = tx.execute(
                "SELECT * FROM audit WHERE guild_id IS NULL ORDER BY id DESC LIMIT ?", (limit,)
            )
        return [AuditEntry(**row) for row in rows]

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
        fields = dict(collection=collection, doc_id=doc_id, sha256=sha256, detail=detail)
        if guild_id is not None:
            return self.server(guild_id).record(action, user_id, **fields)
        with self.backend.transaction() as tx:
            return insert_audit(tx, action, None, user_id, **fields)

    # -- across servers (following changes, loading every server) ------------------------

    def server_ids(self) -> list[int]:
        """Servers that have documents of their own."""
        with self.backend.read() as tx:
            rows = tx.execute("SELECT DISTINCT guild_id FROM server_documents ORDER BY guild_id")
        return [int(r["guild_id"]) for r in rows]

    def audit_since(self, after_id: int, limit: int = 500) -> list[AuditEntry]:
        """Entries newer than ``after_id``, oldest first (for other processes to follow)."""
        with self.backend.read() as tx:
            rows = tx.execute(
                "SELECT * FROM audit WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit)
            )
        return [AuditEntry(**row) for row in rows]

    def latest_audit_id(self) -> int:
        with self.backend.read() as tx:
            row = tx.one("SELECT MAX(id) AS top FROM audit")
        return int(row["top"] or 0) if row else 0

    # -- the whole database, for the operator (verbatim db export / import) --------------

    def dump(self) -> Iterator[dict[str, Any]]:
        """Every setting, document and audit entry, as portable records (``kind`` says
        which), servers in id order, audit oldest first, all as of one moment."""
        with self.backend.snapshot() as tx:
            for row in tx.execute("SELECT * FROM guild_settings ORDER BY guild_id"):
                yield {"kind": "settings", **row}
            for row in tx.execute("SELECT * FROM server_documents ORDER BY guild_id, doc_id"):
                yield {"kind": "document", **row}
            for row in tx.execute("SELECT * FROM audit ORDER BY id"):
                yield {"kind": "audit", **{k: v for k, v in row.items() if k != "id"}}

    def restore(self, records: Iterable[tuple[int, dict[str, Any]]]) -> dict[str, int]:
        """Load (line number, record) pairs from :meth:`dump` into this empty database, in
        one transaction: a bad record names its line and nothing is loaded."""
        counts = {"settings": 0, "document": 0, "audit": 0}
        with self.backend.transaction() as tx:
            for table in ("guild_settings", "server_documents", "audit"):
                if tx.one(f"SELECT 1 AS x FROM {table} LIMIT 1"):
                    raise StoreError(f"{self.where} already holds data: import into a new one")
            for line, record in records:
                try:
                    kind = record.get("kind")
                    if kind == "settings":
                        row = _SettingsRecord.model_validate(record)
                        GuildSettings.model_validate_json(row.data)
                        tx.execute(
                            "INSERT INTO guild_settings (guild_id, data, updated_at, updated_by)"
                            " VALUES (?, ?, ?, ?)",
                            (row.guild_id, row.data, row.updated_at, row.updated_by),
                        )
                    elif kind == "document":
                        d = _DocumentRecord.model_validate(record)
                        document = _document(d.model_dump(), d.guild_id)
                        if document.sha256 != d.sha256:
                            raise ValueError("sha256 does not match the text")
                        if not insert_document(tx, d.guild_id, d.added_by, document, d.added_at):
                            raise ValueError(f"document {d.doc_id!r} appears twice")
                    elif kind == "audit":
                        a = AuditEntry.model_validate({**record, "id": 0})
                        fields = a.model_dump(exclude={"id", "action", "guild_id", "user_id"})
                        insert_audit(tx, a.action, a.guild_id, a.user_id, **fields)
                    else:
                        raise ValueError(f"unknown kind {kind!r}")
                except (ValidationError, ValueError) as exc:
                    raise StoreError(f"line {line}: {_first_error(exc)}") from None
                counts[kind] += 1
        return counts

    def changes(self, poll_seconds: float) -> AsyncIterator[None]:
        """Wake-ups to look for other processes' changes (:meth:`audit_since`): on every
        committed change (PostgreSQL), or every ``poll_seconds`` (SQLite)."""
        return self.backend.wake_ups(poll_seconds)

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


__all__ = ["AuditEntry", "DocumentExists", "ServerData", "Store", "StoreError"]
