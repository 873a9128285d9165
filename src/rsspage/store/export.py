"""The archive as compressed JSON Lines: ``export`` writes it, ``restore`` reads it back.

One record per line, each a JSON object with a ``type``:

- ``{"type": "rsspage-export", "version": 1}`` first, in every file;
- ``feed``: a row of ``feeds`` (key, names, HTTP validators, health, next check, retired);
- ``gone``: the id of an article removed on purpose (its published files go too);
- ``article``: a row of ``articles`` with ``names`` (output → the file name it was published
  under, so a restored archive publishes to the same paths) and ``aliases`` (other feeds that
  brought the same link).

Page hashes are not exported: they describe one copy of the site, which a restored state
rebuilds (unchanged files are not rewritten).

An export is either one file (everything) or a folder of *parts*: ``feeds.jsonl.gz`` (feeds and
gone ids) and one ``articles-YYYY-MM.jsonl.gz`` per month of publication (a month too large for
one file, see :data:`PART_LIMIT`, goes in ``articles-YYYY-MM-DD`` parts). Parts are written with
fixed gzip headers and rows in a fixed order, so a month that did not change gives the same
bytes, and its file is left alone: a git branch holding the parts grows with the change only.

``restore`` merges into any state, in one transaction: a row newer than the stored one
(``last_changed`` for articles, ``last_attempt`` for feeds) replaces it, names and aliases are
added where free. Restoring the same export twice changes nothing the second time.
"""

from __future__ import annotations

import contextlib
import filecmp
import gzip
import io
import json
import os
import re
import sqlite3
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rsspage.errors import StoreError

FORMAT = "rsspage-export"
VERSION = 1
FEEDS_PART = "feeds.jsonl.gz"
#: A part larger than this (compressed) is split by day: GitHub refuses files over 100 MB.
PART_LIMIT = 90 * 1024 * 1024
_PART_NAME = re.compile(r"^(?:feeds|articles-\d{4}-\d{2}(?:-\d{2})?)\.jsonl\.gz$")
_TMP = ".rsspage-tmp"


@dataclass(frozen=True, slots=True)
class ExportCounts:
    feeds: int = 0
    articles: int = 0
    #: Part files written because their content changed / left as they were / removed.
    written: int = 0
    unchanged: int = 0
    removed: int = 0


@dataclass(frozen=True, slots=True)
class RestoreCounts:
    feeds: int = 0
    #: Articles added, replaced by a newer copy, or already as stored.
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    #: Published names added, and those skipped because the path was another article's.
    names: int = 0
    names_taken: int = 0


# -- export -------------------------------------------------------------------------------------


def export_file(conn: sqlite3.Connection, path: Path) -> ExportCounts:
    """The whole archive as one gzip file at ``path`` (replaced atomically)."""
    with _snapshot(conn), _part(path) as out:
        feeds = _write_feeds(conn, out)
        articles = 0
        for row in _article_rows(conn):
            _write(out, row)
            articles += 1
    return ExportCounts(feeds=feeds, articles=articles, written=1)


def export_parts(conn: sqlite3.Connection, folder: Path) -> ExportCounts:
    """The archive as parts in ``folder``; unchanged parts are not rewritten, parts of months
    that no longer hold an article are removed (only files named like parts are touched)."""
    folder.mkdir(parents=True, exist_ok=True)
    made: dict[str, bool] = {}
    with _snapshot(conn):
        with _part(folder / FEEDS_PART) as out:
            feeds = _write_feeds(conn, out)
        made[FEEDS_PART] = out.changed
        articles = 0
        for month, rows in _by_month(_article_rows(conn)):
            articles += _write_month(folder, month, rows, made)
    removed = 0
    for old in folder.iterdir():
        if _PART_NAME.match(old.name) and old.name not in made:
            old.unlink()
            removed += 1
    written = sum(made.values())
    return ExportCounts(feeds=feeds, articles=articles, written=written,
                        unchanged=len(made) - written, removed=removed)


def _write_month(folder: Path, month: str, rows: list[dict[str, Any]],
                 made: dict[str, bool]) -> int:
    name = f"articles-{month}.jsonl.gz"
    with _part(folder / name) as out:
        for row in rows:
            _write(out, row)
    if out.size <= PART_LIMIT:
        made[name] = out.changed
        return len(rows)
    (folder / name).unlink()
    days: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        days.setdefault(row["published"][:10], []).append(row)
    for day, day_rows in sorted(days.items()):
        with _part(folder / f"articles-{day}.jsonl.gz") as out:
            for row in day_rows:
                _write(out, row)
        made[f"articles-{day}.jsonl.gz"] = out.changed
    return len(rows)


