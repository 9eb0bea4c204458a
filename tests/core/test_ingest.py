import asyncio
import datetime as dt
import json
import os
import re
import sys
import time
from pathlib import Path

import pytest
from fpdf import FPDF
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core import pdf
from bot.core.ingest import (
    Extracted,
    FrontMatterError,
    IngestError,
    IngestLimits,
    extract,
    extract_isolated,
    slugify,
    split_front_matter,
)
from bot.core.models import SLUG_PATTERN

MiB = 1024 * 1024

# --- helpers (module level: extract_isolated pickles its target by name) ----------------------


def make_pdf(
    pages: list[list[str]],
    *,
    title: str | None = None,
    author: str | None = None,
    user_password: str | None = None,
    owner_password: str | None = None,
) -> bytes:
    """A PDF with one page per entry, each line of text on its own line."""
    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    if title:
        pdf.set_title(title)
    if author:
        pdf.set_author(author)
    if owner_password:
        pdf.set_encryption(owner_password=owner_password, user_password=user_password)
    for lines in pages:
        pdf.add_page()
        for line in lines:
            pdf.cell(0, 10, line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def children() -> set[int]:
    """This process's child processes still running (or not yet reaped)."""
    return {
        int(pid)
        for tasks in Path("/proc/self/task").iterdir()
        for pid in (tasks / "children").read_text().split()
    }


def sleep_forever(filename: str, data: bytes, limits: IngestLimits) -> Extracted:
    time.sleep(60)
    raise AssertionError("should have been killed")


def hog_memory(filename: str, data: bytes, limits: IngestLimits) -> Extracted:
    blob = bytearray(4 * 1024 * MiB)
    raise AssertionError(f"allocated {len(blob)} bytes despite the cap")


def report_process(filename: str, data: bytes, limits: IngestLimits) -> Extracted:
    """The worker's priority and whether it imported its caller's main module again."""
    main = getattr(sys.modules["__main__"], "__file__", None)  # the caller's, imported again
    facts = {"nice": os.nice(0), "main imported": main is not None}
    return Extracted(text=json.dumps(facts), kind="txt")


def crash(filename: str, data: bytes, limits: IngestLimits) -> Extracted:
    os._exit(3)


PAGES = [
    ["Page one begins the report.", "It has a second line."],
    ["Page two continues with findings."],
    ["Page three holds the conclusion."],
]

ARTICLE = b"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Council approves new riverside park | The Daily Example</title>
<meta property="og:site_name" content="The Daily Example">
<meta property="og:title" content="Council approves new riverside park">
<meta name="author" content="Jane Reporter">
<meta property="article:published_time" content="2023-05-04T10:00:00Z">
<link rel="canonical" href="https://news.example.com/2023/05/park">
<script>var token = "SCRIPT_SECRET_TOKEN"; console.log(token);</script>
</head><body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/news">News</a></li>
<li>NAVIGATION_BOILERPLATE</li></ul></nav>
<article>
<h1>Council approves new riverside park</h1>
<p>The city council voted on Tuesday to approve a new riverside park along the eastern bank
of the river, ending a debate that lasted almost three years.</p>
<p>Councillors said the park would include a playground, a cycle path and a wetland area
designed to reduce flooding in the neighbouring streets during winter storms.</p>
<p>Construction is expected to begin next spring and to take around eighteen months,
according to a statement published by the planning department.</p>
<p>Residents who had campaigned for the project welcomed the decision, saying the site had
been left derelict for more than a decade.</p>
</article>
<footer><p>FOOTER_BOILERPLATE Copyright 2023 The Daily Example. All rights reserved.</p>
<a href="/privacy">Privacy</a></footer>
<script>document.write("SECOND_SCRIPT_TEXT");</script>
</body></html>"""

PARAGRAPHS = [
    "The city council voted on Tuesday to approve a new riverside park along the eastern bank "
    "of the river, ending a debate that lasted almost three years.",
    "Councillors said the park would include a playground, a cycle path and a wetland area "
    "designed to reduce flooding in the neighbouring streets during winter storms.",
    "Construction is expected to begin next spring and to take around eighteen months, "
    "according to a statement published by the planning department.",
    "Residents who had campaigned for the project welcomed the decision, saying the site had "
    "been left derelict for more than a decade.",
]


# --- front matter -----------------------------------------------------------------------------


def test_yaml_front_matter_in_md():
    body = "\n  First paragraph, indented.\n\nSecond: paragraph ---\n\n\n"
    data = (
        "---\n"
        'title: "Rotherham: a report"\n'
        "publisher: Example News\n"
        "author: Jane Reporter\n"
        "published: 2022-06-22\n"
        "url: https://example.com/report\n"
        "---\n" + body
    ).encode()
    result = extract("Report.MD", data)
    assert result.kind == "md"
    assert result.text == body
    assert result.page_starts is None
    assert result.meta.title == "Rotherham: a report"
    assert result.meta.publisher == "Example News"
    assert result.meta.author == "Jane Reporter"
    assert result.meta.published == dt.date(2022, 6, 22)
    assert str(result.meta.url) == "https://example.com/report"


def test_toml_front_matter_in_txt():
    body = "Body starts here.\n+++\nnot front matter\n"
    data = f'+++\ntitle = "A title"\nid = "my-doc"\npublished = 2021-01-02\n+++\n{body}'.encode()
    result = extract("notes.txt", data)
    assert result.kind == "txt"
    assert result.text == body
    assert result.meta.title == "A title"
    assert result.meta.id == "my-doc"
    assert result.meta.published == dt.date(2021, 1, 2)


def test_split_front_matter_body_is_byte_exact():
    text = "---\r\ntitle: T\r\n---  \r\n\r\n  body \t\r\nlast line without newline  "
    meta, body, line = split_front_matter(text)
    assert meta == {"title": "T"}
    assert body == "\r\n  body \t\r\nlast line without newline  "
    assert line == 4
    assert text.endswith(body)


@pytest.mark.parametrize(
    "text",
    ["plain text\n---\nnot: meta\n---\n", "----\ntitle: x\n----\nbody", "", " ---\nx: 1\n---\n"],
)
def test_split_front_matter_without_fence_returns_text_unchanged(text):
    assert split_front_matter(text) == ({}, text, 1)


def test_split_front_matter_closing_fence_at_end_of_file():
    assert split_front_matter("+++\ntitle = 'T'\n+++")[:2] == ({"title": "T"}, "")
    assert split_front_matter("---\n---\nbody") == ({}, "body", 3)


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("---\ntitle: ok\nauthor: a: b\n---\nbody\n", 3),
        ("---\ntitle: ok\n\nurl: [unclosed\npublisher: x\n---\nbody\n", 5),
        ('+++\ntitle = "ok"\nauthor =\n+++\nbody\n', 3),
        ('+++\ntitle = "ok"\n\n\nauthor = "x" "y"\n+++\nbody\n', 5),
        ("---\ntitle: never closed\nbody\n", 1),
        ("---\n- a\n- b\n---\nbody\n", 2),
    ],
)
def test_malformed_front_matter_reports_line(text, line):
    with pytest.raises(FrontMatterError) as info:
        split_front_matter(text)
    assert info.value.line == line
    with pytest.raises(IngestError, match="front matter"):
        extract("doc.md", text.encode())


def test_malformed_front_matter_line_is_in_extract_message():
    with pytest.raises(IngestError, match="line 3"):
        extract("doc.md", b"---\ntitle: ok\nauthor: a: b\n---\nbody\n")


@pytest.mark.parametrize("fence, sep", [("---", ":"), ("+++", " =")])
def test_deeply_nested_front_matter_is_an_ingest_error(fence, sep):
    text = f"{fence}\ntitle{sep} {'[' * 5000}{']' * 5000}\n{fence}\nbody\n"
    with pytest.raises(IngestError, match="front matter"):
        extract("a.md", text.encode())


def test_unknown_front_matter_key_is_named():
    with pytest.raises(IngestError, match="'subtitle'"):
        extract("doc.md", b"---\ntitle: T\nsubtitle: S\n---\nbody\n")


def test_invalid_front_matter_value_is_named():
    with pytest.raises(IngestError, match="'published'"):
        extract("doc.md", b"---\npublished: last tuesday\n---\nbody\n")


# --- plain text -------------------------------------------------------------------------------


def test_undecodable_bytes_name_the_offset():
    with pytest.raises(IngestError, match="byte offset 6"):
        extract("a.txt", b"hello \xff world")


@pytest.mark.parametrize("data", [b"", b" \n\t\r\n"])
def test_empty_file_refused(data):
    with pytest.raises(IngestError, match="empty"):
        extract("a.txt", data)


def test_front_matter_without_body_refused():
    with pytest.raises(IngestError, match="no text after its front matter"):
        extract("a.md", b"---\ntitle: T\n---\n\n  \n")


def test_crlf_and_bom_normalised():
    data = b"\xef\xbb\xbf---\r\ntitle: T\r\n---\r\nline one\r\nline two\rline three\r\n"
    result = extract("a.md", data)
    assert result.meta.title == "T"
    assert result.text == "line one\nline two\nline three\n"


def test_text_without_front_matter_is_kept_whole():
    text = "  Leading spaces kept.\n\nSecond paragraph – with “unicode”.\n"
    assert extract("a.txt", text.encode()).text == text


def test_nul_bytes_refused_as_binary():
    with pytest.raises(IngestError, match="NUL byte at offset 1"):
        extract("a.txt", "hi".encode("utf-16-le"))


def test_txt_that_is_really_a_pdf_is_read_as_pdf():
    result = extract("report.txt", make_pdf(PAGES))
    assert result.kind == "pdf"
    assert "Page two continues with findings." in result.text


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("virus.exe", "unsupported file type '.exe': upload .txt, .md, .html or .pdf"),
        ("README", "no extension"),
        ("archive.tar.gz", "'.gz'"),
    ],
)
def test_unsupported_file_types_refused(name, message):
    with pytest.raises(IngestError, match=re.escape(message)):
        extract(name, b"some text")


def test_file_name_is_only_used_for_its_extension():
    result = extract("../../etc/passwd.TXT", b"just text\n")
    assert (result.kind, result.text) == ("txt", "just text\n")


# --- HTML -------------------------------------------------------------------------------------


def test_html_article_main_text_and_metadata():
    result = extract("article.html", ARTICLE)
    assert result.kind == "html"
    blocks = result.text.split("\n\n")
    for paragraph in PARAGRAPHS:
        assert paragraph in blocks
    for boilerplate in ("NAVIGATION", "FOOTER", "SCRIPT_SECRET_TOKEN", "SECOND_SCRIPT", "Privacy"):
        assert boilerplate not in result.text
    assert result.meta.title == "Council approves new riverside park"
    assert result.meta.publisher == "The Daily Example"
    assert result.meta.author == "Jane Reporter"
    assert result.meta.published == dt.date(2023, 5, 4)
    assert str(result.meta.url) == "https://news.example.com/2023/05/park"


def test_html_keeps_paragraphs_as_blocks():
    result = extract("article.htm", ARTICLE)
    assert result.text.split("\n\n") == ["Council approves new riverside park", *PARAGRAPHS]
    assert result.sections == ((0, "Council approves new riverside park"),)


DOCBOOK = b"""<html><head><meta charset="utf-8"><title>Chapter 2. Packages</title>
<meta name="generator" content="DocBook XSL Stylesheets"></head><body>
<div class="navheader"><table><tr><td><a href="ch01.html">Prev</a></td>
<th>NAVHEADER_TEXT</th></tr></table></div>
<div class="chapter"><h1 class="title">Chapter 2. Packages</h1>
<div class="toc"><dl><dt><a href="#s1">2.1. TOC_ENTRY</a></dt></dl></div>
<div class="section"><h2>2.1. Basic precautions</h2>
<p>Keep the system <em>consistent</em>:<br>upgrade it
   often.</p>
<ul><li><p>apt for interactive use</p></li><li>apt-get for scripts</li></ul>
<div class="note"><table border="0"><tr><td rowspan="2"><img src="note.png"></td>
<th>Note</th></tr><tr><td><p>Backups come first.</p></td></tr></table></div>
<h3>2.1.1. Tools</h3>
<table><tr><th>package</th><th>size</th></tr><tr><td>dpkg</td><td>5989</td></tr>
<tr><td>apt</td><td>4211</td></tr></table>
<dl><dt>dpkg</dt><dd>low level tool</dd></dl>
<pre>$ ls -l
-rw-r--r-- 1 root root 10 Mar 24  2007 old.txt</pre>
<p>Dated 24 March 2007 in the text, not in the markup.</p>
</div></div>
<div class="navfooter">NAVFOOTER_TEXT</div>
<footer>SITE_FOOTER</footer></body></html>"""


def test_html_keeps_headings_lists_tables_and_code_as_readable_blocks():
    result = extract("ch02.html", DOCBOOK)
    assert result.text.split("\n\n") == [
        "Chapter 2. Packages",
        "2.1. Basic precautions",
        "Keep the system consistent:\nupgrade it often.",
        "apt for interactive use",
        "apt-get for scripts",
        "Note",
        "Backups come first.",
        "2.1.1. Tools",
        "package; size",
        "package: dpkg; size: 5989",
        "package: apt; size: 4211",
        "dpkg",
        "low level tool",
        "$ ls -l\n-rw-r--r-- 1 root root 10 Mar 24  2007 old.txt",
        "Dated 24 March 2007 in the text, not in the markup.",
    ]
    assert result.sections is not None
    assert [h for _, h in result.sections] == [
        "Chapter 2. Packages",
        "2.1. Basic precautions",
        "2.1.1. Tools",
    ]
    for start, heading in result.sections:
        assert result.text[start:].startswith(heading)
    assert result.meta.title == "Chapter 2. Packages"
    assert result.meta.published is None  # never a date from the body text


def test_html_permalinks_beside_headings_are_not_text():
    page = (
        b'<html><body><main><h2>5.1. New packages<a class="headerlink" href="#new" '
        b'title="Permalink to this heading">\xc2\xb6</a></h2><dl><dt>orphan'
        b'<a class="headerlink" href="#o">\xc2\xb6</a></dt><dd>A package without a '
        b"maintainer.</dd></dl></main></body></html>"
    )
    result = extract("pkgs.html", page)
    assert "\u00b6" not in result.text
    assert result.sections == ((0, "5.1. New packages"),)


@pytest.mark.parametrize(
    "title, want",
    [
        ("5. Managing Packages — developers-reference 12.18 documentation", "5. Managing Packages"),
        ("The Daily Example | 5. Managing Packages", "5. Managing Packages"),
        ("Managing Packages and more", "Managing Packages and more"),  # no site name to drop
    ],
)
def test_html_title_drops_the_site_name_beside_the_main_heading(title, want):
    page = (
        f"<html><head><title>{title}</title></head><body>"
        "<header><h1>The Daily Example</h1></header><h1>5. Managing Packages"
        '<a class="headerlink" href="#m">\u00b6</a></h1><p>Packages are uploaded to the '
        "archive by their maintainers.</p></body></html>"
    )
    assert extract("pkgs.html", page.encode()).meta.title == want


def test_html_with_an_empty_main_element_reads_the_body():
    page = b"<html><body><main></main><div><p>The canal froze in 1963.</p></div></body></html>"
    assert extract("a.html", page).text == "The canal froze in 1963."


def test_quotes_from_a_page_cite_the_nearest_heading(tmp_path):
    from bot.core.collection import add_extracted
    from bot.core.models import Quote

    doc = add_extracted(tmp_path, extract("ch02.html", DOCBOOK), collection="c", name_hint="x")
    start = doc.text.index("package: apt")
    quote = Quote.from_document(doc, start, start + 12, paragraph=4)
    assert quote.section == "2.1.1. Tools" and quote.page is None
    assert quote.attribution == "Chapter 2. Packages, §2.1.1. Tools, ¶4"


def test_html_metadata_is_not_invented():
    page = ARTICLE.replace(b'<meta property="og:site_name" content="The Daily Example">', b"")
    page = page.replace(b" | The Daily Example", b"")
    page = page.replace(
        b'<meta property="article:published_time" content="2023-05-04T10:00:00Z">', b""
    )
    page = page.replace(b'<meta name="author" content="Jane Reporter">', b"")
    result = extract("a.html", page)
    assert result.meta.publisher is None  # not the URL's host
    assert result.meta.published is None
    assert result.meta.author is None
    assert PARAGRAPHS[0] in result.text


def test_html_without_main_text_refused():
    page = (
        b"<html><head><title>Empty</title></head><body><nav><ul><li><a href='/'>Home</a></li>"
        b"<li><a href='/news'>News</a></li></ul></nav><footer><p>Copyright 2023 Example Ltd. "
        b"All rights reserved.</p></footer><script>var x = 'SCRIPT';</script></body></html>"
    )
    with pytest.raises(IngestError, match="no main text"):
        extract("a.html", page)


# --- PDF --------------------------------------------------------------------------------------


def test_pdf_pages_and_page_starts():
    result = extract("report.pdf", make_pdf(PAGES, title="Annual Report", author="Ann Author"))
    assert result.kind == "pdf"
    assert result.page_starts is not None and len(result.page_starts) == 3
    assert result.page_starts[0] == 0
    for start, lines in zip(result.page_starts, PAGES, strict=True):
        assert result.text[start:].startswith("\n".join(lines))
    assert result.text == "\n\n".join("\n".join(lines) for lines in PAGES)
    assert result.meta.title == "Annual Report"
    assert result.meta.author == "Ann Author"
    assert result.meta.publisher is None


class _Report(FPDF):
    """A typeset report: a running head, page numbers in the footer, printed page labels."""

    def header(self) -> None:
        self.set_font("Helvetica", size=9)
        self.cell(0, 8, "Canal Trust Annual Report 2024", align="C", new_x="LMARGIN", new_y="NEXT")
        self.ln(4)

    def footer(self) -> None:
        self.set_y(-15)
        self.set_font("Helvetica", size=9)
        self.cell(0, 10, str(self.get_page_label()), align="C")


WRAPPED = (
    "The canal froze solid in the winter of 1963, and the barges waited for weeks at the "
    "locks while the ice breakers came from the coast, one slow mile at a time."
)
SEASONS = ["spring", "summer", "autumn"]
CHAPTERS = ["1 Winter on the canal", "2 Repairs to the locks", "3 Accounts"]


def make_report() -> bytes:
    pdf = _Report()
    pdf.set_font("Helvetica", size=11)
    pdf.add_page(label_style="r")
    pdf.multi_cell(0, 6, "Foreword. This report is published by the Canal Trust.")
    for n, (title, season) in enumerate(zip(CHAPTERS, SEASONS, strict=True)):
        pdf.add_page(**({"label_style": "D", "label_start": 1} if n == 0 else {}))
        pdf.start_section(title)
        pdf.set_font("Helvetica", "B", size=14)
        pdf.cell(0, 10, title, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=11)
        pdf.multi_cell(0, 6, f"In {season}: {WRAPPED}")  # wrapped by the layout
        pdf.ln(4)
        for line in (
            f"By {season} the two-step rule held. Volunteers began the reintroduc-",
            "tion of the old two-",
            "step lock procedure.",
        ):
            pdf.cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def test_pdf_text_reads_like_the_page():
    result = extract("report.pdf", make_report())
    text = result.text
    assert "Annual Report 2024" not in text  # the running head
    assert not [line for line in text.split("\n") if line.strip().isdigit()]  # page numbers
    for season in SEASONS:  # hard-wrapped lines joined into one paragraph
        assert f"\n\nIn {season}: {WRAPPED}\n\n" in text
        rule = f"By {season} the two-step rule held. Volunteers began the reintroduction"
        assert f"{rule} of the old two-step lock procedure." in text
    assert "reintroduc-" not in text and "\ufffe" not in text


def test_pdf_keeps_printed_page_labels_and_outline_sections():
    result = extract("report.pdf", make_report())
    assert result.page_labels == ("i", "1", "2", "3")
    assert result.sections is not None
    assert [heading for _, heading in result.sections] == CHAPTERS
    for (start, heading), page_start in zip(result.sections, result.page_starts[1:], strict=True):
        assert result.text[start:].startswith(heading + "\n\n") and start == page_start


def test_quotes_from_a_stored_pdf_cite_section_and_printed_page(tmp_path):
    from bot.core.collection import add_extracted
    from bot.core.models import Quote

    doc = add_extracted(
        tmp_path, extract("report.pdf", make_report()), collection="c", name_hint="report.pdf"
    )
    start = doc.text.index("By summer the two-step rule")
    quote = Quote.from_document(doc, start, start + 30, paragraph=5)
    assert quote.page == 3 and quote.page_label == "2"
    assert quote.section == "2 Repairs to the locks"
    assert quote.attribution == "report, §2 Repairs to the locks, p. 2, ¶5"
    front = doc.text[:10]
    assert Quote.from_document(doc, 0, 10, paragraph=1).location == "p. i, ¶1", front


def test_pdf_without_an_outline_takes_larger_short_lines_as_headings():
    pdf = FPDF()
    for title, body in [("Findings", "The canal froze solid."), ("Costs", "Repairs cost 40,000.")]:
        pdf.add_page()
        pdf.set_font("Helvetica", "B", 16)
        pdf.cell(0, 10, title, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=11)
        for n in range(3):
            pdf.cell(0, 6, f"{body} Line {n}.", new_x="LMARGIN", new_y="NEXT")
    result = extract("r.pdf", bytes(pdf.output()))
    assert result.sections == ((0, "Findings"), (result.text.index("Costs"), "Costs"))
    assert extract("p.pdf", make_pdf(PAGES)).sections is None  # one size: no headings


def test_two_column_ragged_text_is_read_column_by_column_in_paragraphs():
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=10)
    sentences = [
        f"Sentence {n} of the two-column report reads on from the last." for n in range(120)
    ]
    with pdf.text_columns(ncols=2, gutter=10) as columns:
        columns.write(" ".join(sentences))
    text = extract("columns.pdf", bytes(pdf.output())).text
    assert " ".join(text.split()) == " ".join(sentences)  # in reading order
    assert text.count("\n") <= 2  # one paragraph per column, lines joined


def test_pdf_empty_page_starts_where_next_page_does():
    result = extract("a.pdf", make_pdf([["First page."], [], ["Third page."], []]))
    assert result.text == "First page.\n\nThird page."
    assert result.page_starts == (0, 13, 13, len(result.text))


def test_pdf_page_limit_checked_before_extraction(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("text extracted before the page count was checked")

    monkeypatch.setattr(pdf, "_page_lines", fail)
    with pytest.raises(IngestError, match="PDF has 3 pages; the limit is 2"):
        extract("a.pdf", make_pdf(PAGES), IngestLimits(max_pages=2))


def test_pdf_with_user_password_refused():
    data = make_pdf(PAGES, owner_password="owner", user_password="secret")
    with pytest.raises(IngestError, match="password"):
        extract("a.pdf", data)


def test_pdf_with_owner_password_only_is_read():
    data = make_pdf(PAGES, owner_password="owner")
    assert extract("a.pdf", data).text.startswith("Page one begins the report.")


def test_pdf_without_text_refused():
    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 100, 100, style="F")
    with pytest.raises(IngestError, match="no text could be extracted"):
        extract("scan.pdf", bytes(pdf.output()))


@pytest.mark.parametrize(
    "data",
    [
        bytes(range(256)) * 4,
        b"%PDF-1.7\n" + bytes(range(256)) * 4,
        make_pdf(PAGES)[:400],
        make_pdf(PAGES)[:-120],
    ],
    ids=["no-header", "garbage-after-header", "truncated-head", "truncated-tail"],
)
def test_garbage_pdf_is_an_ingest_error(data):
    with pytest.raises(IngestError):
        extract("a.pdf", data)


# --- limits -----------------------------------------------------------------------------------


def test_oversized_file_refused_before_parsing():
    with pytest.raises(IngestError, match=re.escape("file is 30.2 MB; the limit is 10 MB")):
        extract("big.pdf", b"%PDF-1.7\n" + bytes(int(30.2 * MiB)))


def test_small_size_limit_message():
    with pytest.raises(IngestError, match=re.escape("file is 2 KB; the limit is 1,000 bytes")):
        extract("a.txt", b"x" * 2048, IngestLimits(max_bytes=1000))


def test_too_much_text_refused():
    limits = IngestLimits(max_chars=100)
    assert extract("a.txt", b"x" * 100, limits).text == "x" * 100
    with pytest.raises(IngestError, match="100 characters"):
        extract("a.txt", b"x" * 101, limits)
    with pytest.raises(IngestError, match="characters"):
        extract("a.pdf", make_pdf([["y" * 60], ["z" * 60]]), limits)


def test_isolated_matches_in_process_extraction():
    data = make_pdf(PAGES, title="Annual Report")
    assert extract_isolated("a.pdf", data) == extract("a.pdf", data)


def test_isolated_kills_a_slow_parse():
    before, started = children(), time.monotonic()
    with pytest.raises(IngestError, match=r"took longer than 0\.5 s"):
        extract_isolated("a.txt", b"text", IngestLimits(max_seconds=0.5), target=sleep_forever)
    assert time.monotonic() - started < 5
    assert children() <= before  # the worker is gone


def test_the_worker_yields_the_cpu_and_imports_only_what_it_needs():
    facts = json.loads(extract_isolated("a.txt", b"text", target=report_process).text)
    assert facts == {"nice": min(19, os.nice(0) + 10), "main imported": False}


def test_isolated_passes_ingest_errors_through():
    with pytest.raises(IngestError, match=re.escape("unsupported file type '.exe'")):
        extract_isolated("a.exe", b"MZ")


def test_isolated_reports_a_crashed_worker():
    with pytest.raises(IngestError, match="exit code 3"):
        extract_isolated("a.txt", b"text", target=crash)


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS is enforced on Linux")
def test_isolated_caps_memory():
    limits = IngestLimits(max_memory=512 * MiB)
    with pytest.raises(IngestError, match="memory"):
        extract_isolated("a.txt", b"text", limits, target=hog_memory)


async def test_isolated_runs_concurrently_in_threads():
    files = {f"doc{i}.md": f"---\ntitle: Doc {i}\n---\nBody {i}\n".encode() for i in range(3)}
    results = await asyncio.gather(
        *(asyncio.to_thread(extract_isolated, name, data) for name, data in files.items())
    )
    assert [r.meta.title for r in results] == ["Doc 0", "Doc 1", "Doc 2"]
    assert [r.text for r in results] == ["Body 0\n", "Body 1\n", "Body 2\n"]


# --- slugify ----------------------------------------------------------------------------------

SLUG = re.compile(SLUG_PATTERN)


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Rotherham CSE: Police officer's report", "rotherham-cse-police-officer-s-report"),
        ("Café Münster — Ærø", "cafe-munster-r"),
        ("../../etc/passwd", "etc-passwd"),
        ("/abs/path", "abs-path"),
        ("CON", "con-document"),
        ("lpt1.txt", "lpt1-document"),
        ("Annual Report.PDF", "annual-report"),
        ("🙂🙂🙂", "document"),
        ("...", "document"),
        ("", "document"),
        ("ﬁnal ２０２４", "final-2024"),
    ],
)
def test_slugify_examples(name, slug):
    assert slugify(name, set()) == slug


def test_slugify_long_names_cut_at_a_hyphen():
    slug = slugify("word " * 2000, set())
    assert SLUG.match(slug)
    assert len(slug) <= 60
    assert set(slug.split("-")) == {"word"}
    assert len(slugify("x" * 10_000, set())) == 60


def test_slugify_suffixes_until_free():
    assert slugify("Report", {"report"}) == "report-2"
    assert slugify("Report", {"report", "report-2", "report-3"}) == "report-4"
    assert slugify("", {"document"}) == "document-2"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300), st.sets(st.text(max_size=20), max_size=5), st.integers(0, 5))
def test_slugify_always_safe_and_unique(name, taken, clashes):
    base = slugify(name, set())
    taken = taken | {base} | {f"{base}-{i}" for i in range(2, clashes + 2)}
    slug = slugify(name, taken)
    assert SLUG.match(slug)
    assert slug not in taken
    assert ".." not in slug and "/" not in slug


def test_one_worker_parses_many_files_and_recovers_from_a_slow_one():
    from bot.core.ingest import ExtractionWorker

    before, limits = children(), IngestLimits(max_seconds=0.5)
    with ExtractionWorker(limits) as worker:
        first = worker.extract("a.md", b"---\ntitle: A\n---\nBody A\n")
        pid = worker._process.pid
        assert worker.extract("b.txt", b"Body B").text == "Body B"
        assert worker._process.pid == pid  # the same process, started once
        with pytest.raises(IngestError, match="unsupported file type"):
            worker.extract("c.exe", b"MZ")
        assert worker._process.pid == pid
    assert first.meta.title == "A"
    with ExtractionWorker(limits, target=sleep_forever) as slow:
        with pytest.raises(IngestError, match=r"took longer than 0\.5 s"):
            slow.extract("a.txt", b"text")
        with pytest.raises(IngestError, match=r"took longer than 0\.5 s"):
            slow.extract("b.txt", b"text")  # a fresh process, with the same limit
    assert children() <= before
