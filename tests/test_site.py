"""The built-in static site: pages, links, images, CSP, incremental builds, Pagefind search.

Sites are built into tmp_path from Article values through the real OutputWriter, and read back
with lxml.html. Search is checked by running Pagefind's own ``pagefind.js`` under Node on the
written bundles (no browser; the browser test drives Chromium).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo

import lxml.html
import pytest

from rsspage.config import Config, parse_config
from rsspage.errors import PublishError
from rsspage.publish import (
    feed_folders,
    feeds_out,
    search_index,
    search_pagefind,
    search_tiers,
    site_pages,
)
from rsspage.publish.names import clash_key
from rsspage.publish.outputs import write_site
from rsspage.publish.site import SiteResult
from rsspage.publish.site_model import RESERVED, article_path, build_model, child_segments
from rsspage.publish.write_stats import WriteStats
from rsspage.store import FeedHealth
from rsspage.types import Article

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
PAGE_SIZE = 5
#: (category, source, channel) of the test feeds: Chinese, English, and names needing care.
FEEDS = [
    ("新媒体", "快科技", "最新新闻"),
    ("新媒体", "快科技", "排行榜"),
    ("新媒体", "36氪", "快讯"),
    ("Tech", "Hacker News", "Front page"),
    ("Tech", "AC/DC: a|b", "page"),
]
FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"


def make_article(n: int, feed: int | None = None, **changes: object) -> Article:
    """Article number ``n``: a new one every 3 hours, newest with the highest ``n``."""
    category, source, channel = FEEDS[n % len(FEEDS) if feed is None else feed]
    chinese = n % 2 == 0
    title = f"小米发布第{n}款芯片" if chinese else f"Quantum computing milestone number {n}"
    image = f"http://127.0.0.1:9/img/{n}.jpg" if n % 3 else ""
    body = (f"<p>正文第{n}段：半导体工艺与芯片设计。</p>" if chinese
            else f"<p>Paragraph {n} about qubits &amp; error correction.</p>")
    if image:
        body = (f'<p><img src="{image}" alt="" referrerpolicy="no-referrer" loading="lazy"></p>'
                + body)
    base = Article(
        id=f"{n:04d}{'ab' * 8}", feed_key=f"/feed/{category}/{source}/{channel}",
        title=title, link=f"https://news.example.com/{n}.html",
        published=NOW - timedelta(hours=3 * (100 - n)), date_estimated=False,
        date_clamped=False, updated=None, author=source, category=category, source=source,
        channel=channel, content_html=body,
        text=("半导体工艺与芯片设计 " if chinese else "qubits and error correction ") * 3,
        image=image, content_hash=f"hash-{n}",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


ARTICLES = [make_article(n) for n in range(40)]
HEALTH = [
    FeedHealth(key="/kkj/news", url="http://127.0.0.1:1/kkj/news", title="快科技", category="新媒体", source="快科技", channel="最新新闻",
               last_success="2026-11-20T08:00:00+00:00", last_error=None, last_status="ok",
               consecutive_failures=0, articles=8, recent=3),
    FeedHealth(key="/36kr/newsflashes", url="http://127.0.0.1:1/36kr/newsflashes", title="36氪",
               category="新媒体", source="36氪", channel="快讯",
               last_success="2026-11-18T08:00:00+00:00", last_error="HTTP 503 <b>busy</b>",
               last_status="failed", consecutive_failures=4, articles=8, recent=0),
]


@dataclass
class Site:
    folder: Path
    config: Config
    hashes: dict[str, str]

    @property
    def root(self) -> Path:
        return self.folder / "public"

    def build(self, articles: Sequence[Article] = ARTICLES,
              health: Sequence[FeedHealth] = HEALTH) -> tuple[SiteResult, WriteStats]:
        result, stats = write_site(self.config, articles, health, self.hashes)
        self.hashes = result.page_hashes
        return result, stats

    def page(self, relpath: str) -> lxml.html.HtmlElement:
        return lxml.html.fromstring((self.root / relpath).read_bytes())


def make_site(folder: Path, extra: str = "") -> Site:
    path = folder / "rsspage.yml"
    path.write_text(
        "site: {title: 小冰 RSSHub, language: zh-CN, timezone: Asia/Shanghai}\n"
        f"routes: [/kkj/news]\noutput: {{page_size: {PAGE_SIZE}}}\n{extra}",
        encoding="utf-8",
    )
    return Site(folder, parse_config(path.read_text(encoding="utf-8"), path), {})


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Site:
    site = make_site(tmp_path_factory.mktemp("site"))
    site.build()
    return site


def html_files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*.html")):
        if "pagefind" not in path.relative_to(root).parts:
            yield path


_SIMPLE = re.compile(r'([a-z0-9*]*)((?:[.#][\w-]+|\[[\w-]+(?:="[^"]*")?\])*)')
_PART = re.compile(r'([.#])([\w-]+)|\[([\w-]+)(?:="([^"]*)")?\]')


def select(node: lxml.html.HtmlElement, selector: str) -> list[lxml.html.HtmlElement]:
    """The few CSS selectors these tests use (tag, .class, #id, [attr], [attr="v"], descendant,
    comma), as XPath: lxml's own cssselect needs a package rsspage does not depend on."""
    paths = []
    for group in selector.split(","):
        steps = []
        for simple in group.split():
            match = _SIMPLE.fullmatch(simple)
            assert match, simple
            tests = []
            for dot, name, attr, value in _PART.findall(match.group(2)):
                if dot == ".":
                    tests.append(f"contains(concat(' ', normalize-space(@class), ' '), ' {name} ')")
                elif dot == "#":
                    tests.append(f"@id='{name}'")
                else:
                    tests.append(f"@{attr}='{value}'" if value else f"@{attr}")
            steps.append((match.group(1) or "*") + "".join(f"[{t}]" for t in tests))
        paths.append(".//" + "//".join(steps))
    result: list[lxml.html.HtmlElement] = node.xpath(" | ".join(paths))
    return result


