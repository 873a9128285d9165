"""Benchmark: search in the terminal on PostgreSQL (pg_trgm) against SQLite (FTS5 trigram), on
the same archive (issue 14: "results comparable ... report overlap of top-10 results on 50
queries").

One command: ``.venv/bin/python benchmarks/bench_pg_search.py`` (``--articles 20000``). Method:

1. *archive* — N articles of bench_clusters' corpus (Chinese-like text of 50 sources, common
   words shared by every story, rare names by one; about 190 characters an article) stored in
   SQLite through ``Store.save_feed``, then copied into a PostgreSQL database of a server
   started for the run (tests/pg_harness.py: Debian's packages, a Unix socket) with
   ``rsspage migrate``'s own ``copy_archive`` (verified: the two exports are equal).
2. *queries* — 50, drawn from the corpus with a fixed seed: 15 two-character words (shorter
   than a trigram: matched without the index on both), 15 three-character words, 10 pairs of
   words, 10 rare names (a story's, 4-6 characters).
3. *measure* — each query's top 10 on both (``Store.search(query, 10)``), in 3 interleaved
   rounds: overlap@10 = |SQLite's ∩ PostgreSQL's| / |SQLite's| (1 when both find nothing),
   and each engine's median time per query.

Prints the mean overlap per kind and overall, and the times. Exit status 1 when the mean
overlap is under 0.8.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import bench_clusters
from rsspage.store import Store
from rsspage.store.migrate import copy_archive

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import pg_harness  # the tests' PostgreSQL server

TARGET = 0.8
KINDS = (("2 characters", 15), ("3 characters", 15), ("two words", 10), ("rare name", 10))


def queries(corpus: bench_clusters.Corpus, seed: int = 14) -> list[tuple[str, str]]:
    """(kind, query) pairs from the corpus's words (see the module docstring)."""
    rng = random.Random(seed)
    common = corpus.words[:600]  # words the Zipf law makes frequent enough to be found
    two = [w for w in common if len(w) == 2]
    three = [w for w in common if len(w) == 3]
    names = [w for _, words in corpus.stories for w in words[:3]]
    made = [("2 characters", q) for q in rng.sample(two, 15)]
    made += [("3 characters", q) for q in rng.sample(three, 15)]
    made += [("two words", f"{a} {b}") for a, b in zip(rng.sample(common, 10),
                                                        rng.sample(common, 10), strict=True)]
    made += [("rare name", q) for q in rng.sample(names, 10)]
    return made


def top(store: Store, query: str) -> tuple[list[str], float]:
    started = time.perf_counter()
    hits = store.search(query, 10)
    return [h.id for h in hits], time.perf_counter() - started


def overlap(mine: list[str], theirs: list[str]) -> float:
    if not mine:
        return 1.0 if not theirs else 0.0
    return len(set(mine) & set(theirs)) / len(mine)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    reason = pg_harness.unavailable()
    if reason:
        print(f"PostgreSQL unavailable: {reason}")
        return 2
    corpus = bench_clusters.Corpus(retell=1 / 3)
    with tempfile.TemporaryDirectory(prefix="bench-pg-search-") as work:
        server = pg_harness.Server().start()
        try:
            return measure(corpus, Path(work), server, args)
        finally:
            server.stop()


def measure(corpus: bench_clusters.Corpus, work: Path, server: pg_harness.Server,
            args: argparse.Namespace) -> int:
    started = time.perf_counter()
    with Store.open(work / "state") as sqlite_store:
        for day in range(0, args.articles, bench_clusters.PER_DAY):
            count = min(bench_clusters.PER_DAY, args.articles - day)
            when = bench_clusters.START + timedelta(days=day // bench_clusters.PER_DAY)
            bench_clusters.save(sqlite_store, list(corpus.batch(when, count)), when)
        stored = time.perf_counter() - started
        with Store.open(work / "unused", server.database("search")) as pg_store:
            copied = copy_archive(sqlite_store, pg_store)
            assert not copied.differing, copied.differing
            print(f"archive: {args.articles:,} articles, stored in SQLite in {stored:.0f} s, "
                  f"copied into PostgreSQL (verified) in "
                  f"{time.perf_counter() - started - stored:.0f} s")
            for name, store in (("SQLite", sqlite_store), ("PostgreSQL", pg_store)):
                print(f"{name}: {store.size() / 1e6:.1f} MB, "
                      f"{store.size() / args.articles:,.0f} bytes an article")
            asked = queries(corpus)
            scores: dict[str, list[float]] = {kind: [] for kind, _ in KINDS}
            times: dict[str, list[float]] = {"sqlite": [], "postgresql": []}
            for round_ in range(args.rounds):
                for kind, query in asked:
                    engines = [("sqlite", sqlite_store), ("postgresql", pg_store)]
                    if round_ % 2:
                        engines.reverse()
                    found = {}
                    for name, store in engines:
                        found[name], seconds = top(store, query)
                        times[name].append(seconds)
                    if round_ == 0:
                        scores[kind].append(overlap(found["sqlite"], found["postgresql"]))
    return report(scores, times)


def report(scores: dict[str, list[float]], times: dict[str, list[float]]) -> int:
    print(f"{'queries':<14} {'n':>3}  {'overlap@10':>10}")
    for kind, values in scores.items():
        print(f"{kind:<14} {len(values):>3}  {statistics.mean(values):>10.3f}")
    every = [v for values in scores.values() for v in values]
    mean = statistics.mean(every)
    print(f"{'all':<14} {len(every):>3}  {mean:>10.3f}")
    for name, values in times.items():
        print(f"{name}: median {statistics.median(values) * 1000:.1f} ms a query "
              f"({min(values) * 1000:.1f}-{max(values) * 1000:.1f})")
    return 0 if mean >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
