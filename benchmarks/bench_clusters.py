"""Benchmark: what story clusters add to an update (issue 12: under 10 % for 1,000 new articles
against a 100,000-article archive), and what migration 14's backfill costs at that size.

One command: ``.venv/bin/python benchmarks/bench_clusters.py`` (``--articles 20000`` for a quick
run). Method:

1. *archive* — N articles (default 100,000) of 50 sources, 1,500 a day (~67 days), stored through
   ``Store.save_feed`` with clusters on. The corpus is Chinese-like text whose words follow a
   Zipf law (common words shared by every story, rare names by one); a share of the articles
   (``--retell``, default a third) retell, in other words, a story another source told within
   the last two days, the rest start one. (bench_site.py's corpus has 8 title stems: every
   article would be the same story.) The 50 feeds are served on 127.0.0.1 (the tests' server).
2. *site* — the built-in site published once from the archive (``publish_site``), its window
   the newest ``--site-articles`` (default rsspage's ``site.max_articles``, 50,000: the update
   as a user runs it; ``--site-articles 5000`` for a smaller site, where publishing costs less
   and the clusters' share is larger; Pagefind when installed).
3. *update* — 1,000 new articles (the next ~16 hours: each feed serves its 20 as RSS) into a
   copy of the state and the site, clusters on, then off (``rsspage.store.clusters.ENABLED``),
   interleaved for ``--rounds`` (default 5) rounds, measured two ways:
   - *update*: ``rsspage update`` as a user runs it (``pipeline.update``): fetch the 50 feeds,
     parse, normalise, store, file and cluster the new articles, publish the site from the
     changes (with clusters, the pages and cards of the clusters' other members too). The
     target is measured on this.
   - *store and publish*: the same entries, parsed beforehand, stored and published
     (``Store.save_feed``, ``Store.cluster_new``, ``publish_site``): the part clusters work in,
     a stricter ratio; and its store stage alone.
   Medians of the rounds, and their ratios.
4. *backfill* — the archive with its keys and clusters dropped and its migration marker removed
   (as migration 14 finds an older archive): ``Store.open`` files the articles of the last
   three days and clusters them.

Exit status 1 when the update's overhead is 10 % or more.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path

import rsspage.store.clusters as store_clusters
from rsspage.config import Config, parse_config
from rsspage.config_types import DEFAULT_MAX_ARTICLES
from rsspage.normalise import normalise_feed
from rsspage.pipeline import update
from rsspage.publish.outputs import publish_site
from rsspage.store import Store
from rsspage.store.db import DB_NAME
from rsspage.types import Article, FeedSpec, FetchResult, FetchStatus, ParsedFeed, RawEntry

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from servers import LocalServer, feed  # the tests' real local HTTP server

SOURCES = 50
PER_DAY = 1_500
NEW = 1_000
TARGET = 0.10
START = datetime(2026, 9, 1, tzinfo=UTC)


class Corpus:
    """Articles of stories told by several sources (see the module docstring)."""

    def __init__(self, retell: float, seed: int = 12) -> None:
        self.rng = random.Random(seed)
        self.retell = retell
        chars = [chr(0x4E00 + self.rng.randrange(0x5000)) for _ in range(1_500)]
        self.words = ["".join(self.rng.choices(chars, k=self.rng.choice((2, 2, 3))))
                      for _ in range(4_000)]
        self.weights = [1 / (rank + 1) for rank in range(len(self.words))]
        self.stories: list[tuple[datetime, list[str]]] = []  # (first told, its words)
        self.count = 0

    def _common(self, k: int) -> list[str]:
        return self.rng.choices(self.words, self.weights, k=k)

    def _story(self, when: datetime) -> list[str]:
        recent = [s for s in self.stories[-600:] if when - s[0] < timedelta(days=2)]
        if recent and self.rng.random() < self.retell:
            return self.rng.choice(recent)[1]
        names = ["".join(self.rng.choices(self.words[2_000:], k=2)) for _ in range(3)]
        story = names + self._common(8)
        self.stories.append((when, story))
        return story

    def entry(self, when: datetime) -> tuple[str, RawEntry]:
        """A new article as its feed gives it: (feed key, entry)."""
        a = self.article(when)
        return a.feed_key, RawEntry(
            guid=a.link, link=a.link, title=a.title, title_is_html=False, published=when,
            updated=None, author=a.source, content_html=a.content_html, summary_html=None,
            base_url=a.link)

    def article(self, when: datetime) -> Article:
        self.count += 1
        n, source = self.count, self.count % SOURCES
        story = self._story(when)
        title = "".join(self.rng.sample(story[:3], 2) + self.rng.sample(story[3:], 3)
                        + self._common(2))
        words = self.rng.sample(story, 7) + self._common(60)
        self.rng.shuffle(words)
        text = "，".join("".join(words[i:i + 5]) for i in range(0, len(words), 5)) + "。"
        return Article(
            id=f"a{n}", feed_key=feed_key(source), title=title,
            link=f"https://s{source}.example.cn/{n}.html", published=when,
            date_estimated=False, date_clamped=False, updated=None, author="",
            category="新闻", source=f"来源{source}", channel="全部",
            content_html=f"<p>{text}</p>", text=text, image="", content_hash=f"h{n}")

    def batch(self, start: datetime, count: int) -> Iterator[Article]:
        step = timedelta(days=1) / PER_DAY
        for k in range(count):
            yield self.article(start + step * k)


#: Where the feeds are served (set once the server is up).
SERVER = "http://127.0.0.1"


def feed_key(source: int) -> str:
    return f"{SERVER}/f/{source}"


def spec_of(key: str) -> FeedSpec:
    source = int(key.rsplit("/", 1)[1])
    return FeedSpec(key=key, urls=(key,), category="新闻", source=f"来源{source}", channel="全部")


def rss(entries: list[RawEntry]) -> bytes:
    """A feed of ``entries`` as its site serves it."""
    items = "".join(
        f"<item><title>{escape(e.title or '')}</title><link>{escape(e.link or '')}</link>"
        f"<guid>{escape(e.guid or '')}</guid><pubDate>{format_datetime(e.published)}</pubDate>"
        f"<description>{escape(e.content_html or '')}</description></item>"
        for e in entries if e.published)
    return ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>t</title>'
            f"<link>{SERVER}</link><description>d</description>{items}</channel></rss>"
            ).encode()


def save(store: Store, articles: list[Article], now: datetime) -> None:
    """As an update stores them: by feed, each feed's articles in one transaction."""
    by_feed: dict[str, list[Article]] = {}
    for article in articles:
        by_feed.setdefault(article.feed_key, []).append(article)
    for key, batch in sorted(by_feed.items()):
        result = FetchResult(key=key, status=FetchStatus.OK, url=key, http_status=200)
        store.save_feed(spec_of(key), result, batch, None, now)
    store.cluster_new()


