"""The articles next to changed ones in their channels, read a stretch of a channel at a time.

An incremental build renders the pages of the changed articles and of their neighbours (their
"older" and "newer" links), and each of those pages needs its own two neighbours. Read one by
one that is up to six reads an article (17,400 reads for 2,000 late articles in a 100,000-article
archive: bench_scale's +2,000); read as stretches of each channel, it is four reads a stretch
(a count and three reads).

The changed keys of a channel are cut into stretches where they lie more than :data:`GAP`
apart, so that a late article months away from the others does not make its channel be read
in between; a stretch of a busy channel (more than :data:`ROWS_PER_KEY` articles a key) is not
read at all. A stretch holds every article of the channel from its first key to its last, and
:data:`MARGIN` more on either side: enough for the neighbours of the neighbours. A question no
stretch can answer (a key of a busy channel; never one of the others or their neighbours) is
read one by one.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta

from rsspage.store import SiteQuery
from rsspage.store.site_query import Place, SiteKey
from rsspage.types import Article

__all__ = ["GAP", "MARGIN", "ROWS_PER_KEY", "Neighbours"]

#: Changed keys of a channel further apart than this are read as stretches of their own.
GAP = timedelta(hours=6)
#: Articles read beyond a stretch's first and last keys: a key's neighbour, and its neighbour.
MARGIN = 2
#: A stretch holding more articles than this for each of its keys is read one by one instead
#: (about six reads a key).
ROWS_PER_KEY = 40


@dataclass(frozen=True, slots=True)
class _Stretch:
    keys: list[SiteKey]  # of the articles, in the site's order
    articles: list[Article]
    starts: bool  # the channel has nothing before the first article
    ends: bool  # nor after the last

    def answer(self, key: SiteKey, older: bool) -> tuple[bool, Article | None]:
        """(whether it knows, the article next to ``key``): it holds every article of the
        channel from its first to its last, and all before (after) them when it starts (ends)
        the channel."""
        if older:
            at = bisect_left(self.keys, key) - 1
            if at < 0:  # none before it here: none at all when the stretch starts the channel
                return self.starts, None
            return self.ends or key <= self.keys[-1], self.articles[at]
        at = bisect_right(self.keys, key)
        if at == len(self.keys):
            return self.ends, None
        return self.starts or self.keys[0] <= key, self.articles[at]


class Neighbours:
    """The articles before and after keys in their channels (:meth:`of`), read in stretches."""

    def __init__(self, query: SiteQuery, keys: Mapping[Place, Iterable[SiteKey]]) -> None:
        self._query = query
        self._stretches: dict[Place, list[_Stretch]] = {}  # by first key
        self._firsts: dict[Place, list[SiteKey]] = {}  # their first keys
        for place, found in keys.items():
            for first, last, count in _spans(sorted(set(found))):
                # A busy channel (a hundred articles between two changed keys hours apart)
                # costs fewer reads one by one than a stretch of all its articles.
                if query.count(place, not_before=first, not_after=last) > ROWS_PER_KEY * count:
                    continue
                articles, starts, ends = query.stretch(place, first, last, MARGIN)
                self._stretches.setdefault(place, []).append(_Stretch(
                    [(a.published, a.id) for a in articles], articles, starts, ends))
                self._firsts.setdefault(place, []).append(first)

    def of(self, place: Place, key: SiteKey, *, older: bool) -> Article | None:
        """The article of ``place`` just before ``key`` (``older``) or just after it."""
        stretches = self._stretches.get(place, [])
        # The stretch whose first key is the last at or before ``key``, or one next to it,
        # holds it when any does (a bisect: a channel may have thousands of stretches).
        at = bisect_right(self._firsts.get(place, []), key)
        for stretch in stretches[max(at - 2, 0):at + 1]:
            known, article = stretch.answer(key, older)
            if known:
                return article
        return self._query.neighbour(place, key, older=older)


def _spans(keys: list[SiteKey]) -> Iterable[tuple[SiteKey, SiteKey, int]]:
    """(first, last, how many) of each run of sorted ``keys`` whose neighbours are at most GAP
    apart."""
    if not keys:
        return
    first = last = keys[0]
    count = 0
    for key in keys:
        if key[0] - last[0] > GAP:
            yield first, last, count
            first, count = key, 0
        last = key
        count += 1
    yield first, last, count
