"""The channel neighbours of changed articles, read a stretch at a time (publish/neighbours.py),
are those read one by one (SiteQuery.neighbour), with a count and three reads a stretch
(issue 10)."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from rsspage.publish import neighbours
from rsspage.publish.neighbours import Neighbours
from rsspage.store import SiteQuery, Store
from rsspage.store.site_query import Place, SiteKey
from rsspage.types import FetchResult, FetchStatus
from test_site_delta import FEEDS, NOW, make_article, spec


def stored(state: Path, seed: int, count: int = 400,
           steps: tuple[timedelta, ...] = (timedelta(0), timedelta(minutes=7),
                                           timedelta(hours=2), timedelta(days=1)),
           feeds: list[tuple[str, str, str]] = FEEDS) -> list[tuple[Place, SiteKey]]:
    """``count`` articles in ``feeds``' channels, each ``steps`` after the one before (by
    default runs minutes apart and gaps of a day, some at the same second: ordered by id
    then), ending before NOW; (channel, key) of each."""
    rng = random.Random(seed)
    made = []
    when = NOW - timedelta(days=150)
    for n in range(count):
        when += rng.choice(steps)
        made.append(make_article(n, rng.choice(feeds), when))
    assert when <= NOW
    with Store.open(state) as store:
        for names in FEEDS:
            mine = [a for a in made if (a.category, a.source, a.channel) == names]
            ok = FetchResult(key=spec(names).key, status=FetchStatus.OK, url=spec(names).key,
                             http_status=200)
            store.save_feed(spec(names), ok, mine, None, NOW)
    return [((a.category, a.source, a.channel), (a.published, a.id)) for a in made]


def counting(query: SiteQuery, rows: list[int] | None = None) -> list[str]:
    """The names of the reads ``query`` makes from now on (and in ``rows``, how many articles
    each stretch holds)."""
    reads: list[str] = []
    for name in ("neighbour", "stretch"):
        method: Callable[..., Any] = getattr(query, name)

        def counted(*args: Any, _method: Callable[..., Any] = method, _name: str = name,
                    **kwargs: Any) -> Any:
            reads.append(_name)
            found = _method(*args, **kwargs)
            if _name == "stretch" and rows is not None:
                rows.append(len(found[0]))
            return found
        setattr(query, name, counted)
    return reads


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("window", [None, 30])
def test_stretches_answer_as_reads_one_by_one(tmp_path: Path, seed: int,
                                              window: int | None) -> None:
    everything = stored(tmp_path / "state", seed)
    rng = random.Random(seed)
    since = None if window is None else NOW - timedelta(days=window)
    with Store.open(tmp_path / "state") as store:
        query = store.site_query(since)
        # Changed keys: articles of the archive (some outside the window), and places where
        # none is (an article that moved away), among them keys before and after everything.
        keys = rng.sample(everything, 40)
        gone = [(place, (key[0] + timedelta(seconds=30), key[1] + "x")) for place, key in
                rng.sample(everything, 10)]
        gone += [(FEEDS[0], (NOW - timedelta(days=400), "a")),
                 (FEEDS[1], (NOW + timedelta(days=1), "z"))]
        by_place: dict[Place, list[SiteKey]] = {}
        for place, key in keys + gone:
            by_place.setdefault(place, []).append(key)
        reads = counting(query)
        near = Neighbours(query, by_place)
        stretches = reads.count("stretch")
        # Keys more than GAP apart start a stretch of their own (none is too busy here).
        assert stretches == sum(1 + sum(b[0] - a[0] > neighbours.GAP for a, b in pairwise(k))
                                for k in (sorted(set(keys)) for keys in by_place.values()))
        asked = 0
        for place, key in keys + gone:
            for older in (True, False):
                found = near.of(place, key, older=older)
                assert found == query.neighbour(place, key, older=older)
                asked += 1
                if found is None:
                    continue
                # The neighbour's own neighbours (its page's links) come from the stretch too.
                for flag in (True, False):
                    there = (found.published, found.id)
                    assert near.of(place, there, older=flag) == query.neighbour(
                        place, there, older=flag)
                    asked += 1
        assert reads.count("neighbour") == asked  # only this test's own, one by one
        # Any other key: answered from a stretch when one holds it, else read one by one.
        for place, key in everything:
            for older in (True, False):
                assert near.of(place, key, older=older) == query.neighbour(place, key,
                                                                           older=older)


def test_keys_far_apart_are_read_as_stretches_of_their_own(tmp_path: Path) -> None:
    """A late article months before the others does not make its channel be read between."""
    everything = stored(tmp_path / "state", 4)
    channel = [key for place, key in everything if place == FEEDS[0]]
    first, last = channel[0], channel[-1]
    assert last[0] - first[0] > timedelta(days=30)
    with Store.open(tmp_path / "state") as store:
        query = store.site_query(None)
        read: list[int] = []
        counting(query, read)
        near = Neighbours(query, {FEEDS[0]: [first, last]})
        assert len(read) == 2 and sum(read) <= 2 * (2 * neighbours.MARGIN + 1)
        assert near.of(FEEDS[0], first, older=True) is None
        assert near.of(FEEDS[0], last, older=False) is None
        assert near.of(FEEDS[0], first, older=False) == query.neighbour(FEEDS[0], first,
                                                                        older=False)


def test_an_empty_channel_has_no_neighbours(tmp_path: Path) -> None:
    stored(tmp_path / "state", 5)
    with Store.open(tmp_path / "state") as store:
        query = store.site_query(None)
        place = ("科技", "没有", "文章")
        key = (datetime(2026, 1, 1, tzinfo=NOW.tzinfo), "id")
        near = Neighbours(query, {place: [key]})
        assert near.of(place, key, older=True) is None
        assert near.of(place, key, older=False) is None


def test_a_busy_channel_is_read_one_by_one(tmp_path: Path) -> None:
    """300 articles a minute apart: two changed keys five hours apart are asked one by one
    rather than read with the 298 between them."""
    everything = stored(tmp_path / "state", 6, 300, (timedelta(minutes=1),), FEEDS[:1])
    keys = [everything[5][1], everything[-5][1]]
    assert keys[1][0] - keys[0][0] < neighbours.GAP
    with Store.open(tmp_path / "state") as store:
        query = store.site_query(None)
        reads = counting(query)
        near = Neighbours(query, {FEEDS[0]: keys})
        assert reads == []
        for key in keys:
            for older in (True, False):
                assert near.of(FEEDS[0], key, older=older) == query.neighbour(FEEDS[0], key,
                                                                              older=older)
