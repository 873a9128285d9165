"""Search shards in tiers (search_tiers.py, search_index.update_tiers), with the real Pagefind.

The planning tests run on keys alone; the others index small archives (tiers of 4, 8 and 16
records) with the real ``pagefind --service`` and read back what is on disk: which bundle
folders were built (a folder number is never reused, so a kept shard keeps its folder), the
layout file, and what Pagefind's own ``pagefind.js`` finds (under Node, as test_site does).
"""

from __future__ import annotations

import json
import math
import shutil
import stat
from bisect import bisect_left
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from rsspage.publish import search_index, search_tiers
from rsspage.publish.search_index import IndexResult, MemorySource, entry_key
from rsspage.publish.search_tiers import EntryKey, Layout, Tiers, TierShard
from rsspage.publish.site_model import ArticleView, article_path, build_model
from rsspage.types import Article
from test_site import NOW, make_article, run_queries

SMALL = Tiers(level0=4, fanout=2, top=2)  # 4, 8, 16 records
ZONE = ZoneInfo("Asia/Shanghai")


def seen(n: int) -> datetime:
    """When article ``n`` entered the archive: in the order of their numbers."""
    return NOW + timedelta(minutes=n)


def stored(numbers: range | Sequence[int], **changes: object) -> list[Article]:
    return [make_article(n, first_seen=seen(n), **changes) for n in numbers]


def key(article: Article) -> EntryKey:
    assert article.first_seen is not None
    return article.first_seen, article.id


# --------------------------------------------------------------------------- planning alone


class Keys:
    """A KeySource over plain keys."""

    def __init__(self, keys: Collection[EntryKey]) -> None:
        self.keys = sorted(keys)

    def keys_between(self, start: EntryKey | None, end: EntryKey | None) -> list[EntryKey]:
        first = 0 if start is None else bisect_left(self.keys, start)
        last = len(self.keys) if end is None else bisect_left(self.keys, end)
        return self.keys[first:last]


def settle(layout: Layout | None, source: Keys, changed: Collection[EntryKey] | None,
           tiers: Tiers) -> tuple[Layout, list[search_tiers.Piece]]:
    """The next layout, as update_tiers makes it when every touched shard changed; and the
    pieces it would build."""
    pieces = search_tiers.plan(layout, source, changed, tiers)
    folder = layout.next_folder if layout else 1
    shards, built = [], []
    for piece in pieces:
        if piece.count and (piece.old is None or piece.touched):
            built.append(piece)
            shards.append(TierShard(folder, piece.start, piece.end, piece.level, piece.count,
                                    "d"))
            folder += 1
        elif piece.count:
            assert piece.old is not None
            shards.append(replace(piece.old, start=piece.start, end=piece.end))
        else:
            shards.append(TierShard(None, piece.start, piece.end, piece.level, 0, "d"))
    return Layout("f", 0, folder, tuple(shards)), built


def keys_of(numbers: range) -> list[EntryKey]:
    return [(seen(n), f"{n:06d}") for n in numbers]


def test_a_fresh_cut_leaves_nothing_to_merge() -> None:
    """Full top-level shards, the rest in top-level shards no larger than a level-1 one (they
    are indexed in parallel), the newest record open: no level below the top holds a shard."""
    def levels(count: int) -> list[tuple[int, int]]:
        pieces = search_tiers.fresh_cut(keys_of(range(count)), SMALL)
        return [(p.level, p.count) for p in pieces]

    assert levels(0) == [(0, 0)]
    assert levels(1) == [(0, 1)]
    assert levels(4) == [(0, 4)]  # what fits in the open shard stays there
    assert levels(5) == [(2, 4), (0, 1)]
    assert levels(16) == [(2, 7), (2, 8), (0, 1)]
    assert levels(17) == [(2, 16), (0, 1)]
    assert levels(18) == [(2, 16), (0, 2)]  # too few for a shard of their own: open
    assert levels(45) == [(2, 16), (2, 16), (2, 6), (2, 6), (0, 1)]
    pieces = search_tiers.fresh_cut(keys_of(range(45)), SMALL)
    assert pieces[0].start is None and pieces[-1].end is None
    assert all(a.end == b.start for a, b in pairwise(pieces))


