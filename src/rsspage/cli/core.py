"""The everyday commands: update, build, serve, status, search, demo."""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from rsspage import __version__
from rsspage.cli.common import EXIT_FEEDS_FAILED, EXIT_OK, Commands, add_command, report_exit
from rsspage.cli.due import due_column
from rsspage.config import Config, load_config
from rsspage.console import Console
from rsspage.errors import ArchiveBusy, ConfigError, PublishError, StoreError
from rsspage.publish.manifest import unknown_articles
from rsspage.store import FeedHealth, Store, db
from rsspage.store.db import DB_NAME

if TYPE_CHECKING:
    from rsspage.serve import Watched  # http.server only for serve

# The stages a command needs are imported by the command: `rsspage build` or `status` never
# loads the fetching and parsing stages (httpx, feedparser, ftfy: ~0.25 s and ~10 MB), nor
# `status` the site's templates.


def register(sub: Commands) -> None:
    update_cmd = add_command(sub, "update",
                             "fetch the due feeds, store new articles, publish the outputs",
                             cmd_update)
    update_cmd.add_argument("--all", dest="everything", action="store_true",
                            help="fetch every feed, due or not")
    update_cmd.add_argument("--worker", action="store_true",
                            help="be one of many fetch workers on a PostgreSQL store: claim "
                            "due feeds, fetch and store them; publish nothing (rsspage build "
                            "does, on one machine)")
    update_cmd.add_argument("--lease", type=_seconds, metavar="SECONDS",
                            help="with --worker: how long a claimed feed stays this worker's "
                            "without a heartbeat (renewed every third of it while the worker "
                            "works on it; default 60): a killed worker's feeds wait this long")
    update_cmd.add_argument("--batch", type=_positive, metavar="N",
                            help="with --worker: feeds claimed at a time (default: 8 times "
                            "fetch.concurrency)")
    build_cmd = add_command(sub, "build",
                            "publish the outputs from the stored articles (no fetching)", cmd_build)
    build_cmd.add_argument("--full", action="store_true",
                           help="check every output file, even when nothing changed since the "
                                "last build (restores files changed or deleted by hand)")
    serve = add_command(sub, "serve",
                        "serve the site on 127.0.0.1, rebuilding when the store changes",
                        cmd_serve)
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000; 0: any free)")
    add_command(sub, "status", "show each feed's health: last success, last error, articles",
                cmd_status)
    search = add_command(sub, "search", "search stored articles (Chinese and English)",
                         cmd_search)
    search.add_argument("query", nargs="+", help="words to find (all must match)")
    search.add_argument("-n", "--limit", type=_positive, default=20,
                        help="at most this many results")
    demo = add_command(sub, "demo", "run the bundled offline demo into DIR", cmd_demo,
                       config=False)
    demo.description = ("Serve bundled sample feeds on 127.0.0.1, write a config into DIR and "
                        "run a full update over real HTTP.")
    demo.add_argument("dir", nargs="?", type=Path, default=Path("rsspage-demo"))
    demo.add_argument("--serve", action="store_true",
                      help="then keep serving the feeds and the site until Ctrl+C")
    demo.add_argument("--port", type=int, default=8000, help="site port with --serve")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds above 0, got {text!r}")
    return value


def cmd_update(args: argparse.Namespace, console: Console) -> int:
    from rsspage.pipeline import Hooks, update
    from rsspage.workers import WorkerOptions, work

    config = load_config(args.config)
    console.start(f"rsspage {__version__}: updating from {config.path}")
    hooks = Hooks(progress=console.progress, on_outcome=console.outcome,
                  on_note=console.error_line)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")  # set in GitHub Actions
    if args.worker and args.everything:
        raise ConfigError(str(config.path), None, "--all", "a worker fetches due feeds only")
    if args.worker:
        lease = timedelta(seconds=args.lease) if args.lease else None
        report = work(config, hooks, WorkerOptions(lease=lease, batch=args.batch))
        console.job_summary(report, summary)
        return report_exit(report, console)
    if args.lease or args.batch:
        raise ConfigError(str(config.path), None, "--lease/--batch", "only with --worker")
    try:
        report = update(config, hooks, everything=args.everything)
    except PublishError as e:  # main() says so and exits 1, as when feeds failed: tell them apart
        console.job_publish_error("update", str(e), summary)
        raise
    console.job_summary(report, summary)
    return report_exit(report, console)


