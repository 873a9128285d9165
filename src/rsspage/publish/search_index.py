"""Site search: Pagefind bundles of the articles, in tiers so that an update re-indexes little.

Pagefind (the PyPI package ``pagefind[extended]``; the extended binary segments Chinese and
Japanese) cannot update an index, only build one, and building costs about 2.5 ms and 0.11 MB
per record held. So the articles are indexed in shards, each its own bundle in
``pagefind/<folder>/``, laid out in tiers by the order they entered the archive (their *entry
key*, ``(first_seen, id)``): see :mod:`~rsspage.publish.search_tiers`. New articles, whatever
their dates, land in the newest small shard; full tiers are merged into larger shards; a
changed or removed article re-indexes its own shard only. The layout (each shard's key range,
level, record count, digest) is kept in ``pagefind/rsspage-shards.json``, beside the bundles.

The search page (static/search.js) reads that file, starts Pagefind from the *runtime* bundle
(Pagefind's script, worker and WebAssembly, with an index of no article) and merges the shards'
bundles into it, newest first (``mergeIndex``). A merged bundle never loads a script or
WebAssembly of its own, so the shards are written without theirs: one copy serves them all.

Two ways in, both ending in :func:`update_tiers`:

- a full build (site.py): ``plan_shards(views, language)`` then ``update_index(root, shards,
  page_hashes, language, binary, stop)``, which checks every shard by its digest;
- an incremental build, which knows only the entry keys of the articles added, changed or
  removed since the last build::

      update_tiers(root, source, changed, language, binary, stop) -> IndexResult

  ``source`` is a :class:`SearchSource`: ``keys_between(start, end)`` gives the entry keys in
  ``[start, end)`` and ``views_between(start, end)`` the :class:`ArticleView` of each, both in
  entry order (None: unbounded; both are called from the calling thread only, and only for the
  ranges of the shards a change falls in, those merged or split, or everything when the layout
  is missing). ``changed`` is a collection of entry keys (of removed articles too), or None when
  unknown: then every shard is checked by digest. :class:`MemorySource` is one over a list of
  views. Only shards holding a changed key (or merged, split, damaged or left stale by a failed
  build) are re-indexed; a touched shard whose records hash the same is kept.

Articles go in as *records* (URL, title + plain text, meta), not as HTML pages: nothing is read
back from disk, and the index holds exactly the current articles even before the writer has
removed the pages of deleted ones. Talking to Pagefind and checking its bundles:
:mod:`~rsspage.publish.search_pagefind`.

The ``pagefind/`` folder is not managed by the output writer. Bundles are built in
``pagefind/.tmp-<folder>`` under folder numbers never used before; :meth:`IndexResult.
put_in_place`, which the publish stage calls only after the pages are in place, renames them,
then replaces the layout file (the moment the search page sees the new shards), then removes the
bundles it no longer names. Only folders that hold a ``pagefind-entry.json`` (Pagefind's own) are
ever replaced or deleted.

Failures: a Pagefind failure (:class:`SearchIndexError`) is logged and the site is built without
a fresh index; the shards it should have rebuilt are marked stale in the layout, so the next
build rebuilds them whatever it is told changed. A file that cannot be written is a
:class:`~rsspage.errors.PublishError` that fails the build, like any other output file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
import threading
import time
from bisect import bisect_left
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Protocol

from rsspage.errors import PublishError
from rsspage.fileio import replace_file
from rsspage.publish import search_tiers
from rsspage.publish.search_pagefind import (
    ENTRY,
    SEARCH_FORMAT,
    TEXT_CHARS,
    Built,
    Job,
    PagefindService,
    SearchIndexError,
    build_all,
    discard,
    records_digest,
)
from rsspage.publish.search_tiers import EntryKey, KeySource, Layout, Piece, Tiers, TierShard
from rsspage.publish.site_model import ArticleView

__all__ = ["FOLDER", "SEARCH_FORMAT", "TEXT_CHARS", "EntryKey", "IndexResult", "MemorySource",
           "PagefindService", "SearchIndexError", "SearchSource", "Shard", "entry_key",
           "find_binary", "plan_shards", "records_digest", "update_index", "update_tiers"]

log = logging.getLogger("rsspage")

#: Folder of the search bundles, relative to the site root.
FOLDER = "pagefind"
#: Articles whose shards the search page merges first, newest first (each later wave twice the
#: one before): a first query downloads Pagefind's metadata for these (~7 bytes each) and one
#: index chunk per word from each of their bundles, and Pagefind scores every page that matches,
#: however large the archive. 2,000 (the newest five or six bundles) rather than 10,000: a
#: common word's first query took 1.5-2.8 s in the browser at 10,000 (scoring ~9,000 pages per
#: way the query is tried) and 0.7-0.9 s at 2,000 (benchmarks/README.md, bench_search).
WAVE = 2_000
#: Articles in all up to which the search page lists the newest of a filter without a query
#: (above, it asks for one): Pagefind's search by filters alone loads every index chunk of the
#: merged bundles, about 0.6 KB an article (7 MB for 10,000 merged at 20,000 articles).
BROWSE = 1_000
#: Suffixes of the compressed copies precompress.sync_search makes of text files.
_COPIES = (".gz", ".br")


def entry_key(view: ArticleView) -> EntryKey:
    """When the article entered the archive, then its id (the published time for an article
    not stored yet)."""
    article = view.article
    return search_tiers.aware(article.first_seen or article.published), article.id


class SearchSource(KeySource, Protocol):
    """The articles of any range of entry keys, loaded on demand (see the module docstring)."""

    def views_between(self, start: EntryKey | None,
                      end: EntryKey | None) -> Sequence[ArticleView]:
        """The views whose entry keys are in ``[start, end)`` (None: unbounded), in entry
        order."""
        ...


class MemorySource:
    """A :class:`SearchSource` over views already loaded (what a full build has)."""

    def __init__(self, views: Iterable[ArticleView]) -> None:
        pairs = sorted(((entry_key(v), v) for v in views), key=lambda pair: pair[0])
        self._keys = [key for key, _ in pairs]
        self._views = [view for _, view in pairs]

    def keys_between(self, start: EntryKey | None, end: EntryKey | None) -> Sequence[EntryKey]:
        first, last = self._bounds(start, end)
        return self._keys[first:last]

    def views_between(self, start: EntryKey | None,
                      end: EntryKey | None) -> Sequence[ArticleView]:
        first, last = self._bounds(start, end)
        return self._views[first:last]

    def _bounds(self, start: EntryKey | None, end: EntryKey | None) -> tuple[int, int]:
        first = 0 if start is None else bisect_left(self._keys, start)
        last = len(self._keys) if end is None else bisect_left(self._keys, end)
        return first, max(first, last)


@dataclass(frozen=True, slots=True)
class Shard:
    """What a full build hands :func:`update_index`: every article it publishes (the tiers are
    cut there, against the layout on disk)."""

    views: Sequence[ArticleView]


@dataclass(frozen=True, slots=True)
class IndexResult:
    #: ``pagefind/<folder>/`` → digest, for the shards now on disk.
    hashes: dict[str, str] = field(default_factory=dict)
    #: Shards (bundles of articles) built, and the records they hold.
    rebuilt: int = 0
    records: int = 0
    seconds: float = 0.0
    #: False when no Pagefind binary is installed or it failed (the index was not updated).
    available: bool = True
    #: (built folder, final folder) of each built bundle, for :meth:`put_in_place`.
    staged: tuple[tuple[Path, Path], ...] = ()
    #: The ``pagefind/`` folder and the number of shards, or None to leave it as it is.
    folder: Path | None = None
    shards: int = 0
    #: The layout file to write (None: leave it), the bundle folders it names (None: remove
    #: none).
    layout: bytes | None = None
    keep: frozenset[int] | None = None

    def put_in_place(self) -> None:
        """Move the built bundles in, publish the layout, remove the bundles it no longer
        names (after the pages)."""
        for built, final in self.staged:
            _place(built, final)
        if self.folder is None:
            return
        if self.layout is not None:
            _write_layout(self.folder, self.layout)
        if self.keep is not None:
            _remove_leftovers(self.folder, self.keep)

    def discard(self) -> None:
        """Delete the built bundles (the build failed): the live ones stay as they are."""
        discard(self.staged)


def plan_shards(views: Sequence[ArticleView], language: str) -> list[Shard]:
    """A full build's articles for :func:`update_index` (none when there are none: the search
    page then says search is unavailable)."""
    return [Shard(views)] if views else []


def update_index(root: Path, shards: Sequence[Shard], previous: Mapping[str, str],
                 language: str, binary: str | None,
                 stop: threading.Event | None = None) -> IndexResult:
    """A full build's search index: every shard checked by digest. ``previous`` (the page
    hashes) is not needed any more: the layout in ``pagefind/`` says what is on disk."""
    source = MemorySource(v for shard in shards for v in shard.views)
    return update_tiers(root, source, None, language, binary, stop)


def update_tiers(root: Path, source: SearchSource, changed: Collection[EntryKey] | None,
                 language: str, binary: str | None, stop: threading.Event | None = None, *,
                 tiers: Tiers | None = None, hidden: Collection[EntryKey] = (),
                 floor: datetime | None = None) -> IndexResult:
    """Bring the shards in ``root/pagefind`` up to date with ``source``: build (beside the live
    ones) the shards that ``changed`` falls in (None: whose digest changed) and those the tiers
    merge or split; :meth:`IndexResult.put_in_place` publishes them.

    ``hidden`` and ``floor``: the keys of the articles that left the site's window, whose start
    is ``floor`` now (see search_tiers.plan): their records stay, and the search page hides
    every record published before the floor. A floor lower than the last one could show such
    records again: then every shard is checked (and those holding them rebuilt).

    ``binary`` is :func:`find_binary`'s answer (None: no search). ``stop``, when set (the pages
    failed), ends the work at the next record."""
    started = time.monotonic()
    folder = root / FOLDER
    try:
        version = _version(binary) if binary is not None else None
    except SearchIndexError as e:
        log.error("the search index was not updated: %s", e)
        return IndexResult(available=False)
    old = _read_layout(folder, language, version)
    if old is not None and old.floor is not None and (floor is None or floor < old.floor):
        changed, hidden = None, ()
    pieces = search_tiers.plan(old, source, changed, tiers or search_tiers.TIERS, hidden)
    numbers = iter(range(_next_folder(folder, old), 1 << 62))
    planned = [p if isinstance(p, TierShard) else Job(next(numbers), p)
               for p in _reuse(pieces, old, folder, source, language)]
    jobs = [p for p in planned if isinstance(p, Job)]
    runtime = old.runtime if old is not None and _intact(folder, old.runtime) else None
    if not jobs and runtime is not None:
        assert old is not None
        return _result(folder, replace(old, shards=tuple(_fill(planned, {})), floor=floor), (),
                       {}, started)
    if binary is None:
        log.warning("pagefind is not installed: the site is built without search "
                    "(pip install 'pagefind[extended]')")
        return IndexResult(available=False)
    if runtime is None:
        jobs.append(Job(runtime := next(numbers), None))
    try:
        built = build_all(binary, folder, jobs, lambda p: source.views_between(p.start, p.end),
                          language, stop or threading.Event())
    except SearchIndexError as e:
        # A search index that could not be refreshed must not cost the pages (rendered
        # meanwhile); the shards it should have rebuilt are marked stale for the next build.
        if not (stop and stop.is_set()):  # stopped: the pages' error is the one to report
            log.error("the search index was not updated: %s", e)
        return _failed(folder, old, [job.piece for job in jobs if job.piece], floor, started)
    layout = Layout(_format_prefix(language) + str(version), runtime, next(numbers),
                    tuple(_fill(planned, built)), floor)
    staged = tuple((folder / f".tmp-{n}", folder / str(n)) for n in built)
    return _result(folder, layout, staged, built, started)


def _format_prefix(language: str) -> str:
    return f"{SEARCH_FORMAT}/{language}/"


def _read_layout(folder: Path, language: str, version: str | None) -> Layout | None:
    """The layout on disk, if it was built for this format, language and Pagefind (any
    Pagefind when none is installed: then nothing can be rebuilt anyway)."""
    try:
        data = (folder / search_tiers.LAYOUT_NAME).read_bytes()
    except OSError:
        return None
    layout = search_tiers.load_layout(data)
    if layout is None:
        log.warning("search index: %s is damaged; every article is indexed again",
                    folder / search_tiers.LAYOUT_NAME)
        return None
    if version is None:
        return layout if layout.format.startswith(_format_prefix(language)) else None
    return layout if layout.format == _format_prefix(language) + version else None


def _reuse(pieces: Sequence[Piece], old: Layout | None, folder: Path, source: SearchSource,
           language: str) -> list[TierShard | Piece]:
    """The new layout's shards: kept as they are on disk (TierShard) or to be built (Piece).
    A touched shard whose records hash the same is kept."""
    out: list[TierShard | Piece] = []
    for piece in pieces:
        shard = piece.old
        if piece.count == 0:
            out.append(TierShard(None, piece.start, piece.end, piece.level, 0,
                                 records_digest((), language)))
        elif (old is not None and shard is not None and shard.folder is not None
              and shard.digest and _intact(folder, shard.folder)
              and (not piece.touched or shard.digest == records_digest(
                  source.views_between(piece.start, piece.end), language))):
            out.append(replace(shard, start=piece.start, end=piece.end))
        else:
            out.append(piece)
    return out


def _fill(planned: Sequence[TierShard | Job], built: Mapping[int, Built]) -> list[TierShard]:
    """The layout's shards, the built ones with their folders, counts and digests."""
    out = []
    for item in planned:
        if isinstance(item, TierShard):
            out.append(item)
            continue
        assert item.piece is not None
        done = built.get(item.folder)
        count, sums = (done.count, done.digest) if done else (0, "")
        out.append(TierShard(item.folder if done else None, item.piece.start, item.piece.end,
                             item.piece.level, count, sums))
    return out


