"""When each feed is due next: pure functions of its last outcome, what the server said and the
``schedule`` config (no I/O, no clock: ``now`` is always passed in). Decisions only: how
`status` words them is the CLI's business (cli/due.py).

The interval after a fetch::

    gone (410), or failing for at least retry_gone   → retry_gone
    failing n times in a row                          → every × 2ⁿ, at most max_backoff
    fine                                              → every
    less the jitter; then at least what the server asked (max-age, Expires, <ttl>, Retry-After),
    though a server may stretch it to max_interval at most; never shorter than min_interval.

Jitter takes a fixed fraction (0 … ``jitter``) off the interval, derived from the feed's key:
feeds added together spread out instead of all firing at once, yet every run (and every test)
computes the same times. It shortens rather than lengthens so that ``every`` is the longest a
feed waits: an hourly cron job running ``rsspage update`` finds hourly feeds due every time.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from rsspage.config import ScheduleConfig
from rsspage.types import FeedSpec, FeedTiming, FetchStatus, ServerHints

_LONG_AGO = datetime.min.replace(tzinfo=UTC)
#: Even with jitter and min_interval 0, a feed is never due again at once (`watch` would spin).
_SHORTEST = timedelta(milliseconds=500)
#: Backing off further than 2**30 intervals says nothing the ceiling does not; it only overflows.
_MAX_DOUBLINGS = 30


def due_at(spec: FeedSpec, timing: FeedTiming) -> datetime:
    """When the feed is due: its next_check, or long ago when it was never scheduled or its
    ``every`` changed since it was.

    A changed ``every`` makes the feed due at once, so it never waits out an old, longer
    interval; the fetch then schedules it with the new one.
    """
    if timing.next_check is None or (timing.every is not None and timing.every != spec.every):
        return _LONG_AGO
    return timing.next_check


def is_due(spec: FeedSpec, timing: FeedTiming, now: datetime) -> bool:
    return due_at(spec, timing) <= now


def next_timing(
    spec: FeedSpec, status: FetchStatus, hints: ServerHints, before: FeedTiming,
    policy: ScheduleConfig, now: datetime,
) -> FeedTiming:
    """The feed's schedule after a fetch that ended in ``status`` at ``now``."""
    fine = status in (FetchStatus.OK, FetchStatus.NOT_MODIFIED)
    failures = 0 if fine else before.failures + 1
    since = None if fine else (before.failing_since or now)
    if retried_rarely(status.value, since, now, policy):
        interval = policy.retry_gone
    elif failures:
        doubled = spec.every * 2 ** min(failures, _MAX_DOUBLINGS)
        interval = max(spec.every, min(doubled, policy.max_backoff))
    else:
        interval = spec.every
    interval *= 1 - policy.jitter * jitter_fraction(spec.key)
    interval = max(interval, _asked(hints, policy), policy.min_interval, _SHORTEST)
    return FeedTiming(next_check=now + interval, every=spec.every, failures=failures,
                      failing_since=since)


def retried_rarely(status: str | None, failing_since: datetime | None, now: datetime,
                   policy: ScheduleConfig) -> bool:
    """Gone, or failing for at least ``retry_gone``: such feeds are tried every retry_gone."""
    if status == FetchStatus.GONE.value:
        return True
    return failing_since is not None and now - failing_since >= policy.retry_gone


def jitter_fraction(key: str) -> float:
    """A number in [0, 1) fixed for ``key`` (not Python's hash(), which changes per process)."""
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _asked(hints: ServerHints, policy: ScheduleConfig) -> timedelta:
    """The longest wait the server asked for, bounded by ``max_interval``."""
    said = [s for s in (hints.fresh_for, hints.retry_after, hints.ttl) if s is not None]
    if not said:
        return timedelta(0)
    return timedelta(seconds=min(max(said), policy.max_interval.total_seconds()))
