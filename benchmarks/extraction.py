"""PDF and HTML extraction measured on real documentation no one here wrote: Debian's manuals.

    apt-get install developers-reference shared-mime-info libtasn1-doc \\
        debian-reference-en debmake-doc
    pip install -e '.[bench]'
    python benchmarks/extraction.py            # all tables
    python benchmarks/extraction.py --pdf      # only the PDF table

PDF table: each extractor on the three PDFs (TeX/Sphinx, DocBook, Texinfo), in a fresh process
each (memory is the growth of the process's peak resident size during extraction):
glued tokens (runs of 25+ letters: words that lost their spaces), line-end splits (a word cut
by a hyphen at a line end), running heads and page numbers left (lines that recur at the top
or bottom of pages, digits aside, or are lone numbers), time and memory. The last rows are what
Verbatim stores: before this change (pypdf) and now (PDFium with the layout pass of
``bot/core/pdf.py``), with printed page labels and outline sections.

HTML table: the 22 chapters of debian-reference and debmake-doc, as Verbatim stored them before
(trafilatura, when installed) and now (``bot/core/html.py``): h2-h4 headings and list items
kept (their text found in the stored text), pages given a date (none of these pages states
one in its markup, so any date is guessed), and time.

Add table: ``verbatim corpus add`` of the 25 documents into an empty folder.

Skips with a message when the Debian packages are not installed.
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

PDFS = {
    "developers-reference": Path("/usr/share/developers-reference/developers-reference.pdf"),
    "shared-mime-info": Path("/usr/share/doc/shared-mime-info/shared-mime-info-spec.pdf"),
    "libtasn1": Path("/usr/share/doc/libtasn1-doc/libtasn1.pdf"),
}
HTML_DIRS = [Path("/usr/share/debian-reference"), Path("/usr/share/doc/debmake-doc/html")]
PACKAGES = "developers-reference shared-mime-info libtasn1-doc debian-reference-en debmake-doc"
ROOT = Path(__file__).resolve().parent.parent


def html_chapters() -> list[Path]:
    found: list[Path] = []
    for folder in HTML_DIRS:
        found += sorted(folder.glob("ch[0-9][0-9].en.html")) + sorted(folder.glob("apa.en.html"))
    return found


# --- extractors (each returns one string per page) -------------------------------------------


def pypdf_plain(path: Path) -> list[str]:
    from pypdf import PdfReader

    return [page.extract_text() or "" for page in PdfReader(path).pages]


def pypdf_layout(path: Path) -> list[str]:
    from pypdf import PdfReader

    return [page.extract_text(extraction_mode="layout") or "" for page in PdfReader(path).pages]


def pdfminer_six(path: Path) -> list[str]:
    from pdfminer.high_level import extract_pages
    from pdfminer.layout import LTTextContainer

    return [
        "".join(el.get_text() for el in page if isinstance(el, LTTextContainer))
        for page in extract_pages(path)
    ]


def pypdfium2_raw(path: Path) -> list[str]:
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(path)
    return [doc[i].get_textpage().get_text_range().replace("\r\n", "\n") for i in range(len(doc))]


def verbatim_before(path: Path) -> list[str]:
    """What Verbatim stored before: pypdf's plain text, page by page, blank runs squeezed."""
    pages = []
    for raw in pypdf_plain(path):
        text = "\n".join(line.rstrip() for line in raw.replace("\r\n", "\n").split("\n"))
        pages.append(re.sub(r"\n{3,}", "\n\n", text).strip())
    return pages


def verbatim_now(path: Path) -> list[str]:
    from bot.core.pdf import read_pdf

    pdf = read_pdf(path.read_bytes(), max_pages=10_000)
    bounds = [*pdf.page_starts, len(pdf.text)]
    return [pdf.text[a:b] for a, b in itertools.pairwise(bounds)]


EXTRACTORS: dict[str, Callable[[Path], list[str]]] = {
    "pypdf (plain)": pypdf_plain,
    "pypdf (layout)": pypdf_layout,
    "pdfminer.six": pdfminer_six,
    "pypdfium2 (raw text)": pypdfium2_raw,
    "Verbatim before (pypdf)": verbatim_before,
    "Verbatim now (PDFium + layout)": verbatim_now,
}


