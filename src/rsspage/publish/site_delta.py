"""The pages a change touches: an incremental build, planned from the change log.

A full build (site.py) loads every article of the site's window, models them all and checks
every page by its digest. When the last build's record says which mark of the archive the site
shows, the articles changed since (``Store.changes_since``) say which pages can differ, each
with where the article is now and where it was then:

- its article page, and those of its neighbours in its channel, before and after the change
  (their "older" and "newer" links);
- in each listing it is in (the site, its category, source and channel): the index, the pages
  of its month (or of its day, in a month crowded enough to be paged by day: site_pages.py)
  from the first whose articles shift, and the edge pages of the periods next to them (their
  links to it): delta_listings.py. An article that only left the window (it moves about
  daily) shifts none: the first page left in its month is planned and those before it go;
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
window moves back past many articles or anything but the articles changed, the caller makes a
full build.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import chain
from zoneinfo import ZoneInfo

from rsspage.publish import feed_folders, feeds_out, table_map
from rsspage.publish.delta_listings import PeriodPaths, Planner
from rsspage.publish.names import clash_key, safe_segment
from rsspage.publish.neighbours import Neighbours
from rsspage.publish.search_tiers import aware
from rsspage.publish.site_model import (
    RESERVED,
    SEGMENT_BYTES,
    ArticleView,
    Node,
    TreeNames,
    article_path,
    tree,
    tree_names,
    view_of,
)
from rsspage.publish.site_pages import (
    Page,
    archive_index,
    article_page,
    bounds,
    category_index,
    crumbs,
    day_of,
    day_page,
    digest,
    fixed_pages,
)
from rsspage.store import Change, Location, SiteQuery
from rsspage.store.site_query import EntryKey, Place, SiteKey
from rsspage.types import Article


@dataclass(slots=True)
class DeltaPlan:
    """What an incremental build renders and removes."""

    #: Category name → node, with counts (the links of the feeds and the sitemap).
    categories: dict[str, Node]
    #: Planned as they are rendered (a late article among many touches thousands of listing
    #: pages: their articles are read a batch at a time, not all held at once).
    pages: Iterable[Page] = ()
    #: Output paths that no longer belong to the site: complete once ``pages`` is consumed.
    remove: set[str] = field(default_factory=set)
    #: Places whose feed folder is rendered again: () the site, (category,), (category, source).
    feeds: set[Place] = field(default_factory=set)
    #: Entry keys of the articles changed (before and after): the search shards they fall in.
    entry_keys: set[EntryKey] = field(default_factory=set)
    #: Entry keys of the articles that left the window below its start (search_tiers.plan):
    #: their search records stay, hidden.
    hidden_keys: set[EntryKey] = field(default_factory=set)
    #: The start of the window: the search page hides records published before it.
    floor: datetime | None = None


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
    site_model.child_segments and feed_folders.folder_names)."""
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
         previous: Mapping[str, str], searchable: bool, since: datetime | None) -> DeltaPlan:
    """The pages ``changes`` touch (see the module docstring). ``previous``: the last build's
    page hashes (only the paths of its period pages are read, and of listings gone);
    ``since``: the start of its window (the articles published before it had no pages);
    ``searchable``: whether the search page offers search."""
    categories = _counted_tree(query, zone)
    current = query.by_ids(c.id for c in changes)
    # Only their story cluster changed: their pages and cards, nothing that their place decides
    # (unless they were not in the last build's window: they enter it).
    shown = [c for c in changes  # in the last build's window
             if c.before is not None and (since is None or c.before.published >= since)]
    cards = {c.id: current[c.id] for c in shown if c.cluster_only and c.id in current}
    before = [(c.id, c.before) for c in shown if c.id not in cards and c.before is not None]
    result = DeltaPlan(categories)
    planner = Planner(query, zone, size, categories, PeriodPaths(previous))
    # Where each changed article was at the last build, and where it is now.
    located = [*before, *((a.id, _location(a)) for a in current.values() if a.id not in cards)]
    window_only = {c.id for c in changes if c.window_only}
    for ident, loc in located:
        for place in _places(loc):
            planner.touch(place, (loc.published, ident), fixed=ident in window_only)
        result.feeds.update(_places(loc)[:3])
    for ident, loc in _before_window(query, zone, changes, current):
        for place in _places(loc):
            planner.touch(place, (loc.published, ident))
    for article in cards.values():
        for place in _places(_location(article)):
            planner.show(place, (article.published, article.id))
    result.remove = planner.removed  # filled as the pages are planned
    days = {day_of(loc.published, zone) for _, loc in located}
    result.pages = _once(chain(
        planner.listing_pages(), _article_pages(query, planner, current, before, cards.keys()),
        _archive_pages(query, zone, days, planner.views, result.remove,
                       {day_of(a.published, zone) for a in cards.values()}),
        [category_index(list(categories.values()))],
        fixed_pages(1 if searchable and any(n.count for n in categories.values()) else 0)))
    result.remove |= {article_path(c.id) for c in changes if c.id not in current}
    result.remove |= _gone_folders(categories, [loc for _, loc in before], previous)
    result.floor = floor = query.since
    left = {ident for ident, loc in before if ident not in current
            and floor is not None and loc.published < floor}
    result.entry_keys = {_entry(ident, loc) for ident, loc in located if ident not in left}
    result.hidden_keys = {_entry(ident, loc) for ident, loc in before if ident in left}
    return result


