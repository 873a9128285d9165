"""The XML and text plumbing of the feeds rsspage publishes (:mod:`.feeds_out`, :mod:`.feed_media`):
text XML 1.0 can carry, dates as the formats write them, absolute URLs on the site, elements.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import quote, urljoin, urlsplit

from lxml import etree

__all__ = ["absolute", "feed_title", "rfc822", "rfc3339", "root_element", "sub", "utc", "web",
           "xml_bytes", "xml_text"]

#: Not allowed in XML 1.0, plus C1 controls (allowed but never meant, and feedparser maps them
#: to cp1252 letters).
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_XML_SPACE = re.compile(r"[ \t\r\n]+")
#: Characters a URL may keep as they are; everything else (CJK, spaces …) is percent-encoded.
_URL_SAFE = ":/?#[]@!$&'()*+,;=%~-._"


def xml_text(text: str) -> str:
    """``text`` without the characters XML 1.0 forbids (and C1 controls)."""
    return _ILLEGAL.sub("", text)


def feed_title(title: str) -> str:
    """The title as every feed publishes it: cleaned, white space collapsed, trimmed."""
    # str.strip() also trims Unicode spaces (U+3000 …), as feedparser does on reading.
    return _XML_SPACE.sub(" ", xml_text(title)).strip()


def rfc3339(when: datetime) -> str:
    """``2024-05-01T08:30:00Z`` (UTC, whole seconds)."""
    return utc(when).replace(tzinfo=None).isoformat() + "Z"


def rfc822(when: datetime) -> str:
    """``Wed, 01 May 2024 08:30:00 GMT``."""
    return format_datetime(utc(when), usegmt=True)


def utc(when: datetime) -> datetime:
    # Article dates are aware UTC; a naive one is taken as UTC rather than local time.
    aware = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    return aware.astimezone(UTC).replace(microsecond=0)


def absolute(site_url: str, relpath: str) -> str:
    """``relpath`` on the site as an absolute, percent-encoded URL; ``""`` without a site URL."""
    if not site_url:
        return ""
    base, rel = site_url.rstrip("/") + "/", relpath.lstrip("/")
    # The site's own paths (a/3f/….html) need no urljoin, which costs ~30 µs a URL: 20,000
    # pages in the sitemap. Anything it could change (a scheme, dot or empty segments, spaces
    # or controls at the start, an odd base) still gets it.
    plain = (_joins_plainly(base) and "/." not in "/" + rel and "//" not in rel
             and ":" not in rel.partition("/")[0] and rel == rel.strip() and rel[:1] > " "
             and not any(c in rel for c in "?#\t\r\n"))
    return quote(base + rel if plain else urljoin(base, rel), safe=_URL_SAFE)


@functools.lru_cache(maxsize=16)
def _joins_plainly(base: str) -> bool:
    """Whether urljoin appends a plain relative path to ``base`` as it is."""
    return urljoin(base, "a/b.html") == base + "a/b.html"


def web(url: str) -> str:
    """``url`` when it is an http(s) URL (feed text is untrusted), else ``""``."""
    url = xml_text(url).strip()
    return url if urlsplit(url).scheme.lower() in ("http", "https") else ""


def root_element(tag: str, nsmap: Mapping[str | None, str]) -> etree._Element:
    # lxml-stubs do not admit the None key that declares a default namespace.
    return etree.Element(tag, nsmap=nsmap)  # type: ignore[arg-type]


def sub(
    parent: etree._Element, tag: str, text: str | None = None, /, **attrs: str
) -> etree._Element:
    # Positional-only text, so that an attribute may be called "text" (OPML's is).
    node = etree.SubElement(parent, tag)
    for key, value in attrs.items():
        node.set(key, value)
    if text is not None:
        node.text = text
    return node


def xml_bytes(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True)
