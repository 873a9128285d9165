"""Pages rendered by worker processes are the pages a serial build writes (issue 10).

Two real site builds of the same articles without Pagefind (the pool is used only when no
search runs beside it): one serial, one forced through the pool with small batches.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from rsspage.publish import render_pool
from rsspage.publish.outputs import write_site
from rsspage.publish.site_pages import Page
from test_site import ARTICLES, HEALTH, make_site


def load(ids: Iterable[str]) -> dict[str, str]:
    wanted = set(ids)
    return {a.id: a.content_html for a in ARTICLES if a.id in wanted}


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*")
            if p.is_file() and not p.name.startswith(".rsspage-")}


def build(folder: Path, monkeypatch: pytest.MonkeyPatch, *, pool: bool) -> dict[str, bytes]:
    folder.mkdir()
    site = make_site(folder)
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
    # Without their content, as the store gives them: each batch loads its articles'.
    bare = [replace(a, content_html="") for a in ARTICLES]
    result, stats = write_site(site.config, bare, HEALTH, {}, load_content=load)
    assert stats.written > 100 and result.rendered >= 100
    assert site.config.output.site is not None
    assert bool(pooled) == pool and (not pool or pooled[0] == result.rendered)
    return tree(site.config.output.site)


def test_pool_pages_are_byte_for_byte_the_serial_ones(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAGEFIND_BINARY_PATH", str(tmp_path / "no-pagefind"))
    serial = build(tmp_path / "serial", monkeypatch, pool=False)
    pooled = build(tmp_path / "pooled", monkeypatch, pool=True)
    assert serial.keys() == pooled.keys()
    assert [k for k in serial if serial[k] != pooled[k]] == []


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
