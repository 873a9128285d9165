"""The store on SQLite and on PostgreSQL: schema, upsert rules, link de-duplication, names,
pruning, search."""

from __future__ import annotations

import gzip
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
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
def store(tmp_path: Path, store_url: str | None) -> Iterator[Store]:
    with Store.open(tmp_path / "state", store_url) as opened:
        yield opened


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Store:
    return Store.open(tmp_path / "state")


def test_schema_version_wal_and_integrity(tmp_path: Path, sqlite_store: Store) -> None:
    store = sqlite_store
    conn = sqlite3.connect(tmp_path / "state" / DB_NAME)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.integrity_ok()
    store.close()
    Store.open(tmp_path / "state").close()  # reopening applies nothing twice


def test_newer_schema_is_refused(tmp_path: Path, sqlite_store: Store) -> None:
    sqlite_store.close()
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


def test_times_are_stored_in_utc_whatever_zone_they_come_in(store: Store) -> None:
    # The archive's order is that of its time strings: an article given in +08:00 must sort
    # by its instant among UTC ones (06:30 UTC, between 2 h and 1 h before NOW).
    beijing = timezone(timedelta(hours=8))
    early = article(9, published=datetime(2026, 11, 20, 14, 30, tzinfo=beijing),
                    updated=datetime(2026, 11, 20, 15, 0, tzinfo=beijing))
    store.save_feed(SPEC, OK, [article(1), article(2), early], None, NOW)
    read = {a.id: a for a in store.articles()}
    assert read["id9"].published == early.published and read["id9"].published.utcoffset() == timedelta(0)
    assert read["id9"].updated == early.updated
    assert [a.id for a in store.articles()] == ["id2", "id9", "id1"]
    query = store.site_query(None)
    assert [a.id for a in query.articles(("新媒体",))] == ["id2", "id9", "id1"]
    assert [a.id for a in query.articles((), NOW - timedelta(hours=1, minutes=45))] == ["id9", "id1"]


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


def _counted(store: Store) -> dict[str, tuple[int, int, int]]:
    """(articles, hidden, merged) of each feed as the health says (the kept counts)."""
    return {h.key: (h.articles, h.hidden, h.merged) for h in store.health(NOW)
            if (h.articles, h.hidden, h.merged) != (0, 0, 0)}


def _recounted(store: Store) -> dict[str, tuple[int, int, int]]:
    """The same counted from every row, as the health query did before the counts were kept."""
    rows = store._conn.execute(
        """SELECT f.key, COUNT(CASE WHEN a.hidden = 0 THEN 1 END),
                  COUNT(CASE WHEN a.hidden != 0 THEN 1 END),
                  (SELECT COUNT(*) FROM aliases l WHERE l.feed_key = f.key)
           FROM feeds f LEFT JOIN articles a ON a.feed_key = f.key GROUP BY f.key""")
    return {key: (visible, hidden, merged) for key, visible, hidden, merged in rows
            if (visible, hidden, merged) != (0, 0, 0)}


def test_feed_counts_follow_every_change(tmp_path: Path, store: Store) -> None:
    # The health's counts (SQLite: kept by triggers, schema 20): after each kind of change they
    # equal a count of every row, and what the change should make them.
    def counts() -> dict[str, tuple[int, int, int]]:
        kept = _counted(store)
        assert kept == _recounted(store)
        return kept

    other = FeedSpec(key="/other", urls=("http://127.0.0.1:1/other",), category="c",
                     source="s", channel="ch")
    store.save_feed(SPEC, OK, [article(n) for n in (1, 2, 3, 4, 200)], None, NOW)
    twin = article(1, id="other1", feed_key="/other")  # stored once: an alias of /other
    store.save_feed(other, OK, [twin, article(40, id="own", feed_key="/other")], None, NOW)
    assert counts() == {SPEC.key: (5, 0, 0), "/other": (1, 0, 1)}
    assert store.set_hidden(["id2", "id3", "own"], True, NOW) == 3
    store.set_hidden(["id3"], True, NOW)  # hidden already: no change
    assert counts() == {SPEC.key: (3, 2, 0), "/other": (0, 1, 1)}
    store.save_feed(SPEC, OK, [article(2, content_hash="h2b")], None, NOW)  # updated, hidden
    assert store.prune(NOW - timedelta(days=2), NOW) == 1  # article 200
    assert counts() == {SPEC.key: (2, 2, 0), "/other": (0, 1, 1)}
    store.set_hidden(["id3"], False, NOW)
    assert counts() == {SPEC.key: (3, 1, 0), "/other": (0, 1, 1)}
    store.export(tmp_path / "export.jsonl.gz")
    assert store.forget_feed(SPEC.key, NOW) == (3, 1)  # article 1 passes to /other
    assert counts() == {"/other": (1, 1, 0)}
    store.restore(tmp_path / "export.jsonl.gz")  # the alias comes back, forgotten articles not
    assert counts() == {"/other": (1, 1, 1)}
    with Store.open(tmp_path / "copy") as copy:  # an archive restored into an empty store
        copy.restore(tmp_path / "export.jsonl.gz")
        assert _counted(copy) == _recounted(copy) == {SPEC.key: (3, 1, 0), "/other": (0, 1, 1)}