def test_tiers_compact_when_full_and_index_each_record_a_bounded_number_of_times() -> None:
    """Articles arriving 3 at a time: each is indexed while its shard is open, once sealed,
    then once per level it is merged into; no level below the top holds more than fanout - 1
    sealed shards, and the shards number about the archive over the top level's size."""
    tiers = Tiers(level0=4, fanout=2, top=3)  # 4, 8, 16, 32
    layout, _ = settle(None, Keys([]), None, tiers)
    indexed: Counter[EntryKey] = Counter()
    arrived: list[EntryKey] = []
    first_merge = None
    for update, start in enumerate(range(0, 300, 3)):
        new = keys_of(range(start, start + 3))
        arrived += new
        layout, built = settle(layout, Keys(arrived), new, tiers)
        for piece in built:
            indexed.update(piece.keys or ())
        sealed = layout.shards[:-1]
        if first_merge is None and any(s.level == 1 for s in sealed):
            first_merge = update
        for level in range(tiers.top):
            assert sum(s.level == level for s in sealed) <= tiers.fanout - 1
        assert layout.shards[-1].level == 0 and layout.shards[-1].count <= tiers.level0
    # The second level-0 shard sealed (4 + 4 records + 1 open: the third update) merges at once.
    assert first_merge == 2
    open_builds = math.ceil(tiers.level0 / 3) + 1
    assert max(indexed.values()) <= open_builds + 1 + tiers.top
    assert sum(indexed.values()) <= 300 * (2 + tiers.top)  # about log, not linear, per record
    assert len(layout.shards) <= 300 / tiers.capacity(tiers.top) + (tiers.fanout - 1) * 3 + 2


def test_an_empty_shard_gives_its_range_to_its_neighbour_and_nothing_is_rebuilt() -> None:
    keys = keys_of(range(45))
    layout, _ = settle(None, Keys(keys), None, SMALL)
    # The second top-level shard's 16 articles are all removed.
    after, built = settle(layout, Keys(keys[:16] + keys[32:]), keys[16:32], SMALL)
    assert built == []
    assert len(after.shards) == len(layout.shards) - 1
    assert after.shards[0].folder == layout.shards[0].folder
    assert after.shards[0].end == layout.shards[2].start


def test_the_layout_file_round_trips_and_a_damaged_one_is_none() -> None:
    layout, _ = settle(None, Keys(keys_of(range(45))), None, SMALL)
    data = search_tiers.dump_layout(layout, 1000)
    assert search_tiers.load_layout(data) == layout
    body = json.loads(data)
    broken = [
        b"", data[:-10], b"[]", b'{"version": 1}',
        json.dumps({**body, "version": 99}).encode(),
        json.dumps({**body, "shards": body["shards"][1:]}).encode(),  # does not start at None
        json.dumps({**body, "shards": body["shards"][:2] + body["shards"][3:]}).encode(),  # gap
        json.dumps({**body, "next": 1}).encode(),  # a folder past the next one
        json.dumps({**body, "runtime": body["shards"][0]["folder"]}).encode(),  # shared folder
        json.dumps({**body, "shards": [{**body["shards"][0], "count": "16"},
                                       *body["shards"][1:]]}).encode(),
    ]
    for damaged in broken:
        assert search_tiers.load_layout(damaged) is None, damaged[:80]


# --------------------------------------------------------------------------- with Pagefind


@pytest.fixture
def binary() -> str:
    found = search_index.find_binary()
    assert found, "pip install 'pagefind[extended]'"
    return found


