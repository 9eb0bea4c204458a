"""Adding web pages by URL, end to end against a real HTTP server on loopback."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bot.cli import main
from bot.core.fetch import FetchError, extract_url, fetch
from bot.core.ingest import IngestLimits, extract

PAGE = b"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>Canal news</title>
<meta property="og:site_name" content="Canal Gazette"></head><body>
<nav><ul><li><a href="/">Home</a></li><li>NAVIGATION_LINKS</li></ul></nav>
<main><h1>The big freeze</h1>
<p>The canal froze solid in the winter of 1963, and barges waited for weeks at the locks.</p>
<h2>Ice breakers</h2>
<p>Ice breakers were brought in from the coast to clear the channel, one mile a day.</p>
</main><footer>SITE_FOOTER</footer></body></html>"""


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        routes = {
            "/article": (200, "text/html; charset=utf-8", PAGE),
            "/report.pdf": (200, "application/pdf", b"%PDF-1.7 not really"),
            "/image": (200, "image/png", b"\x89PNG"),
            "/big": (200, "text/html", b"<p>" + b"x" * 5000 + b"</p>"),
            "/missing": (404, "text/html", b"gone"),
        }
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/article")
            self.end_headers()
            return
        if self.path.startswith("/loop"):
            self.send_response(301)
            self.send_header("Location", f"/loop{len(self.path)}")
            self.end_headers()
            return
        status, kind, body = routes.get(self.path, (404, "text/plain", b"no"))
        self.send_response(status)
        self.send_header("Content-Type", kind)
        if self.path != "/big":  # the oversized body declares no length: caught while reading
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


LOOPBACK = IngestLimits(allow_loopback=True, max_bytes=4096, fetch_seconds=5)


def test_a_page_is_fetched_through_a_redirect_and_cited_with_url_and_date(server):
    got = extract_url(f"{server}/redirect", LOOPBACK, lambda name, data: extract(name, data))
    assert got.text.split("\n\n")[:2] == [
        "The big freeze",
        "The canal froze solid in the winter of 1963, and barges waited for weeks at the locks.",
    ]
    assert "NAVIGATION" not in got.text and "SITE_FOOTER" not in got.text
    assert str(got.meta.url) == f"{server}/article"  # where the text came from
    assert got.meta.retrieved == dt.datetime.now(dt.UTC).date()
    assert got.meta.publisher == "Canal Gazette"
    assert [h for _, h in got.sections or ()] == ["The big freeze", "Ice breakers"]


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/big", "larger than 4 KB, the limit"),
        ("/image", "the server sent 'image/png', not a web page, a PDF or text"),
        ("/missing", "the server answered 404"),
        ("/loop", "more than 5 redirects"),
    ],
)
def test_bad_answers_are_refused_with_a_reason(server, path, message):
    with pytest.raises(FetchError, match=message):
        fetch(f"{server}{path}", LOOPBACK)


@pytest.mark.parametrize(
    "url",
    [
        "http://10.1.2.3/page",
        "http://192.168.0.1/",
        "http://169.254.169.254/latest/meta-data/",  # link-local (cloud metadata)
        "http://[::1]/",
        "http://0.0.0.0/",
    ],
)
def test_private_and_link_local_addresses_are_refused(url):
    with pytest.raises(FetchError, match="private, loopback or link-local"):
        fetch(url, LOOPBACK if "::1" not in url else IngestLimits())


def test_loopback_is_refused_by_default(server):
    with pytest.raises(FetchError, match="private, loopback or link-local"):
        fetch(f"{server}/article", IngestLimits())


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/file", "only http:// and https://"),
        ("http://user:secret@example.com/", "user name or password"),
        ("file:///etc/passwd", "only http:// and https://"),
    ],
)
def test_other_schemes_and_credentials_are_refused(url, message):
    with pytest.raises(FetchError, match=message):
        fetch(url, IngestLimits())


def test_corpus_add_url_from_the_command_line(server, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("VERBATIM_CONFIG", raising=False)
    config = tmp_path / "config.toml"
    config.write_text("[uploads]\nallow_loopback = true\n")
    folder = tmp_path / "pages"
    argv = ["corpus", "add", f"{server}/article", f"{server}/image", "--to", str(folder)]
    assert main([*argv, "--config", str(config)]) == 1
    captured = capsys.readouterr()
    assert "added canal-news: Canal news" in captured.out
    assert f"not added: {server}/image: the server sent 'image/png'" in captured.err
    question = ["ask", "--corpus", str(folder), "-k", "1", "Where did the ice breakers come from?"]
    assert main(question) == 0
    out = capsys.readouterr().out
    assert "Canal Gazette, section “Ice breakers”, ¶" in out
    fragment = "#:~:text=Ice%20breakers%20were%20brought,one%20mile%20a%20day."
    assert f"{server}/article{fragment}" in out
    assert "retrieved " in out
    assert main(["corpus", "add", f"{server}/article", "--to", str(folder)]) == 1  # loopback
    assert "private, loopback or link-local" in capsys.readouterr().err
