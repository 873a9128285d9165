"""`rsspage.yml` → a typed, validated :class:`Config`.

The YAML is composed into nodes (not loaded into plain dicts) so that every error can name the
file, the line and the key: ``rsspage.yml:12: fetch.timeout: expected a number, got 'soon'``.
The whole file is read before anything is raised, so one run names every problem in it (an
unknown key with the known key it is closest to). A route or feed URL holding `` - /…`` or
`` - http…`` is the next list item, indented deeper and so read by YAML as part of this one.
Relative paths are resolved against the folder of the config file. The node reader and the
duration syntax live in :mod:`rsspage.config_nodes`.
"""

from __future__ import annotations

import os
import re
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from rsspage.config_filters import read_filters
from rsspage.config_nodes import Reader, is_null, kind_of
from rsspage.errors import ConfigError
from rsspage.filters import Rules
from rsspage.types import MAX_NAME_BYTES

DEFAULT_NAME = "rsspage.yml"


#: ``site.max_articles`` by default: the site stays within its host's limits however long it
#: runs (README, "Fitting the host": ~67,000 articles make 1 GiB as GitHub Pages counts it; two
#: files an article, so ~9,000 fit Cloudflare's 20,000 files).
DEFAULT_MAX_ARTICLES = 50_000
HOST_MAX_ARTICLES = {"cloudflare-pages": 9_000}


@dataclass(frozen=True, slots=True)
class SiteConfig:
    title: str = "rsspage"
    #: Public URL of the site (used in feeds, sitemap); "" when unknown.
    url: str = ""
    language: str = "zh-CN"
    #: IANA zone in which dates are shown.
    timezone: str = "Asia/Shanghai"
    #: Where the site is published (one of :data:`SITE_HOSTS`): a build warns near its limits.
    host: str = "none"
    #: Compressed copies written beside each text file ("gzip", "br"); empty: none.
    precompress: tuple[str, ...] = ()
    #: How much of the archive gets pages: the newest this many articles (0: all) …
    max_articles: int = DEFAULT_MAX_ARTICLES
    #: … of the last this many days (0: whatever their age). Older articles stay in the
    #: archive (``rsspage search`` finds them) and come back by raising the limit.
    keep_days: int = 0


@dataclass(frozen=True, slots=True)
class InstanceConfig:
    """One RSSHub instance of ``rsshub.instances``."""

    #: Base URL, without a trailing slash.
    url: str
    #: The instance's access key (``ACCESS_KEY``), from the config or ``key_env``; a secret:
    #: never printed (not in the repr) and never in a URL rsspage stores or shows.
    key: str | None = field(default=None, repr=False)
    #: How a route is signed: ``code`` (``code=md5(path + key)``, RSSHub's recommended form,
    #: which reveals no key) or ``key`` (``key=<key>`` in the URL).
    sign: str = "code"


@dataclass(frozen=True, slots=True)
class RouteConfig:
    """One entry of ``routes:``; names left ``None`` come from the catalog."""

    path: str
    category: str | None = None
    source: str | None = None
    channel: str | None = None
    items_per_feed: int | None = None
    #: How often to fetch this feed; None: ``schedule.every``.
    every: timedelta | None = None
    #: RSSHub's own query parameters (``filter``, ``limit``, ``mode`` …), in config order,
    #: added to the route's URL; not part of the feed's key, so changing them keeps its archive.
    params: tuple[tuple[str, str], ...] = ()
    #: Line in the config, for messages.
    line: int | None = None
    #: The route's own filter rules (``filters:``), before the global ones.
    filters: Rules = field(default_factory=Rules)


@dataclass(frozen=True, slots=True)
class FeedConfig:
    """One entry of ``feeds:`` (any feed URL)."""

    url: str
    category: str | None = None
    source: str | None = None
    channel: str | None = None
    items_per_feed: int | None = None
    every: timedelta | None = None
    line: int | None = None
    #: The feed's own filter rules (``filters:``), before the global ones.
    filters: Rules = field(default_factory=Rules)


