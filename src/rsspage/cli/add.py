"""`rsspage add URL`: from a web page to its feeds, and one of them into rsspage.yml.

Candidates, in order: the address itself when it serves a feed; the RSSHub routes that the
catalog's RSSHub Radar rules offer for it (:mod:`rsspage.catalog.radar`); the feeds the page
links to (:mod:`rsspage.discover`). ``--no-fetch`` leaves the page alone (rules only). The
chosen one is appended to ``routes:`` (a route) or ``feeds:`` (a feed) with
:func:`rsspage.config_edit.append_entries`, which keeps the file's comments and checks it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import unquote, urlsplit

from rsspage.catalog import Catalog
from rsspage.catalog.match import normalise_path
from rsspage.catalog.radar import match_url
from rsspage.cli.catalog import add_catalog_arguments, catalog_for
from rsspage.cli.common import EXIT_FEEDS_FAILED, EXIT_OK, Commands, add_command
from rsspage.config import Config, load_config
from rsspage.config_edit import append_entries
from rsspage.console import Console, table
from rsspage.errors import ConfigError, RsspageError
from rsspage.plan import needs

if TYPE_CHECKING:  # the fetching stage is imported by `add` alone (_page)
    from rsspage.discover import Discovery, PageFeed


@dataclass(frozen=True, slots=True)
class Candidate:
    """One feed that could be added."""

    kind: Literal["route", "feed"]
    #: The route's path (``/github/repos/DIYgod``) or the feed's URL.
    key: str
    category: str = ""
    source: str = ""
    #: The route's channel, or the feed link's title.
    channel: str = ""
    #: Already in the config.
    followed: bool = False
    #: What the catalog says the route needs (instance settings, Puppeteer, nsfw), in words.
    needs: str = ""


def register(sub: Commands) -> None:
    cmd = add_command(sub, "add", "find the feeds for a web page (RSSHub routes and the page's "
                      "own feeds) and add one to the config", cmd_add)
    cmd.add_argument("url", metavar="URL", help="the page's address, as in the browser")
    add_catalog_arguments(cmd)
    cmd.add_argument("--yes", action="store_true",
                     help="add the first candidate without asking (or the one --pick names)")
    cmd.add_argument("--pick", type=int, metavar="N", help="add the Nth candidate (implies --yes)")
    cmd.add_argument("--no-fetch", action="store_true",
                     help="do not fetch the page: only the catalog's RSSHub Radar rules")


def cmd_add(args: argparse.Namespace, console: Console) -> int:
    url = web_address(args.url)
    writing = args.yes or args.pick is not None
    config = _config(args.config, console, writing=writing)
    catalog = catalog_for(args, console, config, required=False)  # a page's feeds need none
    page = _page(url, args, config, console)
    candidates = _candidates(url, catalog, config, page)
    _show(url, candidates, console, _page_note(args.no_fetch, page))
    if not candidates:
        return EXIT_FEEDS_FAILED if writing else EXIT_OK
    if writing:
        return _add(_nth(candidates, 1 if args.pick is None else args.pick), config, console)
    if config is None:
        print(f"no config file to add to ({args.config}): create one with `rsspage init`",
              file=console.out)
        return EXIT_OK
    if not sys.stdin.isatty():  # cron, CI, a pipe: show, never write
        print("nothing written; run again with --pick N (or --yes for the first) to add one "
              f"to {config.path.name}", file=console.out)
        return EXIT_OK
    chosen = _ask(len(candidates))
    if chosen is None:
        print("nothing added", file=console.out)
        return EXIT_OK
    return _add(candidates[chosen - 1], config, console)


def web_address(text: str) -> str:
    """The address as typed in a browser (``github.com/x`` works too), as an http(s) URL."""
    text = text.strip()
    url = text if "://" in text else "https://" + text
    try:
        parts = urlsplit(url)
        good = parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
    except ValueError:  # a malformed port or IPv6 address
        good = False
    if not good:
        raise RsspageError(f"not a web address: {text!r} (give one such as "
                           "https://github.com/DIYgod/RSSHub)")
    return url


def _config(path: Path, console: Console, *, writing: bool) -> Config | None:
    """The config to add to; None when there is none (fatal only when asked to write)."""
    if not path.exists():
        if writing:
            raise ConfigError(str(path), None, "", "no config file to add to: create one with "
                              "`rsspage init` (or name one with -c FILE)")
        return None
    try:
        return load_config(path)
    except ConfigError as e:
        if writing:
            raise
        console.error_line(f"warning: {e}")
        return None


def _page(url: str, args: argparse.Namespace, config: Config | None, console: Console
          ) -> Discovery:
    from rsspage.discover import Discovery, discover
    from rsspage.fetch import FetchOptions
    from rsspage.pipeline import fetch_options

    if args.no_fetch:
        return Discovery()
    options = fetch_options(config) if config else FetchOptions()
    # Best effort, and someone is waiting: one retry at most.
    found = discover(url, replace(options, retries=min(options.retries, 1)))
    if found.error:
        console.error_line(f"warning: could not read {url}: {found.error} "
                           "(showing the catalog's routes only)")
    return found


def _candidates(url: str, catalog: Catalog, config: Config | None, page: Discovery
                ) -> list[Candidate]:
    routes = {_route_key(r.path) for r in config.routes} if config else set()
    feeds = {f.url.strip() for f in config.feeds} if config else set()
    itself = [_feed(f, feeds) for f in page.feeds if f.kind == "feed"]
    linked = [_feed(f, feeds) for f in page.feeds if f.kind != "feed"]
    offered: list[Candidate] = []
    for found in match_url(url, catalog.routes):
        route = catalog.match(found.path) or found.route
        offered.append(Candidate("route", found.path, route.category, route.source,
                                 route.channel, _route_key(found.path) in routes,
                                 needs(route) if route.flags else ""))
    return itself + offered + linked


def _feed(feed: PageFeed, followed: set[str]) -> Candidate:
    return Candidate("feed", feed.url, channel=feed.title, followed=feed.url in followed)


def _route_key(path: str) -> str:
    """One spelling of a route path, encoded or not (``%E4%BA%BA`` and ``人`` are one)."""
    return unquote(normalise_path(path))


def _page_note(no_fetch: bool, page: Discovery) -> str:
    if no_fetch:
        return "the page was not fetched (--no-fetch)"
    return "the page could not be read" if page.error else "the page links to no feed"


def _show(url: str, candidates: Sequence[Candidate], console: Console, page_note: str) -> None:
    if not candidates:
        print(f"no feeds found for {url}: no RSSHub Radar rule of the catalog matches it, and "
              f"{page_note}", file=console.out)
        return
    rows = [(str(n), c.kind, c.key, c.category, c.source, c.channel, "yes" if c.followed else "")
            for n, c in enumerate(candidates, 1)]
    text = table(("#", "kind", "route or feed", "category", "source", "channel or title",
                  "followed"), rows, max_width=60)
    print("\n".join(line.rstrip() for line in text.split("\n")), file=console.out)


def _nth(candidates: Sequence[Candidate], n: int) -> Candidate:
    if not 1 <= n <= len(candidates):
        raise RsspageError(f"--pick {n}: there are {len(candidates)} candidates (1 to "
                           f"{len(candidates)})")
    return candidates[n - 1]


def _ask(count: int) -> int | None:
    """The number the user types (None: none); asks again after anything else."""
    while True:
        try:
            answer = input(f"add which one? [1-{count}, empty: none] ").strip()
        except EOFError:
            return None
        if not answer:
            return None
        if answer.isdigit() and 1 <= int(answer) <= count:
            return int(answer)
        print(f"a number from 1 to {count}, or nothing", file=sys.stderr)


def _add(chosen: Candidate, config: Config | None, console: Console) -> int:
    if config is None:  # _config raised already when writing was asked for
        raise RsspageError("no config file to add to: create one with `rsspage init`")
    if chosen.followed:
        print(f"{chosen.key} is already in {config.path}: nothing changed", file=console.out)
        return EXIT_OK
    if chosen.kind == "route":
        after = append_entries(config.path, {"routes": [{"path": chosen.key}]})
        added = any(_route_key(r.path) == _route_key(chosen.key) for r in after.routes)
    else:
        after = append_entries(config.path, {"feeds": [{"url": chosen.key}]})
        added = any(f.url == chosen.key for f in after.feeds)
    if not added:  # append_entries checks the counts; this checks it is this entry
        raise RsspageError(f"{config.path}: {chosen.key} was written but does not read back")
    print(f"added {chosen.kind} {chosen.key} to {config.path}", file=console.out)
    if chosen.needs:
        console.error_line(f"warning: {chosen.key}: {chosen.needs}")
    print(f"fetch it with: rsspage update -c {config.path}", file=console.err)
    return EXIT_OK
