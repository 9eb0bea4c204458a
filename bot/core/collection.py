"""Making documents from uploads, and changing an operator's collection folder (adding an
uploaded file as a stored document, removing one). Servers' own documents live in the store.

Documents are written atomically (:mod:`bot.core.atomic`): a crash leaves the folder as it
was or as it should be, never half a file; the loader ignores temp files (their names start
with ".") and they are swept on the next change or load.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Any

import yaml

from bot.core.atomic import fsync_dir, sweep_temp_files, write_atomic
from bot.core.corpus import LAYOUT_KEYS, load_folder, parse_document
from bot.core.ingest import Extracted, IngestError, slugify
from bot.core.models import Document, DocumentMeta


def document_bytes(text: str, meta: DocumentMeta, layout: Extracted | None = None) -> bytes:
    """A stored document: YAML front matter (with the layout of an extracted PDF or page:
    page offsets and labels, section headings), then the text exactly."""
    data: dict[str, Any] = meta.model_dump(mode="json", exclude_none=True)
    if layout is not None:
        for key in LAYOUT_KEYS:
            value = getattr(layout, key)
            if value:
                data[key] = [list(v) if isinstance(v, tuple) else v for v in value]
    front = yaml.safe_dump(
        data, sort_keys=False, allow_unicode=True, width=10_000, default_flow_style=None
    )
    return f"---\n{front}---\n{text}".encode()


def server_collection(guild_id: int) -> str:
    """The name of a server's own collection (its documents live in the store)."""
    return f"server-{guild_id}"


def new_document(
    extracted: Extracted,
    *,
    collection: str,
    name_hint: str,
    overrides: dict[str, Any] | None = None,
    taken: AbstractSet[str] = frozenset(),
) -> Document:
    """An extracted upload as a document under a fresh slug id. ``overrides`` (title,
    publisher, ...) win over what the file states; ``name_hint`` (e.g. the upload's file
    name) only seeds the id."""
    meta = extracted.meta.model_copy(update={k: v for k, v in (overrides or {}).items() if v})
    meta = DocumentMeta.model_validate(meta.model_dump())  # re-validate the overrides
    doc_id = slugify(meta.title or Path(name_hint).stem, taken)
    return Document(
        id=doc_id,
        collection=collection,
        text=extracted.text,
        meta=meta.model_copy(update={"id": None}),
        page_starts=extracted.page_starts or None,
        page_labels=extracted.page_labels or None,
        sections=extracted.sections or None,
    )


def add_extracted(
    folder: Path,
    extracted: Extracted,
    *,
    collection: str,
    name_hint: str,
    overrides: dict[str, Any] | None = None,
    taken: AbstractSet[str] = frozenset(),
    known: Iterable[Document] = (),
) -> Document:
    """Store an extracted upload in the collection ``folder`` and return it, exactly as the
    loader will read it back (see :func:`new_document`). A text equal to one of the
    ``known`` documents' is refused: the same text stored twice would be shown as
    corroborating itself."""
    refuse_duplicate(extracted.text, known)
    existing = {p.stem for p in folder.glob("*.md")} if folder.is_dir() else set()
    doc = new_document(
        extracted,
        collection=collection,
        name_hint=name_hint,
        overrides=overrides,
        taken=set(taken) | existing,
    )
    data = document_bytes(doc.text, doc.meta, extracted)
    path = folder / f"{doc.id}.md"
    stored = parse_document(data, doc.id, collection, str(path))
    if stored.text != doc.text:  # the stored form must read back exactly
        raise IngestError("the document could not be stored exactly; nothing was saved")
    sweep_temp_files(folder)
    write_atomic(path, data)
    return stored


def refuse_duplicate(text: str, known: Iterable[Document]) -> None:
    """Raise :class:`IngestError` when ``text`` is the text of one of the ``known`` documents:
    the same text stored twice would be shown as corroborating itself."""
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    for other in known:
        if other.sha256 == digest:
            raise IngestError(f"this document is already in the corpus as {other.id!r}")


def remove_document(folder: Path, doc_id: str) -> bool:
    """Delete the file holding document ``doc_id`` (whatever its name or kind, as the loader
    reads it); False when there is none with that id."""
    if not folder.is_dir():
        return False
    stored = folder / f"{doc_id}.md"  # what add_extracted writes: no need to load the folder
    if stored.is_file() and parse_document(stored.read_bytes(), doc_id, "", None).id == doc_id:
        stored.unlink()
        fsync_dir(folder)
        return True
    doc = next((d for d in load_folder(folder).documents if d.id == doc_id), None)
    if doc is None or doc.path is None:
        return False
    path = Path(doc.path)
    path.unlink()
    fsync_dir(path.parent)
    return True
