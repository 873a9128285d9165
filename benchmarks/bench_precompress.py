"""Benchmark: precompressed copies (``site.precompress``, issue 10): what writing them costs,
and what removing them costs.

Method (``.venv/bin/python benchmarks/bench_precompress.py``; ``--articles 2000`` for a quick
run; ``--src DIR`` again for each other source tree to compare, e.g. an older commit exported
with ``git archive``). Needs the ``brotli`` package (``both`` writes ``.br`` copies).

1. *setup* — the archive of ``bench_site.py`` (N generated articles, default 20,000, 30
   channels) stored once in a real SQLite store.
2. Each round copies that state into two lanes per source tree and runs, phase by phase, each
   phase for every tree in turn (interleaved: a busy moment of the machine or of its disk hits
   every tree alike), ``publish_site`` without search (``PAGEFIND_BINARY_PATH`` points nowhere:
   Pagefind's bundles get a few dozen copies, and indexing would dwarf everything else):

   - lane *plain* (``site.precompress: false`` throughout): *full build* into an empty folder;
     *+10 articles*: ten new articles stored (by a child of their own, not timed), then a build.
   - lane *copies*: the same two builds with ``both`` (``.gz`` and ``.br`` of every text file);
     then *drop brotli*, a build with ``gzip`` (every ``.br`` copy removed); then *turn off*, a
     build with ``false`` (every ``.gz`` copy removed) whose site writer is a
     ``PrecompressingWriter`` without encodings. (``rebuild.writer_for`` makes a plain
     ``OutputWriter`` when precompress is off, which removes the copies by the writer's own path
     one at a time: the *turn off* row of a tree before this work is that cost.)

Every phase runs in its own child process (``PYTHONPATH`` = the source tree), which flushes the
previous phase's writes (``os.sync``, not timed) and reports the seconds of ``publish_site``, of
which the seconds in ``OutputWriter.finish`` (where stale files are removed), the files written
and removed, and the site's bytes and files after it. The table shows each tree's medians over
the rounds (each round's seconds in brackets) and, for each further tree, the median of its
per-round ratios to the first tree.
The cost of the copies is the *copies* lane less the *plain* lane of the same round.

Target (this repository's ``src`` only, when no ``--src`` is given): removing every copy of
one encoding (*drop brotli*, *turn off*) takes under a quarter of the *full build* that wrote
them, median of the rounds' shares. Meant for the default 20,000 articles: at 2,000 the fixed
cost of a build (~1 s) is a third of a full one. Exit status 1 when it is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench_site import NEW_ARTICLES, NOW, START, STORED, channels, corpus, store_articles

REPO = Path(__file__).resolve().parents[1]
#: lane → its phases, in order: (name, site.precompress).
LANES: dict[str, tuple[tuple[str, str], ...]] = {
    "plain": (("full build", "false"), ("+10 articles", "false")),
    "copies": (("full build", "both"), ("+10 articles", "both"), ("drop brotli", "gzip"),
               ("turn off", "false")),
}
#: Phases that remove copies: at most this share of the lane's full build.
REMOVAL_TARGET = 0.25


# -- the children -------------------------------------------------------------------------------


def config_text(precompress: str) -> str:
    feeds = "".join(
        f"  - {{url: '{c.spec.key}', category: {c.spec.category}, source: '{c.spec.source}', "
        f"channel: {c.spec.channel}}}\n" for c in channels()
    )
    return ("site: {title: 新闻聚合, url: 'https://news.example.cn/', language: zh-CN, "
            f"timezone: Asia/Shanghai, precompress: {precompress}}}\n"
            f"feeds:\n{feeds}"
            "output: {state: state, site: site}\n")


def load_config(folder: Path, precompress: str) -> Any:
    from rsspage.config import parse_config  # from the tree under test

    path = folder / "rsspage.yml"
    text = config_text(precompress)
    path.write_text(text, encoding="utf-8")
    return parse_config(text, path)


def child_setup(folder: Path, articles: int) -> dict[str, Any]:
    from rsspage.store import Store

    config = load_config(folder, "false")
    with Store.open(config.output.state) as store:
        return {"stored": store_articles(store, corpus(articles, 0, START), STORED)}


def child_add(folder: Path) -> dict[str, Any]:
    from rsspage.store import Store

    config = load_config(folder, "false")
    with Store.open(config.output.state) as store:
        return {"stored": store_articles(store, corpus(NEW_ARTICLES, 10**6, NOW), NOW)}


def child_build(folder: Path, precompress: str, copies_writer: bool) -> dict[str, Any]:
    from rsspage.publish import precompress as precompress_module
    from rsspage.publish import rebuild, site_output
    from rsspage.publish.writer import OutputWriter
    from rsspage.store import Store

    config = load_config(folder, precompress)
    if precompress_module.usable(config.site.precompress)[1]:
        raise SystemExit("this benchmark needs the brotli package (pip install brotli)")
    if copies_writer:  # the site's writer removes copies as PrecompressingWriter does
        plain = rebuild.writer_for

        def writer(config: Any, output: str, root: Path) -> OutputWriter:
            if output != "site" or config.site.precompress:
                return plain(config, output, root)
            return precompress_module.PrecompressingWriter(root, ())

        rebuild.writer_for = writer
    in_finish = [0.0]
    finish = OutputWriter.finish

    def timed_finish(self: OutputWriter, *args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return finish(self, *args, **kwargs)
        finally:
            in_finish[0] += time.perf_counter() - began

    OutputWriter.finish = timed_finish  # type: ignore[method-assign]
    os.sync()  # the last phase's files reach the disk now, not while this one is timed
    with Store.open(config.output.state) as store:
        began = time.perf_counter()
        cpu = time.process_time()
        stats = site_output.publish_site(config, store, NOW)
        seconds = time.perf_counter() - began
        cpu = time.process_time() - cpu
    size = files = 0
    for top, _, names in os.walk(folder / "site"):
        for name in names:
            size += os.lstat(os.path.join(top, name)).st_size
            files += 1
    return {"seconds": seconds, "cpu": cpu, "finish": in_finish[0], "written": stats.written,
            "removed": stats.removed, "site_mb": size / 1e6, "files": files}


def run_child(args: argparse.Namespace) -> int:
    folder = Path(args.work)
    phases: dict[str, Callable[[], dict[str, Any]]] = {
        "setup": lambda: child_setup(folder, args.articles),
        "add": lambda: child_add(folder),
        "build": lambda: child_build(folder, args.precompress, args.copies_writer),
    }
    print(json.dumps(phases[args.phase]()))
    return 0


# -- the parent ---------------------------------------------------------------------------------


def spawn(phase: str, folder: Path, src: Path, args: argparse.Namespace,
          *extra: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join((str(src), str(REPO / "benchmarks"))),
           "PAGEFIND_BINARY_PATH": str(folder / "no-pagefind")}
    argv = [sys.executable, __file__, "--child", "--phase", phase, "--work", str(folder),
            "--articles", str(args.articles), *extra]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{phase} with {src} failed:\n{done.stdout}{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


def one_round(base: Path, work: Path, trees: list[Path], args: argparse.Namespace,
              ) -> dict[tuple[Path, str, str], dict[str, Any]]:
    """(tree, lane, phase) → what the phase's child reported."""
    shutil.rmtree(work, ignore_errors=True)
    folders = {}
    for t, tree in enumerate(trees):
        for lane in LANES:
            folders[tree, lane] = work / f"{t}-{lane}"
            shutil.copytree(base, folders[tree, lane])
    results = {}
    for lane, phases in LANES.items():
        for phase, precompress in phases:
            for tree in trees:
                folder = folders[tree, lane]
                if phase == "+10 articles":
                    spawn("add", folder, tree, args)
                extra = ["--precompress", precompress]
                if phase == "turn off":
                    extra.append("--copies-writer")
                results[tree, lane, phase] = spawn("build", folder, tree, args, *extra)
    shutil.rmtree(work, ignore_errors=True)
    return results


