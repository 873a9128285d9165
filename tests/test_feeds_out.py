"""Feeds out: every feed we publish parses back (feedparser, lxml, json) with its exact text.

Titles are checked against :func:`feed_title` (the documented cleaning: XML-illegal and C1
characters dropped, white space collapsed, trimmed); RSS titles are HTML-escaped on purpose,
so they are compared after ``html.unescape`` when feedparser reports them as HTML.
"""

from __future__ import annotations

import calendar
import html
import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urljoin, urlsplit

import feedparser
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from lxml import etree

from rsspage.publish import feed_folders, feeds_out
from rsspage.publish.feed_folders import SiteFeeds, folder_names
from rsspage.publish.feeds_out import (
    ATOM_NS,
    CONTENT_NS,
    JSON_FEED_VERSION,
    SITEMAP_NS,
    FeedMeta,
    OpmlFeed,
    atom_feed,
    entry_id,
    feed_title,
    json_feed,
    opml,
    robots,
    rss_feed,
    sitemaps,
    xml_text,
)
from rsspage.types import Article, FeedSpec

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"
SITE = "https://news.example.com/"
T0 = datetime(2026, 11, 20, 8, 30, 15, tzinfo=UTC)
HOSTILE = [
    "<script>alert(1)</script>", "a & b", "a &amp; b", "]]>", "x]]>y<![CDATA[z", "\"双\" '单'",
    "bell\x07 nul\x00 esc\x1b c1\x85\x9f", "emoji 😀👩‍💻", "中" * 1000, "<b>粗</b>", "&lt;", "&#169;",
    "&nbsp;", "<", "&", "<p>", "  lead\tand\ntrail  ", "\u3000全角空格", "</title></entry>",
    "\ud800lone surrogate", "\ufffe\uffff", "",
]
FORMATS: dict[str, Callable[[FeedMeta, Sequence[Article]], bytes]] = {
    "atom": atom_feed, "rss": rss_feed,
}


def article(n: int, **changes: Any) -> Article:
    base = Article(
        id=f"id{n}", feed_key="/kkj/news", title=f"小米发布第{n}款芯片 chip {n}",
        link=f"https://example.com/news/{n}.html?a=1&b=2", published=T0 - timedelta(hours=n),
        date_estimated=False, date_clamped=False, updated=None, author="快科技编辑",
        category="新媒体", source="快科技", channel="最新新闻",
        content_html=f"<p>正文 {n} &amp; <b>粗体</b></p>", text=f"正文内容 {n} 半导体工艺",
        image=f"https://img.example.com/{n}.jpg", content_hash=f"h{n}",
    )
    return replace(base, **changes)


def meta(site_url: str = SITE, **changes: Any) -> FeedMeta:
    base = FeedMeta(
        title="小冰 RSSHub", site_url=site_url, feed_url="feeds/atom.xml", page_url="",
        language="zh-CN", updated=T0, article_page=lambda a: f"a/{a.id}.html",
    )
    return replace(base, **changes)


def parse_ok(data: bytes) -> Any:
    parsed = feedparser.parse(data)
    assert not parsed.bozo, parsed.get("bozo_exception")
    return parsed


def shown_title(detail: Any) -> str:
    """The title a reader shows: RSS titles reported as HTML are entity-decoded."""
    value = str(detail.value)
    return html.unescape(value) if detail.type == "text/html" else value


def mojibake_repaired(text: str) -> bool:
    """feedparser "repairs" Latin-1 text that is valid UTF-8 (``Ã©`` → ``é``): its quirk."""
    try:
        return text.encode("latin-1").decode("utf-8") != text
    except UnicodeError:
        return False


def stamp(parsed_time: Any) -> int:
    return calendar.timegm(parsed_time)


# --------------------------------------------------------------------------- titles


def check_titles(titles: Sequence[str]) -> None:
    articles = [article(i, title=t) for i, t in enumerate(titles)]
    for name, render in FORMATS.items():
        parsed = parse_ok(render(meta(), articles))
        assert len(parsed.entries) == len(articles), name
        for source, entry in zip(articles, parsed.entries, strict=True):
            expected = feed_title(source.title)
            assert shown_title(entry.title_detail) == expected, (name, source.title[:40])
    items = json.loads(json_feed(meta(), articles))["items"]
    assert [i["title"] for i in items] == [feed_title(a.title) for a in articles]


