"""How many filed articles have each feature: the weights of story clusters' similarity
(:func:`rsspage.clusters.idf`), kept as a count-min sketch in one row (schema migration 18).

A table with a row per feature (migration 16's ``cluster_df``) grew with every number and
name the archive ever saw (about a million rows at 100,000 articles), and a run's 1,000 new
articles read and upserted some 70,000 of its rows, scattered over the whole table: 0.5 s of
the clusters' pass at 100,000 articles. The sketch has a fixed size whatever the archive's:
two rows of 2^20 counters, a feature counted in one counter of each (by the low and by the high
bits of its CRC-32), its count the smaller of the two, each counter raised only as far as that
needs (a conservative update). A feature sharing both counters with others is over-counted, and
weighs a little less: of 260,000 features (2,300 articles' worth), 1.7 % are over-counted
(mostly by one), none enough to lower its weight by a tenth (tests/test_clusters.py). Read
once per pass (8 MB), counted in memory, written once.
"""

from __future__ import annotations

import math
from array import array
from collections import Counter
from collections.abc import Iterable

from rsspage.clusters import IDF_FLOOR, Features
from rsspage.store.db import Connection

_BITS = 20
_WIDTH = 1 << _BITS
_MASK = _WIDTH - 1
#: The high bits of a 32-bit feature, for the second row's counter.
_SHIFT = 32 - _BITS


class FeatureCounts:
    """The sketch of the filed articles' features, and how many articles were filed."""

    def __init__(self, articles: int, counters: array[int]) -> None:
        self.articles = articles
        self._counters = counters

    @classmethod
    def read(cls, conn: Connection) -> FeatureCounts:
        row = conn.execute("SELECT articles, counters FROM cluster_counts WHERE id = 1"
                           ).fetchone()
        counters = array("I")
        if row is None:
            counters.frombytes(bytes(8 * _WIDTH))
            return cls(0, counters)
        counters.frombytes(row[1])
        return cls(row[0], counters)

    def get(self, feature: int) -> int:
        """How many filed articles have ``feature`` (or a little more: see the module)."""
        counters = self._counters
        return min(counters[feature & _MASK], counters[_WIDTH + (feature >> _SHIFT)])

    def weights(self, features: Iterable[int]) -> dict[int, float]:
        """The weight of each of ``features``: its :func:`~rsspage.clusters.idf` among the
        filed articles (:meth:`get` inlined: a pass weighs some 60,000 features)."""
        counters, log = self._counters, math.log
        # idf() inlined too: its call and max() were half the cost; the same formula, so the
        # same floats (tests/test_clusters.py)
        total = max(self.articles, IDF_FLOOR) + 1
        return {feature: log(total / (min(counters[feature & _MASK],
                                           counters[_WIDTH + (feature >> _SHIFT)]) + 1))
                for feature in features}

    def add(self, articles: Iterable[Features]) -> None:
        """Count ``articles`` among the filed ones."""
        counted: Counter[int] = Counter()
        filed = 0
        for features in articles:
            counted.update(features.title | features.head)
            filed += 1
        counters = self._counters
        for feature, count in counted.items():
            # A conservative update: each counter rises only as far as the feature's count
            # needs (another feature's count in it is not added twice); never below the truth.
            first, second = feature & _MASK, _WIDTH + (feature >> _SHIFT)
            low, high = counters[first], counters[second]  # (comparisons: no min/max calls)
            new = (low if low < high else high) + count
            if low < new:
                counters[first] = new
            if high < new:
                counters[second] = new
        self.articles += filed

    def write(self, conn: Connection) -> None:
        conn.execute("INSERT INTO cluster_counts (id, articles, counters) VALUES (1, ?, ?) "
                     "ON CONFLICT (id) DO UPDATE SET articles = excluded.articles, "
                     "counters = excluded.counters", (self.articles, self._counters.tobytes()))
