"""Run a real Hexo 8 over a folder of posts and read back what it saw. Themes: landscape (Hexo's
default) or volantis (what users of the system rsspage replaces run).

Hexo is installed from the npm registry into a cached folder (``$RSSPAGE_TEST_CACHE`` or
``~/.cache/rsspage-tests``), once; later runs reuse its ``node_modules``. ``hexo init`` is not
used because it clones from GitHub. Each :func:`hexo_generate` call builds a fresh site in a work
folder, runs ``hexo generate`` on a UTC machine (``TZ=UTC``, as GitHub Actions) and loads Hexo's
database (``db.json``: models Post, Category and PostCategory) so a test can compare every post
with what was written.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

#: npm packages of the test site. Hexo 8 with the plugins a fresh ``hexo init`` site has.
DEPENDENCIES = {
    "hexo": "^8.0.0",
    "hexo-theme-landscape": "^1.1.0",
    "hexo-renderer-marked": "^7.0.1",
    "hexo-renderer-ejs": "^2.0.0",
    "hexo-renderer-stylus": "^3.0.1",
    "hexo-generator-index": "^4.0.0",
    "hexo-generator-archive": "^2.0.0",
    "hexo-generator-category": "^2.0.0",
    "hexo-generator-tag": "^2.0.0",
}
CONFIG = """\
title: rsspage test site
url: http://example.com
permalink: :year/:month/:day/:title/
theme: landscape
"""
NPM_TIMEOUT = 600
HEXO_TIMEOUT = 600


@dataclass(frozen=True)
class Theme:
    """A Hexo theme and the npm packages it needs beyond :data:`DEPENDENCIES`."""

    name: str
    packages: dict[str, str]


LANDSCAPE = Theme("landscape", {})
#: The theme of the system rsspage replaces. It prints titles raw into quoted attributes.
VOLANTIS = Theme("volantis", {"hexo-theme-volantis": "6.8.3",
                              "hexo-generator-json-content": "^4.2.3"})


@dataclass(frozen=True)
class HexoPost:
    """One post as Hexo stored it."""

    #: Path of the source file relative to ``source/_posts`` (POSIX).
    source: str
    title: str
    #: Category chains, each from the top category down to the post's own (usually one).
    category_chains: tuple[tuple[str, ...], ...]
    date: datetime
    #: The post's generated page, or None when Hexo wrote none where expected.
    html: Path | None

    @property
    def categories(self) -> tuple[str, ...]:
        """The single category chain (empty when the post has none)."""
        if len(self.category_chains) > 1:
            raise ValueError(f"{self.source}: several category chains {self.category_chains}")
        return self.category_chains[0] if self.category_chains else ()


@dataclass(frozen=True)
class HexoResult:
    returncode: int
    stdout: str
    stderr: str
    site: Path
    #: Posts by source path relative to ``source/_posts``.
    posts: dict[str, HexoPost]

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def problem_lines(self) -> list[str]:
        """Lines of Hexo's output that report an error or a warning."""
        return [line for line in self.output.splitlines() if "ERROR" in line or "WARN" in line]


#: Hexo's most used search plugin (its own search.xml of every post), for the benchmark that
#: compares a site with search to Hexo with search (benchmarks/bench_site.py --hexo-search).
SEARCH_PLUGIN = {"hexo-generator-searchdb": "^1.4.1"}
#: What the plugin's README configures: every post's whole content in search.xml.
SEARCH_CONFIG = "search:\n  path: search.xml\n  field: post\n  content: true\n  format: html\n"


def cache_dir(name: str = "hexo-8") -> Path:
    base = os.environ.get("RSSPAGE_TEST_CACHE")
    root = Path(base) if base else Path.home() / ".cache" / "rsspage-tests"
    return root / name


def install_hexo(extra: dict[str, str] | None = None) -> Path:
    """Install Hexo (with the ``extra`` packages, in a folder of their own) into the cache
    once (locked against parallel runs); return the folder."""
    folder = cache_dir("hexo-8" + "".join(f"+{name}" for name in sorted(extra or {})))
    folder.mkdir(parents=True, exist_ok=True)
    dependencies = {**DEPENDENCIES, **(extra or {})}
    manifest = json.dumps({"private": True, "dependencies": dependencies}, indent=2)
    stamp = folder / "installed.json"
    with file_lock(folder / ".lock"):
        if stamp.exists() and stamp.read_text() == manifest:
            return folder
        (folder / "package.json").write_text(manifest)
        proc = subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=folder, timeout=NPM_TIMEOUT, capture_output=True, text=True,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"npm install in {folder} failed:\n{proc.stderr[-4000:]}")
        stamp.write_text(manifest)
    return folder


