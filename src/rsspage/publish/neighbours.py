"""The articles next to changed ones in their channels, read a stretch of a channel at a time.

An incremental build renders the pages of the changed articles and of their neighbours (their
"older" and "newer" links), and each of those pages needs its own two neighbours. Read one by
one that is up to six reads an article (17,400 reads for 2,000 late articles in a 100,000-article
archive: bench_scale's +2,000); read as stretches of each channel, it is three reads a stretch.

The changed keys of a channel are cut into stretches where they lie more than :data:`GAP`
apart, so that a late article months away from the others does not make its channel be read
in between. A stretch holds every article of the channel from its first key to its last, and
:data:`MARGIN` more on either side: enough for the neighbours of the neighbours. A question a
stretch cannot answer (it never happens for those keys and their neighbours, but is answered
right anyway) is read one by one.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta

from rsspage.store import SiteQuery
from rsspage.store.site_query import Place, SiteKey
from rsspage.types import Article

__all__ = ["GAP", "MARGIN", "Neighbours"]

#: Changed keys of a channel further apart than this are read as stretches of their own.
GAP = timedelta(hours=6)
#: Articles read beyond a stretch's first and last keys: a key's neighbour, and its neighbour.
MARGIN = 2


@dataclass(frozen=True, slots=True)
class _Stretch:
    keys: list[SiteKey]  # of the articles, in the site's order
    articles: list[Article]
    starts: bool  # the channel has nothing before the first article
    ends: bool  # nor after the last


class Neighbours:
    """The articles before and after keys in their channels (:meth:`of`), read in stretches."""

    def __init__(self, query: SiteQuery, keys: Mapping[Place, Iterable[SiteKey]]) -> None:
        self._query = query
        self._stretches: dict[Place, list[_Stretch]] = {}
        for place, found in keys.items():
            for first, last in _spans(sorted(set(found))):
                articles, starts, ends = query.stretch(place, first, last, MARGIN)
                stretch = _Stretch([(a.published, a.id) for a in articles], articles, starts,
                                   ends)
                self._stretches.setdefault(place, []).append(stretch)

    def of(self, place: Place, key: SiteKey, *, older: bool) -> Article | None:
        """The article of ``place`` just before ``key`` (``older``) or just after it."""
        for stretch in self._stretches.get(place, ()):
            # Every article of the channel from its first article to its last is in it, and
            # all before (after) it when it starts (ends) the channel.
            if (stretch.starts or stretch.keys[0] <= key) and (
                    stretch.ends or key <= stretch.keys[-1]):
                if older:
                    at = bisect_left(stretch.keys, key) - 1
                    if at >= 0:
                        return stretch.articles[at]
                    if stretch.starts:
                        return None
                else:
                    at = bisect_right(stretch.keys, key)
                    if at < len(stretch.keys):
                        return stretch.articles[at]
                    if stretch.ends:
                        return None
        return self._query.neighbour(place, key, older=older)


def _spans(keys: list[SiteKey]) -> Iterable[tuple[SiteKey, SiteKey]]:
    """(first, last) of each run of sorted ``keys`` whose neighbours are at most GAP apart."""
    if not keys:
        return
    first = last = keys[0]
    for key in keys[1:]:
        if key[0] - last[0] > GAP:
            yield first, last
            first = key
        last = key
    yield first, last