def write_config(folder: Path, site_articles: int) -> None:
    feeds = "".join(f"  - {{url: '{feed_key(n)}', category: 新闻, source: 来源{n}, "
                    "channel: 全部}\n" for n in range(SOURCES))
    (folder / "rsspage.yml").write_text(
        "site: {title: 新闻聚合, url: 'https://news.example.cn/', language: zh-CN, "
        f"timezone: Asia/Shanghai, max_articles: {site_articles}}}\n"
        f"feeds:\n{feeds}output: {{state: state, site: site}}\n", encoding="utf-8")


def load_config(folder: Path) -> Config:
    path = folder / "rsspage.yml"
    return parse_config(path.read_text("utf-8"), path)


def build(folder: Path, corpus: Corpus, count: int, site_articles: int) -> datetime:
    """The archive of ``count`` articles and its site; returns when its newest was published."""
    write_config(folder, site_articles)
    config = load_config(folder)
    end = START
    with Store.open(config.output.state) as store:
        for first in range(0, count, 10_000):
            part = list(corpus.batch(START + timedelta(days=first / PER_DAY),
                                     min(10_000, count - first)))
            save(store, part, part[-1].published)
            end = part[-1].published
        publish_site(config, store, end)
    return end


def fresh_copy(archive: Path, work: Path) -> None:
    """``work`` as a copy of ``archive``, on disk before the clock starts (the kernel writing
    the last copy's 13,000 files back during a round cost it up to 2 s)."""
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(archive, work)
    os.sync()


def timed_update(archive: Path, work: Path, new: list[tuple[str, RawEntry]],
                 enabled: bool) -> float:
    """``rsspage update`` of the feeds serving ``new`` into a copy of ``archive``."""
    fresh_copy(archive, work)
    config = load_config(work)
    now = max(entry.published for _, entry in new if entry.published)
    store_clusters.ENABLED = enabled
    try:
        started = time.perf_counter()
        report = update(config, now=now, everything=True)
        took = time.perf_counter() - started
    finally:
        store_clusters.ENABLED = True
    assert sum(o.new for o in report.outcomes) == len(new), report.outcomes
    return took


def timed_store(archive: Path, work: Path, new: list[tuple[str, RawEntry]],
                enabled: bool) -> tuple[float, float]:
    """(store and publish, the store stage) of ``new``, parsed, into a copy of ``archive``."""
    fresh_copy(archive, work)
    config = load_config(work)
    now = max(entry.published for _, entry in new if entry.published)
    by_feed: dict[str, list[RawEntry]] = {}
    for key, entry in new:
        by_feed.setdefault(key, []).append(entry)
    store_clusters.ENABLED = enabled
    try:
        with Store.open(config.output.state) as store:
            started = time.perf_counter()
            # As an update does: the pass decided in a second process while the feeds are
            # stored, given each feed's new articles as it is parsed (pipeline.store_fetched).
            ahead = store.clusters_ahead()
            try:
                feeds = []
                for position, (key, entries) in enumerate(sorted(by_feed.items())):
                    spec = spec_of(key)
                    parsed = ParsedFeed(title=spec.source, link=key, entries=tuple(entries),
                                        parser="bench")
                    feeds.append((spec, normalise_feed(spec, parsed, now)))
                    if ahead is not None:
                        unseen = store.unseen(feeds[-1][1])
                        ahead.give(position, (a for a in feeds[-1][1] if a.id in unseen))
                if ahead is not None:
                    ahead.seal()
                for spec, articles in feeds:
                    result = FetchResult(key=spec.key, status=FetchStatus.OK, url=spec.key,
                                         http_status=200)
                    store.save_feed(spec, result, articles, None, now)
                store.cluster_new(ahead)  # as an update does once its feeds are stored
            finally:
                if ahead is not None:
                    ahead.close()
            stored = time.perf_counter() - started
            publish_site(config, store, now)
            return time.perf_counter() - started, stored
    finally:
        store_clusters.ENABLED = True


