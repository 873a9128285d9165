"""Render a demo feed the way RSSHub does: RSS 2.0, Atom 1.0 or JSON Feed 1.1.

The shapes follow RSSHub's own output (CDATA titles and bodies, ``<generator>RSSHub</generator>``,
``atom:link rel="self"``, ``ttl``, ``guid isPermaLink="false"``, dates in GMT), because the demo
stands in for an RSSHub instance. The ``wordpress`` format is an ordinary blog feed instead
(``content:encoded``, ``dc:creator``, a short ``description``, dates with a UTC offset).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.utils import format_datetime
from xml.sax.saxutils import escape, quoteattr

from rsspage.demo.sample import BASE, DemoEnclosure, DemoFeed, DemoItem

#: What RSSHub sends for each format (it uses application/xml for RSS too).
CONTENT_TYPES = {
    "rss": "application/xml",
    "wordpress": "application/rss+xml",
    "atom": "application/atom+xml",
    "json": "application/feed+json",
}
#: Fallback "last change" for a feed whose items carry no date at all.
EPOCH = datetime(2026, 11, 1, tzinfo=UTC)


def cdata(text: str) -> str:
    """``text`` as CDATA; a ``]]>`` inside is split across two sections."""
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def last_modified(feed: DemoFeed) -> datetime:
    """The newest item date: a stable Last-Modified, unlike RSSHub's build time."""
    dates = [i.date for i in feed.items if i.date is not None]
    return max(dates, default=EPOCH).astimezone(UTC)


def rfc822(dt: datetime) -> str:
    return format_datetime(dt.astimezone(UTC), usegmt=True)


def rfc3339(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


def clock(seconds: int) -> str:
    """``itunes:duration`` as podcast feeds write it: ``MM:SS``, or ``H:MM:SS`` from an hour."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def _length(enclosure: DemoEnclosure) -> str:
    return str(enclosure.length) if enclosure.length is not None else "0"


def _xml_decl(feed: DemoFeed) -> str:
    return f'<?xml version="1.0" encoding="{feed.encoding.upper()}"?>\n'


def _rss_item(item: DemoItem) -> Iterator[str]:
    yield f"<item>\n<title>{cdata(item.title)}</title>\n"
    yield f"<description>{cdata(item.html)}</description>\n"
    if item.date is not None:
        yield f"<pubDate>{rfc822(item.date)}</pubDate>\n"
    yield f'<guid isPermaLink="false">{escape(item.guid)}</guid>\n'
    yield f"<link>{escape(item.link)}</link>\n<author>{cdata(item.author)}</author>\n"
    yield "".join(f"<category>{cdata(c)}</category>\n" for c in item.categories)
    for enclosure in item.enclosures:
        yield (f"<enclosure url={quoteattr(enclosure.url)} length=\"{_length(enclosure)}\""
               f" type={quoteattr(enclosure.type)}/>\n")
    if item.image and item.enclosures:  # an episode's cover, as RSSHub writes it
        yield f"<itunes:image href={quoteattr(item.image)}/>\n"
    elif item.image:
        kind = "image/png" if item.image.endswith(".png") else "image/svg+xml"
        yield f'<enclosure url={quoteattr(item.image)} type="{kind}" length="0"/>\n'
    durations = [e.duration for e in item.enclosures if e.duration is not None]
    if durations:
        yield f"<itunes:duration>{clock(durations[0])}</itunes:duration>\n"
    yield "</item>\n"


def _podcast_head(feed: DemoFeed) -> str:
    """The channel's ``itunes`` tags and picture, as RSSHub writes them for a podcast route."""
    parts = []
    if feed.image:
        parts.append(f"<image>\n<url>{escape(feed.image)}</url>\n<title>{cdata(feed.title)}"
                     f"</title>\n<link>{escape(feed.link)}</link>\n</image>\n")
    if feed.podcast:
        author = feed.items[0].author if feed.items else feed.title
        parts.append(f"<itunes:author>{cdata(author)}</itunes:author>\n")
        if feed.image:
            parts.append(f"<itunes:image href={quoteattr(feed.image)}/>\n")
        parts.append("<itunes:explicit>false</itunes:explicit>\n")
    return "".join(parts)


def rss(feed: DemoFeed, self_url: str, ttl: int = 5) -> str:
    itunes = ' xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"' if (
        feed.podcast or any(i.enclosures for i in feed.items)) else ""
    head = (
        f'<rss xmlns:atom="http://www.w3.org/2005/Atom"{itunes} version="2.0">\n<channel>\n'
        f"<title>{cdata(feed.title)}</title>\n<link>{escape(feed.link)}</link>\n"
        f'<atom:link href={quoteattr(self_url)} rel="self" type="application/rss+xml"/>\n'
        f"<description>{cdata(feed.description + ' - Powered by RSSHub')}</description>\n"
        "<generator>RSSHub</generator>\n<webMaster>contact@rsshub.app (RSSHub)</webMaster>\n"
        f"<language>{escape(feed.lang)}</language>\n"
        f"<lastBuildDate>{rfc822(last_modified(feed))}</lastBuildDate>\n<ttl>{ttl}</ttl>\n"
        + _podcast_head(feed)
    )
    items = "".join(part for item in feed.items for part in _rss_item(item))
    return _xml_decl(feed) + head + items + "</channel>\n</rss>\n"


def _atom_entry(item: DemoItem) -> Iterator[str]:
    yield f"<entry>\n<title>{cdata(item.title)}</title>\n"
    yield f'<content type="html">{cdata(item.html)}</content>\n'
    yield f"<link href={quoteattr(item.link)}/>\n<id>{escape(item.guid)}</id>\n"
    if item.date is not None:
        stamp = rfc3339(item.date)
        yield f"<published>{stamp}</published>\n<updated>{stamp}</updated>\n"
    yield f"<author><name>{cdata(item.author)}</name></author>\n"
    yield "".join(f"<category term={quoteattr(c)}/>\n" for c in item.categories)
    for enclosure in item.enclosures:
        yield (f'<link rel="enclosure" href={quoteattr(enclosure.url)}'
               f" type={quoteattr(enclosure.type)} length=\"{_length(enclosure)}\"/>\n")
    if item.image:
        yield f"<media:thumbnail url={quoteattr(item.image)}/>\n"
    yield "</entry>\n"


def atom(feed: DemoFeed, self_url: str) -> str:
    head = (
        '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:media="http://search.yahoo.com/mrss/"'
        f" xml:lang={quoteattr(feed.lang)}>\n<id>{escape(feed.link)}</id>\n"
        f"<title>{cdata(feed.title)}</title>\n"
        f"<updated>{rfc3339(last_modified(feed))}</updated>\n<generator>RSSHub</generator>\n"
        "<author><name>RSSHub</name></author>\n"
        f'<link rel="alternate" href={quoteattr(feed.link)}/>\n'
        f'<link rel="self" href={quoteattr(self_url)} type="application/atom+xml"/>\n'
        f"<subtitle>{cdata(feed.description + ' - Powered by RSSHub')}</subtitle>\n"
        + (f"<logo>{escape(feed.image)}</logo>\n" if feed.image else "")
    )
    entries = "".join(part for item in feed.items for part in _atom_entry(item))
    return _xml_decl(feed) + head + entries + "</feed>\n"


def _json_item(item: DemoItem) -> dict[str, object]:
    out: dict[str, object] = {
        "id": item.guid,
        "url": item.link,
        "title": item.title,
        "content_html": item.html,
    }
    if item.image:
        out["image"] = item.image
    if item.date is not None:
        out["date_published"] = rfc3339(item.date)
    out["authors"] = [{"name": item.author}]
    out["tags"] = list(item.categories)
    if item.enclosures:
        out["attachments"] = [_attachment(e) for e in item.enclosures]
    return out


def _attachment(enclosure: DemoEnclosure) -> dict[str, object]:
    out: dict[str, object] = {"url": enclosure.url, "mime_type": enclosure.type}
    if enclosure.length is not None:
        out["size_in_bytes"] = enclosure.length
    if enclosure.duration is not None:
        out["duration_in_seconds"] = enclosure.duration
    return out


def json_feed(feed: DemoFeed, self_url: str) -> str:
    doc = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": feed.title,
        "home_page_url": feed.link,
        "feed_url": self_url,
        "description": feed.description + " - Powered by RSSHub",
        "language": feed.lang,
        **({"icon": feed.image} if feed.image else {}),
        "items": [_json_item(i) for i in feed.items],
    }
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