def test_hostile_titles_survive_every_format() -> None:
    check_titles(HOSTILE)


def test_feed_title_cleaning_is_what_we_promise() -> None:
    assert feed_title("bell\x07 nul\x00 c1\x85") == "bell nul c1"
    assert feed_title("  lead\tand\ntrail  ") == "lead and trail"
    assert feed_title("中" * 1000) == "中" * 1000
    assert feed_title("]]>") == "]]>"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(max_size=200), min_size=1, max_size=4))
def test_any_title_round_trips(titles: list[str]) -> None:
    assume(not any(mojibake_repaired(feed_title(t)) for t in titles))
    check_titles(titles)


def test_feed_title_itself_round_trips() -> None:
    title = "站点 & <b>x</b> ]]>"
    for render in FORMATS.values():
        parsed = parse_ok(render(meta(title=title), [article(1)]))
        assert shown_title(parsed.feed.title_detail) == title
    assert json.loads(json_feed(meta(title=title), []))["title"] == title


# --------------------------------------------------------------------------- links, dates, ids


@settings(max_examples=30, deadline=None)
@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2099, 12, 31),
                    timezones=st.just(UTC)))
def test_dates_round_trip_to_the_second(when: datetime) -> None:
    changed = when + timedelta(minutes=7)
    source = article(1, published=when, updated=changed)
    expected = int(when.replace(microsecond=0).timestamp())
    atom = parse_ok(atom_feed(meta(), [source])).entries[0]
    assert stamp(atom.published_parsed) == expected
    assert stamp(atom.updated_parsed) == int(changed.replace(microsecond=0).timestamp())
    rss = parse_ok(rss_feed(meta(), [source])).entries[0]
    assert stamp(rss.published_parsed) == expected
    item = json.loads(json_feed(meta(), [source]))["items"][0]
    assert datetime.fromisoformat(item["date_published"]).timestamp() == expected


def test_links_original_first_site_copy_related() -> None:
    source = article(1)
    page = f"{SITE}a/id1.html"
    for render in FORMATS.values():
        parsed = parse_ok(render(meta(), [source]))
        entry = parsed.entries[0]
        assert entry.link == source.link
        assert {"rel": "related", "type": "text/html", "href": page} in entry.links
        assert entry.id == entry_id(source)
        assert parsed.feed.link == SITE
        assert [t.term for t in entry.tags] == ["新媒体", "快科技", "最新新闻"]
        assert entry.author == "快科技编辑"
        assert entry.media_thumbnail[0]["url"] == source.image
    item = json.loads(json_feed(meta(), [source]))["items"][0]
    assert item["url"] == source.link
    assert item["_rsspage"] == {"page_url": page}
    assert item["image"] == source.image


def test_atom_self_link_and_ids_are_absolute() -> None:
    parsed = parse_ok(atom_feed(meta(), [article(1)]))
    assert parsed.feed.id == f"{SITE}feeds/atom.xml"
    assert {"rel": "self", "type": "application/atom+xml",
            "href": f"{SITE}feeds/atom.xml"} in parsed.feed.links
    assert parsed.entries[0].id.startswith("urn:uuid:")


def test_without_site_url_entries_link_to_originals_and_self_links_go() -> None:
    articles = [article(1), article(2, link="")]
    for name, render in FORMATS.items():
        data = render(meta(site_url=""), articles)
        parsed = parse_ok(data)
        assert b"news.example.com" not in data, name
        assert parsed.entries[0].link == articles[0].link
        # feedparser falls back to the Atom id as "link"; there is no web link to give.
        assert not parsed.entries[1].get("link", "").startswith("http")
        assert all(link["rel"] != "self" for link in parsed.feed.get("links", []))
    doc = json.loads(json_feed(meta(site_url=""), articles))
    assert "feed_url" not in doc and "url" not in doc["items"][1]


def test_article_without_original_links_to_site_copy() -> None:
    parsed = parse_ok(atom_feed(meta(), [article(1, link="")]))
    assert parsed.entries[0].link == f"{SITE}a/id1.html"
    assert all(link["rel"] != "related" for link in parsed.entries[0].links)


