"""The state store: feeds, articles and published names, in one SQLite file (WAL) or in a
PostgreSQL database (``store.url``: many machines, one archive).

A data-access layer with no business logic beyond what keeping the archive consistent needs.
``Store`` is the only entry point other stages use; each method is one short transaction or
read. The other stages do not know which database is behind it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from rsspage.store import (
    articles,
    changes,
    clusters,
    db,
    feeds,
    leases,
    pg,
    retention,
    same_story,
)
from rsspage.store import export as jsonl
from rsspage.store.articles import SaveCounts
from rsspage.store.changes import ArchiveMark, Change, Location
from rsspage.store.cluster_ahead import Ahead
from rsspage.store.db import Connection
from rsspage.store.export import ExportCounts, RestoreCounts
from rsspage.store.feeds import FeedHealth
from rsspage.store.search import SearchHit, search
from rsspage.store.site_query import SiteQuery
from rsspage.types import Article, FeedNames, FeedSpec, FeedState, FeedTiming, FetchResult

__all__ = ["Ahead", "ArchiveMark", "Change", "ExportCounts", "FeedHealth", "Location",
           "RestoreCounts", "SaveCounts", "SearchHit", "SiteQuery", "Store"]


class Store:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    @classmethod
    def open(cls, state_dir: Path, url: str | None = None) -> Store:
        """Open the store: the SQLite file in ``state_dir``, or the PostgreSQL database at
        ``url``. Articles stored without comparison keys (by an older schema) get them now,
        once: the next feed's copies are compared with them."""
        store = cls(pg.connect(url) if url else db.connect(state_dir))
        store._fill_keys()
        store._fill_clusters()
        return store

    @classmethod
    @contextmanager
    def locked(cls, state_dir: Path, url: str | None = None, *,
               fetching: bool = False) -> Iterator[Store]:
        """The store opened under the run lock (store/db.py ``run_lock``): for a run that
        writes (update, build, import, restore); ``fetching``: an update, which no fetch
        worker may run beside."""
        with db.run_lock(state_dir, url, fetching=fetching), cls.open(state_dir, url) as store:
            yield store

    def _fill_clusters(self) -> int:
        """File the recent articles for story clusters, once (store/clusters.py)."""
        if not clusters.needs_fill(self._conn):
            return 0  # the usual case: no write lock taken
        with db.transaction(self._conn):
            return clusters.fill(self._conn)

    def clusters_ahead(self) -> Ahead | None:
        """A process that decides the next :meth:`cluster_new` while the feeds are stored
        (store/cluster_ahead.py): give it the new articles, then pass it to
        :meth:`cluster_new`, and close it. None: no second core, or clusters are off."""
        return Ahead.spawn(self._conn)

    def cluster_new(self, ahead: Ahead | None = None) -> int:
        """File the articles stored since the last pass and join each to its story's cluster
        (store/clusters.py): once a run's feeds are stored, under the run lock (an update's
        queued articles are one pass; a run that died leaves them to the next update or build).
        ``ahead``: the pass decided meanwhile, taken if it is for the articles queued.
        Returns how many were filed."""
        if not clusters.has_pending(self._conn):
            return 0  # no write lock taken by a reader (status, serve)
        with db.transaction(self._conn):
            return clusters.file_pending(self._conn, ahead=ahead)

    def _fill_keys(self) -> int:
        if not same_story.has_unkeyed(self._conn):
            return 0  # the usual case: no write lock taken by a reader (status, serve)
        with db.transaction(self._conn):
            return same_story.fill_keys(self._conn)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def feed_states(self, keys: Collection[str] | None = None) -> dict[str, FeedState]:
        """Each feed's HTTP validators, by key (``keys``: of those feeds only)."""
        return feeds.states(self._conn, keys)

    def feed_timings(self, keys: Collection[str] | None = None) -> dict[str, FeedTiming]:
        """Each feed's schedule (next due time, failure streak), by key (``keys``: of those
        feeds only)."""
        return feeds.timings(self._conn, keys)

    def save_feed(
        self,
        spec: FeedSpec,
        result: FetchResult,
        entries: Iterable[Article],
        error: str | None,
        now: datetime,
        title: str | None = None,
        timing: FeedTiming | None = None,
        empty_items: int | None = None,
        hidden: Collection[str] = (),
    ) -> SaveCounts:
        """Store one feed's outcome, its articles and when it is next due atomically: all of
        it or nothing. ``empty_items``: how many items of the document were empty (skipped);
        None leaves the count of the last document read. ``hidden``: ids of the articles
        filter rules hid; new ones among them are stored hidden."""
        with db.transaction(self._conn):
            counts = articles.save(self._conn, entries, now, hidden=hidden)
            feeds.record(self._conn, spec, result, error, now, timing)
            if title:
                feeds.set_title(self._conn, spec.key, title)
            if empty_items is not None:
                feeds.set_empty_items(self._conn, spec.key, empty_items)
        return counts

    def save_imported(self, batches: Iterable[tuple[FeedSpec, Sequence[Article]]],
                      now: datetime) -> dict[str, SaveCounts]:
        """Store the articles of an old archive (``rsspage import-hexo``), each batch under its
        feed (which gets a row if it has none), all or nothing; items a feed brought already are
        skipped. Returns the counts by feed key."""
        counts: dict[str, SaveCounts] = {}
        with db.transaction(self._conn):
            db.leave_out_search_index(self._conn)
            for spec, batch in batches:
                feeds.ensure(self._conn, [spec], now)
                counts[spec.key] = articles.save(self._conn, batch, now, imported=True)
            clusters.file_pending(self._conn)
        return counts

    def prune(self, before: datetime, now: datetime) -> int:
        with db.transaction(self._conn):
            return articles.prune(self._conn, before, now)

    def prune_by_feed(self, before: datetime | None, own: Mapping[str, datetime | None],
                      now: datetime) -> int:
        """Prune by age: ``before`` for every feed but those of ``own``, which have their own
        date (None: keep all of theirs)."""
        with db.transaction(self._conn):
            return retention.prune(self._conn, before, own, now)

    def follow(self, specs: Iterable[FeedSpec], now: datetime) -> None:
        """A row for each of the feeds ``specs`` that has none yet, and (PostgreSQL) a lease
        a fetch worker can claim."""
        specs = list(specs)
        with db.transaction(self._conn):
            feeds.ensure(self._conn, specs, now)
            leases.ensure(self._conn, [spec.key for spec in specs])

    def claim_feeds(self, due: Sequence[tuple[str, float]], now: datetime, until: datetime,
                    worker: str, limit: int) -> list[str]:
        """Lease up to ``limit`` of the feeds ``due`` ((key, configured ``every`` in seconds))
        that are still due to the fetch worker ``worker`` until ``until``
        (store/leases.py); returns the keys it got."""
        with db.transaction(self._conn, exclusive=False):
            return leases.claim(self._conn, due, now, until, worker, limit)

    def release_leases(self, keys: Sequence[str], worker: str) -> None:
        """The worker has stored ``keys``: their leases end."""
        with db.transaction(self._conn, exclusive=False):
            leases.release(self._conn, keys, worker)

    def renew_leases(self, keys: Sequence[str], until: datetime, worker: str) -> int:
        """The worker's leases on ``keys`` last until ``until``; how many it still held."""
        with db.transaction(self._conn, exclusive=False):
            return leases.renew(self._conn, keys, until, worker)

    def set_followed(self, keys: Iterable[str], now: datetime) -> int:
        """Retire the feeds that left the config, follow the ones back in it again."""
        with db.transaction(self._conn):
            return feeds.set_followed(self._conn, keys, now)

    def feed_names(self) -> dict[str, FeedNames]:
        """Where each feed is filed (its names and view), by key."""
        return feeds.names(self._conn)

    def feed_keys(self) -> set[str]:
        """The key of every feed in the archive, followed or retired."""
        return feeds.keys(self._conn)

    def feed_articles(self, key: str) -> list[tuple[str, str, bool]]:
        """(id, title, shared) of the articles the feed ``key`` brought; a shared one was
        brought by another feed too."""
        return articles.of_feed(self._conn, key)

    def forget_feed(self, key: str, now: datetime) -> tuple[int, int]:
        """Delete a feed and its articles on purpose, but for those other feeds brought too
        (they pass to one of them); returns (deleted, handed over)."""
        with db.transaction(self._conn):
            counts = articles.remove_feed(self._conn, key, now)
            feeds.delete(self._conn, key)
        return counts

    def unknown_ids(self, ids: Iterable[str]) -> set[str]:
        """Those of ``ids`` neither in the archive nor removed on purpose (a younger state)."""
        return articles.unknown_ids(self._conn, ids)

    def is_unknown(self, article_id: str) -> bool:
        return bool(articles.unknown_ids(self._conn, (article_id,)))

    def unseen(self, items: Iterable[Article]) -> set[str]:
        """Ids of the stories of ``items`` the archive has never seen: unknown ids whose
        canonical link no other feed's stored article has either, and that their feed's copy
        is no alias of (the page of a story another feed brought first, or of a copy recorded
        as its alias, by link or by fingerprint, is not fetched again: full text). Within a
        feed, an item is known by its id only: a new item with an older one's link is new."""
        items = list(items)
        unknown = articles.unknown_ids(self._conn, (a.id for a in items))
        return {a.id for a in items if a.id in unknown and self._stored_as(a) is None}

    def stored_stories(self, items: Iterable[Article]) -> dict[str, Article]:
        """The archive's article of each of ``items`` it has, by the item's id: its own, else
        the one its feed's copy is an alias of, else another feed's with the same canonical
        link (the story of which it is a copy)."""
        items = list(items)
        own = articles.by_ids(self._conn, (a.id for a in items))
        ids = {a.id: a.id if a.id in own else self._stored_as(a) for a in items}
        others = articles.by_ids(self._conn, {i for i in ids.values() if i and i not in own})
        found = {**own, **others}
        return {key: found[i] for key, i in ids.items() if i is not None and i in found}

    def _stored_as(self, article: Article) -> str | None:
        """The id of the stored article a new item is a copy of: the one its feed's copy was
        recorded as an alias of (by its feed and link), else :meth:`_by_link`."""
        if article.link:
            row = self._conn.execute(
                "SELECT article_id FROM aliases WHERE feed_key = ? AND link = ? AND link != '' "
                # "+": through aliases_link (a row or two, then sorted), not the feed's rows
                "ORDER BY +article_id LIMIT 1", (article.feed_key, article.link)).fetchone()
            if row:
                return str(row[0])
        return self._by_link(article)

    def _by_link(self, article: Article) -> str | None:
        """The id of another feed's shown article with ``article``'s canonical link (what
        :func:`rsspage.store.same_story.alias_of` would join it to): not one of the feed's own
        (two items of one feed with one link are two articles), nor a hidden one."""
        key = same_story.story_keys(article)[0]
        if not key:
            return None
        # "!= ''": what lets SQLite use the partial index articles_canonical
        row = self._conn.execute(
            "SELECT id FROM articles WHERE canonical_link = ? AND canonical_link != '' "
            "AND feed_key != ? AND +hidden = 0 ORDER BY rowid LIMIT 1",
            (key, article.feed_key)).fetchone()
        return str(row[0]) if row else None

    def page_retries(self, feed_key: str) -> set[str]:
        """Ids of the feed's articles whose page gave no text on its last run (full text)."""
        rows = self._conn.execute("SELECT article_id FROM page_retries WHERE feed_key = ?",
                                  (feed_key,))
        return {str(row[0]) for row in rows}

    def set_page_retries(self, feed_key: str, ids: Iterable[str]) -> None:
        """The feed's articles to try the page of once more on its next run: ``ids`` in place
        of those it had (each is tried again once)."""
        with db.transaction(self._conn):
            self._conn.execute("DELETE FROM page_retries WHERE feed_key = ?", (feed_key,))
            self._conn.executemany(
                "INSERT OR IGNORE INTO page_retries (feed_key, article_id) VALUES (?, ?)",
                [(feed_key, i) for i in ids])

    def export(self, path: Path) -> ExportCounts:
        """The whole archive as one compressed JSON Lines file."""
        return jsonl.export_file(self._conn, path)

    def export_parts(self, folder: Path) -> ExportCounts:
        """The archive as parts (feeds, one file per month); unchanged parts stay as they are."""
        return jsonl.export_parts(self._conn, folder)

    def restore(self, path: Path) -> RestoreCounts:
        """Merge an export (a file or a folder of parts) into the store, all or nothing."""
        files = jsonl.export_files(path)
        with db.transaction(self._conn):
            # What the store had queued (workers' articles, a run that died) is decided
            # first: the restore's own are only filed.
            clusters.file_pending(self._conn)
            counts = jsonl.restore(self._conn, files)
            same_story.fill_keys(self._conn)  # an export of an older schema has no keys
            # Its articles are not filed under their keys; their clusters came with them.
            clusters.refill(self._conn, decide=counts.unclustered > 0)
        return counts

    def articles(self, *, content: bool = True,
                 since: datetime | None = None) -> Iterator[Article]:
        """Every article that is not hidden, oldest first; ``content=False``: without
        ``content_html``; ``since``: only those published since then."""
        return articles.iter_all(self._conn, content=content, since=since)

    def archive(self) -> Iterator[tuple[Article, bool]]:
        """Every article, hidden ones too, with whether it is hidden, without
        ``content_html``: what ``rsspage filter test`` tries the rules on."""
        return articles.iter_archive(self._conn)

    def set_hidden(self, ids: Iterable[str], hidden: bool, now: datetime) -> int:
        """Hide the articles ``ids`` (or show them again); nothing is deleted. Returns how many
        changed; their pages go (or come back) at the next build."""
        with db.transaction(self._conn):
            return articles.set_hidden(self._conn, ids, hidden, now)

    def published_at(self, rank: int) -> datetime | None:
        """When the ``rank``-th newest article (1: the newest) was published; None when the
        archive holds fewer."""
        return articles.published_at(self._conn, rank)

    def contents(self, ids: Iterable[str]) -> dict[str, str]:
        """``content_html`` of the articles ``ids``, by id."""
        return articles.contents(self._conn, ids)

    def articles_by_id(self, ids: Iterable[str]) -> dict[str, Article]:
        """The articles ``ids`` that are in the archive, with their content, by id."""
        return articles.by_ids(self._conn, ids)

    def article_count(self) -> int:
        return articles.count(self._conn)

    def published_names(self, output: str) -> dict[str, str]:
        return articles.names(self._conn, output)

    def save_names(self, output: str, assigned: Mapping[str, str]) -> None:
        with db.transaction(self._conn):
            articles.save_names(self._conn, output, assigned)

    def page_hashes(self, output: str) -> dict[str, str]:
        """Path → hash of the inputs each page of ``output`` was last rendered from."""
        return articles.page_hashes(self._conn, output)

    def page_outputs(self) -> list[str]:
        """The outputs that have page hashes."""
        return [str(row[0]) for row in self._conn.execute(
            "SELECT DISTINCT output FROM pages ORDER BY output")]

    def save_page_hashes(self, output: str, hashes: Mapping[str, str]) -> None:
        with db.transaction(self._conn):
            articles.save_page_hashes(self._conn, output, hashes)

    def mark(self) -> ArchiveMark:
        """Where the archive stands now (see :mod:`rsspage.store.changes`): an output built at
        an equal mark shows these very articles."""
        return changes.mark(self._conn)

    def changes_since(self, seq: int) -> list[Change] | None:
        """The articles added, changed or removed after mark ``seq`` (of this archive), each
        with where it was then; None when the log no longer reaches back that far."""
        return changes.since(self._conn, seq)

    def window_moved(self, old: datetime | None, new: datetime | None,
                     limit: int) -> list[Change] | None:
        """The articles that left (or entered) a window of the archive published since
        ``old`` when it starts at ``new``; None when more than ``limit``."""
        return changes.window_moved(self._conn, old, new, limit)

    def site_query(self, since: datetime | None) -> SiteQuery:
        """Indexed reads of the articles published since ``since`` (None: all), for a build
        that renders only what changed."""
        return SiteQuery(self._conn, since)

    def trim_changes(self, upto: int) -> int:
        """Forget the change log up to ``upto`` (every output is built past it)."""
        with db.transaction(self._conn):
            return changes.trim(self._conn, upto)

    def search(self, query: str, limit: int = 20) -> list[SearchHit]:
        """The articles that match ``query``: through the search index, or by reading every
        article while the index is left out (:meth:`build_search_index`)."""
        return search(self._conn, query, limit, indexed=self.search_index_ready())

    def search_index_ready(self) -> bool:
        """Whether the search index is there: a restore or an import into an empty archive
        leaves it out (db.leave_out_search_index) until :meth:`build_search_index`."""
        return not db.search_index_detached(self._conn)

    def build_search_index(self) -> None:
        """Build the search index left out by a restore, and keep it from now on. One write
        transaction (37 s at 300,000 articles): hold the run lock (:meth:`locked`), so that no
        update waits for it past the database's busy timeout."""
        with db.transaction(self._conn):
            db.attach_search_index(self._conn)

    def health(self, since: datetime) -> list[FeedHealth]:
        return feeds.health(self._conn, since)

    def integrity_ok(self) -> bool:
        """SQLite's own check of the file; on PostgreSQL (which keeps its files whole), that
        every constraint is validated and no story-cluster row points at a missing article."""
        if self._conn.dialect == db.POSTGRESQL:
            return not self._conn.execute(
                "SELECT EXISTS(SELECT 1 FROM pg_constraint c JOIN pg_namespace n "
                "ON n.oid = c.connamespace WHERE n.nspname = current_schema() "
                "AND NOT c.convalidated) OR " + " OR ".join(
                    f"EXISTS(SELECT 1 FROM {table} x WHERE NOT EXISTS (SELECT 1 FROM articles a "
                    "WHERE a.rowid = x.article))"
                    for table in ("cluster_keys", "cluster_features", "cluster_pending"))
            ).fetchone()[0]
        return bool(self._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok")

    def activity(self) -> tuple[str, str]:
        """Where the store stands: its change log's mark and the feeds' last fetch (what
        ``rsspage serve`` polls on a database server, where no file changes)."""
        (latest,) = self._conn.execute("SELECT MAX(last_attempt) FROM feeds").fetchone()
        return self.mark().as_text(), str(latest or "")

    def size(self) -> int:
        """Bytes the archive takes in its database (SQLite: the file's pages; PostgreSQL: the
        database, indexes and search index included)."""
        if self._conn.dialect == db.POSTGRESQL:
            sql = "SELECT pg_database_size(current_database())"
        else:
            sql = "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()"
        return int(self._conn.execute(sql).fetchone()[0])

    @property
    def dialect(self) -> str:
        """Which database holds the archive: ``sqlite`` or ``postgresql``."""
        return self._conn.dialect
