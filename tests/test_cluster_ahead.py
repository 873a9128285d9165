"""The clusters' pass decided in a second process while the feeds are stored
(store/cluster_ahead.py): the clusters, keys, features and counts are those of the pass decided
after, on both databases and through ``rsspage update``; a child given other articles than the
store queued, one that fails and a run of too few new articles leave the pass to the parent."""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest
import yaml

from conftest import run_cli
from rsspage.clusters import Features
from rsspage.store import Ahead, Store, articles, cluster_ahead, db
from rsspage.store.db import DB_NAME
from rsspage.types import Article
from servers import LocalServer, feed
from test_clusters import as_article, distractors, labelled

NOW = datetime.now(UTC).replace(microsecond=0)
TAKEN = "was decided ahead"
TWO_CORES = len(os.sched_getaffinity(0)) >= 2


def corpus() -> list[Article]:
    """The labelled set and the demo's other reports (384 articles of 24 sources), moved so
    that the newest is an hour old, in publication order."""
    stories = labelled()[0]
    items = [*map(as_article, stories.values()), *distractors(stories)]
    shift = NOW - timedelta(hours=1) - max(a.published for a in items)
    return sorted((replace(a, published=a.published + shift) for a in items),
                  key=lambda a: (a.published, a.id))


def by_feed(items: Iterable[Article]) -> list[list[Article]]:
    feeds: dict[str, list[Article]] = {}
    for a in items:
        feeds.setdefault(a.feed_key, []).append(a)
    return [feeds[key] for key in sorted(feeds)]


def store_run(store: Store, feeds: list[list[Article]], ahead: Ahead | None,
              given: Iterable[Article] = ()) -> None:
    """What an update does with the feeds' articles: each feed's new ones given to ``ahead``
    as it is parsed (and ``given``, stored by no feed), then each feed stored, then the pass."""
    if ahead is not None:
        give(store, feeds, ahead, given)
    store_and_file(store, feeds, ahead)


def give(store: Store, feeds: list[list[Article]], ahead: Ahead,
         given: Iterable[Article] = ()) -> None:
    for position, items in enumerate(feeds):
        new = store.unseen(items)
        ahead.give(position, [a for a in items if a.id in new])
    ahead.give(len(feeds), given)
    ahead.seal()


def store_and_file(store: Store, feeds: list[list[Article]], ahead: Ahead | None) -> None:
    conn = store._conn
    for items in feeds:
        with db.transaction(conn):
            articles.save(conn, items, NOW)
    try:
        store.cluster_new(ahead)
    finally:
        if ahead is not None:
            ahead.close()


def filed(store: Store) -> dict[str, Any]:
    """Everything a pass writes, by article id (the rowids of two archives may differ)."""
    def rows(sql: str) -> list[tuple[Any, ...]]:
        return sorted(tuple(row) for row in store._conn.execute(sql))

    return {
        "clusters": rows("SELECT id, cluster FROM articles"),
        "keys": rows("SELECT a.id, k.week, k.key, k.day FROM cluster_keys k "
                     "JOIN articles a ON a.rowid = k.article"),
        # (the same features, maybe listed in another order)
        "features": [(i, day, Features.from_bytes(data)) for i, day, data in rows(
            "SELECT a.id, f.day, f.features FROM cluster_features f "
            "JOIN articles a ON a.rowid = f.article")],
        "counts": rows("SELECT articles, counters FROM cluster_counts"),
        "queued": rows("SELECT COUNT(*) FROM cluster_pending"),
    }


@pytest.fixture(params=["sqlite", "postgresql"])
def two_stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Store, Store]]:
    """Two empty archives on one database: one whose passes are decided ahead, one not."""
    urls: list[str | None] = [None, None]
    if request.param == "postgresql":
        server = request.getfixturevalue("postgres")
        urls = [server.database(), server.database()]
    with Store.open(tmp_path / "ahead", urls[0]) as ahead, \
            Store.open(tmp_path / "after", urls[1]) as after:
        yield ahead, after


@pytest.fixture
def debug_log(caplog: pytest.LogCaptureFixture,
              monkeypatch: pytest.MonkeyPatch) -> pytest.LogCaptureFixture:
    # (the CLI, run in this process by other tests, stops rsspage's records at its own file)
    monkeypatch.setattr(logging.getLogger("rsspage"), "propagate", True)
    caplog.set_level(logging.DEBUG, logger="rsspage")
    return caplog


