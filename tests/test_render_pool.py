"""Pages rendered by worker processes are the pages a serial build writes (issue 10).

Two real site builds of the same articles without Pagefind (the pool is used only when no
search runs beside it): one serial, one forced through the pool with small batches. The
workers write their pages into the writer's staging folder (staging.py), unless the site keeps
compressed copies.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from records import read_manifest
from rsspage.config import parse_config
from rsspage.errors import PublishError
from rsspage.publish import render_pool, staging
from rsspage.publish.outputs import write_site
from rsspage.publish.site_pages import Page
from rsspage.publish.writer import OutputWriter
from test_site import ARTICLES, HEALTH, Site, make_site


def load(ids: Iterable[str]) -> dict[str, str]:
    wanted = set(ids)
    return {a.id: a.content_html for a in ARTICLES if a.id in wanted}


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*")
            if p.is_file() and not p.name.startswith(".rsspage-")}


def build(folder: Path, monkeypatch: pytest.MonkeyPatch, *, pool: bool,
          precompress: str = "") -> dict[str, bytes]:
    folder.mkdir(exist_ok=True)
    site = make_site(folder)
    if precompress:
        path = folder / "rsspage.yml"
        text = path.read_text("utf-8").replace("timezone: Asia/Shanghai}",
                                               f"timezone: Asia/Shanghai, precompress: {precompress}}}")
        path.write_text(text, "utf-8")
        site = Site(folder, parse_config(text, path), {})
    monkeypatch.setattr(render_pool, "MIN_PAGES", 1 if pool else 10**9)
    monkeypatch.setattr(render_pool, "BATCH", 7)  # many batches, one cut short
    monkeypatch.setattr(render_pool.os, "sched_getaffinity", lambda pid: {0, 1})
    # pytest-xdist runs a thread of its own in each worker; the build itself starts none.
    monkeypatch.setattr(render_pool.threading, "active_count", lambda: 1)
    pooled: list[int] = []
    render = render_pool.render

    def counted(*args: Any) -> Iterator[tuple[Page, bytes]]:
        pooled.append(len(args[1]))
        return render(*args)

    monkeypatch.setattr(render_pool, "render", counted)
    adopted: list[str] = []  # pages the workers wrote themselves (staging.py)
    adopt = OutputWriter.adopt

    def adopting(writer: OutputWriter, relpath: str, *args: Any, **kwargs: Any) -> bool:
        adopted.append(relpath)
        return adopt(writer, relpath, *args, **kwargs)

    monkeypatch.setattr(OutputWriter, "adopt", adopting)
    # Without their content, as the store gives them: each batch loads its articles'.
    bare = [replace(a, content_html="") for a in ARTICLES]
    result, stats = write_site(site.config, bare, HEALTH, {}, load_content=load)
    assert stats.written > 100 and result.rendered >= 100
    assert site.config.output.site is not None
    assert bool(pooled) == pool and (not pool or pooled[0] == result.rendered)
    # Compressed copies are made from the bytes in hand: then the workers send them back.
    assert len(adopted) == (result.rendered if pool and not precompress else 0)
    root = site.config.output.site
    assert not (root / staging.NAME).exists()
    files = read_manifest(root)["files"]
    assert files == {rel: hashlib.sha256(data).hexdigest() for rel, data in tree(root).items()}
    return tree(root)


def test_pool_pages_are_byte_for_byte_the_serial_ones(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAGEFIND_BINARY_PATH", str(tmp_path / "no-pagefind"))
    serial = build(tmp_path / "serial", monkeypatch, pool=False)
    pooled = build(tmp_path / "pooled", monkeypatch, pool=True)
    assert serial.keys() == pooled.keys()
    assert [k for k in serial if serial[k] != pooled[k]] == []


def test_a_pooled_rebuild_keeps_unchanged_files_as_they_are(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAGEFIND_BINARY_PATH", str(tmp_path / "no-pagefind"))
    first = build(tmp_path / "site", monkeypatch, pool=True)
    site = make_site(tmp_path / "site")
    assert site.config.output.site is not None
    times = {p: p.stat().st_mtime_ns for p in site.config.output.site.rglob("*.html")}
    # No page hashes: every page is rendered again, by the workers, to the same bytes.
    bare = [replace(a, content_html="") for a in ARTICLES]
    result, stats = write_site(site.config, bare, HEALTH, {}, load_content=load)
    assert result.rendered >= 100 and stats.written == 0
    assert tree(site.config.output.site) == first
    assert {p: p.stat().st_mtime_ns for p in times} == times
    assert not (site.config.output.site / staging.NAME).exists()


def test_compressed_copies_are_made_from_the_workers_pages(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAGEFIND_BINARY_PATH", str(tmp_path / "no-pagefind"))
    serial = build(tmp_path / "serial", monkeypatch, pool=False, precompress="gzip")
    pooled = build(tmp_path / "pooled", monkeypatch, pool=True, precompress="gzip")
    assert serial == pooled
    assert sum(k.endswith(".html.gz") for k in pooled) >= 100


def test_a_worker_that_fails_leaves_the_site_as_it_was(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAGEFIND_BINARY_PATH", str(tmp_path / "no-pagefind"))
    before = build(tmp_path / "site", monkeypatch, pool=True)
    # An article template that fails on one article, well into the build.
    victim = ARTICLES[len(ARTICLES) // 2].title
    templates = tmp_path / "site" / "templates"
    templates.mkdir()
    original = (Path(render_pool.__file__).parent / "templates" / "article.html").read_text()
    failing = "{% if view.article.title == " + json.dumps(victim) + " %}{{ nothing.here }}{% endif %}"
    (templates / "article.html").write_text(
        original.replace("{% block main %}", "{% block main %}" + failing))
    site = make_site(tmp_path / "site")
    assert site.config.output.site is not None
    bare = [replace(a, content_html="") for a in ARTICLES]
    with pytest.raises(PublishError, match=r"article\.html"):
        write_site(site.config, bare, HEALTH, {}, load_content=load)
    assert tree(site.config.output.site) == before
    assert not (site.config.output.site / staging.NAME).exists()


def test_few_pages_one_core_or_other_threads_render_serially(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render_pool.os, "sched_getaffinity", lambda pid: {0, 1})
    monkeypatch.setattr(render_pool.threading, "active_count", lambda: 2)
    assert render_pool.workers_for(10**6) == 0
    monkeypatch.setattr(render_pool.threading, "active_count", lambda: 1)
    assert render_pool.workers_for(render_pool.MIN_PAGES - 1) == 0
    assert render_pool.workers_for(render_pool.MIN_PAGES) == 2
    monkeypatch.setattr(render_pool.os, "sched_getaffinity", lambda pid: {0})
    assert render_pool.workers_for(10**6) == 0


def _page(number: int) -> Page:
    return Page(f"p/{number}.html", "404.html", {}, "")


def _dies_on_the_seventh(env: Any, page: Page) -> str:
    if page.path == "p/7.html":
        os._exit(3)  # a worker killed (the OOM killer, a segfault in a C extension)
    return page.path


def test_a_worker_that_dies_ends_the_build_with_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render_pool, "BATCH", 4)
    pages = [_page(n) for n in range(40)]
    rendered = render_pool.render(None, pages, _dies_on_the_seventh, None, 2)
    with pytest.raises(PublishError, match="ended unexpectedly"):
        list(rendered)


@pytest.mark.parametrize("count", [100, 10])
def test_meanwhile_runs_once_while_the_workers_render(monkeypatch: pytest.MonkeyPatch,
                                                      count: int) -> None:
    # The build's own process writes the feeds and sitemap while the workers render the pages
    # (it would only wait): once, before the first page comes back, however many batches.
    monkeypatch.setattr(render_pool, "BATCH", 4)
    pages = [_page(n) for n in range(count)]
    got: list[tuple[str, bytes]] = []
    calls: list[int] = []
    for page, data in render_pool.render(None, pages, lambda env, page: page.path.upper(),
                                         None, 2, None, lambda: calls.append(len(got))):
        assert isinstance(data, bytes)
        got.append((page.path, data))
    assert calls == [0]
    assert got == [(p.path, p.path.upper().encode()) for p in pages]


_KILLED_BUILD = """
import os, sys, time
from rsspage.publish import render_pool
from rsspage.publish.site_pages import Page

