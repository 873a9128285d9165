"""One clustering pass over a run's new articles, decided in memory (store/clusters.py reads
what it needs from the archive first and writes what it decided after).

The new articles are taken in the order they were published. Each is compared with the
candidates the archive gave it (filed articles sharing its sketch keys within the window) and
with the pass's articles before it sharing a key (an index in memory: their keys are written
after the pass), and joins the cluster of the most similar one at the threshold or above, unless
its source reported that story already, or it does not tell the story of the cluster's first
article too (else each join could drift a little further, and unrelated stories chained up).
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import chain, repeat
from typing import Protocol

from rsspage.clusters import (
    THRESHOLD,
    WINDOW_DAYS,
    Features,
    Mass,
    mass,
    similarity,
)

#: Candidates (those sharing the most keys) compared in full.
COMPARED = 6
#: The pass's own articles looked at per key: as many as the archive gives (store/clusters.py).
PER_KEY = 24
_WINDOW = timedelta(days=WINDOW_DAYS)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def day_of(when: datetime) -> int:
    """The day number of ``when`` (UTC), as ``cluster_keys`` files it."""
    return (when - _EPOCH).days


def week_of(day: int) -> int:
    """The week of a day number, as ``cluster_keys`` files it (schema migration 19)."""
    return day // 7


@dataclass(slots=True, eq=False)
class Known:
    """An article a pass compares: a new one, or a candidate from the archive. Mutable: its
    ``cluster`` changes as the pass joins it to one."""

    rowid: int
    id: str
    published: datetime
    source: str
    cluster: str | None
    features: Features
    #: Its sketch keys (rsspage.clusters.sketch), for a new article.
    keys: list[int] = field(default_factory=list)
    day: int = field(init=False)

    def __post_init__(self) -> None:
        self.day = day_of(self.published)


class Archive(Protocol):
    """What a pass asks the archive while it decides (rarely: most is read before)."""

    def article(self, ident: str) -> Known | None: ...

    def sources(self, cluster: str) -> set[str]: ...


class Pass:
    """The decisions of one pass (see the module docstring)."""

    def __init__(self, new: list[Known], found: Mapping[int, Mapping[int, int]],
                 known: Mapping[int, Known], archive: Archive) -> None:
        """``new``: the articles to file, in publication order; ``found``: each one's
        candidates from the archive (rowid → keys shared); ``known``: those candidates (and
        any other article read before) by rowid, hidden ones left out."""
        self._new, self._found, self._archive = new, found, archive
        self._known = {**known, **{k.rowid: k for k in new}}
        self._by_id = {k.id: k for k in self._known.values()}
        self._index: dict[int, list[int]] = {}  # key → the pass's filed articles, in order
        self._founders: dict[str, Known | None] = {}
        self._archive_sources: dict[str, set[str]] = {}
        self._joined_sources: dict[str, set[str]] = {}
        self._weights = _Weights(_unweighted)
        self._masses: dict[int, Mass] = {}

    def know_founders(self, founders: Iterable[Known]) -> None:
        """The first articles of the candidates' clusters (read beforehand; hidden ones too:
        a cluster stays open to new reports when its first was hidden)."""
        for founder in founders:
            self._by_id.setdefault(founder.id, founder)

    def weigh(self, weights: Callable[[Iterable[int]], dict[int, float]]) -> None:
        """Weigh features by ``weights`` (features → their weights: their IDF among the filed
        articles, store/cluster_counts.py)."""
        self._weights = _Weights(weights)
        self._masses.clear()

    def read(self) -> tuple[set[str], set[str]]:
        """What the decisions read of the archive as they went: the clusters' first articles
        (their ids), and the clusters whose members' sources were read."""
        return set(self._founders), set(self._archive_sources)

    def run(self) -> list[tuple[str, int]]:
        """Decide every new article; returns the joins, ``(cluster, rowid)`` in order (an
        article alone that a new one joins starts the cluster, named by its own id)."""
        joins: list[tuple[str, int]] = []
        for article in self._new:
            if article.cluster is None:
                found = self._best(article)
                if found is not None:
                    joins += self._join(article, found)
            for key in article.keys:
                filed = self._index.setdefault(key, [])
                filed.append(article.rowid)
                if len(filed) > PER_KEY:
                    del filed[0]  # only the newest are looked at
        return joins

    def _candidates(self, article: Known) -> list[Known]:
        """The archive's candidates and the pass's articles sharing the most keys."""
        from_archive = self._found.get(article.rowid, {})
        # the pass's articles published before it, counted in C (chain, Counter), then those
        # out of the window left out, and any the archive gave (one filed again after a
        # restore is found in the archive too: counted once)
        keys, known, oldest = article.keys, self._known, article.day - WINDOW_DAYS
        shared = Counter(chain.from_iterable(map(self._index.get, keys, repeat((), len(keys)))))
        for rowid in [r for r in shared if r in from_archive or known[r].day < oldest]:
            del shared[rowid]
        shared.update(from_archive)
        # the most keys shared, then the newest: (count, rowid) tuples compare in C
        ranked = heapq.nlargest(COMPARED, zip(shared.values(), shared.keys(), strict=True))
        return [self._known[r] for _, r in ranked if r in self._known]

    def _best(self, article: Known) -> Known | None:
        """The most similar candidate at the threshold or above that ``article`` may join."""
        low, high = article.published - _WINDOW, article.published + _WINDOW
        best: tuple[float, Known] | None = None
        for other in self._candidates(article):
            if other.source == article.source or not low <= other.published <= high:
                continue  # one source's follow-ups are not "also reported by"
            score = self._similarity(article, other)
            if score >= THRESHOLD and other.cluster is not None:
                if article.source in self._sources(other.cluster):
                    continue  # the source reported this story already: one report per source
                if other.cluster != other.id:
                    first = self._founder(other.cluster)
                    score = 0.0 if first is None else min(score, self._similarity(article, first))
            if score >= THRESHOLD and (best is None or score > best[0]):
                best = (score, other)
        return None if best is None else best[1]

    def _similarity(self, a: Known, b: Known) -> float:
        masses = (self._mass(a), self._mass(b))  # both weighed: every feature has its weight
        return similarity(a.features, b.features, self._weights.of.__getitem__, masses)

    def _mass(self, article: Known) -> Mass:
        if article.rowid not in self._masses:
            self._weights.cover(article.features)
            self._masses[article.rowid] = mass(article.features, self._weights.of.__getitem__)
        return self._masses[article.rowid]

    def _join(self, article: Known, other: Known) -> list[tuple[str, int]]:
        joins = []
        if other.cluster is None:
            other.cluster = other.id
            joins.append((other.id, other.rowid))
            self._joined_sources.setdefault(other.id, set()).add(other.source)
        article.cluster = other.cluster
        self._joined_sources.setdefault(other.cluster, set()).add(article.source)
        return [*joins, (other.cluster, article.rowid)]

    def _sources(self, cluster: str) -> set[str]:
        """The sources of the cluster's members: in the archive, and joined in this pass."""
        if cluster not in self._archive_sources:
            self._archive_sources[cluster] = self._archive.sources(cluster)
        return self._archive_sources[cluster] | self._joined_sources.get(cluster, set())

    def _founder(self, cluster: str) -> Known | None:
        """The article the cluster started with (None: it is gone or hidden)."""
        if cluster in self._by_id:
            return self._by_id[cluster]
        if cluster not in self._founders:
            self._founders[cluster] = self._archive.article(cluster)
        return self._founders[cluster]


class _Weights:
    """Each feature's weight, computed for the articles compared, as they are (most features of
    the candidates are never compared)."""

    def __init__(self, weigh: Callable[[Iterable[int]], dict[int, float]]) -> None:
        self._weigh = weigh
        #: feature → weight, for every feature of the articles covered
        self.of: dict[int, float] = {}

    def cover(self, features: Features) -> None:
        """Weigh the features of an article not weighed yet: a set difference and one call for
        them all (a dict's ``__missing__`` per feature cost three times as much)."""
        # difference() of a set and an exact dict looks each feature up in C
        self.of.update(self._weigh(features.title.union(features.head).difference(self.of)))


def _unweighted(features: Iterable[int]) -> dict[int, float]:
    return dict.fromkeys(features, 1.0)
