"""Full-text search over titles and text with the FTS5 trigram index.

The trigram tokenizer matches any substring of three or more characters, so Chinese needs no
word segmentation. Shorter terms (common in Chinese: 小米, 芯片) cannot use the index and are
matched with ``instr`` over the candidates instead.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SearchHit:
    id: str
    title: str
    link: str
    published: str
    category: str
    source: str
    channel: str
    snippet: str


def _phrase(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def search(conn: sqlite3.Connection, query: str, limit: int = 20) -> list[SearchHit]:
    terms = [t for t in query.split() if t]
    if not terms:
        return []
    long_terms = [t for t in terms if len(t) >= 3]
    short_terms = [t for t in terms if len(t) < 3]
    where = ["instr(lower(a.title || ' ' || a.text), lower(?)) > 0" for _ in short_terms]
    where.append("a.hidden = 0")  # what filter rules hid is not published, nor found
    params: list[object] = list(short_terms)
    if long_terms:
        sql = (
            "SELECT a.*, snippet(articles_fts, 1, '[', ']', '…', 16) AS snip "
            "FROM articles_fts JOIN articles a ON a.rowid = articles_fts.rowid "
            "WHERE articles_fts MATCH ?"
            + "".join(f" AND {w}" for w in where)
            + " ORDER BY bm25(articles_fts, 5.0, 1.0), a.published DESC LIMIT ?"
        )
        params = [" AND ".join(_phrase(t) for t in long_terms), *params, limit]
    else:
        sql = (
            "SELECT a.*, substr(a.text, 1, 80) AS snip FROM articles a WHERE "
            + " AND ".join(where)
            + " ORDER BY instr(lower(a.title), lower(?)) = 0, a.published DESC LIMIT ?"
        )
        params = [*params, short_terms[0], limit]
    return [
        SearchHit(
            id=r["id"], title=r["title"], link=r["link"], published=r["published"],
            category=r["category"], source=r["source"], channel=r["channel"], snippet=r["snip"],
        )
        for r in conn.execute(sql, params)
    ]
