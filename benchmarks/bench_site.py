"""Benchmark: the built-in static site against Hexo 8, for the same articles.

Method (one command: ``.venv/bin/python benchmarks/bench_site.py``; ``--articles 2000`` for a
quick run; ``--no-hexo`` skips Hexo and its targets; ``--profile`` prints where the site build
without search spends its time):

1. *setup* — generates N articles (default 20,000) across 30 channels (6 categories, 12
   sources): Chinese news, 4–8 paragraphs with inline styling, 1–3 pictures (absolute, relative
   and lazy-loaded), a table in a quarter of them, about 3.5 KB of feed HTML each, RSSHub-like.
   Channels get different volumes (flash news far more than columns) and interleave in time, one
   article every 3 minutes. Each channel's entries go through the real ``normalise_feed``
   (sanitising) into a real SQLite store with ``Store.save_feed``.
2. *site, full* — ``publish_site`` into a fresh folder: pages, feeds, OPML, sitemap and the
   Pagefind index; the time spent in ``search_index.update_index`` is measured around it.
3. *no-change rebuild* and *incremental* — the same build again, then 10 new articles stored in
   10 channels and the site rebuilt.
4. *hexo posts* — ``publish_hexo`` writes the same N articles as Hexo posts into a Hexo site (Hexo
   8, theme landscape and the plugins of a fresh ``hexo init``, installed from npm once into the
   test cache by ``tests/hexo_harness.py``).
5. *like for like*, ``--rounds`` times (default 3), interleaved: *site without search* —
   ``publish_site`` on a fresh copy of the store into an empty folder, Pagefind hidden
   (``PAGEFIND_BINARY_PATH`` points nowhere) — then *hexo generate* of the same articles from
   scratch (``NODE_OPTIONS=--max-old-space-size=8192``; its output and cache are set aside after
   each round, renamed, not deleted). The speed and memory targets are judged on the median of
   the rounds' paired ratios.

Every phase runs in its own child process. Peak memory is each process's own high-water mark,
``VmHWM`` in ``/proc/<pid>/status``, never ``ru_maxrss`` of a child: Linux carries the peak of
the memory a child was forked from into its ``ru_maxrss`` at ``exec``, so ``/bin/true`` spawned
by a 500 MB Python process reports 511 MB, and Pagefind started by a site build was charged the
build's own ~170 MB. So:

- *rsspage* (the phase process) reads its own ``VmHWM`` when the phase is done;
- *Pagefind*: the phase wraps ``search_index.PagefindService`` to learn each ``pagefind
  --service`` process's pid, polls its ``VmHWM`` every 20 ms while it runs and reads it once
  more just before ``close()`` tells it to exit (after that it only exits);
- *render workers* (forked by a site build without search): each records, as it ends, its
  *private* memory (smaps_rollup: the pages only it maps), which is what it adds to the build's
  own; its RSS also counts every page it still shares with the build's process, so adding
  those counted them three times (see workers_memory);
- *hexo generate* (spawned by this script, not a phase): its ``VmHWM`` is polled while the
  parent waits for it, and ``wait4``'s ``ru_maxrss`` is taken instead when it is above this
  script's own peak (then it is the peak of Hexo or of one of its subprocesses, not ours).

``--pss`` also samples, every 20 ms, the Pss (shared pages divided among their sharers) of each
measured process and all its children, and prints the ratio of the largest sums: the same
measure for rsspage with its render workers and for Hexo. Reading smaps slows the programs
measured, so the times of such a run are not the ones to compare.

A site build's peak is reported as rsspage's peak + the render workers' private memory + the
peak of every Pagefind process (one per core when shards are indexed in parallel), an upper
bound: they need not peak at the same
moment; the largest sum of their ``VmRSS`` seen at one poll is printed beside it, a lower bound.
Times are the child's wall time, interpreter start and imports included, as ``hexo
generate``'s are.

Targets: full site build ≥ 20× faster than ``hexo generate`` with < 1/10 of its peak memory;
incremental rebuild < 5 % of the full build. Exit status 1 when one is missed.
"""

from __future__ import annotations

