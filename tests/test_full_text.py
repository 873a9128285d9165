"""Full text for summary-only feeds (issue 12): ``full_text: true`` end to end.

A feed whose items carry a one-line summary links to article pages of real-world shape
(navigation, ads, related links, comments and a footer around the article; one in GBK) served
on 127.0.0.1 beside pages that fail in each way a page can (robots.txt, 404, timeout, not HTML,
too large). ``rsspage update`` runs as a subprocess; the store and the Hexo posts are read.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest
import yaml

from conftest import run_cli, summary
from servers import Exchange, LocalServer, feed, redirect, respond, slow

DATA = Path(__file__).parent / "data" / "full_text"
NOW = datetime.now(UTC)
ROBOTS = b"User-agent: *\nDisallow: /private/\n\nUser-agent: BadBot\nDisallow: /\n"
ZH_TITLE = "国产大模型再迎新进展：多家厂商发布推理芯片"
ZH_BODY = "推理吞吐量提升约百分之六十"  # in the Chinese article's second paragraph
ZH_END = "为行业用户选型提供参考"  # its last paragraph
ZH_AROUND = ("网友评论", "沙发", "广告", "热点排行", "版权所有", "相关阅读", "折叠屏", "下载客户端",
             "当前位置", "兼职")
EN_BODY = "Construction of the first phase"
EN_AROUND = ("ADVERTISEMENT", "Motorist42", "Comments (57)", "Privacy policy", "Subscribe",
             "cookies", "Bus fares", "morning briefing")
HOSTILE = (
    "<!DOCTYPE html><html><head><meta charset='utf-8'><title>t</title></head><body>"
    "<nav><a href='/'>Home</a></nav><article><h1>Hostile page</h1>"
    + "<p>This paragraph is part of a long article body that the extractor keeps, with enough "
      "words in it to read as the main text of the page rather than boilerplate.</p>" * 4
    + "<p>Look <img src='x.png' onerror='alert(1)'> here "
      "<a href='javascript:alert(2)'>click</a><script>alert(3)</script></p>"
      "<p onclick='alert(4)'>The end of the hostile article, still long enough to be kept as "
      "part of its text by any extractor.</p></article></body></html>")


def page(name: str, charset: str = "utf-8") -> bytes:
    text = (DATA / name).read_text(encoding="utf-8").replace("{charset}", charset)
    return text.encode(charset)


def rss(base: str, paths: list[str]) -> bytes:
    """A feed whose items carry only a one-line summary and the link to their page (and the
    page's own title, for the Chinese article)."""
    items = "".join(
        f"<item><title>{escape(ZH_TITLE if '/zh/' in path or '/gbk/' in path else path)}</title><link>{base}{path}</link>"
        f"<guid>{base}{path}</guid><description>{escape(f'<p>一句话摘要 {n}</p>')}</description>"
        f"<pubDate>{format_datetime(NOW - timedelta(minutes=n))}</pubDate></item>"
        for n, path in enumerate(paths))
    return ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>T</title>'
            f"<link>{base}/</link>{items}</channel></rss>").encode()


def write_config(tmp: Path, url: str, fetch: dict[str, Any] | None = None,
                 **settings: Any) -> Path:
    config = {
        "feeds": [{"url": url, "category": "测试", "source": "源", "channel": "全文",
                   "full_text": True, **settings}],
        "fetch": {"timeout": 5, "retries": 0, **(fetch or {})},
        "output": {"state": "state", "hexo": "hexo", "site": None},
    }
    path = tmp / "rsspage.yml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def stored(tmp: Path) -> dict[str, tuple[str, str, str]]:
    """Link → (content_html, text, image) of each stored article."""
    with sqlite3.connect(tmp / "state" / "rsspage.sqlite3") as conn:
        rows = conn.execute("SELECT link, content_html, text, image FROM articles").fetchall()
    return {link: (html, text, image) for link, html, text, image in rows}


def html_page(body: bytes, content_type: str = "text/html; charset=utf-8") -> Any:
    return respond(200, body, {"Content-Type": content_type})


