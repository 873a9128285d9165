"""Tests for rsspage.normalise: ids, titles, links, dates, names, images, hashes."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta, timezone

from rsspage.normalise import UNTITLED, normalise_counted, normalise_feed
from rsspage.parse import parse_feed
from rsspage.types import Article, FeedSpec, ParsedFeed, RawEntry

NOW = datetime(2024, 7, 22, 12, 0, tzinfo=UTC)
FEED_URL = "https://rsshub.example.cn/kkj/news"
SPEC = FeedSpec(
    key="/kkj/news", urls=(FEED_URL,), category="新媒体", source="快科技（原驱动之家）",
    channel="最新新闻", items_per_feed=20,
)  # fmt: skip


def entry(**fields: object) -> RawEntry:
    base: dict[str, object] = {
        "guid": "g-1", "link": "https://news.mydrivers.com/1/1.htm", "title": "小米再揽大将",
        "title_is_html": False, "published": datetime(2024, 7, 21, 9, 22, 55, tzinfo=UTC),
        "updated": None, "author": "快科技", "content_html": None,
        "summary_html": '<p onclick="x()">正文<img src="/a.jpg"></p>', "base_url": FEED_URL,
    }  # fmt: skip
    base.update(fields)
    return RawEntry(**base)  # type: ignore[arg-type]


def feed(*entries: RawEntry, title: str | None = "快科技", link: str | None = None) -> ParsedFeed:
    return ParsedFeed(title=title, link=link, entries=entries, parser="lxml-rss")


def one(raw: RawEntry, spec: FeedSpec = SPEC) -> Article:
    (article,) = normalise_feed(spec, feed(raw), NOW)
    return article


def test_article_fields_from_an_everyday_entry() -> None:
    (a,) = normalise_feed(SPEC, feed(entry()), NOW)
    assert re.fullmatch(r"[0-9a-f]{20}", a.id)
    assert (a.feed_key, a.title, a.link) == (
        "/kkj/news",
        "小米再揽大将",
        "https://news.mydrivers.com/1/1.htm",
    )
    assert a.published == datetime(2024, 7, 21, 9, 22, 55, tzinfo=UTC)
    assert not a.date_estimated and not a.date_clamped
    assert (a.category, a.source, a.channel, a.author) == (
        "新媒体",
        "快科技（原驱动之家）",
        "最新新闻",
        "快科技",
    )
    # Sanitised once, here: handlers gone, picture resolved, lazy and referrer-less.
    assert a.content_html == (
        '<p>正文<img referrerpolicy="no-referrer" loading="lazy" '
        'src="https://rsshub.example.cn/a.jpg"></p>'
    )
    assert a.text == "正文"
    assert a.image == "https://rsshub.example.cn/a.jpg"
    assert re.fullmatch(r"[0-9a-f]{64}", a.content_hash)


def test_ids_are_stable_and_depend_on_feed_and_identity() -> None:
    first = one(entry())
    assert one(entry()).id == first.id
    assert one(entry(title="改了标题", summary_html="改了")).id == first.id
    other_feed = dataclasses.replace(SPEC, key="/other")
    assert one(entry(), other_feed).id != first.id
    by_link = one(entry(guid=None))
    assert by_link.id != first.id
    # Raw values, not resolved ones: the same relative link from another instance, same id.
    relative = entry(guid=None, link="/1.htm")
    moved = entry(guid=None, link="/1.htm", base_url="https://rsshub.other.org/kkj/news")
    assert one(relative).id == one(moved).id
    # Without guid and link: title + date, and never "now" (that would change every run).
    bare = entry(guid=None, link=None, published=None)
    (a,) = normalise_feed(SPEC, feed(bare), NOW)
    (b,) = normalise_feed(SPEC, feed(bare), NOW + timedelta(hours=5))
    assert a.id == b.id


def test_titles_are_plain_text_and_never_empty() -> None:
    assert one(entry(title="A &amp; B <em>强调</em>", title_is_html=True)).title == "A & B 强调"
    assert one(entry(title="用 <div> 布局", title_is_html=False)).title == "用 <div> 布局"
    assert one(entry(title="  多行\n 标题 ")).title == "多行 标题"
    long_text = "这是一段没有标题的快讯内容，" * 10
    untitled = one(entry(title=None, summary_html=f"<p>{long_text}</p>"))
    assert untitled.title == long_text[:40] + "…"
    short = one(entry(title="", summary_html="<p>短讯</p>"))
    assert short.title == "短讯"
    latin = one(entry(title=None, summary_html="<p>" + "word " * 20 + "</p>"))
    assert latin.title.endswith("word…") and len(latin.title) <= 41
    assert one(entry(title=None, summary_html=None)).title == "https://news.mydrivers.com/1/1.htm"
    picture_only = entry(title=None, link=None, summary_html=None, images=("https://i.cn/a.png",))
    assert one(picture_only).title == UNTITLED and one(picture_only).image == "https://i.cn/a.png"


def test_empty_entries_are_counted_and_skipped_not_published_untitled() -> None:
    """Issue 11: an item with no title, link, text or picture is no article."""
    empty = [
        entry(guid="cut", title=None, link=None, summary_html=None),  # a truncated <item>
        entry(guid="geo", title="  ", link="javascript:void(0)", summary_html="<p> </p>"),
        entry(guid="ctl", title="&#1;&#2;", title_is_html=True, link=None, summary_html="<p>&#1;</p>"),
    ]
    kept = entry(guid="ok")
    result = normalise_counted(dataclasses.replace(SPEC, items_per_feed=2),
                               feed(*empty, kept, entry(guid="ok2"), entry(guid="ok3")), NOW)
    assert result.empty == 3
    assert [a.title for a in result.articles] == ["小米再揽大将", "小米再揽大将"]
    assert all(a.title != UNTITLED for a in result.articles)


def test_a_clamped_date_is_out_of_the_hash_and_the_feeds_own_date_in() -> None:
    """Issue 11: clamped to each run's time, the date changed the hash on every run."""
    future = NOW + timedelta(days=30)
    a = one(entry(published=future))
    (b,) = normalise_feed(SPEC, feed(entry(published=future)), NOW + timedelta(hours=5))
    assert a.date_clamped and b.date_clamped and a.published != b.published
    assert a.content_hash == b.content_hash and a.clamped_from == future
    (c,) = normalise_feed(SPEC, feed(entry(published=future + timedelta(days=1))), NOW)
    assert c.content_hash != a.content_hash


