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

import contextlib
import logging
import os
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rsspage.config import Config
from rsspage.errors import RsspageError, StoreError
from rsspage.pipeline import Hooks, config_catalog, fetch_due, store_fetched
from rsspage.plan import make_plan, split_due
from rsspage.store import Store
from rsspage.store.hosts import SharedHosts
from rsspage.store.pg import worker_lock
from rsspage.types import FeedOutcome, FeedSpec, FeedTiming, FetchResult, RunReport

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
        fetcher = _Fetcher(config, hooks, gate, heartbeat,
                           _Claims(name, lease, batch, clock, by_key),
                           [(spec.key, spec.every.total_seconds()) for spec in due])
        with fetcher:
            for fetched in fetcher:
                keys = [spec.key for spec in fetched.specs]
                outcomes += store_fetched(config, store, plan, fetched.specs, fetched.results,
                                          fetched.timings, fetched.now, hooks, gate)
                heartbeat.drop(keys)
                store.release_leases(keys, name)
    return RunReport(tuple(outcomes), time.monotonic() - started)


@dataclass(frozen=True, slots=True)
class _Claims:
    """How a worker claims: its name, its leases, its batches."""

    name: str
    lease: timedelta
    batch: int
    clock: Callable[[], datetime]
    by_key: Mapping[str, FeedSpec]


@dataclass(frozen=True, slots=True)
class _Fetched:
    """A batch claimed and fetched, to be stored."""

    specs: list[FeedSpec]
    results: list[FetchResult]
    timings: Mapping[str, FeedTiming]
    now: datetime


class _Fetcher(threading.Thread):
    """Claims and fetches the next batch while the worker stores the last (a connection of
    its own: the worker's is busy storing), one batch ahead: fetching waits on the network,
    storing on the store's one writer at a time, and the two overlap."""

    def __init__(self, config: Config, hooks: Hooks, gate: SharedHosts, heartbeat: _Heartbeat,
                 claims: _Claims, due: list[tuple[str, float]]) -> None:
        super().__init__(name="rsspage-fetcher", daemon=True)
        self._config, self._hooks, self._gate = config, hooks, gate
        self._heartbeat, self._claims, self._left = heartbeat, claims, due
        self._ready: queue.Queue[_Fetched | BaseException | None] = queue.Queue(maxsize=1)
        self._halt = threading.Event()

    def __enter__(self) -> _Fetcher:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._halt.set()  # (the worker stopped early: an error while storing)
        self.join()

    def __iter__(self) -> Iterator[_Fetched]:
        while (item := self._ready.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item

    def run(self) -> None:
        try:
            with Store.open(self._config.output.state, self._config.store_url) as claims:
                while self._left and not self._halt.is_set():
                    fetched = self._next(claims)
                    if fetched is None or not self._hand(fetched):
                        break
        except BaseException as e:  # handed to the worker, which raises it
            self._hand(e)
            return
        self._hand(None)

    def _hand(self, item: _Fetched | BaseException | None) -> bool:
        """Hand ``item`` to the worker once it has taken the last; False if it has stopped."""
        while not self._halt.is_set():
            with contextlib.suppress(queue.Full):
                self._ready.put(item, timeout=0.1)
                return True
        return False

    def _next(self, store: Store) -> _Fetched | None:
        c = self._claims
        now = c.clock()
        keys = store.claim_feeds(self._left, now, now + c.lease, c.name, c.batch)
        if not keys:
            return None
        self._heartbeat.add(keys)
        claimed = set(keys)
        self._left = [item for item in self._left if item[0] not in claimed]
        specs = [c.by_key[k] for k in keys]
        timings = store.feed_timings(keys)
        results = fetch_due(self._config, store, specs, self._hooks, self._gate)
        return _Fetched(specs, results, timings, now)


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

    def add(self, keys: Sequence[str]) -> None:
        with self._lock:
            self._keys = (*self._keys, *keys)

    def drop(self, keys: Sequence[str]) -> None:
        gone = set(keys)
        with self._lock:
            self._keys = tuple(k for k in self._keys if k not in gone)

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
