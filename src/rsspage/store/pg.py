"""PostgreSQL as the archive: a connection that runs the store's SQL, and its migrations.

The store's modules write their statements once, in SQLite's dialect; :func:`translate` turns
each into PostgreSQL's (once per distinct statement, cached): ``?`` placeholders become ``%s``
(and every ``%`` is doubled: psycopg reads the whole text, string literals too, as parameters
are always passed), ``INSERT OR IGNORE`` becomes ``ON CONFLICT DO NOTHING``, SQLite's index
hints (a unary ``+`` before one of the text columns in :data:`_HINTED`) go, ``instr`` is
``strpos``. A ``+`` before any other name is refused: it may be an addition written
``a +b``, which removing would silently make an alias. ``BEGIN
IMMEDIATE`` (a write) takes the store's one advisory lock (see
:func:`rsspage.store.db.transaction`); a plain ``BEGIN`` (an export's reads) is a read-only
snapshot. What cannot be translated is asked through the connection's ``dialect`` by the
few places that differ (search, the change log's mark, the schema).

Rows are tuples that also answer to a column's name, like ``sqlite3.Row``. Every text column
is ``COLLATE "C"``: the archive sorts and compares by code point as SQLite does, whatever the
database's own collation, so keys, pages and listings come out the same on both.

psycopg (3) is imported only when a PostgreSQL URL is used: the ``postgresql`` extra.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

from rsspage.errors import StoreError
from rsspage.redact import redact_url
from rsspage.store.db import POSTGRESQL, Connection, Where, open_reader
from rsspage.store.pg_schema import MIGRATIONS

if TYPE_CHECKING:
    import psycopg

#: The advisory lock every write transaction takes (one writer at a time, as with SQLite).
WRITE_LOCK = 0x7273_7370  # "rssp"
#: The advisory lock a run (update, build, import) holds for its whole length.
RUN_LOCK = 0x7273_7371
#: The lock migrations take: two processes opening a new database do not both create it.
MIGRATION_LOCK = 0x7273_7372
#: Fetching: fetch workers hold it shared for their run, ``update`` exclusively (an update
#: does not take leases: it would fetch the feeds workers are fetching).
FETCH_LOCK = 0x7273_7373

_INSERT_OR_IGNORE = re.compile(r"\bINSERT\s+OR\s+IGNORE\s+INTO\b", re.IGNORECASE)
#: The text columns the store's statements give SQLite's ``+`` index hint: PostgreSQL has no
#: unary + for text, so it goes. On the integer ``hidden`` it stays: PostgreSQL's planner
#: then also keeps off the indexes led by ``hidden`` (without statistics, on a new table, it
#: took the site's index for a fingerprint lookup and read every article of the window).
_HINTED = ("published", "feed_key", "article_id")
_KEPT = ("hidden", "a.hidden")
_HINT = re.compile(r"(?<=[\s(,])\+(?=(?:" + "|".join(map(re.escape, _HINTED)) + r")\b)")
_KEPT_HINT = re.compile(r"(?<=[\s(,])\+(?=(?:" + "|".join(map(re.escape, _KEPT)) + r")\b)")
_UNARY_PLUS = re.compile(r"(?<=[\s(,])\+(?=[A-Za-z_])")
_INSTR = re.compile(r"\binstr\(", re.IGNORECASE)
_STRING = re.compile(r"('(?:[^']|'')*')")


def is_url(location: str) -> bool:
    return location.startswith(("postgresql://", "postgres://"))


@functools.lru_cache(maxsize=4096)
def translate(sql: str) -> str:
    """The PostgreSQL statement for the store's (SQLite's) ``sql``; string literals are left
    as they are."""
    parts = _STRING.split(sql)
    for i, part in enumerate(parts):
        part = part.replace("%", "%%")
        if i % 2 == 0:  # outside string literals
            part = _INSTR.sub("strpos(", _HINT.sub("", part.replace("?", "%s")))
            if _UNARY_PLUS.search(_KEPT_HINT.sub("", part)):
                raise ValueError(f"not portable (a + that is no index hint): {sql}")
        parts[i] = part
    out = "".join(parts)
    if _INSERT_OR_IGNORE.search(out):
        if re.search(r"\bOR\s+REPLACE\b", out, re.IGNORECASE):
            raise ValueError(f"not portable: {sql}")
        out = _INSERT_OR_IGNORE.sub("INSERT INTO", out).rstrip().rstrip(";")
        out += " ON CONFLICT DO NOTHING"
    if re.search(r"\bINSERT\s+OR\s+REPLACE\b", out, re.IGNORECASE):
        raise ValueError(f"INSERT OR REPLACE is not portable, use ON CONFLICT: {sql}")
    return out


def _values(parameters: Any) -> Any:
    """Parameters as PostgreSQL takes them: booleans as the integers SQLite stores; always a
    list (psycopg then reads the statement's ``%%`` as ``%``)."""
    if isinstance(parameters, dict):
        return parameters
    return [int(p) if isinstance(p, bool) else p for p in parameters or ()]


class _RowBase(tuple[Any, ...]):
    _index: ClassVar[dict[str, int]] = {}

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._index)