def serve_pages(server: LocalServer) -> list[str]:
    """Every kind of page, good and bad; returns their paths in feed order."""
    routes = {
        "/news/zh/2024/0501.html": html_page(page("news_zh.html")),
        # GBK bytes, the charset only in <meta>: the project's encoding rules read it
        "/news/gbk/0501.shtml": html_page(page("news_zh.html", "gbk"), "text/html"),
        "/news/en/cycling.html": html_page(page("news_en.html")),
        "/news/hostile.html": html_page(HOSTILE.encode()),
        "/private/secret.html": html_page(page("news_en.html")),
        "/news/missing.html": respond(404, b"<html><body>Not found</body></html>",
                                      {"Content-Type": "text/html"}),
        "/news/slow.html": slow(4, html_page(page("news_en.html"))),
        "/news/report.pdf": respond(200, b"%PDF-1.7\n" + b"0" * 5000,
                                    {"Content-Type": "application/pdf"}),
        "/news/huge.html": html_page(b"<html><body>" + b"<p>word </p>" * 600_000),
    }
    for path, handler in routes.items():
        server.route(path, handler)
    server.route("/robots.txt", respond(200, ROBOTS, {"Content-Type": "text/plain"}))
    return list(routes)


def test_pages_give_their_article_and_failures_keep_the_summary(tmp_path: Path) -> None:
    with LocalServer() as server:
        paths = serve_pages(server)
        base = server.url("")
        url = server.route("/feed.xml", feed(rss(base, paths)))
        config = write_config(tmp_path, url, {"timeout": 1.5})
        run = run_cli("update", "-c", str(config))
        assert run.code == 0, run.err + run.out
        rows = summary(run.out)
        assert rows["feeds ok"] == "1"
        assert rows["new articles"] == str(len(paths))
        # zh, gbk, en, hostile given their page; robots, 404, slow, pdf, huge keep the summary
        assert rows["full text fetched / failed"] == "4 / 5", run.out
        assert "full text not fetched" in run.out
        articles = stored(tmp_path)
        assert server.hits("/private/secret.html") == 0  # robots.txt: never requested
        assert server.hits("/robots.txt") == 1  # once per origin per run
        hits = {path: server.hits(path) for path in paths}

        # The next run tries the pages that gave no text once more (robots.txt still
        # refuses one); the one after fetches no page at all.
        failing = ("/news/missing.html", "/news/slow.html", "/news/report.pdf", "/news/huge.html")
        for retried in (1, 0):
            again = run_cli("update", "--all", "-c", str(config))
            assert again.code == 0, again.err
            hits.update({path: hits[path] + retried for path in failing})
            assert {path: server.hits(path) for path in paths} == hits
            assert server.hits("/private/secret.html") == 0
            assert summary(again.out)["updated articles"] == "0"
            assert stored(tmp_path) == articles  # the page text stays, the summary does not return

    for path in ("/news/zh/2024/0501.html", "/news/gbk/0501.shtml"):
        html, text, image = articles[base + path]
        assert ZH_BODY in text and ZH_END in text, (path, text[:200])
        for noise in ZH_AROUND:
            assert noise not in text, (path, noise)
        assert "<p>" in html
        # the page's image, resolved against the page's own URL, is the article's head image
        assert f'src="{base}/uploads/2024/05/chip-launch.jpg"' in html
        assert image == f"{base}/uploads/2024/05/chip-launch.jpg"
        assert not text.startswith(ZH_TITLE)  # the page's <h1> repeats the title: dropped
    html, text, image = articles[base + "/news/en/cycling.html"]
    assert EN_BODY in text and "shopping streets" in text
    for noise in EN_AROUND:
        assert noise not in text, noise
    assert image == f"{base}/news/en/images/cycle-lane.jpg"
    html, text, _ = articles[base + "/news/hostile.html"]
    assert "end of the hostile article" in text
    for bad in ("<script", "onerror", "onclick", "javascript:", "alert("):
        assert bad not in html, bad
    for path in ("/private/secret.html", "/news/missing.html", "/news/slow.html",
                 "/news/report.pdf", "/news/huge.html"):
        html, text, _ = articles[base + path]
        assert text.startswith("一句话摘要"), (path, text[:100])

    posts = [p.read_text(encoding="utf-8")
             for p in (tmp_path / "hexo" / "测试" / "源" / "全文").glob("国产大模型*.md")]
    assert len(posts) == 2
    assert all(ZH_BODY in post and "网友评论" not in post for post in posts)


