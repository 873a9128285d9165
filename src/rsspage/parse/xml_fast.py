"""The fast path: well-formed RSS 2.0, RSS 1.0 and Atom 1.0, read with lxml the way feedparser's
strict parser would read them (same title, link, id and dates), ~40× faster.

lxml builds the tree without ever resolving entities, loading DTDs or touching the network. The
fast path gives up (Unsure → None) on anything it does not reproduce exactly: DTDs, xml:base,
Content-Location, inline XHTML, odd nesting, unknown roots. It is given UTF-8 (encoding.to_utf8).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from lxml import etree

from ..types import ParsedFeed
from .entries import RDF_NS, EntryReader, check_no_stray_entries
from .fp_text import Unsure, ttl
from .fp_text import name as element_name

__all__ = ["parse_fast"]

_ATOM_NS = "http://www.w3.org/2005/Atom"

def _xml_parser(huge_text: bool = False) -> etree.XMLParser:
    """A parser that never resolves entities, loads DTDs, touches the network or guesses.

    ``huge_text`` lifts libxml2's 10 MB cap on one text node (and its other size limits), for
    documents that failed on that cap alone; entities stay unexpanded either way.
    """
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=huge_text,
        recover=False, remove_comments=True, remove_pis=True,
    )  # fmt: skip


# libxml2's messages for a text or CDATA node over its 10 MB cap (not for excessive depth).
_TOO_LONG = re.compile(r"Text node too long|CData section too big")


def _parse_xml(data: bytes) -> Any:
    try:
        return etree.fromstring(data, _xml_parser())
    except etree.XMLSyntaxError as e:
        # A long description (a feed within fetch.max_bytes) is no reason to hand the document
        # to feedparser, which takes ~1 s per MB on it; excessive depth still is.
        if not _TOO_LONG.search(str(e)):
            raise
    return etree.fromstring(data, _xml_parser(huge_text=True))


# Anything that moves feedparser's base URI: it reads xml:base and any attribute named "base".
_HAS_BASE_ATTRIBUTE = etree.XPath("boolean(//@*[translate(local-name(), 'BASE', 'base') = 'base'])")
# DTDs (and so entities) in the prolog.
_DTD = re.compile(rb"<!DOCTYPE|<!ENTITY", re.IGNORECASE)


def parse_fast(content: bytes, headers: Mapping[str, str], url: str) -> ParsedFeed | None:
    """The feed in ``content`` (UTF-8) read by lxml, or None when feedparser must read it."""
    try:
        return _read_with_lxml(content, headers, url)
    except (Unsure, etree.XMLSyntaxError):
        return None


def _read_with_lxml(content: bytes, headers: Mapping[str, str], url: str) -> ParsedFeed | None:
    if "content-location" in headers or _DTD.search(content, 0, 4096):
        return None
    root = _parse_xml(content)
    if root.getroottree().docinfo.internalDTD is not None or _HAS_BASE_ATTRIBUTE(root):
        return None
    if root.tag == "rss":
        return _read_rss(root, url)
    if root.tag == f"{{{RDF_NS}}}RDF":
        return _read_rdf(root, url)
    if root.tag == f"{{{_ATOM_NS}}}feed":
        return _read_atom(root, url)
    return None


def _children(element: Any, name: str) -> list[Any]:
    return [child for child in element if element_name(child) == name]


def _split_entries(parent: Any, entry_name: str) -> tuple[list[Any], list[Any]]:
    """(the entry children of parent, the others), checking the others hold no entries."""
    entries: list[Any] = []
    others: list[Any] = []
    for child in parent:
        (entries if element_name(child) == entry_name else others).append(child)
    check_no_stray_entries(others)
    return entries, others


def _read_rss(root: Any, url: str) -> ParsedFeed:
    channels = [child for child in root if isinstance(child.tag, str)]
    if len(channels) != 1 or element_name(channels[0]) != "channel":
        raise Unsure("rss root without exactly one channel")
    items, others = _split_entries(channels[0], "item")
    entries = tuple(EntryReader(item, False, url).read() for item in items)
    ttls = [el.text for el in others if element_name(el) == "ttl"]
    return ParsedFeed(*_rss_feed_meta(others), entries, parser="lxml-rss",
                      ttl=ttl(ttls[0] if ttls else None))


def _read_rdf(root: Any, url: str) -> ParsedFeed:
    items, others = _split_entries(root, "item")
    entries = tuple(EntryReader(item, False, url).read() for item in items)
    channels = [child for child in others if element_name(child) == "channel"]
    title, link = _rss_feed_meta(list(channels[0])) if channels else (None, None)
    return ParsedFeed(title, link, entries, parser="lxml-rss")


def _rss_feed_meta(elements: list[Any]) -> tuple[str | None, str | None]:
    """Title and link among a channel's elements."""
    titles = [el for el in elements if element_name(el) == "title"]
    links = [el for el in elements if element_name(el) == "link"]
    title = (titles[0].text or "").strip() if titles else None
    link = (links[0].text or "").strip() if links and "href" not in links[0].attrib else None
    return title or None, link or None


def _read_atom(root: Any, url: str) -> ParsedFeed:
    entries, _ = _split_entries(root, "entry")
    parsed = tuple(EntryReader(entry, True, url).read() for entry in entries)
    titles = _children(root, "title")
    title = (titles[0].text or "").strip() if titles and len(titles[0]) == 0 else None
    link = next(
        (
            el.get("href")
            for el in _children(root, "link")
            if el.get("rel", "alternate") == "alternate" and el.get("href")
        ),
        None,
    )
    return ParsedFeed(title or None, link, parsed, parser="lxml-atom")

