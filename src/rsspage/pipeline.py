"""The orchestrator: puts the stages in order and collects one outcome per feed.

``update`` runs the whole pipeline::

    1. plan      config + catalog → FeedSpecs (no I/O); then only those due (their next_check
                 has come) unless ``everything``; the rest count as skipped
    2. fetch     the due feeds concurrently (asyncio; the only concurrent stage: it waits on the
                 network, while parsing and storing are CPU-bound and run one feed at a time)
    3. per feed, sequentially:
         parse      bytes + headers → ParsedFeed
         normalise  → Articles (ids, UTC dates, sanitised HTML)
         decide     filter rules (filters.py): which new articles are stored hidden
       then, for the feeds with ``full_text``, once for all of them:
         enrich     the pages of their new articles, fetched concurrently like feeds, their
                    main text in place of the summary (fulltext.py)
       then per feed:
         store      articles + feed state + next due time (schedule.py) in one transaction
    4. prune     articles older than ``limits.keep_days`` (or their feed's own ``keep_days``)
    5. publish   from the store: Hexo posts, the site and its feeds, through the safe writer

A feed that fails at any step is a FeedOutcome with an error, never an exception that stops the
run. Everything is committed per feed, and publishing reads only the store, so a run killed at
any moment leaves a consistent state that the next run completes.

``update`` and ``build`` (build.py: publishing alone) take the state lock; ``update_locked`` and
``build_locked`` are the same for a caller that holds it already (``watch`` holds it for as long
as it runs, and a flock is per open file: taking it a second time from the same process would
fail).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from rsspage.build import prune
from rsspage.catalog import Catalog, load_catalog
from rsspage.catalog.live import load_live
from rsspage.config import Config, ScheduleConfig
from rsspage.errors import ParseError
from rsspage.fetch import FetchOptions, HostGate, fetch_feeds
from rsspage.filters import FeedRules, hidden_ids
from rsspage.fulltext import FeedText, Wanted, full_text
from rsspage.importers.hexo import Broken, read_tree
from rsspage.normalise import normalise_counted, normalise_feed
from rsspage.parse import parse_feed
from rsspage.parse.dates import naive_dates_in
from rsspage.parse.text import repair_feed
from rsspage.plan import FeedsByName, Plan, earliest_due, make_plan, split_due
from rsspage.publish.manifest import NAME as MANIFEST_NAME
from rsspage.publish.manifest import load as load_manifest
from rsspage.publish.outputs import publish_all
from rsspage.schedule import next_timing
from rsspage.store import Ahead, Store
from rsspage.types import (
    Article,
    FeedOutcome,
    FeedSpec,
    FeedTiming,
    FetchResult,
    FetchStatus,
    ParsedFeed,
    RawEntry,
    Route,
    RunReport,
    ServerHints,
)

log = logging.getLogger("rsspage")

#: Due feeds from which an update starts the process that decides its clusters' pass while
#: the feeds are stored (store/cluster_ahead.py; it pays from ``cluster_ahead.FROM`` new
#: articles).
AHEAD_FEEDS = 10

#: Called once per feed as its fetch completes (for progress display).
ProgressHook = Callable[[FetchResult], None]


@dataclass(frozen=True, slots=True)
class Hooks:
    on_fetched: ProgressHook | None = None
    on_outcome: Callable[[FeedOutcome], None] | None = None
    #: Instead of ``on_fetched``: makes it once the number of feeds to fetch is known (only the
    #: due ones are fetched, so a progress bar cannot count on the config's feeds).
    progress: Callable[[int], ProgressHook] | None = None
    #: A line for the user about the run as a whole (the catalog could not be refreshed).
    on_note: Callable[[str], None] | None = None


def fetch_options(config: Config) -> FetchOptions:
    f = config.fetch
    options = FetchOptions(
        concurrency=f.concurrency, per_host=f.per_host, timeout=f.timeout,
        retries=f.retries, max_bytes=f.max_bytes,
    )
    return replace(options, user_agent=f.user_agent) if f.user_agent else options


def update(config: Config, hooks: Hooks = Hooks(), now: datetime | None = None,
           *, everything: bool = False) -> RunReport:
    """Fetch the due feeds (all of them with ``everything``), store what is new, publish.
    Holds the state lock throughout."""
    with Store.locked(config.output.state, config.store_url, fetching=True) as store:
        return update_locked(config, store, hooks, now, everything=everything)


def update_locked(config: Config, store: Store, hooks: Hooks = Hooks(),
                  now: datetime | None = None, *, everything: bool = False) -> RunReport:
    """:func:`update` for a caller that holds the state lock already."""
    started = time.monotonic()
    now = now or datetime.now(UTC)
    catalog, missing = config_catalog(config, on_note=hooks.on_note)
    # Without the live catalog, routes keep the names it gave them last time (else they would
    # switch to 未分类 and the feed's title until it is back).
    plan = make_plan(config, catalog, store.feed_names() if missing else None)
    # Every configured feed, due or not: a feed that left the config is retired.
    store.set_followed([spec.key for spec in plan.feeds], now)
    timings = store.feed_timings()
    due, skipped = split_due(plan.feeds, timings, now, everything=everything)
    # The clusters' pass, decided in a second process while the feeds are stored
    # (store/cluster_ahead.py): worth it for many new articles, which take many feeds.
    ahead = store.clusters_ahead() if len(due) >= AHEAD_FEEDS else None
    try:
        outcomes = fetch_and_store(config, store, plan, due, timings, now, hooks, ahead=ahead)
        store.cluster_new(ahead)  # the run's new articles, together (store/clusters.py)
    finally:
        if ahead is not None:
            ahead.close()
    prune(config, plan.feeds, store, now)
    published = publish_all(config, store, now)
    return RunReport(tuple(outcomes), time.monotonic() - started, published,
                     skipped=tuple(spec.key for spec in skipped))


def fetch_and_store(config: Config, store: Store, plan: Plan, due: Sequence[FeedSpec],
                    timings: Mapping[str, FeedTiming], now: datetime, hooks: Hooks,
                    gate: HostGate | None = None, *,
                    ahead: Ahead | None = None) -> list[FeedOutcome]:
    """Fetch the feeds ``due``, parse, normalise, filter and store each with its next due
    time; ``gate``: per-host limits shared with other fetch workers; ``ahead``: given the new
    articles to decide the clusters' pass that follows (``Store.clusters_ahead``)."""
    results = fetch_due(config, store, due, hooks, gate)
    return store_fetched(config, store, plan, due, results, timings, now, hooks, gate,
                         ahead=ahead)


