"""A site built from the changes alone equals a site built from scratch (issue 10).

One real SQLite archive, two site folders: ``a`` is built after every step as an update builds
it (incrementally, from the change log: site_delta.py), ``b`` from scratch (``full=True``).
Random steps add articles at the newest end and late (old dates, crowding a month until it is
paged by day), change titles and dates, move articles between channels, remove some, and bring a
new source; after each, every file of ``a`` must be byte for byte the file of ``b``.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from lxml import etree

import pg_harness
from rsspage.config import Config, parse_config
from rsspage.publish import search_index, site_delta, sitemap
from rsspage.publish.outputs import publish_hexo_posts, publish_site
from rsspage.store import Store
from rsspage.types import Article, FeedSpec, FetchResult, FetchStatus

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
FEEDS = [("科技", "快科技", "最新"), ("科技", "快科技", "手机"), ("科技", "IT之家", "最新"),
         ("财经", "36氪", "快讯")]
SITE_URL = "https://news.example.org/"
#: The source a step brings in (a new category too).
NEW_FEED = ("汽车", "懂车帝", "新车")


def spec(names: tuple[str, str, str]) -> FeedSpec:
    key = "https://example.com/" + "/".join(names)
    return FeedSpec(key=key, urls=(key,), category=names[0], source=names[1], channel=names[2])


def make_config(folder: Path, site: str, settings: str = "",
                zone: str = "Asia/Shanghai") -> Config:
    feeds = "".join(f"  - {{url: '{spec(n).key}', category: {n[0]}, source: {n[1]}, "
                    f"channel: {n[2]}}}\n" for n in [*FEEDS, NEW_FEED])
    text = (f"feeds:\n{feeds}"
            f"site: {{title: 新闻, url: '{SITE_URL}', timezone: {zone}{settings}}}\n"
            f"output: {{state: state, site: {site}, page_size: 2}}\n")
    path = folder / f"{site}.yml"
    path.write_text(text, encoding="utf-8")
    return parse_config(text, path)


def make_article(n: int, names: tuple[str, str, str], when: datetime, edit: int = 0) -> Article:
    title = f"第{n}条新闻：小米发布新芯片" + (f"（更新{edit}）" if edit else "")
    body = f"<p>正文 {n} {edit}</p>"
    return Article(
        id=f"id{n:04d}", feed_key=spec(names).key, title=title,
        link=f"https://example.com/{n}.html", published=when, date_estimated=False,
        date_clamped=False, updated=None, author="", category=names[0], source=names[1],
        channel=names[2], content_html=body, text=f"正文 {n} {edit}", image="",
        content_hash=hashlib.sha256(f"{title}\x1f{body}\x1f{names}".encode()).hexdigest(),
    )


class Archive:
    """The articles stored so far, and the steps that change them."""

    def __init__(self, state: Path, seed: int, url: str | None = None) -> None:
        self.state, self.rng, self.url = state, random.Random(seed), url
        self.articles: dict[int, Article] = {}
        self.next = 0

    def save(self, *articles: Article) -> None:
        with Store.open(self.state, self.url) as s:
            for a in articles:
                names = (a.category, a.source, a.channel)
                ok = FetchResult(key=spec(names).key, status=FetchStatus.OK,
                                 url=spec(names).key, http_status=200)
                s.save_feed(spec(names), ok, [a], None, NOW)
                self.articles[int(a.id[2:])] = a
            s.cluster_new()  # as an update does once its feeds are stored

    def new(self, count: int, newest: bool, feeds: list[tuple[str, str, str]] = FEEDS) -> None:
        made = []
        for _ in range(count):
            self.next += 1
            if newest:
                when = NOW - timedelta(minutes=self.rng.randrange(0, 600))
            else:  # late: most in one month, so that it is paged by day
                when = NOW - timedelta(days=self.rng.choice([40, 41, 42, 70, 100]),
                                       minutes=self.rng.randrange(0, 1440))
            made.append(make_article(self.next, self.rng.choice(feeds), when))
        self.save(*made)

    def edit(self, count: int, *, move: bool = False, redate: bool = False) -> None:
        changed = []
        for n in self.rng.sample(sorted(self.articles), count):
            old = self.articles[n]
            names = self.rng.choice(FEEDS) if move else (old.category, old.source, old.channel)
            when = old.published - timedelta(days=self.rng.randrange(1, 30)) if redate \
                else old.published
            changed.append(make_article(n, names, when, edit=self.rng.randrange(1, 1000)))
        self.save(*changed)

    def retell(self, count: int) -> None:
        """Reports of stories told before (old ones too, on pages far from the newest), by
        another source, within hours: each joins its story's cluster, whose other members'
        pages and cards change where they are."""
        told = []
        for n in self.rng.sample(sorted(self.articles), count):
            old = self.articles[n]
            names = self.rng.choice([f for f in FEEDS if f[1] != old.source])
            self.next += 1
            when = old.published + timedelta(minutes=self.rng.randrange(1, 300))
            told.append(replace(make_article(self.next, names, min(when, NOW)),
                                title=f"{old.title}（{names[1]}报道）", text=f"{old.text} 详情"))
        self.save(*told)

    def prune(self, days: int) -> None:
        with Store.open(self.state, self.url) as s:
            s.prune(NOW - timedelta(days=days), NOW)
        self.articles = {n: a for n, a in self.articles.items()
                         if a.published >= NOW - timedelta(days=days)}


def files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*")
            if p.is_file() and not p.name.startswith(".rsspage-")}


@pytest.fixture
def planned(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Pagefind left out (tests/test_search_tiers.py covers the shards); counts the builds
    made from the changes, with the pages each planned."""
    monkeypatch.setattr(search_index, "find_binary", lambda: None)
    counts: list[int] = []
    real = site_delta.plan

    def counting(*args: Any, **kwargs: Any) -> site_delta.DeltaPlan:
        result = real(*args, **kwargs)
        result.pages = list(result.pages)  # planned as they are rendered: counted here
        counts.append(len(result.pages))
        return result
    monkeypatch.setattr(site_delta, "plan", counting)
    return counts