class Archive:
    """A site folder whose search index is updated as update_tiers does it for a build."""

    def __init__(self, root: Path, binary: str) -> None:
        self.root, self.binary = root, binary
        root.mkdir(parents=True, exist_ok=True)

    def index(self, articles: Sequence[Article], changed: Collection[EntryKey] | None = None,
              binary: str | None = None, hidden: Collection[EntryKey] = (),
              floor: datetime | None = None) -> IndexResult:
        views = build_model(articles, ZONE).views
        result = search_index.update_tiers(self.root, MemorySource(views), changed, "zh-CN",
                                           binary or self.binary, tiers=SMALL, hidden=hidden,
                                           floor=floor)
        result.put_in_place()
        return result

    @property
    def layout(self) -> Layout:
        data = (self.root / "pagefind" / search_tiers.LAYOUT_NAME).read_bytes()
        layout = search_tiers.load_layout(data)
        assert layout is not None
        return layout

    def folders(self) -> list[int | None]:
        return [s.folder for s in self.layout.shards]

    def shard_of(self, article: Article) -> int:
        starts = [s.start for s in self.layout.shards[1:] if s.start is not None]
        return search_tiers.shard_of(starts, key(article))

    def found(self, *queries: str) -> dict[str, list[str]]:
        hits = run_queries(self.root, *queries)
        return {q: sorted(h["url"] for h in hits[q]) for q in queries}

    def bundles_on_disk(self) -> set[str]:
        return {p.name for p in (self.root / "pagefind").iterdir() if p.name.isdigit()}


def url(article: Article) -> str:
    return "/" + article_path(article.id)


def test_a_late_article_touches_only_the_newest_shard(tmp_path: Path, binary: str) -> None:
    """An article dated before all the others (a feed added with last week's items) entered
    the archive last: it joins the open shard, whatever the build is told."""
    archive = Archive(tmp_path / "site", binary)
    articles = stored(range(1, 24))
    first = archive.index(articles)
    assert first.rebuilt == len(archive.folders()) == 3  # 16, 6 and 1 records
    before = archive.folders()
    late = make_article(0, first_seen=seen(100), title="迟到的芯片新闻", text="迟到 芯片")
    assert late.published < min(a.published for a in articles)
    for changed in ([key(late)], None):
        folder = tmp_path / f"copy-{changed is None}"
        shutil.copytree(archive.root, folder)  # the site travels without the state
        copy = Archive(folder, binary)
        result = copy.index([*articles, late], changed)
        assert result.rebuilt == 1 and result.records == 2  # the open shard's one and it
        assert copy.folders()[:-1] == before[:-1] and copy.folders()[-1] != before[-1]
        assert copy.found("迟到")["迟到"] == [url(late)]


def test_a_changed_article_touches_only_its_own_shard(tmp_path: Path, binary: str) -> None:
    archive = Archive(tmp_path / "site", binary)
    articles = stored(range(40))
    archive.index(articles)
    before = archive.folders()
    target = articles[5]  # in the oldest, top-level shard
    edited = replace(target, title="更正：全新标题", text="更正 内容", content_hash="edited")
    changed = [*articles[:5], edited, *articles[6:]]
    result = archive.index(changed, [key(target)])
    assert result.rebuilt == 1 and result.records == 16
    after = archive.folders()
    shard = archive.shard_of(target)
    assert [a == b for a, b in zip(before, after, strict=True)] == [
        n != shard for n in range(len(before))]
    assert archive.found("更正")["更正"] == [url(target)]
    # Told about a change that changes nothing the index holds: its shard is kept.
    again = archive.index(changed, [key(articles[20])])
    assert again.rebuilt == 0 and archive.folders() == after


def test_removing_articles_touches_only_their_shards(tmp_path: Path, binary: str) -> None:
    archive = Archive(tmp_path / "site", binary)
    articles = stored(range(45))  # 16, 16, 6, 6, 1
    archive.index(articles)
    before = archive.folders()
    gone = [articles[3], articles[20]]  # one in each top-level shard
    left = [a for a in articles if a not in gone]
    result = archive.index(left, [key(a) for a in gone])
    assert result.rebuilt == 2 and result.records == 30
    after = archive.folders()
    assert after[2:] == before[2:] and after[0] != before[0] and after[1] != before[1]
    hits = archive.found("芯片", "qubits")
    assert url(articles[3]) not in hits["芯片"] + hits["qubits"]
    assert url(articles[20]) not in hits["芯片"] + hits["qubits"]
    assert len(hits["芯片"]) + len(hits["qubits"]) == 43
    # Every article of the third shard removed: its range goes to its neighbour, no build.
    third = archive.layout.shards[2]
    emptied = [a for a in left if not (third.start <= key(a) < third.end)]  # type: ignore[operator]
    result = archive.index(emptied, [key(a) for a in left if a not in emptied])
    assert result.rebuilt == 0
    assert archive.folders() == [after[0], after[1], *after[3:]]
    assert str(after[2]) not in archive.bundles_on_disk()


