"""Articles: upsert by id, de-duplication across feeds, published names, pruning.

The same story brought by a second feed (an equal canonical link, or the same normalised title
within a few days and near-identical text: :mod:`rsspage.canonical`) is stored once: the copy
first stored stays as it is (its id, link, names and published files), and the other feed is
recorded as an alias of it, with how it matched and the copy's own link.

An article a filter rule hid stays here with ``hidden = 1``; the reads of what is published
(:func:`iter_all`, :func:`by_ids`, :func:`count`, ``SiteQuery``, search) skip it, as if it had
been removed, while the archive still knows it (its files are removed, not kept as unknown).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from rsspage.media import enclosures_from_json, enclosures_to_json
from rsspage.store.clusters import queue as queue_for_clusters
from rsspage.store.db import Connection, utc_text
from rsspage.store.same_story import alias_of, story_keys
from rsspage.types import Article

_COLUMNS = (
    "id", "feed_key", "title", "link", "published", "date_estimated", "date_clamped", "updated",
    "author", "category", "source", "channel", "content_html", "text", "image", "content_hash",
    "tags", "enclosures",
)
#: What a stored Article is read from: the written columns and when it was first stored.
_READ_COLUMNS = (*_COLUMNS, "first_seen")

#: What save compares a stored article with.
_OLD_COLUMNS = ("content_hash, published, date_clamped, clamped_from, content_from, "
                "length(text) AS text_length")

#: Ids in one ``IN (…)`` query (SQLite allows 32,766 parameters).
_IDS_PER_QUERY = 500

#: The comparison keys stored with each article (rsspage.canonical), written with it.
_KEY_COLUMNS = ("canonical_link", "title_key")
#: A copy from another feed is richer, and gives the stored article its content, when its text
#: is this many times as long and this many characters longer (a summary against a full text;
#: not an edited sentence).
_RICHER_RATIO = 1.5
_RICHER_GAIN = 100


@dataclass(frozen=True, slots=True)
class SaveCounts:
    new: int = 0
    updated: int = 0
    aliased: int = 0
    #: New articles stored hidden (a filter rule hid them).
    blocked: int = 0
    #: Of ``aliased``: the copies recognised by their fingerprint (a link of their own).
    by_fingerprint: int = 0
    #: Of ``aliased``: the copies much richer than the stored article, which took their
    #: content (see ``_take_richer``).
    richer: int = 0
    #: Of ``aliased``: the copies seen for the first time (a feed brings the same copy on every
    #: fetch until it drops the item; only its first arrival is news for a run's summary).
    merged: int = 0


def _row(article: Article) -> tuple[object, ...]:
    return (
        article.id, article.feed_key, article.title, article.link, utc_text(article.published),
        int(article.date_estimated), int(article.date_clamped),
        utc_text(article.updated) if article.updated else None, article.author,
        article.category, article.source, article.channel, article.content_html, article.text,
        article.image, article.content_hash, _tags_text(article.tags),
        enclosures_to_json(article.enclosures),
    )


def _tags_text(tags: tuple[str, ...]) -> str:
    return json.dumps(list(tags), ensure_ascii=False) if tags else ""


def _tags(text: str) -> tuple[str, ...]:
    return tuple(json.loads(text)) if text else ()


def save(conn: Connection, articles: Iterable[Article], now: datetime, *,
         imported: bool = False, hidden: Collection[str] = ()) -> SaveCounts:
    """Insert new articles, rewrite changed ones, leave unchanged ones untouched.

    An article brought by ``rsspage import-hexo`` (``imported``) carries an id made without the
    feed's guid; when the feed brings the same item (same link, else same title, in the same
    feed) it updates the imported article, under that article's id, instead of adding a second
    one. An import skips an item its feed already brought the same way.

    A story another feed brought first is not stored again (see
    :func:`rsspage.store.same_story.alias_of`); its copy gives the stored article its content
    only when it is much richer (:func:`_take_richer`).

    A new article whose id is in ``hidden`` (filter rules hid it) is stored hidden; an article
    already stored keeps its flag (``rsspage filter test --apply`` decides again)."""
    tally: Counter[str] = Counter()  # SaveCounts' fields, while they are counted
    stamp = utc_text(now)
    for article in articles:
        target = article.id
        old = conn.execute(
            f"SELECT {_OLD_COLUMNS} FROM articles WHERE id=?", (target,)
        ).fetchone()
        if old is None:
            twin = _twin(conn, article, imported_only=not imported)
            if twin is not None:
                if imported:
                    continue  # the feed brought it already
                target, old = twin["id"], twin
        if old is None:
            keys = story_keys(article)
            if not _merged(conn, article, keys, stamp, tally, imported=imported):
                _insert(conn, article, keys, stamp, imported=imported,
                        hidden=article.id in hidden)
                if article.id not in hidden:
                    queue_for_clusters(conn, article.id)  # the same story from other sources
                tally["blocked"] += article.id in hidden
                tally["new"] += article.id not in hidden
        elif (old["content_hash"] != article.content_hash and not imported
              and _keeps_richer(old, article)):
            _update(conn, target, old, article, stamp)
            tally["updated"] += 1
    return SaveCounts(**tally)


def _merged(conn: Connection, article: Article, keys: tuple[str, str], stamp: str,
            tally: Counter[str], *, imported: bool) -> bool:
    """Whether ``article`` is a copy of a story another feed brought (then recorded as an
    alias of it, and taken when richer), counted in ``tally``."""
    found = alias_of(conn, article, keys, stamp)
    if found is None:
        return False
    tally["aliased"] += 1
    tally["by_fingerprint"] += found[1] == "fingerprint"
    tally["merged"] += found[2]
    if not imported:
        tally["richer"] += _take_richer(conn, found[0], article, stamp)
    return True


def _insert(conn: Connection, article: Article, keys: tuple[str, str], stamp: str, *,
            imported: bool, hidden: bool) -> None:
    conn.execute(
        f"INSERT INTO articles ({', '.join(_COLUMNS)}, first_seen, last_changed, "
        f"imported, clamped_from, hidden, {', '.join(_KEY_COLUMNS)}) "
        f"VALUES ({', '.join('?' * (len(_COLUMNS) + 7))})",
        (*_row(article), stamp, stamp, int(imported), _clamped_from(article), int(hidden),
         *keys),
    )
    conn.execute("DELETE FROM gone_articles WHERE id=?", (article.id,))  # back again


def _update(conn: Connection, target: str, old: Any, article: Article,
            stamp: str) -> None:
    """Rewrite the stored article ``target`` with its feed's changed copy ``article``."""
    row = list(_row(article))
    if article.date_estimated or _same_clamp(old, article):
        row[4] = old["published"]  # the date first given stays (see _same_clamp)
    sets = ", ".join(f"{c}=?" for c in (*_COLUMNS[1:], *_KEY_COLUMNS))
    conn.execute(
        f"UPDATE articles SET {sets}, clamped_from=?, content_from=NULL, last_changed=? "
        "WHERE id=?",
        (*row[1:], *story_keys(article), _clamped_from(article), stamp, target),
    )


