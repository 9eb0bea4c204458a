"""Loading a corpus folder: ``.md``/``.txt`` files with optional YAML (``---``) or TOML
(``+++``) front matter, kept exactly as stored after the front matter; and ``.html``/``.pdf``
files dropped in as they are, extracted as uploads are (:mod:`bot.core.ingest`, in an isolated
worker) and cached by content hash, so each file is parsed once.

A file that cannot be loaded is reported with its path (and line) and skipped, once; the rest
load. A text already loaded from another file is reported, not loaded twice.
"""

from __future__ import annotations

import hashlib
import re
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ValidationError

from bot.core.atomic import write_atomic
from bot.core.frontmatter import FrontMatterError, split_front_matter
from bot.core.ingest import Extracted, ExtractionWorker, IngestError, slugify
from bot.core.models import SLUG_PATTERN, Document, DocumentMeta

CORPUS_SUFFIXES = (".md", ".txt", ".html", ".htm", ".pdf")
EXTRACTED_SUFFIXES = (".html", ".htm", ".pdf")
# Bumped whenever extraction changes, so cached extractions are redone.
EXTRACTION_VERSION = "1"
# Front matter written with extracted PDFs and pages: where pages and sections start.
LAYOUT_KEYS = ("page_starts", "page_labels", "sections")
_SLUG = re.compile(SLUG_PATTERN)


class CorpusError(Exception):
    """The corpus cannot be read at all (e.g. its folder is missing)."""


class CorpusIssue(BaseModel):
    path: str
    line: int | None = None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.message}"


@dataclass
class LoadedCorpus:
    documents: list[Document] = field(default_factory=list)
    issues: list[CorpusIssue] = field(default_factory=list)


def default_corpus_dir() -> Path:
    """The embedded default corpus: ``corpus/`` in a source checkout, or its installed copy."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package.parent / "corpus", package / "_default_corpus"):
        if candidate.is_dir():
            return candidate
    raise CorpusError("the default corpus is not installed")


def corpus_files(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.rglob("*")
        if p.suffix.lower() in CORPUS_SUFFIXES
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def load_folder(
    folder: Path, collection: str = "default", cache_dir: Path | None = None
) -> LoadedCorpus:
    """Every document of ``folder``; ``cache_dir`` keeps extracted ``.html``/``.pdf`` text."""
    if not folder.is_dir():
        raise CorpusError(f"corpus folder not found: {folder}")
    result = LoadedCorpus()
    seen: dict[str, Path] = {}
    texts: dict[str, Path] = {}
    with _Extractions(cache_dir) as extractions:
        for path in corpus_files(folder):
            try:
                if path.suffix.lower() in EXTRACTED_SUFFIXES:
                    doc = extractions.document(path, collection)
                else:
                    doc = load_file(path, collection)
            except DocumentError as exc:
                result.issues.append(CorpusIssue(path=str(path), line=exc.line, message=str(exc)))
                continue
            except OSError as exc:
                result.issues.append(CorpusIssue(path=str(path), message=f"cannot read: {exc}"))
                continue
            except Exception as exc:  # one unusable file never stops the rest from loading
                message = f"cannot be used ({type(exc).__name__}: {exc})"
                result.issues.append(CorpusIssue(path=str(path), message=message))
                continue
            if doc.id in seen:
                message = f"duplicate document id {doc.id!r} (already used by {seen[doc.id]})"
                result.issues.append(CorpusIssue(path=str(path), message=message))
                continue
            if doc.sha256 in texts:
                message = f"the same text as {texts[doc.sha256]}: not loaded twice"
                result.issues.append(CorpusIssue(path=str(path), message=message))
                continue
            seen[doc.id] = path
            texts[doc.sha256] = path
            result.documents.append(doc)
    return result


class _Extractions:
    """Extracted ``.html``/``.pdf`` files: from the cache, else from one isolated worker
    started on first need."""

    def __init__(self, cache_dir: Path | None) -> None:
        self.cache = cache_dir / "extracted" if cache_dir is not None else None
        self.worker: ExtractionWorker | None = None

    def __enter__(self) -> _Extractions:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.worker is not None:
            self.worker.close()

    def document(self, path: Path, collection: str) -> Document:
        data = path.read_bytes()
        key = hashlib.sha256(data).hexdigest()
        cached = self.cache / f"{key}-v{EXTRACTION_VERSION}.json" if self.cache else None
        extracted = None
        if cached is not None and cached.is_file():
            with suppress(OSError, ValidationError):
                extracted = Extracted.model_validate_json(cached.read_bytes())
        if extracted is None:
            if self.worker is None:
                self.worker = ExtractionWorker()
            try:
                extracted = self.worker.extract(path.name, data)
            except IngestError as exc:
                raise DocumentError(str(exc)) from None
            if cached is not None:
                with suppress(OSError):
                    write_atomic(cached, extracted.model_dump_json().encode())
        doc_id = slugify(path.stem)
        layout = {key: getattr(extracted, key) for key in LAYOUT_KEYS}
        return Document(
            id=doc_id,
            collection=collection,
            text=extracted.text,
            meta=extracted.meta,
            path=str(path),
            **layout,
        )


class DocumentError(ValueError):
    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


def load_file(path: Path, collection: str = "default") -> Document:
    data = path.read_bytes()
    return parse_document(data, path.stem, collection, str(path))


def parse_document(data: bytes, stem: str, collection: str, path: str | None) -> Document:
    """Bytes of a stored ``.md``/``.txt`` document to a :class:`Document`."""
    if not data.strip():
        raise DocumentError("empty file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DocumentError(
            f"not valid UTF-8 (byte {exc.start}): save the file as UTF-8", line
        ) from None
    text = text.removeprefix("\ufeff")
    try:
        raw_meta, body, body_line = split_front_matter(text)
    except FrontMatterError as exc:
        raise DocumentError(f"malformed front matter: {exc}", exc.line) from None
    layout = {key: raw_meta.pop(key) for key in LAYOUT_KEYS if key in raw_meta}
    try:
        meta = DocumentMeta.model_validate(raw_meta)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"]) or "front matter"
        raise DocumentError(
            f"front matter key {key!r}: {err['msg']}", _key_line(text, key)
        ) from None
    if not body.strip():
        raise DocumentError("no text after the front matter", body_line)
    doc_id = meta.id or stem.lower()
    if not _SLUG.match(doc_id):
        raise DocumentError(
            f"document id {doc_id!r} is not a slug (lower-case letters, digits and '-'): "
            "rename the file or set 'id' in the front matter"
        )
    try:
        return Document(id=doc_id, collection=collection, text=body, meta=meta, path=path, **layout)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = str(err["loc"][0]) if err["loc"] else "layout"
        raise DocumentError(f"invalid {key}: {err['msg']}", _key_line(text, key)) from None


def _key_line(text: str, key: str) -> int | None:
    match = re.search(rf"^\s*{re.escape(key)}\s*[:=]", text, re.MULTILINE)
    return text.count("\n", 0, match.start()) + 1 if match else None
