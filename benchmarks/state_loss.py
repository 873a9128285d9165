"""The state-loss scenario of issue 8, with file counts: update, lose the state folder, update
again while the feeds move on, build.

Not a timed benchmark (``benchmarks/run`` runs only ``bench_*.py``): it shows what a version of
rsspage does when its state is lost. Run it against any checkout's sources::

    .venv/bin/python benchmarks/state_loss.py                  # this checkout
    .venv/bin/python benchmarks/state_loss.py --src OTHER/src  # e.g. a worktree of an old commit

10 feeds of 20 items are served on 127.0.0.1; after the loss each feed still lists 10 items the
lost archive knew and 10 new ones (300 distinct articles in all).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from servers import LocalServer, feed  # noqa: E402  (the tests' real local HTTP server)

BASE = 1_780_000_000
FEEDS = 10


def rss(feed_no: int, items: range) -> bytes:
    entries = "".join(
        f"<item><title>第{feed_no}源 文章{j}</title><link>http://example.com/{feed_no}/{j}</link>"
        f"<guid>g-{feed_no}-{j}</guid><pubDate>"
        f"{time.strftime('%a, %d %b %Y %H:%M:%S GMT', time.gmtime(BASE + j * 3600))}</pubDate>"
        f"<description>正文 {feed_no}-{j}</description></item>" for j in items)
    return ('<?xml version="1.0"?><rss version="2.0"><channel><title>源</title>'
            f"<link>http://e/</link><description>d</description>{entries}</channel></rss>").encode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=REPO / "src", help="rsspage sources to run")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(args.src.resolve())}

    def run(work: Path, *cli: str) -> str:
        proc = subprocess.run([sys.executable, "-m", "rsspage.cli", *cli], capture_output=True,
                              text=True, env=env)
        text = proc.stdout + proc.stderr
        said = [line.strip() for line in text.splitlines()
                if "refusing" in line or "younger" in line or "error" in line][:1]
        posts = len(list((work / "hexo").rglob("*.md")))
        pages = len(list((work / "site" / "a").rglob("*.html")))
        return f"exit {proc.returncode}, {posts} Hexo posts, {pages} site article pages " \
               f"{said[0][:150] if said else ''}"

    with tempfile.TemporaryDirectory() as tmp, LocalServer() as server:
        work = Path(tmp)
        for i in range(FEEDS):
            server.route(f"/f/{i}", feed(rss(i, range(0, 20))))
        config = work / "rsspage.yml"
        config.write_text(yaml.safe_dump({
            "feeds": [{"url": server.url(f"/f/{i}"), "category": "c", "source": f"s{i}",
                       "channel": "all"} for i in range(FEEDS)],
            "output": {"state": "state", "hexo": "hexo", "site": "site"}}), encoding="utf-8")
        print("update:                    ", run(work, "update", "-c", str(config)))
        shutil.rmtree(work / "state")
        for i in range(FEEDS):
            server.route(f"/f/{i}", feed(rss(i, range(10, 30))))
        print("state lost, then update:   ", run(work, "update", "-c", str(config)))
        print("build:                     ", run(work, "build", "-c", str(config)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
