"""`status`'s words for the schedule: when each feed is next due, and which feeds are retried
only rarely. The decisions are schedule.py's and plan.py's (the same ones `update` acts on);
this module only phrases them for the terminal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from rsspage.catalog import Catalog
from rsspage.config import Config
from rsspage.config_nodes import format_duration
from rsspage.plan import due_times, make_plan
from rsspage.schedule import retried_rarely
from rsspage.store import FeedHealth
from rsspage.types import FeedTiming, FetchStatus


def due_column(config: Config, rows: Sequence[FeedHealth], timings: Mapping[str, FeedTiming],
               now: datetime) -> tuple[dict[str, str], list[str]]:
    """(feed key → when it is next due, lines about feeds retried rarely) for the followed
    feeds of ``rows``, from the configured feeds' ``every`` and the stored ``timings``."""
    feeds = make_plan(config, Catalog([])).feeds  # no catalog needed for it
    due = due_times(feeds, timings)
    disabled = {f.key for f in feeds if not f.enabled}
    column: dict[str, str] = {}
    notes: list[str] = []
    for h in rows:
        if h.retired_at:
            continue
        when = due.get(h.key)
        if when is None:  # left the config since the last update, which will retire it
            column[h.key] = "not in the config"
            continue
        if h.key in disabled:  # followed, never fetched: "due now" would never come true
            column[h.key] = "disabled"
            continue
        column[h.key] = "due now" if when <= now else _stamp(when)
        timing = timings.get(h.key, FeedTiming())
        if retried_rarely(h.last_status, timing.failing_since, now, config.schedule):
            what = "gone" if h.last_status == FetchStatus.GONE.value else "failing"
            retry = "now" if when <= now else _stamp(when)
            notes.append(f"{h.key}: retrying rarely (every "
                         f"{format_duration(config.schedule.retry_gone)}): {what} since "
                         f"{(h.failing_since or '?')[:19]}; next try {retry}")
    return column, notes


def _stamp(when: datetime) -> str:
    return when.isoformat()[:19]  # as the store writes it, to the second
