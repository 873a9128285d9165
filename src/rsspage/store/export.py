"""The archive as compressed JSON Lines: ``export`` writes it, ``restore`` reads it back.

One record per line, each a JSON object with a ``type``:

- ``{"type": "rsspage-export", "version": 1}`` first, in every file;
- ``feed``: a row of ``feeds`` (key, names, HTTP validators, health, next check, retired);
- ``gone``: the id of an article removed on purpose (its published files go too);
- ``mark``: the archive's identity and the number of its last change (:mod:`.changes`), which
  a restore into an empty state takes over: the outputs built from the exported archive then
  know the restored one as the same (a GitHub runner restores its state in every run);
- ``article``: a row of ``articles`` with ``names`` (output → the file name it was published
  under, so a restored archive publishes to the same paths), ``aliases`` (other feeds that
  brought the same story) and ``alias_details`` (feed key → how it matched, ``link`` or
  ``fingerprint``, its copy's link and when it was first seen; older restores ignore it).

Page hashes are not exported: they describe one copy of the site, which a restored state
rebuilds (unchanged files are not rewritten).

An export is either one file (everything) or a folder of *parts*: ``feeds.jsonl.gz`` (feeds and
gone ids) and one ``articles-YYYY-MM.jsonl.gz`` per month of publication (a month too large for
one file, see :data:`PART_LIMIT`, goes in ``articles-YYYY-MM-DD`` parts). Parts are written with
fixed gzip headers and rows in a fixed order, so a month that did not change gives the same
bytes, and its file is left alone: a git branch holding the parts grows with the change only.

``restore`` merges into any state, in one transaction: a row newer than the stored one
(``last_changed`` for articles, ``last_attempt`` for feeds) replaces it, names and aliases are
added where free, and an article removed on purpose (a ``gone`` record or a local one) stays
removed unless it changed after its removal. Restoring the same export twice changes nothing
the second time.
"""

from __future__ import annotations

import contextlib
import filecmp
import gzip
import io
import json
import os
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rsspage.errors import StoreError
from rsspage.fileio import TMP_SUFFIX
from rsspage.store import changes, db
from rsspage.store.db import Connection

FORMAT = "rsspage-export"
VERSION = 1
FEEDS_PART = "feeds.jsonl.gz"
#: A part larger than this (compressed) is split by day: GitHub refuses files over 100 MB.
PART_LIMIT = 90 * 1024 * 1024
_PART_NAME = re.compile(r"^(?:feeds|articles-\d{4}-\d{2}(?:-\d{2})?)\.jsonl\.gz$")


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
    #: Articles not restored, or deleted, because they were removed on purpose (pruned,
    #: forgotten) after the other copy of them was made.
    gone: int = 0
    #: Articles whose record had no story cluster (an export older than schema 14): the
    #: restore decides theirs; the others keep the one they came with.
    unclustered: int = 0


# -- export -------------------------------------------------------------------------------------


def export_file(conn: Connection, path: Path) -> ExportCounts:
    """The whole archive as one gzip file at ``path`` (replaced atomically)."""
    with _snapshot(conn), _part(path) as out:
        feeds = _write_feeds(conn, out)
        articles = sum(_write_articles(conn, out, month) for month in _periods(conn, 7))
    return ExportCounts(feeds=feeds, articles=articles, written=1)


def export_parts(conn: Connection, folder: Path) -> ExportCounts:
    """The archive as parts in ``folder``; unchanged parts are not rewritten, parts of months
    that no longer hold an article are removed (only files named like parts are touched).
    One part is read and written at a time: memory does not grow with the archive."""
    folder.mkdir(parents=True, exist_ok=True)
    for leftover in folder.glob(f".*{TMP_SUFFIX}"):  # of an export that was killed
        leftover.unlink(missing_ok=True)
    made: dict[str, bool] = {}  # part name → rewritten
    with _snapshot(conn):
        with _part(folder / FEEDS_PART) as out:
            feeds = _write_feeds(conn, out)
        made[FEEDS_PART] = out.changed
        articles = sum(_write_month(conn, folder, month, made) for month in _periods(conn, 7))
    removed = 0
    for old in folder.iterdir():
        if _PART_NAME.match(old.name) and old.name not in made:
            old.unlink()
            removed += 1
    written = sum(made.values())
    return ExportCounts(feeds=feeds, articles=articles, written=written,
                        unchanged=len(made) - written, removed=removed)


