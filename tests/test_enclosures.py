"""Podcasts and video (issue 12): enclosures of every kind kept, stored, played and republished.

Unit checks of the readers (``rsspage.media``), then the CLI end to end: `rsspage update`
against a podcast (RSS + itunes:duration), a video feed (Atom + media:group) and a JSON Feed
served on 127.0.0.1, with a hostile item among them; then the real RSSHub's ``/test/enclosure``
and ``/test/multimedia``. Each checks what the store holds, the player on the article page, the
Hexo post, and that feedparser (and rsspage itself) read the same enclosures back from our RSS,
Atom and JSON Feed; the export carries them through a restore.
"""

from __future__ import annotations

import io
import json
import re
import sqlite3
import urllib.request
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import feedparser
import pytest
import yaml

from conftest import run_cli
from rsshub_harness import RealRSSHub
from rsspage.media import (
    MAX_ENCLOSURES,
    clean_enclosures,
    enclosures_from_json,
    enclosures_to_json,
    parse_duration,
    parse_length,
)
from rsspage.normalise import content_hash, normalise_feed
from rsspage.parse import parse_feed
from rsspage.parse.fallback import parse_with_feedparser
from rsspage.publish.feed_media import UNKNOWN_TYPE, rss_enclosure
from rsspage.publish.site_model import article_path
from rsspage.store import Store
from rsspage.store.db import DB_NAME
from rsspage.types import Article, Enclosure, FeedSpec
from servers import LocalServer, feed, sequence

NOW = datetime.now(UTC)
DATE = format_datetime(NOW - timedelta(hours=1))
ISO = (NOW - timedelta(hours=1)).isoformat()
SITE_URL = "https://news.example.com/"

# -- the readers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "seconds"), [
    ("1:02:03", 3723), ("01:02:03", 3723), ("42:07", 2527), ("75:30", 4530), ("3723", 3723),
    ("61.4", 61), (61.6, 62), (95, 95), (" 10:10:10 ", 36610), ("0:00:05.250", 5),
])
def test_durations_in_every_itunes_form(text: object, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bogus", [
    "abc", "", "-5", "1:99:00", "99:99:99", "1:2:3:4", "1e400", "nan", "inf", float("nan"),
    float("inf"), -3, 0, "0", "99999999999", True, None, [], "1:00 PM", "١٢", "12:", ":30",
    pytest.param(10**400, id="1e400 int"), pytest.param(-10**400, id="-1e400 int"), 1.7e308,  # a JSON number too big for a float: unknown, no OverflowError
])
def test_bogus_durations_are_unknown(bogus: object) -> None:
    assert parse_duration(bogus) is None


@pytest.mark.parametrize(("value", "length"), [
    ("34567890", 34567890), (" 12 ", 12), (3661, 3661), ("0", None), (0, None), ("-1", None),
    ("12.5", None), ("1e9", None), ("99999999999999999999999", None), ("9" * 100_000, None),
    (2**41, None), (True, None), ("١٢", None), (None, None), ("", None),
])
def test_lengths(value: object, length: int | None) -> None:
    assert parse_length(value) == length


