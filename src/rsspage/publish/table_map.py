"""Path → text tables in a SQLite file in an output folder, read by key and written by
difference: the site's manifest and page hashes (manifest.py).

They hold an entry per file of the site: 56,000 at 100,000 articles. Read whole from JSON and
written whole again, they cost a build that changed ten pages ~70 MB and ~0.3 s
(benchmarks/README.md, bench_scale). A :class:`TableMap` reads a key when it is asked for,
keeps what a build changes in memory (its *overlay*) and writes only that, in one
transaction, when :meth:`~TableMap.commit` is called: what a build costs grows with what it
changes, not with the site.

Rollback-journal mode (SQLite's default): at rest the file is one file that travels with the
folder it describes (a cache, a copy), and a process killed before a commit leaves the last
committed state, which SQLite restores from its hot journal when the file is opened next.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import (
    Callable,
    Collection,
    ItemsView,
    Iterable,
    Iterator,
    Mapping,
    MutableMapping,
    ValuesView,
)
from pathlib import Path

from rsspage.errors import PublishError
from rsspage.fileio import TMP_SUFFIX

#: Rows fetched at a time when a table is read through (memory stays flat, calls stay few).
_BATCH = 2_000
#: SQLite's page cache per file (KiB, negative as SQLite takes it): a build reads a few keys
#: and a few ranges, which a bigger cache does not speed up (2 MiB, the default, filled up
#: with the pages of a whole-table read).
_CACHE_KIB = -512


def connect(path: Path, tables: Iterable[str], *, durable: bool) -> sqlite3.Connection:
    """Open (creating) the SQLite file at ``path`` with a ``(path, value)`` table for each of
    ``tables``. ``durable``: each commit is fsync'ed (what must survive a power cut)."""
    try:
        # Any thread may close it: a writer dropped without finish() closes from __del__.
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as e:
        raise PublishError(f"cannot open {path}: {e}") from e
    try:
        db.execute(f"PRAGMA synchronous = {'FULL' if durable else 'OFF'}")
        db.execute(f"PRAGMA cache_size = {_CACHE_KIB}")
        for table in tables:
            db.execute(f"CREATE TABLE IF NOT EXISTS {table} "
                       "(path TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID")
    except sqlite3.Error as e:
        db.close()
        # Extended codes (SQLITE_CORRUPT_INDEX …) carry the primary one in their low byte.
        if e.sqlite_errorcode & 0xFF in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
            raise PublishError(f"{path} is damaged ({e}); move it away to start over") from e
        raise PublishError(f"cannot open {path}: {e}") from e  # busy, read-only, full disk
    return db


class _Items(ItemsView[str, str]):
    """``items()`` of a :class:`TableMap`: the pairs read in one pass, not a query per key."""

    _mapping: TableMap

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return self._mapping.pairs()


class _Values(ValuesView[str]):
    """``values()`` of a :class:`TableMap`, read in one pass like :class:`_Items`."""

    _mapping: TableMap

    def __iter__(self) -> Iterator[str]:
        return (value for _, value in self._mapping.pairs())