@dataclass(frozen=True, slots=True)
class LimitsConfig:
    items_per_feed: int = 20
    #: Articles older than this many days are pruned; 0 keeps everything.
    keep_days: int = 0


@dataclass(frozen=True, slots=True)
class FetchConfig:
    concurrency: int = 16
    per_host: int = 4
    timeout: float = 20.0
    retries: int = 2
    max_bytes: int = 20 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ScheduleConfig:
    """When feeds are due (see schedule.py for how these combine)."""

    #: Default interval of a feed without its own ``every``.
    every: timedelta = timedelta(hours=1)
    #: Each feed waits up to this fraction of its interval longer (fixed per feed), so feeds
    #: added together do not all fire together.
    jitter: float = 0.1
    #: No feed is fetched more often than this, whatever its ``every`` says.
    min_interval: timedelta = timedelta(minutes=1)
    #: The longest a server (max-age, Expires, <ttl>, Retry-After) may stretch an interval.
    max_interval: timedelta = timedelta(days=1)
    #: Ceiling of the exponential back-off of a failing feed.
    max_backoff: timedelta = timedelta(days=1)
    #: Gone feeds (410), and feeds failing for at least this long, are retried this rarely.
    retry_gone: timedelta = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class OutputConfig:
    state: Path
    hexo: Path | None
    site: Path | None
    #: Listing page size of the built-in site.
    page_size: int = 40
    #: How Hexo posts write their ``date`` (publish/hexo.py, "Dates"): ``auto`` (the wall-clock
    #: time in the Hexo site's ``timezone``), an IANA zone, or ``gmt`` (the seed's RFC 1123 text).
    hexo_date: str = "auto"


@dataclass(frozen=True, slots=True)
class Config:
    path: Path
    site: SiteConfig
    instances: tuple[InstanceConfig, ...]
    #: Catalog files and folders (routes.json, docs .md), read after the live catalog.
    catalog: tuple[Path, ...]
    routes: tuple[RouteConfig, ...]
    feeds: tuple[FeedConfig, ...]
    limits: LimitsConfig
    fetch: FetchConfig
    output: OutputConfig
    extra: dict[str, Any] = field(default_factory=dict)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    #: Use the instances' live catalog (``rsshub.catalog: instance``, the default when no
    #: catalog is given), cached in the state folder.
    catalog_instance: bool = False
    #: The global filter rules (``filters:``); each feed's own come first (filters.py).
    filters: Rules = field(default_factory=Rules)

    @property
    def folder(self) -> Path:
        return self.path.parent


# --------------------------------------------------------------------------- sections


#: ``site.host``: hosts whose limits rsspage knows (publish/hosts.py), and none.
SITE_HOSTS = ("github-pages", "cloudflare-pages", "netlify", "none")
#: ``site.precompress`` → the encodings written.
PRECOMPRESS: dict[str, tuple[str, ...]] = {
    "false": (), "gzip": ("gzip",), "brotli": ("br",), "both": ("gzip", "br"),
}
_SITE_TEXT = {"title", "url", "language", "timezone"}
_SITE_LIMITS = {"max_articles", "keep_days"}


