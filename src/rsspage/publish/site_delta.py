"""The pages a change touches: an incremental build, planned from the change log.

A full build (site.py) loads every article of the site's window, models them all and checks
every page by its digest. When the last build's record says which mark of the archive the site
shows, the articles changed since (``Store.changes_since``) say which pages can differ, each
with where the article is now and where it was then:

- its article page, and those of its neighbours in its channel, before and after the change
  (their "older" and "newer" links);
- in each listing it is in (the site, its category, source and channel): the index, the pages
  of its month (or of its day, in a month crowded enough to be paged by day: site_pages.py),
  and the edge pages of the periods next to them (their links to it);
- its day in the archive, the days next to it, the archive's index, the category index;
- the feed folders of the site, its category and its source; the search shards of its entry
  keys (search_index.update_tiers).

Each is read through :class:`~rsspage.store.SiteQuery` (a slice, by index) and planned with
the same functions as a full build, so a page comes out byte for byte as a full build makes it
(tests/test_site_delta.py checks that on random changes). Pages of periods, days, articles and
listings that are gone are listed in :attr:`DeltaPlan.remove`.

A change of the category tree is planned too (a new feed's listings and feeds are new pages;
a listing left empty is removed by its folder), unless a name's folder could depend on the
other names (two names that differ only in case: :func:`stable_folders`); then, as when the
window moves or anything but the articles changed, the caller makes a full build.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from rsspage.publish import feeds_out
from rsspage.publish.names import clash_key, safe_segment
from rsspage.publish.site_model import (
    RESERVED,
    SEGMENT_BYTES,
    ArticleView,
    Node,
    TreeNames,
    article_path,
    href,
    tree,
    tree_names,
    view_of,
)
from rsspage.publish.site_pages import (
    DAY_SPLIT_PAGES,
    Page,
    Period,
    archive_index,
    article_page,
    category_index,
    chunks,
    crumbs,
    day_page,
    digest,
    fixed_pages,
    index_page,
    period_page,
)
from rsspage.store import Change, Location, SiteQuery
from rsspage.store.site_query import EntryKey, Place, SiteKey
from rsspage.types import Article


@dataclass(slots=True)
class DeltaPlan:
    """What an incremental build renders and removes."""

    #: Category name → node, with counts (the links of the feeds and the sitemap).
    categories: dict[str, Node]
    pages: list[Page] = field(default_factory=list)
    #: Output paths that no longer belong to the site.
    remove: set[str] = field(default_factory=set)
    #: Places whose feed folder is rendered again: () the site, (category,), (category, source).
    feeds: set[Place] = field(default_factory=set)
    #: Entry keys of the articles changed (before and after): the search shards they fall in.
    entry_keys: set[EntryKey] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class _Group:
    """A month of a listing, or a day of a crowded month: the pages cut together."""

    label: str
    start: datetime
    end: datetime
    count: int


#: The tree key of a tree whose folders depend on more than each name (stable_folders).
UNSTABLE = "unstable"


def names_of(query: SiteQuery) -> TreeNames:
    return tree_names((c, s, ch) for c, s, ch, _, _ in query.tree())


def tree_key_of(names: TreeNames) -> str:
    """A digest of the tree's names, or :data:`UNSTABLE`."""
    if not stable_folders(names):
        return UNSTABLE
    return digest(*sorted(f"{c}\x1f{s}\x1f{ch}" for c, sources in names.items()
                          for s, channels in sources.items() for ch in channels))


def tree_key(categories: Mapping[str, Node]) -> str:
    return tree_key_of(tree_names((cat, src, ch) for cat, node in categories.items()
                                  for src, source in node.children.items()
                                  for ch in source.children))


def stable_folders(names: TreeNames) -> bool:
    """Whether every name's folder depends on the name alone: no two siblings whose safe
    folder names clash (then the first in sorted order keeps the plain name, see
    site_model.child_segments and feeds_out.folder_names)."""
    groups: list[Iterable[str]] = [names.keys()]
    for sources in names.values():
        groups.append(sources.keys())
        groups.extend(sources.values())
    for group in groups:
        keys = [clash_key(safe_segment(n, SEGMENT_BYTES)) for n in group]
        if len(set(keys)) != len(keys) or any(clash_key(r) in keys for r in RESERVED):
            return False
    return True


