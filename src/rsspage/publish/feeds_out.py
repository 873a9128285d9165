"""Feeds rsspage publishes: Atom 1.0, RSS 2.0, JSON Feed 1.1, OPML 2.0, sitemap.xml, robots.txt.

Pure functions from records to bytes; no I/O (the build hands the bytes to the safe writer).
Output is deterministic — no clock is read — so an unchanged feed is byte-identical between
builds and the writer leaves its file alone.

Decisions every format shares:

- **Text is cleaned once**: characters XML 1.0 forbids (C0 controls but tab/LF/CR, lone
  surrogates, U+FFFE/U+FFFF) and C1 controls (which feedparser rewrites as cp1252) are
  dropped from every text field; titles also get their white space collapsed to single spaces
  and trimmed (:func:`feed_title`), the form readers would show anyway.
- **XML is built with lxml**, never by concatenating strings, so every ``<``, ``&`` and ``]]>``
  is escaped by the serialiser. HTML (already sanitised by normalise) travels as escaped text:
  Atom ``type="html"``, RSS ``content:encoded``, JSON ``content_html``.
- **RSS titles and descriptions are HTML-escaped before XML-escaping** (the RSS Best Practices
  Profile's rule): RSS cannot say whether a title is text or HTML, and feedparser guesses
  "HTML" for a title such as ``a &amp; b`` or ``<b>x</b>``; escaped once more, the guess is
  harmless and ``html.unescape`` gives the exact title back.
- **Links**: an entry's main link (Atom ``rel="alternate"``, RSS ``<link>``, JSON ``url``) is the
  original article, the thing a reader wants to open; the copy on our site, when the site URL
  is known, is Atom ``rel="related"``, RSS ``atom:link rel="related"`` and JSON
  ``_rsspage.page_url``. An article without an original link points at the site copy instead.
  Only ``http(s)`` links are published.
- **Without a site URL** (``site.url: ""``) a feed has no absolute address of its own: the
  self/home links are left out, ids fall back to ``urn:uuid`` names, entries link only to the
  originals, and the sitemap is not produced (the protocol requires absolute URLs).
- **Ids** are ``urn:uuid:`` UUIDv5 names of the article id: stable across builds, machines and
  site URLs.
- **Enclosures** (podcast audio, video, other files): RSS ``<enclosure>`` + ``itunes:duration``,
  Atom ``rel="enclosure"`` links, ``media:content`` in both, JSON Feed ``attachments``; see
  :mod:`~rsspage.publish.feed_media`. The plumbing (text XML can carry, dates, URLs on the
  site, elements) is in :mod:`~rsspage.publish.feed_xml`.
"""

from __future__ import annotations

import html
import json
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lxml import etree

from rsspage.publish.feed_media import (
    ITUNES_NS,
    MEDIA_NS,
    add_atom_enclosures,
    add_rss_enclosure,
    any_enclosures,
    json_attachments,
)
from rsspage.publish.feed_xml import absolute as absolute
from rsspage.publish.feed_xml import feed_title as feed_title
from rsspage.publish.feed_xml import rfc822 as rfc822
from rsspage.publish.feed_xml import rfc3339 as rfc3339
from rsspage.publish.feed_xml import root_element, sub, utc, web, xml_bytes
from rsspage.publish.feed_xml import xml_text as xml_text
from rsspage.types import Article, FeedSpec

ATOM_NS = "http://www.w3.org/2005/Atom"
CONTENT_NS = "http://purl.org/rss/1.0/modules/content/"
DC_NS = "http://purl.org/dc/elements/1.1/"
SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
GENERATOR = "rsspage"

#: How many entries each feed of :func:`feed_groups` holds.
FEED_LIMIT = 50
#: What lxml writes first (``xml_declaration=True, encoding="utf-8"``).
_XML_DECLARATION = "<?xml version='1.0' encoding='utf-8'?>"
#: The sitemap protocol's limit of URLs per file.
SITEMAP_LIMIT = 50_000
#: Characters of ``Article.text`` kept as an entry's summary.
SUMMARY_CHARS = 200
#: ``updated`` of a feed with no entries: fixed, so that an empty feed never changes either.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

UUID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://rsspage.invalid/ids")


@dataclass(frozen=True, slots=True)
class FeedMeta:
    """What a feed says about itself. URLs are paths relative to the site root."""

    title: str
    #: Absolute base URL of the site (``https://news.example.com/``), or ``""`` when unknown.
    site_url: str
    #: Where this feed file is published, relative to the site root (``feeds/atom.xml``).
    feed_url: str
    #: The HTML page the feed mirrors, relative to the site root (``""`` for the home page).
    page_url: str
    #: BCP 47 language tag of the site (``zh-CN``).
    language: str
    #: Newest change of any entry (see :func:`newest`).
    updated: datetime
    #: Relative URL of an article's page on the site; ``None`` when the site has none.
    article_page: Callable[[Article], str] | None = None


