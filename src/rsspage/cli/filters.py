"""``rsspage filter test [--apply]``: the config's filter rules tried on the whole archive."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from rsspage.cli.common import EXIT_OK, Commands, add_command, report_exit
from rsspage.config import DEFAULT_NAME, load_config
from rsspage.console import Console, table
from rsspage.refilter import Example, FeedFilterReport, FilterReport, apply_rules, try_rules
from rsspage.store import Store

#: Examples shown per feed and kind, unless ``--examples`` says otherwise.
DEFAULT_EXAMPLES = 5


def register(sub: Commands) -> None:
    filters = add_command(sub, "filter", "try the filter rules on the whole archive",
                          cmd_filter)
    fsub = filters.add_subparsers(dest="filter_command", required=True, metavar="ACTION")
    test = fsub.add_parser(
        "test", help="show what the rules would hide or show again, per feed (a dry run)",
        description="Try the config's filter rules on every stored article and show, per "
                    "feed, what they would hide and what they would show again. Nothing "
                    "changes without --apply.")
    # -c also after the action; SUPPRESS keeps one given before it.
    test.add_argument("-c", "--config", type=Path, default=argparse.SUPPRESS, metavar="FILE",
                      help=f"config file (default: ./{DEFAULT_NAME})")
    test.add_argument("--apply", action="store_true",
                      help="hide and show the articles so, then build the outputs (nothing "
                           "is deleted: removing the rule and applying again brings them back)")
    test.add_argument("--examples", type=int, default=DEFAULT_EXAMPLES, metavar="N",
                      help=f"titles shown per feed (default {DEFAULT_EXAMPLES})")


def cmd_filter(args: argparse.Namespace, console: Console) -> int:
    config = load_config(args.config)
    now = datetime.now(UTC)
    if not args.apply:
        with Store.open(config.output.state, config.store_url) as store:
            report = try_rules(config, store, now)
        _show(report, args.examples, console)
        return EXIT_OK
    with Store.locked(config.output.state, config.store_url) as store:
        report = apply_rules(config, store, now)
    _show(report, args.examples, console)
    from rsspage.build import build  # the site's templates: only once something changed

    return report_exit(build(config), console)


def _show(report: FilterReport, examples: int, console: Console) -> None:
    out = console.out
    print(table(["feed", "articles", "kept", "hidden", "would hide", "would show again"],
                [[f.key, str(f.articles), str(f.kept), str(f.still_hidden), str(len(f.hide)),
                  str(len(f.show))] for f in report.feeds], 60), file=out)
    for feed in report.feeds:
        _examples(feed, "would hide", feed.hide, examples, console)
        _examples(feed, "would show again", feed.show, examples, console)
    verb = ("hid", "showed again") if report.applied else ("would hide", "would show again")
    print(f"\n{verb[0]} {report.hide}, {verb[1]} {report.show} articles", file=out)
    if not report.applied and (report.hide or report.show):
        print("nothing changed (a dry run); --apply hides and shows them", file=out)


def _examples(feed: FeedFilterReport, what: str, found: list[Example], limit: int,
              console: Console) -> None:
    if not found:
        return
    print(f"\n{feed.key}: {what} {len(found)}:", file=console.out)
    for example in found[:max(limit, 0)]:
        why = f"  [{example.reason}]" if example.reason else ""
        print(f"  {example.published:%Y-%m-%d}  {example.title}{why}", file=console.out)
    if len(found) > limit:
        print(f"  … and {len(found) - limit} more", file=console.out)
