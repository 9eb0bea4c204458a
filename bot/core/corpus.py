"""Loading a corpus folder: ``.md``/``.txt`` files with optional YAML (``---``) or TOML
(``+++``) front matter. Document text is kept exactly as stored after the front matter.

A file that cannot be loaded is reported with its path and line and skipped; the rest load.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ValidationError

from bot.core.frontmatter import FrontMatterError, split_front_matter
from bot.core.models import SLUG_PATTERN, Document, DocumentMeta

CORPUS_SUFFIXES = (".md", ".txt")
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


def load_folder(folder: Path, collection: str = "default") -> LoadedCorpus:
    if not folder.is_dir():
        raise CorpusError(f"corpus folder not found: {folder}")
    result = LoadedCorpus()
    seen: dict[str, Path] = {}
    for path in corpus_files(folder):
        try:
            doc = load_file(path, collection)
        except DocumentError as exc:
            result.issues.append(CorpusIssue(path=str(path), line=exc.line, message=str(exc)))
            continue
        if doc.id in seen:
            result.issues.append(
                CorpusIssue(
                    path=str(path),
                    message=f"duplicate document id {doc.id!r} (already used by {seen[doc.id]})",
                )
            )
            continue
        seen[doc.id] = path
        result.documents.append(doc)
    return result


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
    page_starts = raw_meta.pop("page_starts", None)  # written by uploads of PDFs
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
        return Document(
            id=doc_id,
            collection=collection,
            text=body,
            meta=meta,
            path=path,
            page_starts=tuple(page_starts) if page_starts else None,
        )
    except (ValidationError, TypeError) as exc:
        raise DocumentError(f"invalid page_starts: {exc}") from None


def _key_line(text: str, key: str) -> int | None:
    match = re.search(rf"^\s*{re.escape(key)}\s*[:=]", text, re.MULTILINE)
    return text.count("\n", 0, match.start()) + 1 if match else None
