"""Story clusters in the store: each new article joins the cluster of the same story told by
another source within a few days (:mod:`rsspage.clusters` decides what "the same story" is).

- A new visible article is *queued* (``cluster_pending``) in its feed's transaction. Once the
  run's feeds are stored, one pass (:func:`file_pending`, ``Store.cluster_new``) files and
  clusters the queued articles together, in the order they were published, in one transaction;
  a run that dies before it leaves the queue to the next open. Filed one by one in each feed's
  transaction, the sketch keys and feature counts of 1,000 new articles dirtied some 150,000
  scattered pages of the database, written again by each of 50 transactions; sorted and
  written once, their writes cost a tenth (benchmarks/README.md). And the clusters no longer
  depend on the order feeds happened to be stored in. An update decides the pass in a second
  process while its feeds are stored (store/cluster_ahead.py); the pass then only writes.
- ``cluster_keys`` (schema migrations 14 and 19) files every visible article under the keys
  of its sketch with the week and day it was published: an article's candidates are the
  articles sharing a key within :data:`~rsspage.clusters.WINDOW_DAYS`, a range of the primary
  key per key and week (at most :data:`_PER_KEY` rows), whatever the archive's size (the
  pass's own articles are found in memory). The week first: a run's keys are written into the
  newest week's pages only.
- ``cluster_counts`` counts the filed articles having each feature (store/cluster_counts.py):
  the weights of :func:`rsspage.clusters.similarity`.
- ``articles.cluster`` is the cluster's id (the id of the article the others joined; NULL: alone).
  Each article stays an article of its own, with its own pages: a cluster only links them.
- Joining changes what the other members' pages show ("also reported by", the cards' counts):
  the triggers (migrations 14 and 17) log each of them in the change log (store/changes.py) as
  touched by their cluster, so that an incremental build renders those pages and their cards,
  nothing else. They do the same when a member is hidden, shown, renamed or deleted.

Hidden articles never cluster, nor are they filed (a rule hid them; the site does not show them).
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import chain
from typing import Any, Protocol, cast

from rsspage.clusters import HEAD_CHARS, WINDOW_DAYS, Features, features_of, sketch
from rsspage.store import db
from rsspage.store.cluster_counts import FeatureCounts
from rsspage.store.cluster_pass import Known, Pass, week_of
from rsspage.store.db import Connection, utc_text

#: Off: new articles are neither queued nor clustered (the benchmark's switch, and a way out).
ENABLED = True

#: Rows read per key: a feature so common that more articles of the window share it says
#: little, and the lookup's cost stays bounded.
_PER_KEY = 24
#: Candidates read per article from the archive (those sharing the most keys).
_FROM_ARCHIVE = 8
#: Articles of one pass at most (~20 KB of features and keys each in memory).
CHUNK = 5_000
#: Days of features kept behind the newest filed (``cluster_features``): a window before and
#: after, and a day of slack.
_KEEP_DAYS = 2 * WINDOW_DAYS + 1
_WINDOW = timedelta(days=WINDOW_DAYS)
#: ``meta`` key set once the archive's recent articles were filed (after the migration, after
#: a restore): its absence makes :func:`fill` run.
_FILLED = "clusters_filled"


def queue(conn: Connection, ident: str) -> None:
    """Queue the stored, visible article ``ident`` for the next pass."""
    if ENABLED:
        conn.execute("INSERT OR IGNORE INTO cluster_pending (article) "
                     "SELECT rowid FROM articles WHERE id = ?", (ident,))


def has_pending(conn: Connection) -> bool:
    return conn.execute("SELECT 1 FROM cluster_pending LIMIT 1").fetchone() is not None


#: A queued article as a pass reads it: rowid, id, title, head (its text's first
#: :data:`~rsspage.clusters.HEAD_CHARS` characters), published (ISO 8601), source, cluster,
#: and whether it was filed already.
Row = tuple[int, str, str, str, str, str, str | None, bool]


class Ahead(Protocol):
    """A pass decided beforehand (store/cluster_ahead.py), for the articles it was given."""

    def take(self, conn: Connection, rows: list[Row]) -> Filing | None:
        """The pass decided for ``rows`` (those queued), or None: decided for others."""
        ...


@dataclass(slots=True)
class Filing:
    """A pass decided: its articles (with their features and keys), the joins, in order, and
    the feature counts with its articles counted (None: none was new to them)."""

    new: list[Known]
    joins: list[tuple[str, int]]
    counts: FeatureCounts | None
    #: The archive's articles whose rows the decisions read (ids), and the clusters whose
    #: members' sources they read: a pass decided ahead holds while none of them changed.
    read: frozenset[str] = frozenset()
    clusters: frozenset[str] = frozenset()


def queued_rows(conn: Connection, chunk: int = CHUNK) -> list[Any]:
    """The first ``chunk`` queued articles in publication order (:data:`Row`, then hidden)."""
    return conn.execute(
        "SELECT a.rowid, a.id, a.title, substr(a.text, 1, ?), a.published, a.source, "
        "a.cluster, f.article IS NOT NULL, a.hidden FROM cluster_pending p JOIN articles a "
        "ON a.rowid = p.article LEFT JOIN cluster_features f ON f.article = a.rowid "
        "ORDER BY a.published, a.id LIMIT ?", (HEAD_CHARS, chunk)).fetchall()


def file_pending(conn: Connection, *, decide: bool = True, ahead: Ahead | None = None) -> int:
    """File and cluster the queued articles (in the caller's transaction), oldest first, in
    passes of at most :data:`CHUNK` (an import of years of posts is queued at once: a pass
    holds its articles' features in memory); returns how many were filed. An article filed
    already is filed again at no cost (counted once). ``ahead``: the pass decided beforehand,
    taken if it was decided for the articles queued (else decided here)."""
    filed = 0
    while rows := queued_rows(conn):
        done, listed = db.one_of(conn, [r[0] for r in rows])
        conn.execute(f"DELETE FROM cluster_pending WHERE article {done}", (listed,))
        visible = [cast(Row, tuple(row[:-1])) for row in rows if not row[-1]]
        if ENABLED and visible:
            filing = ahead.take(conn, visible) if ahead is not None and decide else None
            _apply(conn, filing or decide_pass(conn, [new_known(row) for row in visible],
                                               {row[0] for row in visible if row[-1]},
                                               decide=decide))
            filed += len(visible)
        ahead = None  # for the first pass only
    return filed


def new_known(row: Row) -> Known:
    """A queued article with its features and sketch keys, to be filed."""
    rowid, ident, title, head, published, source, cluster, _ = row
    features = features_of(title, head)
    return Known(rowid, ident, datetime.fromisoformat(published), source, cluster, features,
                 sketch(features))


def decide_pass(conn: Connection, new: list[Known], filed: Collection[int] = (), *,
                decide: bool = True, counts: FeatureCounts | None = None) -> Filing:
    """One pass over the queued articles ``new``, in publication order (``filed``: the rowids
    of those filed already, counted already): read, decided, not written; without
    ``decide``, filed only (their clusters as they came: a restore's). ``counts``: the
    feature counts, read beforehand."""
    reading = Reading(conn, counts)
    if decide:
        reading.add(new)
    return reading.decide(new, filed, decide=decide)


class Reading:
    """What a pass reads of the archive for its new articles, read as they come (an update's
    are read feed by feed while the feeds are parsed: store/cluster_ahead.py), then decided
    together. Each article's candidates are the same however its pass's articles came."""

    def __init__(self, conn: Connection, counts: FeatureCounts | None = None) -> None:
        self._conn = conn
        self._counts = counts or FeatureCounts.read(conn)
        self._found: dict[int, dict[int, int]] = {}
        self._known: dict[int, Known] = {}
        self._first: dict[str, Known] = {}
        #: day → key → the newest articles filed under it in the window of that day
        self._filed: dict[int, dict[int, list[int]]] = {}

    def add(self, new: list[Known]) -> None:
        """Read the candidates of ``new`` (and their clusters' first articles)."""
        found = _from_archive(self._conn, new, self._filed)
        self._found.update(found)
        wanted = {r for shared in found.values() for r in shared} - self._known.keys()
        known = _read_known(self._conn, "rowid", wanted)
        self._known.update(known)
        # The clusters' first articles too (hidden ones as well): a new article joins only
        # what is like them (cluster_pass).
        founders = {k.cluster for k in known.values() if k.cluster and k.cluster != k.id}
        first = _read_known(self._conn, "id", founders - self._first.keys(), visible_only=False)
        self._first.update((k.id, k) for k in first.values())

    def decide(self, new: list[Known], filed: Collection[int] = (), *,
               decide: bool = True) -> Filing:
        """The pass of ``new`` (every one :meth:`add` ed), in publication order; ``filed``,
        ``decide``: as :func:`decide_pass`."""
        uncounted = [k.features for k in new if k.rowid not in filed]
        counts = self._counts
        counts.add(uncounted)  # the weights are those of the archive with the new articles in it
        if not decide:
            return Filing(new, [], counts if uncounted else None)
        the_pass = Pass(new, self._found, self._known, _Reader(self._conn))
        the_pass.know_founders(self._first.values())
        the_pass.weigh(counts.weights)
        joins = the_pass.run()
        founders, clusters = the_pass.read()
        read = {k.id for k in self._known.values()} | self._first.keys() | founders
        return Filing(new, joins, counts if uncounted else None, frozenset(read),
                      frozenset(clusters))


def _apply(conn: Connection, filing: Filing) -> None:
    """Write what a pass decided: the joins, its articles' keys and features, the counts."""
    conn.executemany("UPDATE articles SET cluster = ? WHERE rowid = ?", filing.joins)
    _write(conn, filing.new)
    if filing.counts is not None:
        filing.counts.write(conn)


def _from_archive(conn: Connection, new: list[Known],
                  read: dict[int, dict[int, list[int]]]) -> dict[int, dict[int, int]]:
    """The filed articles sharing the most keys with each of ``new`` within the window: rowid
    → (rowid → keys shared). One query per day the new articles were published on (an update's
    are of a day or two): the newest :data:`_PER_KEY` rows of each of their keys within the
    window of that day (a range of the primary key each), counted here. A common feature's key
    is shared by a thousand articles of the window; a few of them say as much. (A query per
    article cost twice as much: 1,000 of them against 60,000 rows in 80 ms.) ``read``: the
    rows of each day and key read before (by :class:`Reading`), and those read now."""
    by_day: dict[int, list[Known]] = {}
    for article in new:
        by_day.setdefault(article.day, []).append(article)
    found: dict[int, dict[int, int]] = {}
    for day, articles in by_day.items():
        filed = read.setdefault(day, {})
        keys = sorted({key for article in articles for key in article.keys} - filed.keys())
        filed.update((key, []) for key in keys)
        weeks = list(range(week_of(day - WINDOW_DAYS), week_of(day + WINDOW_DAYS) + 1))
        (in_weeks, week_list), (in_keys, key_list) = db.one_of(conn, weeks), db.one_of(conn, keys)
        for key, rowid in conn.execute(
                "SELECT key, article FROM (SELECT key, article, ROW_NUMBER() OVER (PARTITION BY "
                "key ORDER BY day DESC, article DESC) AS n FROM cluster_keys "
                f"WHERE week {in_weeks} AND key {in_keys} AND day BETWEEN ? AND ?) AS ranked "
                "WHERE n <= ?",
                (week_list, key_list, day - WINDOW_DAYS, day + WINDOW_DAYS, _PER_KEY)
        ) if keys else ():
            filed[key].append(rowid)
        for article in articles:
            # counted in C (chain, Counter: every key is in filed, read now or before); the
            # article itself (filed already) left out after
            shared = Counter(chain.from_iterable(map(filed.__getitem__, article.keys)))
            shared.pop(article.rowid, None)
            # the most keys shared, then the newest (a heap: most of them are not kept)
            ranked = heapq.nlargest(_FROM_ARCHIVE, zip(shared.values(), shared.keys(), strict=True))
            found[article.rowid] = {rowid: count for count, rowid in ranked}
    return found


def _read_known(conn: Connection, column: str, values: set[int] | set[str], *,
                visible_only: bool = True) -> dict[int, Known]:
    """The (visible) articles whose ``column`` (rowid or id) is one of ``values``, by rowid,
    with their features (as stored when they were filed, else, filed over :data:`_KEEP_DAYS`
    days ago, computed again from their text)."""
    found: dict[int, Known] = {}
    if not values:
        return found
    listed, values_param = db.one_of(conn, sorted(values))
    rows = conn.execute(
        "SELECT a.rowid, a.id, a.published, a.source, a.cluster, f.features, "
        "CASE WHEN f.features IS NULL THEN a.title END, "
        "CASE WHEN f.features IS NULL THEN substr(a.text, 1, ?) END "
        "FROM articles a LEFT JOIN cluster_features f ON f.article = a.rowid "
        # "+hidden": by rowid, not through the site's index on hidden (every article)
        f"WHERE a.{column} {listed}" + (" AND +a.hidden = 0" if visible_only else ""),
        (HEAD_CHARS, values_param))
    for rowid, ident, published, source, cluster, stored, title, head in rows:
        features = Features.from_bytes(stored) if stored is not None else features_of(
            title, head)
        found[rowid] = Known(rowid, ident, datetime.fromisoformat(published), source, cluster,
                             features)
    return found


class _Reader:
    """What a pass asks the archive as it decides: a cluster's founder and sources."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def article(self, ident: str) -> Known | None:
        """The article ``ident`` (a cluster's founder, hidden or not), or None."""
        return next(iter(_read_known(self._conn, "id", {ident}, visible_only=False).values()),
                    None)

    def sources(self, cluster: str) -> set[str]:
        """The sources of the cluster's members in the archive."""
        return {s for (s,) in self._conn.execute(
            "SELECT DISTINCT source FROM articles WHERE cluster = ?", (cluster,))}


def _write(conn: Connection, new: list[Known]) -> None:
    """The pass's keys and kept features, sorted by their primary key (the pages of each index
    are written once, in order)."""
    keys = sorted((week_of(k.day), key, k.day, k.rowid) for k in new for key in k.keys)
    conn.executemany("INSERT OR IGNORE INTO cluster_keys (week, key, day, article) "
                     "VALUES (?, ?, ?, ?)", keys)
    conn.executemany("INSERT INTO cluster_features (article, day, features) VALUES (?, ?, ?) "
                     "ON CONFLICT (article) DO UPDATE SET day = excluded.day, "
                     "features = excluded.features",
                     [(k.rowid, k.day, k.features.to_bytes()) for k in new])
    newest = max(k.day for k in new)
    # A range of the day index: the features of articles too old to be a new one's candidate.
    conn.execute("DELETE FROM cluster_features WHERE day < ?", (newest - _KEEP_DAYS,))


def needs_fill(conn: Connection) -> bool:
    """Whether the recent articles are still to be filed (one read of ``meta``)."""
    return ENABLED and conn.execute("SELECT 1 FROM meta WHERE key = ?",
                                    (_FILLED,)).fetchone() is None


def fill(conn: Connection, *, decide: bool = True) -> int:
    """File and cluster the visible articles published within the window before the newest
    (after migration 14, after a restore): those a new article can still join. Older ones stay
    unfiled: their stories are over, and filing 100,000 articles would cost a minute. Returns
    how many were filed. Without ``decide``, their clusters stay as they are (a restore that
    brought them)."""
    if not needs_fill(conn):
        return 0
    (newest,) = conn.execute("SELECT MAX(published) FROM articles WHERE hidden = 0").fetchone()
    if newest is not None:
        since = utc_text(datetime.fromisoformat(newest) - _WINDOW)
        conn.execute("INSERT OR IGNORE INTO cluster_pending (article) SELECT rowid FROM articles "
                     "WHERE +hidden = 0 AND published >= ?", (since,))
    count = file_pending(conn, decide=decide)
    conn.execute("INSERT INTO meta (key, value) VALUES (?, '1') ON CONFLICT (key) DO NOTHING",
                 (_FILLED,))
    return count


def refill(conn: Connection, *, decide: bool = True) -> int:
    """File again (after a restore brought articles without keys); without ``decide``, the
    restored articles keep the clusters their export gave them."""
    conn.execute("DELETE FROM meta WHERE key = ?", (_FILLED,))
    return fill(conn, decide=decide)