def test_cleaning_drops_unsafe_urls_merges_duplicates_and_caps_the_count() -> None:
    raw = [
        Enclosure("javascript:alert(1)", "audio/mpeg", 1),
        Enclosure("data:audio/mpeg;base64,AAAA", "audio/mpeg"),
        Enclosure("  JavaScript:alert(2)", ""),
        Enclosure("vbscript:x", "audio/mpeg"),
        Enclosure("//evil.example.com/x.mp3\x00", "audio/mpeg"),
        Enclosure("https://a.example.com/ep.mp3", "Audio/MPEG; charset=x", 10),
        Enclosure("https://a.example.com/ep.mp3", "", None, 60, "audio"),  # fills the gap
        Enclosure("/rel/ep2.m4a"),
        Enclosure("https://a.example.com/cover.jpg", "image/jpeg"),  # a picture: not media
        Enclosure("https://a.example.com/doc", "application/pdf", 5),
        Enclosure("https://a.example.com/untyped", "application/octet-stream", None, 30),
        *(Enclosure(f"https://a.example.com/{n}.mp4", "video/mp4\"><script>") for n in range(20)),
    ]
    clean = clean_enclosures(raw, "http://feeds.example.com/podcast.xml")
    assert clean[:5] == (
        Enclosure("https://a.example.com/ep.mp3", "audio/mpeg", 10, 60, "audio"),
        Enclosure("http://feeds.example.com/rel/ep2.m4a", "audio/mp4", None, None, "audio"),
        Enclosure("https://a.example.com/doc", "application/pdf", 5, None, ""),
        # Untyped with a playing time: taken as audio (a podcast's itunes:duration).
        Enclosure("https://a.example.com/untyped", "", None, 30, "audio"),
        Enclosure("https://a.example.com/0.mp4", "video/mp4", None, None, "video"),
    )
    assert len(clean) == MAX_ENCLOSURES
    assert all(e.url.startswith(("http://", "https://")) for e in clean)
    # What the store writes reads back the same; a hostile stored value reads as nothing.
    assert enclosures_from_json(enclosures_to_json(clean)) == clean
    for junk in ("{", "[1, 2]", '{"url": "x"}', '[{"url": "javascript:alert(1)"}]', "null"):
        assert enclosures_from_json(junk) == ()


PODCAST_ITEM = """<item><title>第1期</title><link>https://pod.example.com/ep1</link>
<guid>ep1</guid><pubDate>{date}</pubDate><description>&lt;p&gt;节目&lt;/p&gt;</description>
<enclosure url="https://pod.example.com/cover.jpg" type="image/jpeg" length="0"/>
<enclosure url="https://cdn.pod.example.com/ep1.mp3" length="34567890" type="audio/mpeg"/>
<itunes:duration>1:02:03</itunes:duration>
<media:content url="https://cdn.pod.example.com/ep1.ogg" type="audio/ogg" fileSize="2000"
  duration="3723" medium="audio"/>
<media:group><media:content url="https://cdn.pod.example.com/ep1.mp4" type="video/mp4"/>
<media:content url="https://cdn.pod.example.com/ep1.webm" duration="12"/></media:group></item>"""


def _rss(items: str, title: str = "播客") -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
            'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd" '
            'xmlns:media="http://search.yahoo.com/mrss/"><channel>'
            f"<title>{title}</title><link>https://pod.example.com/</link>"
            f"<itunes:author>主播</itunes:author>{items}</channel></rss>").encode()


def test_fast_path_and_feedparser_read_the_same_enclosures() -> None:
    document = _rss(PODCAST_ITEM.format(date=DATE))
    fast = parse_feed(document, {}, "https://pod.example.com/feed")
    slow = parse_with_feedparser(document, {}, "https://pod.example.com/feed")
    assert fast.parser == "lxml-rss"
    assert fast.entries[0].enclosures == slow.entries[0].enclosures
    assert fast.entries[0].enclosures[:2] == (
        Enclosure("https://pod.example.com/cover.jpg", "image/jpeg"),
        Enclosure("https://cdn.pod.example.com/ep1.mp3", "audio/mpeg", 34567890, 3723))
    assert fast.entries[0].images == ("https://pod.example.com/cover.jpg",)


def test_two_items_with_one_id_are_one_article_with_the_enclosures_of_both() -> None:
    items = ('<item><title>多媒体</title><guid>same</guid><link>https://m.example.com/1</link>'
             '<description>&lt;p&gt;第一份&lt;/p&gt;</description></item>'
             '<item><title>多媒体</title><guid>same</guid><link>https://m.example.com/1</link>'
             '<description>&lt;p&gt;第二份&lt;/p&gt;</description>'
             '<enclosure url="https://m.example.com/1.mp4" type="video/mp4"/></item>')
    spec = FeedSpec("k", ("https://m.example.com/feed",), "c", "s", "ch")
    (article,) = normalise_feed(spec, parse_feed(_rss(items), {}, spec.urls[0]), NOW)
    assert "第一份" in article.content_html
    assert article.enclosures == (
        Enclosure("https://m.example.com/1.mp4", "video/mp4", None, None, "video"),)
    assert article.content_hash == content_hash(article)
    # Without enclosures the hash is what it always was: no article is rewritten for them.
    bare = normalise_feed(spec, parse_feed(_rss(items.split("</item>")[0] + "</item>"), {},
                                           spec.urls[0]), NOW)[0]
    assert bare.enclosures == () and bare.content_hash == content_hash(bare)
    assert bare.content_hash != article.content_hash


