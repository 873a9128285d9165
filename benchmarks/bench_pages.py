"""Benchmark: how many bytes each kind of page of the built-in site takes (issue 10).

Method (``.venv/bin/python benchmarks/bench_pages.py``; ``--articles 20000`` for the issue's
size; ``--src DIR`` once per source tree to compare, e.g. an older commit exported with ``git
archive``; ``--no-search`` leaves Pagefind's index out):

1. *setup* — the archive of ``bench_site.py`` (N generated articles, default 2,000, 30 channels,
   ~3.5 KB of RSSHub-like HTML each) stored once in a real SQLite store, by a child process.
2. *build* — for each source tree, a child process (``PYTHONPATH`` = the tree) runs
   ``publish_site`` on a copy of that store into an empty folder: pages, feeds, sitemap and,
   unless ``--no-search``, the Pagefind index.
3. *measure* — this process reads every file of each site. Pages by kind: *article*
   (``a/*/*.html``), *listing: home* (``index.html``, ``page/*.html``), *listing: channel* (the
   ``index.html`` and ``page/*.html`` of the channel with the most pages), *listing: all* (home,
   every category, source and channel), *day* (``archive/<day>.html``). For each kind: pages,
   mean and median bytes, the mean of what the host stores (a tar entry: a 512-byte header and
   the data padded to 512 bytes, as GitHub Pages counts), and where the bytes of a page go.

Where the bytes go: each page is cut into its HTML tokens (``html.parser``, the source span of
every tag, text run and character reference) and each token counted in one part:

- *own* content: *body*, the article's content (the inside of ``<div class="content">``, feed
  markup and all), and *text*, the text shown in ``<main>`` (titles, summaries, names, dates,
  the few labels around them);
- chrome: *head* (``<head>`` and what precedes it), *header* (the site's bar), *footer*;
  in ``<main>``, *links* (the values of ``href``/``src`` attributes of the template's tags),
  *markup* (the rest of those tags: names, classes, other attributes), *icons* (inline
  ``<svg>``), and *space*: text that is only white space, anywhere outside the body (newlines
  and indentation the templates leave between tags).

The site: files and bytes by folder (pages, ``feeds/``, ``pagefind/``, ``static/``, rsspage's
own ``.rsspage-*.json``), bytes per article of the whole site and how many articles fit in 1 GB
(10^9 bytes, counted as files and as the tar that GitHub Pages receives); beside it the same
without ``feeds/`` and ``static/``, which do not grow with the archive (a feed holds its 50
newest items), so at a year's size (730,000 articles) this is the figure that counts. With
several trees, a last table compares each kind's mean with the first tree's. No target: exit
status 0 unless a build fails.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from bench_site import NOW, START, STORED, corpus, store_articles, write_config
from rsspage.publish.site_size import tar_entry
from rsspage.store import Store

REPO = Path(__file__).resolve().parents[1]
GB = 10**9
#: The parts of a page, in the order they are printed; the first two are the article's own.
PARTS = ("body", "text", "head", "header", "footer", "links", "markup", "icons", "space")
OWN = ("body", "text")
_URL_ATTR = re.compile(r"""\s(?:href|src|action)=("[^"]*"|'[^']*'|[^\s>]+)""", re.IGNORECASE)


# -- the children -------------------------------------------------------------------------------


def child_setup(folder: Path, articles: int) -> dict[str, Any]:
    config = write_config(folder)
    with Store.open(config.output.state) as store:
        return {"stored": store_articles(store, corpus(articles, 0, START), STORED)}


def child_build(folder: Path) -> dict[str, Any]:
    from rsspage.publish.outputs import publish_site  # from the tree under test

    config = write_config(folder)
    with Store.open(config.output.state) as store:
        stats = publish_site(config, store, NOW)
    return {"written": stats.written}


def run_child(args: argparse.Namespace) -> int:
    folder = Path(args.work)
    result = child_setup(folder, args.articles) if args.phase == "setup" else child_build(folder)
    print(json.dumps(result))
    return 0


