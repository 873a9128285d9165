"""Fetch workers' leases on feeds (``rsspage update --worker``, PostgreSQL only).

A worker claims a batch of due feeds with row locks (``FOR UPDATE SKIP LOCKED``: workers
never wait for each other, and never take the same feed), each for a lease of a few minutes;
a worker killed mid-batch leaves its feeds to be claimed again when the leases run out. Once
a feed's outcome is stored, its lease is set to run until the feed is next due: a worker
whose view of the schedule is older cannot fetch it twice in one period (the lock's recheck
sees the newer lease).

Times are ISO text in UTC, as every time in the store; the machines' clocks are taken to
agree (NTP) to well under a lease.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from rsspage.errors import StoreError
from rsspage.store import db
from rsspage.store.db import Connection


def _require_postgresql(conn: Connection) -> None:
    if conn.dialect != db.POSTGRESQL:
        raise StoreError("fetch workers share a PostgreSQL store: set store.url_env in the "
                         "config (SQLite in one state folder has one writer, `rsspage update`)")


def ensure(conn: Connection, keys: Iterable[str]) -> None:
    """A lease row for each of ``keys`` (never claimed)."""
    _require_postgresql(conn)
    conn.execute("INSERT INTO feed_leases (key) SELECT unnest(CAST(? AS TEXT[])) "
                 "ON CONFLICT DO NOTHING", (list(keys),))


def claim(conn: Connection, keys: Sequence[str], now: datetime, until: datetime, worker: str,
          limit: int) -> list[str]:
    """Lease up to ``limit`` of ``keys`` (due feeds, most overdue first) that no worker holds
    a lease on; returns their keys. Rows another worker is claiming are skipped, not waited
    for."""
    _require_postgresql(conn)
    rows = conn.execute(
        "UPDATE feed_leases SET until = ?, worker = ? WHERE key IN ("
        "SELECT l.key FROM feed_leases l JOIN unnest(CAST(? AS TEXT[])) WITH ORDINALITY "
        "AS due(key, n) ON due.key = l.key WHERE l.until <= ? ORDER BY due.n LIMIT ? "
        "FOR UPDATE OF l SKIP LOCKED) RETURNING key",
        (until.isoformat(), worker, list(keys), now.isoformat(), limit)).fetchall()
    return [str(row[0]) for row in rows]


def settle(conn: Connection, until: Mapping[str, datetime], worker: str) -> None:
    """The worker's leases on feeds it has stored run until each feed is next due."""
    conn.executemany("UPDATE feed_leases SET until = ? WHERE key = ? AND worker = ?",
                     [(when.isoformat(), key, worker) for key, when in until.items()])