def test_unsafe_link_schemes_are_not_published() -> None:
    source = article(1, link="javascript:alert(1)", image="data:image/png;base64,AAAA")
    for render in (atom_feed, rss_feed, json_feed):
        data = render(meta(site_url=""), [source])
        assert b"javascript:" not in data and b"data:image" not in data


def test_cjk_site_paths_are_percent_encoded() -> None:
    parsed = parse_ok(atom_feed(meta(feed_url="feeds/新媒体/atom.xml"), []))
    assert parsed.feed.id == f"{SITE}feeds/%E6%96%B0%E5%AA%92%E4%BD%93/atom.xml"


def test_empty_feeds_are_valid() -> None:
    for render in FORMATS.values():
        assert parse_ok(render(meta(), [])).entries == []
    assert json.loads(json_feed(meta(), []))["items"] == []


# --------------------------------------------------------------------------- content


def xss_vectors() -> list[str]:
    data = json.loads((FIXTURES / "xss" / "vectors.json").read_text(encoding="utf-8"))
    return [str(v["vector"]) for v in data]


def test_content_is_carried_exactly_even_with_cdata_breakers() -> None:
    vectors = xss_vectors()
    assert len(vectors) > 300
    articles = [article(i, content_html=v + "]]></content>", title=v[:80])
               for i, v in enumerate(vectors)]
    atom = etree.fromstring(atom_feed(meta(), articles))
    contents = atom.findall(f"{{{ATOM_NS}}}entry/{{{ATOM_NS}}}content")
    rss = etree.fromstring(rss_feed(meta(), articles))
    encoded = rss.findall(f"channel/item/{{{CONTENT_NS}}}encoded")
    items = json.loads(json_feed(meta(), articles))["items"]
    for source, a, r, j in zip(articles, contents, encoded, items, strict=True):
        expected = xml_text(source.content_html)
        assert a.get("type") == "html"
        assert a.text == r.text == j["content_html"] == expected
    for render in FORMATS.values():
        assert len(parse_ok(render(meta(), articles)).entries) == len(articles)


def test_summary_is_short_plain_text() -> None:
    source = article(1, text="长" * 500 + " <b>&</b>")
    entry = parse_ok(atom_feed(meta(), [source])).entries[0]
    assert entry.summary == "长" * 200 + "…"
    item = json.loads(json_feed(meta(), [article(2, text="a < b & c")]))["items"][0]
    assert item["summary"] == "a < b & c"
    rss = parse_ok(rss_feed(meta(), [article(2, text="a < b & c")])).entries[0]
    assert shown_title(rss.summary_detail) == "a < b & c"


def test_output_is_deterministic() -> None:
    articles = [article(i) for i in range(5)]
    for render in (atom_feed, rss_feed, json_feed):
        assert render(meta(), articles) == render(meta(), articles)


# --------------------------------------------------------------------------- JSON Feed spec


def test_json_feed_has_the_required_fields_of_1_1() -> None:
    doc = json.loads(json_feed(meta(), [article(i) for i in range(3)]))
    assert doc["version"] == JSON_FEED_VERSION
    assert isinstance(doc["title"], str) and doc["title"]
    assert doc["home_page_url"] == SITE and doc["feed_url"] == f"{SITE}feeds/atom.xml"
    assert doc["language"] == "zh-CN"
    assert doc["authors"] == [{"name": "小冰 RSSHub"}]
    ids = [item["id"] for item in doc["items"]]
    assert len(set(ids)) == 3 and all(isinstance(i, str) for i in ids)
    for item in doc["items"]:
        assert "content_html" in item or "content_text" in item
        assert isinstance(item["tags"], list) and isinstance(item["authors"], list)
        assert datetime.fromisoformat(item["date_modified"]).tzinfo is not None


# --------------------------------------------------------------------------- OPML