def both(stores: tuple[Store, Store], feeds: list[list[Article]],
         given: Iterable[Article] = ()) -> None:
    ahead, after = stores
    handle = ahead.clusters_ahead()
    assert handle is not None or not TWO_CORES
    store_run(ahead, feeds, handle, given)
    store_run(after, feeds, None)


@pytest.mark.skipif(not TWO_CORES, reason="a pass is decided ahead on a second core only")
def test_a_pass_decided_ahead_files_what_the_pass_after_storing_does(
        two_stores: tuple[Store, Store], debug_log: pytest.LogCaptureFixture) -> None:
    """Two runs: the first report of half the labelled stories and half the other reports,
    then the rest (decided ahead): they join clusters of the first run's and of their own."""
    early, late = halves()
    assert len(early) < cluster_ahead.FROM <= len(late)
    for part in (early, late):
        debug_log.clear()
        both(two_stores, by_feed(part))
        assert (TAKEN in debug_log.text) == (part is late)
        assert filed(two_stores[0]) == filed(two_stores[1])
    found = dict(filed(two_stores[0])["clusters"])
    first, second = {a.id for a in early}, {a.id for a in late}
    joined = {i for i in second if found[i] is not None}
    assert any(found[i] in first for i in joined)  # a cluster of the first run's
    assert any(found[i] in second for i in joined)  # a cluster of this run's


@pytest.mark.skipif(not TWO_CORES, reason="a pass is decided ahead on a second core only")
def test_decisions_for_other_articles_than_those_stored_are_not_taken(
        two_stores: tuple[Store, Store], debug_log: pytest.LogCaptureFixture) -> None:
    """The child decided with an article that was not stored (as when a feed's new story
    is stored as another feed's copy): the pass decides itself, the same as without."""
    items = corpus()
    ghost = replace(items[-1], id="ghost", feed_key="feed:ghost", source="ghost",
                    link="https://ghost.example.com/")
    both(two_stores, by_feed(items), given=[ghost])
    assert TAKEN not in debug_log.text
    assert "not taken: other articles" in debug_log.text
    assert filed(two_stores[0]) == filed(two_stores[1])


def halves() -> tuple[list[Article], list[Article]]:
    """The first report of half the labelled stories and half the other reports; the rest."""
    items = corpus()
    stories = sorted({a.id.rsplit("-", 1)[0] for a in items if not a.id.startswith("demo-")})
    begun = {f"{story}-0" for story in stories[::2]}
    early = [a for n, a in enumerate(items)
             if a.id in begun or (a.id.startswith("demo-") and n % 2)]
    return early, [a for a in items if a not in early]


@pytest.mark.skipif(not TWO_CORES, reason="a pass is decided ahead on a second core only")
def test_items_edited_while_the_pass_was_decided_ahead_make_the_pass_decide_again(
        two_stores: tuple[Store, Store], debug_log: pytest.LogCaptureFixture) -> None:
    """The second run's feeds bring the first run's articles again, edited and dated five
    days earlier: storing them changes candidates the child read before (their dates decide
    the window). The pass decides again (decided ahead, 68 articles' clusters differed)."""
    early, late = halves()
    for store in two_stores:
        store_run(store, by_feed(early), None)
    edited = [replace(a, published=a.published - timedelta(days=5),
                      content_hash=f"edited {a.content_hash}") for a in early]
    both(two_stores, by_feed([*late, *edited]))
    assert "not taken: articles it read changed" in debug_log.text
    assert filed(two_stores[0]) == filed(two_stores[1])


@pytest.mark.skipif(not TWO_CORES, reason="a pass is decided ahead on a second core only")
def test_decisions_for_another_storing_order_or_counts_are_not_taken(
        tmp_path: Path, debug_log: pytest.LogCaptureFixture) -> None:
    """Feeds stored in another order than given (ties between candidates go to the newest
    rowid), and another pass filing articles meanwhile: not taken."""
    early, late = halves()
    with Store.open(tmp_path / "order") as store:
        store_run(store, by_feed(early), None)
        ahead = store.clusters_ahead()
        assert ahead is not None
        feeds = by_feed(late)
        give(store, feeds, ahead)
        store_and_file(store, feeds[::-1], ahead)
    assert "not taken: stored in another order" in debug_log.text
    with Store.open(tmp_path / "counts") as store:
        ahead = store.clusters_ahead()
        assert ahead is not None
        feeds = by_feed(late)
        give(store, feeds, ahead)
        store_run(store, by_feed(early), None)  # another pass, in between
        store_and_file(store, feeds, ahead)
    # (the counts' total tells it when the child read the counts first; else, the articles
    # it read changed since it started: the change log tells)
    assert ("not taken: another pass counted articles" in debug_log.text
            or "not taken: articles it read changed" in debug_log.text)
    assert TAKEN not in debug_log.text


