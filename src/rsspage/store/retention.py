"""Retention: which articles are pruned, by the global ``limits.keep_days`` and each feed's own.

A feed's own ``keep_days`` replaces the global one for its articles (0: keep them all), so the
global prune leaves those feeds out. Removal itself is the articles module's (files follow,
ids remembered as gone); this module only says which rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from rsspage.store.articles import remove  # one way to remove an article on purpose
from rsspage.store.db import Connection, utc_text

#: SQLite's default limit of ``?`` per statement is 32766; feeds with their own keep_days are few.
_KEYS_PER_QUERY = 500


def prune(conn: Connection, before: datetime | None,
          own: Mapping[str, datetime | None], now: datetime) -> int:
    """Delete articles published before ``before`` (None: none by age), but for the feeds in
    ``own``, whose articles go when published before their own date (None: never)."""
    removed = 0
    keys = list(own)
    if before is not None:
        if len(keys) > _KEYS_PER_QUERY:  # too many to name: prune feed by feed instead
            removed += _remove_globally_by_feed(conn, before, set(keys), now)
        else:
            marks = ", ".join("?" * len(keys))
            removed += remove(conn, f"published < ? AND feed_key NOT IN ({marks})",
                               (utc_text(before), *keys), now)
    for key, own_before in own.items():
        if own_before is not None:
            removed += remove(conn, "feed_key = ? AND published < ?",
                               (key, utc_text(own_before)), now)
    return removed


def _remove_globally_by_feed(conn: Connection, before: datetime, skip: set[str],
                             now: datetime) -> int:
    keys = [row[0] for row in conn.execute("SELECT DISTINCT feed_key FROM articles")]
    return sum(remove(conn, "feed_key = ? AND published < ?", (key, utc_text(before)), now)
               for key in keys if key not in skip)
