"""Fetching a web page (or a PDF) by URL, the way a journalist adds one to the corpus.

Bounded in every way a hostile or broken server could abuse: ``http``/``https`` only, no
credentials in the URL; every address the name resolves to is checked and the connection is
made to that checked address (no second lookup to rebind); private, loopback, link-local,
multicast and reserved addresses are refused (``allow_loopback`` admits 127.0.0.0/8 and ::1,
for tests); redirects are followed up to ``max_redirects``, each checked again; the body is
capped at ``max_bytes`` (by Content-Length, then while reading); the whole fetch has
``fetch_seconds``; the content type must be a page, a PDF or text.
"""

from __future__ import annotations

import datetime as dt
import http.client
import ipaddress
import socket
import ssl
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin, urlsplit

from pydantic import BaseModel, ConfigDict

from bot.core.ingest import Extracted, IngestError, IngestLimits, _size
from bot.core.models import DocumentMeta

_TYPES = {
    "text/html": "html",
    "application/xhtml+xml": "html",
    "application/pdf": "pdf",
    "text/plain": "txt",
    "text/markdown": "md",
}
_REDIRECTS = {301, 302, 303, 307, 308}
USER_AGENT = "Verbatim/0.1 (+https://github.com/; adds a page to a quote corpus)"


class FetchError(IngestError):
    """The URL cannot be fetched; the message is one line, for the person adding it."""


class Fetched(BaseModel):
    model_config = ConfigDict(frozen=True)

    url: str  # after redirects
    data: bytes
    kind: str  # html, pdf, txt, md
    retrieved: dt.date

    @property
    def filename(self) -> str:
        """A file name for the extractor: the URL's last path segment, with the right kind."""
        last = urlsplit(self.url).path.rstrip("/").rsplit("/", 1)[-1] or "page"
        stem = last.rsplit(".", 1)[0] or "page"
        return f"{stem}.{self.kind}"


def is_url(text: str) -> bool:
    return text.lower().startswith(("http://", "https://"))


def fetch(url: str, limits: IngestLimits) -> Fetched:
    """GET ``url`` within ``limits``; raises :class:`FetchError`."""
    deadline = time.monotonic() + limits.fetch_seconds
    for _ in range(limits.max_redirects + 1):
        status, headers, body_or_location = _get(url, limits, deadline)
        if status in _REDIRECTS:
            url = urljoin(url, body_or_location)
            continue
        kind = _kind(headers.get("content-type", ""))
        return Fetched(url=url, data=body_or_location, kind=kind, retrieved=_today())
    raise FetchError(f"more than {limits.max_redirects} redirects")


def extract_url(
    url: str, limits: IngestLimits, extract: Callable[[str, bytes], Extracted]
) -> Extracted:
    """Fetch ``url`` and extract it with ``extract`` (e.g. an isolated worker's); the
    document's URL is the one fetched (after redirects), with the date it was retrieved."""
    fetched = fetch(url, limits)
    extracted = extract(fetched.filename, fetched.data)
    meta = DocumentMeta.model_validate(
        {**extracted.meta.model_dump(), "url": fetched.url, "retrieved": fetched.retrieved}
    )
    return extracted.model_copy(update={"meta": meta})


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def _kind(content_type: str) -> str:
    mime = content_type.split(";", 1)[0].strip().lower()
    if mime not in _TYPES:
        shown = "".join(c for c in mime[:60] if c.isprintable()) or "none"
        raise FetchError(f"the server sent {shown!r}, not a web page, a PDF or text")
    return _TYPES[mime]


def _check_url(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise FetchError("only http:// and https:// addresses can be added")
    if parts.username or parts.password:
        raise FetchError("the address must not contain a user name or password")
    if not parts.hostname:
        raise FetchError("the address has no host name")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise FetchError("the address has an invalid port") from None
    return parts.scheme, parts.hostname, port


def _address(host: str, port: int, limits: IngestLimits) -> str:
    """The address to connect to, after checking every address the name resolves to."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise FetchError(f"the host name {host!r} could not be resolved") from None
    addresses = [str(info[4][0]) for info in infos]
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if ip.is_loopback and limits.allow_loopback:
            continue
        if not ip.is_global or ip.is_multicast:
            raise FetchError(
                f"{host} is a private, loopback or link-local address ({ip}); "
                "only public web pages can be added"
            )
    return addresses[0]


class _Pinned(http.client.HTTPConnection):
    """Connects to the checked address, whatever the name would resolve to now."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedTLS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.address = address

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def _get(url: str, limits: IngestLimits, deadline: float) -> tuple[int, dict[str, str], Any]:
    """(status, headers, body) or, for a redirect, (status, headers, location)."""
    scheme, host, port = _check_url(url)
    address = _address(host, port, limits)
    left = deadline - time.monotonic()
    if left <= 0:
        raise _too_slow(limits)
    cls = _PinnedTLS if scheme == "https" else _Pinned
    conn = cls(host, port, address, timeout=left)
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        conn.request(
            "GET",
            target,
            headers={
                "User-Agent": USER_AGENT,
                "Accept": "text/html,application/xhtml+xml,application/pdf,text/plain;q=0.9",
                "Accept-Encoding": "identity",
            },
        )
        response = conn.getresponse()
        headers = {k.lower(): v for k, v in response.getheaders()}
        if response.status in _REDIRECTS:
            location = headers.get("location")
            if not location:
                raise FetchError(f"the server redirected ({response.status}) to nowhere")
            return response.status, headers, location
        if response.status != 200:
            raise FetchError(f"the server answered {response.status} {response.reason}".strip())
        _kind(headers.get("content-type", ""))  # refuse before reading the body
        return response.status, headers, _read(response, headers, limits, deadline)
    except TimeoutError:
        raise _too_slow(limits) from None
    except ssl.SSLError as exc:
        raise FetchError(f"secure connection to {host} failed ({exc.reason or exc})") from None
    except (OSError, http.client.HTTPException) as exc:
        raise FetchError(f"could not fetch the page from {host} ({type(exc).__name__})") from None
    finally:
        conn.close()


def _read(
    response: http.client.HTTPResponse,
    headers: dict[str, str],
    limits: IngestLimits,
    deadline: float,
) -> bytes:
    cap = limits.max_bytes
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise FetchError(f"the page is {_size(int(declared))}; the limit is {_size(cap)}")
    chunks: list[bytes] = []
    total = 0
    while chunk := response.read(64 * 1024):
        total += len(chunk)
        if total > cap:
            raise FetchError(f"the page is larger than {_size(cap)}, the limit")
        if time.monotonic() > deadline:
            raise _too_slow(limits)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_slow(limits: IngestLimits) -> FetchError:
    return FetchError(f"the page took longer than {limits.fetch_seconds:g} s to fetch")
