"""The pages of the static site: what each page shows and the hash of its inputs.

Planning is separate from rendering so that a page whose input hash is unchanged is never
rendered at all. A :class:`Page` holds its template, its context (references to the shared
:class:`~rsspage.publish.site_model.SiteModel` data, cheap to build) and its digest: a hash of
exactly what the page shows — article ids with their content hashes and times, navigation
targets, names — never of the whole site.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from rsspage.publish.site_model import ArticleView, Node, SiteModel, href
from rsspage.store import FeedHealth


@dataclass(frozen=True, slots=True)
class Page:
    #: Output path relative to the site root (not encoded).
    path: str
    template: str
    context: dict[str, Any]
    #: Hash of the page's own inputs (the build adds the template set and the config).
    digest: str
    #: The article whose whole content the page shows (an article page), else None.
    article: ArticleView | None = None


@dataclass(frozen=True, slots=True)
class Crumb:
    name: str
    #: Percent-encoded URL path relative to the site root; "" for the current page.
    url: str


def digest(*parts: str) -> str:
    return hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=16).hexdigest()


def all_pages(model: SiteModel, health: Sequence[FeedHealth], page_size: int,
              search_shards: int) -> Iterator[Page]:
    """Every page of the site, in a fixed order."""
    yield from listing_pages(model.views, "", None, page_size, list(model.categories.values()))
    for category in model.categories.values():
        yield from node_pages(category, page_size)
    yield category_index(model)
    yield from article_pages(model)
    yield from archive_pages(model)
    yield health_page(health)
    yield Page("search.html", "search.html", {"shards": search_shards}, digest(str(search_shards)))
    yield Page("404.html", "404.html", {}, digest())


def node_pages(node: Node, page_size: int) -> Iterator[Page]:
    yield from listing_pages(node.articles, node.folder, node, page_size,
                             list(node.children.values()))
    for child in node.children.values():
        yield from node_pages(child, page_size)


def crumbs(node: Node | None) -> list[Crumb]:
    if node is None:
        return []
    return [Crumb(n.name, "" if n is node else n.index) for n in node.trail]


def listing_pages(items: Sequence[ArticleView], folder: str, node: Node | None, size: int,
                  children: Sequence[Node]) -> Iterator[Page]:
    """``index.html`` with the newest ``size`` articles, then ``page/<k>.html`` for the older.

    Page k holds articles ``(k-1)*size … k*size-1`` counted from the oldest, so pages never
    shift as articles arrive. The newest, partial page is not written on its own: the index
    shows all of it (plus the newest of the page before), and links "older" to that page.
    """
    count = (len(items) + size - 1) // size  # numbered pages, the last one partial or full
    trail = crumbs(node)
    base = {"node": node, "crumbs": trail, "total": len(items)}
    nav_key = "|".join([folder, node.feeds if node else "", *(c.name for c in trail)])
    index_items = items[-size:][::-1]
    older = href(f"{folder}page/{count - 1}.html") if count > 1 else ""
    kids = "\x1e".join(f"{c.name}:{c.folder}" for c in children)
    yield Page(
        folder + "index.html", "listing.html",
        {**base, "items": index_items, "children": children, "number": 0, "older": older,
         "newer": "", "newest": "",
         "oldest": href(f"{folder}page/1.html") if count > 2 else ""},
        digest(nav_key, older, kids, str(len(items)), *(v.card_key for v in index_items)),
    )
    newest_index = href(folder + "index.html")
    for k in range(1, count):
        chunk = items[(k - 1) * size:k * size][::-1]
        newer = href(f"{folder}page/{k + 1}.html") if k + 1 < count else newest_index
        prev = href(f"{folder}page/{k - 1}.html") if k > 1 else ""
        yield Page(
            f"{folder}page/{k}.html", "listing.html",
            {**base, "items": chunk, "children": (), "number": k, "older": prev,
             "newer": newer, "newest": newest_index,
             "oldest": href(f"{folder}page/1.html") if k > 2 else ""},
            digest(nav_key, str(k), newer, prev, *(v.card_key for v in chunk)),
        )


def article_pages(model: SiteModel) -> Iterator[Page]:
    for category in model.categories.values():
        for source in category.children.values():
            for channel in source.children.values():
                yield from _channel_articles(channel)


def _channel_articles(channel: Node) -> Iterator[Page]:
    items = channel.articles
    trail = crumbs(channel)  # shared by the channel's pages (templates only read it)
    for i, view in enumerate(items):
        older = items[i - 1] if i > 0 else None
        newer = items[i + 1] if i + 1 < len(items) else None
        yield _article_page(view, older, newer, trail)


def _article_page(view: ArticleView, older: ArticleView | None,
                  newer: ArticleView | None, trail: list[Crumb]) -> Page:
    a = view.article
    parts = (view.card_key, a.category, a.source, a.channel, view.channel.feeds,
             older.card_key if older else "", newer.card_key if newer else "")
    return Page(view.path, "article.html",
                {"view": view, "older": older, "newer": newer, "crumbs": trail},
                digest(*parts), article=view)


def category_index(model: SiteModel) -> Page:
    parts: list[str] = []
    for cat in model.categories.values():
        for src in cat.children.values():
            newest = src.newest
            parts.append(f"{src.folder}:{len(src.articles)}:{newest.iso if newest else ''}")
            parts.extend(f"{ch.folder}:{len(ch.articles)}" for ch in src.children.values())
    return Page("c/index.html", "categories.html",
                {"categories": list(model.categories.values())}, digest(*parts))


def archive_pages(model: SiteModel) -> Iterator[Page]:
    """``archive/index.html`` (days by month, newest first) and one page per day."""
    days = list(model.days)
    months: dict[str, list[tuple[str, str, int]]] = {}
    for day in reversed(days):
        months.setdefault(day[:7], []).append((day, href(f"archive/{day}.html"),
                                               len(model.days[day])))
    counts = [f"{d}:{len(v)}" for d, v in model.days.items()]
    yield Page("archive/index.html", "archive.html", {"months": months}, digest(*counts))
    for i, day in enumerate(days):
        items = model.days[day][::-1]
        older = days[i - 1] if i > 0 else ""
        newer = days[i + 1] if i + 1 < len(days) else ""
        yield Page(
            f"archive/{day}.html", "day.html",
            {"day": day, "items": items, "older": older, "newer": newer},
            digest(day, older, newer, *(v.card_key for v in items)),
        )


def health_page(health: Sequence[FeedHealth]) -> Page:
    return Page("health.html", "health.html", {"feeds": list(health)},
                digest(*(repr(h) for h in health)))
