"""The listing pages a change touches, for an incremental build (site_delta.py).

A listing (the site, a category, a source, a channel) is paged by month, or by day in a month of
over ``DAY_SPLIT_PAGES`` pages, each period cut into pages of ``page_size`` from its oldest
article, in the site's window or not (site_pages.py, ``Lead``). For each month or day a changed
article is in, now or before, the pages are planned from the first whose articles shift, with
the last page of the period before and the first of the one after (their links); an article
that only left the window shifts none: the first page left in the window is planned. The pages
a period no longer has are listed in :attr:`Planner.removed`.
Every read is a slice of the archive through an index (SiteQuery).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from rsspage.publish import table_map
from rsspage.publish.reading import card_summary
from rsspage.publish.site_model import SUMMARY_CHARS, ArticleView, Node, href, view_of
from rsspage.publish.site_pages import (
    DAY_SPLIT_PAGES,
    Lead,
    Page,
    bounds,
    chunks,
    day_of,
    index_page,
    period_page,
    period_path,
    window_lead,
)
from rsspage.store import SiteQuery
from rsspage.store.site_query import Place, SiteKey
from rsspage.types import Article


@dataclass(frozen=True, slots=True)
class _Group:
    """A month of a listing, or a day of a crowded month: the pages cut together."""

    label: str
    start: datetime
    end: datetime
    #: Its articles in the window.
    count: int
    #: Its articles before the window's start (it is the window's first month), counted in
    #: its pages' cuts all the same.
    lead: int = 0

    @property
    def total(self) -> int:
        return self.lead + self.count


class PeriodPaths:
    """The last build's period pages of each listing folder (``c/x/`` → the names under
    ``c/x/page/``), read from its page hashes when a touched listing asks for them."""

    def __init__(self, previous: Mapping[str, str]) -> None:
        self._previous = previous
        self._found: dict[str, list[str]] = {}

    def get(self, folder: str) -> list[str]:
        names = self._found.get(folder)
        if names is None:
            start = len(folder) + len("page/")
            names = self._found[folder] = [
                name[:-5] for path, _ in table_map.under(self._previous, [folder + "page/"])
                if (name := path[start:]).endswith(".html") and "/" not in name]
        return names


class Planner:
    """The listing pages of the touched months and days, and article views by id."""

    def __init__(self, query: SiteQuery, zone: ZoneInfo, size: int,
                 categories: dict[str, Node], periods: PeriodPaths) -> None:
        self._query, self._zone, self._size = query, zone, size
        self._categories = categories
        self._periods = periods
        # place → month → day → the site keys changed in it (before and after)
        self._touched: dict[Place, dict[str, dict[str, list[SiteKey]]]] = {}
        # place → the site keys of articles whose cards changed, not their places
        self._cards: dict[Place, set[SiteKey]] = {}
        # the site keys of articles that only left or entered the window: no other moved
        self._fixed: set[SiteKey] = set()
        self._lead: Lead | None = None  # read when a group of the window's first month is
        self._groups: dict[tuple[Place, str], _Group] = {}  # (place, day) → its group
        self._counted: dict[tuple[Place, str], _Group] = {}  # (place, label) → the group
        self.removed: set[str] = set()
        # id → (its story cluster, the cluster's articles in the window), read as views are made
        self._clusters: dict[str, tuple[str, Sequence[Article]]] = {}
        # id → (content hash, its card's summary): an article has a card on up to five pages
        # of a change (the site's, its category's, source's and channel's listings, its day),
        # and the summary, matched against the title character by character, was a third of
        # planning them (a few hundred bytes an article; the articles themselves are not kept)
        self._summaries: dict[str, tuple[str, str]] = {}

    def touch(self, place: Place, key: SiteKey, *, fixed: bool = False) -> None:
        """The article ``key`` came to, left or changed in ``place`` (``fixed``: it only left
        or entered the window, and no other article moved in its month)."""
        if fixed:
            self._fixed.add(key)
        day = day_of(key[0], self._zone)
        months = self._touched.setdefault(place, {})
        months.setdefault(day[:7], {}).setdefault(day, []).append(key)

    def show(self, place: Place, key: SiteKey) -> None:
        """The card of the article ``key`` changed (its story cluster), not its place: the
        page of the listing that shows it, and the index, are rendered again."""
        self._cards.setdefault(place, set()).add(key)

    def node(self, place: Place) -> Node | None:
        nodes = self._categories
        node = None
        for name in place:
            node = nodes.get(name)
            if node is None:
                return None
            nodes = node.children
        return node

    def view(self, article: Article) -> ArticleView:
        node = self.node((article.category, article.source, article.channel))
        assert node is not None
        self.read_clusters([article.id])
        cluster, members = self._clusters[article.id]
        known = self._summaries.get(article.id)
        if known is None or known[0] != article.content_hash:
            summary = card_summary(article.title, article.text, SUMMARY_CHARS)
            known = self._summaries[article.id] = (article.content_hash, summary)
        return view_of(article, node, self._zone, cluster, members, known[1])

    def views(self, articles: Sequence[Article]) -> list[ArticleView]:
        """The views of ``articles``, their clusters read at once."""
        self.read_clusters([a.id for a in articles])
        return [self.view(a) for a in articles]

    def read_clusters(self, ids: Sequence[str]) -> None:
        """Learn the story clusters of ``ids`` (as a full build knows them: site_model)."""
        missing = [i for i in ids if i not in self._clusters]
        if not missing:
            return
        for cluster, members in self._query.members(missing).items():
            for member in members:
                self._clusters[member.id] = (cluster, members)
        for ident in missing:
            self._clusters.setdefault(ident, ("", ()))

    def listing_pages(self) -> Iterator[Page]:
        for place in sorted(self._touched.keys() | self._cards.keys()):
            node = self.node(place)
            if place and node is None:
                continue  # the listing is gone: its folder goes (_gone_folders)
            listing = _Listing(self, place, node)
            yield listing.index()
            for month, days in sorted(self._touched.get(place, {}).items()):
                yield from listing.month_pages(month, days)
            yield from listing.card_pages(self._cards.get(place, set()))

    def group(self, place: Place, label: str) -> _Group:
        """The month or day ``label`` of the listing ``place``, counted once per plan (a count
        reads every row it counts: a month of the whole site's listing, 45,000 articles, took
        3.6 ms, asked again for each day a card or a change fell on)."""
        if (place, label) not in self._counted:
            start, end = bounds(label, self._zone)
            since, lead = self._query.since, 0
            if since is not None and label == day_of(since, self._zone)[:7]:
                # every listing's at once: a window's move touches all their first months
                self._lead = self._lead or window_lead(self._query, self._zone)
                lead = self._lead.counts.get(place, 0)
            self._counted[place, label] = _Group(label, start, end,
                                                 self._query.count(place, start, end), lead)
        return self._counted[place, label]

    def group_of(self, place: Place, when: datetime) -> _Group:
        """The group (month, or day of a crowded month) an article of ``when`` is paged in
        (remembered: the pages of a change are planned after all changes are known)."""
        day = day_of(when, self._zone)
        if (place, day) not in self._groups:
            month = self.group(place, day[:7])
            self._groups[place, day] = month if not self.split(month) else self.group(place, day)
        return self._groups[place, day]

    def split(self, month: _Group) -> bool:
        return month.total > DAY_SPLIT_PAGES * self._size

    def fixed(self, key: SiteKey) -> bool:
        """Whether ``key`` only left the window (an article that entered it, as the window
        moved back, is planned as new: the pages after it lose their first-page links)."""
        return key in self._fixed and self._query.since is not None \
            and key[0] < self._query.since

    def articles(self, place: Place, group: _Group, offset: int = 0,
                 limit: int = -1) -> list[ArticleView]:
        return self.views(self._query.articles(place, group.start, group.end, limit=limit,
                                               offset=offset))

    @property
    def size(self) -> int:
        return self._size

    @property
    def query(self) -> SiteQuery:
        return self._query

    @property
    def zone(self) -> ZoneInfo:
        return self._zone

    @property
    def categories(self) -> dict[str, Node]:
        return self._categories

    def old_names(self, folder: str) -> list[str]:
        return self._periods.get(folder)


class _Listing:
    """The pages of one listing that a change touches."""

    def __init__(self, planner: Planner, place: Place, node: Node | None) -> None:
        self._p, self._place, self._node = planner, place, node
        self._folder = node.folder if node else ""
        self._size = planner.size
        self._edge_cache: dict[tuple[_Group, bool], tuple[_Group, int] | None] = {}
        self._made: set[str] = set()  # the pages planned so far

    def index(self) -> Page:
        query, place, size = self._p.query, self._place, self._size
        newest = self._p.views(query.articles(place, newest_first=True, limit=size))
        total = self._node.count if self._node else query.count(place)
        older = oldest = ""
        if total > size:
            older = self._path_of(query.articles(place, newest_first=True, limit=1,
                                                 offset=size)[0])
        if first := query.articles(place, limit=1):
            group = self._p.group_of(place, first[0].published)
            oldest = self._chunk_path(group, self._first(group))
        children = list((self._node.children if self._node else self._p.categories).values())
        return index_page(newest, total, self._folder, self._node, children, older, oldest)

    def month_pages(self, month: str, days: dict[str, list[SiteKey]]) -> Iterator[Page]:
        """The pages of ``month`` (of its touched ``days`` when it is paged by day) that the
        changed keys touch, the edge pages next to them; the pages they no longer have go to
        the planner's ``removed``."""
        whole = self._p.group(self._place, month)
        old = [(_label_of(name), _part_of(name)) for name in self._p.old_names(self._folder)]
        planned: list[tuple[_Group, list[SiteKey] | None]]  # None: every page
        if not self._p.split(whole):
            # Paged by day until now: every page is new.
            by_day = any(label[:7] == month and label != month for label, _ in old)
            planned = [(whole, None if by_day else [k for keys in days.values() for k in keys])]
            gone = {label for label, _ in old if label[:7] == month and label != month}
        else:
            if any(label == month for label, _ in old):
                # Paged by month until now: every day of it gets its pages.
                days = {day_of(a.published, self._p.zone): [] for a in self._p.query.articles(
                    self._place, whole.start, whole.end)}
            planned = [(self._p.group(self._place, day), keys or None)
                       for day, keys in sorted(days.items())]
            gone = {month}
        for group, keys in planned:
            if span := self._span(group, keys):
                yield from self._pages(group, *span)
            if keys is None or not group.count or not all(map(self._p.fixed, keys)):
                # Its first or last page may have come or gone: the pages next to it link
                # to them. (Keys that left the window keep its last page, and the group
                # before it is out of the window.)
                yield from self._edges(group)
        groups = {group.label: group for group, _ in planned}
        for label, part in old:
            if label in gone or (label in groups and not self._has(groups[label], part)):
                self._p.removed.add(period_path(self._folder, label, part))

    def card_pages(self, keys: Iterable[SiteKey]) -> Iterator[Page]:
        """The pages that show the cards of ``keys`` (articles that stay where they are)."""
        chunks = {(group := self._p.group_of(self._place, key[0]), self._position(group, key))
                  for key in keys}
        for group, k in sorted(chunks, key=lambda chunk: (chunk[0].label, chunk[1])):
            if period_path(self._folder, group.label, k) not in self._made:  # not planned yet
                yield from self._pages(group, k, k)

    def _span(self, group: _Group, keys: list[SiteKey] | None) -> tuple[int, int] | None:
        """The pages of ``group`` (first and last, from 1) that ``keys`` touch: from the page
        before the first whose articles shift to the group's end; from the first page in the
        window for keys that only left it. None: no page."""
        if not group.count:
            return None
        first, last = self._first(group), self._last(group)
        if keys is None:
            return first, last
        low, high = last + 1, 0
        for key in keys:
            if self._p.fixed(key):  # before the window: its first page has one article less
                low, high = min(low, first), max(high, first)
            else:
                page = min(self._position(group, key), last)
                # From the page before it too: its link to the next page may have changed
                # (the group ends before it now).
                low, high = min(low, max(first, page - 1)), last
        return (low, high) if low <= high else None

    def _position(self, group: _Group, key: SiteKey) -> int:
        """The page of ``group`` (from 1) that lists the article ``key`` (before the window:
        the first page in it)."""
        return self._rank(group, key) // self._size + 1

    def _rank(self, group: _Group, key: SiteKey) -> int:
        """How many articles of ``group`` come before ``key``, counted from the group's nearer
        end (a count reads every row it counts: a card of yesterday in a month of 45,000
        articles cost 3.6 ms counted from the month's start, and an update's clusters ask for
        some 300 of them)."""
        query = self._p.query
        start = max(group.start, query.since) if query.since else group.start
        if group.end - key[0] < key[0] - start:
            return group.total - query.count(self._place, group.start, group.end,
                                             not_before=key)
        return group.lead + query.count(self._place, group.start, group.end, before=key)

    def _has(self, group: _Group, k: int) -> bool:
        """Whether ``group`` has the page ``k`` in the window."""
        return group.count > 0 and self._first(group) <= k <= self._last(group)

    def _first(self, group: _Group) -> int:
        """The first page of ``group`` in the window."""
        return group.lead // self._size + 1

    def _last(self, group: _Group) -> int:
        return (group.total - 1) // self._size + 1

    def _pages(self, group: _Group, low: int, high: int) -> Iterator[Page]:
        """The pages ``low`` to ``high`` of ``group`` (in the window), read at once."""
        size, lead = self._size, group.lead
        start = max(lead, (low - 1) * size)  # the place in the group of the first article
        stop = min(high * size, group.total)
        items = self._p.articles(self._place, group, offset=start - lead, limit=stop - start)
        periods = list(chunks(group.label, items, self._folder, size, start))
        before = self._chunk_path(group, low - 1) if low > self._first(group) \
            else self._before(group)
        after = self._chunk_path(group, high + 1) if high < self._last(group) \
            else self._after(group)
        for k, period in enumerate(periods):
            newer = href(periods[k + 1].path) if k + 1 < len(periods) else after
            prev = href(periods[k - 1].path) if k > 0 else before
            self._made.add(period.path)
            yield period_page(period, self._folder, self._node, newer, prev)

    def _edges(self, group: _Group) -> Iterator[Page]:
        """The last page of the group before ``group`` and the first of the one after: their
        links lead to ``group`` (or past it, when it is empty now)."""
        for edge in (self._next_to(group, older=True), self._next_to(group, older=False)):
            if edge is not None:
                yield from self._pages(edge[0], edge[1], edge[1])

    def _before(self, group: _Group) -> str:
        """URL of the last page of the group before ``group`` ("" when none)."""
        edge = self._next_to(group, older=True)
        return self._chunk_path(*edge) if edge else ""

    def _after(self, group: _Group) -> str:
        """URL of the first page of the group after ``group`` ("": the listing's index)."""
        edge = self._next_to(group, older=False)
        return self._chunk_path(*edge) if edge else ""

    def _next_to(self, group: _Group, *, older: bool) -> tuple[_Group, int] | None:
        """The group before (``older``) or after ``group`` and its page next to it (read once
        per group: its pages and the edge pages all ask)."""
        key = (group, older)
        if key not in self._edge_cache:
            place, query = self._place, self._p.query
            found = (query.articles(place, None, group.start, newest_first=True, limit=1)
                     if older else query.articles(place, group.end, None, limit=1))
            edge = None
            if found:
                near = self._p.group_of(place, found[0].published)
                edge = (near, self._last(near) if older else self._first(near))
            self._edge_cache[key] = edge
        return self._edge_cache[key]

    def _path_of(self, article: Article) -> str:
        """URL of the page listing ``article``."""
        group = self._p.group_of(self._place, article.published)
        return self._chunk_path(group, self._position(group, (article.published, article.id)))

    def _chunk_path(self, group: _Group, k: int) -> str:
        return href(period_path(self._folder, group.label, k))


def _label_of(name: str) -> str:
    """``2026-11`` of ``2026-11.3``, ``2026-11-21`` of ``2026-11-21.2``."""
    return name.split(".", 1)[0]


def _part_of(name: str) -> int:
    """``3`` of ``2026-11.3``, ``1`` of ``2026-11``."""
    _, _, part = name.partition(".")
    return int(part) if part.isdigit() else 1