def test_feed_counts_of_an_older_archive_are_filled_by_its_migration(tmp_path: Path) -> None:
    with Store.open(tmp_path / "state") as store:
        store.save_feed(SPEC, OK, [article(n) for n in range(1, 6)], None, NOW)
        twin = article(1, id="other1", feed_key="/other")
        other = replace(SPEC, key="/other", urls=("http://127.0.0.1:1/other",))
        store.save_feed(other, OK, [twin], None, NOW)
        store.set_hidden(["id2"], True, NOW)
        expected = _recounted(store)
    conn = sqlite3.connect(tmp_path / "state" / DB_NAME)  # as schema 19 left it
    for trigger in ("ai", "ad", "au", "alias_ai", "alias_ad", "alias_au"):
        conn.execute(f"DROP TRIGGER feed_counts_{trigger}")
    conn.execute("DROP TABLE feed_counts")
    before = next(n for n, ddl in enumerate(MIGRATIONS) if "CREATE TABLE feed_counts" in ddl)
    # A later migration runs again here: each must be one that can (21 changes nothing).
    assert [m.strip() for m in MIGRATIONS[before + 1:]] == ["SELECT 1;"]
    conn.execute(f"PRAGMA user_version = {before}")
    conn.commit()
    conn.close()
    with Store.open(tmp_path / "state") as store:
        assert _counted(store) == expected == {SPEC.key: (4, 1, 0), "/other": (0, 0, 1)}


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


OTHER = FeedSpec(key="/mirror", urls=("http://127.0.0.1:1/mirror",), category="新媒体",
                 source="镜像站", channel="全部")
MIRROR_OK = FetchResult(key=OTHER.key, status=FetchStatus.OK, url=OTHER.urls[0])
STORY = ("小米今天发布了第三款自研手机芯片，采用第二代三纳米工艺，十核心设计，"
         "多核性能较上一代提升百分之三十，功耗下降百分之二十，首发机型下月上市。")


def story(n: int, **changes: object) -> Article:
    """article(n) with a text long enough for a fingerprint (the store's own is too short)."""
    return article(n, **{"text": f"{STORY}第{n}款。", **changes})


def aliases(store: Store) -> list[tuple[str, str, str, str]]:
    return [tuple(row) for row in store._conn.execute(
        "SELECT feed_key, article_id, matched, link FROM aliases ORDER BY feed_key")]


def test_a_copy_with_tracking_parameters_over_http_is_an_alias(tmp_path: Path,
                                                               store: Store) -> None:
    store.save_feed(SPEC, OK, [article(1)], None, NOW)
    copy = article(1, id="m1", feed_key=OTHER.key,
                   link="http://news.example.com/1.html/?utm_source=rss&spm=a.b#top")
    counts = store.save_feed(OTHER, MIRROR_OK, [copy], None, NOW)
    assert (counts.new, counts.aliased, counts.by_fingerprint) == (0, 1, 0)
    assert [a.id for a in store.articles()] == ["id1"]
    assert aliases(store) == [(OTHER.key, "id1", "link", copy.link)]
    assert {h.key: h.merged for h in store.health(NOW)} == {SPEC.key: 0, OTHER.key: 1}


def test_a_real_query_parameter_makes_another_article(store: Store) -> None:
    store.save_feed(SPEC, OK, [article(1, link="https://news.example.com/a?id=1")], None, NOW)
    other = article(2, feed_key=OTHER.key, link="https://news.example.com/a?id=2")
    assert store.save_feed(OTHER, MIRROR_OK, [other], None, NOW).new == 1


def test_a_mirror_copy_is_merged_by_fingerprint_within_the_window(tmp_path: Path,
                                                                  store: Store) -> None:
    store.save_feed(SPEC, OK, [story(1)], None, NOW)
    mirror = story(1, id="m1", feed_key=OTHER.key, link="https://mirror.example.net/x/1",
                   title="小米 发布 第1款芯片：chip number 1！",
                   published=NOW + timedelta(days=2))
    counts = store.save_feed(OTHER, MIRROR_OK, [mirror], None, NOW)
    assert (counts.aliased, counts.by_fingerprint) == (1, 1)
    assert aliases(store) == [(OTHER.key, "id1", "fingerprint", mirror.link)]
    late = story(1, id="m2", feed_key=OTHER.key, link="https://mirror.example.net/x/2",
                 published=NOW + timedelta(days=4))  # a year's anniversary, say: not merged
    assert store.save_feed(OTHER, MIRROR_OK, [late], None, NOW).new == 1