STEPS: list[tuple[str, Callable[[Archive], None]]] = [
    ("newest", lambda a: a.new(5, newest=True)),
    ("late", lambda a: a.new(60, newest=False)),
    ("late few", lambda a: a.new(3, newest=False)),
    ("titles", lambda a: a.edit(4)),
    ("dates", lambda a: a.edit(4, redate=True)),
    ("channels", lambda a: a.edit(4, move=True)),
    ("new source", lambda a: a.new(3, newest=True, feeds=[NEW_FEED])),
    ("prune", lambda a: a.prune(90)),
    ("crowded month", lambda a: a.new(120, newest=False)),
    ("newest again", lambda a: a.new(7, newest=True)),
    ("retold", lambda a: a.retell(8)),
]


def sitemap_pages(root: Path) -> list[str]:
    """The pages the sitemap lists (through its index and parts, when it has them)."""
    def locs(name: str) -> list[str]:
        tree = etree.parse(str(root / name))
        return [str(t) for t in tree.xpath("//*[local-name()='loc']/text()")]
    found = locs("sitemap.xml")
    if found and found[0].endswith(".xml"):
        found = [url for part in found for url in locs(part.removeprefix(SITE_URL))]
    return sorted(unquote(url.removeprefix(SITE_URL)) for url in found)


