"""The layout of the search shards: tiers like a log-structured merge, cut by entry keys.

An article's *entry key* is ``(first_seen, id)``: the order it entered the archive, which no
later insertion, date correction or removal moves. The shards tile the whole key space: each
covers a range ``[start, end)`` (the first one from the beginning, the last one to the end), so
any key, even one never seen, belongs to exactly one shard, found by its boundaries alone.

Tiers (:class:`Tiers`): level 0 holds up to :attr:`Tiers.level0` records, level *L* up to
``level0 × fanout^L``, up to :attr:`Tiers.top`. The last shard is the *open* one: new articles
(whatever their dates) land there. When it overflows, its oldest ``level0`` records are sealed
into a level-0 shard (cut at a record's key, so the range is fixed from then on); ``fanout``
sealed shards of one level next to each other are merged into one shard of the next level. A
record is thus indexed once per level plus the times the open shard is rebuilt, and the shards
of one level below the top number at most ``fanout - 1``. Only the top level grows with the
archive (one shard per ``level0 × fanout^top`` records), because Pagefind's memory grows with the
shard (about 0.11 MB a record, see benchmarks/README.md).

A shard's records change (an article changed, removed, or arriving with an old key): it is
rebuilt alone. One that overflows its level is split; one left empty gives its range to its
older neighbour (the open shard stays, empty and without a bundle), at no cost.

The site's window (site.max_articles, site.keep_days) moves a day at a time, and the articles
it leaves behind are the oldest, in the largest shards. Rebuilding those on every move cost
most of an update (~50 s for 2,000 articles into a 100,000-article archive), so their records
stay: the layout's *floor* is the window's start, and the search page hides every record
published before it. A shard sheds them when it is rebuilt for another reason, and goes when
it holds nothing else; a floor lower than before (a larger window) has every shard checked.

The layout lives in ``pagefind/`` (the site travels without the state) as JSON: the format it
was built for, the runtime bundle, the next free folder number and each shard's folder, range,
level, record count and digest (``""``: to be rebuilt, e.g. after Pagefind failed). Folder
numbers are never reused, so a bundle's files never change under a published layout. A missing,
damaged or foreign layout is no layout: one full re-index, never a wrong one.

Everything here is pure (keys in, plans out); building the bundles is search_index's.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any, Protocol

#: An article's place in the archive: (first seen, id).
EntryKey = tuple[datetime, str]
#: The layout file's name inside ``pagefind/`` and its format version.
LAYOUT_NAME = "rsspage-shards.json"
LAYOUT_VERSION = 1


@dataclass(frozen=True, slots=True)
class Tiers:
    """Shard sizes by level (see benchmarks/README.md for the measurements behind them)."""

    level0: int = 250
    fanout: int = 4
    top: int = 2

    def capacity(self, level: int) -> int:
        return int(self.level0 * self.fanout ** min(level, self.top))


#: 250 → 1,000 → 4,000 records. Measured (bench_search.py --memory, 2 cores): Pagefind peaks at
#: ~0.11 MB a record, 200 MB for 1,000, ~600 MB for 4,000, 2.0 GB for 16,000, 4.6 GB for 40,000;
#: a top level of 16,000 saved 4-10 % of a first query's bytes at 20,000 articles, for 3x the
#: memory. A year of 730,000 articles is then ~190 shards, which the search page never merges
#: all at once (search_index.WAVE).
TIERS = Tiers()


class KeySource(Protocol):
    def keys_between(self, start: EntryKey | None, end: EntryKey | None) -> Sequence[EntryKey]:
        """Entry keys in ``[start, end)`` (None: unbounded), in entry order."""
        ...


@dataclass(frozen=True, slots=True)
class TierShard:
    """One shard of the layout."""

    #: Its bundle, ``pagefind/<folder>/``; None when it holds no record.
    folder: int | None
    #: Its range of entry keys, ``[start, end)``; None: from the beginning / to the end.
    start: EntryKey | None
    end: EntryKey | None
    level: int
    count: int
    #: Of its records (search_index.records_digest); "" when it must be rebuilt.
    digest: str


@dataclass(frozen=True, slots=True)
class Layout:
    #: SEARCH_FORMAT, language and Pagefind version the bundles were built with.
    format: str
    #: The bundle of Pagefind's script and WebAssembly (and an index of no article) that the
    #: search page starts from and merges every shard into.
    runtime: int
    next_folder: int
    shards: tuple[TierShard, ...]
    #: The start of the site's window (site_output.site_window) when a shard may still hold
    #: records of articles published before it: they left the site, and the search page hides
    #: them (see :func:`plan`'s ``hidden``). None: every record is current.
    floor: datetime | None = None


@dataclass(frozen=True, slots=True)
class Piece:
    """A shard of the new layout, as planned."""

    start: EntryKey | None
    end: EntryKey | None
    level: int
    count: int
    #: The shard it continues, unchanged in level and records but for what ``touched`` says
    #: (its range may have grown over empty ones); None: a new shard, to be built.
    old: TierShard | None
    #: Whether its records may have changed (its digest must be checked).
    touched: bool
    #: Its keys, when they were loaded.
    keys: Sequence[EntryKey] | None = None


def shard_of(starts: Sequence[EntryKey], key: EntryKey) -> int:
    """Index of the shard holding ``key``, given the starts of every shard but the first."""
    return bisect_right(starts, key)


def plan(layout: Layout | None, source: KeySource, changed: Collection[EntryKey] | None,
         tiers: Tiers = TIERS, hidden: Collection[EntryKey] = ()) -> list[Piece]:
    """The next layout's shards. ``changed``: the keys of the articles added, changed or
    removed since ``layout`` was built; None to check every shard. Without a layout, every
    key is loaded and cut afresh.

    ``hidden``: the keys of articles that left the site's window below its floor (the window
    moves a day at a time). Their records stay where they are, hidden by the search page, so
    that the window's daily move does not re-index the oldest (largest) shards; a shard left
    with nothing but such records is dropped, and a shard rebuilt for another reason sheds
    them."""
    if layout is None:
        return fresh_cut(source.keys_between(None, None), tiers)
    touched = _touched(layout, changed) | _emptied(layout, source, hidden)
    pieces = []
    for index, shard in enumerate(layout.shards):
        if index in touched:
            keys = source.keys_between(shard.start, shard.end)
            pieces.append(Piece(shard.start, shard.end, shard.level, len(keys), shard, True,
                                keys))
        else:
            pieces.append(Piece(shard.start, shard.end, shard.level, shard.count, shard, False))
    return _compact(_split_full(_drop_empty(pieces), source, tiers), tiers)


def _touched(layout: Layout, changed: Collection[EntryKey] | None) -> set[int]:
    shards = layout.shards
    if changed is None:
        return set(range(len(shards)))
    starts = [s.start for s in shards[1:] if s.start is not None]
    found = {shard_of(starts, key) for key in changed}
    return found | {i for i, s in enumerate(shards) if not s.digest}


def _emptied(layout: Layout, source: KeySource, hidden: Collection[EntryKey]) -> set[int]:
    """The shards that ``hidden`` falls in and that hold no current key any more."""
    shards = layout.shards
    starts = [s.start for s in shards[1:] if s.start is not None]
    found = {shard_of(starts, key) for key in hidden}
    return {i for i in found if not source.keys_between(shards[i].start, shards[i].end)}


def fresh_cut(keys: Sequence[EntryKey], tiers: Tiers = TIERS) -> list[Piece]:
    """Shards for ``keys`` with no history: all in the open shard when they fit in it; else
    full top-level shards, then what is left in top-level shards of a level-1 shard's size
    at most (indexed in parallel, each by a smaller Pagefind process), and the newest in the
    open shard: one record, or the few that a shard of their own would hold (under a level-0
    shard's size, so that no bundle of a handful of records stays for good).

    Not the layout the tiers would have grown into (at most ``fanout - 1`` shards of each
    level below the top): records indexed now are never indexed again by a merge, and the
    next updates find the lower levels empty. Cut as if grown, 20,000 records left each
    level below the top full, and the update right after a full build merged its way up to
    a top-level shard: 4,000 records indexed again for 10 new ones (7.4 s against 0.4 s).
    """
    if len(keys) <= tiers.level0:
        return _pieces(keys, [(0, len(keys), 0)], None, None)
    top, part = tiers.capacity(tiers.top), tiers.capacity(min(1, tiers.top))
    full = (len(keys) - 1) // top * top
    rest = len(keys) - 1 - full
    cuts = [(first, first + top, tiers.top) for first in range(0, full, top)]
    if rest >= tiers.level0:
        shards = -(-rest // part)
        bounds = [full + rest * n // shards for n in range(shards + 1)]
        cuts += [(first, last, tiers.top) for first, last in pairwise(bounds)]
        full += rest
    cuts.append((full, len(keys), 0))
    return _pieces(keys, cuts, None, None)


def _pieces(keys: Sequence[EntryKey], cuts: Sequence[tuple[int, int, int]],
            start: EntryKey | None, end: EntryKey | None) -> list[Piece]:
    """New pieces for ``cuts`` (positions in ``keys``), the first from ``start``, the last to
    ``end``; the others cut at the key of their first record."""
    pieces = []
    for n, (first, last, level) in enumerate(cuts):
        begin = start if n == 0 else keys[first]
        stop = end if n == len(cuts) - 1 else keys[last]
        pieces.append(Piece(begin, stop, level, last - first, None, True, keys[first:last]))
    return pieces


def _drop_empty(pieces: list[Piece]) -> list[Piece]:
    """An empty shard (not the open one) gives its range to its older neighbour (its newer
    one when it is the first): their records are the same, so nothing is rebuilt."""
    out: list[Piece] = []
    for piece in pieces[:-1]:
        if piece.count:
            out.append(piece)
        elif out:
            out[-1] = replace(out[-1], end=piece.end)
        # the first shard is empty: the next one starts from the beginning (below)
    out.append(pieces[-1])
    if out[0].start is not None:
        out[0] = replace(out[0], start=None)
    for n in range(len(out) - 1):  # the ranges tile: each ends where the next starts
        if out[n].end != out[n + 1].start:
            out[n] = replace(out[n], end=out[n + 1].start)
    return out


def _split_full(pieces: list[Piece], source: KeySource, tiers: Tiers) -> list[Piece]:
    """Seal the open shard's oldest records into level-0 shards while it overflows; split a
    sealed shard that outgrew its level (keys that arrived late, in its range)."""
    out: list[Piece] = []
    for n, piece in enumerate(pieces):
        is_open = n == len(pieces) - 1
        cap = tiers.capacity(0 if is_open else piece.level)
        if piece.count <= cap:
            out.append(piece)
            continue
        keys = piece.keys if piece.keys is not None else source.keys_between(piece.start,
                                                                             piece.end)
        if is_open:  # sealed level-0 shards, and the rest (at least one record) stays open
            sealed = (len(keys) - 1) // cap
            cuts = [(k * cap, (k + 1) * cap, 0) for k in range(sealed)]
            cuts.append((sealed * cap, len(keys), 0))
        else:
            cuts = [(b, min(b + cap, len(keys)), piece.level) for b in range(0, len(keys), cap)]
        out.extend(_pieces(keys, cuts, piece.start, piece.end))
    return out


def _compact(pieces: list[Piece], tiers: Tiers) -> list[Piece]:
    """Merge ``fanout`` neighbouring sealed shards of one level below the top into one of the
    next level, until no such run is left (a merge may complete a run one level up)."""
    while (run := _full_run(pieces, tiers)) is not None:
        first, last = run, run + tiers.fanout
        group = pieces[first:last]
        known = [p.keys for p in group if p.keys is not None]
        keys = [k for part in known for k in part] if len(known) == len(group) else None
        merged = Piece(group[0].start, group[-1].end, group[0].level + 1,
                       sum(p.count for p in group), None, True, keys)
        pieces = [*pieces[:first], merged, *pieces[last:]]
    return pieces


def _full_run(pieces: Sequence[Piece], tiers: Tiers) -> int | None:
    sealed = pieces[:-1]
    for first in range(len(sealed) - tiers.fanout + 1):
        level = sealed[first].level
        group = sealed[first:first + tiers.fanout]
        if level < tiers.top and all(p.level == level for p in group):
            return first
    return None


# -- the layout file ----------------------------------------------------------------------


def dump_layout(layout: Layout, wave: int, browse: int = 0) -> bytes:
    """The layout file; ``wave``: how many articles the search page merges at a time;
    ``browse``: up to how many articles in all it lists a filter's newest without a query."""
    body = {
        "version": LAYOUT_VERSION, "format": layout.format, "runtime": layout.runtime,
        "next": layout.next_folder, "wave": wave, "browse": browse,
        "floor": None if layout.floor is None else layout.floor.isoformat(),
        "shards": [{"folder": s.folder, "start": _key_json(s.start), "end": _key_json(s.end),
                    "level": s.level, "count": s.count, "digest": s.digest}
                   for s in layout.shards],
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def load_layout(data: bytes) -> Layout | None:
    """The layout in ``data``; None when it is damaged or not one (a full re-index follows)."""
    try:
        body = json.loads(data)
        if body["version"] != LAYOUT_VERSION:
            return None
        shards = tuple(_shard(item) for item in body["shards"])
        floor = body.get("floor")
        layout = Layout(_str(body["format"]), _int(body["runtime"]), _int(body["next"]), shards,
                        None if floor is None else aware(datetime.fromisoformat(_str(floor))))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return layout if _well_formed(layout) else None


def _well_formed(layout: Layout) -> bool:
    """The ranges tile the key space in order; folders are distinct and below the next one."""
    shards = layout.shards
    if not shards or shards[0].start is not None or shards[-1].end is not None:
        return False
    for older, newer in pairwise(shards):
        if newer.start is None or older.end != newer.start:
            return False
        if older.start is not None and not older.start < newer.start:
            return False
    folders = [s.folder for s in shards if s.folder is not None] + [layout.runtime]
    if len(set(folders)) != len(folders) or max(folders) >= layout.next_folder:
        return False
    return all((s.folder is None) == (s.count == 0) and s.level >= 0 and s.count >= 0
               for s in shards)


def _shard(item: Any) -> TierShard:
    folder = item["folder"]
    return TierShard(None if folder is None else _int(folder), _key(item["start"]),
                     _key(item["end"]), _int(item["level"]), _int(item["count"]),
                     _str(item["digest"]))


def _key_json(key: EntryKey | None) -> list[str] | None:
    return None if key is None else [key[0].isoformat(), key[1]]


def _key(value: Any) -> EntryKey | None:
    if value is None:
        return None
    when, ident = value
    return aware(datetime.fromisoformat(_str(when))), _str(ident)


def aware(when: datetime) -> datetime:
    """``when`` with a time zone (UTC when it had none), so that keys always compare."""
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _int(value: Any) -> int:
    if type(value) is not int:
        raise TypeError(f"not an integer: {value!r}")
    return value


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"not a string: {value!r}")
    return value