import argparse
import cProfile
import inspect
import json
import multiprocessing.util
import os
import pstats
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rsspage.config import Config, parse_config
from rsspage.publish import render_pool, search_index
from rsspage.publish.outputs import publish_hexo_posts, publish_site
from rsspage.store import Store
from rsspage.types import FeedSpec, FetchResult, FetchStatus, ParsedFeed, RawEntry

REPO = Path(__file__).resolve().parents[1]
#: The newest article of the corpus; builds run an hour later.
START = datetime(2024, 7, 21, 9, 0, tzinfo=UTC)
NOW = START + timedelta(hours=1)
#: When the corpus entered the archive: before the 10 new articles, stored at NOW. (Stored at
#: the same time, they would sort among the others by id in the search shards' order, and the
#: incremental build would re-index every shard, which a real update never does.)
STORED = NOW - timedelta(minutes=30)
STEP = timedelta(minutes=3)
NEW_ARTICLES = 10
SPEED_TARGET = 20.0
MEMORY_TARGET = 10.0
INCREMENTAL_TARGET = 0.05
HEXO_TIMEOUT = 1800
#: The site without search: Pagefind hidden.
NO_PAGEFIND = {"PAGEFIND_BINARY_PATH": "/nonexistent/pagefind"}
HEXO_ENV = {"NODE_OPTIONS": "--max-old-space-size=8192", "TZ": "UTC", "NO_COLOR": "1"}

#: category → source → channels; 30 channels.
CHANNELS: dict[str, dict[str, tuple[str, ...]]] = {
    "新媒体": {"快科技": ("最新新闻", "排行榜", "评测"), "36氪": ("快讯", "最新", "深度")},
    "科技": {"IT之家": ("最新", "手机", "电脑"), "少数派": ("首页", "派早报")},
    "财经": {"华尔街见闻": ("快讯", "文章", "市场"), "第一财经": ("快讯", "头条")},
    "国际": {"联合早报": ("中国", "国际", "东南亚"), "BBC 中文": ("首页", "国际")},
    "社会": {"澎湃新闻": ("精选", "时事", "思想"), "新京报": ("要闻", "社会")},
    "学术": {"中国科学院": ("科研进展", "院内要闻"), "NASA 中文": ("每日一图", "新闻")},
}  # fmt: skip
_TITLES = (
    "小米汽车再揽大将", "国产大飞机完成首次商业飞行", "一图看懂最新政策", "暑期档电影票房破百亿",
    "高铁新线路今日开通", "多家银行下调存款利率", "世界人工智能大会开幕", "夏粮再获丰收",
)  # fmt: skip


@dataclass(frozen=True)
class Channel:
    spec: FeedSpec
    #: Relative share of the articles (flash-news channels publish far more than columns).
    weight: float


def channels() -> list[Channel]:
    rng = random.Random(7)
    out: list[Channel] = []
    for category, sources in CHANNELS.items():
        for source, names in sources.items():
            for name in names:
                url = f"https://rsshub.example.cn/{len(out)}"
                spec = FeedSpec(key=url, urls=(url,), category=category, source=source,
                                channel=name, items_per_feed=0)
                out.append(Channel(spec, 5.0 if name == "快讯" else rng.uniform(0.3, 2.0)))
    return out


# -- the corpus ---------------------------------------------------------------------------------


def _entry(rng: random.Random, number: int, when: datetime) -> RawEntry:
    # Imported here: the timed site phases, children of their own, must not pay for importing
    # the corpus generator and feedparser (~0.1 s of the child's start).
    from bench_parse import PHRASES, article_html  # one generator of RSSHub-like news HTML

    link = f"https://news.example.cn/{when:%Y%m%d}/{number}.html"
    return RawEntry(
        guid=link, link=link, title=f"{rng.choice(_TITLES)}：{rng.choice(PHRASES)}（{number}）",
        title_is_html=False, published=when, updated=None, author=f"记者{rng.randint(1, 50)}",
        content_html=article_html(rng, link), summary_html=None, base_url="https://news.example.cn/",
    )