def spawn(phase: str, folder: Path, src: Path, articles: int, search: bool) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join((str(src), str(REPO / "benchmarks")))}
    if not search:
        env["PAGEFIND_BINARY_PATH"] = str(folder / "no-pagefind")
    argv = [sys.executable, __file__, "--child", "--phase", phase, "--work", str(folder),
            "--articles", str(articles)]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{phase} with {src} failed:\n{done.stdout}{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


# -- where the bytes of a page go ---------------------------------------------------------------


class _Cutter(HTMLParser):
    """Every token of a page: where it starts (line, column), kind, tag, raw start tag and its
    class attribute, in document order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.tokens: list[tuple[tuple[int, int], str, str, str, str]] = []

    def _add(self, kind: str, tag: str = "", raw: str = "",
             attrs: list[tuple[str, str | None]] | None = None) -> None:
        classes = next((v or "" for k, v in attrs or () if k == "class"), "")
        self.tokens.append((self.getpos(), kind, tag, raw, classes))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._add("start", tag, self.get_starttag_text() or "", attrs)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._add("empty", tag, self.get_starttag_text() or "", attrs)

    def handle_endtag(self, tag: str) -> None:
        self._add("end", tag)

    def handle_data(self, data: str) -> None:
        self._add("data", raw=data)

    def handle_entityref(self, name: str) -> None:
        self._add("ref")

    def handle_charref(self, name: str) -> None:
        self._add("ref")

    def handle_comment(self, data: str) -> None:
        self._add("other")

    def handle_decl(self, decl: str) -> None:
        self._add("other")


def page_parts(html: str) -> Counter[str]:
    """Bytes of ``html`` by part (:data:`PARTS`)."""
    cutter = _Cutter()
    cutter.feed(html)
    cutter.close()
    starts = [0] + [m.end() for m in re.finditer("\n", html)]  # getpos() counts "\n" only
    offsets = [starts[line - 1] + col for (line, col), *_ in cutter.tokens] + [len(html)]
    parts: Counter[str] = Counter()
    region, body_depth, svg_depth = "head", 0, 0
    for i, (_, kind, tag, raw, classes) in enumerate(cutter.tokens):
        span = html[offsets[i]:offsets[i + 1]]
        size = len(span.encode("utf-8"))
        if kind == "start" and tag == "body":
            region = "header"
        elif kind == "start" and tag == "main":
            region = "main"
        elif kind == "end" and tag == "main":
            region = "footer"
        if body_depth:  # inside the article's content: its own, whatever it is
            if tag == "div" and kind in ("start", "end"):
                body_depth += 1 if kind == "start" else -1
            if body_depth:
                parts["body"] += size
                continue
        if kind == "data" and not span.strip():
            parts["space"] += size
        elif region != "main":
            parts[region] += size
        elif svg_depth or (kind == "start" and tag == "svg"):
            parts["icons"] += size
            if tag == "svg" and kind in ("start", "end"):
                svg_depth += 1 if kind == "start" else -1
        elif kind in ("data", "ref"):
            parts["text"] += size
        elif kind in ("start", "empty"):
            links = sum(len(m.group(1).encode("utf-8")) for m in _URL_ATTR.finditer(raw))
            parts["links"] += links
            parts["markup"] += size - links
            if tag == "div" and "content" in classes.split() and kind == "start":
                body_depth = 1
        else:
            parts["markup"] += size
    assert sum(parts.values()) == len(html.encode("utf-8"))
    return parts


# -- the site ----------------------------------------------------------------------------------


@dataclass
class Kind:
    """The pages of one kind and what they hold."""

    name: str
    sizes: list[int] = field(default_factory=list)
    tar: list[int] = field(default_factory=list)
    parts: Counter[str] = field(default_factory=Counter)

    def add(self, rel: str, data: bytes) -> None:
        self.sizes.append(len(data))
        self.tar.append(tar_entry(rel, len(data)))
        self.parts.update(page_parts(data.decode("utf-8")))

    @property
    def mean(self) -> float:
        return statistics.fmean(self.sizes) if self.sizes else 0.0


@dataclass
class Site:
    articles: int
    kinds: dict[str, Kind]
    #: folder group → [files, bytes, tar bytes]
    groups: dict[str, list[int]]
    channel: str

    @property
    def files(self) -> int:
        return sum(g[0] for g in self.groups.values())

    def total(self, index: int, *, growing: bool = False) -> int:
        fixed = ("feeds/", "static/")
        return sum(g[index] for name, g in self.groups.items() if not growing or name not in fixed)


def _group(rel: str) -> str:
    top = rel.split("/", 1)[0]
    if rel.startswith(".rsspage"):
        return ".rsspage-*"
    if top in ("a", "c", "page", "archive") or rel == "index.html":
        return {"a": "article pages", "archive": "day pages"}.get(top, "listing pages")
    if "/" in rel:
        return top + "/"
    return "other"


def _busiest_channel(root: Path) -> str:
    """The channel folder (``c/<cat>/<source>/<channel>/``) with the most listing pages."""
    counts = {}
    for index in (root / "c").glob("*/*/*/index.html"):
        folder = index.parent
        counts[folder.relative_to(root).as_posix() + "/"] = 1 + len(list(
            (folder / "page").glob("*.html")))
    return min(counts, key=lambda f: (-counts[f], f))


def measure(root: Path, articles: int) -> Site:
    channel = _busiest_channel(root)
    kinds = {name: Kind(name) for name in (
        "article", "listing: home", "listing: channel", "listing: all", "day")}
    groups: dict[str, list[int]] = {}
    for folder, _, names in os.walk(root):
        rel_folder = Path(folder).relative_to(root).as_posix()
        prefix = "" if rel_folder == "." else rel_folder + "/"
        if prefix:
            row = groups.setdefault(_group(prefix), [0, 0, 0])
            row[2] += tar_entry(prefix, 0)
        for name in names:
            rel = prefix + name
            data = (Path(folder) / name).read_bytes()
            row = groups.setdefault(_group(rel), [0, 0, 0])
            row[0] += 1
            row[1] += len(data)
            row[2] += tar_entry(rel, len(data))
            for kind in _kinds_of(rel, channel):
                kinds[kind].add(rel, data)
    return Site(articles, kinds, groups, channel)


def _kinds_of(rel: str, channel: str) -> list[str]:
    if not rel.endswith(".html"):
        return []
    listing = rel.endswith("/index.html") or "/page/" in rel
    if rel.startswith("a/"):
        return ["article"]
    if rel.startswith("archive/"):
        return [] if rel == "archive/index.html" else ["day"]
    if rel == "index.html" or rel.startswith("page/"):
        return ["listing: home", "listing: all"]
    if rel.startswith("c/") and listing and rel != "c/index.html":
        here = rel.rsplit("/page/", 1)[0] + "/" if "/page/" in rel else rel[:-len("index.html")]
        return ["listing: channel", "listing: all"] if here == channel else ["listing: all"]
    return []


# -- the report --------------------------------------------------------------------------------


def report(src: Path, site: Site) -> None:
    print(f"{src}: {site.articles:,} articles; busiest channel {site.channel}")
    head = "".join(f"{p:>7}" for p in PARTS)
    print(f"  {'pages':<17}{'count':>7}{'mean':>8}{'median':>8}{'tar':>8}{'own':>6} | mean "
          f"bytes per page:{head}")
    for kind in site.kinds.values():
        if not kind.sizes:
            continue
        n = len(kind.sizes)
        own = sum(kind.parts[p] for p in OWN) / sum(kind.parts.values())
        cells = "".join(f"{kind.parts[p] / n:7.0f}" for p in PARTS)
        print(f"  {kind.name:<17}{n:>7,}{kind.mean:>8,.0f}{statistics.median(kind.sizes):>8,.0f}"
              f"{statistics.fmean(kind.tar):>8,.0f}{own:>6.0%} |{' ' * 20}{cells}")
    files, size, tar = site.files, site.total(1), site.total(2)
    print(f"  site: {files:,} files, {size / 1e6:,.1f} MB ({tar / 1e6:,.1f} MB as a tar)")
    for name, (count, data, tar_data) in sorted(site.groups.items(), key=lambda g: -g[1][1]):
        print(f"    {name:<15}{count:>7,} files {data / 1e6:8.2f} MB {data / size:6.1%}"
              f"  tar {tar_data / 1e6:8.2f} MB")
    for label, growing in (("whole site", False), ("without feeds/, static/", True)):
        per = site.total(1, growing=growing) / site.articles
        per_tar = site.total(2, growing=growing) / site.articles
        print(f"  {label}: {per:,.0f} bytes per article ({per_tar:,.0f} as a tar); articles per "
              f"GB: {GB / per:,.0f} ({GB / per_tar:,.0f} as a tar)")


def compare(sites: dict[Path, Site]) -> None:
    trees = list(sites)
    first = sites[trees[0]]
    print(f"compared with {trees[0]}:")
    for tree in trees[1:]:
        site = sites[tree]
        print(f"  {tree}")
        for name, kind in site.kinds.items():
            old = first.kinds[name]
            if kind.sizes and old.sizes:
                print(f"    {name:<17} mean {old.mean:8,.0f} -> {kind.mean:8,.0f} B "
                      f"{kind.mean / old.mean - 1:+7.1%}   median "
                      f"{statistics.median(old.sizes):8,.0f} -> "
                      f"{statistics.median(kind.sizes):8,.0f} B")
        for label, index in (("site bytes", 1), ("site tar", 2)):
            old_total, new_total = first.total(index), site.total(index)
            print(f"    {label:<17} {old_total / 1e6:8.2f} -> {new_total / 1e6:8.2f} MB "
                  f"{new_total / old_total - 1:+7.1%}")
        for label, growing in (("whole site", False), ("without feeds/", True)):
            old_per = first.total(1, growing=growing) / first.articles
            new_per = site.total(1, growing=growing) / site.articles
            print(f"    articles per GB, {label}: {GB / old_per:,.0f} -> {GB / new_per:,.0f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--articles", type=int, default=2_000)
    parser.add_argument("--src", type=Path, action="append",
                        help="a source tree to measure (repeatable; default: this repo's src)")
    parser.add_argument("--no-search", action="store_true", help="leave Pagefind's index out")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return run_child(args)
    trees = [s.resolve() for s in args.src or [REPO / "src"]]
    search = not args.no_search
    sites: dict[Path, Site] = {}
    with tempfile.TemporaryDirectory(prefix="bench-pages-") as tmp:
        base = Path(tmp) / "base"
        base.mkdir()
        stored = spawn("setup", base, trees[0], args.articles, search)["stored"]
        print(f"setup: {stored:,} articles; search index {'built' if search else 'left out'}")
        for tree in trees:
            work = Path(tmp) / "work"
            shutil.rmtree(work, ignore_errors=True)
            shutil.copytree(base, work)
            spawn("build", work, tree, args.articles, search)
            sites[tree] = measure(work / "site", stored)
            report(tree, sites[tree])
    if len(trees) > 1:
        compare(sites)
    return 0


if __name__ == "__main__":
    sys.exit(main())
