"""Uploaded files (.txt, .md, .html, .pdf) to the text Verbatim stores and quotes from.

The text returned is the *stored* text: quotes are slices of it, so each normalisation made
here (line endings; HTML blocks, :mod:`bot.core.html`; PDF paragraphs and pages,
:mod:`bot.core.pdf`) is deliberate and documented. Metadata comes only from what the file
itself states; nothing is guessed or invented.

Parsing hostile files can be slow or memory-hungry: :class:`ExtractionWorker` runs
:func:`extract` in a separate process, file after file, killed after ``max_seconds`` on one
file; :func:`extract_isolated` is one file in a fresh worker. A worker can also analyse the
text it extracted for the index (``analyse``), so that CPU work stays out of the caller's
process too (:mod:`bot.core.analysed`). Front matter is
parsed by :mod:`bot.core.frontmatter`, as for the corpus loader, and re-exported here.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
import unicodedata
from collections.abc import Callable, Iterator
from collections.abc import Set as AbstractSet
from contextlib import contextmanager, suppress
from multiprocessing.connection import Connection
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.core.frontmatter import FrontMatterError, split_front_matter
from bot.core.models import DocumentMeta

__all__ = [
    "Extracted",
    "ExtractionWorker",
    "FrontMatterError",
    "IngestError",
    "IngestLimits",
    "as_stored",
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
# The worker process's program: lower its priority before anything else (parsing yields the
# CPU to the bot that started it), find the modules its parent finds, then serve.
_CHILD = (
    "import os, sys, json; os.nice(10); sys.path[:0] = json.loads(sys.argv[1]); "
    "from bot.core.ingest import _serve; _serve(int(sys.argv[2]))"
)


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
    # Web pages added by URL: the whole fetch's time, redirects followed, and whether
    # loopback addresses may be fetched (tests only; private addresses never are).
    fetch_seconds: float = Field(default=20.0, gt=0)
    max_redirects: int = Field(default=5, ge=0, le=20)
    allow_loopback: bool = False


DEFAULT_LIMITS = IngestLimits()


class Extracted(BaseModel):
    """The stored text of a file, the metadata it states, and (for PDFs) page offsets."""

    model_config = ConfigDict(frozen=True)

    text: str
    meta: DocumentMeta = DocumentMeta()
    page_starts: tuple[int, ...] | None = None
    # Printed page labels ("iv", "44"), one per page, when they differ from the page numbers.
    page_labels: tuple[str, ...] | None = None
    # (offset, heading): where each section of the document starts in the text.
    sections: tuple[tuple[int, str], ...] | None = None
    kind: Kind
    # The index's analysis of ``text`` (bot.core.analysed), when the parser process made
    # one: opaque bytes, checked where they are used, never stored.
    analysis: bytes | None = Field(default=None, exclude=True, repr=False)

    @field_validator("page_labels", "sections", mode="after")
    @classmethod
    def _one_line(cls, value: tuple[Any, ...] | None) -> tuple[Any, ...] | None:
        """Labels and headings are cited, never quoted: whitespace collapsed to one space."""
        if value is None:
            return None
        return tuple(
            (v[0], " ".join(v[1].split()) or "§") if isinstance(v, tuple) else " ".join(v.split())
            for v in value
        )


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
    """One block (heading, paragraph, list item, table row, code block) per ``\\n\\n``-
    separated paragraph; see :mod:`bot.core.html`. Quotes cite the nearest heading."""
    from bot.core.html import read_html

    with _reading("HTML page"):
        page = read_html(data)
    if not page.blocks:
        raise IngestError("no main text could be found in this HTML page")
    return Extracted(
        text=page.text,
        meta=_stated_meta(page.meta),
        sections=page.sections() or None,
        kind="html",
    )


def _extract_pdf(data: bytes, limits: IngestLimits, started: float) -> Extracted:
    """Paragraphs that read like the page (:mod:`bot.core.pdf`), pages joined by ``\\n\\n``;
    an empty page adds no text and starts where the next does."""
    from bot.core.pdf import PdfError, read_pdf

    def check() -> None:
        if time.monotonic() - started > limits.max_seconds:
            raise _too_slow(limits)

    with _reading("PDF"):
        try:
            pdf = read_pdf(data, max_pages=limits.max_pages, check=check)
        except PdfError as exc:
            raise IngestError(str(exc)) from None
    _check_chars(len(pdf.text), limits)
    if not pdf.text.strip():
        raise IngestError("no text could be extracted from this PDF (is it scanned images?)")
    return Extracted(
        text=pdf.text,
        meta=_stated_meta({"title": pdf.title, "author": pdf.author}),
        page_starts=pdf.page_starts,
        page_labels=pdf.page_labels,
        sections=pdf.sections or None,
        kind="pdf",
    )


def as_stored(filename: str, data: bytes, limits: IngestLimits = DEFAULT_LIMITS) -> Extracted:
    """A stored document's text exactly as it is (UTF-8), to be analysed in a worker."""
    return Extracted(text=data.decode("utf-8"), kind="txt")


# --- isolation --------------------------------------------------------------------------------