def texts(nodes: Sequence[lxml.html.HtmlElement]) -> list[str]:
    return [" ".join(n.text_content().split()) for n in nodes]


# --------------------------------------------------------------------------- pages


def test_home_shows_newest_cards_with_safe_images(built: Site) -> None:
    home = built.page("index.html")
    cards = select(home, ".cards li")
    assert len(cards) == PAGE_SIZE
    titles = texts(select(home, ".cards h2"))
    assert titles[0] == ARTICLES[39].title and titles[1] == ARTICLES[38].title
    times = [t.get("datetime") for t in select(home, ".cards time")]
    assert times == sorted(times, reverse=True)
    images = select(home, ".cards img")
    assert images, "cards of articles with a picture show it"
    for img in images:
        assert img.get("referrerpolicy") == "no-referrer" and img.get("loading") == "lazy"
    frames = select(home, ".cards .thumb")
    assert len(frames) == len(images) < PAGE_SIZE, (
        "a card without picture is a text card: no empty frame")
    meta = texts(select(home, ".cards .meta"))[0]
    assert meta.startswith("AC/DC: a|b › page · ")  # article 39 is in FEEDS[39 % 5]
    summaries = home.xpath("//ol[@class='cards']/li/div/p[not(@class)]")
    assert len(summaries) == PAGE_SIZE and summaries[0].text_content().startswith("qubits")


def test_every_page_has_csp_referrer_and_no_inline_code(built: Site) -> None:
    pages = list(html_files(built.root))
    assert len(pages) > 60
    for path in pages:
        doc = lxml.html.fromstring(path.read_bytes())
        csp = doc.xpath('//meta[@http-equiv="Content-Security-Policy"]/@content')
        assert len(csp) == 1, path
        policy = str(csp[0])
        for rule in ("default-src 'none'", "script-src 'self'", "style-src 'self'",
                     "img-src * data:", "object-src 'none'", "base-uri 'none'"):
            assert rule in policy, (path, rule)
        assert "unsafe-inline" not in policy
        assert ("wasm-unsafe-eval" in policy) == (path.name == "search.html")
        assert doc.xpath('//meta[@name="referrer"]/@content') == ["no-referrer"], path
        assert not doc.xpath("//script[not(@src)]"), f"inline script in {path}"
        assert not doc.xpath("//style | //*[@style] | //*[@*[starts-with(name(), 'on')]]")
        for img in doc.iter("img"):
            assert img.get("referrerpolicy") == "no-referrer", path
            assert img.get("loading") == "lazy", path