def _result(folder: Path, layout: Layout, staged: tuple[tuple[Path, Path], ...],
            built: Mapping[int, Built], started: float) -> IndexResult:
    shards = [s for s in layout.shards if s.folder is not None]
    return IndexResult(
        hashes={f"{FOLDER}/{s.folder}/": s.digest for s in shards},
        rebuilt=sum(not b.runtime for b in built.values()),
        records=sum(b.count for b in built.values() if not b.runtime),
        seconds=time.monotonic() - started, staged=staged, folder=folder,
        shards=len(shards), layout=search_tiers.dump_layout(layout, WAVE, BROWSE),
        keep=frozenset([layout.runtime, *(s.folder for s in shards if s.folder is not None)]),
    )


def _failed(folder: Path, old: Layout | None, pieces: Sequence[Piece], floor: datetime | None,
            started: float) -> IndexResult:
    """The old layout, with every shard the failed build should have replaced marked stale,
    and the higher of the two floors (the pages below the new one are gone all the same)."""
    if old is None:
        return IndexResult(seconds=time.monotonic() - started, available=False)
    stale = [replace(s, digest="") if any(_overlaps(s, p) for p in pieces) else s
             for s in old.shards]
    kept = [s for s in stale if s.folder is not None and s.digest]
    floors = [f for f in (old.floor, floor) if f is not None]
    layout = replace(old, shards=tuple(stale), floor=max(floors) if floors else None)
    return IndexResult(hashes={f"{FOLDER}/{s.folder}/": s.digest for s in kept},
                       seconds=time.monotonic() - started, available=False, folder=folder,
                       layout=search_tiers.dump_layout(layout, WAVE, BROWSE))


