"""Fetch workers: ``rsspage update --worker`` on any number of machines against one PostgreSQL
store; ``rsspage build`` (one machine) publishes, files story clusters and prunes.

A worker follows the config's feeds, then in rounds claims a batch of the feeds due when it
started (store/leases.py: row locks, short leases that a heartbeat renews while the batch is
worked on), fetches, parses and stores them as ``update`` does (pipeline.fetch_and_store). It
stops when no due feed is left unclaimed; the feeds a killed worker held are claimed again, by
this run or the next, once their leases run out. A feed stored by another worker meanwhile is
no longer due and is not claimed (each due feed is fetched once per period). Requests to one
host count against ``fetch.per_host`` over all workers (store/hosts.py).

The store's writes stay one at a time (store/db.py): the feeds' fetches run in parallel, their
short transactions in turn. ``rsspage update`` (which takes no leases) does not run beside
workers: each refuses while the other holds the store's fetch lock.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rsspage.config import Config
from rsspage.errors import RsspageError, StoreError
from rsspage.pipeline import Hooks, config_catalog, fetch_and_store
from rsspage.plan import make_plan, split_due
from rsspage.store import Store
from rsspage.store.hosts import SharedHosts
from rsspage.store.pg import worker_lock
from rsspage.types import FeedOutcome, RunReport

log = logging.getLogger("rsspage")

#: How long a claimed feed stays a worker's without a heartbeat: a killed worker's feeds wait
#: this long. The heartbeat renews it every third of it.
LEASE = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    #: How long a claimed feed stays this worker's without a heartbeat (None: :data:`LEASE`).
    lease: timedelta | None = None
    #: Feeds claimed at a time (None: 8 times ``fetch.concurrency``: a batch's reads and
    #: writes of the schedule cost a few milliseconds, its slowest feed holds the next).
    batch: int | None = None
    #: How this worker names itself in the leases (None: host name and process id).
    name: str | None = None


def work(config: Config, hooks: Hooks | None = None, options: WorkerOptions = WorkerOptions(),
         clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> RunReport:
    """Fetch and store due feeds, batch by batch, until none is left unclaimed."""
    hooks = hooks or Hooks()
    url = config.store_url
    if url is None:
        raise StoreError("fetch workers share a PostgreSQL store: set store.url_env in "
                         f"{config.path.name} (a SQLite store has one writer: rsspage update)")
    started = time.monotonic()
    lease = options.lease or LEASE
    batch = options.batch or 8 * config.fetch.concurrency
    name = options.name or f"{socket.gethostname()}:{os.getpid()}"
    outcomes: list[FeedOutcome] = []
    with worker_lock(url), Store.open(config.output.state, url) as store, \
            _Heartbeat(config.output.state, url, name, lease, clock) as heartbeat:
        catalog, missing = config_catalog(config, on_note=hooks.on_note)
        plan = make_plan(config, catalog, store.feed_names() if missing else None)
        by_key = {spec.key: spec for spec in plan.feeds}
        store.follow(plan.feeds, clock())
        gate = SharedHosts(url, config.fetch.per_host, config.fetch.concurrency)
        due, _ = split_due(plan.feeds, store.feed_timings(), clock())
        left = [(spec.key, spec.every.total_seconds()) for spec in due]
        while left:
            now = clock()
            keys = store.claim_feeds(left, now, now + lease, name, batch)
            if not keys:
                break
            heartbeat.hold(keys)
            outcomes += fetch_and_store(config, store, plan, [by_key[k] for k in keys],
                                        store.feed_timings(keys), now, hooks, gate)
            heartbeat.hold(())
            store.release_leases(keys, name)
            claimed = set(keys)
            left = [item for item in left if item[0] not in claimed]
    return RunReport(tuple(outcomes), time.monotonic() - started)


class _Heartbeat(threading.Thread):
    """Renews the worker's leases on the batch it holds, every third of a lease, through a
    connection of its own (the worker's is busy storing)."""

    def __init__(self, state: Path, url: str, worker: str, lease: timedelta,
                 clock: Callable[[], datetime]) -> None:
        super().__init__(name="rsspage-heartbeat", daemon=True)
        self._state, self._url, self._worker, self._lease = state, url, worker, lease
        self._clock = clock
        self._keys: tuple[str, ...] = ()
        self._lock = threading.Lock()
        self._halt = threading.Event()

    def __enter__(self) -> _Heartbeat:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._halt.set()
        self.join()

    def hold(self, keys: Sequence[str]) -> None:
        with self._lock:
            self._keys = tuple(keys)

    def run(self) -> None:
        interval = self._lease.total_seconds() / 3
        with Store.open(self._state, self._url) as store:
            while not self._halt.wait(interval):
                with self._lock:
                    keys = self._keys
                if not keys:
                    continue
                try:
                    store.renew_leases(keys, self._clock() + self._lease, self._worker)
                except RsspageError as e:  # the server away for a moment: try again
                    log.warning("cannot renew the leases of %d feeds: %s", len(keys), e)
