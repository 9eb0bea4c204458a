"""Uploaded files (.txt, .md, .html, .pdf) to the text Verbatim stores and quotes from.

The text returned is the *stored* text: quotes are slices of it, so each normalisation made
here (line endings, HTML paragraphs, PDF page joins) is deliberate and documented. Metadata
comes only from what the file itself states; nothing is guessed or invented.

Parsing hostile files can be slow or memory-hungry: :func:`extract_isolated` runs
:func:`extract` in a separate process that is killed after ``max_seconds``. Front matter is
parsed by :mod:`bot.core.frontmatter`, as for the corpus loader, and re-exported here.
"""

from __future__ import annotations

import datetime as dt
import io
import multiprocessing
import os
import re
import time
import unicodedata
from collections.abc import Callable, Iterator
from collections.abc import Set as AbstractSet
from contextlib import contextmanager, suppress
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.core.frontmatter import FrontMatterError, split_front_matter
from bot.core.models import DocumentMeta

__all__ = [
    "Extracted",
    "FrontMatterError",
    "IngestError",
    "IngestLimits",
    "extract",
    "extract_isolated",
    "slugify",
    "split_front_matter",
]

MiB = 1024 * 1024
Kind = Literal["txt", "md", "html", "pdf"]
_KINDS: dict[str, Kind] = {
    "txt": "txt",
    "md": "md",
    "html": "html",
    "htm": "html",
    "pdf": "pdf",
}
_ACCEPTED = "upload .txt, .md, .html or .pdf"
_STARTUP_SECONDS = 60.0  # allowance for the worker to start, outside max_seconds


class IngestError(ValueError):
    """A file cannot be ingested; the message is one line, meant for the uploader."""


class IngestLimits(BaseModel):
    """Caps on what one upload may cost."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_bytes: int = Field(default=10 * MiB, gt=0)
    max_pages: int = Field(default=500, gt=0)
    max_seconds: float = Field(default=20.0, gt=0)
    max_chars: int = Field(default=2_000_000, gt=0)
    # Address-space cap for the worker process of extract_isolated (Unix only).
    max_memory: int = Field(default=1024 * MiB, gt=0)


DEFAULT_LIMITS = IngestLimits()


class Extracted(BaseModel):
    """The stored text of a file, the metadata it states, and (for PDFs) page offsets."""

    model_config = ConfigDict(frozen=True)

    text: str
    meta: DocumentMeta = DocumentMeta()
    page_starts: tuple[int, ...] | None = None
    kind: Kind


# --- metadata ---------------------------------------------------------------------------------


def _validate_front_matter(raw: dict[str, Any]) -> DocumentMeta:
    try:
        return DocumentMeta.model_validate({str(k): v for k, v in raw.items()})
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"]) or "front matter"
        if err["type"] == "extra_forbidden":
            known = ", ".join(DocumentMeta.model_fields)
            raise IngestError(f"unknown front matter key {key!r} (known: {known})") from None
        raise IngestError(f"front matter key {key!r}: {err['msg']}") from None


def _stated_meta(candidates: dict[str, Any]) -> DocumentMeta:
    """Metadata a parsed file states; a value that does not validate is dropped, not fixed."""
    good: dict[str, Any] = {}
    for key, value in candidates.items():
        if isinstance(value, str):
            value = " ".join(value.split())
        if value in (None, ""):
            continue
        try:
            DocumentMeta.model_validate({key: value})
        except ValidationError:
            continue
        good[key] = value
    return DocumentMeta.model_validate(good)


# --- extraction -------------------------------------------------------------------------------


def extract(filename: str, data: bytes, limits: IngestLimits = DEFAULT_LIMITS) -> Extracted:
    """Extract the stored text and stated metadata of an uploaded file.

    ``filename`` is used only for its extension; bytes starting a PDF are read as a PDF
    whatever the extension, and NUL bytes in a text file refuse it. Text files must be UTF-8
    (a BOM is dropped); their line endings are normalised to ``\\n`` (``\\r\\n`` and lone
    ``\\r``) and the stored text is the body after any front matter, so quotes are slices of
    that normalised body. HTML keeps one block per paragraph, PDFs one block per page (see
    :func:`_extract_html`, :func:`_extract_pdf`). Raises :class:`IngestError` for the uploader.
    """
    kind = _kind_of(filename)
    if len(data) > limits.max_bytes:
        raise IngestError(f"file is {_size(len(data))}; the limit is {_size(limits.max_bytes)}")
    if not data.strip():
        raise IngestError("the file is empty")
    if b"%PDF-" in data[:1024]:
        kind = "pdf"
    elif kind == "pdf":
        raise IngestError("this file is not a PDF (it has no '%PDF-' header)")
    else:
        nul = data.find(b"\x00")
        if nul >= 0:
            raise IngestError(
                f"this is not a text file (NUL byte at offset {nul}); save the text as UTF-8"
            )
    if kind == "pdf":
        result = _extract_pdf(data, limits, time.monotonic())
    elif kind == "html":
        result = _extract_html(data)
    else:
        result = _extract_text(data, kind)
    _check_chars(len(result.text), limits)
    return result


def _kind_of(filename: str) -> Kind:
    name = filename.replace("\\", "/").rsplit("/", 1)[-1].strip()
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if ext in _KINDS:
        return _KINDS[ext]
    if not ext:
        raise IngestError(f"the file name has no extension: {_ACCEPTED}")
    shown = "".join(c for c in ext[:12] if c.isprintable())
    raise IngestError(f"unsupported file type '.{shown}': {_ACCEPTED}")


def _size(n: int) -> str:
    if n >= 1024 * MiB:
        return f"{n / 1024 / MiB:.1f}".removesuffix(".0") + " GB"
    if n >= MiB:
        return f"{n / MiB:.1f}".removesuffix(".0") + " MB"
    if n >= 1024:
        return f"{n / 1024:.1f}".removesuffix(".0") + " KB"
    return f"{n:,} bytes"


def _check_chars(n: int, limits: IngestLimits) -> None:
    if n > limits.max_chars:
        raise IngestError(
            f"the extracted text has more than {limits.max_chars:,} characters, the limit"
        )


def _too_slow(limits: IngestLimits) -> IngestError:
    return IngestError(f"parsing took longer than {limits.max_seconds:g} s and was stopped")


@contextmanager
def _reading(what: str) -> Iterator[None]:
    """Turn a parser's internal exception into an :class:`IngestError`."""
    try:
        yield
    except (IngestError, MemoryError):
        raise
    except Exception as exc:  # parsers fail on hostile input in many ways
        raise IngestError(f"this {what} could not be read ({type(exc).__name__})") from exc