def _overlaps(shard: TierShard, piece: Piece) -> bool:
    """Whether the ranges of ``shard`` and ``piece`` share a key."""
    return ((shard.end is None or piece.start is None or piece.start < shard.end)
            and (piece.end is None or shard.start is None or shard.start < piece.end))


def _intact(folder: Path, number: int) -> bool:
    return (folder / str(number) / ENTRY).is_file()


def _next_folder(folder: Path, old: Layout | None) -> int:
    """A folder number above any bundle's on disk or in the layout: never reused."""
    used = [int(p.name) for p in _bundles(folder)]
    return max([old.next_folder if old else 1, *(n + 1 for n in used)])


_versions: dict[tuple[str, int, int], str] = {}


def _version(binary: str) -> str:
    """``pagefind --version`` (a bundle merges only into a script of its own version)."""
    try:
        info = os.stat(binary)
        key = (binary, info.st_mtime_ns, info.st_size)
        if key not in _versions:
            run = subprocess.run([binary, "--version"], capture_output=True, timeout=60,
                                 check=True)
            _versions[key] = run.stdout.decode("utf-8", "replace").strip()
    except (OSError, subprocess.SubprocessError) as e:
        raise SearchIndexError(f"cannot run pagefind ({binary}): {e}") from e
    if not _versions[key]:
        raise SearchIndexError(f"pagefind ({binary}) gave no version")
    return _versions[key]


