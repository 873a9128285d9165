"""One ``<item>`` or ``<entry>`` read as feedparser's strict parser would read it, or Unsure.

RSS 2.0, RSS 1.0 and Atom entries share one reader: they differ only in a few defaults (a
title's and a body's type, what attributes a title may have), which ``atom`` decides.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from ..media import parse_duration, parse_length
from ..types import Enclosure, RawEntry
from .dates import parse_date
from .fp_text import (
    HTML_TYPES,
    IMAGE_URL,
    LINK_ENTITY,
    Unsure,
    attributes_of,
    content_type_of,
    fix_uri,
    fp_fixup,
    fp_value,
    leaf_text,
    looks_like_html,
)
from .fp_text import name as element_name

__all__ = ["RDF_NS", "EntryReader", "check_no_stray_entries", "with_duration"]

RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"

_PUBLISHED = frozenset({"published", "issued", "pubdate", "dcterms_issued"})
_UPDATED = frozenset({"updated", "modified", "lastbuilddate", "dc_date", "dcterms_modified"})
_AUTHORS = frozenset({"author", "dc_creator", "dc_author", "itunes_author", "managingeditor"})
_SUMMARIES = frozenset({"description", "summary", "dc_description", "abstract", "itunes_summary"})
_CONTENTS = frozenset({"content_encoded", "fullitem", "content"})
_CATEGORIES = frozenset({"category", "dc_subject"})
_PERSON_PARTS = frozenset({"name", "email", "uri", "url", "homepage"})
# Elements that switch feedparser into states the fast path does not mirror.
_UNSURE = frozenset(
    {"item", "entry", "channel", "feed", "rss", "image", "textinput", "media_title", "body",
     "xhtml_body"}
)  # fmt: skip


class EntryReader:
    """Reads one ``<item>``/``<entry>`` as feedparser's strict parser would, or raises Unsure.

    Repeated elements are resolved in feedparser's order: the first non-empty title wins (until
    a ``<source>``), the last link element wins and a permalink guid only fills in a missing
    link, the last id and the last date of each kind win, the first content wins, and of the
    summaries the second becomes the content when there is none yet, the others replace it.
    """

    # Class-level defaults: an entry sets only the fields it has.
    title: str | None = None
    title_is_html = False
    title_locked = False
    link: str | None = None
    guid: str | None = None
    published: str | None = None
    updated: str | None = None
    author: str | None = None
    content: str | None = None
    has_content = False
    summary: str | None = None
    duration: str | None = None

    def __init__(self, element: Any, atom: bool, base_url: str) -> None:
        self.element, self.atom, self.base_url = element, atom, base_url
        self.images: list[str] = []
        self.categories: list[str] = []
        #: RSS enclosures and Atom enclosure links / media:content elements, each in order.
        self.enclosures: list[Enclosure] = []
        self.media: list[Enclosure] = []

    def read(self) -> RawEntry:
        if self.element.keys():
            self._read_item_attributes()
        handlers, other = _HANDLERS, EntryReader._other
        for child in self.element:
            name = element_name(child)
            if name:
                handlers.get(name, other)(self, child, name)
        return RawEntry(
            guid=self.guid,
            link=self.link,
            title=self.title,
            title_is_html=self.title_is_html,
            published=parse_date(self.published),
            updated=parse_date(self.updated),
            author=self.author,
            content_html=self.content,
            summary_html=self.summary,
            images=tuple(dict.fromkeys(self.images)),
            categories=tuple(dict.fromkeys(self.categories)),
            base_url=self.base_url or None,
            enclosures=with_duration((*self.enclosures, *self.media),
                                     parse_duration(self.duration)),
        )

    def _read_item_attributes(self) -> None:
        for key, value in self.element.attrib.items():
            if key == f"{{{RDF_NS}}}about":
                self.guid = value
            elif key.rpartition("}")[2].lower() in ("lastmod", "href"):
                raise Unsure("CDF item attributes")

    def _title(self, child: Any, name: str) -> None:
        attrs = attributes_of(child)
        ctype = content_type_of(attrs, "text/plain") if attrs else "text/plain"
        if attrs and (len(attrs) > 1 or "type" not in attrs or not self.atom):
            raise Unsure("title attributes")
        if ctype not in ("text/plain", "text/html"):
            raise Unsure("title type")
        value = fp_value(child)
        if self.title_locked:
            return
        self.title = value
        self.title_is_html = ctype == "text/html" or (not self.atom and looks_like_html(value))
        self.title_locked = bool(value)

    def _link(self, child: Any, name: str) -> None:
        attrs = attributes_of(child)
        href = attrs.get("url", attrs.get("uri", attrs.get("href")))
        if href:
            attrs["href"] = href
        href = attrs.get("href")
        if href is None:
            value = fix_uri(fp_value(child))
            if "&" in value:
                value = LINK_ENTITY.sub(r"&\g<1>", value.replace("&amp;", "&"))
            self.link = value
            return
        if len(child):
            raise Unsure("link with children")
        rel = attrs.get("rel", "alternate")
        default_type = "application/atom+xml" if rel == "self" else "text/html"
        ctype = content_type_of(attrs, default_type)
        if ctype == "xhtml":
            ctype = "application/xhtml+xml"
        if rel == "alternate" and ctype in HTML_TYPES:
            self.link = fix_uri(href)
        elif rel == "enclosure":
            self.enclosures.append(Enclosure(href, ctype, parse_length(attrs.get("length"))))
            if ctype.startswith("image/") or IMAGE_URL.search(href):
                self.images.append(href)

    def _guid(self, child: Any, name: str) -> None:
        is_link = attributes_of(child).get("ispermalink", "true") == "true"
        value = leaf_text(child).strip()
        self.guid = fp_fixup(fix_uri(value) if is_link else value)
        if is_link and self.link is None:
            self.link = self.guid

    def _date(self, child: Any, name: str) -> None:
        if name in _PUBLISHED:
            self.published = fp_value(child)
        else:
            self.updated = fp_value(child)

    def _author(self, child: Any, name: str) -> None:
        if len(child):
            parts = {element_name(part): (part.text or "").strip() for part in _person(child)}
            value = parts.get("name") or parts.get("email") or ""
        else:
            value = _person_name(fp_value(child))
        if value and self.author is None:
            self.author = value

    def _contributor(self, child: Any, name: str) -> None:
        _person(child)

    def _body(self, child: Any, name: str) -> None:
        attrs = attributes_of(child)
        is_content = name in _CONTENTS
        if "src" in attrs or "mode" in attrs:
            raise Unsure("out-of-line or encoded content")
        default = "text/plain" if self.atom or name in ("content", "summary") else "text/html"
        ctype = content_type_of(attrs, default)
        # Bodies skip feedparser's text repairs: they cost a scan of the whole text, and the
        # documents that need them (Latin-1 by default) go to feedparser anyway.
        text = leaf_text(child).strip()
        if ctype == "text/plain" and (self.atom or not looks_like_html(text)):
            text = html.escape(text)
        elif ctype not in ("text/plain", "text/html"):
            raise Unsure("content type")
        if is_content:
            if self.content is None:
                self.content = text
            self.has_content = True
        elif self.summary is not None and not self.has_content:
            # feedparser: a second summary before any content is the content.
            self.content, self.has_content = text, True
        else:
            self.summary = text  # the last one wins

    def _category(self, child: Any, name: str) -> None:
        term = leaf_text(child)
        term = child.get("term") or term
        if term.strip():
            self.categories.append(term.strip())

    def _media(self, child: Any, name: str) -> None:
        if name == "media_group":
            for part in child:
                part_name = element_name(part)
                if part_name and (not part_name.startswith("media_") or part_name in _UNSURE):
                    raise Unsure("unusual media:group")
                if part_name:
                    self._media(part, part_name)
            return
        if len(child):
            raise Unsure("nested media element")
        attrs = attributes_of(child)
        url = attrs.get("url", attrs.get("href", ""))
        is_image = (
            name == "media_thumbnail"
            or attrs.get("medium") == "image"
            or attrs.get("type", "").startswith("image/")
            or (name in ("enclosure", "media_content") and IMAGE_URL.search(url) is not None)
        )
        if url and is_image:
            self.images.append(url)
        if url and name == "enclosure":
            self.enclosures.append(Enclosure(url, attrs.get("type", ""),
                                             parse_length(attrs.get("length"))))
        elif url and name == "media_content":
            self.media.append(Enclosure(
                url, attrs.get("type", ""), parse_length(attrs.get("filesize")),
                parse_duration(attrs.get("duration")), attrs.get("medium", "")))

    def _duration(self, child: Any, name: str) -> None:
        self.duration = fp_value(child)  # the last one wins, as in feedparser

    def _source(self, child: Any, name: str) -> None:
        # feedparser forgets the title it has seen once a <source> starts.
        self.title_locked = False
        check_no_stray_entries([child])

    def _other(self, child: Any, name: str) -> None:
        if name in _UNSURE:
            raise Unsure(f"<{name}> inside an entry")
        if any(isinstance(part.tag, str) for part in child):
            raise Unsure(f"nested elements in <{name}>")


def _person(element: Any) -> list[Any]:
    parts = [part for part in element if isinstance(part.tag, str)]
    for part in parts:
        if element_name(part) not in _PERSON_PARTS or len(part):
            raise Unsure("unusual author element")
    return parts


_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def _person_name(text: str) -> str:
    """``jo@example.com (Jo)`` → ``Jo``; plain names stay as they are."""
    if "@" not in text:
        return text
    name = _EMAIL.sub("", text).replace("()", "").replace("<>", "").strip(" ()<>")
    return name or text


_Handler = Callable[[EntryReader, Any, str], None]
_HANDLERS: dict[str, _Handler] = {
    "title": EntryReader._title,
    "dc_title": EntryReader._title,
    "link": EntryReader._link,
    "guid": EntryReader._guid,
    "id": EntryReader._guid,
    "source": EntryReader._source,
    "contributor": EntryReader._contributor,
    "enclosure": EntryReader._media,
    "media_thumbnail": EntryReader._media,
    "media_content": EntryReader._media,
    "media_group": EntryReader._media,
    "itunes_duration": EntryReader._duration,
    **{name: EntryReader._date for name in _PUBLISHED | _UPDATED},
    **{name: EntryReader._author for name in _AUTHORS},
    **{name: EntryReader._body for name in _SUMMARIES | _CONTENTS},
    **{name: EntryReader._category for name in _CATEGORIES},
}



def with_duration(enclosures: tuple[Enclosure, ...],
                  duration: int | None) -> tuple[Enclosure, ...]:
    """The enclosures, the entry's ``itunes:duration`` given to the first one that is no
    picture and has no duration of its own (iTunes: the duration of the episode's file)."""
    if duration is None:
        return enclosures
    for n, enclosure in enumerate(enclosures):
        if enclosure.duration is None and not enclosure.type.startswith("image/") and not (
                enclosure.medium == "image" or IMAGE_URL.search(enclosure.url)):
            return (*enclosures[:n], replace(enclosure, duration=duration),
                    *enclosures[n + 1:])
    return enclosures


def check_no_stray_entries(elements: Iterable[Any]) -> None:
    """feedparser starts an entry at every item/entry element, wherever it is.

    Called on everything outside the entries; inside them EntryReader admits nested elements
    only in author, media:group and source elements, and checks those itself.
    """
    for element in elements:
        if any(element_name(el) in ("item", "entry") for el in element.iter()):
            raise Unsure("item or entry element outside its usual place")