def hexo_generate(posts_dir: Path, work: Path, *, theme: Theme = LANDSCAPE,
                  timezone: str = "") -> HexoResult:
    """Build a Hexo site in ``work`` from the posts under ``posts_dir`` and read it back.

    ``timezone`` is the site's ``_config.yml`` ``timezone`` ("": none, Hexo takes the
    machine's); Hexo itself always runs with ``TZ=UTC``."""
    install = install_hexo(theme.packages)
    # volantis warns about a site without a description.
    config = (CONFIG.replace("theme: landscape", f"theme: {theme.name}")
              + f"description: rsspage test site\ntimezone: '{timezone}'\n")
    site = _prepare_site(install, work, {**DEPENDENCIES, **theme.packages}, config)
    shutil.copytree(posts_dir, site / "source" / "_posts")
    # volantis runs `hexo -v` to check its environment: a user has hexo-cli on the PATH.
    path = f"{site / 'node_modules' / '.bin'}{os.pathsep}{os.environ.get('PATH', '')}"
    env = {**os.environ, "TZ": "UTC", "NO_COLOR": "1", "FORCE_COLOR": "0", "PATH": path}
    proc = subprocess.run(
        [str(site / "node_modules" / ".bin" / "hexo"), "generate"],
        cwd=site, env=env, timeout=HEXO_TIMEOUT, capture_output=True, text=True,
    )
    db_path = site / "db.json"
    posts = _read_posts(json.loads(db_path.read_text("utf-8")), site) if db_path.exists() else {}
    return HexoResult(proc.returncode, proc.stdout, proc.stderr, site, posts)


def _prepare_site(install: Path, work: Path, dependencies: dict[str, str], config: str) -> Path:
    site = work / "hexo-site"
    if site.exists():
        shutil.rmtree(site)
    (site / "source").mkdir(parents=True)
    version = json.loads((install / "node_modules" / "hexo" / "package.json").read_text())
    # hexo-cli recognises a site by the "hexo" key of its package.json; Hexo loads the plugins
    # its dependencies name.
    package = {"private": True, "hexo": {"version": version["version"]},
               "dependencies": dependencies}
    (site / "package.json").write_text(json.dumps(package, indent=2))
    (site / "_config.yml").write_text(config)
    (site / "node_modules").symlink_to(install / "node_modules", target_is_directory=True)
    return site


def _read_posts(db: dict[str, Any], site: Path) -> dict[str, HexoPost]:
    models = db["models"]
    categories = {c["_id"]: c for c in models.get("Category", [])}
    by_post: dict[str, list[str]] = {}
    for link in models.get("PostCategory", []):
        by_post.setdefault(link["post_id"], []).append(link["category_id"])
    posts: dict[str, HexoPost] = {}
    for post in models.get("Post", []):
        source = post["source"].removeprefix("_posts/")
        date = datetime.fromisoformat(post["date"])
        posts[source] = HexoPost(
            source=source,
            title=post.get("title", ""),
            category_chains=_chains(by_post.get(post["_id"], []), categories),
            date=date,
            html=_html_path(site, post, date),
        )
    return posts


def _chains(ids: list[str], categories: dict[str, dict[str, Any]]) -> tuple[tuple[str, ...], ...]:
    """Each category of the post that is no other's parent, with its parents above it."""
    parents = {categories[i].get("parent") for i in ids}
    chains = []
    for leaf in (i for i in ids if i not in parents):
        chain: list[str] = []
        node: str | None = leaf
        while node is not None:
            chain.insert(0, categories[node]["name"])
            node = categories[node].get("parent")
        chains.append(tuple(chain))
    return tuple(sorted(chains))


def _html_path(site: Path, post: dict[str, Any], date: datetime) -> Path | None:
    # The permalink of CONFIG: :year/:month/:day/:title/ with :title = the source path's slug.
    page = site / "public" / f"{date:%Y/%m/%d}" / post["slug"] / "index.html"
    return page if page.exists() else None


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    with path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
