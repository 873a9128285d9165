"""Local HTTP servers that behave well or badly, for tests (127.0.0.1 only, no network).

Usage::

    with LocalServer() as server:
        url = server.route("/feed", respond(200, FEED, {"Content-Type": "application/rss+xml"}))
        server.route("/flaky", sequence(respond(503), respond(200, FEED)))
        ...
        assert server.hits("/flaky") == 2

A handler is a function of an :class:`Exchange` (the request plus ways to answer it). Factories
here build the usual ones: fixed responses, conditional GET, sequences, slow, drip, hang, reset
mid-body, wrong Content-Length, redirects (endless too), 429 with Retry-After, gzip bomb, huge
streamed bodies.
The server counts requests and concurrent requests per path, and keeps their headers.
"""

from __future__ import annotations

import functools
import gzip
import http.server
import importlib
import itertools
import select
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
import traceback
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

Handler = Callable[["Exchange"], None]

RSS = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel><title>测试频道</title>'
    "<link>http://example.com/</link><description>d</description>"
    "<item><title>第一条</title><link>http://example.com/1</link><guid>1</guid></item>"
    "</channel></rss>\n"
).encode()
HTML_ERROR_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Error</title></head>"
    b"<body>Looks like something went wrong</body></html>"
)
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Recorded:
    """One request the server received."""

    method: str
    path: str
    #: Header names lower-cased.
    headers: dict[str, str]
    #: The client's (address, port): the same for requests over one kept-alive connection.
    peer: tuple[str, int] = ("", 0)


