"""Benchmark: moving the archive whole — export, export as monthly parts, restore.

Method (``.venv/bin/python benchmarks/bench_archive.py``; ``--articles 2000`` for a quick run):
the same generated archive as ``bench_site.py`` (N articles, default 20,000, ~3.5 KB of feed HTML
each, one every 3 minutes: ~2 months), stored through ``normalise_feed`` and ``Store.save_feed``.
Then, in interleaved rounds (median of ``--rounds``, default 3):

- *read all rows* — ``SELECT *`` of every article: the anchor, the least any export must do;
- *export file* — ``Store.export`` to one gzip JSON Lines file;
- *export parts, unchanged* — ``Store.export_parts`` into a folder that already holds them (what
  every hourly GitHub run does: no part is rewritten);
- *restore, empty* — ``Store.restore`` of the parts into a fresh state (a run on a new machine);
- *restore, again* — the same parts into that state again (nothing changes).

Reported: seconds, articles/s and the ratio to the anchor; the size of the export. No target
fails the run: the issue names no anchor for these, so they are reported for the record.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bench_site import corpus, store_articles
from rsspage.store import Store


def build_archive(state: Path, articles: int) -> None:
    now = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    with Store.open(state) as store:
        store_articles(store, corpus(articles, 0, now), now)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rsspage-bench-archive-") as tmp:
        work = Path(tmp)
        build_archive(work / "state", args.articles)
        source = Store.open(work / "state")
        parts = work / "parts"
        source.export_parts(parts)

        def read_all() -> None:
            for _ in source.articles():
                pass

        def restore_empty() -> None:
            shutil.rmtree(work / "fresh", ignore_errors=True)
            with Store.open(work / "fresh") as fresh:
                fresh.restore(parts)

        def restore_again() -> None:
            with Store.open(work / "fresh") as fresh:
                fresh.restore(parts)

        phases: dict[str, Callable[[], object]] = {
            "read all rows (anchor)": read_all,
            "export file": lambda: source.export(work / "all.jsonl.gz"),
            "export parts, unchanged": lambda: source.export_parts(parts),
            "restore, empty": restore_empty,
            "restore, again": restore_again,
        }
        times: dict[str, list[float]] = {name: [] for name in phases}
        for _ in range(args.rounds):
            for name, phase in phases.items():  # interleaved: each round runs every phase
                started = time.perf_counter()
                phase()
                times[name].append(time.perf_counter() - started)
        size = sum(p.stat().st_size for p in parts.iterdir())
        print(f"archive: {args.articles:,} articles; export {size / 1e6:.1f} MB in "
              f"{len(list(parts.iterdir()))} parts; median of {args.rounds} rounds")
        anchor = statistics.median(times["read all rows (anchor)"])
        for name, values in times.items():
            median = statistics.median(values)
            print(f"{name:26}: {median:7.2f} s  {args.articles / median:9,.0f} articles/s  "
                  f"{median / anchor:5.1f}x anchor")
        source.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