@functools.lru_cache(maxsize=512)
def _row_class(names: tuple[str, ...]) -> type[_RowBase]:
    return type("Row", (_RowBase,), {"__slots__": (), "_index": {n: i for i, n in
                                                                  enumerate(names)}})


def _row_factory(cursor: Any) -> Callable[[Sequence[Any]], _RowBase]:
    names = tuple(c.name for c in cursor.description or ())
    return _row_class(names)


class PgCursor:
    """A cursor with sqlite3's manners over psycopg's."""

    row_factory: Any = None  # rows are always tuples that also take names

    def __init__(self, cursor: psycopg.Cursor[Any]) -> None:
        self._cursor = cursor

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    def execute(self, sql: str, parameters: Any = (), /) -> PgCursor:
        self._cursor.execute(translate(sql), _values(parameters))
        return self

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> PgCursor:
        rows = [_values(p) for p in parameters]
        if rows:
            self._cursor.executemany(translate(sql), rows)
        return self

    def fetchone(self) -> Any:
        return self._cursor.fetchone() if self._cursor.description else None

    def fetchall(self) -> list[Any]:
        return self._cursor.fetchall() if self._cursor.description else []

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())


class PgConnection:
    """The store's connection to PostgreSQL (see the module docstring)."""

    dialect = POSTGRESQL

    def __init__(self, conn: psycopg.Connection[Any], url: str) -> None:
        import psycopg
        self._conn = conn
        self._url = url
        self.Error: type[Exception] = psycopg.Error
        self.IntegrityError: type[Exception] = psycopg.IntegrityError

    def execute(self, sql: str, parameters: Any = (), /) -> PgCursor:
        statement = sql.strip().upper()
        if statement == "BEGIN IMMEDIATE":
            self._conn.execute("BEGIN")
            try:
                self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
            except BaseException:
                self._conn.execute("ROLLBACK")  # not left in an aborted transaction
                raise
            return self.cursor()
        if statement == "BEGIN":
            self._conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            return self.cursor()
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> PgCursor:
        return self.cursor().executemany(sql, parameters)

    def cursor(self) -> PgCursor:
        return PgCursor(self._conn.cursor(row_factory=_row_factory))

    def close(self) -> None:
        self._conn.close()

    def reader(self) -> Callable[[], Connection]:
        return functools.partial(open_reader, self.where())

    def where(self) -> Where:
        return POSTGRESQL, self._url

    @property
    def raw(self) -> psycopg.Connection[Any]:
        """psycopg's own connection (advisory locks, COPY)."""
        return self._conn


def connect(url: str, *, migrate: bool = True, attempts: int = 5) -> PgConnection:
    """Connect to the archive at ``url`` (autocommit: the store says where transactions
    begin), bringing its schema up to date. A server that is starting (or restarting) is tried
    again for a few seconds. Errors never show the URL's password."""
    try:
        import psycopg
    except ImportError as e:
        raise StoreError("a postgresql:// store needs psycopg: pip install "
                         "'rsspage[postgresql]'") from e
    for attempt in range(attempts):
        try:
            raw = psycopg.connect(url, autocommit=True, connect_timeout=10)
            break
        except psycopg.OperationalError as e:
            if attempt == attempts - 1 or "starting up" not in str(e):
                raise StoreError(f"cannot connect to the store {redact_url(url)}: "
                                 f"{_first_line(e, url)}") from None
            time.sleep(0.5 * (attempt + 1))
        except psycopg.Error:  # libpq's parse errors quote the URL's parts: the password too
            raise StoreError(f"the store's URL cannot be read as a PostgreSQL URL "
                             f"({redact_url(url)}); a % in the password is written %25"
                             ) from None
    # psycopg prepares a statement run five times; PostgreSQL would then plan it once for any
    # values, and that plan of the fingerprint lookup read 30 times the rows (0.62 ms against
    # 0.17 ms a lookup, a third of storing an article): plan each time, parse once.
    raw.execute("SET plan_cache_mode = force_custom_plan")
    conn = PgConnection(raw, url)
    if migrate:
        try:
            _migrate(conn)
        except psycopg.Error as e:
            conn.close()
            raise StoreError(f"cannot prepare the store {redact_url(url)}: "
                             f"{_first_line(e, url)}") from None
    return conn