class Exchange(http.server.BaseHTTPRequestHandler):
    """One request as a handler sees it, with helpers to answer (or misbehave)."""

    protocol_version = "HTTP/1.1"  # keep-alive, like real servers
    # Headers and body leave in separate writes: with Nagle on, the body waits for the client's
    # delayed ACK (~40 ms) on every reused connection, which throttled the load tests.
    disable_nagle_algorithm = True
    server: _HTTPServer

    def do_GET(self) -> None:
        self.server.owner._dispatch(self)

    do_HEAD = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: test output is for failures."""

    @property
    def route_path(self) -> str:
        return self.path.split("?", 1)[0]

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    #: Called once the request is answered (see LocalServer.max_concurrent).
    answered: Callable[[], None] | None = None

    def respond(self, status: int, body: bytes = b"",
                headers: Mapping[str, str] | None = None) -> None:
        """A complete response with a correct Content-Length."""
        if self.answered is not None:
            # No longer in progress once it is answered: its client may read it, end and let
            # another request start before this thread gets back from writing it.
            self.answered()
        self.head(status, {"Content-Length": str(len(body)), **(headers or {})})
        self.write(body)

    def head(self, status: int, headers: Mapping[str, str] | None = None) -> None:
        """Status line and headers only; the body (if any) follows through :meth:`write`."""
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
            if name.lower() == "connection" and value.lower() == "close":
                self.close_connection = True
        self.end_headers()

    def write(self, data: bytes) -> bool:
        """Send bytes; False when the client has gone away."""
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:
            self.close_connection = True
            return False
        return True

    def wait(self, seconds: float) -> bool:
        """Sleep, ending early (False) when the server stops or the client disconnects."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if self.server.owner.stopping.is_set() or self.client_gone(min(left, 0.05)):
                self.close_connection = True
                return False
        return True

    def client_gone(self, within: float = 0.0) -> bool:
        """True when the client closed its end (EOF or reset) within ``within`` seconds."""
        try:
            readable, _, _ = select.select([self.connection], [], [], within)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True

    def reset(self) -> None:
        """Abort the connection with a TCP RST instead of a clean close."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()  # the RST goes out once the request's files are closed too


class _HTTPServer(http.server.ThreadingHTTPServer):
    request_queue_size = 256  # many clients connect at once in the load tests
    owner: LocalServer
    tls: ssl.SSLContext | None = None

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.tls is None:
            super().finish_request(request, client_address)
            return
        try:
            wrapped = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return  # the client refused our certificate: that is what the TLS tests want
        try:
            super().finish_request(wrapped, client_address)
        finally:
            wrapped.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, OSError):
            return  # clients that hang up early are the point of these servers
        self.owner.errors.append(error)
        traceback.print_exc()


class LocalServer:
    """A threaded HTTP(S) server on 127.0.0.1 with an ephemeral port, as a context manager."""

    def __init__(self, tls: tuple[Path, Path] | None = None) -> None:
        self.stopping = threading.Event()
        #: Exceptions raised by handlers (bugs in a test's handler), for assertions.
        self.errors: list[BaseException | None] = []
        self._routes: dict[str, Handler] = {}
        self._lock = threading.Lock()
        self._hits: dict[str, int] = {}
        self._requests: dict[str, list[Recorded]] = {}
        self._inflight: dict[str, int] = {}
        self._max_inflight: dict[str, int] = {}
        self._httpd = _HTTPServer(("127.0.0.1", 0), Exchange)
        self._httpd.owner = self
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self._httpd.tls = context
        self.port = self._httpd.server_address[1]
        self.base_url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        # A short poll interval makes shutdown (and so each test) fast.
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,),
                                        daemon=True)

    def __enter__(self) -> LocalServer:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    def route(self, path: str, handler: Handler) -> str:
        """Serve ``path`` (query string ignored) with ``handler``; returns its URL."""
        self._routes[path] = handler
        return self.url(path)

    def url(self, path: str) -> str:
        return self.base_url + path

    def hits(self, path: str) -> int:
        with self._lock:
            return self._hits.get(path, 0)

    def requests(self, path: str) -> list[Recorded]:
        with self._lock:
            return list(self._requests.get(path, []))

    def max_concurrent(self, path: str | None = None) -> int:
        """Most requests in progress at once, for ``path`` or (None) over all paths."""
        with self._lock:
            return self._max_inflight.get(path or "*", 0)

    def _dispatch(self, exchange: Exchange) -> None:
        path = exchange.route_path
        headers = {k.lower(): v for k, v in exchange.headers.items()}
        with self._lock:
            self._hits[path] = self._hits.get(path, 0) + 1
            self._requests.setdefault(path, []).append(Recorded(
                exchange.command, path, headers, tuple(exchange.client_address)))
            for key in (path, "*"):
                self._inflight[key] = self._inflight.get(key, 0) + 1
                self._max_inflight[key] = max(self._max_inflight.get(key, 0),
                                              self._inflight[key])
        done = False

        def answered() -> None:
            nonlocal done
            with self._lock:
                if not done:
                    done = True
                    for key in (path, "*"):
                        self._inflight[key] -= 1

        exchange.answered = answered
        try:
            self._routes.get(path, respond(404, b"not found"))(exchange)
        finally:
            answered()


# --- handler factories -------------------------------------------------------------------------


def respond(status: int = 200, body: bytes = b"", headers: Mapping[str, str] | None = None,
            content_type: str | None = None) -> Handler:
    """A fixed response. ``content_type`` defaults to RSS for a 2xx with a body."""
    all_headers = dict(headers or {})
    if content_type is None and body and 200 <= status < 300:
        content_type = "application/rss+xml; charset=utf-8"
    if content_type is not None:
        all_headers.setdefault("Content-Type", content_type)

    def handler(exchange: Exchange) -> None:
        exchange.respond(status, body, all_headers)

    return handler


def feed(body: bytes = RSS, headers: Mapping[str, str] | None = None) -> Handler:
    """A 200 with an RSS body."""
    return respond(200, body, headers)


def conditional(body: bytes = RSS, etag: str | None = '"v1"',
                last_modified: str | None = "Wed, 21 Oct 2015 07:28:00 GMT",
                send_validators_on_304: bool = True) -> Handler:
    """200 with validators, or 304 when the request's If-None-Match / If-Modified-Since match."""
    validators = {k: v for k, v in (("ETag", etag), ("Last-Modified", last_modified)) if v}

    def handler(exchange: Exchange) -> None:
        inm, ims = exchange.header("If-None-Match"), exchange.header("If-Modified-Since")
        fresh = (etag is not None and inm is not None and etag in inm) or (
            inm is None and last_modified is not None and ims == last_modified)
        if fresh:
            exchange.respond(304, b"", validators if send_validators_on_304 else {})
        else:
            exchange.respond(200, body, {"Content-Type": "application/rss+xml", **validators})

    return handler


def sequence(*handlers: Handler) -> Handler:
    """The n-th request gets the n-th handler; the last one answers every later request."""
    counter = itertools.count()
    lock = threading.Lock()

    def handler(exchange: Exchange) -> None:
        with lock:
            n = next(counter)
        handlers[min(n, len(handlers) - 1)](exchange)

    return handler


def slow(seconds: float, then: Handler) -> Handler:
    """Wait ``seconds`` before answering with ``then`` (for concurrency measurements)."""

    def handler(exchange: Exchange) -> None:
        if exchange.wait(seconds):
            then(exchange)

    return handler


def hang() -> Handler:
    """Accept the request and never answer, until the client leaves or the server stops."""

    def handler(exchange: Exchange) -> None:
        exchange.wait(float("inf"))

    return handler


def drip(body: bytes = RSS, interval: float = 1.0) -> Handler:
    """Send the headers, then one byte every ``interval`` seconds."""

    def handler(exchange: Exchange) -> None:
        exchange.head(200, {"Content-Type": "application/rss+xml",
                            "Content-Length": str(len(body))})
        for i in range(len(body)):
            if not exchange.write(body[i:i + 1]) or not exchange.wait(interval):
                return

    return handler


def reset_mid_body(body: bytes = RSS, sent: int = 40) -> Handler:
    """Declare the full length, send ``sent`` bytes, then reset the connection."""

    def handler(exchange: Exchange) -> None:
        exchange.head(200, {"Content-Type": "application/rss+xml",
                            "Content-Length": str(len(body))})
        exchange.write(body[:sent])
        time.sleep(0.05)  # let the bytes leave before the RST discards them
        exchange.reset()

    return handler