def fetch_due(config: Config, store: Store, due: Sequence[FeedSpec], hooks: Hooks,
              gate: HostGate | None = None) -> list[FetchResult]:
    """The feeds ``due`` fetched (conditional GET with their stored validators)."""
    on_fetched = hooks.progress(len(due)) if hooks.progress else hooks.on_fetched
    return fetch_feeds(due, store.feed_states([spec.key for spec in due]),
                       fetch_options(config), on_result=on_fetched, gate=gate)


def store_fetched(config: Config, store: Store, plan: Plan, due: Sequence[FeedSpec],
                  results: Sequence[FetchResult], timings: Mapping[str, FeedTiming],
                  now: datetime, hooks: Hooks,
                  gate: HostGate | None = None, *,
                  ahead: Ahead | None = None) -> list[FeedOutcome]:
    """The fetched feeds ``due`` parsed, normalised, filtered, given full text and stored,
    each with its next due time (computed from ``timings``, as they were before);
    ``ahead``: as :func:`fetch_and_store`."""
    scheduler = _Scheduler(config.schedule, timings, now)
    # Parsed first, all of them, so that the pages of every full-text feed are fetched in one
    # concurrent pass (enrich) before each feed is stored.
    prepared = []
    for position, (spec, result) in enumerate(zip(due, results, strict=True)):
        prepared.append(_prepare(spec, result, store, scheduler, plan.rules(spec.key)))
        if ahead is not None and not spec.full_text:
            _give(ahead, position, prepared[-1], store)  # decided on as the others are parsed
    enriched = _enrich(prepared, store, fetch_options(config), hooks.on_note, gate)
    if ahead is not None:
        for position, item in enumerate(enriched):
            if isinstance(item, _Prepared) and item.spec.full_text:
                _give(ahead, position, item, store)  # with their pages' text
        ahead.seal()
    outcomes = []
    for item in enriched:
        outcome = item if isinstance(item, FeedOutcome) else _save(item, store, scheduler)
        warning = plan.warnings.get(outcome.key)
        if warning:
            outcome = _with_warning(outcome, warning)
        if hooks.on_outcome:
            hooks.on_outcome(outcome)
        outcomes.append(outcome)
    return outcomes