def test_incremental_updates_rebuild_exactly_the_touched_shards(tmp_path: Path,
                                                                 binary: str) -> None:
    """``changed`` names the keys of what was added, changed and removed: the shards holding
    them are rebuilt (and those the tiers seal or merge), nothing else is even loaded."""
    archive = Archive(tmp_path / "site", binary)
    articles = stored(range(40))
    archive.index(articles[:33])  # 16, 16, 1 (a fresh cut)
    archive.index(articles, [key(a) for a in articles[33:]])  # 16, 16, 4 sealed, 4 open
    before = archive.folders()
    loaded: list[tuple[EntryKey | None, EntryKey | None]] = []

    class Watched(MemorySource):
        def views_between(self, start: EntryKey | None,
                          end: EntryKey | None) -> Sequence[ArticleView]:
            loaded.append((start, end))
            return super().views_between(start, end)

    newer = stored(range(40, 42))
    edited = replace(articles[30], text="改写", content_hash="edited")  # the second top shard
    now = [*articles[:30], edited, *articles[31:], *newer]
    views = build_model(now, ZONE).views
    changed = [key(a) for a in (edited, *newer)]
    result = search_index.update_tiers(archive.root, Watched(views), changed, "zh-CN", binary,
                                       tiers=SMALL)
    result.put_in_place()
    # The open shard (4 + 2 → sealed 4 + open 2: two sealed level-0 shards merge into a
    # level-1 one) and the edited article's shard.
    assert result.rebuilt == 3
    after = archive.folders()
    assert after[0] == before[0] and after[1] != before[1]
    assert [s.level for s in archive.layout.shards] == [2, 2, 1, 0]
    shards = archive.layout.shards
    ranges = [(s.start, s.end) for s in shards]
    # The edited article's shard checked by digest; then the three built ones, to be indexed.
    assert sorted(loaded, key=str) == sorted([ranges[1], ranges[1], ranges[2], ranges[3]],
                                             key=str)
    assert "/" + article_path(edited.id) in archive.found("改写")["改写"]