@dataclass(frozen=True, slots=True)
class OpmlFeed:
    """One followed feed in the OPML file, filed under category → source."""

    title: str
    xml_url: str
    html_url: str
    category: str
    source: str

    @classmethod
    def from_spec(cls, spec: FeedSpec, html_url: str = "") -> OpmlFeed:
        """The feed as followed: its first URL (the first RSSHub instance for a route)."""
        url = spec.urls[0] if spec.urls else spec.key
        return cls(spec.channel, url, html_url, spec.category, spec.source)


# --------------------------------------------------------------------------- text and dates


def summary(text: str, limit: int = SUMMARY_CHARS) -> str:
    """The first ``limit`` characters of the plain text, on one line, ``…`` when cut."""
    flat = feed_title(text)
    return flat if len(flat) <= limit else flat[:limit].rstrip() + "…"


def newest(articles: Iterable[Article]) -> datetime:
    """The latest ``updated``/``published`` of the articles, :data:`EPOCH` when there are none."""
    return max((_changed(a) for a in articles), default=EPOCH)


def _changed(article: Article) -> datetime:
    return max(utc(article.published), utc(article.updated or article.published))


# --------------------------------------------------------------------------- URLs and ids


def entry_id(article: Article) -> str:
    """Stable id of an article's entry in every feed."""
    return f"urn:uuid:{uuid.uuid5(UUID_NAMESPACE, 'article:' + article.id)}"


def _feed_id(meta: FeedMeta) -> str:
    own = absolute(meta.site_url, meta.feed_url)
    return own or f"urn:uuid:{uuid.uuid5(UUID_NAMESPACE, 'feed:' + meta.feed_url)}"


@dataclass(frozen=True, slots=True)
class _Links:
    main: str
    page: str


def _links(meta: FeedMeta, article: Article) -> _Links:
    page = ""
    if meta.site_url and meta.article_page is not None:
        page = absolute(meta.site_url, meta.article_page(article))
    original = web(article.link)
    if not original:
        return _Links(main=page, page="")
    return _Links(main=original, page=page)


def _categories(article: Article) -> list[str]:
    names = (feed_title(n) for n in (article.category, article.source, article.channel))
    return list(dict.fromkeys(n for n in names if n))


def _author(article: Article) -> str:
    return feed_title(article.author) or feed_title(article.source)


# --------------------------------------------------------------------------- Atom


def atom_feed(meta: FeedMeta, articles: Sequence[Article]) -> bytes:
    """Atom 1.0 (RFC 4287) of ``articles``, in the order given."""
    root = root_element(_atom("feed"), {None: ATOM_NS, "media": MEDIA_NS})
    if meta.language:
        root.set("{http://www.w3.org/XML/1998/namespace}lang", xml_text(meta.language))
    sub(root, _atom("id"), _feed_id(meta))
    sub(root, _atom("title"), feed_title(meta.title), type="text")
    sub(root, _atom("updated"), rfc3339(meta.updated))
    if meta.site_url:
        sub(root, _atom("link"), rel="self", type="application/atom+xml",
             href=absolute(meta.site_url, meta.feed_url))
        sub(root, _atom("link"), rel="alternate", type="text/html",
             href=absolute(meta.site_url, meta.page_url))
    # A feed-level author makes <author> optional in every entry (RFC 4287 §4.1.1).
    author = sub(root, _atom("author"))
    sub(author, _atom("name"), feed_title(meta.title) or GENERATOR)
    sub(root, _atom("generator"), GENERATOR)
    for article in articles:
        _atom_entry(root, meta, article)
    return xml_bytes(root)


def _atom_entry(root: etree._Element, meta: FeedMeta, article: Article) -> None:
    entry = sub(root, _atom("entry"))
    sub(entry, _atom("id"), entry_id(article))
    sub(entry, _atom("title"), feed_title(article.title), type="text")
    links = _links(meta, article)
    if links.main:
        sub(entry, _atom("link"), rel="alternate", type="text/html", href=links.main)
    if links.page:
        sub(entry, _atom("link"), rel="related", type="text/html", href=links.page)
    sub(entry, _atom("published"), rfc3339(article.published))
    sub(entry, _atom("updated"), rfc3339(_changed(article)))
    if name := _author(article):
        sub(sub(entry, _atom("author")), _atom("name"), name)
    for term in _categories(article):
        sub(entry, _atom("category"), term=term)
    if text := summary(article.text):
        sub(entry, _atom("summary"), text, type="text")
    sub(entry, _atom("content"), xml_text(article.content_html), type="html")
    if image := web(article.image):
        sub(entry, f"{{{MEDIA_NS}}}thumbnail", url=image)
    add_atom_enclosures(entry, article)