def _site(r: Reader, node: yaml.Node | None) -> SiteConfig:
    if node is None:
        return SiteConfig()
    items = r.mapping(node, "site", _SITE_TEXT | {"host", "precompress", *_SITE_LIMITS})
    values: dict[str, Any] = r.values({k: v for k, v in items.items() if k in _SITE_TEXT},
                                      lambda k, v: r.text(v, f"site.{k}"))
    if "host" in items:
        # null: none, as when the key is left out.
        host = r.text(items["host"], "site.host", allow_null=True) or "none"
        if host not in SITE_HOSTS:
            raise r.fail(items["host"], "site.host",
                         f"expected one of {', '.join(SITE_HOSTS)}, got {host!r}")
        values["host"] = host
    if "precompress" in items:
        values["precompress"] = _precompress(r, items["precompress"])
    for key in _SITE_LIMITS & items.keys():  # null: no limit, as 0
        node = items[key]
        values[key] = 0 if is_null(node) else r.number(node, f"site.{key}", int, 0)
    if "max_articles" not in values:
        values["max_articles"] = HOST_MAX_ARTICLES.get(values.get("host", ""),
                                                       DEFAULT_MAX_ARTICLES)
    site = SiteConfig(**values)
    try:
        zoneinfo.ZoneInfo(site.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as e:
        problem = f"unknown time zone {site.timezone!r}"
        raise r.fail(items.get("timezone", node), "site.timezone", problem) from e
    return site


def _precompress(r: Reader, node: yaml.Node) -> tuple[str, ...]:
    """``false`` (or no, off), ``gzip``, ``brotli`` or ``both``; ``true`` does not say which."""
    expected = "expected false, gzip, brotli or both"
    if isinstance(node, yaml.ScalarNode) and node.tag.endswith(":bool"):
        if yaml.safe_load(node.value) is False:
            return ()
        raise r.fail(node, "site.precompress", f"{expected} (true does not say which)")
    value = r.text(node, "site.precompress", allow_null=True) or "false"
    if value not in PRECOMPRESS:
        raise r.fail(node, "site.precompress", f"{expected}, got {value!r}")
    return PRECOMPRESS[value]


def _url(r: Reader, node: yaml.Node, key: str) -> str:
    value = r.text(node, key) or ""
    if not value.startswith(("http://", "https://")):
        raise r.fail(node, key, f"expected an http(s) URL, got {value!r}")
    return value


#: The instance of a config that names none (and of ``catalog`` commands without a config).
DEFAULT_INSTANCE = InstanceConfig("https://rsshub.app")
#: ``output.state``'s default, relative to the config's folder.
DEFAULT_STATE = ".rsspage"


def _instance(r: Reader, node: yaml.Node, index: int) -> InstanceConfig:
    """A URL, or ``{url, key | key_env, sign}``; a key never appears in a message."""
    where = f"rsshub.instances[{index}]"
    if isinstance(node, yaml.ScalarNode):
        return InstanceConfig(_url(r, node, where).rstrip("/"))
    items = r.mapping(node, where, {"url", "key", "key_env", "sign"}, required=("url",))
    if "key" in items and "key_env" in items:
        raise r.fail(items["key_env"], f"{where}.key_env", "give key or key_env, not both")
    key = None
    if "key" in items:
        key = r.text(items["key"], f"{where}.key")
    elif "key_env" in items:
        name = r.text(items["key_env"], f"{where}.key_env") or ""
        key = os.environ.get(name) or None
        if key is None:
            raise r.fail(items["key_env"], f"{where}.key_env",
                         f"the environment variable {name} is not set (or empty)")
    sign = r.text(items["sign"], f"{where}.sign") if "sign" in items else "code"
    if sign not in ("code", "key"):
        raise r.fail(items["sign"], f"{where}.sign", f"expected code or key, got {sign!r}")
    return InstanceConfig(_url(r, items["url"], f"{where}.url").rstrip("/"), key, sign or "code")


#: The word in ``rsshub.catalog`` for the instances' live catalog (``/api/namespace``).
LIVE_CATALOG = "instance"


RsshubSection = tuple[tuple[InstanceConfig, ...], tuple[Path, ...], bool]
#: No ``rsshub:``: the default instance and its live catalog.
_DEFAULT_RSSHUB: RsshubSection = ((DEFAULT_INSTANCE,), (), True)


def _rsshub(r: Reader, node: yaml.Node | None, folder: Path) -> RsshubSection:
    if node is None:
        return _DEFAULT_RSSHUB
    items = r.mapping(node, "rsshub", {"instances", "catalog"})
    instances: tuple[InstanceConfig, ...] = (DEFAULT_INSTANCE,)
    if "instances" in items:
        nodes = r.sequence(items["instances"], "rsshub.instances")
        instances = tuple(r.each(nodes, lambda n, i: _instance(r, n, i)))
    if "catalog" not in items:
        return instances, (), True
    node = items["catalog"]
    nodes = [node] if isinstance(node, yaml.ScalarNode) and not is_null(node) \
        else r.sequence(node, "rsshub.catalog")
    catalog: list[Path] = []
    live = False
    for n in nodes:
        value = r.text(n, "rsshub.catalog") or ""
        if value == LIVE_CATALOG:
            live = True
            continue
        path = folder / value
        if not path.exists():
            raise r.fail(n, "rsshub.catalog", f"no such file or folder: {path} (or "
                         f"'{LIVE_CATALOG}' for the instances' own catalog)")
        catalog.append(path)
    return instances, tuple(catalog), live


_NAME_KEYS = {"category", "source", "channel", "items_per_feed", "every", "filters"}
#: The shortest ``every``: a feed due again at once would keep `watch` spinning.
MIN_EVERY = timedelta(seconds=1)


def _names(r: Reader, items: dict[str, yaml.Node], key: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ("category", "source", "channel"):
        if name in items:
            value = r.text(items[name], f"{key}.{name}") or ""
            if len(value.encode("utf-8")) > MAX_NAME_BYTES:
                # Hexo makes a folder of each name; file systems stop at 255 bytes.
                raise r.fail(items[name], f"{key}.{name}",
                             f"longer than {MAX_NAME_BYTES} bytes of UTF-8")
            out[name] = value
    if "items_per_feed" in items:
        out["items_per_feed"] = r.number(items["items_per_feed"], f"{key}.items_per_feed", int, 1)
    if "every" in items:
        out["every"] = r.duration(items["every"], f"{key}.every", MIN_EVERY)
    if "filters" in items:
        out["filters"] = read_filters(r, items["filters"], f"{key}.filters", feed=True)
    return out


#: RSSHub's common parameters (docs: "Parameters"), each with what its value must be.
_TEXT, _WHOLE, _SWITCH = "text", "whole", "switch"
RSSHUB_PARAMS: dict[str, str | tuple[str, ...]] = {
    **{name: _TEXT for name in (
        "filter", "filter_title", "filter_description", "filter_author", "filter_category",
        "filterout", "filterout_title", "filterout_description", "filterout_author",
        "filterout_category", "tgiv", "image_hotlink_template", "multimedia_hotlink_template")},
    "filter_time": _WHOLE, "limit": _WHOLE, "brief": _WHOLE,
    "filter_case_sensitive": _SWITCH, "sorted": _SWITCH, "scihub": _SWITCH,
    "wrap_multimedia_in_iframe": _SWITCH,
    "mode": ("fulltext",),
    "format": ("rss", "atom", "json"),  # what rsspage reads (not rss3, ums)
    "opencc": ("s2t", "t2s"),
}


def _params(r: Reader, node: yaml.Node, key: str) -> tuple[tuple[str, str], ...]:
    """``params:`` of a route: RSSHub's query parameters, checked as RSSHub reads them."""
    items = r.mapping(node, key, set(RSSHUB_PARAMS))
    out = []
    for name, value_node in items.items():
        where, kind = f"{key}.{name}", RSSHUB_PARAMS[name]
        if kind == _WHOLE:
            value = str(r.number(value_node, where, int, 1))
        elif kind == _SWITCH:
            if not (isinstance(value_node, yaml.ScalarNode) and value_node.tag.endswith(":bool")):
                got = kind_of(value_node)
                raise r.fail(value_node, where, f"expected true or false, got {got}")
            value = "true" if yaml.safe_load(value_node.value) else "false"
        else:
            value = r.text(value_node, where) or ""
            if isinstance(kind, tuple) and value not in kind:
                raise r.fail(value_node, where, f"expected one of {', '.join(kind)}, got {value!r}")
        out.append((name, value))
    return tuple(out)


def _route(r: Reader, node: yaml.Node, index: int) -> RouteConfig:
    key = f"routes[{index}]"
    line = node.start_mark.line + 1
    if isinstance(node, yaml.ScalarNode):
        path = r.text(node, key) or ""
        extra: dict[str, Any] = {}
    else:
        items = r.mapping(node, key, {"path", "params"} | _NAME_KEYS, required=("path",))
        path = r.text(items["path"], f"{key}.path") or ""
        extra = _names(r, items, key)
        if "params" in items:
            extra["params"] = _params(r, items["params"], f"{key}.params")
    if not path.startswith("/") or path.startswith("//"):
        raise r.fail(node, key, f"a route is a path starting with '/', got {path!r}")
    _not_two_items(r, node, key, path)
    return RouteConfig(path=path, line=line, **extra)


#: `` - `` then a route or a URL inside one value: the next list item, indented deeper, was
#: read by YAML as the rest of this one (a plain scalar goes on over more-indented lines).
_SWALLOWED_ITEM = re.compile(r"\s-\s+(?:/|https?://)")


def _not_two_items(r: Reader, node: yaml.Node, key: str, value: str) -> None:
    if _SWALLOWED_ITEM.search(value) is None:
        return
    first, last = node.start_mark.line + 1, node.end_mark.line + 1
    lines = f"lines {first}-{last}" if last > first else f"line {first}"
    raise r.fail(node, key, f"{value!r} reads as one entry: a '- ' item indented deeper than the "
                 f"one above joins it ({lines}); give every '- ' of the list the same indentation")


def _feed(r: Reader, node: yaml.Node, index: int) -> FeedConfig:
    key = f"feeds[{index}]"
    line = node.start_mark.line + 1
    if isinstance(node, yaml.ScalarNode):
        url = _url(r, node, key)
        _not_two_items(r, node, key, url)
        return FeedConfig(url=url, line=line)
    items = r.mapping(node, key, {"url"} | _NAME_KEYS, required=("url",))
    url = _url(r, items["url"], f"{key}.url")
    _not_two_items(r, items["url"], f"{key}.url", url)
    return FeedConfig(url=url, line=line, **_names(r, items, key))


def _limits(r: Reader, node: yaml.Node | None) -> LimitsConfig:
    if node is None:
        return LimitsConfig()
    items = r.mapping(node, "limits", {"items_per_feed", "keep_days"})
    values = r.values(items, lambda k, v: r.number(v, f"limits.{k}", int,
                                                    1 if k == "items_per_feed" else 0))
    return LimitsConfig(**values)


def _fetch(r: Reader, node: yaml.Node | None) -> FetchConfig:
    if node is None:
        return FetchConfig()
    kinds: dict[str, tuple[Callable[[str], Any], float]] = {
        "concurrency": (int, 1), "per_host": (int, 1), "timeout": (float, 0.1),
        "retries": (int, 0), "max_bytes": (int, 1024),
    }
    items = r.mapping(node, "fetch", set(kinds))
    values = r.values(items, lambda k, v: r.number(v, f"fetch.{k}", *kinds[k]))
    return FetchConfig(**values)


def _schedule(r: Reader, node: yaml.Node | None) -> ScheduleConfig:
    if node is None:
        return ScheduleConfig()
    durations = {"every", "min_interval", "max_interval", "max_backoff", "retry_gone"}
    items = r.mapping(node, "schedule", durations | {"jitter"})
    values: dict[str, Any] = r.values(
        {k: v for k, v in items.items() if k in durations},
        lambda k, v: r.duration(v, f"schedule.{k}", MIN_EVERY if k == "every" else timedelta(0)))
    if "jitter" in items:
        values["jitter"] = r.number(items["jitter"], "schedule.jitter", float, 0)
        if values["jitter"] > 1:
            raise r.fail(items["jitter"], "schedule.jitter", "must be at most 1 (a fraction)")
    schedule = ScheduleConfig(**values)
    if schedule.max_interval < schedule.min_interval:
        raise r.fail(items.get("max_interval", node), "schedule.max_interval",
                     "must be at least schedule.min_interval")
    return schedule


_OUTPUT_KEYS = {"state", "hexo", "site", "page_size", "hexo_date"}
#: ``output.hexo_date`` words; anything else must be an IANA zone.
HEXO_DATE_WORDS = ("auto", "gmt")


def _output(r: Reader, node: yaml.Node | None, folder: Path) -> OutputConfig:
    items = r.mapping(node, "output", _OUTPUT_KEYS) if node else {}

    def path(name: str, default: str | None) -> Path | None:
        if name not in items:
            return folder / default if default else None
        value = r.text(items[name], f"output.{name}", allow_null=True)
        return folder / value if value else None

    page_size = 40
    if "page_size" in items:
        page_size = r.number(items["page_size"], "output.page_size", int, 1)
    state = path("state", DEFAULT_STATE)
    assert state is not None  # the default is never null
    hexo_date = _hexo_date(r, items["hexo_date"]) if "hexo_date" in items else "auto"
    return OutputConfig(state=state, hexo=path("hexo", None), site=path("site", "public"),
                        page_size=page_size, hexo_date=hexo_date)


def _hexo_date(r: Reader, node: yaml.Node) -> str:
    value = r.text(node, "output.hexo_date") or ""
    if value in HEXO_DATE_WORDS:
        return value
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as e:
        problem = f"expected auto, gmt or a time zone such as Asia/Shanghai, got {value!r}"
        raise r.fail(node, "output.hexo_date", problem) from e
    return value


_TOP = {"site", "rsshub", "routes", "feeds", "limits", "fetch", "output", "schedule", "filters"}


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


def parse_config(text: str, path: Path) -> Config:
    """Read a config from its text; every problem of the file is in the ConfigError raised."""
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
    top = r.mapping(root, "", _TOP)
    folder = path.parent
    # Each section is read even when another failed, so that one run names every problem.
    instances, catalog, live = r.attempt(lambda: _rsshub(r, top.get("rsshub"), folder),
                                         _DEFAULT_RSSHUB)
    routes = tuple(r.each(r.attempt(lambda: _list(r, top, "routes"), []),
                          lambda n, i: _route(r, n, i)))
    feeds = tuple(r.each(r.attempt(lambda: _list(r, top, "feeds"), []),
                         lambda n, i: _feed(r, n, i)))
    if routes and not instances:
        r.note(r.fail(top.get("rsshub"), "rsshub.instances", "routes need at least one instance"))
    if not routes and not feeds and not r.problems:  # not when they are there but broken
        r.note(r.fail(root, "routes", "nothing to follow: add routes or feeds"))
    config = Config(
        path=path, site=r.attempt(lambda: _site(r, top.get("site")), SiteConfig()),
        instances=instances, catalog=catalog, routes=routes, feeds=feeds,
        limits=r.attempt(lambda: _limits(r, top.get("limits")), LimitsConfig()),
        fetch=r.attempt(lambda: _fetch(r, top.get("fetch")), FetchConfig()),
        output=r.attempt(lambda: _output(r, top.get("output"), folder), _default_output(folder)),
        schedule=r.attempt(lambda: _schedule(r, top.get("schedule")), ScheduleConfig()),
        catalog_instance=live,
        filters=r.attempt(lambda: _filters(r, top.get("filters")), Rules()),
    )
    r.check()
    return config


def _filters(r: Reader, node: yaml.Node | None) -> Rules:
    return Rules() if node is None or is_null(node) else read_filters(r, node, "filters",
                                                                       feed=False)


def _list(r: Reader, top: dict[str, yaml.Node], key: str) -> list[yaml.Node]:
    return r.sequence(top[key], key) if key in top else []


def _default_output(folder: Path) -> OutputConfig:
    return OutputConfig(state=folder / DEFAULT_STATE, hexo=None, site=folder / "public")