Extractor = Callable[[str, bytes, IngestLimits], Extracted]
Analyse = Callable[[str], bytes]  # extracted text -> its analysis (Extracted.analysis)


def extract_isolated(
    filename: str,
    data: bytes,
    limits: IngestLimits = DEFAULT_LIMITS,
    *,
    target: Extractor = extract,
    analyse: Analyse | None = None,
) -> Extracted:
    """Run ``target`` (default :func:`extract`) once in a fresh :class:`ExtractionWorker`,
    then ``analyse`` the text there if given.

    Blocking but thread-safe: call it via ``asyncio.to_thread``. For many files, keep one
    :class:`ExtractionWorker` open instead: its start-up is paid once.
    """
    with ExtractionWorker(limits, target=target, analyse=analyse) as worker:
        return worker.extract(filename, data)


class ExtractionWorker:
    """One long-lived process that parses file after file, isolated from the caller.

    Each file gets ``limits.max_seconds`` (the start-up, imports included, is not counted);
    a file that runs over is stopped by killing the process, which is started afresh for the
    next file, as after a crash. On Unix the process's address space is capped at
    ``limits.max_memory``. Not thread-safe: one worker per thread. ``target`` must be a
    module-level function (it is pickled by name). ``analyse`` (likewise picklable), if
    given, also runs in the process on each extracted text, within the same time limit; its
    result is the returned :attr:`Extracted.analysis`. The process is a fresh interpreter
    (started with :mod:`subprocess`: :mod:`multiprocessing` would import the caller's main
    module in it again), at a lower priority from its first line.
    """

    def __init__(
        self,
        limits: IngestLimits = DEFAULT_LIMITS,
        *,
        target: Extractor = extract,
        analyse: Analyse | None = None,
    ):
        self.limits = limits
        self.target = target
        self.analyse = analyse
        self._process: Any = None
        self._conn: Any = None

    def __enter__(self) -> ExtractionWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def extract(self, filename: str, data: bytes) -> Extracted:
        if self._process is None or self._process.poll() is not None:
            self._stop(kill=True)  # (reaps one that died since the last file)
            self._start()
        try:
            self._conn.send((filename, data))
            if not self._conn.poll(self.limits.max_seconds):
                self._stop(kill=True)
                raise _too_slow(self.limits)
            status, payload, analysis = self._conn.recv()
        except (EOFError, OSError):
            code = self._stop(kill=True)
            raise IngestError(
                f"the parser process stopped unexpectedly (exit code {code}); "
                "the file may be too large or malformed"
            ) from None
        if status != "ok":
            raise IngestError(payload)
        return Extracted.model_validate({**payload, "analysis": analysis})

    def close(self) -> None:
        if self._process is not None:
            with suppress(OSError, ValueError):
                self._conn.send(None)  # ask it to finish
            self._stop(kill=False)

    def _start(self) -> None:
        ours, theirs = socket.socketpair()
        with theirs:  # the child holds its own copy
            fd = theirs.fileno()
            self._process = subprocess.Popen(
                [sys.executable, "-c", _CHILD, json.dumps(sys.path), str(fd)],
                pass_fds=[fd],
                stdin=subprocess.DEVNULL,
            )
        self._conn = Connection(ours.detach())
        try:
            self._conn.send((self.target, self.limits, self.analyse))
            ready = self._conn.poll(_STARTUP_SECONDS) and self._conn.recv()
        except (EOFError, OSError):
            ready = None
        if ready != ("ready", None):
            self._stop(kill=True)
            raise IngestError("the parser process did not start")

    def _stop(self, *, kill: bool) -> int | None:
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if process is None:
            return None
        if not kill:
            with suppress(subprocess.TimeoutExpired):
                process.wait(5)
        if process.poll() is None:
            process.kill()
        process.wait()
        conn.close()
        return process.returncode


def _serve(fd: int) -> None:
    """The worker process (see ``_CHILD``): read what to run over the socket ``fd``, then
    preload parsers, cap memory, signal ready, and answer each job."""
    conn = Connection(fd)
    try:
        target, limits, analyse = conn.recv()
        import lxml.html  # noqa: F401  (imported before the clock starts)
        import pypdfium2  # noqa: F401

        with suppress(ImportError, ValueError, OSError):
            import resource

            _, hard = resource.getrlimit(resource.RLIMIT_AS)
            cap = (
                limits.max_memory
                if hard == resource.RLIM_INFINITY
                else min(hard, limits.max_memory)
            )
            resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
        if analyse is not None:
            analyse("Loads what analysing needs.")  # (its word lists: before the clock too)
        conn.send(("ready", None))
        while (job := conn.recv()) is not None:
            filename, data = job
            try:
                extracted = target(filename, data, limits)
                analysis = analyse(extracted.text) if analyse is not None else None
                message = ("ok", extracted.model_dump(mode="json"), analysis)
            except IngestError as exc:
                message = ("error", str(exc), None)
            except MemoryError:
                cap = _size(limits.max_memory)
                message = ("error", f"parsing needed more than {cap} of memory", None)
            except Exception as exc:
                message = ("error", f"this file could not be parsed ({type(exc).__name__})", None)
            del job, data
            conn.send(message)
    except (EOFError, OSError):
        pass  # the parent has gone
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