def test_links_are_absolute_http_or_empty() -> None:
    assert one(entry(link="/post/1?a=1&b=2")).link == "https://rsshub.example.cn/post/1?a=1&b=2"
    assert one(entry(link="//cdn.example.cn/x")).link == "https://cdn.example.cn/x"
    assert one(entry(link="javascript:alert(1)")).link == ""
    assert one(entry(link="mailto:a@b.c")).link == ""
    assert one(entry(link=None)).link == ""
    assert one(entry(link="  https://e.com/a  ")).link == "https://e.com/a"


def test_dates_estimated_clamped_and_utc() -> None:
    missing = one(entry(published=None))
    assert (missing.published, missing.date_estimated) == (NOW, True)
    from_updated = one(entry(published=None, updated=datetime(2024, 7, 1, tzinfo=UTC)))
    assert from_updated.published == datetime(2024, 7, 1, tzinfo=UTC)
    future = one(entry(published=NOW + timedelta(days=3)))
    assert (future.published, future.date_clamped) == (NOW, True)
    soon = one(entry(published=NOW + timedelta(hours=3)))
    assert (soon.published, soon.date_clamped) == (NOW + timedelta(hours=3), False)
    beijing = timezone(timedelta(hours=8))
    (a,) = normalise_feed(
        SPEC, feed(entry(published=None)), datetime(2024, 7, 22, 20, tzinfo=beijing)
    )
    assert a.published == NOW and a.published.tzinfo == UTC