def _atom(tag: str) -> str:
    return f"{{{ATOM_NS}}}{tag}"


# --------------------------------------------------------------------------- RSS


def rss_feed(meta: FeedMeta, articles: Sequence[Article]) -> bytes:
    """RSS 2.0 of ``articles``, in the order given (full HTML in ``content:encoded``)."""
    nsmap: dict[str | None, str] = {
        "atom": ATOM_NS, "content": CONTENT_NS, "dc": DC_NS, "media": MEDIA_NS
    }
    if any_enclosures(articles):
        nsmap["itunes"] = ITUNES_NS
    root = root_element("rss", nsmap)
    root.set("version", "2.0")
    channel = sub(root, "channel")
    sub(channel, "title", _html_text(feed_title(meta.title)))
    if meta.site_url:
        sub(channel, "link", absolute(meta.site_url, meta.page_url))
        sub(channel, _atom("link"), rel="self", type="application/rss+xml",
             href=absolute(meta.site_url, meta.feed_url))
    sub(channel, "description", _html_text(feed_title(meta.title)))
    if meta.language:
        sub(channel, "language", xml_text(meta.language))
    sub(channel, "lastBuildDate", rfc822(meta.updated))
    sub(channel, "generator", GENERATOR)
    for article in articles:
        _rss_item(channel, meta, article)
    return xml_bytes(root)


def _rss_item(channel: etree._Element, meta: FeedMeta, article: Article) -> None:
    item = sub(channel, "item")
    sub(item, "title", _html_text(feed_title(article.title)))
    links = _links(meta, article)
    if links.main:
        sub(item, "link", links.main)
    sub(item, "guid", entry_id(article), isPermaLink="false")
    sub(item, "pubDate", rfc822(article.published))
    if name := _author(article):
        # <author> must be an e-mail address in RSS 2.0; dc:creator takes a name.
        sub(item, f"{{{DC_NS}}}creator", name)
    for term in _categories(article):
        sub(item, "category", term)
    if text := summary(article.text):
        sub(item, "description", _html_text(text))
    sub(item, f"{{{CONTENT_NS}}}encoded", xml_text(article.content_html))
    if links.page:
        sub(item, _atom("link"), rel="related", type="text/html", href=links.page)
    if image := web(article.image):
        sub(item, f"{{{MEDIA_NS}}}thumbnail", url=image)
    add_rss_enclosure(item, article)


def _html_text(text: str) -> str:
    return html.escape(text, quote=False)


# --------------------------------------------------------------------------- JSON Feed


