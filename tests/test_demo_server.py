"""Tests of the bundled demo: its data, the RSSHub-like server and the demo config writer."""

from __future__ import annotations

import array
import io
import json
import re
import socket
import urllib.error
import urllib.request
import wave
from collections.abc import Iterator, Mapping
from email.message import Message
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import feedparser
import pytest
import yaml

from rsspage.catalog.routes_json import load_routes_json
from rsspage.demo import audio
from rsspage.demo.sample import CATALOG, feed_paths, find_feed, load_demo_data
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


#: The demo's text-only feed (快讯: not one picture) and its social timeline (some posts have
#: one); every entry of every other feed has a picture.
TEXT_ONLY = "/demo-kr/newsflashes"
SOCIAL = "/demo-social/timeline"
#: The feeds added for the views (issue 13) are shorter than the others' 20 items.
VIEW_FEEDS = {TEXT_ONLY, SOCIAL, "/demo-photo/gallery", "/demo-podcast/episodes",
              "/demo-video/uploads"}


@pytest.mark.parametrize("path", examples())
def test_every_catalog_route_serves_a_good_feed(base: str, path: str) -> None:
    entries = parse(base + path)
    feed = find_feed(load_demo_data(), path)
    assert feed is not None and len(entries) == len(feed.items)
    assert len(entries) >= (8 if path in VIEW_FEEDS else 18)
    shown = [any(p.startswith(base + "/images/") for p in pictures) for _, pictures in entries]
    assert all(title.strip() for title, _ in entries)
    if path == TEXT_ONLY:
        assert not any(shown) and not any(p for _, pictures in entries for p in pictures)
    elif path == SOCIAL:
        assert 0 < sum(shown) < len(shown)
    else:
        assert all(shown), [title for (title, _), seen in zip(entries, shown, strict=True)
                           if not seen]


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
    extra = " ".join(i.image or "" for i in items) + " ".join(f.image or "" for f in feeds)
    referenced = set(re.findall(r"/images/([a-z0-9-]+)\.", bodies + extra))
    assert referenced == set(data.images)
    assert set(data.image_sizes) <= set(data.images)


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


# --------------------------------------------------------------------------- media (issue 13)

PODCAST = "/demo-podcast/episodes"


def test_podcast_feed_has_audio_enclosures_with_size_and_duration(base: str) -> None:
    status, headers, body = fetch(base + PODCAST)
    assert status == 200
    parsed = feedparser.parse(body, response_headers={"content-type": headers["Content-Type"]})
    assert not parsed.bozo and parsed.namespaces.get("itunes")
    assert parsed.feed.image.href == base + "/images/podcast-cover.svg"
    assert len(parsed.entries) == 8
    for entry in parsed.entries:
        (enclosure,) = entry.enclosures
        assert enclosure.href.startswith(base + "/media/") and enclosure.type == "audio/wav"
        assert int(enclosure.length) == audio.WAV_LENGTH
        assert re.fullmatch(r"(\d:)?\d\d:\d\d", entry.itunes_duration)
    first = parsed.entries[0]
    assert first.title == "第 48 期：我们为什么还在用 RSS" and first.itunes_duration == "42:17"
    # The same enclosure in the other formats: an Atom enclosure link, a JSON Feed attachment.
    atom = feedparser.parse(fetch(base + PODCAST + "?format=atom")[2]).entries[0]
    (link,) = [link for link in atom.links if link.rel == "enclosure"]
    assert (link.href, link.type, int(link.length)) == (
        first.enclosures[0].href, "audio/wav", audio.WAV_LENGTH)
    doc = json.loads(fetch(base + PODCAST + "?format=json")[2])
    assert doc["icon"] == base + "/images/podcast-cover.svg"
    assert doc["items"][0]["attachments"] == [{
        "url": first.enclosures[0].href, "mime_type": "audio/wav",
        "size_in_bytes": audio.WAV_LENGTH, "duration_in_seconds": 42 * 60 + 17}]