def _keeps_richer(old: Any, article: Article) -> bool:
    """Whether the feed's changed copy may replace the stored article: always, unless the
    stored content came from a richer copy of another feed (:func:`_take_richer`) and this one
    is shorter; else the two copies would replace each other on every run."""
    return old["content_from"] is None or len(article.text) >= old["text_length"]


def _take_richer(conn: Connection, target: str, copy: Article, stamp: str) -> bool:
    """Give the stored article ``target`` the content of another feed's ``copy`` when the copy
    is much richer (a full text where the first feed gave a summary: half as long again, and
    100 characters more), or when its content was taken from this feed already and changed,
    and is not shorter (else a page that gave no text would put the summary back). The article
    keeps its id, title, link, date and names: its pages stay where they are."""
    row = conn.execute("SELECT length(text), content_hash, content_from FROM articles "
                       "WHERE id=?", (target,)).fetchone()
    length, content_hash, content_from = row
    if content_hash == copy.content_hash or len(copy.text) < length:
        return False  # never a shorter copy over a longer text (a full text's failed refetch)
    richer = len(copy.text) >= length * _RICHER_RATIO and len(copy.text) - length >= _RICHER_GAIN
    if not (richer or content_from == copy.feed_key):
        return False
    conn.execute(
        "UPDATE articles SET content_html=?, text=?, image=CASE WHEN image='' THEN ? "
        "ELSE image END, enclosures=CASE WHEN enclosures='' THEN ? ELSE enclosures END, "
        "content_hash=?, content_from=?, last_changed=? WHERE id=?",
        (copy.content_html, copy.text, copy.image, enclosures_to_json(copy.enclosures),
         copy.content_hash, copy.feed_key, stamp, target))
    return True