def _extract_text(data: bytes, kind: Kind) -> Extracted:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise IngestError(
            f"the file is not valid UTF-8 (byte offset {exc.start}); save it as UTF-8"
        ) from None
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    try:
        raw, body, _ = split_front_matter(text)
    except FrontMatterError as exc:
        where = f" (line {exc.line})" if exc.line else ""
        raise IngestError(f"malformed front matter{where}: {exc}") from None
    except RecursionError:
        raise IngestError("malformed front matter: nested too deeply") from None
    meta = _validate_front_matter(raw)
    if not body.strip():
        raise IngestError("the file has no text" + (" after its front matter" if raw else ""))
    return Extracted(text=body, meta=meta, kind=kind)


def _extract_html(data: bytes) -> Extracted:
    """Main text via trafilatura, one paragraph (or list, table) per ``\\n\\n``-separated block."""
    import trafilatura
    from trafilatura.xml import xmltotxt

    with _reading("HTML page"):
        doc = trafilatura.bare_extraction(
            data,
            include_comments=False,
            include_tables=True,
            favor_precision=True,
            with_metadata=True,
            # Only dates the page's markup states, not guessed from its prose.
            date_extraction_params={
                "original_date": True,
                "extensive_search": False,
                "max_date": dt.date.today().isoformat(),
            },
        )
        fields: dict[str, Any] = (
            {} if doc is None else doc if isinstance(doc, dict) else doc.as_dict()
        )
        body = fields.get("body")
        if body is not None and len(body):
            blocks = [xmltotxt(child, False) for child in body]
        else:
            blocks = (fields.get("text") or "").split("\n")
    paragraphs = []
    for block in blocks:
        lines = [line.rstrip() for line in block.strip().split("\n") if line.strip()]
        if lines:
            paragraphs.append("\n".join(lines))
    if not paragraphs:
        raise IngestError("no main text could be found in this HTML page")
    url, sitename = fields.get("url"), fields.get("sitename")
    if url and sitename:  # trafilatura falls back to the URL's host: that is not stated
        netloc, name = urlsplit(str(url)).netloc.lower(), str(sitename).lower()
        if netloc == name or netloc.endswith("." + name):
            sitename = None
    meta = _stated_meta(
        {
            "title": fields.get("title"),
            "publisher": sitename,
            "author": fields.get("author"),
            "published": fields.get("date"),
            "url": url,
        }
    )
    return Extracted(text="\n\n".join(paragraphs), meta=meta, kind="html")


def _clean_page(raw: str) -> str:
    """Minimal page normalisation: line endings, trailing spaces, runs of blank lines."""
    text = raw.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _extract_pdf(data: bytes, limits: IngestLimits, started: float) -> Extracted:
    """Pages joined by ``\\n\\n``; an empty page adds no text and starts where the next does."""
    from pypdf import PdfReader

    with _reading("PDF"):
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise IngestError("this PDF is password-protected; upload an unprotected copy")
        count = len(reader.pages)
    if count > limits.max_pages:
        raise IngestError(f"PDF has {count:,} pages; the limit is {limits.max_pages:,}")
    parts: list[str] = []
    starts: list[int | None] = []
    length = 0
    for index in range(count):
        if time.monotonic() - started > limits.max_seconds:
            raise _too_slow(limits)
        with _reading("PDF"):
            page = _clean_page(reader.pages[index].extract_text() or "")
        if not page:
            starts.append(None)
            continue
        if parts:
            parts.append("\n\n")
            length += 2
        starts.append(length)
        parts.append(page)
        length += len(page)
        _check_chars(length, limits)
    if not length:
        raise IngestError("no text could be extracted from this PDF (is it scanned images?)")
    page_starts: list[int] = []
    for start in reversed(starts):
        page_starts.insert(0, start if start is not None else (page_starts or [length])[0])
    return Extracted(
        text="".join(parts), meta=_pdf_meta(reader), page_starts=tuple(page_starts), kind="pdf"
    )


