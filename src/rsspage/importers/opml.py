"""Subscriptions (OPML 1.0/2.0) → the ``routes`` / ``feeds`` entries to add to the config.

Read as Miniflux, FreshRSS, Inoreader, Feedly and NetNewsWire export it: ``<body>`` holds
outlines; an outline with an ``xmlUrl`` is a feed, one without is a folder. Names:

- category: the *outermost* folder the feed is in (a reader's nested folders ``技术/Python``
  file the feed under ``技术``: rsspage's category is one level, and the outermost folder is the
  user's broadest grouping); a feed outside any folder gets none (rsspage files it under 未分类).
- source: the feed outline's ``title`` (else ``text``), for ordinary feeds. Channel is left out,
  so rsspage takes it from the feed's own title as for any feed without one.
- a feed whose URL is a route of one of the configured RSSHub instances (same scheme, host,
  port and path prefix) becomes a ``routes`` entry with the path — so instance fail-over and the
  catalog's names apply; it keeps only the folder as its category (a reader's title for an RSSHub
  feed is the feed's whole title, "快科技 - 最新新闻", not a source). An access ``key``/``code``
  in its query is dropped (a secret never goes into the config).

Skipped, each with its reason: outlines without an http(s) ``xmlUrl``, a feed given twice in the
file, and feeds the config already follows (same URL, or the same route path).

The XML is parsed without the network, without loading DTDs or expanding entities, and with
lxml's size limits on; a document with a DOCTYPE is refused outright (an OPML file has none;
external entities (XXE) and entity bombs need one).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qsl, urlencode, urlsplit

from lxml import etree

from rsspage.errors import RsspageError
from rsspage.sanitise import truncate_utf8
from rsspage.types import MAX_NAME_BYTES

__all__ = ["Addition", "ImportPlan", "OpmlError", "OpmlFeed", "plan_import", "read_opml"]

#: OPML files bigger than this are refused (a subscription list is kilobytes).
MAX_BYTES = 20 * 1024 * 1024
#: Query parameters that carry an RSSHub access key; never copied into the config.
_SECRET_PARAMS = {"key", "code"}
#: Outline types that are web scraping rules, not feeds (FreshRSS: HTML+XPath, XML+XPath,
#: JSON+DotNotation, HTML+XPath+JSON+DotNotation).
_SCRAPERS = ("xpath", "dotnotation")


_DOCTYPE = ("has a DOCTYPE (entity declarations): refused (OPML has none, and entities can "
            "read local files or grow without bound)")


class OpmlError(RsspageError):
    """The file is not usable OPML; the message names the file (and line when known)."""


@dataclass(frozen=True, slots=True)
class OpmlFeed:
    """One feed outline of the file."""

    url: str
    #: The outline's title (else text), "" when it has none.
    title: str
    #: The outermost folder, None outside any folder.
    category: str | None
    line: int | None
    #: The outline's ``type`` when it is not a feed (FreshRSS's ``HTML+XPath`` web scraping).
    scraper: str | None = None


@dataclass(frozen=True, slots=True)
class Addition:
    kind: Literal["route", "feed"]
    #: Route path or feed URL (the feed's key in rsspage).
    key: str
    category: str | None
    source: str | None
    url: str
    line: int | None

    def entry(self) -> dict[str, str]:
        """The config entry: ``{path|url: ..., category: ..., source: ...}``."""
        out = {"path" if self.kind == "route" else "url": self.key}
        if self.category:
            out["category"] = self.category
        if self.source:
            out["source"] = self.source
        return out


@dataclass(frozen=True, slots=True)
class Skipped:
    url: str
    title: str
    reason: str
    line: int | None


@dataclass(frozen=True, slots=True)
class ImportPlan:
    added: tuple[Addition, ...]
    skipped: tuple[Skipped, ...]

    def entries(self) -> dict[str, list[dict[str, str]]]:
        return {
            "routes": [a.entry() for a in self.added if a.kind == "route"],
            "feeds": [a.entry() for a in self.added if a.kind == "feed"],
        }


# --------------------------------------------------------------------------- reading


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
        huge_tree=False, remove_comments=True, remove_pis=True,
    )


def read_opml(path: Path) -> list[OpmlFeed]:
    """The feed outlines of an OPML file, in document order; OpmlError when it is not OPML."""
    try:
        with path.open("rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as e:
        raise OpmlError(f"{path}: cannot read: {e.strerror or e}") from e
    if len(data) > MAX_BYTES:
        raise OpmlError(f"{path}: larger than {MAX_BYTES // (1024 * 1024)} MB, not a "
                        "subscription list")
    return parse_opml(data, str(path))


def parse_opml(data: bytes, name: str = "subscriptions.opml") -> list[OpmlFeed]:
    if not data.strip():
        raise OpmlError(f"{name}: empty file, not OPML")
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise OpmlError(f"{name}: {_DOCTYPE}")
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as e:
        line = getattr(e, "lineno", None)
        where = f"{name}:{line}" if line else name
        raise OpmlError(f"{where}: not well-formed XML: {e.msg}") from e
    tree = root.getroottree()
    if tree.docinfo.internalDTD is not None or tree.docinfo.externalDTD is not None:
        raise OpmlError(f"{name}: {_DOCTYPE}")
    if etree.QName(root).localname != "opml":
        tag = etree.QName(root).localname
        raise OpmlError(f"{name}:{root.sourceline}: the root element is <{tag}>, not <opml>")
    body = next((c for c in root if _local(c) == "body"), None)
    if body is None:
        raise OpmlError(f"{name}:{root.sourceline}: <opml> has no <body>")
    return list(_walk(body, None))


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def _name(el: etree._Element) -> str:
    for attr in ("title", "text"):
        value = " ".join((el.get(attr) or "").split())
        if value:
            return truncate_utf8(value, MAX_NAME_BYTES).rstrip()
    return ""


def _walk(parent: etree._Element, category: str | None) -> Iterator[OpmlFeed]:
    for el in parent:
        if _local(el) != "outline":
            continue
        url = (el.get("xmlUrl") or el.get("xmlurl") or "").strip()
        if url:
            kind = el.get("type") or ""
            scraper = kind if any(k in kind.lower() for k in _SCRAPERS) else None
            line = el.sourceline if isinstance(el.sourceline, int) else None
            yield OpmlFeed(url, _name(el), category, line, scraper)
        else:  # a folder: its name is the category unless an outer folder named it already
            yield from _walk(el, category if category is not None else (_name(el) or None))


# --------------------------------------------------------------------------- planning


@dataclass(frozen=True, slots=True)
class _Instance:
    scheme: str
    host: str
    port: int | None
    prefix: str


def _port(scheme: str, port: int | None) -> int | None:
    return port if port is not None else {"http": 80, "https": 443}.get(scheme)


def _instance(url: str) -> _Instance | None:
    try:
        parts = urlsplit(url)
        return _Instance(parts.scheme.lower(), (parts.hostname or "").lower(),
                         _port(parts.scheme.lower(), parts.port), parts.path.rstrip("/"))
    except ValueError:
        return None


def route_path(url: str, instances: Iterable[_Instance]) -> str | None:
    """The route path when ``url`` is a route of one of ``instances``, else None."""
    try:
        parts = urlsplit(url)
        scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
        port = _port(scheme, parts.port)
    except ValueError:
        return None
    for inst in instances:
        if (scheme, host, port) != (inst.scheme, inst.host, inst.port):
            continue
        if inst.prefix and not parts.path.startswith(inst.prefix + "/"):
            continue
        path = parts.path[len(inst.prefix):]
        if not path.startswith("/") or path.startswith("//") or path == "/":
            continue
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                 if k not in _SECRET_PARAMS]
        return path + ("?" + urlencode(query) if query else "")
    return None


def _instance_urls(instances: Iterable[object]) -> list[_Instance]:
    out = []
    for inst in instances:
        url = inst if isinstance(inst, str) else getattr(inst, "url", "")
        parsed = _instance(str(url))
        if parsed is not None and parsed.host:
            out.append(parsed)
    return out


def plan_import(feeds: Iterable[OpmlFeed], instances: Iterable[object],
                route_paths: Iterable[str], feed_urls: Iterable[str]) -> ImportPlan:
    """What to add and what to skip, given the config's instances, routes and feed URLs."""
    insts = _instance_urls(instances)
    known: dict[str, str] = {}
    for followed in route_paths:
        known[followed] = "already followed as a route"
    for url in feed_urls:
        known[url] = "already followed as a feed"
        as_route = route_path(url, insts)
        if as_route is not None:
            known.setdefault(as_route, "already followed as a feed")
    added: list[Addition] = []
    skipped: list[Skipped] = []
    seen: dict[str, int | None] = {}
    for feed in feeds:
        try:
            scheme = urlsplit(feed.url).scheme.lower()
        except ValueError:
            scheme = ""
        if scheme not in ("http", "https"):
            skipped.append(Skipped(feed.url, feed.title, "not an http(s) URL", feed.line))
            continue
        if feed.scraper:
            skipped.append(Skipped(feed.url, feed.title, f"not a feed (type {feed.scraper}: "
                                   "the reader scraped a web page)", feed.line))
            continue
        path = route_path(feed.url, insts)
        key = path if path is not None else feed.url
        if key in known:
            skipped.append(Skipped(feed.url, feed.title, known[key], feed.line))
            continue
        if key in seen:
            where = f" (line {seen[key]})" if seen[key] else ""
            skipped.append(Skipped(feed.url, feed.title, f"given twice in the file{where}",
                                   feed.line))
            continue
        seen[key] = feed.line
        if path is not None:
            added.append(Addition("route", path, feed.category, None, feed.url, feed.line))
        else:
            added.append(Addition("feed", feed.url, feed.category, feed.title or None,
                                  feed.url, feed.line))
    return ImportPlan(tuple(added), tuple(skipped))
