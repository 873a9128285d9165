"""Fetch workers' leases on feeds (``rsspage update --worker``, PostgreSQL only).

A worker claims a batch of due feeds with row locks (``FOR UPDATE SKIP LOCKED``: workers
never wait for each other, and never take the same feed), each for a short lease that the
worker renews while it works on the batch (a heartbeat) and ends once the batch is stored; a
worker killed mid-batch stops renewing, and its feeds are claimed again once the lease runs
out.

A claim takes only feeds that are still due by the store's own schedule (``feeds.next_check``,
and the ``every`` it was computed with against the config's): a feed another worker has just
stored has its next check in the future, written in the same transaction as its articles, so a
worker whose list of due feeds is older cannot fetch it twice in one period. The claim locks
the feed's row too: a feed being stored at that moment is skipped, and one stored since the
claim's snapshot is judged on its new row (PostgreSQL's recheck of a locked row).

Times are ISO text in UTC, as every time in the store; the machines' clocks are taken to
agree (NTP) to well under a lease.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from rsspage.errors import StoreError
from rsspage.store import db
from rsspage.store.db import Connection, utc_text


def _require_postgresql(conn: Connection) -> None:
    if conn.dialect != db.POSTGRESQL:
        raise StoreError("fetch workers share a PostgreSQL store: set store.url_env in the "
                         "config (SQLite in one state folder has one writer, `rsspage update`)")


def ensure(conn: Connection, keys: Iterable[str]) -> None:
    """A lease row for each of ``keys`` (never claimed)."""
    _require_postgresql(conn)
    conn.execute("INSERT INTO feed_leases (key) SELECT unnest(CAST(? AS TEXT[])) "
                 "ON CONFLICT DO NOTHING", (list(keys),))


def claim(conn: Connection, due: Sequence[tuple[str, float]], now: datetime, until: datetime,
          worker: str, limit: int) -> list[str]:
    """Lease to ``worker`` until ``until`` up to ``limit`` of the feeds ``due`` ((key, its
    configured ``every`` in seconds), most overdue first) that no worker holds and that are
    still due; returns their keys. Rows another worker is claiming or storing are skipped,
    not waited for."""
    _require_postgresql(conn)
    stamp = utc_text(now)
    rows = conn.execute(
        "UPDATE feed_leases SET until = ?, worker = ? WHERE key IN ("
        "SELECT l.key FROM feed_leases l JOIN feeds f ON f.key = l.key "
        "JOIN unnest(CAST(? AS TEXT[]), CAST(? AS DOUBLE PRECISION[])) WITH ORDINALITY "
        "AS due(key, every, n) ON due.key = l.key "
        "WHERE l.until <= ? AND (f.next_check IS NULL OR f.next_check <= ? "
        "OR (f.every_seconds IS NOT NULL AND f.every_seconds != due.every)) "
        "ORDER BY due.n LIMIT ? FOR UPDATE OF l, f SKIP LOCKED) RETURNING key",
        (utc_text(until), worker, [k for k, _ in due], [e for _, e in due], stamp, stamp,
         limit)).fetchall()
    return [str(row[0]) for row in rows]


def release(conn: Connection, keys: Sequence[str], worker: str) -> None:
    """The worker is done with ``keys`` (stored: not due again until their next check)."""
    conn.execute("UPDATE feed_leases SET until = '' WHERE worker = ? AND key = ANY(?)",
                 (worker, list(keys)))


def renew(conn: Connection, keys: Sequence[str], until: datetime, worker: str) -> int:
    """The worker's leases on ``keys`` last until ``until`` (a heartbeat); returns how many
    it still held."""
    return conn.execute("UPDATE feed_leases SET until = ? WHERE worker = ? AND key = ANY(?)",
                        (utc_text(until), worker, list(keys))).rowcount