#: Seed 6's steps: those, and articles removed before the window, in its first month.
WINDOW_STEPS = [*STEPS, ("prune before the window", lambda a: a.prune(41)),
                ("late again", lambda a: a.new(30, newest=False))]


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6])
def test_a_site_built_from_the_changes_equals_one_built_from_scratch(
        tmp_path: Path, planned: list[int], seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Seed 2: with a sitemap of parts (one per folder of the first two levels); seed 3: with
    a window of the newest 45 articles' days, which moves as articles come (those that leave
    it lose their pages, like removed ones); seed 4: days and months in a zone that left
    summer time on 2026-11-01 within the articles' dates; seed 5: in a zone 5:30 from UTC;
    seed 6: a window of 41 days that moves a day every 4 builds, through the late articles (40
    to 42 days old, in October, paged by day once crowded): its first month is paged from its
    first article, in the window or not (site_pages.Lead), and articles come and go before its
    start."""
    if seed == 2:
        monkeypatch.setattr(sitemap, "SITEMAP_ONE_FILE", 20)
    settings = {3: ", max_articles: 45", 6: ", keep_days: 41"}.get(seed, "")
    zone = {4: "America/New_York", 5: "Asia/Kolkata"}.get(seed, "Asia/Shanghai")
    a, b = (make_config(tmp_path, name, settings, zone) for name in ("a", "b"))
    archive = Archive(a.output.state, seed)
    archive.new(40, newest=False)
    archive.new(10, newest=True)
    windows, pages = set(), []
    steps = WINDOW_STEPS if seed == 6 else STEPS
    for days, (name, step) in enumerate([("first", lambda _: None), *steps]):
        step(archive)
        now = NOW + timedelta(days=days // 4 if seed == 6 else 0)
        with Store.open(a.output.state) as s:
            publish_site(a, s, now)
            publish_site(b, s, now, full=True)
        assert a.output.site is not None and b.output.site is not None
        windows.add(json.loads((a.output.site / ".rsspage-build.json").read_bytes())["window"])
        got, want = files(a.output.site), files(b.output.site)
        pages.append(len([p for p in want if p.endswith(".html")]))
        assert sorted(got) == sorted(want), name
        differ = [path for path in want if got[path] != want[path]]
        assert not differ, f"{name}: {differ[:5]}"
        assert sitemap_pages(a.output.site) == sorted(p for p in got if p.endswith(".html"))
    assert len(windows) > 3 if seed in (3, 6) else windows == {""}
    assert any("另有" in text for text in (v.decode() for k, v in got.items()
                                             if k.endswith(".html"))), "no story cluster shown"
    # Every build after the first was made from the changes, planning a part of the pages.
    assert len(planned) == len(steps)
    assert all(count < total for count, total in zip(planned, pages[1:], strict=True))


@pytest.mark.parametrize("seed", [1, 3, 6])
def test_a_site_built_on_postgresql_equals_one_built_on_sqlite(
        tmp_path: Path, planned: list[int], seed: int, postgres: pg_harness.Server) -> None:
    """The same steps on both databases (issue 14): after each, the site built from the
    changes with the archive on PostgreSQL is byte for byte the one built on SQLite (whose
    builds the test above holds equal to full ones). Seeds 3 and 6: a moving window."""
    settings = {3: ", max_articles: 45", 6: ", keep_days: 41"}.get(seed, "")
    folders = (tmp_path / "sqlite", tmp_path / "pg")
    for folder in folders:
        folder.mkdir()
    on_sqlite, on_pg = (make_config(folder, "site", settings) for folder in folders)
    url = postgres.database()
    archives = [Archive(on_sqlite.output.state, seed), Archive(on_pg.output.state, seed, url)]
    for archive in archives:
        archive.new(40, newest=False)
        archive.new(10, newest=True)
    steps = WINDOW_STEPS if seed == 6 else STEPS
    for days, (name, step) in enumerate([("first", lambda _: None), *steps]):
        now = NOW + timedelta(days=days // 4 if seed == 6 else 0)
        for archive, config in zip(archives, (on_sqlite, on_pg), strict=True):
            step(archive)
            with Store.open(archive.state, archive.url) as s:
                publish_site(config, s, now)
        assert on_sqlite.output.site is not None and on_pg.output.site is not None
        got, want = files(on_pg.output.site), files(on_sqlite.output.site)
        assert sorted(got) == sorted(want), name
        differ = [path for path in want if got[path] != want[path]]
        assert not differ, f"{name}: {differ[:5]}"
    assert len(planned) == 2 * len(steps)  # every build after the first from the changes


def test_a_new_source_with_a_name_that_clashes_builds_everything(
        tmp_path: Path, planned: list[int]) -> None:
    """Two sources whose names differ only in case: which one keeps the plain folder name
    depends on both, so the build after the second arrives is a full one (and correct)."""
    a, b = make_config(tmp_path, "a"), make_config(tmp_path, "b")
    archive = Archive(a.output.state, 3)
    archive.save(make_article(1, ("科技", "ithome", "最新"), NOW - timedelta(hours=1)))
    with Store.open(a.output.state) as s:
        publish_site(a, s, NOW)
    archive.save(make_article(2, ("科技", "ITHOME", "最新"), NOW))
    with Store.open(a.output.state) as s:
        publish_site(a, s, NOW)
        publish_site(b, s, NOW, full=True)
    assert planned == []
    assert a.output.site is not None and b.output.site is not None
    assert files(a.output.site) == files(b.output.site)


def hexo_config(folder: Path, posts: str) -> Config:
    feeds = "".join(f"  - {{url: '{spec(n).key}', category: {n[0]}, source: {n[1]}, "
                    f"channel: {n[2]}}}\n" for n in [*FEEDS, NEW_FEED])
    text = f"feeds:\n{feeds}output: {{state: state, hexo: {posts}}}\n"
    path = folder / f"{posts}.yml"
    path.write_text(text, encoding="utf-8")
    return parse_config(text, path)


def test_hexo_posts_built_from_the_changes_equal_posts_built_from_scratch(
        tmp_path: Path) -> None:
    """The same steps for Hexo posts: after each, the posts written from the changes alone
    are those a full build writes (names, front matter, removed posts)."""
    a, b = hexo_config(tmp_path, "a"), hexo_config(tmp_path, "b")
    archive = Archive(a.output.state, 4)
    archive.new(30, newest=False)
    rendered = []
    for name, step in [("first", lambda _: None), *STEPS]:
        step(archive)
        with Store.open(a.output.state) as s:
            rendered.append(publish_hexo_posts(a, s).written)
            publish_hexo_posts(b, s, full=True)
        assert a.output.hexo is not None and b.output.hexo is not None
        assert files(a.output.hexo) == files(b.output.hexo), name
    # Only the posts of the changed articles were written, step by step.
    assert rendered == [30, 5, 60, 3, 4, 4, 4, 3, 0, 120, 7, 8]


def test_a_run_that_brings_no_article_rebuilds_the_status_page_only(
        tmp_path: Path, planned: list[int]) -> None:
    """Every update changes the feeds' health (times of the last fetch): the status page and
    the OPML show it, and nothing else is rendered for it."""
    a, b = make_config(tmp_path, "a"), make_config(tmp_path, "b")
    archive = Archive(a.output.state, 5)
    archive.new(20, newest=True)
    with Store.open(a.output.state) as s:
        publish_site(a, s, NOW)
        names = FEEDS[0]
        failed = FetchResult(key=spec(names).key, status=FetchStatus.FAILED,
                             url=spec(names).key, http_status=500)
        s.save_feed(spec(names), failed, [], "HTTP 500", NOW + timedelta(hours=1))
        stats = publish_site(a, s, NOW + timedelta(hours=1))
        publish_site(b, s, NOW + timedelta(hours=1), full=True)
    assert a.output.site is not None and b.output.site is not None
    assert stats.written == 1  # health.html (the OPML lists the same feeds)
    assert planned and files(a.output.site) == files(b.output.site)
    assert "HTTP 500" in (a.output.site / "health.html").read_text("utf-8")


def test_an_older_copy_of_the_archive_makes_a_full_build(tmp_path: Path,
                                                          planned: list[int]) -> None:
    """A state folder set back to an older copy of the same archive (a cache, a restored
    export) numbers its next changes as the output already saw them: the site is built whole,
    never from a log that does not describe it."""
    a, b = make_config(tmp_path, "a"), make_config(tmp_path, "b")
    archive = Archive(a.output.state, 6)
    archive.new(10, newest=True)
    with Store.open(a.output.state) as s:
        publish_site(a, s, NOW)
    shutil.copytree(a.output.state, tmp_path / "older")
    archive.new(5, newest=True)
    with Store.open(a.output.state) as s:
        publish_site(a, s, NOW)
    shutil.rmtree(a.output.state)
    shutil.copytree(tmp_path / "older", a.output.state)
    archive.new(3, newest=True)  # changes 11 to 13: the site was built at 15
    with Store.open(a.output.state) as s:
        publish_site(a, s, NOW)
        publish_site(b, s, NOW, full=True)
    assert a.output.site is not None and b.output.site is not None
    got, want = files(a.output.site), files(b.output.site)
    # The pages of the articles the older copy lacks are kept (until it knows them again).
    assert sorted(set(got) - set(want)) == [f"a/id/id{n:04d}.html" for n in range(11, 16)]
    assert {p: got[p] for p in want} == want
    assert len(planned) == 1  # the second build only


def test_a_sitemap_part_left_without_pages_goes(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Built from the changes, a part whose every page went (a category hidden by filter
    rules, a feed dropped) leaves the sitemap and the site, as a full build would."""
    from rsspage.publish.writer import OutputWriter

    monkeypatch.setattr(sitemap, "SITEMAP_ONE_FILE", 3)
    config = make_config(tmp_path, "site")
    pages = [f"a/0{n}/{n}.html" for n in range(4)] + ["c/x/index.html", "c/x/page/1.html"]

    def build(pages: list[str], previous: dict[str, str],
              touched: list[str] | None) -> dict[str, str]:
        writer = OutputWriter(tmp_path / "site")
        hashes = sitemap.write_sitemap(config, pages, writer, previous, touched)
        gone = {p for p in previous if p.startswith("sitemap") and p not in hashes}
        writer.keep_others(gone)
        writer.finish()
        return hashes

    first = build(pages, {}, None)
    left = [p for p in pages if not p.startswith("c/x/")]
    delta = build(left, first, [p for p in pages if p.startswith("c/x/")])
    assert len(delta) == len(first) - 1  # one part fewer
    full = tmp_path / "full"
    shutil.copytree(tmp_path / "site", full)
    assert delta == build(left, {}, None)  # the same as made from scratch
    listed = (full / "sitemap.xml").read_text("utf-8")
    assert listed.count("<loc>") == len(delta) - 1
    assert sorted(p.name for p in full.glob("sitemap-*.xml")) == sorted(
        p for p in delta if p != "sitemap.xml")