def config_catalog(config: Config, *, refresh: bool | None = None,
                   on_note: Callable[[str], None] | None = None,
                   whole: bool = False) -> tuple[Catalog, bool]:
    """The config's catalog, names in the site's language: the instances' live catalog then
    the files; and whether the live catalog was wanted but is missing.

    The live catalog is refreshed as :func:`load_live` decides when routes need names from it
    (or ``whole``: ``catalog list/search``, ``add``); when every route is named in the config,
    only a cached copy is read (for its flags and views), so no run waits on it.
    """
    routes: list[Route] = []
    unnamed = any(not (r.category and r.source and r.channel) for r in config.routes)
    wanted = config.catalog_instance and (whole or unnamed)
    missing = False
    if config.catalog_instance and (wanted or config.routes):
        live = load_live(config.output.state, config.instances, fetch_options(config),
                         config.site.language, refresh=refresh if wanted else False)
        note = live.note()
        if wanted and note and on_note is not None:
            on_note(note)
        missing = wanted and live.state == "missing"
        routes.extend(live.routes)
    if config.catalog:
        routes.extend(load_catalog(list(config.catalog), config.site.language).routes)
    return Catalog(routes), missing


def next_due(config: Config, store: Store) -> datetime | None:
    """When the first configured feed is due (in the past when one is due now); None: none."""
    plan = make_plan(config, Catalog([]))  # keys and intervals need no catalog
    return earliest_due(plan.feeds, store.feed_timings())


@dataclass(frozen=True, slots=True)
class _Scheduler:
    """Each feed's next due time, computed before its outcome is stored (same transaction)."""

    policy: ScheduleConfig
    before: Mapping[str, FeedTiming]
    now: datetime

    def after(self, spec: FeedSpec, status: FetchStatus, hints: ServerHints) -> FeedTiming:
        before = self.before.get(spec.key, FeedTiming())
        return next_timing(spec, status, hints, before, self.policy, self.now)


def _with_warning(outcome: FeedOutcome, warning: str) -> FeedOutcome:
    return replace(outcome, warnings=(*outcome.warnings, warning))


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A fetched feed parsed, normalised and decided, to be enriched and stored."""

    spec: FeedSpec
    result: FetchResult
    parsed: ParsedFeed
    articles: list[Article]
    empty: int
    hidden: frozenset[str]
    #: New articles given their page's text / whose page gave none (full_text).
    full_text: int = 0
    full_text_failed: int = 0


def _prepare(spec: FeedSpec, result: FetchResult, store: Store, scheduler: _Scheduler,
             rules: FeedRules) -> _Prepared | FeedOutcome:
    """Parse, normalise and decide one fetched feed; a failure is stored at once and becomes
    the outcome's error."""
    now = scheduler.now
    if result.status is not FetchStatus.OK:
        timing = scheduler.after(spec, result.status, result.hints)
        store.save_feed(spec, result, (), result.error, now, timing=timing)
        return FeedOutcome(key=spec.key, status=result.status, error=result.error)
    try:
        with naive_dates_in(ZoneInfo(spec.timezone) if spec.timezone else None):
            parsed = parse_feed(result.content, result.headers, result.url)
        normalised = normalise_counted(spec, parsed, now)
        articles = normalised.articles
        hidden = hidden_ids(rules, articles, now)
    except ParseError as e:
        return _failed(spec, result, store, scheduler, str(e))
    except Exception as e:  # a bug in our parsing must not stop the other feeds
        log.exception("internal error while processing %s", spec.key)
        error = f"internal error ({type(e).__name__}: {e})"
        return _failed(spec, result, store, scheduler, error)
    return _Prepared(spec, result, parsed, articles, normalised.empty, hidden)


def _enrich(items: list[_Prepared | FeedOutcome], store: Store, options: FetchOptions,
            on_note: Callable[[str], None] | None = None,
            gate: HostGate | None = None) -> list[_Prepared | FeedOutcome]:
    """The feeds with ``full_text``, their new articles (not hidden) given their page's text
    (:mod:`rsspage.fulltext`); never fails: a bug there leaves the feeds as they were."""
    wanted = [item for item in items if isinstance(item, _Prepared) and item.spec.full_text]
    if not wanted:
        return items
    try:
        batches = [_wanted(item, store) for item in wanted]
        pages = sum(len(batch.new) for batch in batches)
        if pages and on_note is not None:  # a pass that may take a while after the feeds
            on_note(f"full text: fetching the pages of {pages} new articles")
        texts = dict(zip((id(item) for item in wanted), full_text(batches, options, gate),
                         strict=True))
        for item, batch in zip(wanted, batches, strict=True):
            # A page that gave no text is tried once more on the feed's next run (not again).
            retried = set(batch.new) - store.unseen(item.articles)
            store.set_page_retries(item.spec.key, texts[id(item)].failed_ids - retried)
    except Exception:
        log.exception("internal error while fetching full text; summaries kept")
        return items
    return [_with_text(item, texts[id(item)])
            if isinstance(item, _Prepared) and id(item) in texts else item for item in items]


