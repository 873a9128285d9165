"""Benchmark: what a site rebuild costs when new articles are dated in the past.

Late arrivals are normal: a feed added with last week's items, a feed catching up after an
outage, a corrected date. Method (``.venv/bin/python benchmarks/late_arrivals.py [--articles N]
[--src OTHER/src]``; ``--src`` runs another checkout's rsspage, e.g. a worktree of an older
commit, for a before/after in the same conditions):

1. N articles (default 40,000, bench_site.py's generated Chinese news, one every 3 minutes)
   stored and published once, search included (the full build);
2. 10 new articles dated now, published: the *newest* case;
3. 10 new articles dated near the old end of the archive (a tenth of the way from the oldest),
   published: the *late* case.

Each publish is timed around ``publish_site`` (pages, feeds, sitemap, Pagefind), with the time
spent in Pagefind and the number of files written. Rounds: ``--rounds`` repeats steps 2 and 3
alternately (interleaved) and reports medians. The target of issue 10: the late case costs about
what the newest case costs, not most of a full build.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def measure(folder: Path, articles: int, rounds: int) -> dict[str, Any]:
    """Run in the child (the rsspage under test is on sys.path)."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    import bench_site as bs  # the corpus and config of the site benchmark
    from rsspage.publish.outputs import publish_site
    from rsspage.store import Store

    config = bs.write_config(folder)
    with Store.open(config.output.state) as store:
        bs.store_articles(store, bs.corpus(articles, 0, bs.START), bs.NOW)
    old_end = bs.START - bs.STEP * int(articles * 0.9)  # a tenth of the way from the oldest

    spent = bs.timed_search()  # wraps the indexing step once; counts its time

    runs = [0]

    def publish(first: int, newest: Any) -> dict[str, float]:
        searched = spent["search"]
        runs[0] += 1  # each update stores its articles at a later time, as real runs do
        with Store.open(config.output.state) as store:
            if first:
                stored_at = bs.NOW + timedelta(minutes=runs[0])
                bs.store_articles(store, bs.corpus(10, first, newest), stored_at)
            began = time.perf_counter()
            stats = publish_site(config, store, bs.NOW)
            seconds = time.perf_counter() - began
        return {"seconds": seconds, "search": spent["search"] - searched,
                "written": stats.written}

    full = publish(0, None)
    newest: list[dict[str, float]] = []
    late: list[dict[str, float]] = []
    for k in range(rounds):
        newest.append(publish(10**6 + 100 * k, bs.NOW + bs.STEP * k))
        late.append(publish(2 * 10**6 + 100 * k, old_end - bs.STEP * k))
    return {"full": full, "newest": _median(newest), "late": _median(late)}


def _median(rows: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(r[key] for r in rows) for key in rows[0]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=40_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--src", type=Path, default=REPO / "src", help="rsspage sources to run")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.articles, args.rounds)))
        return 0
    with tempfile.TemporaryDirectory(prefix="rsspage-late-") as work:
        env = {**os.environ, "PYTHONPATH": str(args.src.resolve())}
        out = subprocess.run([sys.executable, __file__, "--child", work, "--articles",
                              str(args.articles), "--rounds", str(args.rounds)],
                             env=env, capture_output=True, text=True, check=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    print(f"rsspage from {args.src}; {args.articles:,} articles; medians of {args.rounds} rounds")
    for case in ("full", "newest", "late"):
        r = result[case]
        print(f"  {case:7s} {r['seconds']:7.2f} s  (Pagefind {r['search']:6.2f} s, "
              f"{int(r['written']):6,} files written)")
    ratio = result["late"]["seconds"] / result["newest"]["seconds"]
    print(f"  late / newest: {ratio:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