@pytest.mark.skipif(not TWO_CORES, reason="a pass is decided ahead on a second core only")
def test_a_child_that_fails_leaves_the_pass_to_the_parent(
        two_stores: tuple[Store, Store], debug_log: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cluster_ahead, "_CHILD", "import sys; sys.stdin.read(1); sys.exit(3)")
    both(two_stores, by_feed(corpus()))
    assert TAKEN not in debug_log.text and "decided ahead failed" in debug_log.text
    assert filed(two_stores[0]) == filed(two_stores[1])


def test_a_run_of_few_new_articles_is_decided_after_storing(
        two_stores: tuple[Store, Store], debug_log: pytest.LogCaptureFixture) -> None:
    items = corpus()[:cluster_ahead.FROM - 1]
    both(two_stores, by_feed(items))
    assert TAKEN not in debug_log.text
    assert filed(two_stores[0]) == filed(two_stores[1])
    assert filed(two_stores[0])["queued"] == [(0,)]


# --------------------------------------------------------------------------- through the CLI

#: Makes rsspage's debug records reach its log file (in TMPDIR), and with ONE_CORE, runs it
#: on one core: what a machine without a second one does.
SITECUSTOMIZE = """\
import logging, os
logging.getLogger("rsspage").setLevel(logging.DEBUG)
if os.environ.get("ONE_CORE"):
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
"""


def rss(items: list[Article]) -> bytes:
    parts = "".join(
        f"<item><title>{escape(a.title)}</title><link>{escape(a.link)}</link>"
        f"<guid>{escape(a.link)}</guid><description>{escape(a.content_html)}</description>"
        f"<pubDate>{format_datetime(a.published)}</pubDate></item>" for a in items)
    return ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>T'
            f'</title><link>https://news.example.com/</link>{parts}</channel></rss>').encode()


def update(folder: Path, base: str, sources: list[str], *, one_core: bool) -> str:
    """``rsspage update`` of the feeds in ``folder``; its log file's text."""
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    config = {"feeds": [{"url": f"{base}/{n}", "category": "科技", "source": source,
                         "channel": "全部"} for n, source in enumerate(sources)],
              "limits": {"items_per_feed": 500}, "fetch": {"timeout": 20, "retries": 0},
              "output": {"state": "state"}}
    path = folder / "rsspage.yml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    path_env = os.pathsep.join([str(folder), os.environ.get("PYTHONPATH", "")])
    env = {"TMPDIR": str(folder), "PYTHONPATH": path_env, "ONE_CORE": "1" if one_core else ""}
    run = run_cli("update", "-c", str(path), env=env)
    assert run.code == 0, run.err + run.out
    log = folder / "rsspage-error.log"
    return log.read_text(encoding="utf-8") if log.exists() else ""


def clusters_by_title(state: Path) -> set[tuple[str, str | None]]:
    conn = sqlite3.connect(state / DB_NAME)
    try:
        return set(conn.execute(
            "SELECT a.title, c.title FROM articles a LEFT JOIN articles c ON c.id = a.cluster"))
    finally:
        conn.close()


@pytest.mark.skipif(not TWO_CORES, reason="a pass is decided ahead on a second core only")
def test_an_update_decides_its_pass_ahead_with_a_second_core(tmp_path: Path) -> None:
    """An update of 24 feeds bringing 384 new articles: with two cores its pass is decided
    while the feeds are stored; with one, after. The clusters are the same."""
    feeds = by_feed(corpus())
    with LocalServer() as server:
        for n, items in enumerate(feeds):
            server.route(f"/{n}", feed(rss(items)))
        sources = [items[0].source for items in feeds]
        two = update(tmp_path / "two", server.url(""), sources, one_core=False)
        one = update(tmp_path / "one", server.url(""), sources, one_core=True)
    assert TAKEN in two and TAKEN not in one
    found = clusters_by_title(tmp_path / "two" / "state")
    assert found == clusters_by_title(tmp_path / "one" / "state")
    assert sum(1 for _, cluster in found if cluster) > 20