def corpus(count: int, first: int, newest: datetime) -> dict[int, list[RawEntry]]:
    """Entries ``first`` … ``first + count - 1``, newest first, by channel index."""
    chans = channels()
    rng = random.Random(20240721 + first)
    weights = [c.weight for c in chans]
    by_channel: dict[int, list[RawEntry]] = {}
    for i in range(count):
        index = rng.choices(range(len(chans)), weights)[0] if first == 0 else i % len(chans)
        by_channel.setdefault(index, []).append(_entry(rng, first + i, newest - STEP * i))
    return by_channel


def store_articles(store: Store, by_channel: dict[int, list[RawEntry]], now: datetime) -> int:
    from rsspage.normalise import normalise_feed  # not for the site phases (see _entry)

    chans = channels()
    stored = 0
    for index, entries in sorted(by_channel.items()):
        spec = chans[index].spec
        parsed = ParsedFeed(title=spec.source, link=spec.key, entries=tuple(entries),
                            parser="bench")
        articles = normalise_feed(spec, parsed, now)
        result = FetchResult(key=spec.key, status=FetchStatus.OK, url=spec.key, http_status=200)
        stored += store.save_feed(spec, result, articles, None, now).new
    return stored


def write_config(folder: Path) -> Config:
    feeds = "".join(
        f"  - {{url: '{c.spec.key}', category: {c.spec.category}, source: '{c.spec.source}', "
        f"channel: {c.spec.channel}}}\n" for c in channels()
    )
    text = ("site: {title: 新闻聚合, url: 'https://news.example.cn/', language: zh-CN, "
            "timezone: Asia/Shanghai}\n"
            f"feeds:\n{feeds}"
            "output: {state: state, site: site, hexo: hexo-site/source/_posts}\n")
    path = folder / "rsspage.yml"
    path.write_text(text, encoding="utf-8")
    return parse_config(text, path)


# -- memory: each process's own high-water mark ------------------------------------------------


def proc_status_mb(pid: int | str, field: str) -> float | None:
    """``field`` (``VmHWM``, ``VmRSS``) of ``/proc/<pid>/status`` in MB; None when the process
    is gone or a zombie (its memory is released before it is reaped)."""
    prefix = field.encode() + b":"
    try:
        with open(f"/proc/{pid}/status", "rb") as status:
            for line in status:
                if line.startswith(prefix):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


class ProcessWatch:
    """The own peaks (``VmHWM``) of the subprocesses it is told about, polled while they run.

    ``VmHWM`` never decreases, so the last reading before a process exits is its peak: the
    poller thread reads every live one every :attr:`interval` seconds and :meth:`observe` reads
    one at a chosen moment (just before it is told to exit). Each poll also adds up this
    process's ``VmRSS`` and theirs: the largest sum is a lower bound of the tree's peak.
    """

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        #: (name, peak MB so far) of each process, in the order they were added.
        self.procs: list[tuple[str, float]] = []
        #: pid → index in :attr:`procs` of the processes still running.
        self.live: dict[int, int] = {}
        self.tree_sampled_mb = 0.0
        self._lock = threading.Lock()
        self._done = threading.Event()
        # Started with the first process to watch: a thread running would keep the site
        # build without search from its render pool (render_pool.workers_for).
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> ProcessWatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        if self._thread.ident is not None:
            self._thread.join()
        self._sample()

    def add(self, pid: int, name: str) -> None:
        with self._lock:
            if self._thread.ident is None:  # not started yet
                self._thread.start()
            self.live[pid] = len(self.procs)
            self.procs.append((name, 0.0))
        self.observe(pid)

    def observe(self, pid: int) -> None:
        """Read ``pid``'s peak now; a process found gone is no longer polled."""
        peak = proc_status_mb(pid, "VmHWM")
        with self._lock:
            if pid not in self.live:
                return
            if peak is None:
                del self.live[pid]
                return
            name, best = self.procs[self.live[pid]]
            self.procs[self.live[pid]] = (name, max(best, peak))

    def gone(self, pid: int) -> None:
        """Stop polling ``pid`` (reaped: the number may be given to another process)."""
        with self._lock:
            self.live.pop(pid, None)

    def peaks(self, name: str) -> list[float]:
        """The peak of every process called ``name``, in the order they started."""
        with self._lock:
            return [peak for n, peak in self.procs if n == name]

    def _poll(self) -> None:
        while not self._done.wait(self.interval):
            self._sample()

    def _sample(self) -> None:
        with self._lock:
            live = list(self.live)
        total = proc_status_mb("self", "VmRSS") or 0.0
        for pid in live:
            self.observe(pid)
            total += proc_status_mb(pid, "VmRSS") or 0.0
        with self._lock:
            self.tree_sampled_mb = max(self.tree_sampled_mb, total)