def _excerpt(html: str, size: int = 60) -> str:
    """A WordPress-style plain-text excerpt: the start of the first paragraph of plain text."""
    found = re.search(r"<p>([^<]+)</p>", html)
    text = found.group(1) if found else re.sub(r"<[^>]+>", "", html)
    return text[:size] + " [&#8230;]"


def _wp_item(item: DemoItem) -> Iterator[str]:
    yield f"<item>\n<title>{escape(item.title)}</title>\n<link>{escape(item.link)}</link>\n"
    yield f"<dc:creator>{cdata(item.author)}</dc:creator>\n"
    if item.date is not None:
        yield f"<pubDate>{format_datetime(item.date)}</pubDate>\n"
    yield "".join(f"<category>{cdata(c)}</category>\n" for c in item.categories)
    yield f'<guid isPermaLink="false">{escape(item.guid)}</guid>\n'
    yield f"<description>{cdata(_excerpt(item.html))}</description>\n"
    yield f"<content:encoded>{cdata(item.html)}</content:encoded>\n</item>\n"


def wordpress(feed: DemoFeed, self_url: str) -> str:
    head = (
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom">'
        f"\n<channel>\n<title>{escape(feed.title)}</title>\n"
        f'<atom:link href={quoteattr(self_url)} rel="self" type="application/rss+xml"/>\n'
        f"<link>{escape(feed.link)}</link>\n<description>{escape(feed.description)}</description>\n"
        f"<lastBuildDate>{format_datetime(last_modified(feed))}</lastBuildDate>\n"
        f"<language>{escape(feed.lang)}</language>\n"
        "<generator>https://wordpress.org/?v=6.7</generator>\n"
    )
    items = "".join(part for item in feed.items for part in _wp_item(item))
    return _xml_decl(feed) + head + items + "</channel>\n</rss>\n"


RENDERERS: dict[str, Callable[[DemoFeed, str], str]] = {
    "rss": rss,
    "atom": atom,
    "json": json_feed,
    "wordpress": wordpress,
}


def render(feed: DemoFeed, base_url: str, self_url: str, fmt: str | None = None) -> bytes:
    """The feed as bytes in its encoding, in ``fmt`` (RSSHub's ``?format=``) or its default.

    ``base_url`` replaces ``@BASE@`` in the data; ``self_url`` is the feed's own address.
    """
    text = RENDERERS[fmt or feed.format](feed, self_url).replace(BASE, base_url)
    # JSON is always UTF-8 (RFC 8259); only XML can declare another encoding.
    encoding = "utf-8" if (fmt or feed.format) == "json" else feed.encoding
    return text.encode(encoding)


def content_type(feed: DemoFeed, fmt: str | None = None) -> str:
    kind = fmt or feed.format
    encoding = "utf-8" if kind == "json" else feed.encoding
    return f"{CONTENT_TYPES[kind]}; charset={encoding}"
