"""`rsspage catalog list | search | update`: RSSHub's route catalog, live or from files.

Where the routes come from, in order: ``--catalog`` files and folders; else the config's
``rsshub.catalog`` (files, and ``instance``: the instances' live catalog, cached in the state
folder, the default); else, without a config file, the live catalog cached in ``./.rsspage``
(from ``--instance`` or rsshub.app). ``list`` and ``search`` read the cache and never fetch
unless there is no cache yet; ``update`` refreshes it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rsspage.catalog import DEFAULT_LANGUAGE, Catalog, load_catalog
from rsspage.catalog.live import API_PATH, CACHE_NAME, LiveCatalog, load_live
from rsspage.cli.common import EXIT_FEEDS_FAILED, EXIT_OK, Commands, add_command
from rsspage.config import DEFAULT_NAME, Config, InstanceConfig, load_config
from rsspage.console import Console
from rsspage.errors import ConfigError
from rsspage.fetch import FetchOptions
from rsspage.pipeline import config_catalog, fetch_options
from rsspage.plan import route_urls

_CATALOG_HELP = "catalog file or folder (instead of the config's; repeatable)"
_INSTANCE_HELP = "RSSHub instance whose catalog to use (instead of the config's instances)"
#: Where the live catalog is cached when there is no config file (the default state folder).
_NO_CONFIG_STATE = Path(".rsspage")
_PUBLIC_INSTANCE = "https://rsshub.app"


def register(sub: Commands) -> None:
    catalog = add_command(sub, "catalog", "list, search or update the RSSHub route catalog",
                          cmd_catalog)
    catalog.add_argument("--catalog", dest="catalog_paths", type=Path, action="append",
                         default=[], metavar="PATH", help=_CATALOG_HELP)
    catalog.add_argument("--instance", metavar="URL", help=_INSTANCE_HELP)
    csub = catalog.add_subparsers(dest="catalog_command", required=True, metavar="ACTION")
    clist = csub.add_parser("list", help="list routes")
    clist.add_argument("--category", help="only this category (label or key)")
    csearch = csub.add_parser("search", help="find routes by name, category or path")
    csearch.add_argument("text", nargs="+")
    cupdate = csub.add_parser("update", help="download the instances' catalog into the cache")
    for action in (clist, csearch, cupdate):  # the options also work after the action
        catalog_options(action)


def catalog_options(parser: argparse.ArgumentParser) -> None:
    """``-c``, ``--catalog`` and ``--instance`` once more, for after the action. SUPPRESS keeps
    what was given before the action; ``--catalog`` paths given after it are added to those."""
    parser.add_argument("-c", "--config", type=Path, default=argparse.SUPPRESS, metavar="FILE",
                        help=f"config file (default: ./{DEFAULT_NAME})")
    parser.add_argument("--catalog", dest="catalog_paths_after", type=Path, action="append",
                        default=argparse.SUPPRESS, metavar="PATH", help=_CATALOG_HELP)
    parser.add_argument("--instance", default=argparse.SUPPRESS, metavar="URL",
                        help=_INSTANCE_HELP)


def catalog_for(args: argparse.Namespace, console: Console) -> Catalog:
    """The catalog the options and the config name (see the module's docstring).

    A config file is needed only when it is what names the catalog; a config that cannot be
    read is otherwise a warning (it only gives the names' language).
    """
    paths: list[Path] = [*args.catalog_paths, *getattr(args, "catalog_paths_after", [])]
    config = _config(args, console, required=not paths)
    language = config.site.language if config else DEFAULT_LANGUAGE
    if paths:
        return load_catalog(paths, language)
    if config is None or getattr(args, "instance", None):
        live = _live(args, config, refresh=None)
        _note(live, console)
        return Catalog(live.routes)
    if not config.catalog_instance and not config.catalog:
        raise ConfigError(str(config.path), None, "rsshub.catalog",
                          "no catalog configured (add rsshub.catalog or pass --catalog)")
    # Read the cache (fetched only when there is none), whether or not routes are followed.
    return config_catalog(config, refresh=None, on_note=console.error_line)


def cmd_catalog(args: argparse.Namespace, console: Console) -> int:
    if args.catalog_command == "update":
        return _update(args, console)
    catalog = catalog_for(args, console)
    if args.catalog_command == "list":
        routes = catalog.list(args.category)
    else:
        routes = catalog.search(" ".join(args.text))
    console.routes(routes)
    return EXIT_OK


def _update(args: argparse.Namespace, console: Console) -> int:
    config = _config(args, console, required=False)
    live = _live(args, config, refresh=True)
    where = _state(config) / CACHE_NAME
    if live.state in ("fetched", "unchanged"):
        verb = "downloaded" if live.state == "fetched" else "unchanged"
        console.start(f"catalog {verb}: {live.meta.routes} routes from {live.meta.instance} "
                      f"(cached in {where})")
        return EXIT_OK
    _note(live, console)
    return EXIT_FEEDS_FAILED


def _live(args: argparse.Namespace, config: Config | None, *, refresh: bool | None
          ) -> LiveCatalog:
    instance = getattr(args, "instance", None)
    if instance:
        instances: tuple[InstanceConfig, ...] = (InstanceConfig(instance.rstrip("/")),)
    else:
        instances = config.instances if config else (InstanceConfig(_PUBLIC_INSTANCE),)
    options = fetch_options(config) if config else FetchOptions()
    language = config.site.language if config else DEFAULT_LANGUAGE
    return load_live(_state(config), route_urls(instances, API_PATH), options, language,
                     refresh=refresh)


def _state(config: Config | None) -> Path:
    return config.output.state if config else _NO_CONFIG_STATE


def _config(args: argparse.Namespace, console: Console, *, required: bool) -> Config | None:
    """The config; None when there is none at the default place (or, when not ``required``,
    when it cannot be read: a warning then)."""
    path: Path = args.config
    if not path.exists() and path == Path(DEFAULT_NAME):
        return None
    try:
        return load_config(path)
    except ConfigError as e:
        if required:
            raise
        console.error_line(f"warning: {e} (names in the default language, {DEFAULT_LANGUAGE})")
        return None


def _note(live: LiveCatalog, console: Console) -> None:
    note = live.note()
    if note:
        console.error_line(note)
