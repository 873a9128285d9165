"""Per-feed state: HTTP validators and health (last success, last error, failure streak)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from rsspage.types import FeedSpec, FeedState, FetchResult, FetchStatus


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


def states(conn: sqlite3.Connection) -> dict[str, FeedState]:
    rows = conn.execute("SELECT key, etag, last_modified FROM feeds")
    return {r["key"]: FeedState(etag=r["etag"], last_modified=r["last_modified"]) for r in rows}


def record(
    conn: sqlite3.Connection, spec: FeedSpec, result: FetchResult, error: str | None, now: datetime
) -> None:
    """Remember the outcome of one fetch (validators only from a successful response)."""
    stamp = now.isoformat()
    ok = error is None and result.status in (FetchStatus.OK, FetchStatus.NOT_MODIFIED)
    conn.execute(
        """INSERT INTO feeds (key, url, category, source, channel) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT(key) DO UPDATE SET url=excluded.url, category=excluded.category,
               source=excluded.source, channel=excluded.channel""",
        (spec.key, result.url, spec.category, spec.source, spec.channel),
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
                   etag=CASE WHEN ? THEN NULL ELSE etag END,
                   last_modified=CASE WHEN ? THEN NULL ELSE last_modified END WHERE key=?""",
            (stamp, error or result.error, _failed_status(result),
             result.status is FetchStatus.OK, result.status is FetchStatus.OK, spec.key),
        )


def set_title(conn: sqlite3.Connection, key: str, title: str) -> None:
    conn.execute("UPDATE feeds SET title=? WHERE key=?", (title, key))


def health(conn: sqlite3.Connection, since: datetime) -> list[FeedHealth]:
    rows = conn.execute(
        """SELECT f.*, COUNT(a.id) AS articles,
                  COALESCE(SUM(a.published >= ?), 0) AS recent
           FROM feeds f LEFT JOIN articles a ON a.feed_key = f.key
           GROUP BY f.key ORDER BY f.category, f.source, f.channel, f.key""",
        (since.isoformat(),),
    )
    return [
        FeedHealth(
            key=r["key"], url=r["url"], title=r["title"], category=r["category"],
            source=r["source"], channel=r["channel"],
            last_success=r["last_success"], last_error=r["last_error"],
            last_status=r["last_status"], consecutive_failures=r["consecutive_failures"],
            articles=r["articles"], recent=r["recent"],
        )
        for r in rows
    ]


def _failed_status(result: FetchResult) -> str:
    """A good fetch whose bytes failed to parse is a failed feed, not an "ok" one."""
    return FetchStatus.FAILED.value if result.status is FetchStatus.OK else result.status.value