def _clamped_from(article: Article) -> str | None:
    return utc_text(article.clamped_from) if article.clamped_from else None


def _same_clamp(old: Any, article: Article) -> bool:
    """Whether ``article``'s date is clamped as the stored one was, from the same date in the
    feed: then the date it was first given stays, like an estimated one (else every run would
    clamp it to its own time and rewrite the article's outputs)."""
    return (article.date_clamped and bool(old["date_clamped"])
            and old["clamped_from"] == _clamped_from(article))


def _twin(conn: Connection, article: Article, *, imported_only: bool) -> Any:
    """The article of the same feed with the same link (or, without links, the same title):
    among imported ones only, for an item a feed brings; among all, for an imported one."""
    only = " AND imported = 1" if imported_only else ""
    if article.link:
        # "+feed_key": by the link's index (a few rows), not the feed's (all its articles:
        # 3.5 ms a lookup in a feed of 3,000, 7 s of storing 2,000 into 100,000).
        where, key = "link = ? AND link != ''", article.link
    else:
        where, key = "link = '' AND title = ?", article.title
    feed = "+feed_key" if article.link else "feed_key"
    return conn.execute(
        f"SELECT id, {_OLD_COLUMNS} FROM articles WHERE {feed} = ? AND {where}{only} "
        "ORDER BY rowid LIMIT 1", (article.feed_key, key)).fetchone()  # the first stored


def _article(row: Sequence[Any]) -> Article:
    """An Article from a row of :data:`_READ_COLUMNS`, in that order."""
    (id_, feed_key, title, link, published, date_estimated, date_clamped, updated, author,
     category, source, channel, content_html, text, image, content_hash, tags, enclosures,
     first_seen) = row
    return Article(
        id=id_, feed_key=feed_key, title=title, link=link,
        published=datetime.fromisoformat(published), date_estimated=bool(date_estimated),
        date_clamped=bool(date_clamped),
        updated=datetime.fromisoformat(updated) if updated else None, author=author,
        category=category, source=source, channel=channel, content_html=content_html, text=text,
        image=image, content_hash=content_hash,
        first_seen=datetime.fromisoformat(first_seen) if first_seen else None,
        tags=_tags(tags), enclosures=enclosures_from_json(enclosures),
    )


def iter_all(conn: Connection, *, content: bool = True,
             since: datetime | None = None) -> Iterator[Article]:
    """Every article, oldest first (ties by first sight, then id): a deterministic order.

    ``content=False`` leaves ``content_html`` empty (see :func:`contents`): reading it is half
    the time of loading 20,000 articles, and a rebuild shows the content of only a few.
    ``since``: only those published since then, read through the index on ``published`` (the
    rest of the archive is not read at all).
    """
    columns = ", ".join(c if content or c != "content_html" else "'' AS content_html"
                        for c in _READ_COLUMNS)
    where, params = "WHERE hidden = 0", []
    if since:
        where, params = f"{where} AND published >= ?", [utc_text(since)]
    cursor = conn.cursor()
    cursor.row_factory = None  # plain tuples: every site build reads all 20,000 rows
    cursor.execute(f"SELECT {columns} FROM articles {where} "
                   "ORDER BY published, first_seen, id", params)
    for row in cursor:
        yield _article(row)


def published_at(conn: Connection, rank: int) -> datetime | None:
    row = conn.execute("SELECT published FROM articles WHERE hidden = 0 ORDER BY published DESC "
                       "LIMIT 1 OFFSET ?", (rank - 1,)).fetchone()
    return datetime.fromisoformat(row[0]) if row else None


