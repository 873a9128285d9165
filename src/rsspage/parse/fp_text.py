"""What the fast path needs to read elements as feedparser reads them: feedparser's element
names, the clean-ups it applies to every value it pops, its guess whether an RSS title is HTML.
"""

from __future__ import annotations

import contextlib
import html
import html.entities
import re
from collections.abc import Mapping
from typing import Any

import feedparser
from feedparser.mixin import _FeedParserMixin

from .encoding import CP1252_C1

__all__ = [
    "HTML_TYPES", "IMAGE_URL", "LINK_ENTITY", "Unsure", "attributes_of", "content_type_of",
    "fix_uri", "fp_fixup", "fp_value", "leaf_text", "looks_like_html", "name", "ttl",
]

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
IMAGE_URL = re.compile(r"\.(?:jpe?g|png|gif|webp|avif|bmp)(?:[?#]|$)", re.IGNORECASE)


class Unsure(Exception):
    """The fast path cannot promise feedparser's result for this document."""


# feedparser's own namespace → prefix table, so elements get the names feedparser gives them.
_FP_NAMESPACES: dict[str, str] = {k.lower(): v for k, v in _FeedParserMixin.namespaces.items()}


def _fp_name(tag: str, prefix: str | None) -> str:
    """feedparser's handler name for an element: ``title``, ``dc_date``, ``content_encoded``…"""
    namespace, _, local = tag.rpartition("}")
    local = local.lower()
    if not namespace:
        return local
    uri = namespace[1:].lower()
    known = "" if "backend.userland.com/rss" in uri else _FP_NAMESPACES.get(uri)
    # For namespaces it does not know, feedparser goes by the prefix the document uses.
    known = known if known is not None else (prefix or "")
    return f"{known}_{local}" if known else local


# tag → feedparser name, for tags whose name does not depend on the document's prefix.
_NAMES: dict[str, str] = {}


def name(element: Any) -> str:
    """_fp_name of an element, memoised (the same tags recur in every entry)."""
    tag = element.tag
    known = _NAMES.get(tag)
    if known is not None:
        return known
    if not isinstance(tag, str):
        return ""
    found = _fp_name(tag, element.prefix)
    if len(_NAMES) < 4096 and _fp_name(tag, None) == _fp_name(tag, "_"):
        _NAMES[tag] = found
    return found


def ttl(text: object) -> int | None:
    """RSS ``<ttl>``: whole minutes; anything else (or 0) says nothing."""
    value = str(text or "").strip()
    return int(value) if value.isdigit() and 0 < int(value) < 10**7 else None


# The text clean-ups feedparser applies to every value it pops (feedparser.mixin.pop).
_URI_FIXER = re.compile(r"^([A-Za-z][A-Za-z0-9+-.]*://)(/*)(.*?)")
LINK_ENTITY = re.compile(r"&([A-Za-z0-9_]+);")
_C1_CONTROLS = re.compile("[\x80-\x9f]")
_BEYOND_LATIN1 = re.compile("[^\x00-\xff]")


def fp_fixup(text: str) -> str:
    """feedparser's repair of UTF-8 read as Latin-1, and of windows-1252 control characters."""
    if text.isascii():
        return text
    if _BEYOND_LATIN1.search(text) is None:  # a cheap test instead of a costly exception
        with contextlib.suppress(UnicodeDecodeError):
            text = text.encode("iso-8859-1").decode("utf-8")
    return text.translate(CP1252_C1) if _C1_CONTROLS.search(text) else text


def fix_uri(text: str) -> str:
    return _URI_FIXER.sub(r"\1\3", text) if ":///" in text else text


# feedparser.mixin.looks_like_html, for the RSS titles that "may or may not" be HTML.
_CLOSE_TAG = re.compile(r"</(\w+)>")
_ANY_ENTITY = re.compile(r"&#?\w+;")
_TAG_NAME = re.compile(r"</?(\w+)")
_NAMED_ENTITY = re.compile(r"&(\w+);")
_HTML_ELEMENTS = frozenset(
    feedparser.sanitizer._HTMLSanitizer.acceptable_elements  # the list looks_like_html uses
)


def looks_like_html(text: str) -> bool:
    if "<" not in text and "&" not in text:
        return False
    if not (_CLOSE_TAG.search(text) or _ANY_ENTITY.search(text)):
        return False
    if any(t.lower() not in _HTML_ELEMENTS for t in _TAG_NAME.findall(text)):
        return False
    return all(e in html.entities.entitydefs for e in _NAMED_ENTITY.findall(text))


def leaf_text(element: Any) -> str:
    """Text of an element that must have no child elements (inline markup → _Unsure)."""
    if len(element):
        raise Unsure("markup inside a text element")
    return element.text or ""


def fp_value(element: Any) -> str:
    return fp_fixup(leaf_text(element).strip())


def attributes_of(element: Any) -> dict[str, str]:
    """Attributes under feedparser's names: lower-cased, namespaced ones left out."""
    out: dict[str, str] = {}
    if not element.keys():  # most elements have none; .keys() is the cheapest look
        return out
    for key, value in element.attrib.items():
        if not key.startswith("{"):
            key = key.lower()
            out[key] = value.lower() if key in ("rel", "type") else value
    return out


def content_type_of(attributes: Mapping[str, str], default: str) -> str:
    ctype = attributes.get("type", default)
    return {"text": "text/plain", "plain": "text/plain", "html": "text/html"}.get(ctype, ctype)