def plan(query: SiteQuery, changes: Sequence[Change], zone: ZoneInfo, size: int,
         previous: Iterable[str], searchable: bool) -> DeltaPlan:
    """The pages ``changes`` touch (see the module docstring). ``previous``: the paths of the
    last build's pages; ``searchable``: whether the search page offers search."""
    categories = _counted_tree(query, zone)
    previous = list(previous)
    current = query.by_ids(c.id for c in changes)
    since = query.since
    before = [(c.id, c.before) for c in changes
              if c.before is not None and (since is None or c.before.published >= since)]
    result = DeltaPlan(categories)
    planner = _Planner(query, zone, size, categories, _period_paths(previous))
    located = [*(loc for _, loc in before), *(_location(a) for a in current.values())]
    keyed = [*((ident, loc) for ident, loc in before),
             *((a.id, _location(a)) for a in current.values())]
    for ident, loc in keyed:
        for place in _places(loc):
            planner.touch(place, (loc.published, ident))
        result.feeds.update(_places(loc)[:3])
    pages: list[Page] = [*planner.listing_pages()]
    pages += _article_pages(query, planner, current, before)
    days = {_day(loc.published, zone) for loc in located}
    pages += _archive_pages(query, zone, days, planner.view, result.remove)
    pages.append(category_index(list(categories.values())))
    pages += fixed_pages(1 if searchable and any(n.count for n in categories.values()) else 0)
    result.pages = list({page.path: page for page in pages}.values())  # a page planned twice
    result.remove |= planner.removed | {article_path(c.id) for c in changes
                                        if c.id not in current}
    result.remove |= _gone_folders(categories, [loc for _, loc in before], previous)
    result.entry_keys = {*(_entry(ident, loc) for ident, loc in before),
                         *(_entry(a.id, _location(a)) for a in current.values())}
    return result


def _counted_tree(query: SiteQuery, zone: ZoneInfo) -> dict[str, Node]:
    rows = query.tree()
    categories = tree(tree_names((c, s, ch) for c, s, ch, _, _ in rows))
    for cat, src, ch, count, newest in rows:
        latest = newest.astimezone(zone).isoformat()
        for node in categories[cat].children[src].children[ch].trail:
            node.count += count
            node.latest = max(node.latest, latest)
    return categories


def _location(article: Article) -> Location:
    return Location(article.category, article.source, article.channel, article.published,
                    article.first_seen)


def _places(loc: Location) -> list[Place]:
    return [(), (loc.category,), (loc.category, loc.source),
            (loc.category, loc.source, loc.channel)]


def _entry(ident: str, loc: Location) -> EntryKey:
    when = loc.first_seen or loc.published
    return (when if when.tzinfo else when.replace(tzinfo=UTC)), ident


def _day(when: datetime, zone: ZoneInfo) -> str:
    return when.astimezone(zone).date().isoformat()


def _bounds(label: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """``[start, end)`` in UTC of a month (``2026-11``) or day (``2026-11-21``) in ``zone``."""
    first = date.fromisoformat(label + "-01" if len(label) == 7 else label)
    if len(label) == 7:
        last = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    else:
        last = first + timedelta(days=1)
    return _midnight(first, zone), _midnight(last, zone)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)


def _period_paths(previous: Iterable[str]) -> dict[str, list[str]]:
    """The last build's period pages by listing folder (``c/x/`` → names under ``page/``)."""
    found: dict[str, list[str]] = {}
    for path in previous:
        folder, sep, name = path.rpartition("page/")
        if sep and name.endswith(".html") and "/" not in name:
            found.setdefault(folder, []).append(name[:-5])
    return found


class _Planner:
    """The listing pages of the touched months and days, and article views by id."""

    def __init__(self, query: SiteQuery, zone: ZoneInfo, size: int,
                 categories: dict[str, Node], periods: Mapping[str, list[str]]) -> None:
        self._query, self._zone, self._size = query, zone, size
        self._categories = categories
        self._periods = periods
        # place → month → day → the site keys changed in it (before and after)
        self._touched: dict[Place, dict[str, dict[str, list[SiteKey]]]] = {}
        self.removed: set[str] = set()

    def touch(self, place: Place, key: SiteKey) -> None:
        day = _day(key[0], self._zone)
        months = self._touched.setdefault(place, {})
        months.setdefault(day[:7], {}).setdefault(day, []).append(key)

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
        return view_of(article, node, self._zone)

    def listing_pages(self) -> Iterator[Page]:
        for place, months in sorted(self._touched.items()):
            node = self.node(place)
            if place and node is None:
                continue  # the listing is gone: its folder goes (_gone_folders)
            listing = _Listing(self, place, node)
            yield listing.index()
            for month, days in sorted(months.items()):
                yield from listing.month_pages(month, days)

    def group(self, place: Place, label: str) -> _Group:
        start, end = _bounds(label, self._zone)
        return _Group(label, start, end, self._query.count(place, start, end))

    def group_of(self, place: Place, when: datetime) -> _Group:
        """The group (month, or day of a crowded month) an article of ``when`` is paged in."""
        day = _day(when, self._zone)
        month = self.group(place, day[:7])
        return month if not self.split(month) else self.group(place, day)

    def split(self, month: _Group) -> bool:
        return month.count > DAY_SPLIT_PAGES * self._size

    def articles(self, place: Place, group: _Group, offset: int = 0,
                 limit: int = -1) -> list[ArticleView]:
        return [self.view(a) for a in self._query.articles(
            place, group.start, group.end, limit=limit, offset=offset)]

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
        return self._periods.get(folder, [])


