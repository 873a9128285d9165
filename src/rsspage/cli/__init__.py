"""The `rsspage` command: a thin layer over the library that turns errors into exit codes.

One module per group of commands (``core``: the everyday ones); each adds its commands with
``register``. Exit codes: 0 all feeds fine; 1 output written but some feeds failed; 2 usage,
configuration or state error (bad config, another run holds the lock); 3 internal error (a bug:
the message says so and where the traceback was logged).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import traceback
from collections.abc import Sequence
from pathlib import Path

from rsspage import __version__
from rsspage.cli import (
    add,
    archive,
    catalog,
    core,
    filters,
    import_hexo,
    init,
    schema,
    subscriptions,
    watch,
)
from rsspage.cli.common import EXIT_BUG, EXIT_FEEDS_FAILED, EXIT_OK, EXIT_USAGE
from rsspage.console import Console
from rsspage.errors import PublishError, RsspageError

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rsspage",
        description="Turn RSSHub routes and feeds into a news archive, Hexo posts and a site.",
    )
    p.add_argument("--version", action="version", version=f"rsspage {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (core, catalog, archive, init, watch, subscriptions, import_hexo, add,
                   filters, schema):
        module.register(sub)
    return p


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
        code: int = args.run(args, console)
        return code
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


