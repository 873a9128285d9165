"""Typed, immutable records passed between the pipeline stages.

Each stage takes records from this module and returns records from this module; no stage sees
another stage's internals. Direction of flow::

    Route (catalog) ─► FeedSpec (plan) ─► FetchResult (fetch) ─► ParsedFeed/RawEntry (parse)
      ─► Article (normalise) ─► store ─► publish;  FeedOutcome/RunReport (pipeline) ─► CLI
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum

#: Category used when a route has neither a catalog entry nor an override.
UNCATEGORISED = "未分类"
#: Longest category / source / channel name, in bytes of UTF-8: each becomes a folder of Hexo's
#: (``public/categories/<name>/``), and a file name over 255 bytes fails with ENAMETOOLONG.
MAX_NAME_BYTES = 200


@dataclass(frozen=True, slots=True)
class RadarRule:
    """One of RSSHub Radar's rules: pages at ``source`` have the feed ``target``."""

    #: Where the pages are: a host and a path pattern, ``github.com/:user/:repo``.
    source: tuple[str, ...]
    #: The full route those pages lead to, its ``:params`` filled from the source's.
    target: str
    #: What the rule offers, for the list of candidates (the route's name when it has none).
    title: str = ""


@dataclass(frozen=True, slots=True)
class Route:
    """One route of an RSSHub catalog, with where it sits in category → source → channel."""

    #: Path pattern with RSSHub parameters, with a leading slash: ``/mydrivers/rank/:range?``.
    path: str
    #: A concrete example path (``/mydrivers/rank/24h``); ``""`` when the catalog gives none.
    example: str
    #: Display label of the category (``新媒体``), not the key (``new-media``).
    category: str
    #: The site or namespace name (``快科技（原驱动之家）``).
    source: str
    #: The route's own name (``最新新闻``).
    channel: str
    #: Where this entry came from (file name), for messages.
    origin: str = ""
    #: The RSSHub instance needs settings (keys, cookies) for this route (``requireConfig``).
    require_config: bool = False
    #: Names of those settings where the catalog gives them (``TWITTER_AUTH_TOKEN``).
    config_keys: tuple[str, ...] = ()
    #: The route needs a headless browser on the instance (``requirePuppeteer``).
    require_puppeteer: bool = False
    #: The catalog marks the route as not safe for work (``nsfw``).
    nsfw: bool = False
    #: What the route's items are (RSSHub's ``view``): ``articles``, ``social``, ``pictures``,
    #: ``videos``, ``audio`` or ``notifications``; None when the catalog does not say.
    view: str | None = None
    #: RSSHub Radar's rules that lead from a web page to this route (``rsspage add URL``).
    radar: tuple[RadarRule, ...] = ()

    @property
    def flags(self) -> tuple[str, ...]:
        """Short words for what the route needs: ``config``, ``puppeteer``, ``nsfw``."""
        return tuple(
            word
            for word, on in (
                ("config", self.require_config),
                ("puppeteer", self.require_puppeteer),
                ("nsfw", self.nsfw),
            )
            if on
        )


@dataclass(frozen=True, slots=True)
class FeedSpec:
    """One feed to follow, fully resolved by the plan stage."""

    #: Stable identity of the feed: the route path (``/kkj/news``) or the feed URL.
    key: str
    #: URLs to try in order (one per RSSHub instance for a route, or the single feed URL).
    urls: tuple[str, ...]
    category: str
    source: str
    channel: str
    #: How many entries of each fetch to keep (the newest first, as the feed orders them).
    items_per_feed: int = 20
    #: True when neither the catalog nor the config named the feed: source and channel are
    #: then taken from the feed's own title once it is parsed.
    names_from_feed: bool = False
    #: How often to fetch the feed (its own ``every``, else the schedule's default).
    every: timedelta = timedelta(hours=1)
    #: What the feed's items are, from the catalog (RSSHub's ``view``: ``articles``,
    #: ``social``, ``pictures``, ``videos``, ``audio``, ``notifications``); None: not known.
    view: str | None = None
    #: False (config ``enabled: false``): followed, so neither retired nor pruned as gone,
    #: but never fetched.
    enabled: bool = True
    #: The feed's own retention in days (0: keep all); None: the global ``limits.keep_days``.
    keep_days: int | None = None
    #: ``User-Agent`` for this feed; None: the fetch stage's own.
    user_agent: str | None = None
    #: Extra request headers (name, value), global ones first; may hold cookies: never shown.
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    #: IANA zone of the feed's dates that carry none; None: the parser's default.
    timezone: str | None = None
    #: True (config ``full_text: true``): the page of each new article is fetched and its
    #: main content replaces the feed's summary when it is longer (:mod:`rsspage.fulltext`).
    full_text: bool = False


