"""Tests of the bundled demo: its data, the RSSHub-like server and the demo config writer."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from email.message import Message
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import feedparser
import pytest
import yaml

from rsspage.demo.sample import CATALOG, feed_paths, load_demo_data
from rsspage.demo.server import make_server, serve_demo, write_demo_config

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"
_IMG = re.compile(r"""<img\b[^>]*?\b(?:data-src|src)="([^"]+)\"""")


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    with serve_demo() as url:
        yield url


def fetch(url: str, headers: Mapping[str, str] | None = None) -> tuple[int, Message, bytes]:
    """GET ``url`` (127.0.0.1 only), returning non-2xx answers instead of raising."""
    assert url.startswith("http://127.0.0.1:")
    request = urllib.request.Request(url, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def catalog() -> dict[str, Any]:
    result: dict[str, Any] = json.loads(CATALOG.read_text(encoding="utf-8"))
    return result


def examples() -> list[str]:
    return [r["example"] for ns in catalog().values() for r in ns["routes"].values()]


def _entry_images(entry: Any, feed_url: str) -> list[str]:
    html = " ".join(c.value for c in entry.get("content", [])) + entry.get("summary", "")
    found = [urljoin(feed_url, src) for src in _IMG.findall(html)]
    found += [e.href for e in entry.get("enclosures", []) if e.type.startswith("image/")]
    return found + [t["url"] for t in entry.get("media_thumbnail", [])]


def parse(url: str) -> list[tuple[str, list[str]]]:
    """(title, image URLs) of every entry of the feed at ``url``, checking it is well formed."""
    status, headers, body = fetch(url)
    assert status == 200
    if headers.get_content_type() == "application/feed+json":
        doc = json.loads(body)
        assert doc["version"] == "https://jsonfeed.org/version/1.1"
        return [(i["title"], [*_IMG.findall(i["content_html"]), i.get("image", "")])
                for i in doc["items"]]
    # Unsanitised, so that lazy images keep their data-src (rsspage's sanitiser handles them).
    parsed = feedparser.parse(body, sanitize_html=False, response_headers={
        "content-type": headers["Content-Type"], "content-location": url})
    assert not parsed.bozo, (url, parsed.get("bozo_exception"))
    return [(e.title, _entry_images(e, url)) for e in parsed.entries]


@pytest.mark.parametrize("path", examples())
def test_every_catalog_route_serves_a_good_feed(base: str, path: str) -> None:
    entries = parse(base + path)
    assert len(entries) >= 18
    for title, pictures in entries:
        assert title.strip()
        assert any(p.startswith(base + "/images/") for p in pictures), title


def test_plain_blog_feed_has_full_content(base: str) -> None:
    (path,) = load_demo_data().feeds
    status, _, body = fetch(base + path)
    parsed = feedparser.parse(body)
    assert status == 200 and not parsed.bozo
    assert parsed.entries[0].content[0].value.startswith("<figure>")
    assert parsed.entries[0].published_parsed is not None


def test_formats_are_rsshub_shaped(base: str) -> None:
    rss = fetch(base + "/demo-tech/news")[2].decode()
    for part in ("<generator>RSSHub</generator>", 'rel="self"', "<ttl>", "<![CDATA[",
                 'isPermaLink="false"', " GMT</pubDate>"):
        assert part in rss
    assert feedparser.parse(fetch(base + "/demo-gadget/reviews")[2]).version == "atom10"
    assert feedparser.parse(fetch(base + "/demo-tech/news?format=atom")[2]).version == "atom10"
    doc = json.loads(fetch(base + "/demo-tech/news?format=json&limit=5")[2])
    assert len(doc["items"]) == 5 and doc["items"][0]["title"].startswith("🚀")


def test_gbk_feed_is_declared_and_decodes(base: str) -> None:
    _, headers, body = fetch(base + "/demo-paper/daily")
    assert headers.get_content_charset() == "gbk"
    assert body.startswith(b'<?xml version="1.0" encoding="GBK"?>')
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    parsed = feedparser.parse(body, response_headers={"content-type": headers["Content-Type"]})
    assert not parsed.bozo and parsed.encoding == "gbk"
    assert parsed.entries[0].title == "运河夜游线路延长 新增 4 个停靠码头"


def test_pictures_are_served(base: str) -> None:
    first, *_ = parse(base + "/demo-dev/weekly")
    relative = parse(base + "/demo-dev/weekly")[5][1][0]  # <img src="/images/..."> in the data
    png = parse(base + "/demo-markets/headlines")[0][1][-1]
    for url in (first[1][0], relative, png):
        status, headers, body = fetch(url)
        assert status == 200 and headers.get_content_maintype() == "image" and body
    assert fetch(png)[2].startswith(b"\x89PNG")
    assert "<svg" in fetch(first[1][0])[2].decode()


def test_feed_urls_follow_the_host_header(base: str) -> None:
    port = base.rsplit(":", 1)[1]
    body = fetch(base + "/demo-tech/news", {"Host": f"localhost:{port}"})[2].decode()
    assert f"http://localhost:{port}/images/" in body and "127.0.0.1" not in body
    hostile = fetch(base + "/demo-tech/news", {"Host": 'x"><script>'})[2].decode()
    assert "<script>\"" not in hostile and base + "/images/" in hostile


def test_conditional_requests_get_304(base: str) -> None:
    url = base + "/demo-finance/flash"
    status, headers, _ = fetch(url)
    etag, modified = headers["ETag"], headers["Last-Modified"]
    assert status == 200 and etag and modified.endswith("GMT")
    assert fetch(url, {"If-None-Match": etag})[0] == 304
    assert fetch(url, {"If-Modified-Since": modified})[0] == 304
    assert fetch(url, {"If-None-Match": '"stale"'})[0] == 200
    assert fetch(url, {"If-Modified-Since": "Sun, 01 Nov 2026 00:00:00 GMT"})[0] == 200


@pytest.mark.parametrize("path", ["/nope/route", "/demo-news/mars", "/images/missing.svg",
                                  "/demo-tech/news/extra", "/demo-tech/news?format=xml"])
def test_unknown_routes_get_404(base: str, path: str) -> None:
    status, headers, body = fetch(base + path)
    assert status == 404 and headers.get_content_type() == "text/html"
    assert b"not found" in body


def test_catalog_shape_matches_rsshub() -> None:
    real = json.loads((FIXTURES / "rsshub-routes-modern" / "routes.json").read_bytes())
    route_keys = {k for ns in real.values() for r in ns["routes"].values() for k in r}
    ours = catalog()
    assert len(ours) >= 8
    assert len({c for ns in ours.values() for c in ns["categories"]}) >= 3
    assert {ns["lang"] for ns in ours.values()} == {"zh-CN", "en"}
    for namespace, ns in ours.items():
        for key, route in ns["routes"].items():
            assert set(route) <= route_keys and route["path"] == key
            assert route["example"].startswith(f"/{namespace}/")
    assert any(":" in r for ns in ours.values() for r in ns["routes"])


def test_data_has_the_awkward_cases_real_feeds_have() -> None:
    data = load_demo_data()
    feeds = [f for r in data.routes for f in r.variants.values()] + list(data.feeds.values())
    items = [i for f in feeds for i in f.items]
    titles = " ".join(i.title for i in items)
    bodies = " ".join(i.html for i in items)
    assert len(items) >= 160 and len(data.sources) >= 8
    for needle in ("%", "{{", "#", '"', "'", ":", "🚀"):
        assert needle in titles
    for needle in ("data-src=", 'src="/images/', "<script>", "onclick=", "<table>", "<pre>"):
        assert needle in bodies
    assert 1 <= sum(i.date is None for i in items) <= 3
    dated = [i.date for i in items if i.date]
    assert min(dated).isoformat() >= "2026-11-01" and max(dated).isoformat() < "2026-11-21"
    extra = " ".join(i.image or "" for i in items)
    referenced = set(re.findall(r"/images/([a-z0-9-]+)\.", bodies + extra))
    assert referenced == set(data.images)


def test_write_demo_config(tmp_path: Path, base: str) -> None:
    path = write_demo_config(tmp_path / "demo", base)
    text = path.read_text(encoding="utf-8")
    config = yaml.safe_load(text)
    assert text.startswith("# ") and "晨光日报" in text  # allow_unicode: no \u escapes
    assert list(config) == ["site", "rsshub", "routes", "feeds", "limits", "fetch", "output"]
    assert config["rsshub"] == {"instances": [base], "catalog": ["demo-routes.json"]}
    assert json.loads((path.parent / "demo-routes.json").read_bytes()) == catalog()
    assert config["output"] == {"state": ".rsspage", "hexo": "hexo/source/_posts",
                                "site": "public"}
    plain = [r for r in config["routes"] if isinstance(r, str)]
    overrides = [r for r in config["routes"] if isinstance(r, dict)]
    assert len(plain) >= 6 and overrides and {"path", "channel"} <= set(overrides[0])
    served = plain + [r["path"] for r in overrides] + [f["url"][len(base):]
                                                        for f in config["feeds"]]
    assert sorted(served) == sorted(feed_paths(load_demo_data()))
    assert all(fetch(base + p)[0] == 200 for p in served)


def test_a_client_that_leaves_mid_answer_prints_no_traceback(
        capsys: pytest.CaptureFixture[str]) -> None:
    """A browser leaving a page resets its picture requests: the demo server says nothing
    (the standard library's server would print a BrokenPipeError traceback)."""
    server = make_server()
    try:
        for error in (BrokenPipeError(32, "Broken pipe"), ConnectionResetError(104, "reset")):
            try:
                raise error
            except ConnectionError:
                server.handle_error(None, ("127.0.0.1", 1))
    finally:
        server.server_close()
    assert capsys.readouterr().err == ""