def test_a_damaged_layout_costs_one_full_index_never_a_wrong_one(tmp_path: Path,
                                                                 binary: str) -> None:
    archive = Archive(tmp_path / "site", binary)
    articles = stored(range(30))
    archive.index(articles)
    truth = archive.found("芯片", "qubits")
    path = archive.root / "pagefind" / search_tiers.LAYOUT_NAME
    data = path.read_bytes()
    # A layout that survived as it was: nothing to do, even told that everything changed.
    assert archive.index(articles, [key(a) for a in articles[:1]]).rebuilt == 0
    assert archive.index(articles).rebuilt == 0 and path.read_bytes() == data
    for damage in (data[:len(data) // 2], b"\x00" * 10,
                   data.replace(b'"level":2', b'"level":"2"')):
        path.write_bytes(damage)
        before = archive.bundles_on_disk()
        result = archive.index(articles, [key(articles[0])])  # told little: all the same
        assert result.rebuilt == len(archive.layout.shards) == 4  # 16, 6, 7, 1: every one
        assert archive.found("芯片", "qubits") == truth
        assert not (before & archive.bundles_on_disk())  # every old bundle went
        assert archive.index(articles).rebuilt == 0  # and the next build has nothing to do


def test_a_missing_bundle_is_rebuilt_and_a_pagefind_failure_leaves_its_shards_stale(
    tmp_path: Path, binary: str
) -> None:
    archive = Archive(tmp_path / "site", binary)
    articles = stored(range(30))
    archive.index(articles)
    folders = archive.folders()
    shutil.rmtree(archive.root / "pagefind" / str(folders[0]))
    assert archive.index(articles, []).rebuilt == 1
    # A Pagefind that says its version but fails to index: the shard the change falls in is
    # marked stale, and the next build (told of no change) rebuilds it.
    broken = tmp_path / "pagefind-broken"
    version = search_index._version(binary)
    broken.write_text(f'#!/bin/sh\n[ "$1" = --version ] && echo "{version}" && exit 0\nexit 1\n')
    broken.chmod(broken.stat().st_mode | stat.S_IEXEC)
    edited = replace(articles[2], text="失败之后", content_hash="edited")
    now = [articles[0], articles[1], edited, *articles[3:]]
    failed = archive.index(now, [key(edited)], binary=str(broken))
    assert not failed.available
    assert archive.layout.shards[0].digest == ""
    assert archive.found("失败之后")["失败之后"] == []  # the old index still serves
    result = archive.index(now, [])
    assert result.rebuilt == 1 and archive.layout.shards[0].digest
    assert archive.found("失败之后")["失败之后"] == [url(edited)]


def shown(archive: Archive, *queries: str) -> dict[str, list[str]]:
    """What the search page shows: the hits published at or after the layout's floor."""
    floor = archive.layout.floor
    hits = run_queries(archive.root, *queries)
    return {q: sorted(h["url"] for h in hits[q]
                      if floor is None or int(h["t"]) >= floor.timestamp()) for q in queries}


def test_articles_leaving_the_window_stay_hidden_until_their_shard_is_rebuilt(
    tmp_path: Path, binary: str
) -> None:
    """The window's daily move: the articles published before its new start leave the site.
    Their records stay where they are, below the layout's floor (the search page hides them),
    and nothing is re-indexed; a shard left with no current record goes."""
    archive = Archive(tmp_path / "site", binary)
    articles = stored(range(45))  # 16, 16, 8, 4, 1; published in the order they entered
    archive.index(articles)
    before = archive.folders()
    floor = articles[20].published  # 0-19 leave: the whole first shard, 4 of the second
    assert floor == floor.replace(microsecond=0)
    left, kept = articles[:20], articles[20:]
    result = archive.index(kept, [], hidden=[key(a) for a in left], floor=floor)
    assert result.rebuilt == 0
    assert archive.folders() == before[1:] and archive.layout.floor == floor
    assert str(before[0]) not in archive.bundles_on_disk()
    hits = run_queries(archive.root, "芯片", "qubits")
    stale = {url(a) for a in articles[16:20]}
    assert stale <= {h["url"] for q in hits for h in hits[q]}  # still in the second shard
    truth = {url(a) for a in kept}
    found = shown(archive, "芯片", "qubits")
    assert set(found["芯片"] + found["qubits"]) == truth
    # A change in the second shard rebuilds it, without the records of the articles that left.
    edited = replace(kept[0], text="改写", content_hash="edited")
    now = [edited, *kept[1:]]
    assert archive.index(now, [key(edited)], floor=floor).rebuilt == 1
    hits = run_queries(archive.root, "芯片", "qubits")
    assert {h["url"] for q in hits for h in hits[q]} == truth
    # The window starts earlier again (a larger site.max_articles): the articles that come
    # back are indexed, and no record below the old floor could show by mistake.
    assert archive.index(kept[8:], [], hidden=[key(a) for a in kept[:8]],
                         floor=kept[8].published).rebuilt == 0
    back = [*articles[10:20], *kept]
    result = archive.index(back, [key(a) for a in [*articles[10:20], *kept[:8]]],
                           floor=articles[10].published)
    assert result.rebuilt >= 1 and archive.layout.floor == articles[10].published
    hits = run_queries(archive.root, "芯片", "qubits")
    assert {h["url"] for q in hits for h in hits[q]} == {url(a) for a in back}
    assert archive.index(back, None).rebuilt == 0  # every shard holds what it should


def test_the_entry_key_is_first_seen_then_id() -> None:
    early, late = make_article(1, first_seen=seen(5)), make_article(2, first_seen=seen(1))
    unstored = make_article(3)  # not stored yet: its published time stands in
    views = {v.article.id: v for v in build_model([early, late, unstored], ZONE).views}
    assert entry_key(views[early.id]) == key(early)
    assert entry_key(views[unstored.id]) == (unstored.published, unstored.id)
    source = MemorySource(views.values())
    assert [v.article.id for v in source.views_between(None, None)] == [
        unstored.id, late.id, early.id]
    assert list(source.keys_between(key(late), key(early))) == [key(late)]