def test_robots_txt_for_the_agent_and_an_unreachable_one(tmp_path: Path) -> None:
    """Rules for another agent do not apply; a robots.txt that answers 500 disallows all."""
    with LocalServer() as good, LocalServer() as down:
        good.route("/robots.txt", respond(200, b"User-agent: otherbot\nDisallow: /\n",
                                          {"Content-Type": "text/plain"}))
        good.route("/a.html", html_page(page("news_en.html")))
        down.route("/robots.txt", respond(500, b"oops", {"Content-Type": "text/plain"}))
        down.route("/b.html", html_page(page("news_en.html")))
        url = good.route("/feed.xml", feed(rss("", [good.url("/a.html"), down.url("/b.html")])))
        run = run_cli("update", "-c", str(write_config(tmp_path, url)))
        assert run.code == 0, run.err + run.out
        assert summary(run.out)["full text fetched / failed"] == "1 / 1"
        assert good.hits("/a.html") == 1
        assert down.hits("/b.html") == 0


def test_pages_of_one_host_wait_for_its_per_host_slots(tmp_path: Path) -> None:
    paths = [f"/news/{n}.html" for n in range(8)]
    with LocalServer() as server:
        for path in paths:
            server.route(path, slow(0.3, html_page(page("news_en.html"))))
        url = server.route("/feed.xml", feed(rss(server.url(""), paths)))
        run = run_cli("update", "-c", str(write_config(tmp_path, url, {"per_host": 2})))
        assert run.code == 0, run.err + run.out
        assert summary(run.out)["full text fetched / failed"] == "8 / 0"
        assert server.max_concurrent() == 2  # concurrent, within the host's two slots


def test_a_feed_without_full_text_fetches_no_page(tmp_path: Path) -> None:
    with LocalServer() as server:
        server.route("/a.html", html_page(page("news_en.html")))
        url = server.route("/feed.xml", feed(rss(server.url(""), ["/a.html"])))
        run = run_cli("update", "-c", str(write_config(tmp_path, url, full_text=False)))
        assert run.code == 0, run.err + run.out
        assert server.hits("/a.html") == server.hits("/robots.txt") == 0
        assert "full text" not in run.out


def test_full_text_rsshub_asks_the_instance_for_mode_fulltext(tmp_path: Path) -> None:
    asked: list[str] = []

    def instance(exchange: Exchange) -> None:
        asked.append(exchange.path)
        exchange.respond(200, rss("", ["http://example.com/1"]),
                         {"Content-Type": "application/rss+xml"})

    with LocalServer() as server:
        server.route("/test/full", instance)
        config = {
            "rsshub": {"instances": [server.url("")]},
            "routes": [{"path": "/test/full", "category": "测试", "source": "源",
                        "channel": "全文", "full_text": "rsshub"}],
            "output": {"state": "state", "hexo": None, "site": None},
        }
        path = tmp_path / "rsspage.yml"
        path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
        run = run_cli("update", "-c", str(path))
        assert run.code == 0, run.err + run.out
    assert asked == ["/test/full?mode=fulltext"]
    assert "full text" not in run.out  # RSSHub's to do: rsspage fetches no page


def test_full_text_rsshub_on_a_feed_is_a_config_error(tmp_path: Path) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:9/feed.xml", full_text="rsshub")
    run = run_cli("update", "-c", str(config))
    assert run.code == 2
    assert "full_text" in run.err and "rsshub is for routes" in run.err, run.err


def test_a_story_another_feed_brought_is_fetched_once(tmp_path: Path) -> None:
    """The same link from a summary-only feed and a full_text one: stored once, with the page's
    text; the next run fetches nothing and does not put the summary back."""
    with LocalServer() as server:
        server.route("/a.html", html_page(page("news_en.html")))
        plain = server.route("/plain.xml", feed(rss(server.url(""), ["/a.html"])))
        full = server.route("/full.xml", feed(rss(server.url(""), ["/a.html"])))
        config = {
            "feeds": [{"url": plain, "category": "测试", "source": "甲", "channel": "摘要"},
                      {"url": full, "category": "测试", "source": "乙", "channel": "全文",
                       "full_text": True}],
            "fetch": {"timeout": 5, "retries": 0},
            "output": {"state": "state", "hexo": None, "site": None},
        }
        path = tmp_path / "rsspage.yml"
        path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
        for args in (("update",), ("update", "--all")):
            run = run_cli(*args, "-c", str(path))
            assert run.code == 0, run.err + run.out
            assert server.hits("/a.html") == 1
            articles = stored(tmp_path)
            assert len(articles) == 1
            assert EN_BODY in articles[server.url("/a.html")][1]
        assert summary(run.out)["updated articles"] == "0"


