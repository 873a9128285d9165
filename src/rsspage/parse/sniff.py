"""What a response body is, from its first characters: JSON, an HTML page, or maybe a feed.

The fetch stage ("is this a feed?") and parse_feed both ask here, so both answer alike. An HTML
page is told by its root element: html, head or body, or any other element after an HTML doctype
(a page may leave out <html>). The doctype alone proves nothing, since a valid RSS or Atom
document may start with an XHTML one. The content type decides only when the root element lies
beyond the sniffed head.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from .encoding import content_type

__all__ = ["is_html_page", "is_json_type", "root_element"]

# XML declaration, processing instructions, comments and white space before the doctype/root.
_PROLOG = re.compile(r"(?:\s+|<\?[^>]*>|<!--.*?-->)*", re.DOTALL)
# A doctype's name, then its identifiers and internal subset (which may hold "<" and ">").
_DOCTYPE = re.compile(r"<!doctype\s+([^\s>\[]+)[^>\[]*(?:\[.*?\]\s*)?>", re.IGNORECASE | re.DOTALL)
_START_TAG = re.compile(r"<([A-Za-z_][\w.:-]*)")
_PAGE_ROOTS = frozenset({"html", "head", "body"})
#: Root elements of RSS 0.9x/2.0, RSS 1.0 (rdf:RDF), Atom and CDF.
FEED_ROOTS = frozenset({"rss", "rdf", "feed", "channel"})
_HTML_MEDIA = frozenset({"text/html", "application/xhtml+xml"})


def root_element(head: str) -> tuple[str | None, str | None]:
    """(doctype name, local name of the root element), lower-cased; None for either not found
    in ``head``."""
    at = _PROLOG.match(head).end()  # type: ignore[union-attr]
    doctype = _DOCTYPE.match(head, at)
    name = None
    if doctype is not None:
        name = doctype.group(1).lower()
        at = _PROLOG.match(head, doctype.end()).end()  # type: ignore[union-attr]
    tag = _START_TAG.match(head, at)
    root = tag.group(1).rpartition(":")[2].lower() if tag else None
    return name, root


def is_html_page(head: str, headers: Mapping[str, str]) -> bool:
    """Whether ``head`` (the body's first characters, see encoding.head_text) starts an HTML
    page rather than a feed."""
    doctype, root = root_element(head)
    if root in _PAGE_ROOTS:
        return True
    if root in FEED_ROOTS:
        return False
    if root is not None:
        return doctype == "html"
    return doctype == "html" and content_type(headers)[0].lower() in _HTML_MEDIA


def is_json_type(headers: Mapping[str, str]) -> bool:
    return content_type(headers)[0].lower() in ("application/json", "application/feed+json")