def contents(conn: Connection, ids: Iterable[str]) -> dict[str, str]:
    """``content_html`` of the articles ``ids`` (those that exist), by id."""
    wanted = list(ids)
    found: dict[str, str] = {}
    for start in range(0, len(wanted), _IDS_PER_QUERY):
        part = wanted[start:start + _IDS_PER_QUERY]
        rows = conn.execute(
            f"SELECT id, content_html FROM articles WHERE id IN ({', '.join('?' * len(part))})",
            part,
        )
        found.update((row[0], row[1]) for row in rows)
    return found


def by_ids(conn: Connection, ids: Iterable[str]) -> dict[str, Article]:
    """The articles ``ids`` (those that exist), whole, by id."""
    wanted = list(ids)
    found: dict[str, Article] = {}
    cursor = conn.cursor()
    cursor.row_factory = None
    for start in range(0, len(wanted), _IDS_PER_QUERY):
        part = wanted[start:start + _IDS_PER_QUERY]
        cursor.execute(f"SELECT {', '.join(_READ_COLUMNS)} FROM articles "
                       f"WHERE hidden = 0 AND id IN ({', '.join('?' * len(part))})", part)
        found.update((row[0], _article(row)) for row in cursor)
    return found


def count(conn: Connection) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM articles WHERE hidden = 0").fetchone()[0])


def iter_archive(conn: Connection) -> Iterator[tuple[Article, bool]]:
    """Every article, hidden or not, without ``content_html`` (its ``text`` is there), with
    whether it is hidden: what filter rules are tried on. By feed, oldest first.

    An article ``import-hexo`` brought arrived, for the date rules (``max_age``, ``future``:
    judged by arrival), when it was published: an import brings years of history on purpose,
    and the rules never hid it on arrival (an import applies none)."""
    columns = ", ".join("'' AS content_html" if c == "content_html" else c
                        for c in _READ_COLUMNS)
    cursor = conn.cursor()
    cursor.row_factory = None
    cursor.execute(f"SELECT {columns}, hidden, imported FROM articles "
                   "ORDER BY feed_key, published, id")
    for row in cursor:
        article = _article(row[:-2])
        if row[-1]:
            article = replace(article, first_seen=article.published)
        yield article, bool(row[-2])


def set_hidden(conn: Connection, ids: Iterable[str], hidden: bool,
               now: datetime) -> int:
    """Hide (or show again) the articles ``ids``; returns how many changed. The update is
    logged (change log triggers), so the next build removes (or brings back) their pages."""
    wanted = list(ids)
    changed = 0
    for start in range(0, len(wanted), _IDS_PER_QUERY):
        part = wanted[start:start + _IDS_PER_QUERY]
        changed += conn.execute(
            f"UPDATE articles SET hidden = ?, last_changed = ? WHERE hidden != ? "
            f"AND id IN ({', '.join('?' * len(part))})",
            (int(hidden), utc_text(now), int(hidden), *part)).rowcount
    return changed


def prune(conn: Connection, before: datetime, now: datetime) -> int:
    """Delete articles published before ``before``, on purpose: their files go too."""
    return remove(conn, "published < ?", (utc_text(before),), now)


def of_feed(conn: Connection, feed_key: str) -> list[tuple[str, str, bool]]:
    """(id, title, shared) of the articles ``feed_key`` brought, oldest first; ``shared``:
    another feed brought the same link too (an alias), so the article would stay with it."""
    rows = conn.execute(
        "SELECT id, title, EXISTS(SELECT 1 FROM aliases l WHERE l.article_id = a.id "
        "AND l.feed_key != a.feed_key) FROM articles a WHERE feed_key=? ORDER BY published, id",
        (feed_key,))
    return [(r[0], r[1], bool(r[2])) for r in rows]


def remove_feed(conn: Connection, feed_key: str, now: datetime) -> tuple[int, int]:
    """Delete the articles of ``feed_key`` on purpose (``rsspage forget``), but for those another
    feed brought too: they pass to that feed. Returns (deleted, handed over)."""
    handed = _hand_over(conn, feed_key)
    conn.execute("DELETE FROM aliases WHERE feed_key=?", (feed_key,))
    return remove(conn, "feed_key = ?", (feed_key,), now), handed


