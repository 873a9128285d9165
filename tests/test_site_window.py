"""``site.max_articles`` / ``site.keep_days``: how much of the archive becomes pages (issue 10).

Real stores, real site builds through ``publish_site``; the archive itself is never touched.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from rsspage.config import DEFAULT_MAX_ARTICLES, Config
from rsspage.errors import ConfigError
from rsspage.publish import search_index, search_tiers, site_delta
from rsspage.publish.outputs import publish_site
from rsspage.store import Store, db
from rsspage.store.site_query import SiteQuery
from test_build_record import make_config as make_site_config
from test_hexo_incremental import NOW, OK, SPEC, article
from test_site_delta import files


def make_config(folder: Path, limits: str) -> Config:
    return make_site_config(folder, site=f"timezone: Asia/Shanghai{limits}", outputs="site: site")


def article_pages(config: Config) -> int:
    assert config.output.site is not None
    return len(list((config.output.site / "a").rglob("*.html")))


def build(config: Config, days_later: int = 0) -> None:
    with Store.open(config.output.state) as store:
        publish_site(config, store, NOW + timedelta(days=days_later))


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    """30 articles, one an hour back from NOW (2026-12-01 08:00 UTC, 16:00 in Shanghai)."""
    with Store.open(tmp_path / "state") as store:
        store.save_feed(SPEC, OK, [article(n) for n in range(30)], None, NOW)
    return tmp_path


def test_the_newest_articles_get_pages_counted_in_whole_days(archive: Path) -> None:
    # The 3rd newest is from 2026-12-01 in Shanghai: that whole day (00:00 +08:00 = 16:00 UTC
    # the day before) gets pages, the 16 articles published since, not 3.
    config = make_config(archive, ", max_articles: 3")
    build(config)
    assert article_pages(config) == 17
    raised = make_config(archive, ", max_articles: null")  # no limit: they come back
    build(raised)
    assert article_pages(raised) == 30
    build(config)
    assert article_pages(config) == 17
    with Store.open(archive / "state") as store:  # the archive keeps every article
        assert store.article_count() == 30
        assert store.search("第25条新闻")


def test_a_listing_read_gives_sqlite_one_lower_bound(archive: Path) -> None:
    # SQLite ranges an index by the first lower bound of ``published`` it is given: given the
    # window's start before a day's, a page of that day scanned every article since the
    # window's start (a month of the site's listing, 5 ms a page instead of 0.4).
    conn = db.connect(archive / "state")
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    since, day = NOW - timedelta(hours=20), NOW - timedelta(hours=5)
    query = SiteQuery(conn, since)
    newest = query.articles((), day, NOW, limit=2, offset=1)
    assert [a.id for a in newest] == ["id4", "id3"]  # id5 (at the day's start) to id1
    assert query.count((), day, NOW) == 5
    assert len(query.articles((), NOW - timedelta(days=5), NOW)) == 20  # the window's start
    reads = [s for s in statements if "FROM articles" in s]
    assert len(reads) == 3
    assert all(s.count("published >=") == 1 for s in reads), reads
    assert day.isoformat() in reads[0] and since.isoformat() not in reads[0]
    assert since.isoformat() in reads[2]
    conn.close()


def test_keep_days_counts_from_now(archive: Path) -> None:
    config = make_config(archive, ", max_articles: 0, keep_days: 1")
    build(config)  # from 2026-11-30 00:00 in Shanghai: all of them
    assert article_pages(config) == 30
    build(config, days_later=1)  # from 2026-12-01 00:00 in Shanghai
    assert article_pages(config) == 17
    build(config, days_later=3)
    assert article_pages(config) == 0


def search_layout(config: Config) -> search_tiers.Layout:
    assert config.output.site is not None
    path = config.output.site / search_index.FOLDER / search_tiers.LAYOUT_NAME
    layout = search_tiers.load_layout(path.read_bytes())
    assert layout is not None
    return layout


def test_articles_leaving_the_window_stay_in_search_below_its_floor(archive: Path) -> None:
    """The window's daily move re-indexes no search shard: the records of the articles that
    left stay, below the layout's floor (which the search page hides), until their shard is
    rebuilt for another reason or holds nothing else."""
    config = make_config(archive, ", max_articles: 0, keep_days: 1")
    build(config)
    first = search_layout(config)
    assert first.floor is None and [s.count for s in first.shards] == [30]
    build(config, days_later=1)
    moved = search_layout(config)
    assert moved.floor == datetime(2026, 11, 30, 16, tzinfo=UTC)  # 00:00 in Shanghai
    assert moved.shards == first.shards  # the same bundle, with 13 hidden records
    assert article_pages(config) == 17
    build(config, days_later=3)  # nothing left: the bundle goes
    assert [s.folder for s in search_layout(config).shards] == [None]
    assert not list((archive / "site" / search_index.FOLDER).glob(f"{first.shards[0].folder}"))


def test_the_default_bounds_the_site(tmp_path: Path) -> None:
    config = make_config(tmp_path, "")
    assert config.site.max_articles == DEFAULT_MAX_ARTICLES and config.site.keep_days == 0
    # Two files an article (its page, its search fragment): Cloudflare allows 20,000 files.
    assert make_config(tmp_path, ", host: cloudflare-pages").site.max_articles == 9_000
    assert make_config(tmp_path, ", host: cloudflare-pages, max_articles: 0").site \
        .max_articles == 0


@pytest.mark.parametrize("value", ["-1", "many", "2.5", "[1]"])
def test_a_bad_limit_names_file_line_and_key(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        make_config(tmp_path, f", keep_days: {value}")
    assert "rsspage.yml:3" in str(caught.value) and "site.keep_days" in str(caught.value)


def listed(page: Path) -> list[str]:
    """The ids of the articles a listing page shows, in its order."""
    return list(dict.fromkeys(re.findall(r'href="[^"]*a/\w\w/([\w-]+)\.html"',
                                         page.read_text(encoding="utf-8"))))


@pytest.fixture
def month(tmp_path: Path) -> Path:
    """120 articles, one every 6 hours back from NOW (2026-12-01 08:00 UTC): 31 days."""
    with Store.open(tmp_path / "state") as store:
        store.save_feed(SPEC, OK, [replace(article(n), published=NOW - timedelta(hours=6 * n))
                                   for n in range(120)], None, NOW)
    return tmp_path


def paged(folder: Path, site: str, limits: str, size: int = 5) -> Config:
    return make_site_config(folder, site=f"timezone: Asia/Shanghai{limits}",
                            outputs=f"site: {site}, page_size: {size}")


def test_a_month_is_paged_from_its_first_article_in_the_window_or_not(month: Path) -> None:
    """The window starts on 2026-11-21 (Shanghai): November's pages in it are those of the
    whole archive's site, less the articles before the window, so that its daily move
    changes the first of them only."""
    whole, windowed = paged(month, "all", ""), paged(month, "win", ", keep_days: 10")
    build(whole)
    build(windowed)
    for listing in ["", "c/新媒体/", "c/新媒体/快科技/", "c/新媒体/快科技/最新新闻/"]:
        pages = sorted((month / "win" / listing / "page").glob("2026-11*.html"),
                       key=lambda p: int(p.stem.partition(".")[2] or 1))
        # 77 articles of November before the window, 40 in it: pages 16 (3) to 24 (2).
        assert [p.name for p in pages] == [f"2026-11.{k}.html" for k in range(16, 25)]
        assert [len(listed(p)) for p in pages] == [3, *[5] * 7, 2]
        for page in pages:
            same = month / "all" / listing / "page" / page.name
            # Newest first: the page's articles in the window are the first of the same page.
            assert listed(page) == listed(same)[:len(listed(page))]
        index = (month / "win" / listing / "index.html").read_text(encoding="utf-8")
        assert f'{listing}page/2026-11.16.html">' in unquote(index)  # the oldest page


def test_the_windows_daily_move_renders_the_first_page_left_in_it(
        month: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search_index, "find_binary", lambda: None)
    moving, full = (paged(month, site, ", keep_days: 10") for site in ("win", "full"))
    build(moving)
    planned: list[str] = []
    real = site_delta.plan

    def counting(*args: Any, **kwargs: Any) -> site_delta.DeltaPlan:
        result = real(*args, **kwargs)
        result.pages = list(result.pages)
        planned.extend(page.path for page in result.pages)
        return result
    monkeypatch.setattr(site_delta, "plan", counting)
    before = {p: p.read_bytes() for p in (month / "win").rglob("page/*.html")}
    build(moving, days_later=1)  # 4 articles leave: November's pages from Nov. 22 on
    with Store.open(moving.output.state) as store:
        publish_site(full, store, NOW + timedelta(days=1), full=True)
    pages = [p for p in planned if "/page/" in p or p.startswith("page/")]
    # Per listing: its first page in the window (2026-11.17, 1 article fewer); the one before
    # it (2026-11.16) goes; nothing else.
    folders = ["", "c/新媒体/", "c/新媒体/快科技/", "c/新媒体/快科技/最新新闻/"]
    assert sorted(pages) == sorted(f"{folder}page/2026-11.17.html" for folder in folders)
    changed = [p for p, data in before.items() if not p.exists() or p.read_bytes() != data]
    assert sorted(p.name for p in changed if not p.exists()) == ["2026-11.16.html"] * 4
    assert sorted(p.name for p in changed if p.exists()) == ["2026-11.17.html"] * 4
    for page in (month / "win").rglob("*.html"):  # as a full build makes it
        assert page.read_bytes() == (month / "full" / page.relative_to(month / "win")
                                     ).read_bytes(), page


@pytest.mark.parametrize("size", [5, 2])  # 2: November is paged by day (60 pages > 50)
def test_a_window_moved_back_and_forth_builds_as_a_full_build(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: int) -> None:
    """``keep_days`` raised by a day, by days over articles hidden meanwhile, into October,
    removed, lowered: each build from the changes equals a full build byte for byte (the
    pages after those that entered the window lose their first page's links; an article
    hidden where the window enters was counted in the month's first page before)."""
    monkeypatch.setattr(search_index, "find_binary", lambda: None)
    with Store.open(tmp_path / "state") as store:  # one every 6 hours back to Oct. 22
        store.save_feed(SPEC, OK, [replace(article(n), published=NOW - timedelta(hours=6 * n))
                                   for n in range(160)], None, NOW)
    plans: list[int] = []
    real = site_delta.plan

    def counting(*args: Any, **kwargs: Any) -> site_delta.DeltaPlan:
        plans.append(1)
        return real(*args, **kwargs)
    monkeypatch.setattr(site_delta, "plan", counting)
    steps = [(10, ""), (11, ""), (13, ""), (16, "id60"), (14, "id70"), (35, ""), (0, ""),
             (9, "id20"), (30, ""), (31, "")]
    for days, hide in steps:
        limits = f", keep_days: {days}" if days else ""
        moving, full = (paged(tmp_path, site, limits, size) for site in ("win", "full"))
        with Store.open(tmp_path / "state") as store:
            if hide:  # before the window (id70) or where it enters (id60), or in it
                store.set_hidden([hide], True, NOW)
            publish_site(moving, store, NOW)
            publish_site(full, store, NOW, full=True)
        got, want = files(tmp_path / "win"), files(tmp_path / "full")
        assert sorted(got) == sorted(want), days
        assert [p for p in want if got[p] != want[p]] == [], days
        if days == 10:  # 80 of November's 120 articles before the window
            first = "2026-11.17" if size == 5 else "2026-11-21"
            assert (tmp_path / "win" / "page" / f"{first}.html").exists()
    assert len(plans) == len(steps) - 1  # every build after the first from the changes