def _by_month(rows: Iterable[dict[str, Any]]) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Rows (ordered by month) grouped by the month of publication, in UTC."""
    month, batch = "", list[dict[str, Any]]()
    for row in rows:
        key = row["published"][:7]
        if key != month and batch:
            yield month, batch
            batch = []
        month = key
        batch.append(row)
    if batch:
        yield month, batch


class _PartWriter:
    """A gzip JSON Lines file written beside its target and put in place only when its bytes
    differ from the file already there."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.temporary = path.with_name(f".{path.name}.{os.getpid()}{_TMP}")
        self._raw = open(self.temporary, "wb")  # noqa: SIM115 (closed in close())
        # Fixed header (no name, mtime 0): the same rows give the same bytes.
        self._gzip = gzip.GzipFile(fileobj=self._raw, mode="wb", mtime=0, filename="")
        self.text = io.TextIOWrapper(self._gzip, encoding="utf-8", newline="\n")
        self.text.write(json.dumps({"type": FORMAT, "version": VERSION}) + "\n")
        self.changed = False
        self.size = 0

    def close(self) -> None:
        self.text.close()
        self._raw.close()
        self.size = self.temporary.stat().st_size
        if self.path.exists() and filecmp.cmp(self.temporary, self.path, shallow=False):
            self.temporary.unlink()
            return
        os.replace(self.temporary, self.path)
        self.changed = True

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            self.text.close()
        with contextlib.suppress(OSError):
            self._raw.close()
        self.temporary.unlink(missing_ok=True)


@contextlib.contextmanager
def _part(path: Path) -> Iterator[_PartWriter]:
    try:
        out = _PartWriter(path)
    except OSError as e:
        raise StoreError(f"cannot write {path}: {e.strerror or e}") from e
    try:
        yield out
        out.close()
    except OSError as e:
        out.discard()
        raise StoreError(f"cannot write {path}: {e.strerror or e}") from e
    except BaseException:
        out.discard()
        raise


def _write(out: _PartWriter, record: dict[str, Any]) -> None:
    out.text.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")


@contextlib.contextmanager
def _snapshot(conn: sqlite3.Connection) -> Iterator[None]:
    """One read transaction: every query of the export sees the same archive."""
    conn.execute("BEGIN")
    try:
        yield
    finally:
        conn.execute("COMMIT")


def _write_feeds(conn: sqlite3.Connection, out: _PartWriter) -> int:
    feeds = 0
    for row in conn.execute("SELECT * FROM feeds ORDER BY key"):
        _write(out, {"type": "feed", **dict(row)})
        feeds += 1
    for row in conn.execute("SELECT id, at FROM gone_articles ORDER BY id"):
        _write(out, {"type": "gone", "id": row["id"], "at": row["at"]})
    return feeds


def _article_rows(conn: sqlite3.Connection) -> Iterator[dict[str, Any]]:
    """Every article with its names and aliases, by month of publication, then id."""
    names: dict[str, dict[str, str]] = {}
    for output, article_id, path in conn.execute(
            "SELECT output, article_id, path FROM published_names"):
        names.setdefault(article_id, {})[output] = path
    aliases: dict[str, list[str]] = {}
    for feed_key, article_id in conn.execute(
            "SELECT feed_key, article_id FROM aliases ORDER BY feed_key"):
        aliases.setdefault(article_id, []).append(feed_key)
    cursor = conn.execute("SELECT * FROM articles ORDER BY substr(published, 1, 7), id")
    for row in cursor:
        record = {"type": "article", **dict(row)}
        record["names"] = names.get(row["id"], {})
        record["aliases"] = aliases.get(row["id"], [])
        yield record


# -- restore ------------------------------------------------------------------------------------


def export_files(path: Path) -> list[Path]:
    """The files of an export: ``path`` itself, or the parts in the folder ``path``."""
    if path.is_dir():
        parts = sorted(p for p in path.iterdir() if _PART_NAME.match(p.name))
        if not parts:
            raise StoreError(f"{path}: no export parts in this folder (feeds.jsonl.gz, "
                             "articles-YYYY-MM.jsonl.gz)")
        return parts
    if not path.exists():
        raise StoreError(f"{path}: no such file or folder")
    return [path]