def wrong_length(body: bytes = RSS, extra: int = 1000) -> Handler:
    """Declare ``extra`` more bytes than sent, then close the connection cleanly."""

    def handler(exchange: Exchange) -> None:
        exchange.head(200, {"Content-Type": "application/rss+xml",
                            "Content-Length": str(len(body) + extra), "Connection": "close"})
        exchange.write(body)

    return handler


def redirect(location: str, status: int = 302) -> Handler:
    """Redirect to ``location`` (relative, absolute, or any scheme)."""
    return respond(status, b"", {"Location": location})


def endless_redirects(status: int = 302) -> Handler:
    """Redirect to the same path with a new query each time: never a loop, never an end."""
    counter = itertools.count(1)

    def handler(exchange: Exchange) -> None:
        exchange.respond(status, b"", {"Location": f"{exchange.route_path}?hop={next(counter)}"})

    return handler


def too_many_requests(retry_after: str | None = "1") -> Handler:
    """429 with a Retry-After (seconds or HTTP-date) unless None."""
    return respond(429, b"slow down", {"Retry-After": retry_after} if retry_after else {})


def gzip_bomb(size: int = 1 << 30) -> Handler:
    """``size`` zero bytes, gzip-encoded (1 GB → ~1 MB on the wire), streamed."""
    body = gzip_zeros(size)  # now, not in the first requests' threads all at once

    def handler(exchange: Exchange) -> None:
        exchange.head(200, {"Content-Type": "application/rss+xml", "Content-Encoding": "gzip",
                            "Content-Length": str(len(body))})
        for start in range(0, len(body), _CHUNK):
            if not exchange.write(body[start:start + _CHUNK]):
                return

    return handler


def encoded(body: bytes, encoding: str) -> Handler:
    """A 200 whose body is sent with Content-Encoding gzip, deflate (zlib) or raw-deflate."""
    if encoding == "gzip":
        data = gzip.compress(body)
    elif encoding == "deflate":
        data = zlib.compress(body)
    else:  # raw deflate, which some servers send as "deflate"
        compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        data, encoding = compressor.compress(body) + compressor.flush(), "deflate"
    return respond(200, data, {"Content-Encoding": encoding})


def huge(size: int = 1 << 30, declare_length: bool = False) -> Handler:
    """Stream ``size`` bytes of an endless-looking XML body, with or without Content-Length."""

    def handler(exchange: Exchange) -> None:
        headers = {"Content-Type": "application/rss+xml"}
        headers |= {"Content-Length": str(size)} if declare_length else {"Connection": "close"}
        exchange.head(200, headers)
        chunk = b"<rss>" + b"x" * (_CHUNK - 5)
        for sent in range(0, size, _CHUNK):
            if not exchange.write(chunk[: min(_CHUNK, size - sent)]):
                return

    return handler


# --- helpers -----------------------------------------------------------------------------------


@functools.cache
def gzip_zeros(size: int) -> bytes:
    """A gzip stream of ``size`` zero bytes (a multiple of 1 MiB), built in ~0.2 s for 1 GB.

    After a full flush deflate starts afresh, so the compressed form of each 1 MiB block is the
    same: compress one block and repeat it instead of compressing ``size`` bytes.
    """
    block = bytes(1 << 20)
    if size % len(block):
        raise ValueError("size must be a multiple of 1 MiB")
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    segment = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(size // len(block)):
        crc = zlib.crc32(block, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    final = b"\x03\x00"  # an empty final block ends the deflate stream
    trailer = struct.pack("<II", crc, size & 0xFFFFFFFF)
    return header + segment * (size // len(block)) + final + trailer


def closed_port_url(path: str = "/feed") -> str:
    """A URL on 127.0.0.1 where nothing listens (connection refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


def self_signed_cert(directory: Path) -> tuple[Path, Path] | None:
    """Write a self-signed certificate for 127.0.0.1 and its key; None if no tool can."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    try:
        _cert_with_cryptography(cert, key)
    except ImportError:
        openssl = shutil.which("openssl")
        if openssl is None:
            return None
        subprocess.run(
            [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
             "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
             "-keyout", str(key), "-out", str(cert)],
            check=True, capture_output=True,
        )
    return cert, key


def _cert_with_cryptography(cert_path: Path, key_path: Path) -> None:
    import datetime
    import ipaddress

    # Optional and untyped: imported by name so that its absence is only an ImportError here.
    x509: Any = importlib.import_module("cryptography.x509")
    hashes: Any = importlib.import_module("cryptography.hazmat.primitives.hashes")
    serialization: Any = importlib.import_module("cryptography.hazmat.primitives.serialization")
    ec: Any = importlib.import_module("cryptography.hazmat.primitives.asymmetric.ec")
    oid: Any = importlib.import_module("cryptography.x509.oid")

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(oid.NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