def watch_pagefind(watch: ProcessWatch) -> None:
    """Tell ``watch`` about every ``pagefind --service`` the site build starts, and read its
    peak once more just before :meth:`~search_index.PagefindService.close` ends it."""
    service = search_index.PagefindService
    started, close = service.__init__, service.close

    def init(self: search_index.PagefindService, binary: str) -> None:
        started(self, binary)
        watch.add(self._proc.pid, "pagefind")

    def closing(self: search_index.PagefindService) -> None:
        watch.observe(self._proc.pid)  # after close() it only exits
        try:
            close(self)
        finally:
            watch.gone(self._proc.pid)

    service.__init__ = init  # type: ignore[method-assign]
    service.close = closing  # type: ignore[method-assign]


# -- phases (each in its own process) ---------------------------------------------------------


def timed_search() -> dict[str, float]:
    """Count the time spent in the search indexing step of the site build."""
    spent = {"search": 0.0}
    original = search_index.update_tiers  # what full builds and builds from the changes call

    def wrapper(*args: Any, **kwargs: Any) -> search_index.IndexResult:
        began = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent["search"] += time.perf_counter() - began

    search_index.update_tiers = wrapper
    return spent


def counted_workers() -> dict[str, int]:
    """Record how many processes rendered the pages (render_pool.py; 0: the build's own)."""
    seen = {"workers": 0}
    render = render_pool.render

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        seen["workers"] = inspect.signature(render).bind(*args, **kwargs).arguments["workers"]
        return render(*args, **kwargs)

    render_pool.render = wrapper
    return seen


def workers_memory(record: Path) -> None:
    """Have each render worker append its memory to ``record`` as it ends (a JSON line).

    A forked worker's RSS counts every page it still shares with the build's process, so
    adding the workers' RSS to the build's counts those pages three times. What a worker adds
    is its *private* memory (pages only it maps: what it allocated, and the build's pages it
    wrote to, copied on write), which only grows while it renders: read as it ends, it is its
    peak. Read by the worker itself, so nothing samples it from outside (which slows it)."""
    started = render_pool._worker_started

    def initializer() -> None:
        started()
        multiprocessing.util.Finalize(None, _record_memory, args=(record,), exitpriority=100)

    render_pool._worker_started = initializer


def _record_memory(record: Path) -> None:
    fields = {}
    for line in Path("/proc/self/smaps_rollup").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("Rss", "Pss", "Private_Clean", "Private_Dirty"):
            fields[name] = int(rest.split()[0]) / 1024
    fields["hwm"] = proc_status_mb("self", "VmHWM")
    with record.open("a") as out:
        out.write(json.dumps(fields) + "\n")


def recorded_workers(record: Path) -> list[dict[str, float]]:
    if not record.exists():
        return []
    return [json.loads(line) for line in record.read_text().splitlines()]


def phase_setup(folder: Path, articles: int) -> dict[str, Any]:
    config = write_config(folder)
    with Store.open(config.output.state) as store:
        stored = store_articles(store, corpus(articles, 0, START), STORED)
        size = sum(len(a.content_html.encode()) for a in store.articles())
    return {"stored": stored, "html_mb": size / 1e6}


