"""Database plumbing: connections, migrations, transactions, the run lock, error wrapping.

The store's modules write their SQL once, for both databases: SQLite's, which PostgreSQL's
connection (:mod:`rsspage.store.pg`) translates (placeholders, ``INSERT OR IGNORE``, index
hints). Both connections meet :class:`Connection`; the few reads that differ ask its
``dialect``. Contains no business logic.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from rsspage.errors import ArchiveBusy, StoreError
from rsspage.store.schema import MIGRATIONS

DB_NAME = "rsspage.sqlite3"
LOCK_NAME = "update.lock"
SQLITE, POSTGRESQL = "sqlite", "postgresql"


class Cursor(Protocol):
    """What the store uses of a DB-API cursor (sqlite3's, or :class:`rsspage.store.pg`'s)."""

    row_factory: Any

    @property
    def rowcount(self) -> int: ...

    def execute(self, sql: str, parameters: Any = ..., /) -> Cursor: ...

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> Cursor: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """What the store uses of a connection. Rows are tuples that also take a column's name."""

    @property
    def dialect(self) -> str: ...

    @property
    def Error(self) -> type[Exception]: ...

    @property
    def IntegrityError(self) -> type[Exception]: ...

    def execute(self, sql: str, parameters: Any = ..., /) -> Cursor: ...

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> Cursor: ...

    def cursor(self) -> Cursor: ...

    def close(self) -> None: ...

    def reader(self) -> Callable[[], Connection]:
        """A way to open, in another thread, a read-only connection to the same database."""
        ...

    def where(self) -> Where:
        """Where the database is, for another process to open it (:func:`open_reader`)."""
        ...


#: A database's dialect and location: the SQLite file's path, or the PostgreSQL URL (a
#: secret: passed to another process on a pipe, never on its command line).
Where = tuple[str, str]


def utc_text(when: datetime) -> str:
    """``when`` as the store writes and compares its times: ISO 8601 in UTC (a naive time is
    taken as UTC, as the store reads one back). Every order and bound of the archive compares
    these strings (SQL ``ORDER BY published``, the site's listings, the neighbours' bisect, the
    change log's windows), which order as the instants do only in one zone."""
    return (when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)).isoformat()


def open_reader(where: Where) -> Connection:
    """A read-only connection to the database ``where`` (:meth:`Connection.where`)."""
    dialect, location = where
    if dialect == POSTGRESQL:
        from rsspage.store import pg  # psycopg only when PostgreSQL is used
        conn = pg.connect(location, migrate=False)
        conn.execute("SET default_transaction_read_only = on")
        return conn
    return sqlite3.connect(f"{Path(location).as_uri()}?mode=ro", uri=True, timeout=30,
                           factory=SqliteConnection)


class SqliteConnection(sqlite3.Connection):
    """sqlite3's connection, saying which database it is."""

    dialect = SQLITE

    def reader(self) -> Callable[[], Connection]:
        return partial(open_reader, self.where())

    def where(self) -> Where:
        return SQLITE, str(self.execute("PRAGMA database_list").fetchone()[2])


def connect(state_dir: Path) -> SqliteConnection:
    """Open (creating if needed) the database in ``state_dir`` and bring its schema up to date."""
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(state_dir / DB_NAME, isolation_level=None, timeout=30,
                               factory=SqliteConnection)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL is durable against process crashes
        conn.execute("PRAGMA foreign_keys=ON")
        _migrate(conn)
        return conn
    except (sqlite3.Error, OSError) as e:
        raise StoreError(f"cannot open the state database in {state_dir}: {e}") from e