# -- end to end ----------------------------------------------------------------------------------

HOSTILE_ITEM = """<item><title>恶意附件</title><link>https://pod.example.com/evil</link>
<guid>evil</guid><pubDate>{date}</pubDate><description>x</description>
<enclosure url="javascript:alert(1)" type="audio/mpeg" length="1"/>
<enclosure url="data:audio/mpeg;base64,AAAA" type="audio/mpeg"/>
<enclosure url="https://evil.example.com/a.mp3&quot; onerror=&quot;alert(1)" type="audio/mpeg"
  length="99999999999999999999999"/>
<itunes:duration>99:99:99</itunes:duration>
<media:content url="  https://evil.example.com/b.mp4  " type="video/mp4&quot;&gt;&lt;script&gt;"
  duration="1e400"/>
{more}</item>"""

PODCAST = _rss(PODCAST_ITEM.format(date=DATE) + f"""
<item><title>第2期</title><link>https://pod.example.com/ep2</link><guid>ep2</guid>
<pubDate>{DATE}</pubDate><description>第二期</description>
<enclosure url="https://cdn.pod.example.com/ep2.m4a"/><itunes:duration>42:07</itunes:duration>
</item>""" + HOSTILE_ITEM.format(date=DATE, more="".join(
    f'<media:content url="https://evil.example.com/{n}.mp3" type="audio/mpeg"/>'
    for n in range(30))))

VIDEO = f"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:media="http://search.yahoo.com/mrss/">
<title>视频</title><id>urn:video</id><updated>{ISO}</updated>
<entry><title>视频一</title><id>v1</id><link href="https://video.example.com/v1"/>
<updated>{ISO}</updated><summary>一段视频</summary>
<link rel="enclosure" href="https://video.example.com/v1.mp4" type="video/mp4"
  length="123456789"/>
<media:group><media:content url="https://video.example.com/v1.mp4" duration="95"
  medium="video"/><media:content url="https://video.example.com/v1.webm" type="video/webm"
  duration="95"/><media:thumbnail url="https://video.example.com/v1.jpg"/></media:group>