class TableMap(MutableMapping[str, str]):
    """The ``(path, value)`` table ``table`` of ``db`` as a mapping: reads go to the overlay,
    then to the table; writes stay in the overlay until :meth:`commit`. A second map over the
    same table (:meth:`overlay`) sees the table as committed, with changes of its own."""

    def __init__(self, db: sqlite3.Connection, table: str,
                 failures: list[sqlite3.Error] | None = None) -> None:
        self._db, self._table = db, table
        #: The reads that failed, of this map and of its overlays (shared).
        self._failures = [] if failures is None else failures
        self._set: dict[str, str] = {}  # set in this overlay (over the table or not)
        self._added: set[str] = set()  # of those, the paths the table does not hold
        self._gone: set[str] = set()  # paths the table holds, deleted in this overlay
        self._cleared = False  # replace_all(): the table is emptied first
        self._get = f"SELECT value FROM {table} WHERE path = ?"

    @property
    def db(self) -> sqlite3.Connection:
        return self._db

    def overlay(self) -> TableMap:
        """A new map over the same table, without this one's changes (a failed read of either
        is :attr:`failed` for both)."""
        return TableMap(self._db, self._table, self._failures)

    @property
    def failed(self) -> bool:
        """Whether a read of the table failed (a damaged file: manifest.pages_failed)."""
        return bool(self._failures)

    def _stored(self, path: str) -> str | None:
        if self._cleared:
            return None
        try:
            row = self._db.execute(self._get, (path,)).fetchone()
        except sqlite3.Error as e:
            raise self._unreadable(e) from e
        return None if row is None else str(row[0])

    def __getitem__(self, path: str) -> str:
        value = self._set.get(path)
        if value is not None:
            return value
        if path not in self._gone and (value := self._stored(path)) is not None:
            return value
        raise KeyError(path)

    def get(self, path: str, default: str | None = None) -> str | None:  # type: ignore[override]
        value = self._set.get(path)
        if value is not None:
            return value
        if path in self._gone:
            return default
        stored = self._stored(path)
        return default if stored is None else stored

    def __contains__(self, path: object) -> bool:
        if not isinstance(path, str):
            return False
        return path in self._set or (path not in self._gone and self._stored(path) is not None)

    def __setitem__(self, path: str, value: str) -> None:
        if path in self._gone:
            self._gone.discard(path)
        elif path not in self._set:
            stored = self._stored(path)
            if stored == value:
                return  # as the table says: nothing to write (a build claims every file it keeps)
            if stored is None:
                self._added.add(path)
        self._set[path] = value

    def __delitem__(self, path: str) -> None:
        if path in self._set:
            del self._set[path]
            if path in self._added:
                self._added.discard(path)
            else:
                self._gone.add(path)
        elif path in self._gone or self._stored(path) is None:
            raise KeyError(path)
        else:
            self._gone.add(path)

    def is_empty(self) -> bool:
        """Whether the table holds no row (this map's overlay aside)."""
        return self._query(f"SELECT 1 FROM {self._table} LIMIT 1", ()).fetchone() is None

    def __len__(self) -> int:
        return self.count("1", (), lambda _: True)

    def __iter__(self) -> Iterator[str]:
        return (path for path, _ in self.pairs())

    def items(self) -> _Items:
        return _Items(self)

    def values(self) -> _Values:
        return _Values(self)

    def pairs(self, where: str = "", args: tuple[str, ...] = (),
              keep: Callable[[str, str], bool] | None = None) -> Iterator[tuple[str, str]]:
        """The (path, value) pairs, read in batches; ``where`` (an SQL condition on ``path``
        and ``value``, with ``args``) and ``keep`` (the same in Python, for the overlay's
        pairs) select some."""
        return self._pairs([(where, args)], keep)

    def _pairs(self, conditions: Iterable[tuple[str, tuple[str, ...]]],
               keep: Callable[[str, str], bool] | None) -> Iterator[tuple[str, str]]:
        """The pairs of the rows each of ``conditions`` selects (they select none twice), then
        the overlay's that ``keep`` keeps."""
        for where, args in conditions:
            if self._cleared:
                break
            condition = f"WHERE {where}" if where else ""
            rows = self._query(f"SELECT path, value FROM {self._table} {condition}", args)
            while batch := self._fetch(rows):
                for path, value in batch:
                    if path not in self._gone and path not in self._set:
                        yield path, value
        for path, value in list(self._set.items()):
            if keep is None or keep(path, value):
                yield path, value

    def with_value(self, value: str) -> Iterator[str]:
        """The paths whose value is ``value`` (SQLite reads the table for them)."""
        return (path for path, _ in self.pairs("value = ?", (value,), lambda _, v: v == value))

    def under(self, prefixes: Iterable[str]) -> Iterator[tuple[str, str]]:
        """The pairs whose path starts with one of ``prefixes``: a range of the table's key
        each, read by SQLite (what they hold, not the table)."""
        starts = _outermost(prefixes)
        conditions = [("path >= ? AND path < ?", (start, end)) if (end := _past(start)) else
                      ("path >= ?", (start,)) for start in starts]
        return self._pairs(conditions, lambda path, _: path.startswith(starts)) if starts \
            else iter(())

    def count(self, where: str, args: tuple[str, ...], keep: Callable[[str], bool]) -> int:
        """How many paths ``where`` (an SQL condition on ``path`` alone) holds for; ``keep``:
        the same in Python."""
        if self._cleared:
            return sum(map(keep, self._set))
        row = self._query(f"SELECT count(*) FROM {self._table} WHERE {where}", args).fetchone()
        return (int(row[0]) + sum(map(keep, self._added))
                - sum(map(keep, self._gone)))

    def _query(self, sql: str, args: tuple[str, ...]) -> sqlite3.Cursor:
        try:
            return self._db.execute(sql, args)
        except sqlite3.Error as e:
            raise self._unreadable(e) from e

    def _fetch(self, rows: sqlite3.Cursor) -> list[tuple[str, str]]:
        try:
            return rows.fetchmany(_BATCH)
        except sqlite3.Error as e:
            raise self._unreadable(e) from e

    def _unreadable(self, error: sqlite3.Error) -> PublishError:
        self._failures.append(error)
        try:
            name = self._db.execute("PRAGMA database_list").fetchone()[2]
        except sqlite3.Error:
            name = "rsspage's records of its files"
        return PublishError(f"cannot read {name}: {error}")

    def replace_all(self, values: Mapping[str, str]) -> None:
        """Make the table (and this map) hold ``values`` and nothing else; commit() saves."""
        self._set, self._added, self._gone = dict(values), set(values), set()
        self._cleared = True

    def write(self) -> None:
        """Put the overlay's changes in the table (inside the caller's transaction)."""
        if self._cleared:
            self._db.execute(f"DELETE FROM {self._table}")
        self._db.executemany(f"DELETE FROM {self._table} WHERE path = ?",
                             ((p,) for p in sorted(self._gone)))
        self._db.executemany(f"INSERT OR REPLACE INTO {self._table} (path, value) VALUES (?, ?)",
                             sorted(self._set.items()))
        self._set, self._added, self._gone = {}, set(), set()
        self._cleared = False