def test_a_cluster_member_entering_the_window_is_built_as_new(
        tmp_path: Path, planned: list[int]) -> None:
    """Hiding a story's newest report moves a ``max_articles`` window back: its other report
    enters the site (its neighbours, listings, feeds and search gain it) although the change
    log says only its cluster changed."""
    a, b = (make_config(tmp_path, name, ", max_articles: 10") for name in ("a", "b"))
    archive = Archive(a.output.state, 1)
    story = "华为发布鸿蒙操作系统新版本支持折叠屏手机"

    def told(n: int, names: tuple[str, str, str], days: float, title: str, text: str
             ) -> Article:
        return replace(make_article(n, names, NOW - timedelta(days=days)), title=title,
                       text=text, content_html=f"<p>{text}</p>")
    others = [told(10 + i, FEEDS[i % 4], 3 - i % 3 + i / 24, f"其他新闻{i}号", f"内容{i}号")
              for i in range(9)]
    archive.save(told(1, FEEDS[0], 6, story, story + " 详情一"),
                 told(2, FEEDS[2], 4.8, story + "（IT之家报道）", story + " 详情二"), *others)
    with Store.open(a.output.state) as s:
        publish_site(a, s, NOW)
        s.set_hidden(["id0002"], True, NOW)
        publish_site(a, s, NOW)
        publish_site(b, s, NOW, full=True)
    assert a.output.site is not None and b.output.site is not None
    got, want = files(a.output.site), files(b.output.site)
    assert "a/id/id0001.html" in want
    assert sorted(got) == sorted(want)
    assert [path for path in want if got[path] != want[path]] == []
    assert len(planned) == 1  # the second build was made from the changes