def test_relative_links_resolve_to_files(built: Site) -> None:
    checked = 0
    for path in html_files(built.root):
        doc = lxml.html.fromstring(path.read_bytes())
        for node, attr, link, _pos in doc.iterlinks():
            parts = urlsplit(link)
            if parts.scheme or link.startswith(("//", "#")) or node.tag == "form":
                continue
            assert not link.startswith("/"), f"{path}: root-relative link {link}"
            target = (path.parent / unquote(parts.path)).resolve()
            assert target.is_relative_to(built.root.resolve()), f"{path}: {link} leaves site"
            assert target.is_file(), f"{path.relative_to(built.root)}: {attr}={link}"
            checked += 1
    assert checked > 1000


def test_article_page(built: Site) -> None:
    article = ARTICLES[12]
    category, source, channel = FEEDS[12 % len(FEEDS)]  # 新媒体 › 36氪 › 快讯
    doc = built.page(article_path(article.id))
    assert texts(select(doc, "h1.post-title")) == [article.title]
    assert select(doc, "article[data-pagefind-body]")
    content = select(doc, ".content")[0]
    assert "正文第12段" in content.text_content()
    assert select(content, "p"), "sanitised HTML is inserted as markup, not escaped"
    original = select(doc, ".original a")[0]
    assert original.get("href") == article.link
    # Shown in Asia/Shanghai, eight hours ahead of UTC.
    shown = select(doc, ".post .meta time")[0]
    assert shown.text == (article.published + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M")
    assert shown.get("datetime").endswith("+08:00")
    crumbs = texts(select(doc, ".crumbs a, .crumbs [aria-current]"))
    assert crumbs == ["首页", category, source, channel]
    # Previous/next stay within the channel: articles 7 and 17 share article 12's channel.
    older = select(doc, ".prevnext a.older")[0]
    newer = select(doc, ".prevnext a.newer")[0]
    assert older.get("href") == "../../" + article_path(ARTICLES[7].id)
    assert newer.get("href") == "../../" + article_path(ARTICLES[17].id)
    assert ARTICLES[7].title in older.text_content()


def test_titles_and_errors_are_escaped(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    evil = make_article(50, title='<script>alert("x")</script> & <b>bold</b>',
                        content_html="<p>safe</p>", image="")
    site.build([*ARTICLES, evil])
    raw = (site.root / article_path(evil.id)).read_text(encoding="utf-8")
    assert "<script>alert" not in raw and "&lt;script&gt;alert" in raw
    health = (site.root / "health.html").read_text(encoding="utf-8")
    assert "<b>busy</b>" not in health and "&lt;b&gt;busy&lt;/b&gt;" in health


def test_listing_pages_breadcrumbs_and_stable_pagination(built: Site) -> None:
    category, source, channel = FEEDS[0]
    folder = f"c/{category}/{source}/{channel}/"
    index = built.page(folder + "index.html")
    assert texts(select(index, ".crumbs a, .crumbs [aria-current]")) == [
        "首页", category, source, channel]
    assert select(index, ".crumbs a")[1].get("href") == (
        "../../../../c/%E6%96%B0%E5%AA%92%E4%BD%93/index.html")
    # 8 articles in this channel, all in November, 5 a page: the index shows the newest 5;
    # the month's pages hold the oldest 5, then the newest 3.
    assert len(select(index, ".cards li")) == PAGE_SIZE
    first = built.page(folder + "page/2026-11.html")
    expected = [a.title for a in ARTICLES if a.channel == channel and a.source == source]
    assert texts(select(first, ".cards h2")) == expected[:PAGE_SIZE][::-1]
    assert "2026-11" in texts(select(first, "h1"))[0]
    second = built.page(folder + "page/2026-11.2.html")
    assert texts(select(second, ".cards h2")) == expected[PAGE_SIZE:][::-1]
    assert select(index, '.pager a[rel="next"]')[0].get("href").endswith("/page/2026-11.html")
    # Home: 40 articles in November → 8 pages of the month; the index shows the newest 5 and
    # links "older" to the 7th, which holds the next older ones.
    assert texts(select(built.page("page/2026-11.html"), ".cards h2"))[-1] == ARTICLES[0].title
    assert (built.root / "page" / "2026-11.8.html").is_file()
    assert not (built.root / "page" / "2026-11.9.html").exists()
    assert select(built.page("index.html"), '.pager a[rel="next"]')[0].get(
        "href") == "page/2026-11.7.html"


def test_category_index_counts(built: Site) -> None:
    doc = built.page("c/index.html")
    sections = select(doc, "section.category")
    assert texts([select(s, "h2 a")[0] for s in sections]) == ["Tech", "新媒体"]
    rows = {texts(select(r, "td"))[0]: r for s in sections for r in select(s, "tbody tr")}
    assert set(rows) == {"快科技", "36氪", "Hacker News", "AC/DC: a|b"}
    assert texts(select(rows["快科技"], "td.num")) == ["16"]
    assert texts(select(rows["36氪"], "td.num")) == ["8"]
    newest_36kr = max((a for a in ARTICLES if a.source == "36氪"), key=lambda a: a.published)
    assert select(rows["36氪"], "time")[0].text == (
        newest_36kr.published + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M")


def test_unsafe_names_get_safe_distinct_folders(built: Site) -> None:
    names = ["AC/DC: a|b", "AC／DC： a｜b", "page", "Page", "..", "index.html", "新媒体"]
    segments = child_segments(names)
    assert len({clash_key(s) for s in segments.values()}) == len(names)
    for name, segment in segments.items():
        assert "/" not in segment and segment not in (".", "..")
        assert clash_key(segment) not in {clash_key(r) for r in RESERVED}, name
    assert segments["新媒体"] == "新媒体"
    # The channel called "page" of source "AC/DC: a|b" got its own folder, beside page/.
    source_dir = built.root / "c" / "Tech" / segments["AC/DC: a|b"]
    assert (source_dir / segments["page"] / "index.html").is_file()


def test_archive_by_day(built: Site) -> None:
    doc = built.page("archive/index.html")
    days = texts(select(doc, ".days a"))
    assert days == sorted(days, reverse=True) and len(days) == len(set(days))
    local = [(a.published + timedelta(hours=8)) for a in ARTICLES]
    assert days[0] == max(local).strftime("%Y-%m-%d")
    day = built.page(f"archive/{days[0]}.html")
    titles = texts(select(day, ".rows a"))
    expected = [a for a, t in zip(ARTICLES, local, strict=True)
                if t.strftime("%Y-%m-%d") == days[0]]
    assert titles == [a.title for a in sorted(expected, key=lambda a: a.published,
                                              reverse=True)]


def test_404_health_and_search_pages(built: Site) -> None:
    missing = built.page("404.html")
    assert "404" in texts(select(missing, "h1"))[0]
    assert select(missing, 'a[href="index.html"]')
    health = built.page("health.html")
    rows = select(health, "tbody tr")
    assert len(rows) == 2
    bad = select(health, "tr.bad")[0]
    cells = texts(select(bad, "td"))
    assert "HTTP 503" in cells[2] and cells[3] == "4" and cells[1] == "2026-11-18 16:00"
    search = built.page("search.html")
    status = search.get_element_by_id("search-status")
    assert int(status.get("data-shards")) >= 1
    assert search.xpath('//script[@type="module"]/@src')[0].startswith("static/search.js")


def test_404_uses_the_site_path_when_known(tmp_path: Path) -> None:
    site = make_site(tmp_path, "")
    site.config = replace(site.config,
                          site=replace(site.config.site, url="https://me.github.io/news/"))
    site.build(ARTICLES[:3])
    doc = site.page("404.html")
    assert select(doc, 'a[href="/news/index.html"]')
    assert doc.xpath("//link[@rel='stylesheet']/@href")[0].startswith("/news/static/")


def test_static_assets_are_small_and_local(built: Site) -> None:
    static = built.root / "static"
    size = sum((static / n).stat().st_size for n in ("site.css", "site.js"))
    assert size < 50_000
    css = (static / "site.css").read_text(encoding="utf-8")
    assert "prefers-color-scheme: dark" in css and "@import" not in css and "http" not in css
    assert (static / "placeholder.svg").is_file()


# --------------------------------------------------------------------------- incremental


def mtimes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*")
            if p.is_file() and "pagefind" not in p.relative_to(root).parts
            and not p.name.startswith(".rsspage-")}  # rsspage's records of its files


def test_rebuild_without_change_renders_nothing(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    first, _ = site.build()
    assert first.rendered > 60 and first.skipped == 0
    before = mtimes(site.root)
    second, stats = site.build()
    assert (second.rendered, second.skipped) == (0, first.rendered)
    assert second.search_shards_rebuilt == 0
    assert stats.written == 0 and stats.removed == 0
    assert mtimes(site.root) == before


def test_new_articles_touch_few_pages(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    site.build()
    old_hashes = dict(site.hashes)
    before = mtimes(site.root)
    result, _ = site.build([*ARTICLES, make_article(40), make_article(41)])
    # Two article pages, their two older neighbours, index/numbered pages of home and of the
    # two channels, sources and categories, the category index, the archive and its day.
    assert result.rendered <= 22, result.rendered
    changed = {p for p, t in mtimes(site.root).items() if before.get(p) != t}
    pages = {p for p in changed if p.endswith(".html")}
    assert len(pages) <= result.rendered
    # Besides pages, only the feeds that list the new articles change: site, category, source.
    others = changed - pages
    assert all(p.startswith("feeds/") for p in others), others
    assert len(others) <= 3 * 5, others
    assert not any(p.startswith("a/") for p in changed - {
        article_path(make_article(n).id) for n in (35, 36, 40, 41)})
    # Home had November's pages 1-8; page 9 is new and page 8 now links "newer" to it.
    numbered = sorted(p for p in changed if p.startswith("page/"))
    assert numbered == ["page/2026-11.8.html", "page/2026-11.9.html"]
    kept = ["page/2026-11.html", *(f"page/2026-11.{k}.html" for k in range(2, 8))]
    assert all(site.hashes[p] == old_hashes[p] for p in kept)


def test_a_late_article_changes_only_its_own_periods_pages(tmp_path: Path) -> None:
    """Listing pages are cut by month (or day), not by position: an article dated weeks back
    (a feed added with old items) adds or changes its own month's page, and the next page's
    link to it, never every page after its date."""
    site = make_site(tmp_path)
    site.build()
    old_hashes = dict(site.hashes)
    late = make_article(90, published=datetime(2026, 10, 15, 12, 0, tzinfo=UTC))
    site.build([*ARTICLES, late])
    home = {p for p in site.hashes if p.startswith("page/")}
    changed = sorted(p for p in home if site.hashes[p] != old_hashes.get(p))
    assert changed == ["page/2026-10.html", "page/2026-11.html"]  # new; its "older" link


def test_a_crowded_month_is_paged_by_day(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(site_pages, "DAY_SPLIT_PAGES", 2)  # > 10 articles a month: by day
    model = build_model(ARTICLES, ZoneInfo("Asia/Shanghai"))
    paths = [p.path for p in site_pages.listing_pages(model.views, "", None, PAGE_SIZE, [])]
    assert paths[0] == "index.html"
    days = sorted({v.day for v in model.views})
    assert paths[1] == f"page/{days[0]}.html" and all("page/2026-11-" in p for p in paths[1:])
    per_day = {d: sum(v.day == d for v in model.views) for d in days}
    expected = sum((n + PAGE_SIZE - 1) // PAGE_SIZE for n in per_day.values())
    assert len(paths) == 1 + expected


def test_removed_articles_lose_their_pages(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    site.build()
    gone = ARTICLES[0]
    _, stats = site.build(ARTICLES[1:])
    assert stats.removed >= 1
    assert not (site.root / article_path(gone.id)).exists()


def test_user_template_overrides_and_rerenders(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    site.build(ARTICLES[:6])
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "404.html").write_text(
        '{% extends "base.html" %}{% block main %}<p id="mine">走丢了 {{ t.home }}</p>'
        "{% endblock %}", encoding="utf-8")
    result, _ = site.build(ARTICLES[:6])
    assert texts(select(site.page("404.html"), "#mine")) == ["走丢了 首页"]
    assert result.skipped == 0, "a changed template set re-renders every page"


def test_broken_user_template_is_a_publish_error(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "health.html").write_text("{% block x %}", encoding="utf-8")
    with pytest.raises(PublishError, match=r"health\.html"):
        site.build(ARTICLES[:3])


def test_empty_site_builds(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    result, _ = site.build([], [])
    assert result.rendered >= 6
    assert not select(site.page("index.html"), ".cards li")


def test_real_feed_content_renders(tmp_path: Path) -> None:
    """Pages from real hostile feed HTML (feedparser's sanitizer fixtures) stay inert."""
    from rsspage.errors import ParseError
    from rsspage.parse import parse_feed
    from rsspage.sanitise import sanitise_html

    samples = sorted((FIXTURES / "feedparser" / "wellformed" / "sanitize").glob("*.xml"))
    bodies = []
    for path in samples[:120]:
        try:
            parsed = parse_feed(path.read_bytes(), {}, "https://example.com/feed")
        except ParseError:
            continue
        for entry in parsed.entries:
            raw = entry.content_html or entry.summary_html
            if raw:
                bodies.append(sanitise_html(raw, "https://example.com/"))
    assert len(bodies) > 30
    articles = [make_article(n, content_html=body) for n, body in enumerate(bodies)]
    site = make_site(tmp_path)
    site.build(articles)
    for article in articles:
        doc = site.page(article_path(article.id))
        assert not doc.xpath("//script[not(@src)] | //*[@*[starts-with(name(), 'on')]]")
        assert not doc.xpath("//iframe | //object | //embed | //*[@style]")


# --------------------------------------------------------------------------- search

NODE_QUERY = r"""
import { readFile } from "node:fs/promises";
import { pathToFileURL, fileURLToPath } from "node:url";
// pagefind.js fetches its index relative to itself; serve file: URLs from disk.
const realFetch = globalThis.fetch;
globalThis.fetch = async (input, init) => {
  const url = typeof input === "string" ? input : input.url;
  if (url.startsWith("file:")) return new Response(await readFile(fileURLToPath(url)));
  return realFetch(input, init);
};
// As the search page does: the layout names the runtime bundle and the shards to merge into it.
const [root, ...queries] = process.argv.slice(2);
const layout = JSON.parse(await readFile(`${root}/pagefind/rsspage-shards.json`, "utf-8"));
const bundle = (k) => pathToFileURL(`${root}/pagefind/${k}/`).href;
const pf = await import(bundle(layout.runtime) + "pagefind.js");
await pf.options({ baseUrl: "/" });
for (const shard of layout.shards) {
  if (shard.folder !== null) await pf.mergeIndex(bundle(shard.folder), { baseUrl: "/" });
}
const out = {};
for (const q of queries) {
  const r = await pf.search(q);
  const data = await Promise.all(r.results.map((x) => x.data()));
  out[q] = data.map((d) => ({ url: d.url, title: d.meta.title, excerpt: d.excerpt, t: d.meta.t }));
}
console.log(JSON.stringify(out));
"""


def run_queries(root: Path, *queries: str) -> dict[str, list[dict[str, str]]]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is needed to run pagefind.js outside a browser")
    script = root.parent / "query.mjs"
    script.write_text(NODE_QUERY, encoding="utf-8")
    out = subprocess.run([node, str(script), str(root), *queries],
                         capture_output=True, text=True, timeout=60, check=True)
    result: dict[str, list[dict[str, str]]] = json.loads(out.stdout)
    return result


def shard_folders(root: Path) -> list[int]:
    """The folders of the search shards, oldest first, as the layout names them."""
    layout = json.loads((root / "pagefind" / search_tiers.LAYOUT_NAME).read_bytes())
    return [s["folder"] for s in layout["shards"] if s["folder"] is not None]


def test_search_finds_chinese_and_english_across_shards(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert search_index.find_binary(), "pip install 'pagefind[extended]'"
    # 41 articles → shards of 16, 16 (level 1), 8 and 1 (level 0), each its own bundle.
    monkeypatch.setattr(search_tiers, "TIERS", search_tiers.Tiers(level0=8, fanout=2, top=1))
    site = make_site(tmp_path)
    special = make_article(41, title="华为新款芯片发布", text="麒麟芯片采用新工艺，性能提升。")
    result, _ = site.build([*ARTICLES, special])
    assert result.search_shards_rebuilt == 4
    folders = shard_folders(site.root)
    assert len(folders) == 4
    for k in folders:
        bundle = site.root / "pagefind" / str(k)
        assert (bundle / "pagefind-entry.json").is_file()
        assert not (bundle / "pagefind.js").exists()  # the runtime bundle's serves them all
    hits = run_queries(site.root, "芯片", "麒麟", "qubits", "量子计算机")
    chinese = {h["url"] for h in hits["芯片"]}
    assert "/" + article_path(special.id) in chinese
    assert len(chinese) == 21  # the 20 Chinese articles of ARTICLES, and the special one
    assert [h["url"] for h in hits["麒麟"]] == ["/" + article_path(special.id)]
    assert "<mark>麒麟</mark>" in hits["麒麟"][0]["excerpt"]
    assert len(hits["qubits"]) == 20
    assert hits["量子计算机"] == []

    # Unchanged shards are not rebuilt; a new article re-indexes only the newest shard.
    entry = site.root / "pagefind" / str(folders[0]) / "pagefind-entry.json"
    stamp = entry.stat().st_mtime_ns
    again, _ = site.build([*ARTICLES, special])
    assert again.search_shards_rebuilt == 0
    newer = make_article(42, title="新芯片 newest", text="最新的芯片")
    third, _ = site.build([*ARTICLES, special, newer])
    assert third.search_shards_rebuilt == 1 and third.search.records == 2
    assert shard_folders(site.root)[:3] == folders[:3]
    assert entry.stat().st_mtime_ns == stamp
    assert "/" + article_path(newer.id) in {h["url"] for h in run_queries(
        site.root, "最新")["最新"]}

    # Fewer articles → fewer shards: the folders no layout names go away.
    site.build(ARTICLES[:20])
    layout = json.loads((site.root / "pagefind" / search_tiers.LAYOUT_NAME).read_bytes())
    names = {p.name for p in (site.root / "pagefind").iterdir()}
    assert names == {search_tiers.LAYOUT_NAME, str(layout["runtime"]),
                     *map(str, shard_folders(site.root))}


def test_failing_pagefind_leaves_the_site_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("PAGEFIND_BINARY_PATH", shutil.which("false") or "/bin/false")
    site = make_site(tmp_path)
    result, _ = site.build(ARTICLES[:5])
    assert not result.search_available
    assert "search index was not updated" in caplog.text
    assert (site.root / "index.html").is_file()
    assert not any(key.startswith("pagefind/") for key in result.page_hashes)
    monkeypatch.delenv("PAGEFIND_BINARY_PATH")
    again, _ = site.build(ARTICLES[:5])
    assert again.search_available and again.search_shards_rebuilt == 1


def test_site_links_match_the_pages(built: Site) -> None:
    links = built.build()[0].links  # nothing changed: a rebuild returns the same links
    for article in ARTICLES:
        assert (built.root / unquote(links.article_page(article))).is_file()
        assert (built.root / unquote(links.category_page(article.category))).is_file()
        page = links.source_page(article.category, article.source)
        assert page.endswith("/index.html") and (built.root / unquote(page)).is_file()


def test_without_pagefind_the_search_page_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAGEFIND_BINARY_PATH", str(tmp_path / "no-such-pagefind"))
    site = make_site(tmp_path)
    result, _ = site.build(ARTICLES[:5])
    assert not result.search_available and result.rendered > 5
    status = site.page("search.html").get_element_by_id("search-status")
    assert status.get("data-shards") == "0"
    assert not (site.root / "pagefind").exists()


def test_unchanged_feed_folders_and_sitemap_are_not_rendered_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = make_site(tmp_path)
    site.config = replace(site.config, site=replace(site.config.site, url="https://n.example/"))
    rendered: list[str] = []
    render_group, sitemaps = feed_folders.render_group, feeds_out.sitemaps

    def counting_render(feeds: feed_folders.SiteFeeds, group: feed_folders.FeedGroup
                        ) -> dict[str, bytes]:
        rendered.append(group.folder)
        return render_group(feeds, group)

    def counting_sitemaps(*args: Any, **kwargs: Any) -> dict[str, bytes]:
        rendered.append("sitemap")
        return sitemaps(*args, **kwargs)

    monkeypatch.setattr(feed_folders, "render_group", counting_render)
    monkeypatch.setattr(feeds_out, "sitemaps", counting_sitemaps)
    site.build()
    folders = {f for f in rendered if f != "sitemap"}
    assert "sitemap" in rendered and len(folders) == 1 + 2 + 4  # site, categories, sources
    rendered.clear()
    site.build()
    assert rendered == []
    # One new article: the site's feeds, its category's and its source's, and the sitemap.
    newest = make_article(40)
    site.build([*ARTICLES, newest])
    cat, src = site.root / "feeds" / newest.category, newest.source
    assert sorted(rendered) == sorted(["feeds/", f"feeds/{newest.category}/",
                                       f"feeds/{newest.category}/{src}/", "sitemap"])
    assert (cat / src / "atom.xml").read_bytes().count(newest.title.encode()) == 1
    # A feed file deleted by hand is written again, from its folder alone.
    rendered.clear()
    (cat / "rss.xml").unlink()
    site.build([*ARTICLES, newest])
    assert rendered == [f"feeds/{newest.category}/"] and (cat / "rss.xml").is_file()


def test_content_loaded_on_demand_gives_the_same_site(tmp_path: Path) -> None:
    """``publish_site`` reads articles without their content and loads it for the pages and
    feeds it renders: the site is the same, and a rebuild with no change loads nothing."""
    (tmp_path / "whole").mkdir()
    (tmp_path / "lazy").mkdir()
    whole = make_site(tmp_path / "whole")
    whole.build()
    asked: list[str] = []

    def load(ids: Iterable[str]) -> dict[str, str]:
        wanted = set(ids)
        asked.extend(wanted)
        return {a.id: a.content_html for a in ARTICLES if a.id in wanted}

    lazy = make_site(tmp_path / "lazy")
    bare = [replace(a, content_html="") for a in ARTICLES]
    result, _ = write_site(lazy.config, bare, HEALTH, {}, load)
    assert set(asked) == {a.id for a in ARTICLES}
    files = sorted(p.relative_to(whole.root) for p in whole.root.rglob("*")
                   if p.is_file() and "pagefind" not in p.parts)
    assert files == sorted(p.relative_to(lazy.root) for p in lazy.root.rglob("*")
                           if p.is_file() and "pagefind" not in p.parts)
    different = [f for f in files if (whole.root / f).read_bytes() != (lazy.root / f).read_bytes()]
    assert different == []
    asked.clear()
    write_site(lazy.config, bare, HEALTH, result.page_hashes, load)
    assert asked == []


def test_a_failed_build_leaves_the_site_and_its_search_index_as_they_were(
    tmp_path: Path,
) -> None:
    site = make_site(tmp_path)
    site.build(ARTICLES[:30])
    before = {p: p.read_bytes() for p in site.root.rglob("*") if p.is_file()}
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "article.html").write_text("{{ no_such_value }}", "utf-8")
    with pytest.raises(PublishError, match=r"article\.html"):
        site.build(ARTICLES)  # new articles: the search thread rebuilds a shard meanwhile
    after = {p: p.read_bytes() for p in site.root.rglob("*") if p.is_file()}
    assert after == before
    # One shard, the runtime bundle and the layout: nothing of the failed build is left.
    assert sorted(p.name for p in (site.root / "pagefind").iterdir()) == [
        "1", "2", search_tiers.LAYOUT_NAME]


def test_a_search_folder_leading_outside_is_refused(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    site.root.mkdir()
    (site.root / "pagefind").symlink_to(outside, target_is_directory=True)
    with pytest.raises(PublishError, match="outside"):
        site.build(ARTICLES[:5])
    assert list(outside.iterdir()) == []
    assert not (site.root / "index.html").exists()  # the build failed whole


@pytest.mark.parametrize("files", [
    {},  # no entry
    {"pagefind-entry.json": b"{not json"},
    {"pagefind-entry.json": b'{"languages": {"zh": {"hash": "zh_1"}}}'},  # its metadata missing
    {"pagefind-entry.json": b'{"languages": {}}', "pagefind.js": b""},  # an empty file
    {"pagefind-entry.json": b'{"languages": {}}', "../escape.js": b"x"},
    {"pagefind-entry.json": b'{"languages": {}}', "fragment//x": b"x"},
])
def test_an_incomplete_search_bundle_is_refused(files: dict[str, bytes]) -> None:
    with pytest.raises(search_index.SearchIndexError):
        search_pagefind._check_bundle(files, runtime=False)


def test_a_runtime_bundle_without_script_or_webassembly_is_refused() -> None:
    entry = b'{"languages": {"zh": {"hash": "zh_1", "wasm": null}}}'
    whole = {"pagefind-entry.json": entry, "pagefind.zh_1.pf_meta": b"m",
             "pagefind.js": b"js", "pagefind-worker.js": b"js", "wasm.unknown.pagefind": b"w"}
    search_pagefind._check_bundle(whole, runtime=True)
    for name in ("pagefind.js", "pagefind-worker.js", "wasm.unknown.pagefind"):
        with pytest.raises(search_index.SearchIndexError):
            search_pagefind._check_bundle({k: v for k, v in whole.items() if k != name},
                                          runtime=True)