</entry></feed>""".encode()

JSON_FEED = json.dumps({
    "version": "https://jsonfeed.org/version/1.1", "title": "JSON 播客", "items": [{
        "id": "j1", "url": "https://json.example.com/1", "title": "JSON 一",
        "content_html": "<p>正文</p>", "date_published": ISO, "attachments": [
            {"url": "https://json.example.com/1.mp3", "mime_type": "audio/mpeg",
             "size_in_bytes": 1000, "duration_in_seconds": 61.4},
            {"url": "javascript:alert(1)", "mime_type": "audio/mpeg"},
            {"url": "/files/1.ogg", "mime_type": "audio/ogg", "size_in_bytes": "x",
             "duration_in_seconds": "1:00"},
            {"url": 5}, "junk"]}],
}, ensure_ascii=False).encode()

EXPECTED = {
    "第1期": (
        Enclosure("https://cdn.pod.example.com/ep1.mp3", "audio/mpeg", 34567890, 3723, "audio"),
        Enclosure("https://cdn.pod.example.com/ep1.ogg", "audio/ogg", 2000, 3723, "audio"),
        Enclosure("https://cdn.pod.example.com/ep1.mp4", "video/mp4", None, None, "video"),
        Enclosure("https://cdn.pod.example.com/ep1.webm", "video/webm", None, 12, "video"),
    ),
    "第2期": (Enclosure("https://cdn.pod.example.com/ep2.m4a", "audio/mp4", None, 2527,
                        "audio"),),
    "视频一": (
        Enclosure("https://video.example.com/v1.mp4", "video/mp4", 123456789, 95, "video"),
        Enclosure("https://video.example.com/v1.webm", "video/webm", None, 95, "video"),
    ),
}


def _config(folder: Path, feeds: list[dict[str, Any]] | None = None,
            routes: list[dict[str, Any]] | None = None, rsshub: str = "",
            state: str = "state") -> Path:
    config: dict[str, Any] = {
        "site": {"title": "播客测试", "url": SITE_URL, "language": "zh-CN"},
        "fetch": {"timeout": 10, "retries": 0},
        "output": {"state": state, "hexo": "hexo", "site": "public"},
    }
    if feeds:
        config["feeds"] = feeds
    if routes:
        config["routes"] = routes
        config["rsshub"] = {"instances": [rsshub], "catalog": []}
    path = folder / "rsspage.yml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def _stored(state: Path) -> dict[str, Article]:
    with Store.open(state) as store:
        return {a.title: a for a in store.articles()}


def _fp_type(value: object) -> str:
    """A type feedparser reports, as rsspage keeps it (unknown: "")."""
    return "" if value in (None, "", UNKNOWN_TYPE, "text/html") else str(value)


def _fp_length(value: object) -> int | None:
    return int(str(value)) or None if value not in (None, "") else None


def _check_feeds_read_back(public: Path, articles: list[Article]) -> None:
    """Our RSS, Atom and JSON Feed carry exactly the stored enclosures: read by feedparser
    (RSS, Atom), by json (JSON Feed) and by rsspage's own parser (all three)."""
    with_media = [a for a in articles if a.enclosures]
    assert with_media
    documents = {name: (public / "feeds" / name).read_bytes()
                 for name in ("rss.xml", "atom.xml", "feed.json")}
    rss = {e.title: e for e in feedparser.parse(io.BytesIO(documents["rss.xml"])).entries}
    atom = {e.title: e for e in feedparser.parse(io.BytesIO(documents["atom.xml"])).entries}
    items = {i["title"]: i for i in json.loads(documents["feed.json"])["items"]}
    for article in with_media:
        expected = [(e.url, e.type, e.length, e.duration, e.medium) for e in article.enclosures]
        # RSS: one <enclosure> (the first audio or video), itunes:duration, every media:content.
        main = rss_enclosure(article)
        assert main is not None
        entry = rss[article.title]
        assert [(x["href"], _fp_type(x.get("type")), _fp_length(x.get("length")))
                for x in entry.enclosures] == [(main.url, main.type, main.length)]
        assert entry.get("itunes_duration") == (str(main.duration) if main.duration else None)
        for name in ("rss.xml", "atom.xml"):
            parsed = feedparser.parse(io.BytesIO(documents[name])).entries
            media = next(e for e in parsed if e.title == article.title).media_content
            assert [(m["url"], _fp_type(m.get("type")), _fp_length(m.get("filesize")),
                     int(m["duration"]) if "duration" in m else None, m.get("medium", ""))
                    for m in media] == expected, name
        # Atom: a rel="enclosure" link for each.
        assert [(x["href"], _fp_type(x.get("type")), _fp_length(x.get("length")))
                for x in atom[article.title].enclosures] == [
            (e.url, e.type, e.length) for e in article.enclosures]
        # JSON Feed: attachments.
        assert [(a["url"], _fp_type(a["mime_type"]), a.get("size_in_bytes"),
                 a.get("duration_in_seconds")) for a in items[article.title]["attachments"]] == [
            (e.url, e.type, e.length, e.duration) for e in article.enclosures]
    for name, document in documents.items():
        ours = {e.title: e for e in parse_feed(document, {}, SITE_URL + "feeds/" + name).entries}
        for article in with_media:
            assert clean_enclosures(ours[article.title].enclosures, None) == article.enclosures


def _page(public: Path, article: Article) -> str:
    return (public / article_path(article.id)).read_text(encoding="utf-8")


