"""Benchmark: Hexo posts cost what changed (issue 10).

Method (``.venv/bin/python benchmarks/bench_hexo.py``; ``--articles 2000`` for a quick run;
``--src DIR`` again for each other source tree to compare, e.g. an older commit exported with
``git archive``):

1. *setup* — the archive of ``bench_site.py`` (N generated articles, default 20,000, 30
   channels, ~3.5 KB of RSSHub-like HTML each) stored once in a real SQLite store.
2. Each round copies that state and, for each source tree in turn (interleaved, so that a busy
   moment of the machine hits every tree alike), runs ``publish_hexo_posts`` in phases:
   *full build* into an empty folder; *no change*, the same build again; *+10 articles*, ten
   new articles stored (by a child of their own, not measured) then a build; *touched*, every
   post's mtime changed (as after a fresh ``git clone`` of the posts: their content is checked
   by hashing) then a build.

Every phase runs in its own child process (``PYTHONPATH`` = the source tree), which flushes
the previous phase's writes (``os.sync``, not timed) and reports the seconds spent in
``publish_hexo_posts``, what it did and its own peak RSS. The table shows the medians over the
rounds, and each rebuild's median share of the full build of its round.

Targets (the current tree only): a rebuild renders only what changed (no change: no post; +10
articles: 10; touched: none) and takes less than a quarter of a full build. (Issue 10's
absolute targets, a no-change rebuild under 0.5 s, are for the whole build in bench_site.py.)
Exit status 1 when one is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench_site import NEW_ARTICLES, NOW, START, corpus, store_articles, write_config
from rsspage.store import Store

REPO = Path(__file__).resolve().parents[1]
PHASES = ("full build", "no change", "+10 articles", "touched")
#: phase → (posts it must render, at most this share of the full build's time).
TARGETS = {"no change": (0, 0.25), "+10 articles": (NEW_ARTICLES, 0.25), "touched": (0, 1.0)}


# -- the children -------------------------------------------------------------------------------


def child_setup(folder: Path, articles: int) -> dict[str, Any]:
    config = write_config(folder)
    with Store.open(config.output.state) as store:
        return {"stored": store_articles(store, corpus(articles, 0, START), NOW)}


def child_add(folder: Path) -> dict[str, Any]:
    config = write_config(folder)
    with Store.open(config.output.state) as store:
        return {"stored": store_articles(store, corpus(NEW_ARTICLES, 10**6, NOW), NOW)}


def child_build(folder: Path) -> dict[str, Any]:
    from rsspage.publish.outputs import publish_hexo_posts  # from the tree under test

    config = write_config(folder)
    os.sync()  # the last phase's files reach the disk now, not while this one is timed
    with Store.open(config.output.state) as store:
        began = time.perf_counter()
        stats = publish_hexo_posts(config, store)
        seconds = time.perf_counter() - began
    kept = getattr(stats, "kept", 0)  # older trees render every post and have no such count
    return {"seconds": seconds, "written": stats.written, "removed": stats.removed,
            "rendered": stats.written + stats.unchanged - kept}


def peak_rss_mb() -> float:
    """This process's own peak RSS: VmHWM, since ru_maxrss also counts the memory of the
    process it was forked from before exec."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux


def run_child(args: argparse.Namespace) -> int:
    folder = Path(args.work)
    phases: dict[str, Callable[[], dict[str, Any]]] = {
        "setup": lambda: child_setup(folder, args.articles),
        "add": lambda: child_add(folder),
        "build": lambda: child_build(folder),
    }
    result = phases[args.phase]()
    result["rss_mb"] = peak_rss_mb()
    print(json.dumps(result))
    return 0


# -- the parent ---------------------------------------------------------------------------------


def spawn(phase: str, folder: Path, src: Path, articles: int) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join((str(src), str(REPO / "benchmarks")))}
    argv = [sys.executable, __file__, "--child", "--phase", phase, "--work", str(folder),
            "--articles", str(articles)]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{phase} with {src} failed:\n{done.stdout}{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


def one_round(base: Path, work: Path, src: Path, articles: int) -> dict[str, dict[str, Any]]:
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(base, work)
    results = {}
    for phase in PHASES:
        if phase == "+10 articles":  # stored by a child of its own: not in the build's peak
            spawn("add", work, src, articles)
        elif phase == "touched":
            touch_posts(work)
        results[phase] = spawn("build", work, src, articles)
    return results


def touch_posts(folder: Path) -> None:
    """A new mtime (and so ctime) for every post, as a fresh checkout of them would have."""
    posts = write_config(folder).output.hexo
    assert posts is not None
    later = time.time_ns() + 10**9
    for post in posts.rglob("*.md"):
        os.utime(post, ns=(later, later))


def report(src: Path, rounds: list[dict[str, dict[str, Any]]]) -> list[str]:
    """Print the medians of ``src``'s rounds; the targets it missed."""
    print(f"{src}: median of {len(rounds)} rounds")
    missed = []
    for phase in PHASES:
        runs = [r[phase] for r in rounds]
        seconds = statistics.median(r["seconds"] for r in runs)
        share = statistics.median(r[phase]["seconds"] / r["full build"]["seconds"] for r in rounds)
        rss = statistics.median(r["rss_mb"] for r in runs)
        rendered = sorted({r["rendered"] for r in runs})
        counts = "/".join(f"{n:,}" for n in rendered)
        print(f"  {phase:<13}: {seconds:6.2f} s {share:6.1%} of full  peak RSS {rss:4.0f} MB  "
              f"rendered {counts:>6}  written {runs[-1]['written']:,}")
        if phase in TARGETS:
            posts, most = TARGETS[phase]
            if rendered != [posts] or share >= most:
                missed.append(f"{src} {phase}: rendered {rendered}, {share:.1%} of a full build; "
                              f"target {posts} posts, < {most:.0%}")
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
    args = parser.parse_args()
    if args.child:
        return run_child(args)
    trees = [s.resolve() for s in args.src or [REPO / "src"]]
    with tempfile.TemporaryDirectory(prefix="bench-hexo-") as tmp:
        base = Path(tmp) / "base"
        base.mkdir()
        print(f"setup: {spawn('setup', base, trees[0], args.articles)['stored']:,} articles")
        results: dict[Path, list[dict[str, dict[str, Any]]]] = {t: [] for t in trees}
        for _ in range(args.rounds):
            for tree in trees:
                results[tree].append(one_round(base, Path(tmp) / "work", tree, args.articles))
        missed = [m for tree in trees for m in report(tree, results[tree])
                  if tree == (REPO / "src").resolve()]
    for line in missed:
        print(f"MISSED {line}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