def test_opml_lists_every_feed_grouped_by_category_and_source() -> None:
    spec = FeedSpec(key="/kkj/news", urls=("https://rsshub.app/kkj/news",), category="新媒体",
                    source="快科技", channel="最新新闻")
    feeds = [
        OpmlFeed.from_spec(spec, "https://kkj.cn/"),
        OpmlFeed("排行 & <榜>", "https://rsshub.app/kkj/rank?a=1&b=2", "", "新媒体", "快科技"),
        OpmlFeed("全部", "https://example.com/feed.xml", "", "博客", "Ex]]>ample\x01"),
    ]
    root = etree.fromstring(opml("订阅 & more", feeds))
    assert root.get("version") == "2.0"
    assert root.findtext("head/title") == "订阅 & more"
    cats = root.findall("body/outline")
    assert [c.get("text") for c in cats] == ["新媒体", "博客"]
    assert [s.get("text") for s in cats[0]] == ["快科技"]
    leaves = root.findall(".//outline[@xmlUrl]")
    assert [(x.get("text"), x.get("xmlUrl")) for x in leaves] == [
        (feed_title(f.title), f.xml_url) for f in feeds
    ]
    assert leaves[0].get("htmlUrl") == "https://kkj.cn/" and leaves[0].get("type") == "rss"
    assert cats[1][0].get("text") == "Ex]]>ample"


# --------------------------------------------------------------------------- sitemap, robots


def locs(data: bytes) -> list[str]:
    return [str(e.text) for e in etree.fromstring(data).iter(f"{{{SITEMAP_NS}}}loc")]


@given(st.sampled_from(["https://news.example.cn", "https://x.example/blog/", "http://h:8080/a/b",
                        "https://x.example/?q=1", "https://x.example/p#f", "HTTPS://x.example/",
                        " https://x.example/", "https://x.example/a//b/",
                        "https://x.example/blog/./", "https://x.example/blog/../",
                        "ipfs://cid/"]),
       st.text(st.sampled_from("a/.:?#% \t\n\x01\u3000新-_~@"), max_size=12))
def test_absolute_urls_equal_urljoin(site: str, relpath: str) -> None:
    """The fast path for plain paths gives exactly what urljoin gives."""
    expected = quote(urljoin(site.rstrip("/") + "/", relpath.lstrip("/")),
                     safe=":/?#[]@!$&'()*+,;=%~-._")
    assert feeds_out.absolute(site, relpath) == expected


def test_sitemap_lists_absolute_encoded_urls() -> None:
    pages = [("", T0), ("category/新媒体/", None), ("a/x y.html", T0), (f"{SITE}abs/", None)]
    files = sitemaps(SITE, pages)
    assert list(files) == ["sitemap.xml"]
    urls = locs(files["sitemap.xml"])
    assert urls[0] == SITE and urls[3] == f"{SITE}abs/"
    assert unquote(urls[1]) == f"{SITE}category/新媒体/" and urls[1].isascii()
    assert urls[2] == f"{SITE}a/x%20y.html"
    assert all(urlsplit(u).scheme == "https" and urlsplit(u).netloc for u in urls)
    root = etree.fromstring(files["sitemap.xml"])
    assert root.findtext(f"{{{SITEMAP_NS}}}url/{{{SITEMAP_NS}}}lastmod") == "2026-11-20T08:30:15Z"


def test_sitemap_splits_into_an_index_and_parts() -> None:
    pages = [(f"p/{i}.html", T0 + timedelta(days=i)) for i in range(7)]
    files = sitemaps(SITE, pages, limit=3)
    assert list(files) == ["sitemap.xml", "sitemap-1.xml", "sitemap-2.xml", "sitemap-3.xml"]
    index = etree.fromstring(files["sitemap.xml"])
    assert etree.QName(index).localname == "sitemapindex"
    assert locs(files["sitemap.xml"]) == [f"{SITE}sitemap-{n}.xml" for n in (1, 2, 3)]
    parts = [u for n in (1, 2, 3) for u in locs(files[f"sitemap-{n}.xml"])]
    assert parts == [f"{SITE}p/{i}.html" for i in range(7)]


def test_sitemap_protocol_limit_is_50000() -> None:
    pages = [(f"p/{i}.html", None) for i in range(50_001)]
    files = sitemaps(SITE, pages)
    assert sorted(files) == ["sitemap-1.xml", "sitemap-2.xml", "sitemap.xml"]
    assert len(locs(files["sitemap-2.xml"])) == 1
    assert len(sitemaps(SITE, pages[:50_000])) == 1