def test_stories_told_the_same_way_with_other_numbers_are_not_merged(store: Store) -> None:
    store.save_feed(SPEC, OK, [story(3)], None, NOW)
    fourth = story(4, id="m4", feed_key=OTHER.key, link="https://mirror.example.net/x/4",
                   published=NOW)
    assert store.save_feed(OTHER, MIRROR_OK, [fourth], None, NOW).new == 1
    assert store.article_count() == 2


def test_a_much_richer_copy_gives_its_content_and_is_not_taken_back(store: Store) -> None:
    summary = story(1, text=STORY[:60], content_html=f"<p>{STORY[:60]}</p>")
    store.save_feed(SPEC, OK, [summary], None, NOW)
    full = story(1, id="m1", feed_key=OTHER.key, text=STORY * 3,
                 content_html=f"<p>{STORY * 3}</p>", content_hash="full")
    counts = store.save_feed(OTHER, MIRROR_OK, [full], None, NOW)
    assert (counts.aliased, counts.richer) == (1, 1)
    (kept,) = store.articles()
    assert (kept.id, kept.link, kept.text) == ("id1", summary.link, STORY * 3)
    edited = replace(summary, content_hash="h1b")  # the first feed's summary, edited
    assert store.save_feed(SPEC, OK, [edited], None, NOW).updated == 0
    assert store.save_feed(OTHER, MIRROR_OK, [full], None, NOW).richer == 0  # unchanged
    assert [a.text for a in store.articles()] == [STORY * 3]


def test_migration_12_keys_an_archive_of_schema_11_without_changing_it(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    conn = sqlite3.connect(state / DB_NAME)
    for script in MIGRATIONS[:11]:
        conn.executescript(script)
    conn.execute("PRAGMA user_version = 11")
    old = article(1, link="http://news.example.com/1.html?utm_medium=feed")
    conn.execute(
        "INSERT INTO articles (id, feed_key, title, link, published, date_estimated, "
        "date_clamped, author, category, source, channel, content_html, text, image, "
        "content_hash, first_seen, last_changed) VALUES (?, ?, ?, ?, ?, 0, 0, '', '', '', '', "
        "'', ?, '', 'h', ?, ?)", (old.id, old.feed_key, old.title, old.link,
                                  old.published.isoformat(), STORY, NOW.isoformat(),
                                  NOW.isoformat()))
    conn.commit()
    seq = conn.execute("SELECT MAX(seq) FROM changes").fetchone()[0]
    conn.close()
    with Store.open(state) as store:
        assert store.mark().seq == seq  # keyed, not changed: nothing to rebuild
        copy = article(1, id="m1", feed_key=OTHER.key, link="https://news.example.com/1.html")
        counts = store.save_feed(OTHER, MIRROR_OK, [copy], None, NOW)
        assert (counts.new, counts.aliased) == (0, 1)
        assert [a.id for a in store.articles()] == ["id1"]  # ids as they were
    conn = sqlite3.connect(state / DB_NAME)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) >= 12
    assert conn.execute("SELECT canonical_link FROM articles").fetchone()[0] == (
        "//news.example.com/1.html")


def test_a_restored_export_without_keys_gets_them(tmp_path: Path, store: Store) -> None:
    """An export of an archive before schema 12 has no comparison keys: the restore computes
    them, so the next copy of a restored story is still recognised."""
    store.save_feed(SPEC, OK, [article(1, link="https://news.example.com/1.html?utm_id=x")],
                    None, NOW)
    store.export(tmp_path / "all.jsonl.gz")
    with gzip.open(tmp_path / "all.jsonl.gz", "rt", encoding="utf-8") as lines:
        records = [json.loads(line) for line in lines]
    for record in records:
        for key in ("canonical_link", "title_key", "content_from", "alias_details"):
            record.pop(key, None)
    with gzip.open(tmp_path / "old.jsonl.gz", "wt", encoding="utf-8") as out:
        out.writelines(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
    with Store.open(tmp_path / "elsewhere") as restored:
        assert restored.restore(tmp_path / "old.jsonl.gz").new == 1
        copy = article(1, id="m1", feed_key=OTHER.key, link="http://news.example.com/1.html")
        assert restored.save_feed(OTHER, MIRROR_OK, [copy], None, NOW).aliased == 1


def test_a_copy_of_a_story_the_first_feed_hid_is_shown_from_its_own_feed(store: Store) -> None:
    store.save_feed(SPEC, OK, [article(1)], None, NOW, hidden={"id1"})  # the first feed's rule
    copy = article(1, id="m1", feed_key=OTHER.key)
    counts = store.save_feed(OTHER, MIRROR_OK, [copy], None, NOW)
    assert (counts.new, counts.aliased) == (1, 0)
    assert [a.id for a in store.articles()] == ["m1"]