def _wanted(item: _Prepared, store: Store) -> Wanted:
    """The feed's new articles, and those whose page gave no text on its last run."""
    retry = store.page_retries(item.spec.key) & {a.id for a in item.articles}
    new = (store.unseen(item.articles) | retry) - item.hidden
    stored = store.stored_stories(a for a in item.articles if a.id not in new)
    return Wanted(item.spec, item.articles, new, stored)


def _give(ahead: Ahead, position: int, item: _Prepared | FeedOutcome, store: Store) -> None:
    """Give ``ahead`` the articles of the feed stored ``position``-th that the clusters' pass
    will file: new to the archive, and not hidden by a rule."""
    if isinstance(item, _Prepared):
        new = store.unseen(item.articles) - item.hidden
        ahead.give(position, (a for a in item.articles if a.id in new))


def _with_text(item: _Prepared, text: FeedText) -> _Prepared:
    return replace(item, articles=text.articles, full_text=text.fetched,
                   full_text_failed=text.failed)


def _save(item: _Prepared, store: Store, scheduler: _Scheduler) -> FeedOutcome:
    """Store one prepared feed, its state and next due time."""
    spec, result, parsed, articles = item.spec, item.result, item.parsed, item.articles
    hints = replace(result.hints, ttl=parsed.ttl * 60.0 if parsed.ttl else None)
    timing = scheduler.after(spec, FetchStatus.OK, hints)
    counts = store.save_feed(spec, result, articles, None, scheduler.now, title=parsed.title,
                             timing=timing, empty_items=item.empty, hidden=item.hidden)
    return FeedOutcome(key=spec.key, status=FetchStatus.OK, new=counts.new,
                       updated=counts.updated, entries=len(articles), blocked=counts.blocked,
                       merged=counts.merged, full_text=item.full_text,
                       full_text_failed=item.full_text_failed)


def _failed(spec: FeedSpec, result: FetchResult, store: Store, scheduler: _Scheduler,
            error: str) -> FeedOutcome:
    timing = scheduler.after(spec, FetchStatus.FAILED, result.hints)
    store.save_feed(spec, result, (), error, scheduler.now, timing=timing)
    return FeedOutcome(key=spec.key, status=FetchStatus.FAILED, error=error)



# --------------------------------------------------------------------------- import-hexo


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What ``rsspage import-hexo`` did."""

    #: Posts read and stored for the first time / already in the archive.
    new: int
    already: int
    #: Posts rsspage wrote itself (in the tree's manifest): their articles are its own.
    own: int
    #: Files that could not be read, each with the reason.
    broken: tuple[Broken, ...]
    #: Imported posts whose category / source / channel matched no followed feed: they are
    #: kept under a feed of their own (``hexo-import:<category>/<source>/<channel>``).
    unmatched: int
    seconds: float


def import_hexo(config: Config, root: Path, now: datetime | None = None) -> ImportReport:
    """Read a tree of Hexo posts into the archive, each under the followed feed whose names it
    carries, through ``normalise`` like any entry. Importing again adds nothing."""
    started = time.monotonic()
    now = now or datetime.now(UTC)
    feeds = FeedsByName(make_plan(config, config_catalog(config, refresh=False)[0]).feeds)
    own = frozenset(load_manifest(root / MANIFEST_NAME).articles)  # rsspage's own posts
    posts: dict[str, tuple[FeedSpec, list[RawEntry]]] = {}
    broken: list[Broken] = []
    for item in read_tree(root, ZoneInfo(config.site.timezone), skip=own):
        if isinstance(item, Broken):
            broken.append(item)
            continue
        spec = feeds.find(item.category, item.source, item.channel)
        posts.setdefault(spec.key, (spec, []))[1].append(item.entry)
    batches = [(spec, normalise_feed(spec, repair_feed(ParsedFeed(None, None, tuple(entries),
                                                                  "hexo")), now))
               for spec, entries in posts.values()]
    with Store.locked(config.output.state, config.store_url) as store:
        counts = store.save_imported(batches, now)
    read = sum(len(entries) for _, entries in posts.values())
    new = sum(c.new for c in counts.values())
    unmatched = sum(len(entries) for spec, entries in posts.values()
                    if not spec.urls)  # a feed of their own
    return ImportReport(new, read - new, len(own), tuple(broken), unmatched,
                        time.monotonic() - started)
