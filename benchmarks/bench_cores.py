"""Benchmark: a full site build with search on one core and on two (issue 10).

One command: ``.venv/bin/python benchmarks/bench_cores.py`` (``--articles``, default 20,000;
``--rounds``, default 3; ``--work DIR`` to keep the folders).

Search shards are indexed by one Pagefind process per core the build may use
(``search_pagefind._cores``: ``sched_getaffinity``, so ``taskset`` and cgroup CPU sets count).
This measures what the second core gives: an archive of ``--articles`` generated articles
(bench_site.py's corpus, every one of them searchable under the default window) is stored once,
then built into an empty site folder by bench_scale.py's build phase under ``taskset -c 0`` and
``taskset -c 0,1``, in interleaved rounds (the order alternating), each on a fresh copy of the
stored archive. Reported: medians of the phase's wall time, of the build alone, of the search
step (``search_index.update_tiers``), the peak memory (rsspage's + every Pagefind process's own
``VmHWM``) and the ratios one core / two cores.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from bench_site import Measured, spawn

SCALE = Path(__file__).with_name("bench_scale.py")
CORES = {"one core": "0", "two cores": "0,1"}


def phase(name: str, work: Path, *extra: str, cores: str | None = None) -> Measured:
    argv = [sys.executable, str(SCALE), "--phase", name, "--work", str(work), *extra]
    if cores is not None:
        argv = ["taskset", "-c", cores, *argv]
    return spawn(name, argv, work, timeout=7200)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--articles", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--work", help="work folder (default: a temporary one, removed after)")
    args = parser.parse_args()
    if len(os.sched_getaffinity(0)) < 2:
        raise SystemExit("this machine gives this process fewer than 2 cores")
    root = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="rsspage-bench-cores-"))
    root.mkdir(parents=True, exist_ok=True)
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", flush=True)
    try:
        stored = root / "archive"
        stored.mkdir()
        phase("setup", stored, "--articles", str(args.articles))
        runs: dict[str, list[Measured]] = {label: [] for label in CORES}
        for round_ in range(args.rounds):
            order = list(CORES) if round_ % 2 == 0 else list(reversed(CORES))
            for label in order:
                work = root / f"{label.replace(' ', '-')}-{round_}"
                shutil.copytree(stored, work)
                os.sync()  # the copy's writeback must not fall inside the timed build
                runs[label].append(phase("build", work, "--round", "-1", cores=CORES[label]))
                shutil.rmtree(work)
        print(f"load average after: {os.getloadavg()[0]:.1f}")
        report(runs, args.articles, args.rounds)
        return 0
    finally:
        if not args.work:
            shutil.rmtree(root, ignore_errors=True)


def report(runs: dict[str, list[Measured]], articles: int, rounds: int) -> None:
    print(f"full build of {articles:,} articles, search included; medians of {rounds} "
          "interleaved rounds")
    medians = {}
    for label, measured in runs.items():
        wall = statistics.median(m.seconds for m in measured)
        build = statistics.median(m.details["seconds"] for m in measured)
        search = statistics.median(m.details["search"] for m in measured)
        peak = statistics.median(m.peak_mb for m in measured)
        processes = max(len(m.details.get("pagefind_mb", ())) for m in measured)
        medians[label] = (wall, build, search)
        spread = ", ".join(f"{m.details['seconds']:.1f}" for m in measured)
        print(f"  {label:9}: wall {wall:6.1f} s  build {build:6.1f} s ({spread})  search "
              f"{search:6.1f} s  peak {peak:5.0f} MB  pagefind processes {processes}")
    one, two = medians["one core"], medians["two cores"]
    print(f"one core / two cores: build {one[1] / two[1]:.2f}x, search step "
          f"{one[2] / two[2]:.2f}x")


if __name__ == "__main__":
    sys.exit(main())
