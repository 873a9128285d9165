"""The typed, immutable records a config becomes (:class:`Config` and its sections).

What each key means for the user is in README.md's "Config reference"; how the YAML is read and
checked is in :mod:`rsspage.config` and :mod:`rsspage.config_model`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from rsspage.filters import Rules

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
class FeedSettings:
    """The settings every route and feed may give; None (or empty): the global default."""

    #: False: the feed stays followed and keeps its archive and pages, but is not fetched.
    enabled: bool = True
    items_per_feed: int | None = None
    #: How often to fetch this feed; None: ``schedule.every``.
    every: timedelta | None = None
    #: Articles of this feed older than this many days are pruned (0: kept); None:
    #: ``limits.keep_days``.
    keep_days: int | None = None
    #: ``User-Agent`` sent for this feed; None: ``fetch.user_agent``.
    user_agent: str | None = None
    #: Request headers (name, value), added to ``fetch.headers``; values may come from the
    #: environment (cookies), so never shown.
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    #: IANA zone of the feed's dates that carry none; None: ``fetch.timezone``.
    timezone: str | None = None
    #: The whole article of summary-only feeds: True, rsspage fetches each new article's page
    #: (:mod:`rsspage.fulltext`); "rsshub" (routes only), RSSHub does (``mode=fulltext``).
    full_text: bool | Literal["rsshub"] | None = None
    #: The feed's own filter rules (``filters:``), before the global ones.
    filters: Rules = field(default_factory=Rules)


class _WithSettings:
    """The settings a route and a feed share, read through them (``settings``)."""

    __slots__ = ()
    settings: FeedSettings

    @property
    def items_per_feed(self) -> int | None:
        return self.settings.items_per_feed

    @property
    def every(self) -> timedelta | None:
        return self.settings.every

    @property
    def filters(self) -> Rules:
        return self.settings.filters


@dataclass(frozen=True, slots=True)
class RouteConfig(_WithSettings):
    """One entry of ``routes:``; names left ``None`` come from the catalog."""

    path: str
    category: str | None = None
    source: str | None = None
    channel: str | None = None
    #: RSSHub's own query parameters (``filter``, ``limit``, ``mode`` …), in config order,
    #: added to the route's URL; not part of the feed's key, so changing them keeps its archive.
    params: tuple[tuple[str, str], ...] = ()
    #: Line in the config, for messages.
    line: int | None = None
    settings: FeedSettings = field(default_factory=FeedSettings)


@dataclass(frozen=True, slots=True)
class FeedConfig(_WithSettings):
    """One entry of ``feeds:`` (any feed URL)."""

    url: str
    category: str | None = None
    source: str | None = None
    channel: str | None = None
    line: int | None = None
    settings: FeedSettings = field(default_factory=FeedSettings)


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
    #: ``User-Agent`` of every request; None: rsspage's own (fetch.py).
    user_agent: str | None = None
    #: Headers sent with every feed request (a feed's own ``headers`` add to them).
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    #: IANA zone of feed dates that carry none; None: as before (UTC, China time for dates
    #: written with Chinese characters).
    timezone: str | None = None


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
    #: The archive's PostgreSQL URL (``store:``); None: SQLite in ``output.state``. A secret:
    #: left out of the record's repr, and shown only through ``redact_url``.
    store_url: str | None = field(default=None, repr=False)

    @property
    def folder(self) -> Path:
        return self.path.parent