def _outermost(prefixes: Iterable[str]) -> tuple[str, ...]:
    """``prefixes`` in order, without those another of them starts (their paths are its)."""
    kept: list[str] = []
    for prefix in sorted(set(prefixes)):
        if not kept or not prefix.startswith(kept[-1]):
            kept.append(prefix)
    return tuple(kept)


def _past(prefix: str) -> str | None:
    """The first text after every text that starts with ``prefix`` (in code point order, which
    SQLite's BINARY collation of UTF-8 keeps); None: there is none (or prefix is empty)."""
    while prefix and prefix[-1] == "\U0010ffff":
        prefix = prefix[:-1]
    if not prefix:
        return None
    following = ord(prefix[-1]) + 1
    if 0xD800 <= following <= 0xDFFF:  # surrogates are no text: the next code point is
        following = 0xE000
    return prefix[:-1] + chr(following)


def write_new(path: Path, tables: Mapping[str, Mapping[str, str]], *, durable: bool) -> None:
    """Make ``path`` a file of ``tables`` (name → its pairs), whole or not at all: written
    beside it under a temporary name (``.<name>.<pid>.rsspage-tmp``, swept by
    manifest.sweep_temporaries when a kill leaves it), then put in its place."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}{TMP_SUFFIX}")
    for leftover in (tmp, Path(f"{tmp}-journal")):
        leftover.unlink(missing_ok=True)
    db = connect(tmp, tables, durable=durable)
    try:
        maps = [TableMap(db, table) for table in tables]
        for table, values in zip(maps, tables.values(), strict=True):
            table.replace_all(values)
        commit(db, maps, path)
    except BaseException:
        db.close()
        for leftover in (tmp, Path(f"{tmp}-journal")):
            leftover.unlink(missing_ok=True)
        raise
    db.close()
    try:
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise PublishError(f"cannot save {path}: {e.strerror}") from e


def commit(db: sqlite3.Connection, maps: Iterable[TableMap], what: Path) -> None:
    """Write the changes of ``maps`` (over tables of ``db``) in one transaction."""
    try:
        db.execute("BEGIN IMMEDIATE")
        try:
            for table in maps:
                table.write()
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:  # SQLite may have rolled it back itself
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
            raise
    except sqlite3.Error as e:
        raise PublishError(f"cannot save {what}: {e}") from e


# -- the same questions of a dictionary (an earlier version's JSON, a first build) -----------


def with_value(table: Mapping[str, str], value: str) -> Iterable[str]:
    """The paths ``table`` maps to ``value`` (read by SQLite from a :class:`TableMap`)."""
    if isinstance(table, TableMap):
        return table.with_value(value)
    return [path for path, v in table.items() if v == value]


def under(table: Mapping[str, str], prefixes: Iterable[str]) -> Iterable[tuple[str, str]]:
    """The pairs of ``table`` whose path starts with one of ``prefixes``."""
    if isinstance(table, TableMap):
        return table.under(prefixes)
    starts = tuple(prefixes)
    return [(path, v) for path, v in table.items() if starts and path.startswith(starts)]


def overlay(table: Mapping[str, str]) -> MutableMapping[str, str]:
    """A copy of ``table`` to change: only the changes are held for a :class:`TableMap`."""
    return table.overlay() if isinstance(table, TableMap) else dict(table)


class _Ending(Collection[str]):
    """The paths of a :class:`TableMap` that end in ``suffix``, read as they are asked for."""

    def __init__(self, table: TableMap, suffix: str) -> None:
        self._table, self._suffix = table, suffix
        self._where = "substr(path, -length(?)) = ?"

    def _keep(self, path: str) -> bool:
        return path.endswith(self._suffix)

    def __iter__(self) -> Iterator[str]:
        pairs = self._table.pairs(self._where, (self._suffix,) * 2, lambda p, _: self._keep(p))
        return (path for path, _ in pairs)

    def __len__(self) -> int:
        return self._table.count(self._where, (self._suffix,) * 2, self._keep)

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and self._keep(path) and path in self._table

    def under(self, prefixes: Iterable[str]) -> Iterator[str]:
        return (path for path, _ in self._table.under(prefixes) if self._keep(path))


def paths_under(paths: Collection[str], prefixes: Iterable[str]) -> Iterable[str]:
    """Those of ``paths`` (:func:`ending`'s) that start with one of ``prefixes``."""
    if isinstance(paths, _Ending):
        return paths.under(prefixes)
    starts = tuple(prefixes)
    return [path for path in paths if starts and path.startswith(starts)]


def ending(table: Mapping[str, str], suffix: str) -> Collection[str]:
    """The paths of ``table`` that end in ``suffix`` (read as they are asked for from a
    :class:`TableMap`)."""
    if isinstance(table, TableMap):
        return _Ending(table, suffix)
    return [path for path in table if path.endswith(suffix)]