def _pdf_meta(reader: Any) -> DocumentMeta:
    """Title and author from the PDF's document information, if it states them."""
    try:
        info = reader.metadata
        if info is None:
            return DocumentMeta()
        return _stated_meta({"title": info.title, "author": info.author})
    except Exception:  # a broken info dictionary is no reason to refuse the text
        return DocumentMeta()


# --- isolation --------------------------------------------------------------------------------

Extractor = Callable[[str, bytes, IngestLimits], Extracted]


def extract_isolated(
    filename: str,
    data: bytes,
    limits: IngestLimits = DEFAULT_LIMITS,
    *,
    target: Extractor = extract,
) -> Extracted:
    """Run ``target`` (default :func:`extract`) in a fresh 'spawn' process.

    The worker is killed if it has not answered ``limits.max_seconds`` after it is ready
    (its start-up, imports included, is not counted), and on Unix its address space is capped
    at ``limits.max_memory``. Blocking but thread-safe: call it via ``asyncio.to_thread``.
    ``target`` must be a module-level function (it is pickled by name).
    """
    ctx = multiprocessing.get_context("spawn")
    receiver, sender = ctx.Pipe(duplex=False)
    process = ctx.Process(
        target=_worker, args=(sender, target, filename, data, limits), daemon=True
    )
    with receiver:
        try:
            process.start()
        finally:
            sender.close()  # the child holds its own copy
        try:
            message = _await_result(receiver, limits)
        finally:
            if process.is_alive():
                process.kill()
            process.join()
    if message is None:
        raise IngestError(
            f"the parser process stopped unexpectedly (exit code {process.exitcode}); "
            "the file may be too large or malformed"
        )
    status, payload = message
    if status != "ok":
        raise IngestError(payload)
    return Extracted.model_validate(payload)


def _await_result(receiver: Any, limits: IngestLimits) -> tuple[str, Any] | None:
    """The worker's message, or None if it exited without one."""
    try:
        if not receiver.poll(_STARTUP_SECONDS):
            raise IngestError("the parser process did not start")
        receiver.recv()  # "ready": the clock starts now
        if not receiver.poll(limits.max_seconds):
            raise _too_slow(limits)
        return receiver.recv()
    except EOFError:
        return None


def _worker(conn: Any, target: Extractor, filename: str, data: bytes, limits: IngestLimits) -> None:
    """Child process: preload parsers, cap memory, signal ready, send back plain data."""
    with suppress(OSError, AttributeError):
        os.nice(10)  # parsing yields the CPU to the bot that started it
    try:
        import pypdf  # noqa: F401  (imported before the clock starts)
        import trafilatura  # noqa: F401

        with suppress(ImportError, ValueError, OSError):
            import resource

            _, hard = resource.getrlimit(resource.RLIMIT_AS)
            cap = (
                limits.max_memory
                if hard == resource.RLIM_INFINITY
                else min(hard, limits.max_memory)
            )
            resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
        conn.send(("ready", None))
        try:
            message = ("ok", target(filename, data, limits).model_dump(mode="json"))
        except IngestError as exc:
            message = ("error", str(exc))
        except MemoryError:
            message = ("error", f"parsing needed more than {_size(limits.max_memory)} of memory")
        except Exception as exc:
            message = ("error", f"this file could not be parsed ({type(exc).__name__})")
        conn.send(message)
    finally:
        conn.close()


# --- document ids -----------------------------------------------------------------------------

_RESERVED = {"con", "prn", "aux", "nul", *(f"{d}{i}" for d in ("com", "lpt") for i in range(10))}


def slugify(title_or_name: str, taken: AbstractSet[str] = frozenset()) -> str:
    """A document id (``^[a-z0-9][a-z0-9-]{0,79}$``) from a title or file name, not in ``taken``.

    ASCII-folded (NFKD), lower-cased, runs of anything else become ``-``; cut at a hyphen to
    at most 60 characters; a known extension is dropped; Windows device names get a suffix;
    empty results become ``document``; clashes get ``-2``, ``-3``...
    """
    name = title_or_name[:1000].strip()
    for suffix in (".txt", ".md", ".html", ".htm", ".pdf"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", folded.lower()).strip("-")
    if len(slug) > 60:
        cut = slug.rfind("-", 0, 61)
        slug = (slug[:cut] if cut >= 20 else slug[:60]).strip("-")
    if not slug:
        slug = "document"
    if slug in _RESERVED:
        slug += "-document"
    candidate, n = slug, 2
    while candidate in taken:
        candidate, n = f"{slug}-{n}", n + 1
    return candidate