class _Listing:
    """The pages of one listing that a change touches."""

    def __init__(self, planner: _Planner, place: Place, node: Node | None) -> None:
        self._p, self._place, self._node = planner, place, node
        self._folder = node.folder if node else ""
        self._size = planner.size

    def index(self) -> Page:
        query, place, size = self._p.query, self._place, self._size
        newest = [self._p.view(a) for a in query.articles(place, newest_first=True, limit=size)]
        total = self._node.count if self._node else query.count(place)
        older = oldest = ""
        if total > size:
            older = self._path_of(query.articles(place, newest_first=True, limit=1,
                                                 offset=size)[0])
        if first := query.articles(place, limit=1):
            oldest = self._chunk_path(self._p.group_of(place, first[0].published), 1)
        children = list((self._node.children if self._node else self._p.categories).values())
        return index_page(newest, total, self._folder, self._node, children, older, oldest)

    def month_pages(self, month: str, days: dict[str, list[SiteKey]]) -> Iterator[Page]:
        """The pages of ``month`` (of its touched ``days`` when it is paged by day) from the
        first that holds a changed key, the edge pages next to them; the pages they no longer
        have go to the planner's ``removed``."""
        whole = self._p.group(self._place, month)
        old = [(_label_of(name), _part_of(name)) for name in self._p.old_names(self._folder)]
        if not self._p.split(whole):
            # Paged by day until now: every page is new.
            first = None if any(label[:7] == month and label != month for label, _ in old) \
                else min(key for keys in days.values() for key in keys)
            planned = [(whole, first)]
            gone = {label for label, _ in old if label[:7] == month and label != month}
        else:
            if any(label == month for label, _ in old):
                # Paged by month until now: every day of it gets its pages.
                days = {_day(a.published, self._p.zone): [] for a in self._p.query.articles(
                    self._place, whole.start, whole.end)}
            planned = [(self._p.group(self._place, day), min(keys) if keys else None)
                       for day, keys in sorted(days.items())]
            gone = {month}
        for group, first in planned:
            yield from self._group_pages(group, first)
            yield from self._edges(group)
        parts = {group.label: (group.count + self._size - 1) // self._size
                 for group, _ in planned}
        for label, part in old:
            if label in gone or part > parts.get(label, part):
                name = label if part == 1 else f"{label}.{part}"
                self._p.removed.add(f"{self._folder}page/{name}.html")

    def _group_pages(self, group: _Group, first: SiteKey | None) -> Iterator[Page]:
        """The pages of ``group`` from the one that lists ``first`` (None: all of them): the
        pages before it list the same articles as before."""
        if not group.count:
            return
        size = self._size
        skip = 0
        if first is not None:
            # From the page before it too: its link to the next page may have changed (the
            # group ends before it now).
            skip = self._p.query.count(self._place, group.start, group.end,
                                       before=first) // size * size
            skip = max(0, min(skip, (group.count - 1) // size * size) - size)
        items = self._p.articles(self._place, group, offset=skip)
        periods = list(chunks(group.label, items, self._folder, size))
        periods = [Period(self._period_path(group, k), _period_label(group.label, k), p.items)
                   for k, p in enumerate(periods, skip // size + 1)]
        before = self._chunk_path(group, skip // size) if skip else self._before(group)
        after = self._after(group)
        for k, period in enumerate(periods):
            newer = href(periods[k + 1].path) if k + 1 < len(periods) else after
            prev = href(periods[k - 1].path) if k > 0 else before
            yield period_page(period, self._folder, self._node, newer, prev)

    def _edges(self, group: _Group) -> Iterator[Page]:
        """The last page of the group before ``group`` and the first of the one after: their
        links lead to ``group`` (or past it, when it is empty now)."""
        place, query = self._place, self._p.query
        older = query.articles(place, None, group.start, newest_first=True, limit=1)
        if older:
            prior = self._p.group_of(place, older[0].published)
            last = (prior.count - 1) // self._size + 1
            yield self._chunk_page(prior, last)
        newer = query.articles(place, group.end, None, limit=1)
        if newer:
            yield self._chunk_page(self._p.group_of(place, newer[0].published), 1)

    def _chunk_page(self, group: _Group, k: int) -> Page:
        size = self._size
        items = self._p.articles(self._place, group, offset=(k - 1) * size, limit=size)
        last = (group.count - 1) // size + 1
        period = Period(self._period_path(group, k), _period_label(group.label, k), items)
        newer = self._chunk_path(group, k + 1) if k < last else self._after(group)
        prev = self._chunk_path(group, k - 1) if k > 1 else self._before(group)
        return period_page(period, self._folder, self._node, newer, prev)

    def _before(self, group: _Group) -> str:
        """URL of the last page of the group before ``group`` ("" when none)."""
        older = self._p.query.articles(self._place, None, group.start, newest_first=True,
                                       limit=1)
        if not older:
            return ""
        prior = self._p.group_of(self._place, older[0].published)
        return self._chunk_path(prior, (prior.count - 1) // self._size + 1)

    def _after(self, group: _Group) -> str:
        """URL of the first page of the group after ``group`` ("": the listing's index)."""
        newer = self._p.query.articles(self._place, group.end, None, limit=1)
        if not newer:
            return ""
        return self._chunk_path(self._p.group_of(self._place, newer[0].published), 1)

    def _path_of(self, article: Article) -> str:
        """URL of the page listing ``article``."""
        group = self._p.group_of(self._place, article.published)
        position = self._p.query.count(self._place, group.start, group.end,
                                       before=(article.published, article.id))
        return self._chunk_path(group, position // self._size + 1)

    def _chunk_path(self, group: _Group, k: int) -> str:
        return href(self._period_path(group, k))

    def _period_path(self, group: _Group, k: int) -> str:
        name = group.label if k == 1 else f"{group.label}.{k}"
        return f"{self._folder}page/{name}.html"


def _period_label(label: str, k: int) -> str:
    return label if k == 1 else f"{label} · {k}"


def _label_of(name: str) -> str:
    """``2026-11`` of ``2026-11.3``, ``2026-11-21`` of ``2026-11-21.2``."""
    return name.split(".", 1)[0]


def _part_of(name: str) -> int:
    """``3`` of ``2026-11.3``, ``1`` of ``2026-11``."""
    _, _, part = name.partition(".")
    return int(part) if part.isdigit() else 1


def _article_pages(query: SiteQuery, planner: _Planner, current: Mapping[str, Article],
                   before: Sequence[tuple[str, Location]]) -> Iterator[Page]:
    """The pages of the changed articles and of their neighbours, now and before."""
    wanted: dict[str, Article] = dict(current)
    keys = [(_channel(_location(a)), (a.published, a.id)) for a in current.values()]
    # Where they were: the articles on either side of their old places.
    keys += [(_channel(loc), (loc.published, ident)) for ident, loc in before
             if planner.node(_channel(loc)) is not None]
    for place, key in keys:
        for older in (True, False):
            if (near := _near(query, place, key, older)) is not None:
                wanted.setdefault(near.id, near)
    for article in wanted.values():
        view = planner.view(article)
        place = _channel(_location(article))
        key = (article.published, article.id)
        before_it, after_it = (_near(query, place, key, flag) for flag in (True, False))
        yield article_page(view, planner.view(before_it) if before_it else None,
                           planner.view(after_it) if after_it else None, crumbs(view.channel))


def _near(query: SiteQuery, place: Place, key: tuple[datetime, str],
          older: bool) -> Article | None:
    return query.neighbour(place, key, older=older)


def _channel(loc: Location) -> Place:
    return loc.category, loc.source, loc.channel


def _archive_pages(query: SiteQuery, zone: ZoneInfo, touched: set[str],
                   view: Callable[[Article], ArticleView], removed: set[str]) -> Iterator[Page]:
    """The archive's index, the pages of the ``touched`` days and of the days next to them
    (their links); the page of a day left empty goes to ``removed``."""
    counts = day_counts(query, zone)
    yield archive_index(counts)
    days = list(counts)
    wanted: set[str] = set()
    for day in touched:
        at = bisect_left(days, day)
        after = at
        if day in counts:
            wanted.add(day)
            after += 1
        else:
            removed.add(f"archive/{day}.html")
        wanted.update(days[n] for n in (at - 1, after) if 0 <= n < len(days))
    for day in sorted(wanted):
        at = bisect_left(days, day)
        start, end = _bounds(day, zone)
        items = [view(a) for a in query.articles((), start, end)]
        yield day_page(day, items, days[at - 1] if at else "",
                       days[at + 1] if at + 1 < len(days) else "")


def day_counts(query: SiteQuery, zone: ZoneInfo) -> dict[str, int]:
    """Articles per day in ``zone``, days in order, from counts per hour (per minute in a zone
    whose offset is not whole hours)."""
    counts: dict[str, int] = {}
    buckets = query.hour_counts()
    if not all(_whole_hours(hour, zone) for hour, _ in buckets):
        buckets = query.minute_counts()
    for stamp, count in buckets:
        when = datetime.fromisoformat(stamp + (":00" if len(stamp) == 13 else "")).replace(
            tzinfo=UTC)
        day = when.astimezone(zone).date().isoformat()
        counts[day] = counts.get(day, 0) + count
    return dict(sorted(counts.items()))


def _whole_hours(hour: str, zone: ZoneInfo) -> bool:
    offset = datetime.fromisoformat(hour + ":00").replace(tzinfo=UTC).astimezone(
        zone).utcoffset()
    return offset is not None and offset.total_seconds() % 3600 == 0


def _gone_folders(categories: Mapping[str, Node], before: Sequence[Location],
                  previous: Iterable[str]) -> set[str]:
    """Every page and feed file of the listings the changes left empty (their folder depends
    on their name alone: stable_folders)."""
    prefixes: set[str] = set()
    for loc in before:
        old = tree(tree_names([(loc.category, loc.source, loc.channel)]))
        node: Node | None = None
        level: Mapping[str, Node] = categories
        for name, old_node in zip(_channel(loc), _trail(old, loc), strict=True):
            node = level.get(name)
            if node is None:
                prefixes.add(old_node.folder)
                if old_node.kind != "channel":
                    prefixes.add(old_node.feeds)
                break
            level = node.children
    if not prefixes:
        return set()
    return {p for p in previous if p.startswith(tuple(prefixes))}


def _trail(old: Mapping[str, Node], loc: Location) -> list[Node]:
    channel = old[loc.category].children[loc.source].children[loc.channel]
    return channel.trail


def feed_groups(categories: Mapping[str, Node], places: Iterable[Place], query: SiteQuery,
                site: feeds_out.SiteFeeds) -> list[feeds_out.FeedGroup]:
    """The feed folders of ``places`` (those still in the tree), each with its newest
    articles, as feeds_out.feed_groups makes them."""
    groups = []
    for place in sorted(set(places)):
        node: Node | None = None
        level: Mapping[str, Node] = categories
        for name in place:
            node = level.get(name)
            if node is None:
                break
            level = node.children
        if place and node is None:
            continue
        articles = query.articles(place, newest_first=True, limit=feeds_out.FEED_LIMIT)
        groups.append(feeds_out.feed_group(site, node.feeds if node else "feeds/", place,
                                           articles))
    return groups


class QuerySource:
    """The search shards' articles read from the store (search_index.SearchSource)."""

    def __init__(self, query: SiteQuery, categories: Mapping[str, Node],
                 zone: ZoneInfo) -> None:
        # Search is indexed in a thread of its own: it reads through a connection of its own.
        self._reopen = query.for_another_thread()
        self._query: SiteQuery | None = None
        self._categories, self._zone = categories, zone

    def _reader(self) -> SiteQuery:
        if self._query is None:
            self._query = self._reopen()
        return self._query

    def keys_between(self, start: EntryKey | None, end: EntryKey | None) -> Sequence[EntryKey]:
        return [(_aware(when), ident) for when, ident in self._reader().entry_keys(start, end)]

    def views_between(self, start: EntryKey | None,
                      end: EntryKey | None) -> Sequence[ArticleView]:
        views = []
        for a in self._reader().by_entry(start, end):
            channel = self._categories[a.category].children[a.source].children[a.channel]
            views.append(view_of(a, channel, self._zone))
        return views


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=UTC)
