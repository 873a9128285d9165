"""The `rsspage` command: a thin layer over the library that turns errors into exit codes.

Exit codes: 0 all feeds fine; 1 output written but some feeds failed; 2 usage, configuration or
state error (bad config, another run holds the lock); 3 internal error (a bug: the message says so
and where the traceback was logged).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rsspage import __version__
from rsspage.catalog import Catalog, load_catalog
from rsspage.config import DEFAULT_NAME, load_config
from rsspage.console import Console
from rsspage.errors import ConfigError, PublishError, RsspageError
from rsspage.pipeline import Hooks, build, update
from rsspage.store import Store
from rsspage.store.db import DB_NAME
from rsspage.types import RunReport

EXIT_OK, EXIT_FEEDS_FAILED, EXIT_USAGE, EXIT_BUG = 0, 1, 2, 3

Command = Callable[[argparse.Namespace, Console], int]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rsspage",
        description="Turn RSSHub routes and feeds into a news archive, Hexo posts and a site.",
    )
    p.add_argument("--version", action="version", version=f"rsspage {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def with_config(name: str, help: str) -> argparse.ArgumentParser:
        cmd = sub.add_parser(name, help=help, description=help)
        cmd.add_argument("-c", "--config", type=Path, default=Path(DEFAULT_NAME),
                         help=f"config file (default: ./{DEFAULT_NAME})")
        return cmd

    with_config("update", "fetch every feed, store new articles, publish the outputs")
    with_config("build", "publish the outputs from the stored articles (no fetching)")
    serve = with_config("serve", "serve the site on 127.0.0.1, rebuilding when the store changes")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000; 0: any free)")
    with_config("status", "show each feed's health: last success, last error, articles")
    search = with_config("search", "search stored articles (Chinese and English)")
    search.add_argument("query", nargs="+", help="words to find (all must match)")
    search.add_argument("-n", "--limit", type=int, default=20, help="at most this many results")
    catalog = with_config("catalog", "list or search the RSSHub route catalog")
    catalog.add_argument("--catalog", dest="catalog_paths", type=Path, action="append",
                         default=[], help="catalog file or folder (instead of the config's)")
    csub = catalog.add_subparsers(dest="catalog_command", required=True, metavar="ACTION")
    clist = csub.add_parser("list", help="list routes")
    clist.add_argument("--category", help="only this category (label or key)")
    csearch = csub.add_parser("search", help="find routes by name, category or path")
    csearch.add_argument("text", nargs="+")
    demo = sub.add_parser("demo", help="run the bundled offline demo into DIR",
                          description="Serve bundled sample feeds on 127.0.0.1, write a "
                          "config into DIR and run a full update over real HTTP.")
    demo.add_argument("dir", nargs="?", type=Path, default=Path("rsspage-demo"))
    demo.add_argument("--serve", action="store_true",
                      help="then keep serving the feeds and the site until Ctrl+C")
    demo.add_argument("--port", type=int, default=8000, help="site port with --serve")
    return p


# --------------------------------------------------------------------------- commands


def _report(report: RunReport, console: Console) -> int:
    console.summary(report)
    return EXIT_FEEDS_FAILED if report.failed else EXIT_OK


def cmd_update(args: argparse.Namespace, console: Console) -> int:
    config = load_config(args.config)
    console.start(f"rsspage {__version__}: updating from {config.path}")
    total = len(config.routes) + len(config.feeds)
    hooks = Hooks(on_fetched=console.progress(total), on_outcome=console.outcome)
    return _report(update(config, hooks), console)


def cmd_build(args: argparse.Namespace, console: Console) -> int:
    config = load_config(args.config)
    return _report(build(config), console)


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
        rows = store.health(datetime.now(UTC) - timedelta(days=7))
    console.health(rows)
    return EXIT_OK


def cmd_search(args: argparse.Namespace, console: Console) -> int:
    config = load_config(args.config)
    with Store.open(config.output.state) as store:
        hits = store.search(" ".join(args.query), args.limit)
    console.hits(hits)
    return EXIT_OK


def _catalog_for(args: argparse.Namespace) -> Catalog:
    paths: list[Path] = list(args.catalog_paths)
    if not paths:
        paths = list(load_config(args.config).catalog)
    if not paths:
        raise ConfigError(str(args.config), None, "rsshub.catalog",
                          "no catalog configured (add rsshub.catalog or pass --catalog)")
    return load_catalog(paths)


def cmd_catalog(args: argparse.Namespace, console: Console) -> int:
    catalog = _catalog_for(args)
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
    code = _report(report, console)
    console.demo_done(config)
    return code


COMMANDS: dict[str, Command] = {
    "update": cmd_update, "build": cmd_build, "serve": cmd_serve, "status": cmd_status,
    "search": cmd_search, "catalog": cmd_catalog, "demo": cmd_demo,
}


# --------------------------------------------------------------------------- entry point


def _log_file() -> Path:
    return Path(tempfile.gettempdir()) / "rsspage-error.log"


def _setup_logging() -> None:
    """Tracebacks of unexpected per-feed errors go to the log file, never to the terminal."""
    handler = logging.FileHandler(_log_file(), encoding="utf-8", delay=True)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger = logging.getLogger("rsspage")
    logger.addHandler(handler)
    logger.propagate = False


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    console = Console(sys.stderr, sys.stdout)
    _setup_logging()
    try:
        return COMMANDS[args.command](args, console)
    except PublishError as e:  # the run went on as far as it could; the old output is intact
        console.error(f"could not write the output: {e}")
        return EXIT_FEEDS_FAILED
    except RsspageError as e:
        console.error(str(e))
        return EXIT_USAGE
    except BrokenPipeError:  # `rsspage status | head`: the reader has gone, nothing to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        console.error("interrupted")
        return 130
    except Exception:  # a bug: keep the traceback out of the user's face but keep it
        log = _log_file()
        log.write_text(traceback.format_exc(), encoding="utf-8")
        console.error(f"internal error (a bug in rsspage); the traceback is in {log}")
        return EXIT_BUG


if __name__ == "__main__":
    sys.exit(main())
