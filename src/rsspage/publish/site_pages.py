"""The pages of the static site: what each page shows and the hash of its inputs.

Planning is separate from rendering so that a page whose input hash is unchanged is never
rendered at all. A :class:`Page` holds its template, its context (references to the shared
:class:`~rsspage.publish.site_model.SiteModel` data, cheap to build) and its digest: a hash of
exactly what the page shows — article ids with their content hashes and times, navigation
targets, names — never of the whole site.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from rsspage.publish.site_model import ArticleView, Node, SiteModel, href
from rsspage.store import FeedHealth, SiteQuery
from rsspage.store.site_query import Place

#: The package's templates (a site's own ``templates`` folder comes first).
TEMPLATES = Path(__file__).parent / "templates"


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
    #: Hash of the page's links to its neighbours, apart from ``digest`` (an article page's
    #: links to its channel's older and newer articles: see page_links.py); "" for none.
    links: str = ""


@dataclass(frozen=True, slots=True)
class Crumb:
    name: str
    #: Percent-encoded URL path relative to the site root; "" for the current page.
    url: str


def digest(*parts: str) -> str:
    return hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=16).hexdigest()


@dataclass(frozen=True, slots=True)
class Lead:
    """The articles of the window's first month that the window has left, per listing.

    A month is cut into pages from its first article, in the window or not: the window's move
    (a day's articles leave it, about daily) then changes the first page left in the month and
    removes those before it, where cutting from the first article in the window moved every
    page of the month of every listing (2,100 of the 2,356 listing pages of an update of 1,000
    articles into 100,000; half of its site build).
    """

    #: The month the window starts in (``2026-10``); "" when the site has no window.
    month: str = ""
    #: Articles of that month published before the window's start, by place.
    counts: Mapping[Place, int] = field(default_factory=dict)

    def of(self, node: Node | None) -> int:
        return self.counts.get(tuple(n.name for n in node.trail) if node else (), 0)


def window_lead(query: SiteQuery, zone: ZoneInfo) -> Lead:
    """The :class:`Lead` of the window of ``query`` (days and months in ``zone``)."""
    if query.since is None:
        return Lead()
    month = day_of(query.since, zone)[:7]
    return Lead(month, query.leads(bounds(month, zone)[0]))


def day_of(when: datetime, zone: ZoneInfo) -> str:
    return when.astimezone(zone).date().isoformat()


def bounds(label: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """``[start, end)`` in UTC of a month (``2026-11``) or day (``2026-11-21``) in ``zone``."""
    first = date.fromisoformat(label + "-01" if len(label) == 7 else label)
    if len(label) == 7:
        last = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    else:
        last = first + timedelta(days=1)
    return _midnight(first, zone), _midnight(last, zone)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)


def all_pages(model: SiteModel, health: Sequence[FeedHealth], page_size: int,
              search_shards: int, lead: Lead | None = None) -> Iterator[Page]:
    """Every page of the site, in a fixed order."""
    lead = lead or Lead()
    yield from listing_pages(model.views, "", None, page_size, list(model.categories.values()),
                             lead)
    for category in model.categories.values():
        yield from node_pages(category, page_size, lead)
    yield category_index(list(model.categories.values()))
    yield from article_pages(model)
    yield from archive_pages(model)
    yield health_page(health)
    yield from fixed_pages(search_shards)


def fixed_pages(search_shards: int) -> Iterator[Page]:
    """The search page (whether there are shards to search) and the 404 page."""
    yield Page("search.html", "search.html", {"shards": search_shards}, digest(str(search_shards)))
    yield Page("404.html", "404.html", {}, digest())


def node_pages(node: Node, page_size: int, lead: Lead) -> Iterator[Page]:
    yield from listing_pages(node.articles, node.folder, node, page_size,
                             list(node.children.values()), lead)
    for child in node.children.values():
        yield from node_pages(child, page_size, lead)


def crumbs(node: Node | None) -> tuple[Crumb, ...]:
    if node is None:
        return ()
    return tuple(Crumb(n.name, "" if n is node else n.index) for n in node.trail)


#: A month of a listing with more than this many pages is paged by day instead, so that an
#: article arriving late (dated inside it) moves at most a day's pages, not a month's.
DAY_SPLIT_PAGES = 50


@dataclass(frozen=True, slots=True)
class Period:
    """One page of a listing's history: a month's or a day's articles (a part of them)."""

    path: str
    #: What the page is called (``2026-11``, ``2026-11-21 · 2``).
    label: str
    #: Oldest first.
    items: Sequence[ArticleView]


def listing_pages(items: Sequence[ArticleView], folder: str, node: Node | None, size: int,
                  children: Sequence[Node], lead: Lead = Lead()) -> Iterator[Page]:
    """``index.html`` with the newest ``size`` articles, then one page per month of the
    listing's history (``page/2026-11.html``; ``page/2026-11.2.html`` … when a month holds more
    than ``size``; ``page/2026-11-21.html`` … per day in a month of over
    :data:`DAY_SPLIT_PAGES` pages).

    Pages are cut by the month or day an article is dated, not by its position in the whole
    listing: a new article changes the index and the newest period's page, and one arriving late
    (an old date) changes the pages of its own period only, never every page after it. A month
    is cut from its first article even when the window has left it (:class:`Lead`): its first
    page in the window may be ``2026-10.7``, and hold fewer than ``size``.
    """
    periods = list(_periods(items, folder, size, lead.month, lead.of(node)))
    older = _page_of(periods, len(items) - size - 1) if len(items) > size else ""
    oldest = href(periods[0].path) if periods else ""
    yield index_page(items[-size:][::-1], len(items), folder, node, children, older, oldest)
    for k, period in enumerate(periods):
        newer = href(periods[k + 1].path) if k + 1 < len(periods) else ""
        prev = href(periods[k - 1].path) if k > 0 else ""
        yield period_page(period, folder, node, newer, prev)


def _listing_base(folder: str, node: Node | None) -> tuple[dict[str, Any], str]:
    """What every page of a listing shows of it, and the key of its navigation."""
    trail = crumbs(node)
    nav_key = "|".join([folder, node.feeds if node else "", *(c.name for c in trail)])
    return {"node": node, "crumbs": trail}, nav_key


def index_page(newest: Sequence[ArticleView], total: int, folder: str, node: Node | None,
               children: Sequence[Node], older: str, oldest: str) -> Page:
    """A listing's ``index.html``: its ``newest`` articles (newest first) of ``total``, links to
    the page of the next older article and to its oldest page."""
    base, nav_key = _listing_base(folder, node)
    kids = "\x1e".join(f"{c.name}:{c.folder}" for c in children)
    return Page(
        folder + "index.html", "listing.html",
        {**base, "total": total, "items": newest, "children": children, "label": "",
         "older": older, "newer": "", "newest": "", "oldest": oldest if oldest != older else ""},
        digest(nav_key, older, oldest, kids, str(total), *(v.card_key for v in newest)),
    )


def period_page(period: Period, folder: str, node: Node | None, newer: str,
                prev: str) -> Page:
    """One page of a listing's history; ``newer`` and ``prev`` link to the pages next to it
    (``newer`` "": the listing's index)."""
    base, nav_key = _listing_base(folder, node)
    newest_index = href(folder + "index.html")
    newer = newer or newest_index
    chunk = period.items[::-1]
    # No "oldest" link here: an older period appearing would change every page.
    return Page(
        period.path, "listing.html",
        {**base, "total": 0, "items": chunk, "children": (), "label": period.label,
         "older": prev, "newer": newer, "newest": newest_index, "oldest": ""},
        digest(nav_key, period.label, newer, prev, *(v.card_key for v in chunk)),
    )


def _periods(items: Sequence[ArticleView], folder: str, size: int, lead_month: str,
             lead: int) -> Iterator[Period]:
    """The listing's pages, oldest first: each month, or each day of a crowded month, cut into
    pages of ``size`` from its oldest article; ``lead`` articles of ``lead_month`` came before
    the window's start (a day starts it: a day is never cut by it)."""
    for month, in_month in _grouped(items, 7):
        before = lead if month == lead_month else 0
        if before + len(in_month) > DAY_SPLIT_PAGES * size:
            for day, in_day in _grouped(in_month, 10):
                yield from chunks(day, in_day, folder, size)
        else:
            yield from chunks(month, in_month, folder, size, before)


def _grouped(items: Sequence[ArticleView], width: int
             ) -> Iterator[tuple[str, Sequence[ArticleView]]]:
    """Runs of ``items`` (in date order) that share the first ``width`` characters of their
    day (``2026-11`` for 7, ``2026-11-21`` for 10)."""
    start = 0
    for end in range(1, len(items) + 1):
        if end == len(items) or items[end].day[:width] != items[start].day[:width]:
            yield items[start].day[:width], items[start:end]
            start = end


def chunks(period: str, items: Sequence[ArticleView], folder: str, size: int,
           first: int = 0) -> Iterator[Period]:
    """The pages of one month or day (``period``) of a listing: ``items``, oldest first, cut
    into pages of ``size`` from the period's oldest; ``first`` is the place of ``items[0]``
    in the period (the articles before it are not in ``items``)."""
    position = first
    while position < first + len(items):
        part = position // size + 1
        end = part * size
        yield Period(period_path(folder, period, part), _period_label(period, part),
                     items[position - first:end - first])
        position = end


def period_path(folder: str, period: str, part: int) -> str:
    """``<folder>page/2026-11.html`` for the first page of a period, ``2026-11.3.html`` …"""
    return f"{folder}page/{period if part == 1 else f'{period}.{part}'}.html"


def _period_label(period: str, part: int) -> str:
    return period if part == 1 else f"{period} · {part}"


def _page_of(periods: Sequence[Period], position: int) -> str:
    """The URL of the page that lists the article at ``position`` of the listing (oldest
    first): periods are consecutive runs of the listing."""
    seen = 0
    for period in periods:
        seen += len(period.items)
        if position < seen:
            return href(period.path)
    return ""


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
        yield article_page(view, older, newer, trail)


def article_page(view: ArticleView, older: ArticleView | None,
                  newer: ArticleView | None, trail: tuple[Crumb, ...]) -> Page:
    a = view.article
    parts = (view.card_key, a.category, a.source, a.channel, view.channel.feeds,
             *(f"{r.path}\x1e{r.source}\x1e{r.title}" for r in view.related))
    links = digest(older.card_key if older else "", newer.card_key if newer else "")
    return Page(view.path, "article.html",
                {"view": view, "older": older, "newer": newer, "crumbs": trail},
                digest(*parts), article=view, links=links)


def category_index(categories: Sequence[Node]) -> Page:
    parts: list[str] = []
    for cat in categories:
        parts.append(f"{cat.folder}:{cat.count}")
        for src in cat.children.values():
            parts.append(f"{src.folder}:{src.count}:{src.latest}")
            parts.extend(f"{ch.folder}:{ch.count}" for ch in src.children.values())
    return Page("c/index.html", "categories.html", {"categories": list(categories)},
                digest(*parts))


def archive_pages(model: SiteModel) -> Iterator[Page]:
    """``archive/index.html`` (days by month, newest first) and one page per day."""
    days = list(model.days)
    yield archive_index({day: len(items) for day, items in model.days.items()})
    for i, day in enumerate(days):
        older = days[i - 1] if i > 0 else ""
        newer = days[i + 1] if i + 1 < len(days) else ""
        yield day_page(day, model.days[day], older, newer)


def archive_index(counts: Mapping[str, int]) -> Page:
    """``archive/index.html`` from the number of articles of each day (days in order)."""
    months: dict[str, list[tuple[str, str, int]]] = {}
    for day in reversed(list(counts)):
        months.setdefault(day[:7], []).append((day, href(f"archive/{day}.html"), counts[day]))
    return Page("archive/index.html", "archive.html", {"months": months},
                digest(*(f"{d}:{n}" for d, n in counts.items())))


def day_page(day: str, items: Sequence[ArticleView], older: str, newer: str) -> Page:
    """``archive/<day>.html``: ``items`` (oldest first) with links to the days next to it."""
    shown = items[::-1]
    return Page(
        f"archive/{day}.html", "day.html",
        {"day": day, "items": shown, "older": older, "newer": newer},
        digest(day, older, newer, *(v.card_key for v in shown)),
    )


def health_page(health: Sequence[FeedHealth]) -> Page:
    return Page("health.html", "health.html", {"feeds": list(health)},
                digest(*(repr(h) for h in health)))
