"""Benchmark: what a first search query costs in a real browser, and what a shard costs Pagefind.

One command: ``.venv/bin/python benchmarks/bench_search.py`` (20,000 articles);
``--articles 20000 300000`` for the issue's two sizes (the 300,000-article site takes most of an
hour to generate and build on 2 cores; ``--work DIR`` keeps it for the next run, which then
only measures). Every article gets its page and is searchable (``site.max_articles: 0``;
``--max-articles 50000`` builds the default site instead, which leaves older ones out).
``--memory 1000 5000 20000 40000`` measures Pagefind instead (below).

Browser (issue 10: target under 1.5 MB and under 1 s for a first query at 300,000 articles,
on loopback):

1. *setup* (a child process per size): bench_site's generated corpus (Chinese news, 30
   channels, about 3.5 KB of HTML an article) stored through the real ``normalise_feed`` and
   ``Store.save_feed`` in batches of 20,000, oldest first, each batch entering the archive an
   hour after the one before (so the search tiers follow time, as they do in a real archive),
   then ``publish_site``: pages, feeds and the Pagefind index in its tiers. Its wall time and
   Pagefind's peaks (``VmHWM``, as bench_site reads them) are printed.
2. *serve*: each site from its own child process (``rsspage.serve.serving`` on 127.0.0.1), so
   the server never competes with the measuring process for its interpreter.
3. *query*: Debian's Chromium through Playwright (tests/browser.py), a fresh context (empty
   cache) per query: ``search.html`` is opened and loaded, then the query is submitted with the
   form (no typing delay). Counted from the submit until the page has shown the results and
   their count: every request (the worker's included), the bytes of each answer (headers and
   body, as sent: the server does not compress; Pagefind's files are gzip already), and the
   time (``performance.now()`` in the page). Each query is measured as the search page works
   (merging the newest ``search_index.WAVE`` articles' shards first; ``--waves 1000 2000 ...``
   measures other first waves on the same site) and with every shard merged at once, to show
   what the waves save: the page is given the site's layout with that ``wave``.
   Rounds are interleaved (each round runs every size, query and mode once); medians are
   printed with their range.

Queries: a rare word (the number in the title of the article in the middle of the archive),
a word in one title in eight
(``高铁``), a phrase in most articles (``芯片``) and two words (``人工智能 芯片``). The corpus
repeats a few dozen phrases, so its common words are far more common than in real news: the
third and fourth queries are a worst case for the index chunks they load.

Pagefind memory (``--memory N ...``): N articles of the same corpus sent to one ``pagefind
--service`` as one bundle, its ``VmHWM`` read just before it exits (after ``GetFiles``, when
the index is built), with the time and the bundle's sizes. These choose the tier sizes
(search_tiers.TIERS): see benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import bench_site
from rsspage.config import parse_config
from rsspage.normalise import normalise_feed
from rsspage.publish import search_index, search_pagefind, search_tiers
from rsspage.publish.outputs import publish_site
from rsspage.publish.site_model import ArticleView, build_model
from rsspage.store import Store
from rsspage.types import Article, ParsedFeed

REPO = Path(__file__).resolve().parents[1]
BATCH = 20_000
QUERIES = ("{rare}", "高铁", "芯片", "人工智能 芯片")
TARGET_BYTES = 1.5e6
TARGET_SECONDS = 1.0
#: Marks the moment the page shows the query's results and their count.
_WATCH = """
window.__rsspageDone = null;
addEventListener("DOMContentLoaded", () => {
  const status = document.getElementById("search-status");
  if (!status) return;
  new MutationObserver(() => {
    const text = status.textContent;
    if (window.__rsspageStart != null && window.__rsspageDone == null && text
        && text !== status.dataset.searching) window.__rsspageDone = performance.now();
  }).observe(status, { childList: true, characterData: true, subtree: true });
});
"""


# -- the sites ----------------------------------------------------------------------------------


def write_config(folder: Path, max_articles: int) -> None:
    """bench_site's configuration, with ``site.max_articles`` (0: every article gets its page
    and is searchable; the default, 50,000, would leave the older ones out of the site)."""
    bench_site.write_config(folder)
    path = folder / "rsspage.yml"
    text = path.read_text("utf-8").replace(
        "timezone: Asia/Shanghai}", f"timezone: Asia/Shanghai, max_articles: {max_articles}}}")
    path.write_text(text, "utf-8")


def phase_setup(folder: Path, articles: int) -> dict[str, Any]:
    """Store ``articles`` in batches, oldest first, each entering the archive an hour later."""
    config = parse_config((folder / "rsspage.yml").read_text("utf-8"), folder / "rsspage.yml")
    batches = (articles + BATCH - 1) // BATCH
    entered = bench_site.STORED - timedelta(hours=batches)
    with Store.open(config.output.state) as store:
        for k in reversed(range(batches)):  # the oldest articles first
            count = min(BATCH, articles - k * BATCH)
            newest = bench_site.START - bench_site.STEP * (k * BATCH)
            entered += timedelta(hours=1)
            bench_site.store_articles(store, bench_site.corpus(count, k * BATCH, newest), entered)
    return {"stored": articles}


def phase_build(folder: Path, tiers: search_tiers.Tiers) -> dict[str, Any]:
    search_tiers.TIERS = tiers
    config = parse_config((folder / "rsspage.yml").read_text("utf-8"), folder / "rsspage.yml")
    began = time.perf_counter()
    with Store.open(config.output.state) as store:
        publish_site(config, store, bench_site.NOW)
    layout = json.loads((folder / "site" / "pagefind" / search_tiers.LAYOUT_NAME).read_bytes())
    shards = [s for s in layout["shards"] if s["folder"] is not None]
    return {"seconds": time.perf_counter() - began, "shards": len(shards),
            "levels": [s["level"] for s in shards], "records": sum(s["count"] for s in shards)}


def run_phase(args: argparse.Namespace) -> int:
    folder = Path(args.work)
    if args.phase == "serve":
        from rsspage.serve import serving

        with serving(folder, 0, rebuild=None, watch=None) as url:
            print(url, flush=True)
            sys.stdin.read()  # until the parent closes our stdin
        return 0
    with bench_site.ProcessWatch() as watch:
        bench_site.watch_pagefind(watch)
        result = (phase_setup(folder, args.articles[0]) if args.phase == "setup"
                  else phase_build(folder, tiers_of(args.tiers)))
    result["py_mb"] = bench_site.proc_status_mb("self", "VmHWM")
    result["pagefind_mb"] = watch.peaks("pagefind")
    print(json.dumps(result))
    return 0


def tiers_of(text: str) -> search_tiers.Tiers:
    level0, fanout, top = (int(n) for n in text.split(","))
    return search_tiers.Tiers(level0, fanout, top)


def prepare(work: Path, articles: int, args: argparse.Namespace) -> Path:
    """The site of ``articles`` articles in ``work/<articles>-<tiers>-<max>/site``, built
    unless it is there (a store of the same size is copied when there is one). The first
    wave's size is not part of it: the page reads it from the layout, which the browser is
    given with the wave measured (see :func:`measure`)."""
    name = f"{articles}-{args.tiers.replace(',', '.')}-{args.max_articles}"
    folder = work / name
    store = next(iter(work.glob(f"{articles}-*/state")), None)
    if store is not None and not (folder / "state").exists():
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copytree(store, folder / "state")
    site = folder / "site"
    if (site / "pagefind" / search_tiers.LAYOUT_NAME).is_file():
        print(f"{articles:,} articles: reusing {site}")
        return site
    folder.mkdir(parents=True, exist_ok=True)
    phases = ("build",) if (folder / "state").exists() else ("setup", "build")
    write_config(folder, args.max_articles)
    for phase in phases:
        argv = [sys.executable, __file__, "--phase", phase, "--work", str(folder),
                "--articles", str(articles), "--tiers", args.tiers]
        began = time.perf_counter()
        out = subprocess.run(argv, capture_output=True, text=True, check=False)
        if out.returncode:
            raise SystemExit(f"{phase} of {articles:,} failed:\n{out.stderr[-3000:]}")
        info = json.loads(out.stdout.strip().splitlines()[-1])
        peaks = " + ".join(f"{mb:.0f}" for mb in info.get("pagefind_mb", []))
        print(f"{articles:,} articles: {phase} {time.perf_counter() - began:.0f} s, rsspage "
              f"{info['py_mb']:.0f} MB" + (f", pagefind {peaks} MB" if peaks else "")
              + (f"; {info['records']:,} articles searchable in {info['shards']} shards, "
                 f"levels {info['levels']}"
                 if phase == "build" else ""), flush=True)
    return site


class Server:
    """One site served by a child process."""

    def __init__(self, site: Path) -> None:
        argv = [sys.executable, __file__, "--phase", "serve", "--work", str(site)]
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        if not self.url.startswith("http://127.0.0.1:"):
            self.close()
            raise SystemExit(f"could not serve {site}")

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)


# -- the browser --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    seconds: float
    bytes: int
    requests: int
    bundles: int
    shown: int


#: The "wave" that makes the search page merge every shard at once.
EVERY_SHARD = 10**12


def measure(browser: Any, url: str, query: str, wave: int) -> Query:
    """One first query in a fresh context: submitted on the loaded search page, counted until
    the page shows its results and their count. The page merges ``wave`` articles' shards
    first: the site's layout is given to it with that ``wave`` (the build writes
    search_index.WAVE there; nothing else in the layout depends on it)."""
    tab = browser.open(allow=[url])
    page = tab.page
    try:
        page.add_init_script(_WATCH)
        page.route("**/" + search_tiers.LAYOUT_NAME, lambda route: _with_wave(route, wave))
        page.goto(url + "search.html", wait_until="load")
        sizes: list[int] = []
        bundles: set[str] = set()

        def done(request: Any) -> None:
            measured = request.sizes()
            sizes.append(measured["responseBodySize"] + measured["responseHeadersSize"])
            if request.url.endswith(".pf_meta"):
                bundles.add(request.url.rsplit("/", 2)[-2])

        page.context.on("requestfinished", done)
        page.evaluate("""(q) => {
            document.getElementById("search-input").value = q;
            window.__rsspageStart = performance.now();
            document.getElementById("search-input").form.requestSubmit();
        }""", query)
        page.wait_for_function("() => window.__rsspageDone != null", timeout=300_000)
        seconds = page.evaluate("() => window.__rsspageDone - window.__rsspageStart") / 1000
        shown = page.locator("#search-results li").count()
        page.wait_for_timeout(50)  # answers that finished as the results showed
        return Query(seconds, sum(sizes), len(sizes), len(bundles), shown)
    finally:
        tab.close()


def _with_wave(route: Any, wave: int) -> None:
    layout = json.loads(route.fetch().body())
    layout["wave"] = wave
    route.fulfill(body=json.dumps(layout), content_type="application/json")


def run_browser(sites: dict[int, Path], rounds: int, waves: list[int]
                ) -> dict[tuple[int, str, int], list[Query]]:
    sys.path.insert(0, str(REPO / "tests"))
    from browser import Browser, chromium_or_skip

    servers = {n: Server(site) for n, site in sites.items()}
    results: dict[tuple[int, str, int], list[Query]] = {}
    try:
        with Browser(chromium_or_skip(), shots=Path(tempfile.mkdtemp()),
                     allowed=[s.url for s in servers.values()]) as browser:
            for server in servers.values():  # warm the disk cache and Chromium once
                measure(browser, server.url, "高铁", waves[0])
            for round_ in range(rounds):
                for n, server in servers.items():
                    for query in queries(n):
                        for wave in (*waves, EVERY_SHARD):
                            got = measure(browser, server.url, query, wave)
                            results.setdefault((n, query, wave), []).append(got)
                print(f"round {round_ + 1} of {rounds} done", flush=True)
    finally:
        for server in servers.values():
            server.close()
    return results


def queries(articles: int) -> list[str]:
    # An article in the middle of the archive: its number is in its title only.
    return [q.format(rare=articles // 2) for q in QUERIES]


def report(results: dict[tuple[int, str, int], list[Query]], target_wave: int) -> bool:
    print(f"{'articles':>8s}  {'query':14s} {'shards merged':14s} {'KB':>14s} {'requests':>9s} "
          f"{'bundles':>7s} {'ms':>16s} {'shown':>5s}")
    ok = True
    largest = max(n for n, _, _ in results)
    for (n, query, wave), runs in sorted(results.items(), key=lambda x: (x[0][0], x[0][2])):
        kb = [r.bytes / 1024 for r in runs]
        ms = [r.seconds * 1000 for r in runs]
        mode = "all at once" if wave == EVERY_SHARD else f"first {wave:,}"
        print(f"{n:8,d}  {query:14s} {mode:14s} {_spread(kb):>14s} "
              f"{statistics.median(r.requests for r in runs):9.0f} "
              f"{statistics.median(r.bundles for r in runs):7.0f} {_spread(ms):>16s} "
              f"{runs[0].shown:5d}")
        if n == largest and wave == target_wave:
            ok &= statistics.median(r.bytes for r in runs) < TARGET_BYTES
            ok &= statistics.median(r.seconds for r in runs) < TARGET_SECONDS
    print(f"target at {largest:,} articles (first wave {target_wave:,}, as the search page "
          f"works): every query under "
          f"{TARGET_BYTES / 1e6:.1f} MB and {TARGET_SECONDS:.0f} s: {'met' if ok else 'MISSED'}")
    return ok


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.0f} ({min(values):.0f}-{max(values):.0f})"


# -- Pagefind's memory per bundle ---------------------------------------------------------------


def corpus_views(count: int) -> list[ArticleView]:
    """``count`` articles of bench_site's corpus, sanitised, as the site's views."""
    chans = bench_site.channels()
    articles: list[Article] = []
    for index, entries in sorted(bench_site.corpus(count, 0, bench_site.START).items()):
        spec = chans[index].spec
        parsed = ParsedFeed(title=spec.source, link=spec.key, entries=tuple(entries),
                            parser="bench")
        articles.extend(normalise_feed(spec, parsed, bench_site.STORED))
    return build_model(articles, ZoneInfo("Asia/Shanghai")).views


def measure_memory(sizes: list[int]) -> None:
    views = corpus_views(max(sizes))
    binary = search_index.find_binary()
    assert binary, "pip install 'pagefind[extended]'"
    print(f"{'records':>8s} {'VmHWM MB':>9s} {'MB/1k':>6s} {'s':>6s} {'bundle MB':>9s} "
          f"{'meta KB':>8s} {'chunks':>6s} {'chunk KB max':>12s}")
    for n in sizes:
        began = time.perf_counter()
        with search_index.PagefindService(binary) as service:
            index = service.call({"type": "NewIndex", "config": {"force_language": "zh"}})
            for view in views[:n]:
                service.send(search_pagefind.record(index["index_id"], view, "zh"))
            answer = service.call({"type": "GetFiles", "index_id": index["index_id"]})
            peak = bench_site.proc_status_mb(service.pid, "VmHWM") or 0.0
        files = {f["path"]: len(base64.b64decode(f["content"])) for f in answer["files"]}
        chunks = [size for path, size in files.items() if path.endswith(".pf_index")]
        meta = sum(size for path, size in files.items() if path.endswith(".pf_meta"))
        print(f"{n:8,d} {peak:9.0f} {peak / n * 1000:6.0f} {time.perf_counter() - began:6.1f} "
              f"{sum(files.values()) / 2**20:9.1f} {meta / 1024:8.0f} {len(chunks):6d} "
              f"{max(chunks) / 1024:12.0f}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--articles", type=int, nargs="+", default=[20_000])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--work", help="work folder, kept (default: a temporary one, removed)")
    tiers = search_tiers.TIERS
    parser.add_argument("--tiers", default=f"{tiers.level0},{tiers.fanout},{tiers.top}",
                        help="level0,fanout,top of the search tiers (default: %(default)s)")
    parser.add_argument("--waves", type=int, nargs="+", default=[search_index.WAVE],
                        help="first waves to measure: articles the search page merges first "
                             "(default: %(default)s, the page's; no rebuild for others)")
    parser.add_argument("--max-articles", type=int, default=0,
                        help="site.max_articles of the sites (default: 0, every article)")
    parser.add_argument("--memory", type=int, nargs="+", metavar="RECORDS",
                        help="measure Pagefind's peak memory for bundles of these sizes")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        return run_phase(args)
    if args.memory:
        measure_memory(args.memory)
        return 0
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="rsspage-search-"))
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", flush=True)
    try:
        sites = {n: prepare(work, n, args) for n in sorted(args.articles)}
        # The target is judged as the search page works: with its own first wave.
        waves = args.waves if search_index.WAVE in args.waves else [*args.waves, search_index.WAVE]
        results = run_browser(sites, args.rounds, waves)
        print(f"load average after: {os.getloadavg()[0]:.1f}")
        return 0 if report(results, search_index.WAVE) else 1
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
