"""Fetch workers: ``rsspage update --worker`` on any number of machines against one PostgreSQL
store; ``rsspage build`` (one machine) publishes.

A worker follows the config's feeds, then in rounds: reads the schedule, claims a batch of
the due feeds (store/leases.py: row locks, leases that expire), fetches, parses and stores
them as ``update`` does (pipeline.fetch_and_store), and lets each lease run until its feed is
next due. It stops when no due feed is left unclaimed; feeds a killed worker held are claimed
again, by this run or the next, once their leases run out. Requests to one host count against
``fetch.per_host`` over all workers (store/hosts.py).

The store's writes stay one at a time (store/db.py): the feeds' fetches run in parallel, their
short transactions in turn. New articles are queued for story clusters, which ``build`` files.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from rsspage.config import Config
from rsspage.errors import StoreError
from rsspage.pipeline import Hooks, config_catalog, fetch_and_store, prune
from rsspage.plan import make_plan, split_due
from rsspage.store import Store
from rsspage.store.hosts import SharedHosts
from rsspage.types import FeedOutcome, RunReport

#: A feed's lease when the config does not say: long enough for its fetch with every retry
#: and its parse, short enough that a killed worker's feeds wait little.
MIN_LEASE = timedelta(minutes=2)


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    #: How long a claimed feed is this worker's (None: from the fetch limits, see lease_for).
    lease: timedelta | None = None
    #: Feeds claimed at a time (None: 8 times ``fetch.concurrency``: a batch's reads and
    #: writes of the schedule cost a few milliseconds, its slowest feed holds the next).
    batch: int | None = None
    #: How this worker names itself in the leases (None: host name and process id).
    name: str | None = None


def lease_for(config: Config) -> timedelta:
    """Three times the longest a feed's fetch may take (every attempt timing out), at least
    :data:`MIN_LEASE`."""
    longest = config.fetch.timeout * (config.fetch.retries + 1)
    return max(MIN_LEASE, timedelta(seconds=3 * longest))


def work(config: Config, hooks: Hooks | None = None, options: WorkerOptions = WorkerOptions(),
         clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> RunReport:
    """Fetch and store due feeds, batch by batch, until none is left unclaimed."""
    hooks = hooks or Hooks()
    if config.store_url is None:
        raise StoreError("fetch workers share a PostgreSQL store: set store.url_env in "
                         f"{config.path.name} (a SQLite store has one writer: rsspage update)")
    started = time.monotonic()
    lease = options.lease or lease_for(config)
    batch = options.batch or 8 * config.fetch.concurrency
    name = options.name or f"{socket.gethostname()}:{os.getpid()}"
    outcomes: list[FeedOutcome] = []
    with Store.open(config.output.state, config.store_url) as store:
        catalog, missing = config_catalog(config, on_note=hooks.on_note)
        plan = make_plan(config, catalog, store.feed_names() if missing else None)
        by_key = {spec.key: spec for spec in plan.feeds}
        store.follow(plan.feeds, clock())
        gate = SharedHosts(config.store_url, config.fetch.per_host, config.fetch.concurrency)
        # The feeds due when the run starts; one another worker stored meanwhile has a lease
        # until it is next due, and is not claimed again.
        due, _ = split_due(plan.feeds, store.feed_timings(), clock())
        left = [spec.key for spec in due]
        while left:
            now = clock()
            keys = store.claim_feeds(left, now, now + lease, name, batch)
            if not keys:
                break
            outcomes += fetch_and_store(config, store, plan, [by_key[k] for k in keys],
                                        store.feed_timings(keys), now, hooks, gate)
            after = store.feed_timings(keys)
            store.settle_leases({k: max(now, after[k].next_check or now) for k in keys}, name)
            claimed = set(keys)
            left = [k for k in left if k not in claimed]
        prune(config, plan.feeds, store, clock())
    return RunReport(tuple(outcomes), time.monotonic() - started)
