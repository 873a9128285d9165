"""`rsspage catalog list | search | update`: RSSHub's route catalog, live or from files.

Where the routes come from, in order: ``--catalog`` files and folders; else the config's
``rsshub.catalog`` (files, and ``instance``: the instances' live catalog, cached in the state
folder, the default); else, without a config file, the live catalog cached in ``./.rsspage``
(from ``--instance`` or rsshub.app). ``list`` and ``search`` read the cache and never fetch
unless there is no cache yet; ``update`` refreshes it.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from rsspage.catalog import DEFAULT_LANGUAGE, Catalog, load_catalog
from rsspage.cli.common import EXIT_FEEDS_FAILED, EXIT_OK, Commands, add_command
from rsspage.config import (
    DEFAULT_INSTANCE,
    DEFAULT_NAME,
    DEFAULT_STATE,
    Config,
    InstanceConfig,
    load_config,
)
from rsspage.console import Console
from rsspage.errors import ConfigError

if TYPE_CHECKING:
    from rsspage.catalog.live import LiveCatalog

# The live catalog is fetched (httpx) by the functions that need it, which import it: the
# other commands (this module is loaded for every command) start without the fetching stage.

#: Where the live catalog is cached when there is no config file (the default state folder).
NO_CONFIG_STATE = Path(DEFAULT_STATE)

_CATALOG_HELP = "catalog file or folder (instead of the config's; repeatable)"
_INSTANCE_HELP = "RSSHub instance whose catalog to use (instead of the config's instances)"


def register(sub: Commands) -> None:
    catalog = add_command(sub, "catalog", "list, search or update the RSSHub route catalog",
                          cmd_catalog)
    add_catalog_arguments(catalog)
    csub = catalog.add_subparsers(dest="catalog_command", required=True, metavar="ACTION")
    clist = csub.add_parser("list", help="list routes")
    clist.add_argument("--category", help="only this category (label or key)")
    csearch = csub.add_parser("search", help="find routes by name, category or path")
    csearch.add_argument("text", nargs="+")
    cupdate = csub.add_parser("update", help="download the instances' catalog into the cache")
    for action in (clist, csearch, cupdate):  # the options also work after the action
        catalog_options(action)


def add_catalog_arguments(parser: argparse.ArgumentParser) -> None:
    """``--catalog PATH`` (repeatable) and ``--instance URL``, for any command that reads the
    catalog (``catalog``, ``add``)."""
    parser.add_argument("--catalog", dest="catalog_paths", type=Path, action="append",
                        default=[], metavar="PATH", help=_CATALOG_HELP)
    parser.add_argument("--instance", type=instance_url, metavar="URL", help=_INSTANCE_HELP)


def catalog_options(parser: argparse.ArgumentParser) -> None:
    """``-c``, ``--catalog`` and ``--instance`` once more, for after the action. SUPPRESS keeps
    what was given before the action; ``--catalog`` paths given after it are added to those."""
    parser.add_argument("-c", "--config", type=Path, default=argparse.SUPPRESS, metavar="FILE",
                        help=f"config file (default: ./{DEFAULT_NAME})")
    parser.add_argument("--catalog", dest="catalog_paths_after", type=Path, action="append",
                        default=argparse.SUPPRESS, metavar="PATH", help=_CATALOG_HELP)
    parser.add_argument("--instance", type=instance_url, default=argparse.SUPPRESS,
                        metavar="URL", help=_INSTANCE_HELP)


def instance_url(text: str) -> str:
    """An ``--instance`` value: an http(s) URL, without a trailing slash."""
    if not text.startswith(("http://", "https://")) or len(text) < 10:
        raise argparse.ArgumentTypeError(f"expected an http(s) URL, got {text!r}")
    return text.rstrip("/")


def catalog_paths(args: argparse.Namespace) -> list[Path]:
    return [*args.catalog_paths, *getattr(args, "catalog_paths_after", [])]


def catalog_for(args: argparse.Namespace, console: Console, config: Config | None,
                *, required: bool = True) -> Catalog:
    """The catalog the options and the config name (see the module's docstring); ``config``:
    the config file's, None when there is none. Not ``required``: an empty catalog when the
    config turns it off (``rsshub.catalog: []``), instead of an error."""
    paths = catalog_paths(args)
    if paths:
        return load_catalog(paths, config.site.language if config else DEFAULT_LANGUAGE)
    from rsspage.catalog.live import load_live  # the fetching stage, for the live catalog
    from rsspage.fetch import FetchOptions
    from rsspage.pipeline import config_catalog

    instance: str | None = getattr(args, "instance", None)
    if config is None:
        live = load_live(NO_CONFIG_STATE, _instances(instance, None), FetchOptions(),
                         DEFAULT_LANGUAGE)
        _note(live, console)
        return Catalog(live.routes)
    if instance:
        config = replace(config, instances=_instances(instance, config), catalog_instance=True)
    if not config.catalog_instance and not config.catalog:
        if not required:
            return Catalog([])
        raise ConfigError(str(config.path), None, "rsshub.catalog",
                          "no catalog configured (add rsshub.catalog or pass --catalog)")
    return config_catalog(config, whole=True, on_note=console.error_line)[0]


def cmd_catalog(args: argparse.Namespace, console: Console) -> int:
    if args.catalog_command == "update":
        return _update(args, console)
    config = optional_config(args.config, console, required=not catalog_paths(args))
    catalog = catalog_for(args, console, config)
    if args.catalog_command == "list":
        routes = catalog.list(args.category)
    else:
        routes = catalog.search(" ".join(args.text))
    console.routes(routes)
    return EXIT_OK


def _update(args: argparse.Namespace, console: Console) -> int:
    from rsspage.catalog.live import CACHE_NAME, load_live
    from rsspage.fetch import FetchOptions
    from rsspage.pipeline import fetch_options

    config = optional_config(args.config, console, required=True)
    state = config.output.state if config else NO_CONFIG_STATE
    options = fetch_options(config) if config else FetchOptions()
    language = config.site.language if config else DEFAULT_LANGUAGE
    live = load_live(state, _instances(getattr(args, "instance", None), config), options,
                     language, refresh=True)
    if live.state in ("fetched", "unchanged"):
        verb = "downloaded" if live.state == "fetched" else "unchanged"
        console.start(f"catalog {verb}: {live.meta.routes} routes from {live.meta.instance} "
                      f"(cached in {state / CACHE_NAME})")
        return EXIT_OK
    _note(live, console)
    return EXIT_FEEDS_FAILED


def _instances(instance: str | None, config: Config | None) -> tuple[InstanceConfig, ...]:
    if instance:
        return (InstanceConfig(instance),)
    return config.instances if config else (DEFAULT_INSTANCE,)


def optional_config(path: Path, console: Console, *, required: bool) -> Config | None:
    """The config; None when there is no file at the default place. A file that exists but
    cannot be read is an error when ``required``, else a warning (then None)."""
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