def slow(env, page):
    with open(sys.argv[1], "a") as pids:
        pids.write(f"{os.getpid()}\\n")
    time.sleep(0.05)
    return page.path

print("rendering", flush=True)
for _ in render_pool.render(None, [Page(f"p/{n}.html", "404.html", {}, "") for n in range(400)],
                            slow, None, 2):
    pass
"""


def _workers_of(pids: Path) -> set[int]:
    return {int(line) for line in pids.read_text().split()} if pids.exists() else set()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


@pytest.mark.parametrize("how", ["killed alone", "ctrl-c"])
def test_workers_end_with_the_build(tmp_path: Path, how: str) -> None:
    # Killed alone (the OOM killer), the build's process used to leave its workers waiting on
    # the pool's queue for good; a Ctrl+C could leave one holding the queue's lock.
    script = tmp_path / "build.py"
    script.write_text(_KILLED_BUILD)
    pids = tmp_path / "workers"
    build = subprocess.Popen([sys.executable, str(script), str(pids)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, start_new_session=True)
    assert build.stdout is not None and build.stdout.readline() == b"rendering\n"
    deadline = time.monotonic() + 20
    while len(_workers_of(pids)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    workers = _workers_of(pids)
    assert len(workers) == 2
    if how == "killed alone":
        build.kill()
    else:
        os.killpg(build.pid, signal.SIGINT)  # what a terminal sends to the whole group
    build.wait(timeout=20)
    if how == "ctrl-c":
        assert b"KeyboardInterrupt" in build.stderr.read() if build.stderr else False
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in workers if _alive(pid)]
