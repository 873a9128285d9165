"""Story clusters in the store: each new article joins the cluster of the same story told by
another source within a few days (:mod:`rsspage.clusters` decides what "the same story" is).

- ``cluster_keys`` (schema migration 14) files every visible article under the keys of its
  sketch with the day it was published: a new article's candidates are the articles sharing a
  key within :data:`~rsspage.clusters.WINDOW_DAYS`, one query of a range of the primary key per
  key (at most :data:`_PER_KEY` rows), whatever the archive's size.
- ``articles.cluster`` is the cluster's id (the id of the article the others joined; NULL: alone).
  Each article stays an article of its own, with its own pages: a cluster only links them.
- Joining changes what the other members' pages show ("also reported by", the cards' counts):
  the migration's triggers log each of them in the change log (store/changes.py), so that an
  incremental build renders the pages of that cluster and nothing else. They do the same when a
  member is hidden, shown, renamed or deleted.

Hidden articles never cluster, nor are they filed (a rule hid them; the site does not show them).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from rsspage.clusters import (
    HEAD_CHARS,
    WINDOW_DAYS,
    Features,
    Weight,
    features_of,
    idf,
    similarity,
    sketch,
)
from rsspage.clusters import THRESHOLD as SAME_STORY
from rsspage.types import Article

#: Off: new articles are neither filed nor clustered (the benchmark's switch, and a way out).
ENABLED = True

#: Rows read per key: a feature so common that more articles of the window share it says
#: little, and the lookup's cost stays bounded.
_PER_KEY = 24
#: Candidates (those sharing the most keys) compared in full.
_COMPARED = 6
#: Days of features kept behind the newest filed (``cluster_features``): a window before and
#: after, and a day of slack.
_KEEP_DAYS = 2 * WINDOW_DAYS + 1
#: One article filed in this many prunes the features kept.
_PRUNE_EVERY = 256
_WINDOW = timedelta(days=WINDOW_DAYS)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: ``meta`` key set once the archive's recent articles were filed (after the migration, after
#: a restore): its absence makes :func:`fill` run.
_FILLED = "clusters_filled"


def assign(conn: sqlite3.Connection, article: Article) -> str | None:
    """File the stored, visible ``article`` under its keys and join it to the cluster of the
    most similar article of another source within the window; returns the cluster's id (None:
    alone, or already in a cluster)."""
    if not ENABLED:
        return None
    return _file(conn, article.id, article.title, article.text[:HEAD_CHARS],
                 article.published, article.source)


def _file(conn: sqlite3.Connection, ident: str, title: str, head: str, published: datetime,
          source: str) -> str | None:
    """:func:`assign` of the article ``ident`` from what it compares."""
    row = conn.execute("SELECT rowid, cluster FROM articles WHERE id=?", (ident,)).fetchone()
    if row is None:
        return None
    rowid, current = row
    features = _features(title, head)
    keys = sketch(features)
    day = _day(published)
    found = None if current else _best(conn, (rowid, published, source), features, keys, day)
    if conn.execute("SELECT 1 FROM cluster_features WHERE article = ?", (rowid,)).fetchone() \
            is None:  # counted once (fill files the recent articles again at no cost)
        _count(conn, features)
    conn.executemany("INSERT OR IGNORE INTO cluster_keys (key, day, article) VALUES (?, ?, ?)",
                     [(key, day, rowid) for key in keys])
    conn.execute("INSERT OR REPLACE INTO cluster_features (article, day, features) "
                 "VALUES (?, ?, ?)", (rowid, day, features.to_bytes()))
    if rowid % _PRUNE_EVERY == 0:  # now and then: a range of the day index, a few rows
        conn.execute("DELETE FROM cluster_features WHERE day < ?", (day - _KEEP_DAYS,))
    if found is None:
        return None
    return _join(conn, rowid, found)


def _best(conn: sqlite3.Connection, own: tuple[int, datetime, str], features: Features,
          keys: Sequence[int], day: int) -> tuple[int, str, str | None] | None:
    """(rowid, id, cluster) of the most similar candidate at the threshold or above, for the
    article of ``own`` (rowid, published, source)."""
    rowid, when, own_source = own
    if not keys:
        return None  # nothing to compare by (no title, no text): "FROM ()" is a syntax error
    # One query: the newest rows of each key within the window (a range of the primary key),
    # counted in SQLite. A common feature's key is shared by a thousand articles of the window
    # (reading them all: 1 ms an article); a few of them say as much.
    per_key = ("SELECT article FROM (SELECT article FROM cluster_keys WHERE key = ? AND day "
               "BETWEEN ? AND ? ORDER BY day DESC LIMIT ?)")
    params: list[object] = []
    for key in keys:
        params += [key, day - WINDOW_DAYS, day + WINDOW_DAYS, _PER_KEY]
    chosen = [r for (r,) in conn.execute(
        f"SELECT article FROM ({' UNION ALL '.join([per_key] * len(keys))}) WHERE article != ? "
        "GROUP BY article ORDER BY COUNT(*) DESC, article DESC LIMIT ?",
        (*params, rowid, _COMPARED))]
    if not chosen:
        return None
    low, high = when - _WINDOW, when + _WINDOW
    found = []
    for other, ident, published, cluster, source, stored in conn.execute(
            "SELECT a.rowid, a.id, a.published, a.cluster, a.source, f.features FROM articles a "
            "LEFT JOIN cluster_features f ON f.article = a.rowid "
            # "+hidden": by rowid, not through the site's index on hidden (every article)
            f"WHERE a.rowid IN ({', '.join('?' * len(chosen))}) AND +a.hidden = 0", chosen):
        if source == own_source or not low <= datetime.fromisoformat(published) <= high:
            continue  # one source's follow-ups are not "also reported by"
        found.append((other, ident, cluster, _stored(conn, other, stored)))
    if not found:
        return None
    # A new article joins a cluster only when it tells the story of the cluster's first
    # article too, not only of its latest member: else each join could drift a little further,
    # and unrelated stories chained up.
    founders = {c: _founder(conn, c) for _, ident, c, _ in found if c not in (None, ident)}
    weight = _weights(conn, [features, *(f for *_, f in found),
                             *(f for f in founders.values() if f is not None)])
    best: tuple[float, int, str, str | None] | None = None
    for other, ident, cluster, theirs in found:
        score = similarity(features, theirs, weight)
        if score >= SAME_STORY and cluster is not None:
            if _has_source(conn, cluster, own_source):
                continue  # the source reported this story already: one report per source
            if cluster != ident:
                first = founders[cluster]
                score = 0.0 if first is None else min(score, similarity(features, first, weight))
        if score >= SAME_STORY and (best is None or score > best[0]):
            best = (score, other, ident, cluster)
    return None if best is None else best[1:]


def _founder(conn: sqlite3.Connection, cluster: str) -> Features | None:
    """The features of the article ``cluster`` started with (None: it is gone)."""
    row = conn.execute("SELECT a.rowid, f.features FROM articles a LEFT JOIN cluster_features f "
                       "ON f.article = a.rowid WHERE a.id = ?", (cluster,)).fetchone()
    return None if row is None else _stored(conn, row[0], row[1])


def _has_source(conn: sqlite3.Connection, cluster: str, source: str) -> bool:
    return conn.execute("SELECT 1 FROM articles WHERE cluster = ? AND source = ? LIMIT 1",
                        (cluster, source)).fetchone() is not None


#: ``cluster_df``'s row that counts the articles filed.
_TOTAL = -1


#: The counts read from ``cluster_df``, per database file: the articles of one run share most
#: of their features and candidates, and reading each count once per run (not once per
#: article that compares it: 600 a new article) took a millisecond off each new article's
#: filing. The counts move little within a run; this process's own filings are added to them
#: as they are made.
_DF_CACHE: dict[str, dict[int, int]] = {}
#: Each count cache's features' IDF, and the count of articles it was computed with (by the
#: cache's id): computed again once the archive has grown by 5 %.
_IDF_CACHE: dict[int, tuple[int, dict[int, float]]] = {}
#: Counts kept per database before the cache starts again.
_DF_CACHE_SIZE = 1_000_000


def forget_counts() -> None:
    """Drop the cached feature counts (a database replaced under its path: a restore; each of
    the benchmark's rounds on a fresh copy)."""
    _DF_CACHE.clear()
    _IDF_CACHE.clear()


def _df_cache(conn: sqlite3.Connection) -> dict[int, int]:
    path = conn.execute("PRAGMA database_list").fetchone()[2] or f":memory:{id(conn)}"
    cache = _DF_CACHE.setdefault(path, {})
    if len(cache) > _DF_CACHE_SIZE:
        cache.clear()
        _IDF_CACHE.pop(id(cache), None)
    return cache


def _count(conn: sqlite3.Connection, features: Features) -> None:
    """Count ``features``' article among those having each of its features (and all)."""
    counted = (*(features.title | features.head), _TOTAL)
    conn.executemany(
        "INSERT INTO cluster_df (feature, articles) VALUES (?, 1) "
        "ON CONFLICT (feature) DO UPDATE SET articles = articles + 1",
        [(f,) for f in counted])
    cache = _df_cache(conn)
    for feature in counted:
        if feature in cache:
            cache[feature] += 1


def _weights(conn: sqlite3.Connection, compared: Sequence[Features]) -> Weight:
    """Each feature's IDF among the filed articles, for the features of ``compared``."""
    cache = _df_cache(conn)
    wanted = {f for x in compared for f in x.title | x.head} | {_TOTAL}
    missing = sorted(wanted.difference(cache))
    for start in range(0, len(missing), 900):
        part = missing[start:start + 900]
        cache.update(dict.fromkeys(part, 0))
        cache.update(conn.execute(
            f"SELECT feature, articles FROM cluster_df WHERE feature IN "
            f"({', '.join('?' * len(part))})", part))
    total = cache[_TOTAL]
    snapshot, weights = _IDF_CACHE.get(id(cache), (0, {}))
    if total > snapshot * 1.05 or not weights:  # weights move with the archive, slowly
        snapshot, weights = total, {}
        _IDF_CACHE[id(cache)] = (snapshot, weights)
    for feature in wanted.difference(weights):
        weights[feature] = idf(cache[feature], snapshot)
    return weights.__getitem__


def _join(conn: sqlite3.Connection, rowid: int, found: tuple[int, str, str | None]) -> str:
    """Put the article ``rowid`` in the cluster of ``found`` (which starts one, named by its
    own id, when it was alone). The triggers log the members whose pages change."""
    other, ident, cluster = found
    if cluster is None:
        cluster = ident
        conn.execute("UPDATE articles SET cluster = ? WHERE rowid = ?", (cluster, other))
    conn.execute("UPDATE articles SET cluster = ? WHERE rowid = ?", (cluster, rowid))
    return cluster


def _stored(conn: sqlite3.Connection, rowid: int, stored: bytes | None) -> Features:
    """The features of the article ``rowid``: as stored when it was filed, else (filed over
    :data:`_KEEP_DAYS` days ago: a late arrival's candidates) computed again from its text
    (165 µs: six times what comparing costs)."""
    if stored is not None:
        return Features.from_bytes(stored)
    title, head = conn.execute("SELECT title, substr(text, 1, ?) FROM articles WHERE rowid = ?",
                               (HEAD_CHARS, rowid)).fetchone()
    return _features(title, head)


@lru_cache(maxsize=4096)
def _features(title: str, head: str) -> Features:
    """Features, remembered: the recent articles are the candidates of many new ones."""
    return features_of(title, head)


def _day(when: datetime) -> int:
    return (when - _EPOCH).days


def needs_fill(conn: sqlite3.Connection) -> bool:
    """Whether the recent articles are still to be filed (one read of ``meta``)."""
    return ENABLED and conn.execute("SELECT 1 FROM meta WHERE key = ?",
                                    (_FILLED,)).fetchone() is None


def fill(conn: sqlite3.Connection) -> int:
    """File and cluster the visible articles published within the window before the newest
    (after migration 14, after a restore): those a new article can still join. Older ones stay
    unfiled: their stories are over, and filing 100,000 articles would cost a minute. Returns
    how many were filed. Idempotent: an article filed already is filed again at no cost."""
    if not needs_fill(conn):
        return 0
    (newest,) = conn.execute("SELECT MAX(published) FROM articles WHERE hidden = 0").fetchone()
    count = 0
    if newest is not None:
        since = (datetime.fromisoformat(newest) - _WINDOW).isoformat()
        rows = conn.execute(
            "SELECT id, title, substr(text, 1, ?), published, source FROM articles "
            "WHERE +hidden = 0 AND published >= ? ORDER BY published, id",
            (HEAD_CHARS, since)).fetchall()
        for ident, title, head, published, source in rows:
            _file(conn, ident, title, head, datetime.fromisoformat(published), source)
        count = len(rows)
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, '1')", (_FILLED,))
    return count


def refill(conn: sqlite3.Connection) -> int:
    """File again (after a restore brought articles without keys)."""
    forget_counts()
    conn.execute("DELETE FROM meta WHERE key = ?", (_FILLED,))
    return fill(conn)