def test_pages_queued_behind_a_slow_host_are_given_up_in_time(tmp_path: Path) -> None:
    """One slot for the host, pages of 0.4 s each, 0.5 s a page: the pass has 4 × 0.5 s, so
    some pages are given up (summary kept, counted) rather than waited for."""
    paths = [f"/news/{n}.html" for n in range(8)]
    with LocalServer() as server:
        for path in paths:
            server.route(path, slow(0.4, html_page(page("news_en.html"))))
        url = server.route("/feed.xml", feed(rss(server.url(""), paths)))
        config = write_config(tmp_path, url, {"per_host": 1, "timeout": 0.5})
        run = run_cli("update", "-c", str(config))
        assert run.code == 0, run.err + run.out
    fetched, failed = map(int, summary(run.out)["full text fetched / failed"].split(" / "))
    assert fetched + failed == 8
    assert fetched >= 2 and failed >= 2, run.out


# The store's side: which stories of a full_text feed are new, and what their copies keep.

SUMMARY = ("国产大模型再迎新进展，多家厂商在本周发布了新一代推理芯片，推理吞吐量提升约百分之六十，"
           "功耗下降三成，业内人士认为这将降低部署成本。")
FULL = SUMMARY + "据介绍，新芯片采用先进封装工艺，支持更大的模型规模，多家云厂商已经开始测试。" * 12


def article(id_: str, feed_key: str, link: str, text: str, title: str = ZH_TITLE) -> Any:
    from rsspage.types import Article

    return Article(id=id_, feed_key=feed_key, title=title, link=link, published=NOW,
                   date_estimated=False, date_clamped=False, updated=None, author="",
                   category="c", source=feed_key, channel="ch", content_html=f"<p>{text}</p>",
                   text=text, image="", content_hash=f"{id_}-{len(text)}")


def save(store: Any, item: Any, full_text: bool = False, hidden: frozenset[str] = frozenset()) -> Any:
    from rsspage.types import FeedSpec, FetchResult, FetchStatus

    spec = FeedSpec(key=item.feed_key, urls=(f"https://{item.feed_key}.example/feed",),
                    category="c", source=item.feed_key, channel="ch", full_text=full_text)
    return store.save_feed(spec, FetchResult(spec.key, FetchStatus.OK, spec.urls[0]), [item],
                           None, NOW, hidden=hidden)


def test_a_copy_joined_by_fingerprint_is_seen_and_never_gives_back_the_summary(
        tmp_path: Path) -> None:
    """m. and www. links: B's copy joins A's article by fingerprint. On the next run it is no
    new story (its page is not fetched again), it takes the stored text, and a copy that is only
    the summary (a page that failed) does not put the summary back."""
    from rsspage.fulltext import keep_stored
    from rsspage.store import Store

    with Store.open(tmp_path) as store:
        save(store, article("a1", "A", "https://www.site.example/n/1.html", SUMMARY))
        counts = save(store, article("b1", "B", "https://m.site.example/n/1.html", FULL), True)
        assert (counts.by_fingerprint, counts.richer) == (1, 1)
        again = article("b1", "B", "https://m.site.example/n/1.html", SUMMARY)
        assert store.unseen([again]) == set()
        kept = store.stored_stories([again])["b1"]
        assert kept.id == "a1" and kept.text == FULL
        assert keep_stored(again, kept).text == FULL
        save(store, again, True)  # as if its page had been fetched again and failed
        assert store.articles_by_id(["a1"])["a1"].text == FULL


def test_an_item_with_an_older_items_link_in_its_feed_is_new(tmp_path: Path) -> None:
    """A live page's link reused by the feed's next item: that item is a new story of its
    own (its page is fetched), not the older item's text under the new title."""
    from rsspage.store import Store

    link = "https://news.example/live"
    with Store.open(tmp_path) as store:
        save(store, article("y", "F", link, FULL, "快讯一：央行降准"), True)
        second = article("x", "F", link, "快讯二的摘要：某公司今天发布新品。", "快讯二：某公司发布新品")
        assert store.unseen([second]) == {"x"}
        assert store.stored_stories([second]) == {}


def test_a_hidden_copy_in_another_feed_does_not_block_the_page(tmp_path: Path) -> None:
    """Another feed's article that its filter rules hid is no copy of this feed's story."""
    from rsspage.store import Store

    with Store.open(tmp_path) as store:
        save(store, article("a1", "A", "https://news.example/a/1", SUMMARY), hidden=frozenset({"a1"}))
        mine = article("b1", "B", "https://news.example/a/1", SUMMARY)
        assert store.unseen([mine]) == {"b1"}
        assert store.stored_stories([mine]) == {}