def _before_window(query: SiteQuery, zone: ZoneInfo, changes: Sequence[Change],
                   current: Mapping[str, Article]) -> list[tuple[str, Location]]:
    """Where the changed articles are before the window's start in its first month, or were
    from that month on (before the last build's window too, which may have started later):
    counted in the cuts of that month's pages (site_pages.Lead), they move the articles of its
    pages in the window (those that only left the window move none)."""
    if query.since is None:
        return []
    start, _ = bounds(day_of(query.since, zone)[:7], zone)
    logged = [c for c in changes if not c.window_only and not c.cluster_only]
    found = [(c.id, c.before) for c in logged
             if c.before is not None and c.before.published >= start]
    early = query.earlier([c.id for c in logged if c.id not in current], start)
    return found + [(ident, _location(article)) for ident, article in early.items()]


def _once(pages: Iterable[Page]) -> Iterator[Page]:
    """``pages`` without the second plan of a page (both read the same archive: the same)."""
    seen: set[str] = set()
    for page in pages:
        if page.path not in seen:
            seen.add(page.path)
            yield page


def _counted_tree(query: SiteQuery, zone: ZoneInfo) -> dict[str, Node]:
    rows = query.tree()
    categories = tree(tree_names((c, s, ch) for c, s, ch, _, _ in rows))
    newest_of: dict[int, datetime] = {}
    for cat, src, ch, count, newest in rows:
        for node in categories[cat].children[src].children[ch].trail:
            node.count += count
            # Compared as instants: local times around a DST change do not sort as text.
            if id(node) not in newest_of or newest > newest_of[id(node)]:
                newest_of[id(node)] = newest
                node.latest = newest.astimezone(zone).isoformat()
    return categories


def _location(article: Article) -> Location:
    return Location(article.category, article.source, article.channel, article.published,
                    article.first_seen)


def _places(loc: Location) -> list[Place]:
    return [(), (loc.category,), (loc.category, loc.source),
            (loc.category, loc.source, loc.channel)]


def _entry(ident: str, loc: Location) -> EntryKey:
    """As search_index.entry_key makes it for a view."""
    return aware(loc.first_seen or loc.published), ident


def _article_pages(query: SiteQuery, planner: Planner, current: Mapping[str, Article],
                   before: Sequence[tuple[str, Location]], cards: Collection[str],
                   ) -> Iterator[Page]:
    """The pages of the changed articles and of their neighbours, now and before (of the
    ``cards``, whose story cluster only changed, their own pages only)."""
    wanted: dict[str, Article] = dict(current)
    keys = [(_channel(_location(a)), (a.published, a.id)) for a in current.values()
            if a.id not in cards]
    # Where they were: the articles on either side of their old places.
    keys += [(_channel(loc), (loc.published, ident)) for ident, loc in before
             if planner.node(_channel(loc)) is not None]
    by_place: dict[Place, list[SiteKey]] = {}
    for place, key in [*keys, *((_channel(_location(a)), (a.published, a.id))
                                for a in current.values() if a.id in cards)]:
        by_place.setdefault(place, []).append(key)
    near = Neighbours(query, by_place)
    for place, key in keys:
        for older in (True, False):
            if (found := near.of(place, key, older=older)) is not None:
                wanted.setdefault(found.id, found)
    pages = [(article, *_next_to(near, article)) for article in wanted.values()]
    planner.read_clusters([a.id for page in pages for a in page if a is not None])  # at once
    for article, before_it, after_it in pages:
        view = planner.view(article)
        yield article_page(view, planner.view(before_it) if before_it else None,
                           planner.view(after_it) if after_it else None, crumbs(view.channel))


def _next_to(near: Neighbours, article: Article) -> tuple[Article | None, Article | None]:
    """The articles before and after ``article`` in its channel."""
    place, key = _channel(_location(article)), (article.published, article.id)
    return near.of(place, key, older=True), near.of(place, key, older=False)


def _channel(loc: Location) -> Place:
    return loc.category, loc.source, loc.channel


def _archive_pages(query: SiteQuery, zone: ZoneInfo, touched: set[str],
                   views: Callable[[Sequence[Article]], list[ArticleView]], removed: set[str],
                   cards: set[str]) -> Iterator[Page]:
    """The archive's index, the pages of the ``touched`` days and of the days next to them
    (their links), and of the days of ``cards`` (articles whose story cluster alone changed:
    the same days, their cards as they are now); the page of a day left empty goes to
    ``removed``."""
    counts = day_counts(query, zone)
    yield archive_index(counts)
    days = list(counts)
    wanted = cards & counts.keys()
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
        start, end = bounds(day, zone)
        yield day_page(day, views(query.articles((), start, end)), days[at - 1] if at else "",
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
                  previous: Mapping[str, str]) -> set[str]:
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
    return {p for p, _ in table_map.under(previous, prefixes)}


def _trail(old: Mapping[str, Node], loc: Location) -> list[Node]:
    channel = old[loc.category].children[loc.source].children[loc.channel]
    return channel.trail


def feed_groups(categories: Mapping[str, Node], places: Iterable[Place], query: SiteQuery,
                site: feed_folders.SiteFeeds) -> list[feed_folders.FeedGroup]:
    """The feed folders of ``places`` (those still in the tree), each with its newest
    articles, as feed_folders.feed_groups makes them."""
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
        groups.append(feed_folders.feed_group(site, node.feeds if node else "feeds/", place,
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
        return [(aware(when), ident) for when, ident in self._reader().entry_keys(start, end)]

    def views_between(self, start: EntryKey | None,
                      end: EntryKey | None) -> Sequence[ArticleView]:
        views = []
        for a in self._reader().by_entry(start, end):
            channel = self._categories[a.category].children[a.source].children[a.channel]
            views.append(view_of(a, channel, self._zone))
        return views

