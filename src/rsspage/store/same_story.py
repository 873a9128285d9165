"""The same story from another feed: found by canonical link, or by fingerprint (the same
normalised title within a few days, and near-identical text: :mod:`rsspage.canonical`), and
recorded as an alias of the article first stored (see :mod:`rsspage.store.articles`)."""

from __future__ import annotations

from datetime import timedelta

from rsspage.canonical import (
    FINGERPRINT_WINDOW_DAYS,
    HEAD_READ_CHARS,
    canonical_link,
    same_text,
    text_head,
    title_key,
)
from rsspage.store import db
from rsspage.store.db import Connection, utc_text
from rsspage.types import Article

_WINDOW = timedelta(days=FINGERPRINT_WINDOW_DAYS)
#: Same-titled articles of the window whose text is compared: more is a title that repeats
#: (a daily column), where a match would say little anyway.
_FINGERPRINT_CANDIDATES = 20


def story_keys(article: Article) -> tuple[str, str]:
    return canonical_link(article.link) if article.link else "", title_key(article.title)


def alias_of(conn: Connection, article: Article, keys: tuple[str, str],
              stamp: str) -> tuple[str, str, bool] | None:
    """If another feed already brought this story, record this feed as an alias of it and
    return (its id, how it matched: ``"link"`` or ``"fingerprint"``, whether this feed is a new
    alias of it); None for a story new to the archive. The copy first stored stays the article:
    its id, link and pages are stable.

    A hidden article is no match: the first feed's filter rules hid it, and this feed's (which
    may differ) decide about this copy, stored as an article of its own."""
    link_key, title = keys
    found = _same_link(conn, article, link_key)
    matched = "link"
    if found is None and title:
        found, matched = _same_fingerprint(conn, article, title), "fingerprint"
    if found is None:
        return None
    added = conn.execute(
        "INSERT OR IGNORE INTO aliases (feed_key, article_id, matched, link, first_seen) "
        "VALUES (?, ?, ?, ?, ?)", (article.feed_key, found, matched, article.link, stamp))
    return found, matched, added.rowcount == 1


def _same_link(conn: Connection, article: Article, link_key: str) -> str | None:
    """The article of another feed whose canonical link is ``link_key``."""
    if not link_key:
        return None
    row = conn.execute(
        "SELECT id FROM articles WHERE canonical_link = ? AND canonical_link != '' "
        "AND feed_key != ? AND +hidden = 0 ORDER BY rowid LIMIT 1",  # the first stored
        (link_key, article.feed_key)).fetchone()
    return str(row[0]) if row else None


def _same_fingerprint(conn: Connection, article: Article, title: str) -> str | None:
    """The article of another feed with the same title key, published within the window of
    ``article``, whose text starts near-identically (a mirror's copy under its own link)."""
    head = text_head(article.text)
    if not head:
        return None
    # "+hidden": not through the site's (hidden, published) index, which the planner prefers
    # for the ORDER BY and which scans every article in the window: 0.8 s a lookup at 100,000.
    rows = conn.execute(
        "SELECT id, substr(text, 1, ?) FROM articles WHERE title_key = ? AND title_key != '' "
        "AND published BETWEEN ? AND ? AND feed_key != ? AND +hidden = 0 "
        "ORDER BY published, id LIMIT ?",
        (HEAD_READ_CHARS, title,
         utc_text(article.published - _WINDOW), utc_text(article.published + _WINDOW),
         article.feed_key, _FINGERPRINT_CANDIDATES)).fetchall()
    for found, text in rows:
        if same_text(head, text_head(text)):
            return str(found)
    return None


def has_unkeyed(conn: Connection) -> bool:
    """Whether some article has no comparison keys yet (read from a small partial index)."""
    return conn.execute(
        "SELECT 1 FROM articles WHERE title_key IS NULL LIMIT 1").fetchone() is not None


def fill_keys(conn: Connection) -> int:
    """Compute the comparison keys of the articles that have none yet (the archive of an
    older schema, a restore), without logging them as changes: the articles themselves, and
    so their pages, stay as they are. Returns how many were filled (about 50 µs an article:
    5 s once for an archive of 100,000)."""
    if not has_unkeyed(conn):
        return 0
    with db.unlogged(conn, "changes_au"):
        rows = conn.execute(
            "SELECT rowid, link, title FROM articles WHERE title_key IS NULL").fetchall()
        conn.executemany(
            "UPDATE articles SET canonical_link=?, title_key=? WHERE rowid=?",
            [(canonical_link(link) if link else "", title_key(title), rowid)
             for rowid, link, title in rows])
    return len(rows)
