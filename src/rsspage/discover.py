"""A web page's own feeds: the page is fetched like any feed and its feed links are read.

A page announces its feeds with ``<link rel="alternate" type="application/rss+xml" href=…>``
in its head (also Atom, JSON Feed and RDF); relative links are resolved against the page's
final URL (after redirects) or its ``<base href>``. An address that is itself a feed is offered
as it is. Failures are values (``Discovery.error``): ``rsspage add`` still shows the catalog's
routes when the page cannot be read.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urljoin, urlsplit

from lxml import etree

from rsspage.errors import ParseError
from rsspage.fetch import FetchOptions, fetch_feeds
from rsspage.parse import parse_feed
from rsspage.types import FeedSpec, FetchResult, FetchStatus

__all__ = ["Discovery", "PageFeed", "discover", "page_feeds"]

#: Link types that name a feed. Not ``application/json`` (WordPress links its REST API so) nor
#: ``text/xml`` (oEmbed): a wrong candidate is worse than a missing one.
FEED_TYPES = frozenset({
    "application/rss+xml", "application/atom+xml", "application/feed+json",
    "application/rdf+xml", "application/x-rss+xml", "application/x-atom+xml",
})
_HTML_TYPES = ("text/html", "application/xhtml+xml")


@dataclass(frozen=True, slots=True)
class PageFeed:
    """A feed found for a page."""

    #: Absolute URL of the feed.
    url: str
    #: The link's ``title`` (or the feed's own, for an address that is a feed), one line.
    title: str
    #: The link's type (``application/rss+xml`` …), or ``feed`` for an address that is a feed.
    kind: str


@dataclass(frozen=True, slots=True)
class Discovery:
    """What fetching a page found."""

    feeds: tuple[PageFeed, ...] = ()
    #: Why the page could not be read, None when it was.
    error: str | None = None


def discover(url: str, options: FetchOptions) -> Discovery:
    """Fetch ``url`` and find its feeds; never raises for what the network or page does."""
    spec = FeedSpec(key=url, urls=(url,), category="", source="", channel="")
    result = fetch_feeds([spec], {}, replace(options, expect="page"))[0]
    if result.status is not FetchStatus.OK:
        return Discovery(error=result.error or f"HTTP {result.http_status}")
    itself = _as_feed(url, result)
    if itself is not None:
        return Discovery((itself,))
    return Discovery(tuple(page_feeds(result.content, result.headers, result.url)))


def page_feeds(content: bytes, headers: Mapping[str, str], url: str) -> list[PageFeed]:
    """The feeds an HTML page links to, in page order, each URL once."""
    root = _html(content, headers)
    if root is None:
        return []
    base = url
    for tag in root.iter("base"):
        if tag.get("href"):
            base = urljoin(url, tag.get("href", "").strip())
        break
    found: dict[str, PageFeed] = {}
    for link in root.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").split(";")[0].strip().lower()
        href = (link.get("href") or "").strip()
        if "alternate" not in rel or kind not in FEED_TYPES or not href:
            continue
        absolute = urljoin(base, href)
        if urlsplit(absolute).scheme in ("http", "https"):
            found.setdefault(absolute, PageFeed(absolute, _one_line(link.get("title")), kind))
    return list(found.values())


def _as_feed(url: str, result: FetchResult) -> PageFeed | None:
    """The address as a candidate when what it serves reads as a feed."""
    content_type = result.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in _HTML_TYPES:
        return None
    try:
        parsed = parse_feed(result.content, result.headers, result.url)
    except ParseError:
        return None
    if not parsed.entries and not parsed.title:  # feedparser reads anything; this was not a feed
        return None
    return PageFeed(url, _one_line(parsed.title), "feed")


def _html(content: bytes, headers: Mapping[str, str]) -> Any:
    """The page's root element (lxml's forgiving HTML parser), or None when there is none."""
    charset = _charset(headers.get("content-type", ""))
    try:
        parser = etree.HTMLParser(encoding=charset, no_network=True)
    except LookupError:  # a charset lxml does not know: let it read the page's <meta>
        parser = etree.HTMLParser(no_network=True)
    try:
        return etree.fromstring(content, parser)
    except (etree.LxmlError, ValueError):
        return None


def _charset(content_type: str) -> str | None:
    for param in content_type.split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip(' "'):
            return value.strip(' "')
    return None


def _one_line(text: str | None) -> str:
    """Text from a page, safe for a terminal: no controls (escape sequences), one line."""
    kept = "".join(c for c in text or "" if unicodedata.category(c)[0] != "C" or c in "\t\n")
    return " ".join(kept.split())