def find_binary() -> str | None:
    """The Pagefind binary: ``$PAGEFIND_BINARY_PATH``, the extended PyPI build, or PATH."""
    try:
        from pagefind.service import get_executable
    except ImportError:
        return shutil.which("pagefind_extended") or shutil.which("pagefind")
    try:
        path = get_executable()
    except (OSError, FileNotFoundError):
        return None
    if path is None or not os.access(path, os.X_OK):
        return None
    if "extended" not in path.name:
        log.warning("pagefind without the extended build: Chinese text is not segmented "
                    "(pip install 'pagefind[extended]')")
    return str(path)


# -- putting them in place --------------------------------------------------------------------


def _place(built: Path, final: Path) -> None:
    """Move a built bundle to its new folder (a number no layout has named yet)."""
    try:
        if final.exists():  # left by a build that failed before its layout was written
            if not (final / ENTRY).is_file():
                raise PublishError(f"{final} is not a Pagefind index; refusing to replace it")
            shutil.rmtree(final)
        built.rename(final)
    except OSError as e:
        raise PublishError(f"cannot put search index {final} in place: {e.strerror}") from e


def _write_layout(folder: Path, data: bytes) -> None:
    """Replace the layout file (when it changed) and drop its compressed copies, which
    precompress.sync_search makes again from the new file."""
    path = folder / search_tiers.LAYOUT_NAME
    with contextlib.suppress(OSError):
        if path.read_bytes() == data:
            return
    try:
        replace_file(path, data)
        for suffix in _COPIES:
            path.with_name(path.name + suffix).unlink(missing_ok=True)
    except OSError as e:
        raise PublishError(f"cannot write {path}: {e.strerror or e}") from e


def _bundles(folder: Path) -> list[Path]:
    """The numbered bundle folders in ``folder`` (those Pagefind's entry marks)."""
    if not folder.is_dir():
        return []
    return [p for p in folder.iterdir() if p.name.isdigit() and (p / ENTRY).is_file()]


def _leftovers(folder: Path, keep: Collection[int]) -> list[Path]:
    """Bundles the layout does not name, and temporaries of an interrupted build."""
    found = [p for p in _bundles(folder) if int(p.name) not in keep]
    if folder.is_dir():
        found += [p for p in folder.iterdir() if p.name.startswith((".tmp-", ".old-"))]
    return found


def _remove_leftovers(folder: Path, keep: Collection[int]) -> None:
    for entry in _leftovers(folder, keep):
        shutil.rmtree(entry, ignore_errors=True)


