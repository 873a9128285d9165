"""`rsspage.yml` → a typed, validated :class:`Config`.

Three steps, so that every error names the file, the line and the key
(``rsspage.yml:12: fetch.timeout: expected a number, got 'soon'``) and one run names every
problem of the file (an unknown key with the known key it is closest to):

1. the YAML is composed into nodes and read into plain values with the line of each
   (:class:`rsspage.config_nodes.Plain`); a route or feed URL holding `` - /…`` or `` - http…``
   is the next list item, indented deeper and so read by YAML as part of this one: a layout
   error only the nodes show;
2. pydantic checks the values against :mod:`rsspage.config_model` (which is also the JSON
   Schema), and its errors are put back in the file's words (:mod:`rsspage.config_errors`);
3. the models become the immutable records of :mod:`rsspage.config_types`, with relative paths
   resolved against the folder of the config file and the global defaults of per-feed settings
   applied later, by the plan.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pydantic
import yaml

from rsspage import config_model as m
from rsspage.config_errors import problems_of
from rsspage.config_model import LIVE_CATALOG, MIN_EVERY, RSSHUB_PARAMS, SITE_HOSTS
from rsspage.config_nodes import Loc, Plain, Reader, key_of
from rsspage.config_types import (
    DEFAULT_MAX_ARTICLES,
    HOST_MAX_ARTICLES,
    Config,
    FeedConfig,
    FeedSettings,
    FetchConfig,
    InstanceConfig,
    LimitsConfig,
    OutputConfig,
    RouteConfig,
    ScheduleConfig,
    SiteConfig,
)
from rsspage.errors import ConfigError
from rsspage.filters import Pattern, Rules, compile_pattern

__all__ = [
    "DEFAULT_INSTANCE", "DEFAULT_MAX_ARTICLES", "DEFAULT_NAME", "DEFAULT_STATE",
    "HOST_MAX_ARTICLES", "LIVE_CATALOG", "MIN_EVERY", "PRECOMPRESS", "RSSHUB_PARAMS",
    "SITE_HOSTS", "Config", "FeedConfig", "FeedSettings", "FetchConfig", "InstanceConfig",
    "LimitsConfig", "OutputConfig", "RouteConfig", "ScheduleConfig", "SiteConfig",
    "load_config", "parse_config",
]

DEFAULT_NAME = "rsspage.yml"
#: The instance of a config that names none (and of ``catalog`` commands without a config).
DEFAULT_INSTANCE = InstanceConfig("https://rsshub.app")
#: ``output.state``'s default, relative to the config's folder.
DEFAULT_STATE = ".rsspage"
#: ``site.precompress`` → the encodings written.
PRECOMPRESS: dict[str, tuple[str, ...]] = {
    "false": (), "gzip": ("gzip",), "brotli": ("br",), "both": ("gzip", "br"),
}


def load_config(path: Path) -> Config:
    """Read and validate a config file; every problem is a ConfigError naming file:line:key."""
    path = path.absolute()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise ConfigError(str(path), None, "", "config file not found") from e
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(str(path), None, "", f"cannot read config: {e}") from e
    return parse_config(text, path)


def parse_config(text: str, path: Path, environ: Mapping[str, str] | None = None) -> Config:
    """Read a config from its text; every problem of the file is in the ConfigError raised.
    ``environ``: where ``key_env`` and ``{env: NAME}`` are looked up (os.environ)."""
    environ = os.environ if environ is None else environ
    r = Reader(str(path))
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        line = e.problem_mark.line + 1 if e.problem_mark else None
        raise ConfigError(str(path), line, "", f"invalid YAML: {e.problem}") from e
    except yaml.YAMLError as e:
        raise ConfigError(str(path), None, "", f"invalid YAML: {e}") from e
    if root is None:
        raise ConfigError(str(path), 1, "", "the config is empty: add routes or feeds")
    plain = Plain(r, root)
    _check_swallowed_items(r, plain)
    model = None
    try:
        model = m.ConfigModel.model_validate(
            plain.value, context={m.FOLDER: path.parent, m.ENVIRON: environ})
    except pydantic.ValidationError as e:
        for problem in problems_of(e, plain, str(path)):
            r.note(problem)
    if model is not None and model.routes and model.rsshub and not model.rsshub.instances:
        line = plain.lines.get(("rsshub", "instances"))
        r.note(ConfigError(str(path), line, "rsshub.instances", "routes need at least one "
                           "instance"))
    if model is not None and not model.routes and not model.feeds and not r.problems:
        r.note(ConfigError(str(path), 1, "routes", "nothing to follow: add routes or feeds"))
    r.check()
    assert model is not None  # r.check() raised otherwise
    return _config(model, path, plain, environ)


# --------------------------------------------------------------------------- layout


#: `` - `` then a route or a URL inside one value: the next list item, indented deeper, was
#: read by YAML as the rest of this one (a plain scalar goes on over more-indented lines).
_SWALLOWED_ITEM = re.compile(r"\s-\s+(?:/|https?://)")


def _check_swallowed_items(r: Reader, plain: Plain) -> None:
    top = plain.value if isinstance(plain.value, dict) else {}
    for section, field in (("routes", "path"), ("feeds", "url")):
        items = top.get(section)
        for i, item in enumerate(items if isinstance(items, list) else ()):
            at: Loc = (section, i)
            value = item.get(field) if isinstance(item, dict) else item
            where = at if isinstance(item, str) else (*at, field)
            if isinstance(value, str) and _SWALLOWED_ITEM.search(value):
                # A route is named by its entry, a feed's URL by its key (as before pydantic).
                named = at if section == "routes" else where
                _note_swallowed(r, plain, value, named, where)


def _note_swallowed(r: Reader, plain: Plain, value: str, named: Loc, where: Loc) -> None:
    first, last = plain.spans.get(where, (plain.lines[where],) * 2)
    lines = f"lines {first}-{last}" if last > first else f"line {first}"
    r.note(ConfigError(r.file, plain.lines[named], key_of(named),
                       f"{value!r} reads as one entry: a '- ' item indented deeper than the one "
                       f"above joins it ({lines}); give every '- ' of the list the same "
                       "indentation"))


# --------------------------------------------------------------------------- models → records


def _config(model: m.ConfigModel, path: Path, plain: Plain,
            environ: Mapping[str, str]) -> Config:
    folder = path.parent
    rsshub = model.rsshub or m.RsshubModel()
    catalog = rsshub.catalog
    raw = plain.value if isinstance(plain.value, dict) else {}
    return Config(
        path=path, site=_site(model.site), instances=_instances(rsshub, environ),
        catalog=tuple(folder / c for c in catalog or () if c != LIVE_CATALOG),
        routes=tuple(_route(route, plain.lines.get(("routes", i)), _raw_params(raw, i), environ)
                     for i, route in enumerate(model.routes)),
        feeds=tuple(_feed(feed, plain.lines.get(("feeds", i)), environ)
                    for i, feed in enumerate(model.feeds)),
        limits=LimitsConfig(**model.limits.model_dump()),
        fetch=_fetch(model.fetch, environ),
        output=_output(model.output, folder),
        schedule=ScheduleConfig(**model.schedule.model_dump()),
        catalog_instance=catalog is None or LIVE_CATALOG in catalog,
        filters=_rules(model.filters),
        store_url=model.store.resolve(environ) if model.store else None,
    )


def _site(site: m.SiteModel) -> SiteConfig:
    values: dict[str, Any] = site.model_dump()
    values["precompress"] = PRECOMPRESS[site.precompress]
    values["keep_days"] = site.keep_days or 0  # null: no limit, as 0
    if "max_articles" not in site.model_fields_set:
        values["max_articles"] = HOST_MAX_ARTICLES.get(site.host, DEFAULT_MAX_ARTICLES)
    else:
        values["max_articles"] = site.max_articles or 0
    return SiteConfig(**values)


def _instances(rsshub: m.RsshubModel, environ: Mapping[str, str]) -> tuple[InstanceConfig, ...]:
    return tuple(
        InstanceConfig(i.url.rstrip("/"),
                       i.key if i.key is not None else environ.get(i.key_env or "") or None,
                       i.sign)
        for i in rsshub.instances)


def _headers(headers: Mapping[str, m.Header],
             environ: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple((name, value.resolve(environ)) for name, value in headers.items())


def _settings(feed: m.FeedSettingsModel, environ: Mapping[str, str]) -> FeedSettings:
    return FeedSettings(
        enabled=feed.enabled, items_per_feed=feed.items_per_feed, every=feed.every,
        keep_days=feed.keep_days, user_agent=feed.user_agent,
        headers=_headers(feed.headers, environ), timezone=feed.timezone,
        full_text=feed.full_text, filters=_rules(feed.filters))


def _raw_params(raw: dict[str, Any], index: int) -> list[str]:
    """The names of a route's params in config order (a model keeps its own field order)."""
    routes = raw.get("routes")
    route = routes[index] if isinstance(routes, list) else None
    params = route.get("params") if isinstance(route, dict) else None
    return list(params) if isinstance(params, dict) else []


