"""Benchmark: ``rsspage import-hexo`` of a tree of 15,000 posts of the system rsspage replaces.

Method (``.venv/bin/python benchmarks/bench_import_hexo.py``; ``--posts 2000`` for a quick run):
generates ``source/_posts/<category>/<source>/<channel>/<title>.md`` in the old tool's format
(front matter of DESIGN.md, RFC 1123 dates, a head image, ~3.5 KB of RSSHub-like news HTML from
``bench_parse``'s generator, a link to the original), a config following 30 of the channels
(the posts of the others go under feeds of their own), then runs the real CLI: an import into an
empty archive, then the same import again (must add nothing). Median of ``--rounds`` (default 3),
each round on a fresh state folder.

Target (issue 9): the import takes under 30 s here. Exit status 1 when it does not, or when the
second import adds anything.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

from bench_parse import PHRASES, article_html

TARGET_SECONDS = 30.0
CATEGORIES = ["新媒体", "科技", "财经", "社会", "国际", "体育"]


def generate(root: Path, posts: int) -> list[tuple[str, str, str]]:
    rng = random.Random(15000)
    channels = [(c, f"来源{s}", f"频道{k}") for c in CATEGORIES for s in range(4) for k in range(3)]
    start = datetime(2022, 7, 21, tzinfo=UTC)
    for n in range(posts):
        category, source, channel = channels[n % len(channels)]
        title = f"{rng.choice(PHRASES)}（{n}）"
        link = f"https://news.example.cn/{n}.html"
        image = f"https://img.example.cn/{n}.jpg"
        text = (f"---\ntitle: '{title}'\ncategories: \n - {category}\n - {source}\n - {channel}\n"
                f"headimg: '{image}'\nauthor: {source}\ncomments: false\n"
                f"date: {format_datetime(start - timedelta(minutes=7 * n), usegmt=True)}\n"
                f"thumbnail: '{image}'\n---\n\n<div>\n{article_html(rng, link)}\n</div>\n"
                f'<p class="rsspage-source"><a href="{link}" target="_blank">阅读原文</a></p>\n')
        folder = root / category / source / channel
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{title}.md").write_text(text, encoding="utf-8")
    return channels[:30]


def write_config(folder: Path, followed: list[tuple[str, str, str]]) -> Path:
    feeds = "".join(f"  - {{url: 'https://rsshub.example.cn/{i}', category: {c}, source: {s}, "
                    f"channel: {k}}}\n" for i, (c, s, k) in enumerate(followed))
    config = folder / "rsspage.yml"
    config.write_text(f"feeds:\n{feeds}output: {{state: state, site: null}}\n", encoding="utf-8")
    return config


def run(config: Path, posts: Path) -> tuple[float, str]:
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "rsspage.cli", "import-hexo", "-c", str(config),
                           str(posts)], capture_output=True, text=True,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})
    if proc.returncode != 0:
        raise SystemExit(f"import-hexo failed:\n{proc.stdout}{proc.stderr}")
    return time.perf_counter() - started, proc.stdout.splitlines()[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=15_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rsspage-bench-import-") as tmp:
        work = Path(tmp)
        posts = work / "source" / "_posts"
        followed = generate(posts, args.posts)
        size = sum(p.stat().st_size for p in posts.rglob("*.md"))
        config = write_config(work, followed)
        first: list[float] = []
        again: list[float] = []
        for _ in range(args.rounds):
            shutil.rmtree(work / "state", ignore_errors=True)
            seconds, said_first = run(config, posts)
            first.append(seconds)
            seconds, said_again = run(config, posts)
            again.append(seconds)
        print(f"{args.posts:,} posts, {size / 1e6:.1f} MB; median of {args.rounds} rounds "
              "(wall time of the CLI, start-up included)")
        rate = args.posts / statistics.median(first)
        print(f"import into an empty archive : {statistics.median(first):6.1f} s  "
              f"({rate:,.0f} posts/s)  target < {TARGET_SECONDS:g} s")
        print(f"the same import again        : {statistics.median(again):6.1f} s")
        print(f"  first:  {said_first}\n  again:  {said_again}")
        ok = statistics.median(first) < TARGET_SECONDS and " 0 new articles" in said_again
    print("target met" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