def test_podcast_video_and_json_feeds_end_to_end(tmp_path: Path) -> None:
    with LocalServer() as server:
        server.route("/podcast.xml", feed(PODCAST, {"Content-Type": "application/rss+xml"}))
        server.route("/video.xml", feed(VIDEO, {"Content-Type": "application/atom+xml"}))
        server.route("/feed.json", feed(JSON_FEED, {"Content-Type": "application/feed+json"}))
        feeds = [{"url": server.url(path), "category": "媒体", "source": source, "channel": "全部"}
                 for path, source in (("/podcast.xml", "播客"), ("/video.xml", "视频"),
                                      ("/feed.json", "JSON"))]
        config = _config(tmp_path, feeds)
        run = run_cli("update", "-c", str(config))
        assert run.code == 0, run.err + run.out
        base = server.url("")
    stored = _stored(tmp_path / "state")
    for title, enclosures in EXPECTED.items():
        assert stored[title].enclosures == enclosures, title
    assert stored["JSON 一"].enclosures == (
        Enclosure("https://json.example.com/1.mp3", "audio/mpeg", 1000, 61, "audio"),
        Enclosure(f"{base.rstrip('/')}/files/1.ogg", "audio/ogg", None, 60, "audio"))
    # The hostile item: javascript: and data: dropped, the huge length and bogus durations
    # unknown, a quote in a URL kept as data (escaped wherever it is written), at most 8.
    evil = stored["恶意附件"].enclosures
    assert len(evil) == MAX_ENCLOSURES
    assert evil[0] == Enclosure('https://evil.example.com/a.mp3"%20onerror="alert(1)',
                                "audio/mpeg", None, None, "audio")
    assert evil[1] == Enclosure("https://evil.example.com/b.mp4", "video/mp4", None, None,
                                "video")
    assert all(e.url.startswith("https://evil.example.com/") for e in evil)

    public = tmp_path / "public"
    page = _page(public, stored["第1期"])
    assert ('<audio controls preload="none"><source src="https://cdn.pod.example.com/ep1.mp3" '
            'type="audio/mpeg"></audio>') in page
    assert "33.0 MB · 1:02:03" in page
    assert ('<video controls preload="none" poster="https://pod.example.com/cover.jpg">'
            '<source src="https://cdn.pod.example.com/ep1.mp4" type="video/mp4"></video>') in page
    video = _page(public, stored["视频一"])
    assert ('<video controls preload="none" poster="https://video.example.com/v1.jpg"><source '
            'src="https://video.example.com/v1.mp4" type="video/mp4"></video>') in video
    assert "117.7 MB · 1:35" in video
    untyped = _page(public, stored["第2期"])
    assert '<source src="https://cdn.pod.example.com/ep2.m4a" type="audio/mp4">' in untyped
    hostile = _page(public, stored["恶意附件"])
    players = "".join(re.findall(r'<figure class="media".*?</figure>', hostile, re.DOTALL))
    assert players.count('preload="none"') == MAX_ENCLOSURES
    assert "javascript:" not in hostile and "data:audio" not in hostile
    assert 'onerror="' not in players and "<script" not in players
    assert "a.mp3&#34;%20onerror=&#34;alert(1)" in players
    plain = _page(public, stored["JSON 一"])
    assert plain.count('preload="none"') == 2

    posts = {p.read_text(encoding="utf-8") for p in (tmp_path / "hexo").rglob("*.md")}
    first = next(p for p in posts if "第1期" in p)
    assert ('<audio controls preload="none"><source src="https://cdn.pod.example.com/ep1.mp3" '
            'type="audio/mpeg"></audio>') in first
    assert "\n\n" not in first.split("---\n", 2)[2].strip()  # one HTML block for Hexo
    evil_post = next(p for p in posts if "恶意附件" in p)
    assert "javascript:" not in evil_post and 'onerror="' not in evil_post

    _check_feeds_read_back(public, list(stored.values()))

    # The export carries them; a restore into an empty state gives them back.
    export = tmp_path / "all.jsonl.gz"
    assert run_cli("export", str(export), "-c", str(config)).code == 0
    other = tmp_path / "other"
    other.mkdir()
    restore = run_cli("restore", str(export), "-c", str(_config(other, feeds)))
    assert restore.code == 0, restore.err + restore.out
    assert {t: a.enclosures for t, a in _stored(other / "state").items()} == {
        t: a.enclosures for t, a in stored.items()}


