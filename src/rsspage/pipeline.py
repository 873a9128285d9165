"""The orchestrator: puts the stages in order and collects one outcome per feed.

``update`` runs the whole pipeline::

    1. plan      config + catalog → FeedSpecs (no I/O)
    2. fetch     all feeds concurrently (asyncio; the only concurrent stage: it waits on the
                 network, while parsing and storing are CPU-bound and run one feed at a time)
    3. per feed, sequentially:
         parse      bytes + headers → ParsedFeed
         normalise  → Articles (ids, UTC dates, sanitised HTML)
         store      articles + feed state in one transaction
    4. prune     articles older than ``limits.keep_days``
    5. publish   from the store: Hexo posts, the site and its feeds, through the safe writer

A feed that fails at any step is a FeedOutcome with an error, never an exception that stops the
run. Everything is committed per feed, and publishing reads only the store, so a run killed at
any moment leaves a consistent state that the next run completes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from rsspage.catalog import Catalog, load_catalog
from rsspage.config import Config
from rsspage.errors import ParseError
from rsspage.fetch import FetchOptions, fetch_feeds
from rsspage.normalise import normalise_feed
from rsspage.parse import parse_feed
from rsspage.plan import make_plan
from rsspage.publish.outputs import publish_all
from rsspage.store import Store
from rsspage.store.db import run_lock
from rsspage.types import FeedOutcome, FeedSpec, FetchResult, FetchStatus, RunReport

log = logging.getLogger("rsspage")

#: Called once per feed as its fetch completes (for progress display).
ProgressHook = Callable[[FetchResult], None]


@dataclass(frozen=True, slots=True)
class Hooks:
    on_fetched: ProgressHook | None = None
    on_outcome: Callable[[FeedOutcome], None] | None = None


def fetch_options(config: Config) -> FetchOptions:
    f = config.fetch
    return FetchOptions(
        concurrency=f.concurrency, per_host=f.per_host, timeout=f.timeout,
        retries=f.retries, max_bytes=f.max_bytes,
    )


def update(config: Config, hooks: Hooks = Hooks(), now: datetime | None = None) -> RunReport:
    """Fetch every feed, store what is new, publish. Holds the state lock throughout."""
    started = time.monotonic()
    now = now or datetime.now(UTC)
    catalog = load_catalog(list(config.catalog)) if config.catalog else Catalog([])
    plan = make_plan(config, catalog)
    with run_lock(config.output.state), Store.open(config.output.state) as store:
        results = fetch_feeds(plan.feeds, store.feed_states(), fetch_options(config),
                              on_result=hooks.on_fetched)
        outcomes = []
        for spec, result in zip(plan.feeds, results, strict=True):
            outcome = _process(spec, result, store, now)
            warning = plan.warnings.get(spec.key)
            if warning:
                outcome = _with_warning(outcome, warning)
            if hooks.on_outcome:
                hooks.on_outcome(outcome)
            outcomes.append(outcome)
        if config.limits.keep_days:
            store.prune(now - timedelta(days=config.limits.keep_days))
        published = publish_all(config, store, now)
    return RunReport(tuple(outcomes), time.monotonic() - started, published)


def build(config: Config, now: datetime | None = None) -> RunReport:
    """Publish from the store only (no fetching)."""
    started = time.monotonic()
    now = now or datetime.now(UTC)
    with run_lock(config.output.state), Store.open(config.output.state) as store:
        published = publish_all(config, store, now)
    return RunReport((), time.monotonic() - started, published)


def _with_warning(outcome: FeedOutcome, warning: str) -> FeedOutcome:
    return FeedOutcome(
        key=outcome.key, status=outcome.status, error=outcome.error, new=outcome.new,
        updated=outcome.updated, entries=outcome.entries,
        warnings=(*outcome.warnings, warning),
    )


def _process(spec: FeedSpec, result: FetchResult, store: Store, now: datetime) -> FeedOutcome:
    """Parse, normalise and store one fetched feed; any failure becomes the outcome's error."""
    if result.status is not FetchStatus.OK:
        store.save_feed(spec, result, (), result.error, now)
        return FeedOutcome(key=spec.key, status=result.status, error=result.error)
    try:
        parsed = parse_feed(result.content, result.headers, result.url)
        articles = normalise_feed(spec, parsed, now)
    except ParseError as e:
        return _failed(spec, result, store, now, str(e))
    except Exception as e:  # a bug in our parsing must not stop the other feeds
        log.exception("internal error while processing %s", spec.key)
        return _failed(spec, result, store, now, f"internal error ({type(e).__name__}: {e})")
    counts = store.save_feed(spec, result, articles, None, now, title=parsed.title)
    return FeedOutcome(key=spec.key, status=FetchStatus.OK, new=counts.new,
                       updated=counts.updated, entries=len(articles))


def _failed(
    spec: FeedSpec, result: FetchResult, store: Store, now: datetime, error: str
) -> FeedOutcome:
    store.save_feed(spec, result, (), error, now)
    return FeedOutcome(key=spec.key, status=FetchStatus.FAILED, error=error)

