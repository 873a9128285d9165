"""Benchmark: fetch workers on one PostgreSQL store against one process on SQLite (issue 14).

One command: ``.venv/bin/python benchmarks/bench_workers.py`` (``--feeds 5000``). Method:

- 5,000 feeds (``--feeds``) on 127.0.0.1 (the tests' threaded server), each an RSS document of
  5 items of its own, answered after 200 ms (``--latency``): a slow origin, as most are.
- Each run starts from an empty archive with the same config (``fetch.concurrency`` 16, the
  default; ``fetch.per_host`` 64, as every feed is on one host here and the host's limit is
  shared by all workers; no site or Hexo output: the measure is fetching and storing).
- Runs, in this order each round: SQLite with one process (``rsspage update``), then
  PostgreSQL (a server started for the benchmark from Debian's packages, tests/pg_harness.py,
  a new database per run) with 1, 2 and 4 worker processes (``rsspage update --worker``)
  started together. Wall time from the first process's start to the last one's end, startup
  included; feeds/s and articles/s (articles counted in the store afterwards).
- ``--rounds`` rounds (default 1; medians over rounds when more).

Prints a table with the scaling ratio of each worker count against one worker, and against
SQLite. On this machine (2 cores) the four workers, the server and PostgreSQL share two cores.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import yaml

from rsspage.store import Store

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import pg_harness  # the tests' PostgreSQL server
from servers import LocalServer, feed, slow  # the tests' real HTTP server

ITEMS = 5
NOW = datetime.now(UTC)


def rss(number: int) -> bytes:
    items = "".join(
        f"<item><title>第{number}号源的第{n}条新闻</title>"
        f"<link>https://s{number}.example.cn/{n}.html</link><guid>s{number}-{n}</guid>"
        f"<description>第{number}号源的第{n}条新闻的正文，讲述一件事情的经过。</description>"
        f"<pubDate>{format_datetime(NOW - timedelta(minutes=number % 600 + n))}</pubDate>"
        "</item>" for n in range(ITEMS))
    return ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>T'
            f'</title><link>https://example.cn/</link>{items}</channel></rss>').encode()


def write_config(folder: Path, server: LocalServer, feeds: int, store: bool) -> Path:
    config = {
        "feeds": [{"url": server.url(f"/f{n}"), "category": "新闻", "source": f"来源{n % 50}",
                   "channel": f"频道{n}"} for n in range(feeds)],
        "fetch": {"concurrency": 16, "per_host": 64, "timeout": 20, "retries": 0},
        "output": {"state": "state", "site": None},
    }
    if store:
        config["store"] = {"url_env": "RSSPAGE_STORE"}
    folder.mkdir(parents=True)
    path = folder / "rsspage.yml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def run(config: Path, url: str | None, workers: int) -> tuple[float, list[str]]:
    """Seconds from the start of the first process to the end of the last, and the failed
    feeds' lines of their summaries."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore", **({"RSSPAGE_STORE": url} if url else {})}
    command = [sys.executable, "-m", "rsspage.cli", "update", "-c", str(config)]
    # Their output goes to files: a pipe read only once the process ends fills up (64 KB, a
    # line per feed fetched) and stalls the writer mid-fetch (its requests then time out).
    logs = [(config.parent / f"out{n}.txt", config.parent / f"err{n}.txt")
            for n in range(workers)]
    started = time.perf_counter()
    procs = []
    for out, err in logs:
        with out.open("w") as stdout, err.open("w") as stderr:
            procs.append(subprocess.Popen(command + (["--worker"] if url else []), env=env,
                                          stdout=stdout, stderr=stderr))
    failed: list[str] = []
    for proc, (out, err) in zip(procs, logs, strict=True):
        proc.wait()
        if proc.returncode not in (0, 1):  # 1: some feeds failed, named in the summary
            raise RuntimeError(f"rsspage failed ({proc.returncode}): "
                               f"{err.read_text()[-2000:]}")
        if proc.returncode:
            failed += out.read_text().split("failed feeds:")[1].strip().splitlines()[2:]
    return time.perf_counter() - started, failed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--feeds", type=int, default=5000)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    reason = pg_harness.unavailable()
    if reason:
        print(f"PostgreSQL unavailable: {reason}")
        return 2
    server = pg_harness.Server().start()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-workers-") as work, LocalServer() as http:
            for n in range(args.feeds):
                http.route(f"/f{n}", slow(args.latency, feed(rss(n))))
            results = measure(Path(work), http, server, args)
    finally:
        server.stop()
    report(results, args.feeds)
    return 0


def measure(work: Path, http: LocalServer, server: pg_harness.Server,
            args: argparse.Namespace) -> dict[str, list[tuple[float, int]]]:
    results: dict[str, list[tuple[float, int]]] = {}
    ways = [("SQLite, 1 process", 0), *((f"PostgreSQL, {n} worker{'s' * (n > 1)}", n)
                                       for n in (1, 2, 4))]
    for round_ in range(args.rounds):
        for name, workers in ways:
            folder = work / f"r{round_}-{workers}"
            url = server.database("bench") if workers else None
            config = write_config(folder, http, args.feeds, store=url is not None)
            seconds, failed = run(config, url, max(1, workers))
            with Store.open(folder / "state", url) as store:
                articles = store.article_count()
            results.setdefault(name, []).append((seconds, articles))
            print(f"round {round_ + 1}: {name}: {seconds:.1f} s, {articles:,} articles, "
                  f"{len(failed)} feeds failed", flush=True)
            for line in failed[:5]:
                print(f"  {line.strip()}", flush=True)
    return results


def report(results: dict[str, list[tuple[float, int]]], feeds: int) -> None:
    base = statistics.median(s for s, _ in results["PostgreSQL, 1 worker"])
    sqlite = statistics.median(s for s, _ in results["SQLite, 1 process"])
    print(f"\n{'':<22} {'seconds':>8} {'feeds/s':>8} {'articles/s':>10} "
          f"{'vs 1 worker':>11} {'vs SQLite':>9}")
    for name, runs in results.items():
        seconds = statistics.median(s for s, _ in runs)
        articles = statistics.median(a for _, a in runs)
        print(f"{name:<22} {seconds:>8.1f} {feeds / seconds:>8.1f} {articles / seconds:>10.0f} "
              f"{base / seconds:>10.2f}x {sqlite / seconds:>8.2f}x")


if __name__ == "__main__":
    sys.exit(main())
