"""A local stand-in for an RSSHub instance, serving the bundled demo feeds and pictures.

``GET /<namespace>/<route...>`` answers like RSSHub (``?format=rss|atom|json``, ``?limit=N``),
``GET /blog/feed/`` is an ordinary blog feed, ``GET /images/<name>.svg|.png`` the pictures,
``GET /media/<name>.wav`` the podcast's audio (with byte ranges, as a browser's player asks).
Feed responses carry ETag and Last-Modified and honour conditional requests with 304.
Run ``python -m rsspage.demo.server [PORT]`` to serve until Ctrl-C.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

import yaml

from rsspage.catalog.labels import label_for
from rsspage.demo import audio, images, render
from rsspage.demo.sample import (
    CATALOG,
    DemoData,
    DemoFeed,
    concrete_path,
    feed_paths,
    find_feed,
    load_demo_data,
)
from rsspage.errors import PublishError, RsspageError
from rsspage.serve import QuietServer

#: A Host header we are willing to echo into feed URLs (no quotes, no markup).
_HOST = re.compile(r"[A-Za-z0-9.\-]+(:\d{1,5})?|\[[0-9A-Fa-f:.]+\](:\d{1,5})?")
_IMAGE = re.compile(r"/images/([a-z0-9\-]+)\.(svg|png)")
_MEDIA = re.compile(r"/media/([a-z0-9\-]+)\.wav")
#: One byte range (``bytes=0-``, ``bytes=100-199``, ``bytes=-500``), all a player asks for.
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
#: A byte position longer than this is past any file (and int() of 4,300 digits raises).
_BYTE_DIGITS = 18


def _byte(digits: str) -> int:
    """A byte position of a Range header; one of more digits than any file has is 10**18."""
    return int(digits) if len(digits) <= _BYTE_DIGITS else 10**_BYTE_DIGITS


_NOT_FOUND = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Error - RSSHub</title></head>
<body><h1>Looks like something went wrong</h1>
<p>Error message: <code>NotFoundError: {path} not found</code></p>
<p>Route requested: <code>{path}</code></p>
<p>Helpful information: this is the rsspage demo server, a local stand-in for RSSHub.</p>
</body></html>
"""
CACHE_SECONDS = 300


def _not_modified(headers: Any, etag: str, modified: datetime) -> bool:
    """Whether the request's validators still match (If-None-Match wins, as in RFC 9110)."""
    tags = headers.get("If-None-Match")
    if tags is not None:
        wanted = {t.strip().removeprefix("W/") for t in tags.split(",")}
        return "*" in wanted or etag in wanted
    since = headers.get("If-Modified-Since")
    if since is None:
        return False
    try:
        return modified.replace(microsecond=0) <= parsedate_to_datetime(since)
    except (TypeError, ValueError):  # unparsable date: ignore it, as servers do
        return False


