"""The change log: what changed in the archive since a given moment, without reading it.

Triggers (schema migration 7) add a row to ``changes`` for every article inserted, updated or
deleted; its ``seq`` only grows. The *mark* of the archive is the last ``seq`` handed out
(``sqlite_sequence`` remembers it even after the rows are trimmed), together with the
archive's identity, so a mark taken from another archive (a lost state folder, a restore on
another machine) never matches.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rsspage.store import db
from rsspage.store.db import Connection, utc_text


@dataclass(frozen=True, slots=True)
class ArchiveMark:
    """Where the archive stands: equal marks mean the same articles, in every detail."""

    #: Random, made once per archive (a new state folder makes a new one).
    archive: str
    #: The last change's number; 0 before the first.
    seq: int

    def as_text(self) -> str:
        return f"{self.archive}:{self.seq}"


def mark(conn: Connection) -> ArchiveMark:
    return ArchiveMark(archive_id(conn), _last_seq(conn))


def _last_seq(conn: Connection) -> int:
    """The number of the last change committed. SQLite's sequence keeps it past a trim. On
    PostgreSQL a sequence also counts numbers taken by transactions not yet committed (another
    worker's), so it is the last row logged, or the mark the log was trimmed to: writers
    commit one at a time (store/db.py), so every number below a visible one is visible."""
    if conn.dialect == db.POSTGRESQL:
        row = conn.execute("SELECT GREATEST(COALESCE((SELECT MAX(seq) FROM changes), 0), "
                           "COALESCE((SELECT CAST(value AS BIGINT) FROM meta "
                           "WHERE key = 'trimmed'), 0))").fetchone()
        return int(row[0])
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'changes'").fetchone()
    return int(row[0]) if row else 0


def archive_id(conn: Connection) -> str:
    return str(conn.execute("SELECT value FROM meta WHERE key = 'archive'").fetchone()[0])


def is_empty(conn: Connection) -> bool:
    """Whether nothing was ever stored in this archive (an archive of an earlier version has
    articles but no log)."""
    return mark(conn).seq == 0 and not conn.execute(
        "SELECT EXISTS(SELECT 1 FROM articles) OR EXISTS(SELECT 1 FROM gone_articles)"
    ).fetchone()[0]


def trim(conn: Connection, upto: int) -> int:
    """Drop the log up to ``upto`` (the oldest mark an output was built from); returns how
    many rows went. The mark itself stays (``sqlite_sequence``; ``trimmed``)."""
    trimmed = conn.execute("SELECT value FROM meta WHERE key = 'trimmed'").fetchone()
    if trimmed is not None and int(trimmed[0]) >= upto:
        return 0
    conn.execute("INSERT INTO meta (key, value) VALUES ('trimmed', ?) ON CONFLICT(key) "
                 "DO UPDATE SET value = excluded.value", (str(upto),))
    return conn.execute("DELETE FROM changes WHERE seq <= ?", (upto,)).rowcount


def adopt(conn: Connection, archive: str, seq: int) -> None:
    """Become the archive ``archive`` at mark ``seq`` (a restore into an empty state of that
    archive's export): the rows the restore itself logged describe no change of it."""
    conn.execute("UPDATE meta SET value = ? WHERE key = 'archive'", (archive,))
    conn.execute("DELETE FROM changes")
    if conn.dialect == db.POSTGRESQL:
        conn.execute("SELECT setval(pg_get_serial_sequence('changes', 'seq'), "
                     "CAST(? AS BIGINT), ? = 1)",
                     (max(seq, 1), seq > 0))
    else:
        conn.execute("DELETE FROM sqlite_sequence WHERE name = 'changes'")
        conn.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('changes', ?)", (seq,))
    conn.execute("INSERT INTO meta (key, value) VALUES ('trimmed', ?) ON CONFLICT(key) "
                 "DO UPDATE SET value = excluded.value", (str(seq),))


#: ``changes.kind`` of a row the story clusters' triggers logged (schema migration 17).
CLUSTER_ONLY = 1


@dataclass(frozen=True, slots=True)
class Location:
    """Where an article was: its names and dates."""

    category: str
    source: str
    channel: str
    published: datetime
    first_seen: datetime | None


@dataclass(frozen=True, slots=True)
class Change:
    """An article added, changed or removed since a mark."""

    id: str
    #: Where it was at the mark; None when it was not in the archive then.
    before: Location | None
    #: Only its story cluster changed (another member joined, left, was renamed): its place
    #: and all that pages but its own and its cards show of it are as they were.
    cluster_only: bool = False
    #: Only the site's window moved past it (it left or entered the window; ``window_moved``):
    #: it is where it was, and no other article's place in its month changed (for one that
    #: left, nothing after it in its month moves: publish/delta_listings.py).
    window_only: bool = False


def since(conn: Connection, seq: int) -> list[Change] | None:
    """The articles that changed after mark ``seq``, each with where it was at that mark (its
    earliest row after it; later rows describe states no build saw). None when the log no
    longer reaches back to ``seq`` (trimmed past it)."""
    trimmed = conn.execute("SELECT value FROM meta WHERE key = 'trimmed'").fetchone()
    if trimmed is not None and int(trimmed[0]) > seq:
        return None
    found: dict[str, Change] = {}
    rows = conn.execute("SELECT id, category, source, channel, published, first_seen, kind "
                        "FROM changes WHERE seq > ? ORDER BY seq", (seq,))
    for ident, *where, kind in rows:
        if ident not in found:
            found[ident] = Change(ident, None if where[3] is None else _location(*where),
                                  kind == CLUSTER_ONLY)
        elif kind != CLUSTER_ONLY and found[ident].cluster_only:
            found[ident] = Change(ident, found[ident].before)
    return list(found.values())


def _location(category: str, source: str, channel: str, published: str,
              first_seen: str | None) -> Location:
    """A :class:`Location` from its columns (of ``changes`` or ``articles``)."""
    return Location(category, source, channel, datetime.fromisoformat(published),
                    datetime.fromisoformat(first_seen) if first_seen else None)


def window_moved(conn: Connection, old: datetime | None, new: datetime | None,
                 limit: int) -> list[Change] | None:
    """The articles published between ``old`` and ``new`` (None: the beginning of time): those
    that left a window starting at ``old`` when it starts at ``new`` now (where they are), or
    that entered it (as new to it). None when they are more than ``limit``."""
    if old == new:
        return []
    left = new is not None and (old is None or new > old)  # it starts later: articles left
    low, high = (old, new) if left else (new, old)
    assert high is not None
    terms, params = ["hidden = 0", "published < ?"], [utc_text(high)]
    if low is not None:
        terms.append("published >= ?")
        params.append(utc_text(low))
    rows = conn.execute(f"SELECT id, category, source, channel, published, first_seen "
                        f"FROM articles WHERE {' AND '.join(terms)} LIMIT ?",
                        (*params, limit + 1)).fetchall()
    if len(rows) > limit:
        return None
    return [Change(ident, _location(*where) if left else None, window_only=True)
            for ident, *where in rows]