def _hand_over(conn: Connection, feed_key: str) -> int:
    """Give the articles of ``feed_key`` that other feeds also brought to the first of those
    feeds, filed under its names (where it has them)."""
    heirs = conn.execute(
        "SELECT a.id, MIN(l.feed_key) FROM articles a JOIN aliases l ON l.article_id = a.id "
        "WHERE a.feed_key = ? AND l.feed_key != ? GROUP BY a.id", (feed_key, feed_key)).fetchall()
    for article_id, heir in heirs:
        row = conn.execute("SELECT category, source, channel FROM feeds WHERE key=?",
                           (heir,)).fetchone()
        conn.execute(
            """UPDATE articles SET feed_key=?, category=COALESCE(NULLIF(?, ''), category),
                   source=COALESCE(NULLIF(?, ''), source), channel=COALESCE(NULLIF(?, ''), channel)
               WHERE id=?""", (heir, *(tuple(row) if row else ("", "", "")), article_id))
        conn.execute("DELETE FROM aliases WHERE feed_key=? AND article_id=?", (heir, article_id))
    return len(heirs)


def remove(conn: Connection, where: str, params: tuple[object, ...],
            now: datetime) -> int:
    """Delete the articles matching ``where`` and their names, remembering their ids as gone:
    publishing then deletes their files (files of articles the store does not know are kept)."""
    conn.execute(f"INSERT INTO gone_articles (id, at) SELECT id, ? FROM articles WHERE {where} "
                 "ON CONFLICT (id) DO UPDATE SET at = excluded.at", (utc_text(now), *params))
    conn.execute(f"DELETE FROM published_names WHERE article_id IN "
                 f"(SELECT id FROM articles WHERE {where})", params)
    return conn.execute(f"DELETE FROM articles WHERE {where}", params).rowcount


def unknown_ids(conn: Connection, ids: Iterable[str]) -> set[str]:
    """Those of ``ids`` neither in the archive nor removed from it on purpose (a younger
    state): their published files are kept."""
    wanted = list(dict.fromkeys(ids))
    known: set[str] = set()
    for start in range(0, len(wanted), _IDS_PER_QUERY):
        part = wanted[start:start + _IDS_PER_QUERY]
        marks = ", ".join("?" * len(part))
        known.update(row[0] for row in conn.execute(
            f"SELECT id FROM articles WHERE id IN ({marks}) "
            f"UNION SELECT id FROM gone_articles WHERE id IN ({marks})", part + part))
    return set(wanted) - known


def names(conn: Connection, output: str) -> dict[str, str]:
    rows = conn.execute("SELECT article_id, path FROM published_names WHERE output=?", (output,))
    return {r["article_id"]: r["path"] for r in rows}


def save_names(conn: Connection, output: str, assigned: Mapping[str, str]) -> None:
    """Record the names ``assigned``, by article id; a path another article had is its no
    longer."""
    rows = [(output, article_id, path) for article_id, path in assigned.items()]
    conn.executemany("DELETE FROM published_names WHERE output = ? AND article_id != ? "
                     "AND path = ?", rows)
    conn.executemany("INSERT INTO published_names (output, article_id, path) VALUES (?, ?, ?) "
                     "ON CONFLICT (output, article_id) DO UPDATE SET path = excluded.path", rows)


def page_hashes(conn: Connection, output: str) -> dict[str, str]:
    cursor = conn.cursor()
    cursor.row_factory = None  # (path, hash) tuples straight into the dict: 20,000 rows
    return dict(cursor.execute("SELECT path, hash FROM pages WHERE output=?", (output,)))


def save_page_hashes(conn: Connection, output: str, hashes: Mapping[str, str]) -> None:
    """Replace the page hashes of one output with ``hashes`` (pages no longer built go away).

    Only the differences are written: a rebuild after a few new articles changes a few dozen
    of 20,000 rows."""
    old = page_hashes(conn, output)
    conn.executemany("DELETE FROM pages WHERE output=? AND path=?",
                     [(output, path) for path in old.keys() - hashes.keys()])
    conn.executemany(
        "INSERT INTO pages (output, path, hash) VALUES (?, ?, ?) "
        "ON CONFLICT (output, path) DO UPDATE SET hash = excluded.hash",
        [(output, path, digest) for path, digest in hashes.items() if old.get(path) != digest],
    )