@dataclass(frozen=True, slots=True)
class FeedNames:
    """Where the store has a feed filed, and what its items are (``view``)."""

    category: str
    source: str
    channel: str
    view: str | None = None


@dataclass(frozen=True, slots=True)
class FeedState:
    """What the store remembers of a feed between runs (opaque HTTP caching data)."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True, slots=True)
class FeedTiming:
    """A feed's schedule as the store keeps it between runs."""

    #: When the feed is next due (aware UTC); None: never scheduled, so due now.
    next_check: datetime | None = None
    #: The ``every`` that ``next_check`` was computed with; a different one makes the feed due.
    every: timedelta | None = None
    #: Failed fetches in a row (0 after a success).
    failures: int = 0
    #: First failure of the current streak (None while the feed is fine).
    failing_since: datetime | None = None


@dataclass(frozen=True, slots=True)
class ServerHints:
    """How long a server asked us not to come back, in seconds (None: it did not say)."""

    #: ``Cache-Control: max-age``, else ``Expires`` minus ``Date``.
    fresh_for: float | None = None
    #: ``Retry-After`` of a 429 or 503.
    retry_after: float | None = None
    #: RSS ``<ttl>`` (given in minutes by the feed), known once the body is parsed.
    ttl: float | None = None


class FetchStatus(Enum):
    OK = "ok"
    NOT_MODIFIED = "not_modified"
    FAILED = "failed"
    GONE = "gone"


@dataclass(frozen=True, slots=True)
class FetchResult:
    """The outcome of fetching one feed: bytes and headers, or an error as a value."""

    key: str
    status: FetchStatus
    #: The URL that answered (after redirects), or the last one tried.
    url: str
    #: Response body (decompressed, size-capped); ``b""`` unless status is OK.
    content: bytes = field(default=b"", repr=False)  # a repr of megabytes helps no one
    #: Response headers, lower-case names.
    headers: Mapping[str, str] = field(default_factory=dict)
    #: HTTP status code of the final response, 0 when none arrived.
    http_status: int = 0
    #: Caching validators to store for the next conditional GET.
    etag: str | None = None
    last_modified: str | None = None
    #: Human-readable error for FAILED / GONE.
    error: str | None = None
    #: What the server said about when to come back, for the schedule.
    hints: ServerHints = field(default_factory=ServerHints)


@dataclass(frozen=True, slots=True)
class Enclosure:
    """A media file of an entry: a podcast's audio, a video, a picture, any attachment."""

    #: Its URL (as the feed wrote it in a RawEntry; absolute http(s) in an Article).
    url: str
    #: MIME type, lower case, without parameters (``audio/mpeg``); ``""`` when unknown.
    type: str = ""
    #: Size in bytes; None when unknown (a feed's ``0`` says nothing either).
    length: int | None = None
    #: Playing time in whole seconds (``itunes:duration``, ``media:content duration``,
    #: ``duration_in_seconds``); None when unknown.
    duration: int | None = None
    #: What it is: ``audio``, ``video``, ``image`` or ``""`` (another file, or unknown). A
    #: RawEntry has the feed's own ``media:content medium``; normalise decides from the type,
    #: that, and the URL's extension.
    medium: str = ""