def _param_text(value: object) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _route(route: m.RouteModel, line: int | None, order: list[str],
           environ: Mapping[str, str]) -> RouteConfig:
    params = tuple((name, _param_text(getattr(route.params, name))) for name in order)
    return RouteConfig(path=route.path, category=route.category, source=route.source,
                       channel=route.channel, params=params, line=line,
                       settings=_settings(route, environ))


def _feed(feed: m.FeedModel, line: int | None, environ: Mapping[str, str]) -> FeedConfig:
    return FeedConfig(url=feed.url, category=feed.category, source=feed.source,
                      channel=feed.channel, line=line, settings=_settings(feed, environ))


def _fetch(fetch: m.FetchModel, environ: Mapping[str, str]) -> FetchConfig:
    values = fetch.model_dump(exclude={"headers"})
    return FetchConfig(**values, headers=_headers(fetch.headers, environ))


def _output(output: m.OutputModel, folder: Path) -> OutputConfig:
    def path(name: str, default: str | None) -> Path | None:
        value = getattr(output, name) if name in output.model_fields_set else default
        return folder / value if value else None

    state = path("state", DEFAULT_STATE) or folder / DEFAULT_STATE  # null: the default too
    return OutputConfig(state=state, hexo=path("hexo", None), site=path("site", "public"),
                        page_size=output.page_size, hexo_date=output.hexo_date)


def _rules(filters: m.GlobalFilters | None) -> Rules:
    if filters is None:
        return Rules()
    inherit = filters.inherit if isinstance(filters, m.FeedFilters) else True
    return Rules(block=_patterns(filters.block), keep=_patterns(filters.keep),
                 max_age=filters.max_age, future=filters.future, inherit=inherit)


def _patterns(lists: m.Patterns) -> tuple[Pattern, ...]:
    return tuple(compile_pattern(field, text) for field in type(lists).model_fields
                 for text in getattr(lists, field))
