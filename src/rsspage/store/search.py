"""Full-text search over titles and text: SQLite's FTS5 trigram index, PostgreSQL's pg_trgm.

A trigram index matches any substring of three or more characters, so Chinese needs no word
segmentation. Shorter terms (common in Chinese: 小米, 芯片) cannot use the index and are
matched over the candidates instead (``instr``; ``ILIKE``).

Both rank the same way, as nearly as two engines allow: every term must occur; terms of three
characters or more rank the hits, an occurrence in the title weighing five in the text (FTS5's
BM25 with those column weights; on PostgreSQL the same formula over counted occurrences, see
:func:`_ranked_postgresql`), newer first among equals; with short terms only, hits with the
first term in their title first, then the newest.
"""

from __future__ import annotations

from dataclasses import dataclass

from rsspage.store import db
from rsspage.store.db import Connection


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


def search(conn: Connection, query: str, limit: int = 20, *, indexed: bool = True,
           ) -> list[SearchHit]:
    """``indexed``: the FTS5 index is there (db.search_index_detached); without it every term
    is matched as the short ones are, by reading each article."""
    terms = [t for t in query.split() if t]
    if not terms:
        return []
    if conn.dialect == db.POSTGRESQL:
        return _search_postgresql(conn, terms, limit)
    long_terms = [t for t in terms if len(t) >= 3 and indexed]
    short_terms = [t for t in terms if t not in long_terms]
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


#: BM25's constants (FTS5's), and the text length it takes as the average (PostgreSQL: a
#: constant, as averaging a million texts per query would cost more than the search).
_K1, _B, _AVERAGE_CHARS = 1.2, 0.75, 1000
_TITLE_WEIGHT = 5
_SNIPPET_CHARS = 48


def _search_postgresql(conn: Connection, terms: list[str], limit: int) -> list[SearchHit]:
    long_terms = [t for t in terms if len(t) >= 3]
    where = " AND ".join(["(a.title || ' ' || a.text) ILIKE ?"] * len(terms))
    params: list[object] = [f"%{_escape_like(t)}%" for t in terms]
    if long_terms:
        order, order_params = _ranked_postgresql(long_terms)
    else:
        order, order_params = "strpos(lower(a.title), lower(?)) = 0, ", [terms[0]]
    rows = conn.execute(
        f"SELECT a.id, a.title, a.link, a.published, a.category, a.source, a.channel, "
        f"substr(a.text, 1, 2000) AS head FROM articles a WHERE {where} AND a.hidden = 0 "
        f"ORDER BY {order}a.published DESC LIMIT ?", [*params, *order_params, limit])
    return [SearchHit(id=r[0], title=r[1], link=r[2], published=r[3], category=r[4],
                      source=r[5], channel=r[6], snippet=_snippet(r[7], long_terms or terms))
            for r in rows]


def _ranked_postgresql(terms: list[str]) -> tuple[str, list[object]]:
    """An ORDER BY term of BM25 over the occurrences of ``terms`` (title weighing
    :data:`_TITLE_WEIGHT`), computed for the hits only."""
    parts: list[str] = []
    params: list[object] = []
    for term in terms:
        count = ("((length({0}) - length(replace(lower({0}), lower(?), ''))) "
                 "/ length(?)::float)")
        frequency = f"({_TITLE_WEIGHT} * {count.format('a.title')} + {count.format('a.text')})"
        parts.append(f"{frequency} * {_K1 + 1} / ({frequency} + {_K1} * "
                     f"({1 - _B} + {_B} * length(a.text) / {_AVERAGE_CHARS}.0))")
        params += [term, term, term, term] * 2
    return f"({' + '.join(parts)}) DESC, ", params


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _snippet(text: str, terms: list[str]) -> str:
    """About :data:`_SNIPPET_CHARS` characters of ``text`` around the first term found, terms
    in [brackets] (as FTS5's ``snippet``), … where it was cut."""
    lowered = text.lower()
    found = [(i, t) for t in terms if (i := lowered.find(t.lower())) >= 0]
    if not found:
        return text[:_SNIPPET_CHARS]
    first = min(found)[0]
    start = max(0, first - _SNIPPET_CHARS // 3)
    end = min(len(text), start + _SNIPPET_CHARS)
    piece = text[start:end]
    for term in sorted(terms, key=len, reverse=True):
        piece = _bracket(piece, term)
    return ("…" if start else "") + piece + ("…" if end < len(text) else "")


def _bracket(text: str, term: str) -> str:
    lowered, needle, out, at = text.lower(), term.lower(), [], 0
    while (i := lowered.find(needle, at)) >= 0:
        out += [text[at:i], "[", text[i:i + len(term)], "]"]
        at = i + len(term)
    return "".join(out) + text[at:]