# The page fetcher's side, in process: where a hostile feed may not send it, robots.txt as
# RFC 9309 reads it, and a link that breaks a parser.

PUBLIC_FEED = "https://feeds.example.com/feed"


def pass_of(links: list[str], feed_url: str = PUBLIC_FEED, **options: Any) -> tuple[Any, Any]:
    """(FeedText of one feed at ``feed_url`` whose articles link to ``links``, its articles)."""
    from rsspage.fetch import FetchOptions
    from rsspage.fulltext import Wanted, full_text
    from rsspage.types import FeedSpec

    spec = FeedSpec(key=feed_url, urls=(feed_url,), category="c", source="s", channel="ch",
                    full_text=True)
    items = [article(f"id{n}", feed_url, link, "一句话摘要") for n, link in enumerate(links)]
    [text] = full_text([Wanted(spec, items, {a.id for a in items})],
                       FetchOptions(**{"timeout": 3, "retries": 0, **options}))
    return text, text.articles


def test_a_feed_on_a_public_host_cannot_have_a_page_fetched_from_a_private_address(
        tmp_path: Path) -> None:
    """A hostile feed on feeds.example.com links to 127.0.0.1's admin page: refused before any
    request (robots.txt neither); the summary stays, counted as failed and to retry."""
    import asyncio

    from rsspage.fetch_pages import is_public, page_refusal

    with LocalServer() as server:
        admin = server.route("/admin", html_page(page("news_en.html")))
        text, [kept] = pass_of([admin])
        assert (text.fetched, text.failed, text.failed_ids) == (0, 1, {"id0"})
        assert kept.text == "一句话摘要"
        assert server.hits("/admin") == server.hits("/robots.txt") == 0
        why = asyncio.run(page_refusal(admin, PUBLIC_FEED))
        assert why is not None and "127.0.0.1 is not a public address" in why
        # a feed that is itself on 127.0.0.1 (a test server, the demo, a LAN) may name it
        assert asyncio.run(page_refusal(admin, server.url("/feed.xml"))) is None
        assert pass_of([admin], server.url("/feed.xml"))[0].fetched == 1
    for address in ("127.0.0.1", "10.1.2.3", "192.168.0.1", "172.16.0.1", "169.254.169.254",
                    "100.64.0.1", "0.0.0.0", "::1", "fe80::1", "fc00::1", "::ffff:127.0.0.1",
                    "2002:7f00:1::", "not an address"):
        assert not is_public(address), address
    for address in ("93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "::ffff:8.8.8.8"):
        assert is_public(address), address


def test_a_page_cannot_redirect_to_a_private_address(monkeypatch: Any) -> None:
    """The feed's host is public; its page (counted public here: 'localhost' stands for a
    public name, 127.0.0.1 stays private) redirects to a private address: not followed."""
    from rsspage import fetch_pages

    def allowed(host: str, addresses: Any) -> bool:
        return host != "127.0.0.1"

    monkeypatch.setattr(fetch_pages, "_allowed", allowed)
    with LocalServer() as server:
        admin = server.route("/admin", html_page(page("news_en.html")))
        server.route("/go", redirect(admin))
        text, _ = pass_of([server.url("/go").replace("127.0.0.1", "localhost")])
        assert (text.fetched, text.failed) == (0, 1)
        assert server.hits("/go") == 1 and server.hits("/admin") == 0


def test_connections_of_pages_of_a_public_feed_are_checked_when_opened() -> None:
    """Beyond the checks before each request: the clients of such pages connect only to
    public addresses (a name that resolved to a public address a moment before, then to a
    private one, cannot slip through)."""
    import asyncio

    from rsspage.fetch import Clients, Fetcher, FetchOptions
    from rsspage.fetch_pages import _PublicOnly
    from rsspage.types import FeedSpec, FeedState, FetchStatus

    async def fetch(url: str) -> Any:
        options = FetchOptions(timeout=3, retries=0, expect="page")
        async with Clients(options, _PublicOnly()) as clients:
            spec = FeedSpec(key=url, urls=(url,), category="", source="", channel="")
            return (await Fetcher(clients, options).feed(0, spec, FeedState()))[1]

    with LocalServer() as server:
        result = asyncio.run(fetch(server.route("/admin", html_page(page("news_en.html")))))
        assert result.status is FetchStatus.FAILED and "not a public address" in result.error
        assert server.hits("/admin") == 0


def test_a_link_that_breaks_the_robots_parser_costs_its_page_only() -> None:
    with LocalServer() as server:
        good = server.route("/a.html", html_page(page("news_en.html")))
        text, _ = pass_of(["http://example.com%5B/x", good], server.url("/feed.xml"))
        assert (text.fetched, text.failed, text.failed_ids) == (1, 1, {"id0"})


@pytest.mark.parametrize(("robots", "allowed", "refused"), [
    # RFC 9309: the longest match wins, whatever the order
    (b"User-agent: *\nAllow: /\nDisallow: /private/\n", ["/a.html"], ["/private/a.html"]),
    (b"User-agent: *\nDisallow: /news/\nAllow: /news/open/\n", ["/news/open/a.html"],
     ["/news/a.html"]),
    # "*" and "$"
    (b"User-agent: *\nDisallow: /*.php$\nDisallow: /*?\n", ["/a.html", "/a.php5"],
     ["/b.php", "/c.html?id=1"]),
    # a robots.txt served as a bot check page (a 200 the fetch rejects): nothing allowed
    (b"<html><head><title>Just a moment...</title></head><body>Checking your browser "
     b"before accessing. Enable JavaScript and cookies to continue</body></html>", [],
     ["/a.html"]),
    # its first 500 KiB are read: a rule past them is not
    (b"User-agent: *\nDisallow: /early/\n" + b"# padding\n" * 60_000 + b"Disallow: /\n",
     ["/a.html"], ["/early/a.html"]),
])
def test_robots_txt_is_read_as_rfc_9309_says(robots: bytes, allowed: list[str],
                                            refused: list[str]) -> None:
    with LocalServer() as server:
        kind = "text/html" if robots.startswith(b"<html>") else "text/plain"
        server.route("/robots.txt", respond(200, robots, {"Content-Type": kind}))
        for path in allowed + refused:
            server.route(path.split("?")[0], html_page(page("news_en.html")))
        text, _ = pass_of([server.url(p) for p in allowed + refused], server.url("/feed.xml"))
        assert (text.fetched, text.failed) == (len(allowed), len(refused))
        assert all(server.hits(p.split("?")[0]) == 0 for p in refused)


def test_robots_txt_of_the_origin_a_page_redirects_to_is_obeyed() -> None:
    with LocalServer() as site, LocalServer() as other:
        other.route("/robots.txt", respond(200, b"User-agent: *\nDisallow: /closed/\n",
                                           {"Content-Type": "text/plain"}))
        other.route("/closed/a.html", html_page(page("news_en.html")))
        site.route("/a.html", redirect(other.url("/closed/a.html")))
        text, _ = pass_of([site.url("/a.html")], site.url("/feed.xml"))
        assert (text.fetched, text.failed) == (0, 1)
        assert site.hits("/a.html") == 1 and other.hits("/robots.txt") == 1
        assert other.hits("/closed/a.html") == 0


def test_extraction_is_bounded_in_size_and_in_time(monkeypatch: Any) -> None:
    """trafilatura is given at most EXTRACT_MAX_CHARS of a page, cut at a tag; once the run's
    EXTRACT_SECONDS are spent, the pages left keep their summary (counted)."""
    from rsspage import fulltext

    given: list[int] = []
    real = fulltext._trafilatura()

    class Spy:
        @staticmethod
        def extract(html: str, **settings: Any) -> Any:
            given.append(len(html))
            assert html.endswith("</p>\n"), html[-20:]
            return real.extract(html, **settings)

    monkeypatch.setattr(fulltext, "_trafilatura", lambda: Spy)
    monkeypatch.setattr(fulltext, "EXTRACT_MAX_CHARS", 100_000)  # 1.5 MB takes seconds
    body = ("<html><body><article>" + "<p>这是一段很长的新闻正文，用来测试抽取器在大页面上的耗时。</p>\n" * 6_000
            + "</article></body></html>").encode()
    html = fulltext.extract(body, {"content-type": "text/html; charset=utf-8"}, "http://x/")
    assert html is not None and "新闻正文" in html
    assert given and given[0] <= fulltext.EXTRACT_MAX_CHARS < len(body.decode())

    monkeypatch.setattr(fulltext, "EXTRACT_SECONDS", 0.0)
    with LocalServer() as server:
        good = server.route("/a.html", html_page(page("news_en.html")))
        text, _ = pass_of([good], server.url("/feed.xml"))
        assert (text.fetched, text.failed) == (0, 1)