def test_podcast_audio_is_a_valid_wav_served_whole_or_by_range(base: str) -> None:
    url = feedparser.parse(fetch(base + PODCAST)[2]).entries[0].enclosures[0].href
    status, headers, body = fetch(url)
    assert status == 200 and headers["Content-Type"] == "audio/wav"
    assert headers["Accept-Ranges"] == "bytes" and len(body) == audio.WAV_LENGTH
    with wave.open(io.BytesIO(body)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, audio.RATE)
        assert w.getnframes() == audio.RATE * audio.SECONDS
        samples = array.array("h", w.readframes(w.getnframes()))
    loudest = max(abs(s) for s in samples)
    assert 0 < loudest <= 32767 * audio.LEVEL + 1  # a tone, and a quiet one
    # What a browser's <audio> asks for: the start, a piece, the end; HEAD for the size.
    status, headers, part = fetch(url, {"Range": "bytes=0-"})
    assert status == 206 and part == body
    assert headers["Content-Range"] == f"bytes 0-{len(body) - 1}/{len(body)}"
    status, headers, part = fetch(url, {"Range": "bytes=100-199"})
    assert (status, part, headers["Content-Length"]) == (206, body[100:200], "100")
    status, headers, part = fetch(url, {"Range": "bytes=-44"})
    assert status == 206 and part == body[-44:]
    status, headers, part = fetch(url, {"Range": f"bytes={len(body)}-"})
    assert status == 416 and headers["Content-Range"] == f"bytes */{len(body)}" and not part
    assert fetch(url, {"Range": "bytes=0-1,5-9"})[2] == body  # several ranges: the whole file
    # Positions of thousands of digits (int() refuses over 4,300): past the file, or all of it.
    huge = "9" * 5000
    status, headers, part = fetch(url, {"Range": f"bytes={huge}-"})
    assert status == 416 and headers["Content-Range"] == f"bytes */{len(body)}" and not part
    assert fetch(url, {"Range": f"bytes=0-{huge}"})[:3:2] == (206, body)
    assert fetch(url, {"Range": f"bytes=-{huge}"})[:3:2] == (206, body)
    head = urllib.request.Request(url, method="HEAD")
    with urllib.request.urlopen(head, timeout=5) as response:
        assert response.headers["Content-Length"] == str(len(body)) and response.read() == b""
    assert fetch(base + "/media/podcast-99.wav")[0] == 404


def test_pictures_have_the_size_their_img_tags_state(base: str) -> None:
    """Portrait and square pictures (the picture feed, covers) are drawn at the size the
    ``<img width height>`` of the data says, so a page reserves the right room for them."""
    data = load_demo_data()
    bodies = " ".join(i.html for r in data.routes for f in r.variants.values() for i in f.items)
    tags = re.findall(r'<img src="@BASE@/images/([a-z0-9-]+)\.svg" width="(\d+)" height="(\d+)"',
                      bodies)
    assert {(w, h) for _, w, h in tags} >= {("640", "360"), ("480", "640"), ("480", "480")}
    checked = {name: (w, h) for name, w, h in tags if (w, h) != ("640", "360")}
    for name, (width, height) in [*list(checked.items())[:6], ("photo-01", ("640", "360"))]:
        svg = fetch(f"{base}/images/{name}.svg")[2].decode()
        assert f'width="{width}" height="{height}"' in svg, name
        assert data.image_size(name) == (int(width), int(height))


def test_catalog_files_the_view_feeds_under_rsshubs_view_numbers() -> None:
    routes = {r.path: r for r in load_routes_json(Path(str(CATALOG)))}
    assert routes["/demo-photo/gallery"].view == "pictures"
    assert routes["/demo-social/timeline"].view == "social"
    assert routes["/demo-podcast/episodes"].view == "audio"
    assert routes["/demo-video/uploads"].view == "videos"
    # The 快讯 route says nothing, as RSSHub's 36kr routes do: its lack of pictures shows it.
    assert routes["/demo-kr/newsflashes"].view is None
    assert catalog()["demo-podcast"]["routes"]["/episodes"]["features"]["supportPodcast"]


def test_demo_takes_another_port_when_its_own_is_taken() -> None:
    """Two demos at once (or anything on 8765): the second serves on a free port instead."""
    from rsspage.demo.run import PREFERRED_PORT, _demo_server

    with socket.socket() as taken:
        try:
            taken.bind(("127.0.0.1", PREFERRED_PORT))
        except OSError:
            pass  # already taken by something else: what this test needs anyway
        else:
            taken.listen()
        with _demo_server() as url:
            assert not url.endswith(f":{PREFERRED_PORT}")
            assert fetch(url + "/demo-kr/newsflashes")[0] == 200