def test_no_sitemap_without_site_url_and_robots_follow() -> None:
    assert sitemaps("", [("", T0)]) == {}
    assert robots(SITE).decode().splitlines() == [
        "User-agent: *", "Disallow:", f"Sitemap: {SITE}sitemap.xml",
    ]
    assert "Sitemap" not in robots("").decode()


# --------------------------------------------------------------------------- the site's feeds


def feed_set(articles_newest_first: Sequence[Article], site: SiteFeeds,
             **limit: int) -> dict[str, bytes]:
    """Every feed file of the site, as the publish stage renders its groups."""
    files: dict[str, bytes] = {}
    for group in feed_folders.feed_groups(articles_newest_first, site, **limit):
        files.update(feed_folders.render_group(site, group))
    return files


def test_feed_set_covers_site_categories_and_sources() -> None:
    articles = [
        article(i, category=("新媒体", "博客", "atom.xml")[i % 3],
                source=("快科技", "a/b", "Tech", "tech")[i % 4])
        for i in range(130)
    ]
    site = SiteFeeds("小冰", SITE, "zh-CN", article_page=lambda a: f"a/{a.id}.html",
                     category_page=lambda c: f"c/{c}/", source_page=lambda c, s: f"c/{c}/{s}/")
    files = feed_set(articles, site)
    assert {"feeds/atom.xml", "feeds/rss.xml", "feeds/feed.json"} <= files.keys()
    folders = {path.rsplit("/", 1)[0] for path in files}
    assert len(folders) == 1 + 3 + 3 * 4
    assert all(path.rsplit("/", 1)[1] in ("atom.xml", "rss.xml", "feed.json") for path in files)
    assert "feeds/新媒体/快科技/atom.xml" in files
    for path, data in files.items():
        if path.endswith(".json"):
            assert len(json.loads(data)["items"]) <= 50
            continue
        parsed = parse_ok(data)
        assert 0 < len(parsed.entries) <= 50
        if path.count("/") == 1:
            assert [e.id for e in parsed.entries] == [entry_id(a) for a in articles[:50]]
    home = parse_ok(files["feeds/新媒体/atom.xml"])
    assert home.feed.link == f"{SITE}c/%E6%96%B0%E5%AA%92%E4%BD%93/"
    assert {t.term for e in home.entries for t in e.tags} >= {"新媒体"}


def test_folder_names_are_safe_distinct_and_stable() -> None:
    names = ["新媒体", "a/b", "a／b", "atom.xml", "Tech", "tech", "..", "x" * 300]
    first = folder_names(names)
    assert first["新媒体"] == "新媒体" and first["Tech"] == "Tech"
    assert len({v.casefold() for v in first.values()}) == len(names)
    assert all("/" not in v and v not in (".", "..") and len(v.encode()) <= 100
               for v in first.values())
    assert first["atom.xml"] != "atom.xml"
    again = folder_names(["a/b", "新媒体", "zzz"])
    assert again["a/b"] == first["a/b"] and again["新媒体"] == "新媒体"


@pytest.mark.parametrize("limit", [1, 5])
def test_feed_set_limit(limit: int) -> None:
    files = feed_set([article(i) for i in range(10)], SiteFeeds("t", "", "en"), limit=limit)
    assert len(parse_ok(files["feeds/atom.xml"]).entries) == limit


@pytest.mark.parametrize("count", [0, 1, 3])
def test_sitemap_is_written_as_lxml_would(count: int) -> None:
    """The urlset is built from strings for speed; it must be what lxml gave before."""
    entries = [(f"https://n.example/a/{i}.html?x=1&y=<2>", T0 if i % 2 else None)
               for i in range(count)]
    root = etree.Element(f"{{{SITEMAP_NS}}}urlset", nsmap={None: SITEMAP_NS})
    for loc, when in entries:
        url = etree.SubElement(root, f"{{{SITEMAP_NS}}}url")
        etree.SubElement(url, f"{{{SITEMAP_NS}}}loc").text = loc
        if when is not None:
            etree.SubElement(url, f"{{{SITEMAP_NS}}}lastmod").text = feeds_out.rfc3339(when)
    expected = etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True)
    assert feeds_out._urlset(entries) == expected