def _write_month(conn: Connection, folder: Path, month: str,
                 made: dict[str, bool]) -> int:
    """One month's part, or its days' parts when it would be over :data:`PART_LIMIT`."""
    name = f"articles-{month}.jsonl.gz"
    with _part(folder / name) as out:
        count = _write_articles(conn, out, month)
    if out.size <= PART_LIMIT:
        made[name] = out.changed
        return count
    (folder / name).unlink()
    for day in _periods(conn, 10, month):
        with _part(folder / f"articles-{day}.jsonl.gz") as out:
            _write_articles(conn, out, day)
        made[f"articles-{day}.jsonl.gz"] = out.changed
    return count


def _periods(conn: Connection, length: int, within: str = "") -> list[str]:
    """The months (``length`` 7) or days (10) of publication, in UTC, ``within`` a prefix."""
    rows = conn.execute(
        f"SELECT DISTINCT substr(published, 1, {length}) FROM articles "
        "WHERE published >= ? AND published < ? ORDER BY 1", _range(within))
    return [row[0] for row in rows]


def _range(prefix: str) -> tuple[str, str]:
    """Bounds of the ISO timestamps that start with ``prefix`` (an index range, no scan)."""
    return prefix, prefix + "\uffff"


class _PartWriter:
    """A gzip JSON Lines file written beside its target and put in place only when its bytes
    differ from the file already there."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.temporary = path.with_name(f".{path.name}.{os.getpid()}{TMP_SUFFIX}")
        self._raw = open(self.temporary, "wb")  # noqa: SIM115 (closed in close())
        # Fixed header (no name, mtime 0): the same rows give the same bytes.
        self._gzip = gzip.GzipFile(fileobj=self._raw, mode="wb", mtime=0, filename="",
                                   compresslevel=6)  # 9: a third slower for 2 % less
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
def _snapshot(conn: Connection) -> Iterator[None]:
    """One read transaction: every query of the export sees the same archive."""
    conn.execute("BEGIN")
    try:
        yield
    finally:
        conn.execute("COMMIT")


def _write_feeds(conn: Connection, out: _PartWriter) -> int:
    feeds = 0
    for row in conn.execute("SELECT * FROM feeds ORDER BY key"):
        _write(out, {"type": "feed", **dict(row)})
        feeds += 1
    for row in conn.execute("SELECT id, at FROM gone_articles ORDER BY id"):
        _write(out, {"type": "gone", "id": row["id"], "at": row["at"]})
    mark = changes.mark(conn)
    _write(out, {"type": "mark", "archive": mark.archive, "seq": mark.seq})
    return feeds


def _write_articles(conn: Connection, out: _PartWriter, period: str) -> int:
    """The articles published in ``period`` (a month or a day), by id, with their names and
    aliases; returns how many."""
    lo_hi = _range(period)
    within = "SELECT id FROM articles WHERE published >= ? AND published < ?"
    names: dict[str, dict[str, str]] = {}
    for output, article_id, path in conn.execute(
            f"SELECT output, article_id, path FROM published_names WHERE article_id IN "
            f"({within})", lo_hi):
        names.setdefault(article_id, {})[output] = path
    aliases: dict[str, list[str]] = {}
    details: dict[str, dict[str, dict[str, Any]]] = {}
    for feed_key, article_id, matched, link, first_seen in conn.execute(
            f"SELECT feed_key, article_id, matched, link, first_seen FROM aliases "
            f"WHERE article_id IN ({within}) ORDER BY feed_key", lo_hi):
        aliases.setdefault(article_id, []).append(feed_key)
        details.setdefault(article_id, {})[feed_key] = {
            "matched": matched, "link": link, "first_seen": first_seen}
    count = 0
    for row in conn.execute("SELECT * FROM articles WHERE published >= ? AND published < ? "
                            "ORDER BY id", lo_hi):
        fields = {k: v for k, v in dict(row).items() if k != "rowid"}  # PostgreSQL's own
        _write(out, {"type": "article", **fields, "names": names.get(row["id"], {}),
                     "aliases": aliases.get(row["id"], []),
                     "alias_details": details.get(row["id"], {})})
        count += 1
    return count


# -- restore ------------------------------------------------------------------------------------


def export_files(path: Path) -> list[Path]:
    """The files of an export: ``path`` itself, or the parts in the folder ``path``."""
    if path.is_dir():
        # Feeds and removal records first, as in a single file: a restore's outcome must not
        # depend on the form of the export.
        parts = sorted((p for p in path.iterdir() if _PART_NAME.match(p.name)),
                       key=lambda p: (p.name != FEEDS_PART, p.name))
        if not parts:
            raise StoreError(f"{path}: no export parts in this folder (feeds.jsonl.gz, "
                             "articles-YYYY-MM.jsonl.gz)")
        return parts
    if not path.exists():
        raise StoreError(f"{path}: no such file or folder")
    return [path]


def restore(conn: Connection, files: Iterable[Path]) -> RestoreCounts:
    """Merge the records of ``files`` into the store (the caller holds one transaction)."""
    counts = _Tally()
    columns = {table: _columns(conn, table) for table in ("feeds", "articles")}
    fresh = changes.is_empty(conn)
    db.leave_out_search_index(conn)
    for path in files:
        for line, record in _records(path):
            try:
                _restore_record(conn, record, columns, counts)
            except (KeyError, TypeError, ValueError, conn.IntegrityError) as e:
                raise StoreError(f"{path}:{line}: not a valid {record.get('type')} "
                                 f"record ({e})") from e
    if fresh and counts.mark is not None:
        # This archive now holds exactly what the exported one held at its mark.
        changes.adopt(conn, *counts.mark)
    return RestoreCounts(**{k: v for k, v in vars(counts).items() if k != "mark"})


class _Tally:
    def __init__(self) -> None:
        self.feeds = self.new = self.updated = self.unchanged = 0
        self.names = self.names_taken = self.gone = self.unclustered = 0
        #: The exported archive's (identity, last change), if the export says.
        self.mark: tuple[str, int] | None = None


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


def _columns(conn: Connection, table: str) -> tuple[str, ...]:
    """The columns of ``table`` (an article's ``rowid`` is the database's own, not part of
    its record)."""
    if conn.dialect == db.POSTGRESQL:
        rows = conn.execute("SELECT column_name FROM information_schema.columns WHERE "
                            "table_schema = current_schema() AND table_name = ? "
                            "ORDER BY ordinal_position", (table,))
        return tuple(str(row[0]) for row in rows if row[0] != "rowid")
    return tuple(row[1] for row in conn.execute(f"PRAGMA table_info({table})"))


def _restore_record(conn: Connection, record: dict[str, Any],
                    columns: dict[str, tuple[str, ...]], counts: _Tally) -> None:
    kind = record["type"]
    if kind == "feed":
        _upsert(conn, "feeds", "key", "last_attempt", record, columns["feeds"])
        counts.feeds += 1
    elif kind == "gone":
        _restore_gone(conn, str(record["id"]), str(record["at"]), counts)
    elif kind == "article":
        _restore_article(conn, record, columns["articles"], counts)
    elif kind == "mark":
        counts.mark = (str(record["archive"]), int(record["seq"]))
    else:
        raise ValueError(f"unknown record type {kind!r}")


def _restore_gone(conn: Connection, article_id: str, at: str, counts: _Tally) -> None:
    """An article removed on purpose stays removed, unless it came back after that."""
    row = conn.execute("SELECT last_changed FROM articles WHERE id=?", (article_id,)).fetchone()
    if row is not None and row[0] > at:
        return
    conn.execute("INSERT INTO gone_articles (id, at) VALUES (?, ?) ON CONFLICT(id) DO UPDATE "
                 "SET at=excluded.at WHERE excluded.at > gone_articles.at", (article_id, at))
    if row is not None:
        conn.execute("DELETE FROM published_names WHERE article_id=?", (article_id,))
        conn.execute("DELETE FROM articles WHERE id=?", (article_id,))
        counts.gone += 1


def _restore_article(conn: Connection, record: dict[str, Any],
                     columns: tuple[str, ...], counts: _Tally) -> None:
    article_id = str(record["id"])
    gone = conn.execute("SELECT at FROM gone_articles WHERE id=?", (article_id,)).fetchone()
    if gone is not None and gone[0] >= str(record.get("last_changed") or ""):
        counts.gone += 1  # removed on purpose after this copy was made: stays removed
        return
    counts.unclustered += "cluster" not in record
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
    details = dict(record.get("alias_details") or {})  # how each matched (schema 12)
    conn.executemany(
        "INSERT OR IGNORE INTO aliases (feed_key, article_id, matched, link, first_seen) "
        "VALUES (?, ?, ?, ?, ?)",
        [(str(key), article_id, *_alias_detail(details.get(str(key)) or {}))
         for key in record.get("aliases") or ()])


def _alias_detail(detail: dict[str, Any]) -> tuple[str, str, str | None]:
    """(matched, link, first_seen) of an exported alias; an export made before schema 12 has
    none: every alias then was by an equal link."""
    first_seen = detail.get("first_seen")
    return (str(detail.get("matched") or "link"), str(detail.get("link") or ""),
            str(first_seen) if first_seen else None)


def _upsert(conn: Connection, table: str, key: str, stamp: str,
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