def timed_backfill(archive: Path, work: Path) -> tuple[float, int]:
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(archive / "state", work)
    conn = sqlite3.connect(work / DB_NAME)  # as migration 14 finds an older archive
    conn.execute("UPDATE articles SET cluster = NULL WHERE cluster IS NOT NULL")
    conn.execute("DELETE FROM cluster_keys")
    conn.execute("DELETE FROM meta WHERE key = 'clusters_filled'")
    conn.commit()
    conn.close()
    started = time.perf_counter()
    with Store.open(work):
        pass
    took = time.perf_counter() - started
    conn = sqlite3.connect(work / DB_NAME)
    filed = conn.execute("SELECT COUNT(DISTINCT article) FROM cluster_keys").fetchone()[0]
    conn.close()
    return took, filed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--site-articles", type=int, default=DEFAULT_MAX_ARTICLES,
                        help="site.max_articles (default: rsspage's, 50,000)")
    parser.add_argument("--retell", type=float, default=1 / 3,
                        help="share of articles that retell a story of the last two days")
    args = parser.parse_args()
    global SERVER
    with tempfile.TemporaryDirectory(prefix="rsspage-bench-clusters-") as tmp, \
            LocalServer() as server:
        SERVER = server.base_url
        root = Path(tmp)
        (root / "archive").mkdir()
        corpus = Corpus(args.retell)
        started = time.perf_counter()
        end = build(root / "archive", corpus, args.articles, args.site_articles)
        built = time.perf_counter() - started
        step = timedelta(days=1) / PER_DAY
        new = [corpus.entry(end + step * (k + 1)) for k in range(NEW)]
        for source in range(SOURCES):
            server.route(f"/f/{source}", feed(rss([e for k, e in new if k == feed_key(source)])))
        print(archive_line(root / "archive", args.articles, args.site_articles, built))
        on: list[tuple[float, float, float]] = []
        off: list[tuple[float, float, float]] = []
        for k in range(args.rounds):  # interleaved: each round runs both, each both ways,
            # on first in odd rounds, off first in even ones (a copy's write-back or a warm
            # cache favours neither)
            ways = ((True, on), (False, off))
            for enabled, times in (ways if k % 2 == 0 else ways[::-1]):
                whole = timed_update(root / "archive", root / "work", new, enabled)
                times.append((whole, *timed_store(root / "archive", root / "work", new,
                                                  enabled)))
        ratio = report(on, off, args.rounds)
        took, filed = timed_backfill(root / "archive", root / "work")
        print(f"backfill (migration 14) at {args.articles:,}: {took:.2f} s, "
              f"{filed:,} recent articles filed")
        return 0 if ratio < TARGET else 1


def archive_line(archive: Path, articles: int, site_articles: int, built: float) -> str:
    db = archive / "state" / DB_NAME
    conn = sqlite3.connect(db)
    clustered, keys = conn.execute(
        "SELECT (SELECT COUNT(*) FROM articles WHERE cluster IS NOT NULL), "
        "(SELECT COUNT(*) FROM cluster_keys)").fetchone()
    conn.close()
    return (f"archive: {articles:,} articles and a site of {site_articles:,} in {built:.0f} s, "
            f"{db.stat().st_size / 1e6:.0f} MB; {clustered:,} in clusters, {keys:,} sketch keys")


def report(on: list[tuple[float, float, float]], off: list[tuple[float, float, float]],
           rounds: int) -> float:
    """Prints the medians and ratios; returns the update's overhead."""
    names = ("update (fetch, parse, normalise, store, cluster, publish)",
             "store and publish (parsed beforehand)", "its store stage")
    overhead = 0.0
    for k, name in enumerate(names):
        times_on, times_off = [t[k] for t in on], [t[k] for t in off]
        change = statistics.median(times_on) / statistics.median(times_off) - 1
        overhead = change if k == 0 else overhead
        print(f"{name} of {NEW:,} new articles, median of {rounds}: clusters on "
              f"{statistics.median(times_on):.2f} s ({min(times_on):.2f}–{max(times_on):.2f}), "
              f"off {statistics.median(times_off):.2f} s ({min(times_off):.2f}–"
              f"{max(times_off):.2f}): {change:+.1%}"
              + (f" (target < {TARGET:.0%})" if k == 0 else ""))
    return overhead


if __name__ == "__main__":
    raise SystemExit(main())
