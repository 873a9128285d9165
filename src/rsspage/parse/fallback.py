"""The feedparser path: documents the fast path does not vouch for (malformed XML, DTDs,
xml:base, inline XHTML, RSS 0.9x oddities, CDF...), read by feedparser — the robust reference,
~40× slower on RSSHub output — from the bytes (wrapped in a stream, so that it never opens files
or URLs) and the response headers.

Before it runs, documents that would cost it seconds (elements nested beyond libxml2's limit) or
crash it (references to no character) are refused or repaired.
"""

from __future__ import annotations

import contextlib
import html
import io
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import feedparser
from lxml import etree

from ..errors import ParseError
from ..media import parse_duration, parse_length
from ..types import Enclosure, ParsedFeed, RawEntry
from .dates import parse_date, struct_to_datetime
from .entries import with_duration
from .fp_text import HTML_TYPES, IMAGE_URL, ttl

__all__ = ["MAX_XML_DEPTH", "nested_too_deep", "parse_with_feedparser"]


#: Deeper than this (libxml2's limit with XML_PARSE_HUGE) no feed goes: feedparser would take
#: ~8 s on 100,000 nested elements, and longer the deeper they go.
MAX_XML_DEPTH = 2048


def nested_too_deep(content: bytes) -> bool:
    """Whether libxml2, reading as far as it can, finds elements nested beyond MAX_XML_DEPTH."""
    parser = etree.XMLParser(
        recover=True, huge_tree=True, resolve_entities=False, no_network=True, load_dtd=False
    )
    with contextlib.suppress(etree.XMLSyntaxError):
        etree.fromstring(content, parser)
    return any("Excessive depth" in error.message for error in parser.error_log)


# Character references to no character (surrogates, beyond U+10FFFF, absurdly long numbers):
# feedparser's loose parser crashes on them with UnicodeEncodeError or ValueError.
_CHARACTER_REFERENCE = re.compile(rb"&#(?:[xX]([0-9a-fA-F]+)|([0-9]+));")


def _no_bad_character_references(content: bytes) -> bytes:
    """``content`` with references to no character replaced by U+FFFD's."""
    if b"&#" not in content:
        return content
    return _CHARACTER_REFERENCE.sub(_valid_reference, content)


def _valid_reference(match: re.Match[bytes]) -> bytes:
    hexadecimal, decimal = match.groups()
    digits = (hexadecimal or decimal).lstrip(b"0")
    code = int(digits or b"0", 16 if hexadecimal else 10) if len(digits) <= 8 else -1
    if code < 0 or 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
        return b"&#xFFFD;"
    return match.group(0)


def parse_with_feedparser(content: bytes, headers: Mapping[str, str], url: str) -> ParsedFeed:
    content = _no_bad_character_references(content)
    try:
        # A stream, never bytes or str: feedparser would treat those as a file name or a URL.
        result = feedparser.parse(io.BytesIO(content), response_headers=dict(headers))
    except Exception as e:  # feedparser's loose parser on bytes nobody foresaw
        raise ParseError(f"not a feed: unreadable ({type(e).__name__})") from e
    entries = result.get("entries") or []
    feed = result.get("feed") or {}
    named = _text(feed, "title") or _text(feed, "link")
    if not result.get("version") and not entries and (result.get("bozo") or not named):
        lines = str(result.get("bozo_exception") or "").strip().splitlines()
        reason = lines[0][:200] if lines else "no RSS, Atom or JSON Feed"
        raise ParseError(f"not a feed: {reason}")
    return ParsedFeed(
        title=_text(feed, "title") or None,
        link=_text(feed, "link") or None,
        entries=tuple(_feedparser_entry(entry, url) for entry in entries),
        parser="feedparser",
        ttl=ttl(feed.get("ttl")),
    )



def _feedparser_link(entry: Any) -> str | None:
    """The entry's link; an alternate one rather than the enclosure feedparser 6.0 may pick.

    (Atom 0.3 links without href: feedparser 6.0 keeps the last one whatever its rel; its own
    later test suite expects the alternate one.)
    """
    link = _text(entry, "link")
    links = _dicts(entry, "links")
    if not any(x.get("href") == link and x.get("rel", "alternate") != "alternate" for x in links):
        return link
    return next((x["href"] for x in links if x.get("rel") == "alternate" and x.get("href")), link)


