"""Enclosures in the feeds rsspage publishes (issue 12), so that a podcast or video feed
republished by rsspage is still one for podcast apps and readers.

- **RSS 2.0** allows one ``<enclosure url length type>`` per item: the first audio or video file
  (else the first file). ``length`` and ``type`` are required there: an unknown size is written
  ``0`` and an unknown type ``application/octet-stream`` (the RSS Best Practices Profile's
  advice), which rsspage reads back as unknown. Its playing time goes in ``itunes:duration``
  (whole seconds, Apple's recommended form; the ``itunes`` namespace is declared only by feeds
  that have an enclosure, so every other feed stays byte for byte as it was).
- **Atom** has a ``<link rel="enclosure" href type length>`` for each file (``length`` only when
  known; an unknown ``type`` as in RSS: without one, feedparser takes the link for text/html).
- **RSS and Atom** also carry every file as a Media RSS ``media:content`` (``url``, ``type``,
  ``fileSize``, ``duration``, ``medium``): the only place for each file's own duration, and for
  the files beyond RSS's one enclosure. Readers that merge both (feedparser, Miniflux, rsspage)
  see each file once, by its URL.
- **JSON Feed** has ``attachments`` with ``url``, ``mime_type`` (required: unknown is
  ``application/octet-stream``), ``size_in_bytes`` and ``duration_in_seconds`` when known.

Only http(s) URLs are published (normalise keeps no other; a restored archive is checked again).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lxml import etree

from rsspage.media import MEDIA_KINDS
from rsspage.publish.feed_xml import sub, web
from rsspage.types import Article, Enclosure

__all__ = ["ITUNES_NS", "MEDIA_NS", "UNKNOWN_TYPE", "add_atom_enclosures",
           "add_rss_enclosure", "any_enclosures", "json_attachments", "rss_enclosure"]

ITUNES_NS = "http://www.itunes.com/dtds/podcast-1.0.dtd"
MEDIA_NS = "http://search.yahoo.com/mrss/"
#: What a required type says when the type is unknown.
UNKNOWN_TYPE = "application/octet-stream"
_ATOM_LINK = "{http://www.w3.org/2005/Atom}link"


def _published(article: Article) -> list[tuple[str, Enclosure]]:
    """(URL as published, enclosure) of the article's enclosures with an http(s) URL."""
    return [(url, e) for e in article.enclosures if (url := web(e.url))]


def any_enclosures(articles: Sequence[Article]) -> bool:
    return any(a.enclosures for a in articles)


def rss_enclosure(article: Article) -> Enclosure | None:
    """The one enclosure of the article's RSS item: the first audio or video file, else the
    first file; None when it has none."""
    files = [e for _, e in _published(article)]
    return next((e for e in files if e.medium in MEDIA_KINDS), files[0] if files else None)


def add_rss_enclosure(item: etree._Element, article: Article) -> None:
    """``<enclosure>``, ``itunes:duration`` and the ``media:content`` of every file."""
    main = rss_enclosure(article)
    if main is None:
        return
    sub(item, "enclosure", url=web(main.url), length=str(main.length or 0),
        type=main.type or UNKNOWN_TYPE)
    if main.duration:
        sub(item, f"{{{ITUNES_NS}}}duration", str(main.duration))
    _media_contents(item, article)


def add_atom_enclosures(entry: etree._Element, article: Article) -> None:
    """A ``rel="enclosure"`` link and a ``media:content`` for every file."""
    for url, enclosure in _published(article):
        # An untyped link would be text/html to feedparser: unknown is said as in RSS.
        attrs = {"rel": "enclosure", "href": url, "type": enclosure.type or UNKNOWN_TYPE}
        if enclosure.length:
            attrs["length"] = str(enclosure.length)
        sub(entry, _ATOM_LINK, **attrs)
    _media_contents(entry, article)


def _media_contents(parent: etree._Element, article: Article) -> None:
    for url, enclosure in _published(article):
        attrs = {"url": url}
        if enclosure.type:
            attrs["type"] = enclosure.type
        if enclosure.length:
            attrs["fileSize"] = str(enclosure.length)
        if enclosure.duration:
            attrs["duration"] = str(enclosure.duration)
        if enclosure.medium:
            attrs["medium"] = enclosure.medium
        sub(parent, f"{{{MEDIA_NS}}}content", **attrs)


def json_attachments(article: Article) -> list[dict[str, Any]]:
    """JSON Feed ``attachments`` of the article (``[]`` when it has none)."""
    attachments = []
    for url, enclosure in _published(article):
        attachment: dict[str, Any] = {"url": url, "mime_type": enclosure.type or UNKNOWN_TYPE}
        if enclosure.length:
            attachment["size_in_bytes"] = enclosure.length
        if enclosure.duration:
            attachment["duration_in_seconds"] = enclosure.duration
        attachments.append(attachment)
    return attachments
