"""The state store: one SQLite file (WAL) holding feeds, articles and published names.

A data-access layer with no business logic beyond what keeping the archive consistent needs.
``Store`` is the only entry point other stages use; each method is one short transaction or read.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from pathlib import Path

from rsspage.store import articles, db, feeds
from rsspage.store.articles import SaveCounts
from rsspage.store.feeds import FeedHealth
from rsspage.store.search import SearchHit, search
from rsspage.types import Article, FeedSpec, FeedState, FetchResult

__all__ = ["FeedHealth", "SaveCounts", "SearchHit", "Store"]


class Store:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    @classmethod
    def open(cls, state_dir: Path) -> Store:
        return cls(db.connect(state_dir))

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def feed_states(self) -> dict[str, FeedState]:
        return feeds.states(self._conn)

    def save_feed(
        self,
        spec: FeedSpec,
        result: FetchResult,
        entries: Iterable[Article],
        error: str | None,
        now: datetime,
        title: str | None = None,
    ) -> SaveCounts:
        """Store one feed's outcome and its articles atomically: all of it or nothing."""
        with db.transaction(self._conn):
            counts = articles.save(self._conn, entries, now)
            feeds.record(self._conn, spec, result, error, now)
            if title:
                feeds.set_title(self._conn, spec.key, title)
        return counts

    def prune(self, before: datetime) -> int:
        with db.transaction(self._conn):
            return articles.prune(self._conn, before)

    def articles(self, *, content: bool = True) -> Iterator[Article]:
        """Every article, oldest first; ``content=False``: without ``content_html``."""
        return articles.iter_all(self._conn, content=content)

    def contents(self, ids: Iterable[str]) -> dict[str, str]:
        """``content_html`` of the articles ``ids``, by id."""
        return articles.contents(self._conn, ids)

    def article_count(self) -> int:
        return articles.count(self._conn)

    def published_names(self, output: str) -> dict[str, str]:
        return articles.names(self._conn, output)

    def save_names(self, output: str, assigned: Mapping[str, str]) -> None:
        with db.transaction(self._conn):
            articles.save_names(self._conn, output, assigned)

    def page_hashes(self, output: str) -> dict[str, str]:
        """Path → hash of the inputs each page of ``output`` was last rendered from."""
        return articles.page_hashes(self._conn, output)

    def save_page_hashes(self, output: str, hashes: Mapping[str, str]) -> None:
        with db.transaction(self._conn):
            articles.save_page_hashes(self._conn, output, hashes)

    def search(self, query: str, limit: int = 20) -> list[SearchHit]:
        return search(self._conn, query, limit)

    def health(self, since: datetime) -> list[FeedHealth]:
        return feeds.health(self._conn, since)

    def integrity_ok(self) -> bool:
        return bool(self._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok")
