"""The everyday commands: update, build, serve, status, search, catalog, demo."""

from __future__ import annotations

import argparse
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rsspage import __version__
from rsspage.catalog import DEFAULT_LANGUAGE, Catalog, load_catalog
from rsspage.cli.common import EXIT_FEEDS_FAILED, EXIT_OK, Commands, add_command, report_exit
from rsspage.cli.due import due_column
from rsspage.config import DEFAULT_NAME, load_config
from rsspage.console import Console
from rsspage.errors import ConfigError, PublishError
from rsspage.pipeline import Hooks, build, update
from rsspage.publish.outputs import unknown_articles
from rsspage.store import Store
from rsspage.store.db import DB_NAME


def register(sub: Commands) -> None:
    update_cmd = add_command(sub, "update",
                             "fetch the due feeds, store new articles, publish the outputs",
                             cmd_update)
    update_cmd.add_argument("--all", dest="everything", action="store_true",
                            help="fetch every feed, due or not")
    add_command(sub, "build", "publish the outputs from the stored articles (no fetching)",
                cmd_build)
    serve = add_command(sub, "serve",
                        "serve the site on 127.0.0.1, rebuilding when the store changes",
                        cmd_serve)
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000; 0: any free)")
    add_command(sub, "status", "show each feed's health: last success, last error, articles",
                cmd_status)
    search = add_command(sub, "search", "search stored articles (Chinese and English)",
                         cmd_search)
    search.add_argument("query", nargs="+", help="words to find (all must match)")
    search.add_argument("-n", "--limit", type=int, default=20, help="at most this many results")
    catalog = add_command(sub, "catalog", "list or search the RSSHub route catalog", cmd_catalog)
    catalog.add_argument("--catalog", dest="catalog_paths", type=Path, action="append",
                         default=[], metavar="PATH", help=_CATALOG_HELP)
    csub = catalog.add_subparsers(dest="catalog_command", required=True, metavar="ACTION")
    clist = csub.add_parser("list", help="list routes")
    clist.add_argument("--category", help="only this category (label or key)")
    csearch = csub.add_parser("search", help="find routes by name, category or path")
    csearch.add_argument("text", nargs="+")
    for action in (clist, csearch):  # the options also work after the action
        catalog_options(action)
    demo = add_command(sub, "demo", "run the bundled offline demo into DIR", cmd_demo,
                       config=False)
    demo.description = ("Serve bundled sample feeds on 127.0.0.1, write a config into DIR and "
                        "run a full update over real HTTP.")
    demo.add_argument("dir", nargs="?", type=Path, default=Path("rsspage-demo"))
    demo.add_argument("--serve", action="store_true",
                      help="then keep serving the feeds and the site until Ctrl+C")
    demo.add_argument("--port", type=int, default=8000, help="site port with --serve")


def cmd_update(args: argparse.Namespace, console: Console) -> int:
    config = load_config(args.config)
    console.start(f"rsspage {__version__}: updating from {config.path}")
    hooks = Hooks(progress=console.progress, on_outcome=console.outcome)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")  # set in GitHub Actions
    try:
        report = update(config, hooks, everything=args.everything)
    except PublishError as e:  # main() says so and exits 1, as when feeds failed: tell them apart
        console.job_publish_error("update", str(e), summary)
        raise
    console.job_summary(report, summary)
    return report_exit(report, console)


def cmd_build(args: argparse.Namespace, console: Console) -> int:
    config = load_config(args.config)
    try:
        report = build(config)
    except PublishError as e:
        console.job_publish_error("build", str(e), os.environ.get("GITHUB_STEP_SUMMARY"))
        raise
    return report_exit(report, console)


def cmd_serve(args: argparse.Namespace, console: Console) -> int:
    from rsspage.serve import serve  # http.server is only needed here

    config = load_config(args.config)
    if config.output.site is None:
        raise ConfigError(str(config.path), None, "output.site", "no site to serve (it is null)")
    build(config)

    def rebuild() -> None:
        console.start("the store changed: rebuilding the site")
        build(config)

    serve(config.output.site, args.port, rebuild=rebuild, watch=config.output.state / DB_NAME)
    return EXIT_OK


def cmd_status(args: argparse.Namespace, console: Console) -> int:
    config = load_config(args.config)
    with Store.open(config.output.state) as store:
        now = datetime.now(UTC)
        rows = store.health(now - timedelta(days=7))
        timings = store.feed_timings()
        try:
            unknown = unknown_articles(config, store)
        except PublishError as e:  # status only reads: a damaged manifest is a warning here
            console.error_line(f"warning: {e}")
            unknown = {}
    due, notes = due_column(config, rows, timings, now)
    console.health(rows, due, notes)
    console.younger_archive(unknown)
    return EXIT_OK


def cmd_search(args: argparse.Namespace, console: Console) -> int:
    config = load_config(args.config)
    with Store.open(config.output.state) as store:
        hits = store.search(" ".join(args.query), args.limit)
    console.hits(hits)
    return EXIT_OK


_CATALOG_HELP = "catalog file or folder (instead of the config's; repeatable)"


def catalog_options(parser: argparse.ArgumentParser) -> None:
    """``-c`` and ``--catalog`` once more, for after the action. SUPPRESS keeps what was given
    before the action; ``--catalog`` paths given after it are added to those (another dest)."""
    parser.add_argument("-c", "--config", type=Path, default=argparse.SUPPRESS, metavar="FILE",
                        help=f"config file (default: ./{DEFAULT_NAME})")
    parser.add_argument("--catalog", dest="catalog_paths_after", type=Path, action="append",
                        default=argparse.SUPPRESS, metavar="PATH", help=_CATALOG_HELP)


def catalog_for(args: argparse.Namespace, console: Console) -> Catalog:
    """The catalog of ``--catalog`` paths, else of the config's ``rsshub.catalog``.

    With ``--catalog`` no config file is needed: when there is one, it only gives the site's
    language (the names' language; a config that cannot be read is a warning then).
    """
    paths: list[Path] = [*args.catalog_paths, *getattr(args, "catalog_paths_after", [])]
    config_path: Path = args.config
    if not paths:
        config = load_config(config_path)
        paths = list(config.catalog)
        if not paths:
            raise ConfigError(str(config_path), None, "rsshub.catalog",
                              "no catalog configured (add rsshub.catalog or pass --catalog)")
        return load_catalog(paths, config.site.language)
    language = DEFAULT_LANGUAGE
    if config_path.exists() or config_path != Path(DEFAULT_NAME):
        try:
            language = load_config(config_path).site.language
        except ConfigError as e:
            console.error_line(f"warning: {e} (names in the default language, {language})")
    return load_catalog(paths, language)


def cmd_catalog(args: argparse.Namespace, console: Console) -> int:
    catalog = catalog_for(args, console)
    if args.catalog_command == "list":
        routes = catalog.list(args.category)
    else:
        routes = catalog.search(" ".join(args.text))
    console.routes(routes)
    return EXIT_OK


def cmd_demo(args: argparse.Namespace, console: Console) -> int:
    from rsspage.demo.run import run_demo  # the demo's data is only loaded when asked for

    report, config = run_demo(args.dir, console, args.port if args.serve else None)
    if args.serve:
        return EXIT_FEEDS_FAILED if report.failed else EXIT_OK
    code = report_exit(report, console)
    console.demo_done(config)
    return code


