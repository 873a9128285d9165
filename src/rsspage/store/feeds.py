"""Per-feed state: HTTP validators and health (last success, last error, failure streak)."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from rsspage.store import db
from rsspage.store.db import POSTGRESQL, Connection, utc_text
from rsspage.types import FeedNames, FeedSpec, FeedState, FeedTiming, FetchResult, FetchStatus


@dataclass(frozen=True, slots=True)
class FeedHealth:
    """One feed's health, as `rsspage status` and the site's health page show it."""

    key: str
    #: The URL that answered last (for a route: on the RSSHub instance that served it).
    url: str
    #: The feed's own title, as it last said.
    title: str
    category: str
    source: str
    channel: str
    last_success: str | None
    last_error: str | None
    last_status: str | None
    consecutive_failures: int
    articles: int
    recent: int  #: articles published in the last 7 days
    #: When the feed left the config (it is kept, with its articles); None while followed.
    retired_at: str | None = None
    #: When the feed is next due (ISO UTC); None: never scheduled (due at the next update).
    next_check: str | None = None
    #: When the current failure streak began; None while the feed is fine.
    failing_since: str | None = None
    #: Empty items (no title, link, text or picture) in its last document, skipped.
    empty_items: int = 0
    #: Its articles that filter rules hid (kept in the archive, not published); ``articles``
    #: and ``recent`` count the others.
    hidden: int = 0
    #: Its copies of stories another feed brought first (issue 12): not stored again, the
    #: feed is recorded as an alias of that article.
    merged: int = 0
    #: What its items are, from the catalog (RSSHub's ``view``); None: not known.
    view: str | None = None


def _which(conn: Connection, keys: Collection[str] | None) -> tuple[str, list[object]]:
    """A WHERE clause for the feeds ``keys`` (None: every feed)."""
    if keys is None:
        return "", []
    listed, values = db.one_of(conn, keys)
    return f" WHERE key {listed}", [values]


def states(conn: Connection, keys: Collection[str] | None = None) -> dict[str, FeedState]:
    where, params = _which(conn, keys)
    rows = conn.execute(f"SELECT key, etag, last_modified FROM feeds{where}", params)
    return {r["key"]: FeedState(etag=r["etag"], last_modified=r["last_modified"]) for r in rows}


def timings(conn: Connection, keys: Collection[str] | None = None) -> dict[str, FeedTiming]:
    where, params = _which(conn, keys)
    rows = conn.execute(
        "SELECT key, next_check, every_seconds, consecutive_failures, failing_since "
        f"FROM feeds{where}", params)
    return {
        r["key"]: FeedTiming(
            next_check=_instant(r["next_check"]),
            every=timedelta(seconds=r["every_seconds"]) if r["every_seconds"] else None,
            failures=r["consecutive_failures"], failing_since=_instant(r["failing_since"]),
        )
        for r in rows
    }


def _instant(stamp: str | None) -> datetime | None:
    return datetime.fromisoformat(stamp) if stamp else None


def record(
    conn: Connection, spec: FeedSpec, result: FetchResult, error: str | None,
    now: datetime, timing: FeedTiming | None = None,
) -> None:
    """Remember the outcome of one fetch (validators only from a successful response), and
    with ``timing`` when the feed is next due."""
    stamp = utc_text(now)
    ok = error is None and result.status in (FetchStatus.OK, FetchStatus.NOT_MODIFIED)
    conn.execute(
        """INSERT INTO feeds (key, url, category, source, channel, view) VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT(key) DO UPDATE SET url=excluded.url, category=excluded.category,
               source=excluded.source, channel=excluded.channel, view=excluded.view""",
        (spec.key, result.url, spec.category, spec.source, spec.channel, spec.view),
    )
    if ok:
        conn.execute(
            """UPDATE feeds SET etag=?, last_modified=?, last_attempt=?, last_success=?,
                   last_status=?, consecutive_failures=0 WHERE key=?""",
            (result.etag, result.last_modified, stamp, stamp, result.status.value, spec.key),
        )
    else:
        # A failed parse must not keep validators, or the next run would get a 304 for bad bytes.
        conn.execute(
            """UPDATE feeds SET last_attempt=?, last_error=?, last_status=?,
                   consecutive_failures=consecutive_failures+1,
                   etag=CASE WHEN ? = 1 THEN NULL ELSE etag END,
                   last_modified=CASE WHEN ? = 1 THEN NULL ELSE last_modified END WHERE key=?""",
            (stamp, error or result.error, _failed_status(result),
             result.status is FetchStatus.OK, result.status is FetchStatus.OK, spec.key),
        )
    if timing is not None:
        conn.execute(
            "UPDATE feeds SET next_check=?, every_seconds=?, failing_since=? WHERE key=?",
            (_stamp(timing.next_check), timing.every.total_seconds() if timing.every else None,
             _stamp(timing.failing_since), spec.key),
        )


def _stamp(when: datetime | None) -> str | None:
    return utc_text(when) if when else None


def set_followed(conn: Connection, keys: Iterable[str], now: datetime) -> int:
    """Mark feeds not in ``keys`` retired (from ``now``), and those in it followed again;
    returns how many were newly retired."""
    followed = set(keys)
    rows = conn.execute("SELECT key, retired_at FROM feeds").fetchall()
    retire = [(utc_text(now), r["key"]) for r in rows
              if r["key"] not in followed and r["retired_at"] is None]
    conn.executemany("UPDATE feeds SET retired_at=? WHERE key=?", retire)
    conn.executemany("UPDATE feeds SET retired_at=NULL WHERE key=?",
                     [(r["key"],) for r in rows if r["key"] in followed and r["retired_at"]])
    return len(retire)


def keys(conn: Connection) -> set[str]:
    return {row[0] for row in conn.execute("SELECT key FROM feeds")}


def ensure(conn: Connection, specs: Iterable[FeedSpec], now: datetime) -> None:
    """A row for each feed of ``specs`` (names only) that has none yet, in one batch of
    statements; a feed without URLs (the posts of an import that no followed feed has) is
    retired from the start."""
    conn.executemany(
        "INSERT OR IGNORE INTO feeds (key, category, source, channel, retired_at) "
        "VALUES (?, ?, ?, ?, ?)", [(spec.key, spec.category, spec.source, spec.channel,
                                    None if spec.urls else utc_text(now)) for spec in specs])


def delete(conn: Connection, key: str) -> None:
    conn.execute("DELETE FROM feeds WHERE key=?", (key,))


def set_empty_items(conn: Connection, key: str, count: int) -> None:
    conn.execute("UPDATE feeds SET empty_items=? WHERE key=?", (count, key))


def set_title(conn: Connection, key: str, title: str) -> None:
    conn.execute("UPDATE feeds SET title=? WHERE key=?", (title, key))


#: The feeds' health on SQLite: the counts are kept by triggers (feed_counts, migration 20),
#: only the last 7 days are counted, from the index, so a build costs the same for any archive.
_HEALTH = """SELECT f.*, COALESCE(c.visible, 0) AS articles,
                    (SELECT COUNT(*) FROM articles a WHERE a.feed_key = f.key
                     AND a.published >= ? AND a.hidden = 0) AS recent,
                    COALESCE(c.hidden, 0) AS hidden, COALESCE(c.merged, 0) AS merged
             FROM feeds f LEFT JOIN feed_counts c ON c.feed_key = f.key
             ORDER BY f.retired_at IS NOT NULL, f.category, f.source, f.channel, f.key"""
#: On PostgreSQL every article is counted (an index-only scan): its row triggers would upsert
#: one feed's row once per article changed, and in one transaction each upsert steps over the
#: row's earlier versions (hiding 35,000 articles of a feed: 32 s against 2 s).
_HEALTH_COUNTED = """SELECT f.*, COUNT(CASE WHEN a.hidden = 0 THEN 1 END) AS articles,
                    COUNT(CASE WHEN a.published >= ? AND a.hidden = 0 THEN 1 END) AS recent,
                    COUNT(CASE WHEN a.hidden != 0 THEN 1 END) AS hidden,
                    (SELECT COUNT(*) FROM aliases l WHERE l.feed_key = f.key) AS merged
             FROM feeds f LEFT JOIN articles a ON a.feed_key = f.key
             GROUP BY f.key
             ORDER BY f.retired_at IS NOT NULL, f.category, f.source, f.channel, f.key"""


def health(conn: Connection, since: datetime) -> list[FeedHealth]:
    query = _HEALTH_COUNTED if conn.dialect == POSTGRESQL else _HEALTH
    rows = conn.execute(query, (utc_text(since),))
    return [
        FeedHealth(
            key=r["key"], url=r["url"], title=r["title"], category=r["category"],
            source=r["source"], channel=r["channel"],
            last_success=r["last_success"], last_error=r["last_error"],
            last_status=r["last_status"], consecutive_failures=r["consecutive_failures"],
            articles=r["articles"], recent=r["recent"], retired_at=r["retired_at"],
            next_check=r["next_check"], failing_since=r["failing_since"],
            empty_items=r["empty_items"], hidden=r["hidden"], merged=r["merged"],
            view=r["view"],
        )
        for r in rows
    ]


def _failed_status(result: FetchResult) -> str:
    """A good fetch whose bytes failed to parse is a failed feed, not an "ok" one."""
    return FetchStatus.FAILED.value if result.status is FetchStatus.OK else result.status.value


def names(conn: Connection) -> dict[str, FeedNames]:
    rows = conn.execute("SELECT key, category, source, channel, view FROM feeds")
    return {key: FeedNames(category or "", source or "", channel or "", view)
            for key, category, source, channel, view in rows}