class DemoHandler(BaseHTTPRequestHandler):
    """Answers feeds, pictures, an index page and RSSHub-like 404s."""

    server_version = "rsspage-demo"
    protocol_version = "HTTP/1.1"  # keep-alive, as a real RSSHub behind a proxy offers
    data: DemoData  # set on the subclass made by make_server

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the demo runs inside ``rsspage demo``, whose output must stay readable."""

    def do_HEAD(self) -> None:
        self._answer(with_body=False)

    def do_GET(self) -> None:
        self._answer(with_body=True)

    def _base_url(self) -> str:
        host = self.headers.get("Host", "")
        if not _HOST.fullmatch(host):
            host = f"127.0.0.1:{cast(ThreadingHTTPServer, self.server).server_port}"
        return f"http://{host}"

    def _answer(self, with_body: bool) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        image = _IMAGE.fullmatch(url.path)
        media = _MEDIA.fullmatch(url.path)
        if image and image.group(1) in self.data.images:
            self._image(image.group(1), image.group(2), with_body)
        elif media and media.group(1) in self.data.media:
            self._media(audio.wav(media.group(1)), "audio/wav", with_body)
        elif url.path == "/":
            self._send(200, "text/html; charset=utf-8", self._index(), with_body)
        elif (feed := find_feed(self.data, url.path)) and query.get("format", "rss") in (
            "rss", "atom", "json"
        ):
            self._feed(feed, url.path, query, with_body)
        else:
            page = _NOT_FOUND.format(path=escape(url.path)).encode("utf-8")
            self._send(404, "text/html; charset=utf-8", page, with_body)

    def _feed(self, feed: DemoFeed, path: str, query: dict[str, str], with_body: bool) -> None:
        fmt = query.get("format") if "format" in query and feed.format != "wordpress" else None
        if query.get("limit", "").isdigit():
            feed = replace(feed, items=feed.items[: int(query["limit"])])
        base = self._base_url()
        body = render.render(feed, base, base + self.path, fmt)
        etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
        modified = render.last_modified(feed)
        headers = {"ETag": etag, "Last-Modified": render.rfc822(modified)}
        if _not_modified(self.headers, etag, modified):
            self._send(304, None, b"", False, headers)
        else:
            self._send(200, render.content_type(feed, fmt), body, with_body, headers)

    def _image(self, name: str, ext: str, with_body: bool) -> None:
        if ext == "svg":
            size = self.data.image_size(name)
            body, kind = images.svg(name, self.data.images[name], size), "image/svg+xml"
        else:
            body, kind = images.png(name), "image/png"
        self._send(200, kind, body, with_body, {"Cache-Control": f"max-age={CACHE_SECONDS}"})

    def _media(self, body: bytes, kind: str, with_body: bool) -> None:
        """A media file, whole or the one byte range asked for (206; 416 when it is outside
        the file); a range that is not one plain range gets the whole file, as RFC 9110
        allows."""
        headers = {"Accept-Ranges": "bytes", "Cache-Control": f"max-age={CACHE_SECONDS}"}
        wanted = _RANGE.fullmatch(self.headers.get("Range", "").strip())
        size = len(body)
        if wanted is None or wanted.groups() == ("", ""):
            self._send(200, kind, body, with_body, headers)
            return
        first, last = wanted.groups()
        if first:
            start, end = _byte(first), min(_byte(last), size - 1) if last else size - 1
        else:  # the last N bytes
            start, end = max(size - _byte(last), 0), size - 1
        if start >= size or start > end:
            headers["Content-Range"] = f"bytes */{size}"
            self._send(416, kind, b"", with_body, headers)
            return
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        self._send(206, kind, body[start:end + 1], with_body, headers)

    def _index(self) -> bytes:
        links = "".join(
            f'<li><a href="{escape(p)}">{escape(p)}</a></li>' for p in feed_paths(self.data)
        )
        return (
            '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
            "<title>rsspage demo</title></head><body><h1>rsspage demo (RSSHub-like)</h1>"
            f"<ul>{links}</ul></body></html>\n"
        ).encode()

    def _send(
        self,
        status: int,
        content_type: str | None,
        body: bytes,
        with_body: bool,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if with_body and status != 304:
            self.wfile.write(body)


def make_server(port: int = 0) -> ThreadingHTTPServer:
    """A demo server bound to 127.0.0.1:``port`` (0: any free port), not yet serving."""
    handler = type("BoundDemoHandler", (DemoHandler,), {"data": load_demo_data()})
    try:
        # Quiet: a browser that leaves a page mid-load resets its picture requests.
        server = QuietServer(("127.0.0.1", port), handler)
    except OSError as e:
        raise RsspageError(f"cannot start the demo server on 127.0.0.1:{port}: {e}") from e
    return server  # with daemon threads: a stuck client must not keep the process alive


@contextmanager
def serve_demo(port: int = 0) -> Iterator[str]:
    """Serve the demo in a background thread; yields ``http://127.0.0.1:PORT``."""
    server = make_server(port)
    thread = threading.Thread(target=server.serve_forever, name="rsspage-demo", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def demo_config(base_url: str) -> dict[str, Any]:
    """The demo's ``rsspage.yml`` as data: every demo route, and the blog as a plain feed."""
    data = load_demo_data()
    routes: list[object] = []
    for source in data.sources:
        for route in source.routes:
            for key, feed in route.variants.items():
                path = concrete_path(route, key)
                # A parameterised route's catalog name is generic; name each channel instead.
                routes.append(path if not key else {
                    "path": path, "category": label_for(source.category),
                    "source": source.name, "channel": feed.channel,
                })
    feeds = [
        {"url": base_url + path, "category": "博客", "source": feed.title, "channel": feed.channel}
        for path, feed in data.feeds.items()
    ]
    return {
        "site": {"title": "rsspage 演示", "url": "http://127.0.0.1:8000/",
                 "language": "zh-CN", "timezone": "Asia/Shanghai"},
        "rsshub": {"instances": [base_url], "catalog": [CATALOG.name]},
        "routes": routes,
        "feeds": feeds,
        "limits": {"items_per_feed": 20, "keep_days": 0},
        "fetch": {"concurrency": 8, "per_host": 4, "timeout": 10, "retries": 1},
        "output": {"state": ".rsspage", "hexo": "hexo/source/_posts", "site": "public"},
    }


_HEADER = """\
# rsspage demo configuration, written by `rsspage demo`.
# The RSSHub instance below is the demo's local server: it only runs while `rsspage demo` does,
# so a later `rsspage update` with this file fails to fetch; `rsspage build` and `serve` work.
"""


def write_demo_config(target: Path, base_url: str) -> Path:
    """Create ``target`` with the demo catalog and an ``rsspage.yml``; return the config's path."""
    config = target / "rsspage.yml"
    text = yaml.safe_dump(demo_config(base_url), allow_unicode=True, sort_keys=False, width=100)
    try:
        target.mkdir(parents=True, exist_ok=True)
        with CATALOG.open("rb") as src, (target / CATALOG.name).open("wb") as dst:
            shutil.copyfileobj(src, dst)
        config.write_text(_HEADER + text, encoding="utf-8")
    except OSError as e:
        raise PublishError(f"cannot write the demo configuration in {target}: {e}") from e
    return config


def main(argv: list[str] | None = None) -> None:
    """Serve the demo until interrupted: ``python -m rsspage.demo.server [PORT]``."""
    args = sys.argv[1:] if argv is None else argv
    port = int(args[0]) if args else 0
    server = make_server(port)
    print(f"rsspage demo server: http://127.0.0.1:{server.server_address[1]}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