def restore(conn: sqlite3.Connection, files: Iterable[Path]) -> RestoreCounts:
    """Merge the records of ``files`` into the store (the caller holds one transaction)."""
    counts = _Tally()
    columns = {table: _columns(conn, table) for table in ("feeds", "articles")}
    for path in files:
        for line, record in _records(path):
            try:
                _restore_record(conn, record, columns, counts)
            except (KeyError, TypeError, ValueError, sqlite3.IntegrityError) as e:
                raise StoreError(f"{path}:{line}: not a valid {record.get('type')} "
                                 f"record ({e})") from e
    return RestoreCounts(**vars(counts))


class _Tally:
    def __init__(self) -> None:
        self.feeds = self.new = self.updated = self.unchanged = 0
        self.names = self.names_taken = 0


def _records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            for number, text in enumerate(lines, 1):
                record = _record(path, number, text)
                if number == 1:
                    if record.get("type") != FORMAT or record.get("version") != VERSION:
                        raise StoreError(f"{path}: not an rsspage export (version {VERSION})")
                    continue
                yield number, record
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as e:
        raise StoreError(f"{path}: cannot read the export ({e}); nothing was restored") from e


def _record(path: Path, number: int, text: str) -> dict[str, Any]:
    try:
        record = json.loads(text)
    except ValueError as e:
        raise StoreError(f"{path}:{number}: not JSON ({e}); nothing was restored") from e
    if not isinstance(record, dict):
        raise StoreError(f"{path}:{number}: not a record; nothing was restored")
    return record


def _columns(conn: sqlite3.Connection, table: str) -> tuple[str, ...]:
    return tuple(row[1] for row in conn.execute(f"PRAGMA table_info({table})"))


def _restore_record(conn: sqlite3.Connection, record: dict[str, Any],
                    columns: dict[str, tuple[str, ...]], counts: _Tally) -> None:
    kind = record["type"]
    if kind == "feed":
        _upsert(conn, "feeds", "key", "last_attempt", record, columns["feeds"])
        counts.feeds += 1
    elif kind == "gone":
        conn.execute("INSERT OR IGNORE INTO gone_articles (id, at) VALUES (?, ?)",
                     (str(record["id"]), str(record["at"])))
    elif kind == "article":
        _restore_article(conn, record, columns["articles"], counts)
    else:
        raise ValueError(f"unknown record type {kind!r}")


def _restore_article(conn: sqlite3.Connection, record: dict[str, Any],
                     columns: tuple[str, ...], counts: _Tally) -> None:
    article_id = str(record["id"])
    outcome = _upsert(conn, "articles", "id", "last_changed", record, columns)
    if outcome == "new":
        counts.new += 1
    elif outcome == "updated":
        counts.updated += 1
    else:
        counts.unchanged += 1
    conn.execute("DELETE FROM gone_articles WHERE id=?", (article_id,))
    for output, path in dict(record.get("names") or {}).items():
        # A name, once assigned, stays: an existing one for this article wins, and a path
        # that is another article's is not taken from it.
        added = conn.execute(
            "INSERT OR IGNORE INTO published_names (output, article_id, path) VALUES (?, ?, ?)",
            (str(output), article_id, str(path))).rowcount
        if added:
            counts.names += 1
        elif conn.execute("SELECT 1 FROM published_names WHERE output=? AND article_id=?",
                          (str(output), article_id)).fetchone() is None:
            counts.names_taken += 1
    conn.executemany("INSERT OR IGNORE INTO aliases (feed_key, article_id) VALUES (?, ?)",
                     [(str(key), article_id) for key in record.get("aliases") or ()])


def _upsert(conn: sqlite3.Connection, table: str, key: str, stamp: str,
            record: dict[str, Any], columns: tuple[str, ...]) -> str:
    """Insert ``record``, or replace the stored row when the record's ``stamp`` is newer.
    Returns ``"new"``, ``"updated"`` or ``"unchanged"``. Columns the record lacks keep their
    defaults (an export of an older schema); fields this schema lacks are ignored."""
    names = [c for c in columns if c in record]
    if key not in names:
        raise KeyError(key)
    old = conn.execute(f"SELECT {stamp} FROM {table} WHERE {key}=?", (record[key],)).fetchone()
    values = [record[c] for c in names]
    if old is None:
        conn.execute(f"INSERT INTO {table} ({', '.join(names)}) "
                     f"VALUES ({', '.join('?' * len(names))})", values)
        return "new"
    if record.get(stamp) is None or (old[0] is not None and str(record[stamp]) <= old[0]):
        return "unchanged"
    sets = ", ".join(f"{c}=?" for c in names if c != key)
    conn.execute(f"UPDATE {table} SET {sets} WHERE {key}=?",
                 [record[c] for c in names if c != key] + [record[key]])
    return "updated"