def _first_line(error: BaseException, url: str) -> str:
    """libpq's message, first line, with the URL's secrets taken out should it quote them."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return text.replace(url, redact_url(url))


def _migrate(conn: PgConnection) -> None:
    raw = conn.raw
    with raw.transaction():
        raw.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        raw.execute("CREATE TABLE IF NOT EXISTS rsspage_schema (version INTEGER NOT NULL)")
        row = raw.execute("SELECT version FROM rsspage_schema").fetchone()
        version = int(row[0]) if row else 0
        if version > len(MIGRATIONS):
            raise StoreError(
                f"the store has schema version {version}, newer than this rsspage "
                f"understands ({len(MIGRATIONS)}): upgrade rsspage")
        _check_ctype(raw)
        for number in range(version + 1, len(MIGRATIONS) + 1):
            raw.execute(MIGRATIONS[number - 1].encode())
        if version < len(MIGRATIONS):
            raw.execute("DELETE FROM rsspage_schema")
            raw.execute("INSERT INTO rsspage_schema (version) VALUES (%s)", (len(MIGRATIONS),))


def _check_ctype(raw: psycopg.Connection[Any]) -> None:
    """Refuse a database whose character type is ``C``/``POSIX``: pg_trgm then keeps only
    ASCII letters and digits, and Chinese could not be searched (tests/test_postgres_server.py
    shows it). ``C.UTF-8`` or any UTF-8 locale will do."""
    row = raw.execute("SELECT datctype, pg_encoding_to_char(encoding) FROM pg_database "
                      "WHERE datname = current_database()").fetchone()
    ctype, encoding = (str(row[0]), str(row[1])) if row else ("", "")
    if encoding != "UTF8" or ctype.upper() in ("C", "POSIX"):
        raise StoreError(
            f"the store's database has encoding {encoding} and LC_CTYPE {ctype!r}: rsspage "
            "needs UTF8 with a UTF-8 character type (e.g. CREATE DATABASE ... ENCODING 'UTF8' "
            "LC_CTYPE 'C.UTF-8' LC_COLLATE 'C.UTF-8' TEMPLATE template0), or its search could "
            "not find Chinese")


@contextmanager
def run_lock(url: str, *, fetching: bool = False) -> Iterator[None]:
    """Hold the store's run lock (an advisory lock of a connection of its own, which the
    server releases when the connection ends, even when this process is killed); ``fetching``
    (``update``): the fetch lock too, which no fetch worker may hold meanwhile. Session
    locks: a pooler in transaction mode between rsspage and the server would lose them."""
    conn = connect(url, migrate=False)
    try:
        if not _try(conn, "pg_try_advisory_lock", RUN_LOCK):
            raise StoreError(f"another rsspage run (update, build, import) holds the store "
                             f"{redact_url(url)}; wait for it to finish")
        if fetching and not _try(conn, "pg_try_advisory_lock", FETCH_LOCK):
            raise StoreError(f"fetch workers are running on the store {redact_url(url)}: "
                             "run `rsspage update --worker` beside them, or `rsspage build`")
        yield
    finally:
        conn.close()


@contextmanager
def worker_lock(url: str) -> Iterator[None]:
    """The fetch lock, shared with other fetch workers for this worker's run."""
    conn = connect(url, migrate=False)
    try:
        if not _try(conn, "pg_try_advisory_lock_shared", FETCH_LOCK):
            raise StoreError(f"an rsspage update is fetching on the store {redact_url(url)}; "
                             "start workers when it has ended")
        yield
    finally:
        conn.close()


def _try(conn: PgConnection, function: str, key: int) -> bool:
    row = conn.raw.execute(f"SELECT {function}(%s)", (key,)).fetchone()
    return bool(row and row[0])