def test_items_per_feed_keeps_the_first_in_document_order_and_drops_repeats() -> None:
    entries = [entry(guid=f"g{n}", title=f"第{n}条") for n in range(30)]
    articles = normalise_feed(dataclasses.replace(SPEC, items_per_feed=5), feed(*entries), NOW)
    assert [a.title for a in articles] == [f"第{n}条" for n in range(5)]
    everything = normalise_feed(dataclasses.replace(SPEC, items_per_feed=0), feed(*entries), NOW)
    assert len(everything) == 30
    repeated = normalise_feed(SPEC, feed(entry(title="一"), entry(title="二")), NOW)
    assert [a.title for a in repeated] == ["一"]


def test_names_from_the_feed() -> None:
    spec = dataclasses.replace(SPEC, source="", channel="", names_from_feed=True)
    (a,) = normalise_feed(spec, feed(entry(), title="<b>某某</b>博客"), NOW)
    assert (a.source, a.channel) == ("某某博客", "某某博客")
    (b,) = normalise_feed(spec, feed(entry(), title=None, link="https://blog.example.org/"), NOW)
    assert b.source == "blog.example.org"
    kept = dataclasses.replace(spec, channel="全部")
    (c,) = normalise_feed(kept, feed(entry(), title="某某博客"), NOW)
    assert (c.source, c.channel) == ("某某博客", "全部")
    # A source named by the config (an OPML import: the reader's title) stays; the channel comes
    # from the feed.
    named = dataclasses.replace(spec, source="小林")
    (d,) = normalise_feed(named, feed(entry(), title="小林的笔记 - 全部文章"), NOW)
    assert (d.source, d.channel) == ("小林", "小林的笔记 - 全部文章")


def test_image_from_content_else_enclosure_http_only() -> None:
    assert (
        one(entry(summary_html="<p>无图</p>", images=("/e.jpg",))).image
        == "https://rsshub.example.cn/e.jpg"
    )
    assert one(entry(summary_html="<p>无图</p>", images=("ftp://x/e.jpg",))).image == ""
    content_first = one(
        entry(content_html='<img src="https://c/1.jpg">', images=("https://c/2.jpg",))
    )
    assert content_first.image == "https://c/1.jpg"
    inline = one(
        entry(
            content_html='<img src="data:image/png;base64,iVBORw0KGgo=">',
            images=("https://c/2.jpg",),
        )
    )
    assert inline.image == "https://c/2.jpg"


def test_content_prefers_full_content_and_hash_tracks_what_is_published() -> None:
    a = one(entry(content_html="<p>全文</p>", summary_html="<p>摘要</p>"))
    assert a.text == "全文"
    same = one(entry(content_html="<p>全文</p>", summary_html="<p>别的摘要</p>"))
    assert same.content_hash == a.content_hash
    for change in ({"content_html": "<p>改了</p>"}, {"title": "新标题"}, {"author": "别人"}):
        changed = one(entry(**{"content_html": "<p>全文</p>", **change}))
        assert changed.content_hash != a.content_hash
    # An estimated date is "now", different every run: it must not change the hash.
    undated = entry(published=None)
    (x,) = normalise_feed(SPEC, feed(undated), NOW)
    (y,) = normalise_feed(SPEC, feed(undated), NOW + timedelta(hours=1))
    assert x.content_hash == y.content_hash


def test_parse_then_normalise_an_rsshub_document() -> None:
    document = (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>快科技</title>'
        "<item><title><![CDATA[标题 &amp; 符号]]></title><description><![CDATA["
        '<p>正文</p><p><img data-src="https://img.example.cn/1.jpg" src="data:image/gif;base64,R0lGOD">'
        "</p><script>alert(1)</script>]]></description><pubDate>Sun, 21 Jul 2024 17:22:55 +0800"
        "</pubDate><guid>https://news.example.cn/1</guid></item></channel></rss>"
    ).encode()
    parsed = parse_feed(document, {"content-type": "application/rss+xml"}, FEED_URL)
    (a,) = normalise_feed(SPEC, parsed, NOW)
    assert a.title == "标题 & 符号"
    assert a.link == "https://news.example.cn/1"  # the guid is a permalink
    assert a.published == datetime(2024, 7, 21, 9, 22, 55, tzinfo=UTC)
    assert a.image == "https://img.example.cn/1.jpg"
    assert "script" not in a.content_html and a.text == "正文"