def _migrate(conn: SqliteConnection) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > len(MIGRATIONS):
        raise StoreError(
            f"the state database has schema version {version}, newer than this rsspage "
            f"understands ({len(MIGRATIONS)}): upgrade rsspage"
        )
    for number in range(version + 1, len(MIGRATIONS) + 1):
        with transaction(conn):
            for statement in _statements(MIGRATIONS[number - 1]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")


def _statements(script: str) -> Iterator[str]:
    """Split a DDL script into statements (sqlite3.complete_statement keeps triggers whole)."""
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            yield buffer.strip()
            buffer = ""
    if buffer.strip():
        yield buffer.strip()


@contextmanager
def transaction(conn: Connection, *, exclusive: bool = True) -> Iterator[Connection]:
    """BEGIN IMMEDIATE … COMMIT, rolling back on any error; database errors become StoreError.

    One writer at a time, on either database: on PostgreSQL every write transaction first
    takes one advisory lock (:data:`rsspage.store.pg.WRITE_LOCK`). The store's writes read
    before they write (is this story stored already?), as they do under SQLite's one writer;
    and the change log's numbers are then committed in order, so that a build that saw number
    N has seen every change before it. A transaction that is not ``exclusive`` (workers'
    leases, which lock their own rows) skips that lock on PostgreSQL."""
    try:
        conn.execute("BEGIN IMMEDIATE" if exclusive or conn.dialect == SQLITE
                     else "BEGIN READ WRITE")
    except conn.Error as e:
        raise StoreError(f"cannot start a transaction: {e}") from e
    try:
        yield conn
    except conn.Error as e:
        conn.execute("ROLLBACK")
        raise StoreError(f"database error: {e}") from e
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")


@contextmanager
def run_lock(state_dir: Path, url: str | None = None, *,
             fetching: bool = False) -> Iterator[None]:
    """Hold an exclusive lock on the state folder, so two runs never write the same state; with
    a PostgreSQL store (``url``), also the store's run lock, which runs on other machines take
    too (fetch workers do not: they run side by side), and for a run that is ``fetching``
    (``update``), the lock that fetch workers share."""
    with _folder_lock(state_dir):
        if url is None:
            yield
            return
        from rsspage.store import pg  # psycopg only for a PostgreSQL store
        with pg.run_lock(url, fetching=fetching):
            yield


@contextmanager
def _folder_lock(state_dir: Path) -> Iterator[None]:
    state_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(state_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as e:
            raise ArchiveBusy(
                f"another rsspage run{_holder(fd)} is already running on {state_dir} "
                f"(lock: {LOCK_NAME}); wait for it to finish, or stop it if it is a "
                "`rsspage watch`"
            ) from e
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)  # closing releases the flock; the kernel also drops it if we are killed


def _holder(fd: int) -> str:
    """`` (pid N)`` for the run holding the lock, as it wrote itself into the file; else ``""``.

    The holder may not have written its pid yet (or be writing it): then we say nothing.
    """
    try:
        text = os.pread(fd, 32, 0).decode("ascii").strip()
    except (OSError, UnicodeDecodeError):
        return ""
    return f" (pid {text})" if text.isdigit() else ""


def one_of(conn: Connection, values: Collection[object]) -> tuple[str, object]:
    """``IN`` a list of any length as one parameter: ``(sql, parameter)`` to follow a column
    (SQLite's statement would otherwise need one placeholder per value)."""
    if conn.dialect == POSTGRESQL:
        return "= ANY(?)", list(values)
    return "IN (SELECT value FROM json_each(?))", json.dumps(list(values))


@contextmanager
def unlogged(conn: Connection, trigger: str) -> Iterator[None]:
    """Inside a transaction: the change log's ``trigger`` (SQLite) does not log the updates
    made within (keys filled in, which change no page). PostgreSQL's one trigger function
    reads a setting local to the transaction instead."""
    if conn.dialect == POSTGRESQL:
        conn.execute("SET LOCAL rsspage.unlogged = 'on'")
        yield
        conn.execute("SET LOCAL rsspage.unlogged = 'off'")
        return
    (sql,) = conn.execute("SELECT sql FROM sqlite_master WHERE type='trigger' AND name=?",
                          (trigger,)).fetchone()
    conn.execute(f"DROP TRIGGER {trigger}")
    yield
    conn.execute(sql)


def leave_out_search_index(conn: Connection) -> None:
    """Inside a transaction, before a restore or an import: when the archive is empty (a new
    machine), leave the search index out (:func:`detach_search_index`); the first search builds
    it. Restoring 100,000 articles spent 10.3 of its 28.9 s building it, and a machine that
    restores the archive to update and build (a CI runner, every run) never searches it.
    (PostgreSQL's trigram index has no trigger to drop.)"""
    if conn.dialect == SQLITE and not conn.execute(
            "SELECT EXISTS(SELECT 1 FROM articles)").fetchone()[0]:
        detach_search_index(conn)


def detach_search_index(conn: Connection) -> None:
    """Inside a transaction (SQLite): empty the search index and drop the triggers that keep
    it, keeping their SQL in ``meta`` for :func:`attach_search_index`. Nothing reads the index
    but a search, which attaches it first."""
    if search_index_detached(conn):
        return
    triggers = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                            f"AND name IN {SEARCH_TRIGGERS} ORDER BY name").fetchall()
    for name, _ in triggers:
        conn.execute(f"DROP TRIGGER {name}")
    conn.execute("INSERT INTO articles_fts(articles_fts) VALUES ('delete-all')")
    conn.execute("INSERT INTO meta (key, value) VALUES (?, ?)",
                 (_DETACHED, json.dumps([sql for _, sql in triggers])))


def attach_search_index(conn: Connection) -> None:
    """Inside a transaction: build the search index of every article and put its triggers back
    (after :func:`detach_search_index`; nothing to do otherwise)."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (_DETACHED,)).fetchone()
    if row is None:
        return
    for sql in json.loads(row[0]):
        conn.execute(sql)
    conn.execute("INSERT INTO articles_fts(articles_fts) VALUES ('rebuild')")
    conn.execute("DELETE FROM meta WHERE key = ?", (_DETACHED,))


def search_index_detached(conn: Connection) -> bool:
    """Whether the search index is left out until the first search (SQLite)."""
    return conn.dialect == SQLITE and conn.execute(
        "SELECT EXISTS(SELECT 1 FROM meta WHERE key = ?)", (_DETACHED,)).fetchone()[0] == 1


#: The triggers that keep the SQLite search index (FTS5) in step with the articles.
SEARCH_TRIGGERS = ("articles_ad", "articles_ai", "articles_au")
#: ``meta`` key: the search index is detached; its value, the triggers' SQL.
_DETACHED = "search_index_detached"