def json_feed(meta: FeedMeta, articles: Sequence[Article]) -> bytes:
    """JSON Feed 1.1 of ``articles``, in the order given (UTF-8, not ASCII-escaped)."""
    doc: dict[str, Any] = {"version": JSON_FEED_VERSION, "title": feed_title(meta.title)}
    if meta.site_url:
        doc["home_page_url"] = absolute(meta.site_url, meta.page_url)
        doc["feed_url"] = absolute(meta.site_url, meta.feed_url)
    if meta.language:
        doc["language"] = xml_text(meta.language)
    doc["authors"] = [{"name": feed_title(meta.title) or GENERATOR}]
    doc["items"] = [_json_item(meta, a) for a in articles]
    return (json.dumps(doc, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def _json_item(meta: FeedMeta, article: Article) -> dict[str, Any]:
    item: dict[str, Any] = {"id": entry_id(article)}
    links = _links(meta, article)
    if links.main:
        item["url"] = links.main
    item["title"] = feed_title(article.title)
    item["content_html"] = xml_text(article.content_html)
    if text := summary(article.text):
        item["summary"] = text
    if image := web(article.image):
        item["image"] = image
    item["date_published"] = rfc3339(article.published)
    item["date_modified"] = rfc3339(_changed(article))
    if name := _author(article):
        item["authors"] = [{"name": name}]
    if tags := _categories(article):
        item["tags"] = tags
    if attachments := json_attachments(article):
        item["attachments"] = attachments
    if links.page:
        item["_rsspage"] = {"page_url": links.page}
    return item


# --------------------------------------------------------------------------- OPML


def opml(title: str, feeds: Sequence[OpmlFeed]) -> bytes:
    """OPML 2.0 of the followed feeds, nested category → source → feed (first-seen order)."""
    root = etree.Element("opml", version="2.0")
    sub(sub(root, "head"), "title", feed_title(title))
    body = sub(root, "body")
    groups: dict[str, dict[str, list[OpmlFeed]]] = {}
    for feed in feeds:
        groups.setdefault(feed.category, {}).setdefault(feed.source, []).append(feed)
    for category, sources in groups.items():
        cat = sub(body, "outline", text=feed_title(category), title=feed_title(category))
        for source, members in sources.items():
            src = sub(cat, "outline", text=feed_title(source), title=feed_title(source))
            for feed in members:
                _opml_outline(src, feed)
    return xml_bytes(root)


def _opml_outline(parent: etree._Element, feed: OpmlFeed) -> None:
    name = feed_title(feed.title) or feed_title(feed.source)
    outline = sub(parent, "outline", type="rss", text=name, title=name,
                   xmlUrl=xml_text(feed.xml_url))
    if feed.html_url:
        outline.set("htmlUrl", xml_text(feed.html_url))


# --------------------------------------------------------------------------- sitemap, robots


def sitemaps(
    site_url: str, pages: Iterable[tuple[str, datetime | None]], *, limit: int = SITEMAP_LIMIT
) -> dict[str, bytes]:
    """``{relpath: bytes}``: ``sitemap.xml`` alone, or an index plus ``sitemap-N.xml`` parts.

    ``pages`` are (URL relative to the site root, or absolute; last modification or None).
    Parts sit in the site root because a sitemap may only list URLs below its own folder.
    Returns ``{}`` without a site URL: sitemaps must hold absolute URLs.
    """
    if not site_url:
        return {}
    entries = [(absolute(site_url, path), when) for path, when in pages]
    if len(entries) <= limit:
        return {"sitemap.xml": _urlset(entries)}
    files: dict[str, bytes] = {}
    index = root_element(f"{{{SITEMAP_NS}}}sitemapindex", {None: SITEMAP_NS})
    parts = sitemap_names(len(entries), limit=limit)[1:]
    for name, start in zip(parts, range(0, len(entries), limit), strict=True):
        part = entries[start:start + limit]
        files[name] = _urlset(part)
        node = sub(index, f"{{{SITEMAP_NS}}}sitemap")
        sub(node, f"{{{SITEMAP_NS}}}loc", absolute(site_url, name))
        if stamps := [when for _, when in part if when is not None]:
            sub(node, f"{{{SITEMAP_NS}}}lastmod", rfc3339(max(stamps, key=utc)))
    return {"sitemap.xml": xml_bytes(index), **files}


def sitemap_part(site_url: str, pages: Iterable[str]) -> bytes:
    """One ``urlset`` of ``pages`` (URLs relative to the site root), without dates."""
    return _urlset([(absolute(site_url, path), None) for path in pages])


def sitemap_index(site_url: str, parts: Iterable[str]) -> bytes:
    """A ``sitemapindex`` of the parts ``parts`` (file names in the site root)."""
    index = root_element(f"{{{SITEMAP_NS}}}sitemapindex", {None: SITEMAP_NS})
    for name in parts:
        node = sub(index, f"{{{SITEMAP_NS}}}sitemap")
        sub(node, f"{{{SITEMAP_NS}}}loc", absolute(site_url, name))
    return xml_bytes(index)


def sitemap_names(pages: int, *, limit: int = SITEMAP_LIMIT) -> list[str]:
    """The files :func:`sitemaps` writes for ``pages`` URLs (with a site URL)."""
    if pages <= limit:
        return ["sitemap.xml"]
    parts = (pages + limit - 1) // limit
    return ["sitemap.xml", *(f"sitemap-{n}.xml" for n in range(1, parts + 1))]


def _urlset(entries: Sequence[tuple[str, datetime | None]]) -> bytes:
    """The ``urlset`` document, written as lxml would pretty-print it; built from strings, as
    the sitemap of a 20,000-article site is rebuilt whenever a page comes or goes."""
    if not entries:
        return f"{_XML_DECLARATION}\n<urlset xmlns=\"{SITEMAP_NS}\"/>\n".encode()
    lines = [_XML_DECLARATION, f'<urlset xmlns="{SITEMAP_NS}">']
    for loc, when in entries:
        lines.append(f"  <url>\n    <loc>{html.escape(loc, quote=False)}</loc>")
        if when is not None:
            lines.append(f"    <lastmod>{rfc3339(when)}</lastmod>")
        lines.append("  </url>")
    lines.append("</urlset>\n")
    return "\n".join(lines).encode("utf-8")


def robots(site_url: str) -> bytes:
    """``robots.txt`` allowing everything and naming the sitemap (when the site URL is known)."""
    lines = ["User-agent: *", "Disallow:"]
    if site_url:
        lines.append(f"Sitemap: {absolute(site_url, 'sitemap.xml')}")
    return ("\n".join(lines) + "\n").encode("ascii")


# --------------------------------------------------------------------------- the formats

#: File name → format, in each feed folder.
FORMATS: Mapping[str, Callable[[FeedMeta, Sequence[Article]], bytes]] = {
    "atom.xml": atom_feed,
    "rss.xml": rss_feed,
    "feed.json": json_feed,
}

