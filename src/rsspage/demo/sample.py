"""The bundled demo data, loaded into typed records, and route matching like RSSHub's.

``data/feeds.json`` holds every source, route and item (all text invented for rsspage);
``data/demo-routes.json`` is the same routes as an RSSHub ``routes.json`` catalog. Item HTML
refers to the demo server as ``@BASE@``, replaced at request time because the port is only known
then.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any

#: Placeholder for the server's base URL (``http://127.0.0.1:PORT``) inside the data.
BASE = "@BASE@"
#: Size of a demo picture unless ``image_sizes`` in the data names another (portrait, square).
IMAGE_SIZE = (640, 360)
#: A demo media file the server makes: ``@BASE@/media/<name>.wav``.
MEDIA_URL = re.compile(re.escape(BASE) + r"/media/([a-z0-9\-]+)\.wav")


def data_file(name: str) -> Traversable:
    """A file of ``rsspage/demo/data`` (works from a wheel as well as a source tree)."""
    return files("rsspage.demo") / "data" / name


#: The RSSHub-shaped catalog of the demo routes.
CATALOG = data_file("demo-routes.json")


@dataclass(frozen=True, slots=True)
class DemoEnclosure:
    """A media file of a demo item (a podcast episode's audio), as the feed states it."""

    #: Its URL, with ``@BASE@`` for the server's (``@BASE@/media/<name>.wav``).
    url: str
    #: MIME type (``audio/wav``).
    type: str
    #: Size in bytes (the file the server sends has exactly this size), or None.
    length: int | None
    #: Playing time the feed states, in seconds (``itunes:duration``), or None.
    duration: int | None


@dataclass(frozen=True, slots=True)
class DemoItem:
    """One article of a demo feed."""

    title: str
    link: str
    guid: str
    #: Aware datetime; None for the few items that deliberately carry no date.
    date: datetime | None
    author: str
    categories: tuple[str, ...]
    #: Body HTML, with ``@BASE@`` for the server's URL (some parts deliberately unsafe).
    html: str
    #: An image outside the body (enclosure, media:thumbnail, JSON Feed ``image``), or None.
    image: str | None
    #: Media files (RSS ``<enclosure>``, Atom ``rel="enclosure"``, JSON Feed ``attachments``).
    enclosures: tuple[DemoEnclosure, ...] = ()


@dataclass(frozen=True, slots=True)
class DemoFeed:
    """One servable feed: what the server renders for one concrete path."""

    title: str
    #: Display name of the channel (``最新资讯``), used by the demo config.
    channel: str
    description: str
    #: The (fictional) web page the feed describes.
    link: str
    lang: str
    #: Default output: ``rss``, ``atom``, ``json`` (RSSHub-shaped) or ``wordpress`` (a blog).
    format: str
    #: Output encoding: ``utf-8`` or ``gbk``.
    encoding: str
    items: tuple[DemoItem, ...]
    #: The feed's own picture (a podcast's cover: RSS ``<image>``, ``itunes:image``), or None.
    image: str | None = None
    #: Whether it is a podcast (RSS gets the ``itunes`` namespace and its channel tags).
    podcast: bool = False


@dataclass(frozen=True, slots=True)
class DemoRoute:
    """An RSSHub route of the demo: a path pattern and one feed per parameter value."""

    namespace: str
    #: Pattern relative to the namespace, Hono-style: ``/news`` or ``/:channel``.
    path: str
    name: str
    example: str
    #: Feeds by parameter values joined with ``/`` (``""`` for a route without parameters).
    variants: Mapping[str, DemoFeed]


@dataclass(frozen=True, slots=True)
class DemoSource:
    """A demo site (an RSSHub namespace)."""

    namespace: str
    name: str
    lang: str
    #: RSSHub category key (``new-media``).
    category: str
    routes: tuple[DemoRoute, ...]


@dataclass(frozen=True, slots=True)
class DemoData:
    """Everything the demo server serves."""

    sources: tuple[DemoSource, ...]
    #: Plain (non-RSSHub) feeds by exact path, e.g. ``/blog/feed/``.
    feeds: Mapping[str, DemoFeed]
    #: Image name (without extension) → the label drawn on it.
    images: Mapping[str, str]
    #: Image name → (width, height) for the pictures not of :data:`IMAGE_SIZE`.
    image_sizes: Mapping[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def routes(self) -> tuple[DemoRoute, ...]:
        return tuple(r for s in self.sources for r in s.routes)

    def image_size(self, name: str) -> tuple[int, int]:
        return self.image_sizes.get(name, IMAGE_SIZE)

    @property
    def media(self) -> frozenset[str]:
        """Names of the media files the items refer to (``/media/<name>.wav``)."""
        feeds = [*(f for r in self.routes for f in r.variants.values()), *self.feeds.values()]
        return frozenset(m.group(1) for f in feeds for i in f.items for e in i.enclosures
                         if (m := MEDIA_URL.fullmatch(e.url)))


def _item(raw: Mapping[str, Any]) -> DemoItem:
    date = raw["date"]
    return DemoItem(
        title=raw["title"],
        link=raw["link"],
        guid=raw["guid"],
        date=datetime.fromisoformat(date) if date else None,
        author=raw["author"],
        categories=tuple(raw.get("categories", ())),
        html=raw["html"],
        image=raw.get("image"),
        enclosures=tuple(
            DemoEnclosure(e["url"], e["type"], e.get("length"), e.get("duration"))
            for e in raw.get("enclosures", ())
        ),
    )


def _feed(raw: Mapping[str, Any], lang: str, fmt: str, encoding: str) -> DemoFeed:
    return DemoFeed(
        title=raw["title"],
        channel=raw["channel"],
        description=raw["description"],
        link=raw["link"],
        lang=lang,
        format=fmt,
        encoding=encoding,
        items=tuple(_item(i) for i in raw["items"]),
        image=raw.get("image"),
        podcast=raw.get("podcast", False),
    )


def _route(namespace: str, lang: str, raw: Mapping[str, Any]) -> DemoRoute:
    variants = {
        key: _feed(feed, lang, raw["format"], raw["encoding"])
        for key, feed in raw["variants"].items()
    }
    return DemoRoute(namespace, raw["path"], raw["name"], raw["example"], variants)


def _source(raw: Mapping[str, Any]) -> DemoSource:
    ns, lang = raw["namespace"], raw["lang"]
    routes = tuple(_route(ns, lang, r) for r in raw["routes"])
    return DemoSource(ns, raw["name"], lang, raw["category"], routes)


@cache
def load_demo_data() -> DemoData:
    """Read the bundled data once (it is package data: a failure here is a packaging bug)."""
    raw = json.loads(data_file("feeds.json").read_text(encoding="utf-8"))
    feeds = {
        f["path"]: _feed(f, f["lang"], f["format"], f["encoding"]) for f in raw["feeds"]
    }
    sizes = {name: (int(w), int(h)) for name, (w, h) in raw.get("image_sizes", {}).items()}
    return DemoData(tuple(_source(s) for s in raw["sources"]), feeds, dict(raw["images"]), sizes)


def _match(pattern: str, parts: list[str]) -> str | None:
    """Parameter values of ``parts`` joined with ``/`` if they fit ``pattern``, else None."""
    want = [p for p in pattern.split("/") if p]
    values: list[str] = []
    for i, seg in enumerate(want):
        optional = seg.startswith(":") and seg.endswith("?")
        if i >= len(parts):
            if not optional:
                return None
            continue
        if seg.startswith(":"):
            values.append(parts[i])
        elif seg != parts[i]:
            return None
    return "/".join(values) if len(parts) <= len(want) else None


def find_feed(data: DemoData, path: str) -> DemoFeed | None:
    """The feed served at ``path`` (``/demo-news/world``), or None like an unknown route."""
    if path in data.feeds:
        return data.feeds[path]
    namespace, _, rest = path.strip("/").partition("/")
    parts = [p for p in rest.split("/") if p]
    for route in data.routes:
        if route.namespace != namespace:
            continue
        key = _match(route.path, parts)
        if key is not None and key in route.variants:
            return route.variants[key]
    return None


def concrete_path(route: DemoRoute, key: str) -> str:
    """The path of one variant: ``/demo-news/:channel`` with ``world`` → ``/demo-news/world``."""
    values = iter(key.split("/") if key else [])
    segs = [next(values, "") if s.startswith(":") else s for s in route.path.split("/") if s]
    return "/" + "/".join([route.namespace, *(s for s in segs if s)])


def feed_paths(data: DemoData) -> list[str]:
    """Every concrete path the server answers with a feed (RSSHub routes, then plain feeds)."""
    paths = [concrete_path(r, key) for r in data.routes for key in r.variants]
    return paths + list(data.feeds)