def _run(name: str, path: Path, conn: object) -> None:
    extractor = EXTRACTORS[name]
    import pdfminer  # noqa: F401  (imports are not measured)
    import pypdf  # noqa: F401
    import pypdfium2  # noqa: F401

    import bot.core.pdf  # noqa: F401

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    pages = extractor(path)
    seconds = time.perf_counter() - started
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    conn.send((pages, seconds, grown / 1024))  # type: ignore[attr-defined]


def measure(name: str, path: Path) -> tuple[list[str], float, float]:
    ctx = multiprocessing.get_context("spawn")
    receiver, sender = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_run, args=(name, path, sender))
    process.start()
    result = receiver.recv()
    process.join()
    return result


# --- measures ---------------------------------------------------------------------------------

GLUED = re.compile(r"[A-Za-z]{25,}")
SPLIT = re.compile(r"[a-z]-\n[a-z]")


def running_lines(pages: list[str]) -> int:
    """Lines at the top or bottom of pages (two each) that recur on 3+ pages, digits aside,
    or are lone page numbers."""
    edges = []
    for page in pages:
        lines = [line.strip() for line in page.split("\n") if line.strip()]
        edges.append(lines[:2] + lines[-2:])
    key = Counter(k for edge in edges for k in {re.sub(r"\d+", "#", line) for line in edge})
    return sum(
        1
        for edge in edges
        for line in set(edge)
        if key[re.sub(r"\d+", "#", line)] >= 3 or re.fullmatch(r"\d{1,4}|[ivxlc]{1,6}", line)
    )


def pdf_table() -> None:
    from bot.core.pdf import read_pdf

    print("PDF extraction, the three Debian PDFs together (167 pages)\n")
    header = f"{'extractor':32} {'glued':>6} {'splits':>6} {'heads':>6} {'seconds':>8} {'MiB':>6}"
    print(header)
    print("-" * len(header))
    for name in EXTRACTORS:
        glued = splits = heads = 0
        seconds = memory = 0.0
        for path in PDFS.values():
            pages, took, grown = measure(name, path)
            text = "\n".join(pages)
            glued += len(GLUED.findall(text))
            splits += len(SPLIT.findall(text))
            heads += running_lines(pages)
            seconds += took
            memory = max(memory, grown)
        print(f"{name:32} {glued:6} {splits:6} {heads:6} {seconds:8.2f} {memory:6.0f}")
    print()
    two_column_table()
    for label, path in PDFS.items():
        pdf = read_pdf(path.read_bytes(), max_pages=10_000)
        labels = "printed" if pdf.page_labels else "none printed"
        print(
            f"{label}: {len(pdf.page_starts)} pages, page labels {labels}, "
            f"{len(pdf.sections)} sections from the outline"
        )
    print()


def two_column_pdf(path: Path) -> int:
    """A generated page of two ragged-right columns of numbered sentences."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=10)
    n = 120
    with pdf.text_columns(ncols=2, gutter=10) as columns:
        columns.write(
            " ".join(
                f"Sentence S{i:03d} of the page reads on from the one before it, as columns do."
                for i in range(n)
            )
        )
    path.write_bytes(bytes(pdf.output()))
    return n


def two_column_table() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "columns.pdf"
        n = two_column_pdf(path)
        print(f"Two columns (generated, {n} numbered sentences): reading order, and line breaks")
        print("left inside sentences (a hard wrap not joined)\n")
        header = f"{'extractor':32} {'in order':>9} {'breaks':>7}"
        print(header)
        print("-" * len(header))
        for name in EXTRACTORS:
            pages, _, _ = measure(name, path)
            text = "\n".join(pages)
            found = [int(x) for x in re.findall(r"S(\d{3})", text)]
            ordered = sum(b == a + 1 for a, b in itertools.pairwise(found))
            breaks = len(re.findall(r"[^.\s]\s*\n", text))
            print(f"{name:32} {ordered:4}/{n - 1:<4} {breaks:7}")
    print()


# --- HTML -------------------------------------------------------------------------------------


def _norm(text: str) -> str:
    return " ".join(text.split())


def trafilatura_before(data: bytes) -> tuple[str, object]:
    """What Verbatim stored before: trafilatura's main text, with its settings then."""
    import datetime as dt

    import trafilatura
    from trafilatura.xml import xmltotxt

    doc = trafilatura.bare_extraction(
        data,
        include_comments=False,
        include_tables=True,
        favor_precision=True,
        with_metadata=True,
        date_extraction_params={
            "original_date": True,
            "extensive_search": False,
            "max_date": dt.date.today().isoformat(),
        },
    )
    fields = {} if doc is None else doc if isinstance(doc, dict) else doc.as_dict()
    body = fields.get("body")
    blocks = [xmltotxt(c, False) for c in body] if body is not None and len(body) else []
    return "\n\n".join(b.strip() for b in blocks if b.strip()), fields.get("date")