def phase_site(folder: Path, profile: bool) -> dict[str, Any]:
    config = parse_config((folder / "rsspage.yml").read_text("utf-8"), folder / "rsspage.yml")
    spent = timed_search()
    pool = counted_workers()
    record = Path(tempfile.mkdtemp()) / "workers.jsonl"
    workers_memory(record)
    with Store.open(config.output.state) as store:
        began = time.perf_counter()
        profiler = cProfile.Profile() if profile else None
        if profiler:
            profiler.enable()
        stats = publish_site(config, store, NOW)
        if profiler:
            profiler.disable()
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(25)
        seconds = time.perf_counter() - began
    files = sum(len(names) for _, _, names in os.walk(config.output.site or folder))
    workers = recorded_workers(record)
    shutil.rmtree(record.parent)
    return {"publish": seconds, "search": spent["search"], "written": stats.written,
            "unchanged": stats.unchanged, "removed": stats.removed, "files": files,
            "workers": pool["workers"],
            # Each render worker's private memory as it ended (see workers_memory); its RSS
            # (with the pages it shares with the build's process) is only reported.
            "workers_mb": [w["Private_Clean"] + w["Private_Dirty"] for w in workers],
            "workers_rss_mb": [w["hwm"] for w in workers]}


def phase_add(folder: Path) -> dict[str, Any]:
    config = parse_config((folder / "rsspage.yml").read_text("utf-8"), folder / "rsspage.yml")
    with Store.open(config.output.state) as store:
        began = time.perf_counter()
        stored = store_articles(store, corpus(NEW_ARTICLES, 10**6, NOW), NOW)
    result = phase_site(folder, profile=False)
    return {**result, "stored": stored, "store": time.perf_counter() - began - result["publish"]}


def phase_hexo_posts(folder: Path) -> dict[str, Any]:
    config = parse_config((folder / "rsspage.yml").read_text("utf-8"), folder / "rsspage.yml")
    with Store.open(config.output.state) as store:
        began = time.perf_counter()
        stats = publish_hexo_posts(config, store)
    return {"publish": time.perf_counter() - began, "written": stats.written}


def run_phase(args: argparse.Namespace) -> int:
    folder = Path(args.work)
    phases: dict[str, Callable[[], dict[str, Any]]] = {
        "setup": lambda: phase_setup(folder, args.articles),
        "site": lambda: phase_site(folder, args.profile),
        "add": lambda: phase_add(folder),
        "hexo-posts": lambda: phase_hexo_posts(folder),
    }
    with ProcessWatch() as watch:
        watch_pagefind(watch)
        result = phases[args.phase]()
    result["py_mb"] = proc_status_mb("self", "VmHWM")
    pagefind = watch.peaks("pagefind")
    if pagefind:
        result["pagefind_mb"] = pagefind  # one peak per Pagefind process
        result["tree_sampled_mb"] = watch.tree_sampled_mb
        # What the old method reported as Pagefind's peak, for comparison only.
        result["children_ru_maxrss_mb"] = (
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
    print(json.dumps(result))
    return 0


# -- the parent: runs the phases and compares --------------------------------------------------


@dataclass
class Measured:
    label: str
    seconds: float
    #: Peak RSS in MB: the process's own; for a site build with search, rsspage's peak +
    #: Pagefind's (an upper bound of the tree's).
    peak_mb: float
    details: dict[str, Any]


#: pid → the largest Pss of its process tree seen while it ran (see _wait).
TREE_PSS: dict[int, float] = {}
#: ``--pss``: sample it. Reading a process's smaps every 20 ms slows it (``hexo generate``, 5 GB,
#: took 143 s instead of 103-112 s), so timed rounds are run without.
SAMPLE_PSS = False


def spawn(label: str, argv: list[str], cwd: Path, env: dict[str, str] | None = None,
          timeout: float = HEXO_TIMEOUT) -> Measured:
    """Run ``argv``, timing it; its peak memory is what a phase reports of itself, else
    (``hexo generate``) its own ``VmHWM`` polled while it runs (see :func:`_wait`)."""
    log = cwd / f"{label.replace(' ', '-')}.log"
    errors = log.with_suffix(".err")
    with log.open("wb") as out, errors.open("wb") as err:
        began = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, env={**os.environ, **(env or {})}, stdout=out,
                                stderr=err)
        status, polled = _wait(proc, timeout)
        seconds = time.perf_counter() - began
    if status != 0:
        tail = (log.read_text("utf-8", errors="replace")[-2000:]
                + errors.read_text("utf-8", errors="replace")[-2000:])
        raise SystemExit(f"{label} failed (status {status}):\n{tail}")
    details = _last_json(log) if not label.startswith("hexo generate") else {}
    details["tree_pss_mb"] = TREE_PSS.pop(proc.pid, 0.0)
    peak = details.get("py_mb") or polled
    # Python, render workers and Pagefind processes overlap: count every peak.
    peak += sum(details.get("pagefind_mb", ())) + sum(details.get("workers_mb", ()))
    return Measured(label, seconds, peak, details)


