"""The SQLite store: schema, upsert rules, link de-duplication, names, pruning, FTS5 search."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from rsspage.errors import StoreError
from rsspage.store import Store
from rsspage.store.db import DB_NAME, run_lock
from rsspage.store.schema import MIGRATIONS
from rsspage.types import Article, FeedSpec, FetchResult, FetchStatus

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
SPEC = FeedSpec(key="/kkj/news", urls=("http://127.0.0.1:1/kkj/news",), category="新媒体",
                source="快科技", channel="最新新闻")
OK = FetchResult(key="/kkj/news", status=FetchStatus.OK, url=SPEC.urls[0], etag='"v1"',
                 last_modified="Thu, 19 Nov 2026 08:00:00 GMT")


def article(n: int, **changes: object) -> Article:
    base = Article(
        id=f"id{n}", feed_key=SPEC.key, title=f"小米发布第{n}款芯片 chip number {n}",
        link=f"https://news.example.com/{n}.html", published=NOW - timedelta(hours=n),
        date_estimated=False, date_clamped=False, updated=None, author="快科技",
        category="新媒体", source="快科技", channel="最新新闻",
        content_html=f"<p>正文 {n}</p>", text=f"正文内容 {n} 半导体工艺", image="",
        content_hash=f"h{n}",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(tmp_path / "state")


def test_schema_version_wal_and_integrity(tmp_path: Path, store: Store) -> None:
    conn = sqlite3.connect(tmp_path / "state" / DB_NAME)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.integrity_ok()
    store.close()
    Store.open(tmp_path / "state").close()  # reopening applies nothing twice


def test_newer_schema_is_refused(tmp_path: Path, store: Store) -> None:
    store.close()
    conn = sqlite3.connect(tmp_path / "state" / DB_NAME)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(StoreError, match="newer than this rsspage"):
        Store.open(tmp_path / "state")


def test_new_updated_and_unchanged(store: Store) -> None:
    counts = store.save_feed(SPEC, OK, [article(1), article(2)], None, NOW)
    assert (counts.new, counts.updated) == (2, 0)
    counts = store.save_feed(SPEC, OK, [article(1), article(2)], None, NOW)
    assert (counts.new, counts.updated) == (0, 0)
    changed = article(2, title="改了标题", content_hash="h2b")
    counts = store.save_feed(SPEC, OK, [article(1), changed], None, NOW)
    assert (counts.new, counts.updated) == (0, 1)
    titles = {a.id: a.title for a in store.articles()}
    assert titles["id2"] == "改了标题"
    assert store.search("改了标题")[0].id == "id2"  # FTS follows the update


def test_estimated_date_keeps_first_seen(store: Store) -> None:
    first = article(1, date_estimated=True, published=NOW)
    store.save_feed(SPEC, OK, [first], None, NOW)
    later = article(1, date_estimated=True, published=NOW + timedelta(days=1),
                    content_html="<p>new</p>", content_hash="h1b")
    store.save_feed(SPEC, OK, [later], None, NOW + timedelta(days=1))
    (saved,) = list(store.articles())
    assert saved.published == NOW
    assert saved.content_html == "<p>new</p>"


def test_same_link_through_two_feeds_is_stored_once(store: Store) -> None:
    other = FeedSpec(key="/other", urls=("http://127.0.0.1:1/other",), category="c",
                     source="s", channel="ch")
    store.save_feed(SPEC, OK, [article(1)], None, NOW)
    twin = article(1, id="other1", feed_key="/other")
    counts = store.save_feed(other, OK, [twin], None, NOW)
    assert (counts.new, counts.aliased) == (0, 1)
    assert store.article_count() == 1


def test_feed_health_tracks_failures_and_validators(store: Store) -> None:
    store.save_feed(SPEC, OK, [article(1)], None, NOW)
    assert store.feed_states()[SPEC.key].etag == '"v1"'
    failed = FetchResult(key=SPEC.key, status=FetchStatus.FAILED, url=SPEC.urls[0],
                         error="HTTP 500")
    store.save_feed(SPEC, failed, (), "HTTP 500", NOW)
    store.save_feed(SPEC, failed, (), "HTTP 500", NOW)
    (health,) = store.health(NOW - timedelta(days=7))
    assert (health.consecutive_failures, health.last_error, health.articles) == (2, "HTTP 500", 1)
    assert health.last_success is not None
    assert store.feed_states()[SPEC.key].etag == '"v1"'  # a network failure keeps validators
    store.save_feed(SPEC, OK, (), "not a feed", NOW)  # bytes that failed to parse drop them
    assert store.feed_states()[SPEC.key].etag is None
    store.save_feed(SPEC, OK, (), None, NOW)
    assert store.health(NOW)[0].consecutive_failures == 0


def test_prune_and_names(store: Store) -> None:
    store.save_feed(SPEC, OK, [article(1), article(100)], None, NOW)
    store.save_names("hexo", {"id1": "a/b/c/one.md", "id100": "a/b/c/old.md"})
    assert store.prune(NOW - timedelta(days=2), NOW) == 1
    assert store.published_names("hexo") == {"id1": "a/b/c/one.md"}


def test_cjk_search_without_word_breaks(store: Store) -> None:
    store.save_feed(SPEC, OK, [article(n) for n in range(1, 6)], None, NOW)
    assert store.search("半导体")  # 3 chars: FTS5 trigram index
    assert {h.id for h in store.search("芯片")} == {f"id{n}" for n in range(1, 6)}  # 2 chars
    assert [h.id for h in store.search("第3款")] == ["id3"]
    assert [h.id for h in store.search("CHIP number 4")] == ["id4"]
    assert store.search("不存在的词") == []


def test_run_lock_is_exclusive(tmp_path: Path) -> None:
    with (
        run_lock(tmp_path),
        pytest.raises(StoreError, match="already running"),
        run_lock(tmp_path),
    ):
        pass
    with run_lock(tmp_path):  # released after use
        pass


def test_articles_without_content_and_contents_by_id(store: Store) -> None:
    saved = [article(n) for n in range(1200)]  # more ids than one IN (…) query takes
    store.save_feed(SPEC, OK, saved, None, NOW)
    whole = list(store.articles())
    bare = list(store.articles(content=False))
    assert [replace(a, content_html="") for a in whole] == bare
    assert all(a.content_html for a in whole)
    contents = store.contents([a.id for a in bare] + ["no-such-id"])
    assert contents == {a.id: a.content_html for a in saved}


def test_page_hashes_are_replaced_by_the_new_set(store: Store) -> None:
    store.save_page_hashes("site", {"a.html": "1", "b.html": "2", "c.html": "3"})
    store.save_page_hashes("hexo", {"a.html": "x"})
    store.save_page_hashes("site", {"a.html": "1", "b.html": "22", "d.html": "4"})
    assert store.page_hashes("site") == {"a.html": "1", "b.html": "22", "d.html": "4"}
    assert store.page_hashes("hexo") == {"a.html": "x"}