def test_a_second_run_rewrites_nothing_and_a_changed_enclosure_is_republished(
        tmp_path: Path) -> None:
    """Enclosures make no article look changed on the next run (their hash is stable); a new
    file size in the feed is a change: the page and our feeds show it after the next run."""
    changed = PODCAST.replace(b'length="34567890"', b'length="50000000"')
    with LocalServer() as server:
        server.route("/podcast.xml", sequence(feed(PODCAST), feed(PODCAST), feed(changed)))
        config = _config(tmp_path, [{"url": server.url("/podcast.xml"), "category": "媒体",
                                     "source": "播客", "channel": "全部"}])
        assert run_cli("update", "-c", str(config)).code == 0
        before = _changed(tmp_path / "state")
        again = run_cli("update", "--all", "-c", str(config))
        assert again.code == 0, again.err + again.out
        assert _changed(tmp_path / "state") == before
        third = run_cli("update", "--all", "-c", str(config))
        assert third.code == 0, third.err + third.out
    after = _changed(tmp_path / "state")
    episode = _stored(tmp_path / "state")["第1期"]
    assert [k for k in after if after[k] != before[k]] == [episode.id]
    assert episode.enclosures[0].length == 50000000
    assert "47.7 MB · 1:02:03" in _page(tmp_path / "public", episode)
    assert b'length="50000000"' in (tmp_path / "public" / "feeds" / "rss.xml").read_bytes()


def _changed(state: Path) -> dict[str, str]:
    conn = sqlite3.connect(state / DB_NAME)
    try:
        return dict(conn.execute("SELECT id, last_changed FROM articles"))
    finally:
        conn.close()


# -- the real RSSHub -----------------------------------------------------------------------------


def test_real_rsshub_enclosure_and_multimedia_routes(tmp_path: Path, rsshub: RealRSSHub) -> None:
    routes = [{"path": path, "category": "测试", "source": "RSSHub", "channel": channel}
              for path, channel in (("/test/enclosure", "附件"), ("/test/multimedia", "多媒体"))]
    config = _config(tmp_path, routes=routes, rsshub=rsshub.url)
    run = run_cli("update", "-c", str(config))
    assert run.code == 0, run.err + run.out
    stored = _stored(tmp_path / "state")
    # /test/enclosure: an untitled item, an untyped enclosure of 3,661 bytes, 10:10:10 long.
    (podcast,) = [a for a in stored.values() if a.channel == "附件"]
    assert podcast.enclosures == (
        Enclosure("https://github.com/DIYgod/RSSHub/issues/1", "", 3661, 36610, "audio"),)
    # /test/multimedia: two items share an id; the second brings the video enclosure.
    media = stored["Multimedia Title"]
    assert media.enclosures == (
        Enclosure("https://mock.com/DIYgod/RSSHub.mp4", "video/mp4", None, None, "video"),)
    public = tmp_path / "public"
    page = _page(public, podcast)
    assert ('<audio controls preload="none"><source '
            'src="https://github.com/DIYgod/RSSHub/issues/1"></audio>') in page
    assert "3.6 KB · 10:10:10" in page
    assert ('<video controls preload="none" poster="https://mock.com/DIYgod/RSSHub.jpg"><source '
            'src="https://mock.com/DIYgod/RSSHub.mp4" type="video/mp4"></video>'
            ) in _page(public, media)
    _check_feeds_read_back(public, list(stored.values()))
    # Our RSS is still a podcast feed: the itunes namespace, one enclosure, its duration.
    rss = feedparser.parse(io.BytesIO((public / "feeds" / "rss.xml").read_bytes()))
    assert "itunes" in rss.namespaces
    entry = next(e for e in rss.entries if e.enclosures and "issues/1" in e.enclosures[0].href)
    assert (entry.enclosures[0].length, entry.itunes_duration) == ("3661", "36610")

    # RSSHub's JSON Feed writes the duration as H:MM:SS text: read all the same.
    with urllib.request.urlopen(f"{rsshub.url}/test/enclosure?format=json", timeout=10) as r:
        document = r.read()
    (entry_json,) = parse_feed(document, {"content-type": "application/json"}, "").entries
    assert entry_json.enclosures == (
        Enclosure("https://github.com/DIYgod/RSSHub/issues/1", "", 3661, 36610),)