def tree_pss_mb(pid: int) -> float:
    """The proportional set size (Pss: shared pages divided among the processes that share
    them) of ``pid`` and every process under it, now; 0 for what is gone."""
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        try:
            for line in Path(f"/proc/{current}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) / 1024
                    break
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += map(int, (task / "children").read_text().split())
        except (OSError, ValueError):
            continue
    return total


def _wait(proc: subprocess.Popen[bytes], timeout: float) -> tuple[int, float]:
    """(exit status, the child's own peak in MB). Also keeps the largest Pss of its whole
    process tree seen at one poll in :data:`TREE_PSS` (a lower bound of the tree's peak, the
    same way for every program measured).

    The peak is the child's ``VmHWM``, read every 20 ms until it exits, so growth in its last
    20 ms can be missed. ``wait4``'s ``ru_maxrss`` holds the true peak of the child and its
    subprocesses, but also this process's peak when the child was spawned (carried over at
    ``exec``): when it is above our own peak it can only be theirs, and it is taken instead.
    """
    deadline = time.monotonic() + timeout
    polled = 0.0
    TREE_PSS[proc.pid] = 0.0
    while True:
        polled = max(polled, proc_status_mb(proc.pid, "VmHWM") or 0.0)
        if SAMPLE_PSS:
            TREE_PSS[proc.pid] = max(TREE_PSS[proc.pid], tree_pss_mb(proc.pid))
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            ours = proc_status_mb("self", "VmHWM") or float("inf")
            exact = usage.ru_maxrss / 1024
            return proc.returncode, exact if exact > ours else polled
        if time.monotonic() > deadline:
            proc.kill()
            raise SystemExit(f"{proc.args!r} took longer than {timeout:.0f} s")
        time.sleep(0.02)


def _last_json(log: Path) -> dict[str, Any]:
    lines = log.read_text("utf-8").strip().splitlines()
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def child(phase: str, work: Path, args: argparse.Namespace, profile: bool = False) -> list[str]:
    argv = [sys.executable, str(Path(__file__).resolve()), "--phase", phase, "--work", str(work),
            "--articles", str(args.articles)]
    return argv + (["--profile"] if profile else [])


def prepare_hexo(site: Path, search: bool = False) -> None:
    """A Hexo site folder using the cached Hexo install (``hexo init`` clones from GitHub);
    ``search``: with hexo-generator-searchdb, configured as its README says."""
    sys.path.insert(0, str(REPO / "tests"))
    import hexo_harness

    extra = hexo_harness.SEARCH_PLUGIN if search else {}
    install = hexo_harness.install_hexo(extra)
    (site / "source").mkdir(parents=True, exist_ok=True)
    version = json.loads((install / "node_modules" / "hexo" / "package.json").read_text())
    package = {"private": True, "hexo": {"version": version["version"]},
               "dependencies": {**hexo_harness.DEPENDENCIES, **extra}}
    (site / "package.json").write_text(json.dumps(package, indent=2))
    config = hexo_harness.CONFIG + (hexo_harness.SEARCH_CONFIG if search else "")
    (site / "_config.yml").write_text(config)
    (site / "node_modules").symlink_to(install / "node_modules", target_is_directory=True)


def run_site_phases(work: Path, args: argparse.Namespace) -> dict[str, Measured]:
    out: dict[str, Measured] = {}
    out["setup"] = spawn("setup", child("setup", work, args), work)
    plain = work / "no-search"
    shutil.copytree(work, plain, ignore=shutil.ignore_patterns("*.log"))
    if args.profile:
        spawn("site profile", child("site", plain, args, True), plain, env=NO_PAGEFIND)
        print((plain / "site-profile.err").read_text("utf-8"))
        shutil.rmtree(plain / "site")
    out["full"] = spawn("site full", child("site", work, args), work)
    out["again"] = spawn("site no change", child("site", work, args), work)
    out["add"] = spawn("site incremental", child("add", work, args), work)
    return out


Round = tuple[Measured, Measured | None]


def run_like_for_like(work: Path, args: argparse.Namespace) -> list[Round]:
    """Rounds of (the site without search, ``hexo generate``), interleaved, each into an empty
    folder of its own: the two sides meet the same load and the same file system (a folder
    deleted just before makes creating files slower, so nothing is deleted between rounds)."""
    plain = work / "no-search"
    hexo_site = plain / "hexo-site"
    if not args.no_hexo:
        prepare_hexo(hexo_site)
        spawn("hexo posts", child("hexo-posts", plain, args), plain)
    rounds: list[Round] = []
    for number in range(1, args.rounds + 1):
        folder = plain / f"round-{number}"
        folder.mkdir()
        shutil.copy2(plain / "rsspage.yml", folder)
        shutil.copytree(plain / "state", folder / "state")
        subprocess.run(["sync"], check=True)
        ours = spawn(f"site without search {number}", child("site", folder, args), folder,
                     env=NO_PAGEFIND)
        hexo = None
        if not args.no_hexo:
            hexo = spawn(f"hexo generate {number}",
                         [str(hexo_site / "node_modules/.bin/hexo"), "generate"], hexo_site,
                         env=HEXO_ENV)
            # Set aside (a rename, not a deletion): the next round starts from scratch.
            (hexo_site / "public").rename(plain / f"hexo-public-{number}")
            (hexo_site / "db.json").rename(plain / f"hexo-db-{number}.json")
        rounds.append((ours, hexo))
    return rounds


def run_hexo_search(work: Path) -> Measured:
    """Hexo with its most used search plugin, hexo-generator-searchdb, over the same posts:
    like for like with a site that has search."""
    plain = work / "no-search"
    searching = plain / "hexo-search"
    prepare_hexo(searching, search=True)
    shutil.copytree(plain / "hexo-site" / "source" / "_posts", searching / "source" / "_posts")
    measured = spawn("hexo generate + searchdb",
                     [str(searching / "node_modules/.bin/hexo"), "generate"], searching,
                     env=HEXO_ENV)
    xml = searching / "public" / "search.xml"
    measured.details["search_mb"] = xml.stat().st_size / 1e6
    return measured


def report(site: dict[str, Measured], rounds: list[Round], searchdb: Measured | None) -> bool:
    setup, full = site["setup"], site["full"]
    print(f"articles: {setup.details['stored']:,} in {len(channels())} channels "
          f"({setup.details['html_mb']:.1f} MB of sanitised HTML), +{NEW_ARTICLES} new; "
          f"site files: {full.details['files']:,}")
    print(f"{'phase':38s} {'wall s':>8s} {'peak MB':>8s}  notes")
    pairs = [m for pair in rounds for m in pair if m is not None]
    for m in [*site.values(), *pairs, *([searchdb] if searchdb else [])]:
        print(f"{m.label:38s} {m.seconds:8.2f} {m.peak_mb:8.0f}  {_notes(m)}")
    checks = [(f"incremental {site['add'].seconds:.2f} s < 5 % of full {full.seconds:.2f} s",
               site["add"].seconds < INCREMENTAL_TARGET * full.seconds)]
    ours = [m for m, _ in rounds]
    print(f"site without search: median {statistics.median(m.seconds for m in ours):.2f} s of "
          f"{len(ours)} rounds, peak {max(m.peak_mb for m in ours):.0f} MB")
    hexo = [(m, h) for m, h in rounds if h is not None]
    if hexo:
        # Like for like: Hexo's default build has no search. Each round's pair ran back to
        # back; the median of the pairs' ratios is judged.
        speed = statistics.median(h.seconds / m.seconds for m, h in hexo)
        memory = statistics.median(h.peak_mb / m.peak_mb for m, h in hexo)
        each = ", ".join(f"{h.seconds / m.seconds:.1f}x" for m, h in hexo)
        print(f"without search on both sides, median of {len(hexo)} interleaved pairs: "
              f"{speed:.1f}x faster ({each}), {memory:.1f}x less peak memory (rsspage's peak "
              "+ its workers' own)")
        if SAMPLE_PSS:
            pss = statistics.median(h.details["tree_pss_mb"] / m.details["tree_pss_mb"]
                                    for m, h in hexo)
            print(f"  by the process trees' largest Pss, sampled every 20 ms: {pss:.1f}x less ("
                  + ", ".join(f"{m.details['tree_pss_mb']:.0f} against "
                              f"{h.details['tree_pss_mb']:.0f} MB" for m, h in hexo)
                  + "; the sampling slows both: times of this run are not comparable)")
        print(f"with our search against Hexo without: "
              f"{statistics.median(h.seconds for _, h in hexo) / full.seconds:.1f}x faster")
        if searchdb is not None:
            print(f"with search on both sides: site {full.seconds:.1f} s / {full.peak_mb:.0f} "
                  f"MB, hexo generate + hexo-generator-searchdb {searchdb.seconds:.1f} s / "
                  f"{searchdb.peak_mb:.0f} MB (search.xml {searchdb.details['search_mb']:.0f} "
                  f"MB, loaded whole by the browser): {searchdb.seconds / full.seconds:.1f}x "
                  f"faster, {searchdb.peak_mb / full.peak_mb:.1f}x less peak memory")
        checks += [(f"full build without search {speed:.1f}x faster than Hexo "
                    f"(>= {SPEED_TARGET:.0f}x)", speed >= SPEED_TARGET),
                   (f"peak memory 1/{memory:.1f} of Hexo's (< 1/{MEMORY_TARGET:.0f})",
                    memory > MEMORY_TARGET)]
    for text, ok in checks:
        print(f"target: {text}: {'met' if ok else 'MISSED'}")
    return all(ok for _, ok in checks)


def _notes(m: Measured) -> str:
    d = m.details
    if "search" in d:
        memory = f"rsspage {d['py_mb']:.0f} MB"
        if d.get("workers_mb"):
            memory += (f" + {len(d['workers_mb'])} render workers' own "
                       + " + ".join(f"{mb:.0f}" for mb in d["workers_mb"])
                       + " MB (private pages; their peak RSS, with the pages they share "
                       f"with the build's process: {max(d['workers_rss_mb']):.0f} MB)")
        if "pagefind_mb" in d:
            peaks = " + ".join(f"{mb:.0f}" for mb in d["pagefind_mb"])
            memory += (f" + pagefind {peaks} MB (sampled together "
                       f"{d['tree_sampled_mb']:.0f}; ru_maxrss said "
                       f"{d['children_ru_maxrss_mb']:.0f})")
        return (f"publish_site {d['publish']:.2f} s (search index {d['search']:.2f} s); "
                f"{memory}; files written {d['written']:,}, unchanged {d['unchanged']:,}"
                + (f"; rendered by {d['workers']} worker processes" if d.get("workers") else ""))
    if "publish" in d:
        return f"publish_hexo {d['publish']:.2f} s, {d['written']:,} posts"
    return ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--articles", type=int, default=20_000)
    parser.add_argument("--no-hexo", action="store_true", help="skip Hexo and its targets")
    parser.add_argument("--hexo-search", action="store_true",
                        help="also build the Hexo site with hexo-generator-searchdb")
    parser.add_argument("--profile", action="store_true",
                        help="print a profile of the site build without search (stderr)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="interleaved rounds of the site without search and hexo generate")
    parser.add_argument("--pss", action="store_true",
                        help="also sample each process tree's Pss (slows what it measures)")
    parser.add_argument("--work", help="work folder (default: a temporary one, removed after)")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        return run_phase(args)
    global SAMPLE_PSS
    SAMPLE_PSS = args.pss
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="rsspage-bench-site-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    try:
        site = run_site_phases(work, args)
        rounds = run_like_for_like(work, args)
        searchdb = run_hexo_search(work) if args.hexo_search and not args.no_hexo else None
        print(f"load average after: {os.getloadavg()[0]:.1f} (other work on the machine "
              "slows file creation and Pagefind most)")
        return 0 if report(site, rounds, searchdb) else 1
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