def report(trees: list[Path], rounds: list[dict[tuple[Path, str, str], dict[str, Any]]],
           ) -> list[str]:
    """Print the medians; the targets the current tree missed."""
    missed = []
    for lane, phases in LANES.items():
        print(f"lane {lane}:")
        for phase, precompress in phases:
            for i, tree in enumerate(trees):
                runs = [r[tree, lane, phase] for r in rounds]
                seconds = statistics.median(r["seconds"] for r in runs)
                each = " ".join(f"{r['seconds']:.1f}" for r in runs)
                line = (f"  {phase:<12} {precompress:<5} {tree}: {seconds:6.2f} s [{each}] "
                        f"(finish {statistics.median(r['finish'] for r in runs):6.2f} s, "
                        f"CPU {statistics.median(r['cpu'] for r in runs):6.2f} s)  "
                        f"written {runs[-1]['written']:>6,}  removed {runs[-1]['removed']:>6,}  "
                        f"site {runs[-1]['site_mb']:6.1f} MB in {runs[-1]['files']:,} files")
                if i:
                    ratio = statistics.median(r[tree, lane, phase]["seconds"]
                                              / r[trees[0], lane, phase]["seconds"]
                                              for r in rounds)
                    line += f"  ×{ratio:.2f} of the first"
                print(line)
                if tree == (REPO / "src").resolve() and phase in ("drop brotli", "turn off"):
                    share = statistics.median(r[tree, lane, phase]["seconds"]
                                              / r[tree, lane, "full build"]["seconds"]
                                              for r in rounds)
                    if share >= REMOVAL_TARGET:
                        missed.append(f"{phase}: {share:.0%} of the full build, target "
                                      f"< {REMOVAL_TARGET:.0%}")
    print("cost of the copies (lane copies less lane plain, median of the rounds):")
    for tree in trees:
        for phase in ("full build", "+10 articles"):
            extra = [r[tree, "copies", phase]["seconds"] - r[tree, "plain", phase]["seconds"]
                     for r in rounds]
            share = [r[tree, "copies", phase]["seconds"] / r[tree, "plain", phase]["seconds"] - 1
                     for r in rounds]
            print(f"  {phase:<12} {tree}: {statistics.median(extra):+.2f} s "
                  f"({statistics.median(share):+.0%})")
    return missed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--articles", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--src", type=Path, action="append",
                        help="a source tree to measure (repeatable; default: this repo's src)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    parser.add_argument("--precompress", help=argparse.SUPPRESS)
    parser.add_argument("--copies-writer", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return run_child(args)
    trees = [s.resolve() for s in args.src or [REPO / "src"]]
    with tempfile.TemporaryDirectory(prefix="bench-precompress-") as tmp:
        base = Path(tmp) / "base"
        base.mkdir()
        stored = spawn("setup", base, trees[0], args)["stored"]
        load = os.getloadavg()[0]
        print(f"setup: {stored:,} articles; {args.rounds} rounds, interleaved phase by phase; "
              f"load average {load:.1f}, {os.cpu_count()} CPUs")
        rounds = [one_round(base, Path(tmp) / "work", trees, args) for _ in range(args.rounds)]
        print(f"load average after: {os.getloadavg()[0]:.1f}")
        missed = report(trees, rounds)
    for line in missed:
        print(f"MISSED {line}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