def verbatim_html(data: bytes) -> tuple[str, object]:
    from bot.core.ingest import extract

    result = extract("page.html", data)
    return result.text, result.meta.published


def html_table() -> None:
    from lxml import html as lxml_html

    chapters = html_chapters()
    print(f"HTML extraction, {len(chapters)} chapters of debian-reference and debmake-doc\n")
    pages = []
    for path in chapters:
        data = path.read_bytes()
        tree = lxml_html.fromstring(data)
        headings = [_norm(el.text_content()) for t in ("h2", "h3", "h4") for el in tree.iter(t)]
        items = [_norm(el.text_content()) for el in tree.iter("li")]
        pages.append((data, [h for h in headings if h], [i for i in items if i]))
    extractors = {"Verbatim now (lxml, structure)": verbatim_html}
    try:
        import trafilatura  # noqa: F401

        extractors = {"Verbatim before (trafilatura)": trafilatura_before, **extractors}
    except ImportError:
        print("(trafilatura is not installed: the 'before' row is left out)")
    n_h = sum(len(h) for _, h, _ in pages)
    n_i = sum(len(i) for _, _, i in pages)
    header = f"{'extractor':32} {'headings':>14} {'list items':>15} {'dated':>6} {'seconds':>8}"
    print(header)
    print("-" * len(header))
    for name, extractor in extractors.items():
        kept_h = kept_i = dated = 0
        started = time.perf_counter()
        for data, headings, items in pages:
            text, date = extractor(data)
            stored = _norm(text)
            kept_h += sum(h in stored for h in headings)
            kept_i += sum(i in stored for i in items)
            dated += date is not None
        seconds = time.perf_counter() - started
        print(f"{name:32} {kept_h:5} of {n_h:5} {kept_i:6} of {n_i:5} {dated:6} {seconds:8.2f}")
    print("(no page states a date in its markup: every date shown is guessed)\n")


def add_table() -> None:
    files = [str(p) for p in PDFS.values()] + [str(p) for p in html_chapters()]
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "bot", "corpus", "add", "--to", f"{tmp}/docs", *files],
            capture_output=True,
            text=True,
            env={"XDG_DATA_HOME": tmp, "XDG_CACHE_HOME": tmp, "PATH": "/usr/bin:/bin"},
            cwd=ROOT,
        )
        seconds = time.perf_counter() - started
    added = done.stdout.count("added ")
    print(f"verbatim corpus add: {added} of {len(files)} documents in {seconds:.1f} s\n")
    if done.returncode:
        print(done.stderr)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pdf", action="store_true", help="only the PDF table")
    args = parser.parse_args()
    missing = [str(p) for p in [*PDFS.values(), *HTML_DIRS] if not p.exists()]
    if missing:
        print(f"skipped: Debian's manuals are not installed ({', '.join(missing)} missing).")
        print(f"Install them with: apt-get install {PACKAGES}")
        return 0
    try:
        import pdfminer  # noqa: F401
        import pypdf  # noqa: F401
    except ImportError:
        print("skipped: the comparison needs pypdf and pdfminer.six: pip install -e '.[bench]'")
        return 0
    sys.path.insert(0, str(ROOT))
    pdf_table()
    if not args.pdf:
        html_table()
        add_table()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