@dataclass(frozen=True, slots=True)
class RawEntry:
    """One entry as the feed states it, before any cleaning (HTML still unsanitised)."""

    guid: str | None
    link: str | None
    title: str | None
    #: Whether ``title`` holds markup (Atom type="html"/"xhtml", or HTML inside RSS).
    title_is_html: bool
    published: datetime | None
    updated: datetime | None
    author: str | None
    #: The fullest body the feed offers (content:encoded, atom:content, content_html).
    content_html: str | None
    #: The short body (description, atom:summary, summary).
    summary_html: str | None
    #: Image candidates outside the body: enclosures of image type, media:thumbnail/content.
    images: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    #: Base URL for resolving relative links inside this entry (xml:base or the feed URL).
    base_url: str | None = None
    #: Every enclosure of the entry, of any kind (RSS ``<enclosure>``, Atom ``rel="enclosure"``
    #: links, ``media:content``, JSON Feed ``attachments``), in that order; URLs as written.
    enclosures: tuple[Enclosure, ...] = ()


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A parsed document: feed-level metadata and its entries in document order."""

    title: str | None
    link: str | None
    entries: tuple[RawEntry, ...]
    #: Which parser produced it ("lxml-rss", "lxml-atom", "json", "feedparser").
    parser: str
    #: RSS ``<ttl>``: minutes the feed may be cached, when it says.
    ttl: int | None = None


@dataclass(frozen=True, slots=True)
class Article:
    """A clean article, ready to store and publish."""

    #: Stable id: hash of feed key + (guid, else link, else title + date).
    id: str
    feed_key: str
    title: str
    link: str
    #: Aware UTC datetime.
    published: datetime
    #: True when the feed gave no usable date and ``published`` is the time rsspage first saw
    #: the entry; the store then keeps the date it already has.
    date_estimated: bool
    #: True when the feed's date was more than a day in the future and was clamped to now.
    date_clamped: bool
    updated: datetime | None
    author: str
    category: str
    source: str
    channel: str
    #: Sanitised HTML (safe to publish as is).
    content_html: str
    #: Plain text of the content, for search and summaries.
    text: str
    #: Absolute URL of the head image, ``""`` when none.
    image: str
    #: Hash of everything above that publishing depends on, except estimated dates.
    content_hash: str
    #: When the archive first stored it (aware UTC); None before it is stored. The search
    #: shards follow this order, which a late arrival (an old date, new to the archive) cannot
    #: shift: it joins the newest shard instead of moving every shard after its date.
    first_seen: datetime | None = None
    #: The feed's own date when ``date_clamped`` (it was in the future): the store keeps the
    #: clamped date it first gave the article for as long as the feed says this same date.
    clamped_from: datetime | None = None
    #: The entry's own categories (tags) as the feed states them, for filter rules on
    #: ``category``; not published, so not in ``content_hash``.
    tags: tuple[str, ...] = ()
    #: Its media files (audio, video, other attachments; pictures go to ``image``), cleaned
    #: by normalise (absolute http(s) URLs, one per URL, at most ``media.MAX_ENCLOSURES``);
    #: published (players, feed enclosures), so in ``content_hash`` when there are any.
    enclosures: tuple[Enclosure, ...] = ()


@dataclass(frozen=True, slots=True)
class FeedOutcome:
    """What happened to one feed in one run; a failure is a value, never an exception."""

    key: str
    status: FetchStatus
    #: Error message for failed feeds (also when parsing failed after a good fetch).
    error: str | None = None
    #: Articles stored for the first time in this run.
    new: int = 0
    #: Articles whose content changed and were rewritten.
    updated: int = 0
    #: Entries the feed returned (after the per-feed limit).
    entries: int = 0
    #: Warnings worth showing the user (e.g. "no catalog entry, names taken from the feed").
    warnings: tuple[str, ...] = ()
    #: Articles new in this run that filter rules hid (stored hidden, not published).
    blocked: int = 0
    #: Stories new to this feed in this run that another feed had brought: stored once, this
    #: feed recorded as one that brought them (:mod:`rsspage.store.same_story`).
    merged: int = 0
    #: New articles whose whole text was fetched from their page (``full_text``) / whose page
    #: could not give it (refused by robots.txt, an error, not HTML, nothing extracted): those
    #: keep the feed's summary.
    full_text: int = 0
    full_text_failed: int = 0


@dataclass(frozen=True, slots=True)
class OutputCounts:
    """What publishing did to one output folder."""

    written: int = 0
    removed: int = 0
    #: Files kept for articles the archive does not know: the state is younger than the output
    #: (lost, or restored from an older copy). They are never deleted for that reason.
    unknown: int = 0


@dataclass(frozen=True, slots=True)
class RunReport:
    """The result of one ``update`` or ``build``."""

    outcomes: tuple[FeedOutcome, ...]
    seconds: float
    #: What publishing did, per output ("hexo", "site").
    published: Mapping[str, OutputCounts] = field(default_factory=dict)
    #: Keys of the feeds not fetched because they were not due yet.
    skipped: tuple[str, ...] = ()

    @property
    def failed(self) -> tuple[FeedOutcome, ...]:
        bad = (FetchStatus.FAILED, FetchStatus.GONE)
        return tuple(o for o in self.outcomes if o.status in bad)

    @property
    def new(self) -> int:
        return sum(o.new for o in self.outcomes)

    @property
    def updated(self) -> int:
        return sum(o.updated for o in self.outcomes)

    @property
    def blocked(self) -> int:
        return sum(o.blocked for o in self.outcomes)

    @property
    def merged(self) -> int:
        return sum(o.merged for o in self.outcomes)

    @property
    def full_text(self) -> int:
        return sum(o.full_text for o in self.outcomes)

    @property
    def full_text_failed(self) -> int:
        return sum(o.full_text_failed for o in self.outcomes)
