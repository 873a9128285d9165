"""`rsspage import`: bring subscriptions (OPML) into rsspage.yml."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from rsspage.cli.common import EXIT_OK, Commands, add_command
from rsspage.config import load_config
from rsspage.config_edit import append_entries
from rsspage.console import Console, table

if TYPE_CHECKING:
    from rsspage.importers.opml import ImportPlan


def register(sub: Commands) -> None:
    cmd = add_command(sub, "import", "add the feeds of a subscriptions file (OPML from "
                      "Miniflux, FreshRSS, Inoreader, Feedly, NetNewsWire…) to the config",
                      cmd_import)
    cmd.add_argument("opml", type=Path, metavar="FILE.opml", help="the subscriptions file")
    cmd.add_argument("--yes", action="store_true",
                     help="write the additions (without it: only show them, or ask on a terminal)")


def cmd_import(args: argparse.Namespace, console: Console) -> int:
    from rsspage.importers.opml import plan_import, read_opml  # lxml: only for this command

    config = load_config(args.config)
    feeds = read_opml(args.opml)
    plan = plan_import(feeds, config.instances, (r.path for r in config.routes),
                       (f.url for f in config.feeds))
    _show(plan, console)
    if not plan.added:
        print(f"nothing to add: {config.path.name} is unchanged", file=console.out)
        return EXIT_OK
    if not args.yes and not _confirm(len(plan.added), config.path.name):
        print(f"nothing written; run again with --yes to add these to {config.path.name}",
              file=console.out)
        return EXIT_OK
    append_entries(config.path, plan.entries())
    routes = sum(a.kind == "route" for a in plan.added)
    print(f"added {routes} routes and {len(plan.added) - routes} feeds to {config.path}",
          file=console.out)
    print(f"fetch them with: rsspage update -c {config.path}", file=console.err)
    return EXIT_OK


def _show(plan: ImportPlan, console: Console) -> None:
    if plan.added:
        unnamed = {"route": "(catalog or feed)", "feed": "(from the feed)"}
        rows = [(str(a.kind), a.key, a.category or "(未分类)", a.source or unnamed[a.kind])
                for a in plan.added]
        print(f"to add ({len(plan.added)}):", file=console.out)
        print(table(("kind", "route or URL", "category", "source"), rows, max_width=60),
              file=console.out)
    if plan.skipped:
        why = [(f"line {s.line}" if s.line else "", s.url, s.reason) for s in plan.skipped]
        print(f"skipped ({len(plan.skipped)}):", file=console.out)
        print(table(("where", "URL", "why"), why, max_width=60), file=console.out)


def _confirm(count: int, name: str) -> bool:
    """On a terminal, ask; anywhere else (cron, CI, a pipe) the answer is no."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return False
    try:
        answer = input(f"add these {count} entries to {name}? [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")