def cmd_build(args: argparse.Namespace, console: Console) -> int:
    from rsspage.build import build

    config = load_config(args.config)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")  # set in GitHub Actions
    try:
        report = build(config, full=args.full)
    except PublishError as e:
        console.job_publish_error("build", str(e), summary)
        raise
    console.job_summary(report, summary, "build")
    return report_exit(report, console)


def cmd_serve(args: argparse.Namespace, console: Console) -> int:
    from rsspage.build import build
    from rsspage.serve import serve

    config = load_config(args.config)
    if config.output.site is None:
        raise ConfigError(str(config.path), None, "output.site", "no site to serve (it is null)")
    build(config)

    def rebuild() -> None:
        console.start("the store changed: rebuilding the site")
        build(config)

    serve(config.output.site, args.port, rebuild=rebuild, watch=_watched(config))
    return EXIT_OK


def _watched(config: Config) -> Watched:
    """What ``serve`` watches for changes: SQLite's file, or where a PostgreSQL store stands."""
    if config.store_url is None:
        return config.output.state / DB_NAME

    held: list[Store] = []  # one connection for the watcher's polls, opened again after a fault

    def activity() -> object:
        try:
            if not held:
                held.append(Store.open(config.output.state, config.store_url))
            return held[0].activity()
        except StoreError:
            raise
        except Exception as e:  # the connection broke (psycopg's errors): a new one next time
            with contextlib.suppress(Exception):
                held.pop().close()
            raise StoreError(f"the store did not answer: {type(e).__name__}") from None
    return activity


def cmd_status(args: argparse.Namespace, console: Console) -> int:
    config = load_config(args.config)
    with Store.open(config.output.state, config.store_url) as store:
        now = datetime.now(UTC)
        rows = store.health(now - timedelta(days=7))
        timings = store.feed_timings()
        try:
            unknown = unknown_articles(config, store)
        except PublishError as e:  # status only reads: a damaged manifest is a warning here
            console.error_line(f"warning: {e}")
            unknown = {}
    due, notes = due_column(config, rows, timings, now)
    console.health(rows, due, [*notes, *empty_items_notes(rows), *hidden_notes(rows),
                               *merged_notes(rows)])
    console.younger_archive(unknown)
    return EXIT_OK


def empty_items_notes(rows: Sequence[FeedHealth]) -> list[str]:
    """A line per followed feed whose last document held empty items (skipped, not published)."""
    return [f"{h.key}: {h.empty_items} empty item{'s' if h.empty_items > 1 else ''} skipped "
            "in its last document (no title, link, text or picture)"
            for h in rows if h.empty_items and not h.retired_at]


def hidden_notes(rows: Sequence[FeedHealth]) -> list[str]:
    """A line per feed with articles that filter rules hid (kept, not published)."""
    return [f"{h.key}: {h.hidden} article{'s' if h.hidden > 1 else ''} hidden by filter rules "
            "(kept in the archive; `rsspage filter test` shows which)"
            for h in rows if h.hidden]


def merged_notes(rows: Sequence[FeedHealth]) -> list[str]:
    """A line per feed whose copies of stories another feed brought first were merged."""
    return [f"{h.key}: {h.merged} stor{'ies' if h.merged > 1 else 'y'} another feed brought "
            "first (same link or text): stored once, this feed recorded with it"
            for h in rows if h.merged]


def cmd_search(args: argparse.Namespace, console: Console) -> int:
    config = load_config(args.config)
    with Store.open(config.output.state, config.store_url) as store:
        if not store.search_index_ready():
            _build_search_index(config, store, console)
        hits = store.search(" ".join(args.query), args.limit)
    console.hits(hits)
    return EXIT_OK


def _build_search_index(config: Config, store: Store, console: Console) -> None:
    """The first search of a restored archive builds its index, under the run lock; while
    another run holds the archive, this search reads every article instead."""
    try:
        with db.run_lock(config.output.state, config.store_url):
            console.start("building the search index of the restored archive (once)")
            store.build_search_index()
    except ArchiveBusy:
        console.start("another rsspage run is using the archive: searching without the "
                      "search index this time (slower)")


def cmd_demo(args: argparse.Namespace, console: Console) -> int:
    from rsspage.demo.run import run_demo  # the demo's data is only loaded when asked for

    report, config = run_demo(args.dir, console, args.port if args.serve else None)
    if args.serve:
        return EXIT_FEEDS_FAILED if report.failed else EXIT_OK
    code = report_exit(report, console)
    console.demo_done(config)
    return code