def _feedparser_date(entry: Any, key: str) -> datetime | None:
    """The entry's date, read by parse_date from the text when feedparser kept it."""
    # dict.get: FeedParserDict would fall back from updated to published.
    text = dict.get(entry, key)
    if isinstance(text, str) and text.strip():
        return parse_date(text)
    return struct_to_datetime(dict.get(entry, f"{key}_parsed"))


def _detail_html(detail: Mapping[str, Any] | None) -> str | None:
    if not detail or not detail.get("value"):
        return None
    value: str = detail["value"]
    return value if detail.get("type") in HTML_TYPES else html.escape(value)


def _text(entry: Mapping[str, Any], key: str) -> str | None:
    value = entry.get(key)
    return value if isinstance(value, str) else None


def _dict(entry: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = entry.get(key)
    return value if isinstance(value, Mapping) else {}


def _dicts(entry: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    """feedparser's list of records under ``key`` — which an element of the same name (an
    ``<links>`` in the feed, say) turns into a plain string."""
    value = entry.get(key)
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _feedparser_entry(entry: Any, url: str) -> RawEntry:
    title_detail = _dict(entry, "title_detail")
    contents = _dicts(entry, "content")
    details = (*contents, _dict(entry, "summary_detail"), title_detail)
    base = next((d.get("base") for d in details if d.get("base")), None)
    author = _dict(entry, "author_detail").get("name") or _text(entry, "author")
    return RawEntry(
        guid=_text(entry, "id"),
        link=_feedparser_link(entry),
        title=_text(entry, "title"),
        title_is_html=title_detail.get("type") in HTML_TYPES,
        published=_feedparser_date(entry, "published"),
        updated=_feedparser_date(entry, "updated"),
        author=author if isinstance(author, str) and author else None,
        content_html=next((v for c in contents if (v := _detail_html(c))), None),
        summary_html=_detail_html(_dict(entry, "summary_detail")),
        images=tuple(dict.fromkeys(_feedparser_images(entry))),
        categories=tuple(dict.fromkeys(
            t["term"].strip() for t in _dicts(entry, "tags") if isinstance(t.get("term"), str)
            and t["term"].strip()
        )),
        base_url=base if isinstance(base, str) and base else url or None,
        enclosures=_feedparser_enclosures(entry),
    )


def _feedparser_enclosures(entry: Any) -> tuple[Enclosure, ...]:
    """The entry's enclosures as the fast path reads them: RSS enclosures and Atom enclosure
    links, then media:content, ``itunes:duration`` on the first that is no picture."""
    found = [
        Enclosure(str(link["href"]), str(link.get("type") or ""),
                  parse_length(link.get("length")))
        for link in _dicts(entry, "links")
        if link.get("rel") == "enclosure" and isinstance(link.get("href"), str) and link["href"]
    ]
    found += [
        Enclosure(str(media["url"]), str(media.get("type") or ""),
                  parse_length(media.get("filesize")), parse_duration(media.get("duration")),
                  str(media.get("medium") or ""))
        for media in _dicts(entry, "media_content")
        if isinstance(media.get("url"), str) and media["url"]
    ]
    return with_duration(tuple(found), parse_duration(_text(entry, "itunes_duration")))


def _feedparser_images(entry: Any) -> list[str]:
    images = [t["url"] for t in _dicts(entry, "media_thumbnail") if isinstance(t.get("url"), str)]
    for media in _dicts(entry, "media_content"):
        if media.get("url") and (
            media.get("medium") == "image" or str(media.get("type", "")).startswith("image/")
        ):
            images.append(str(media["url"]))
    for link in _dicts(entry, "links"):
        href = str(link.get("href") or "")
        if (
            link.get("rel") == "enclosure"
            and href
            and (str(link.get("type", "")).startswith("image/") or IMAGE_URL.search(href))
        ):
            images.append(href)
    return images
