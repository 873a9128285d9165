"""Rendering many pages in worker processes: full site builds without search (issue 10).

Jinja rendering is about 55 % of a full build without search and holds the GIL, so threads do
not help; processes do. Workers are *forked* after the site model and the templates are
ready, so each inherits them (nothing is pickled but the batch's article contents going in
and the rendered bytes coming back). The parent loads each batch's contents from the store
(its SQLite connection stays in the parent), keeps a few batches in flight, and writes the
pages of each finished batch through the writer in order while the workers render the next
ones, so writing files overlaps rendering. The pages are byte for byte those of a serial
build: the same environment renders the same contexts.

Only where nothing else runs beside it: with Pagefind indexing on the other core a pool
would only compete with it, and a fork with other threads running is unsafe.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from multiprocessing.pool import AsyncResult

import jinja2

from rsspage.errors import PublishError
from rsspage.publish.site_pages import Page

#: Fewer stale pages than this are rendered in the build's own process (a fork and the
#: pickling of the results cost more than they save).
MIN_PAGES = 2000
#: Pages per batch sent to a worker, and batches in flight per worker.
BATCH = 250
_AHEAD = 2

#: A page's text (site._render).
Render = Callable[[jinja2.Environment, Page], str]
#: content_html of articles by id (Store.contents).
LoadContent = Callable[[Iterable[str]], Mapping[str, str]]

#: What the workers inherit at the fork: the environment, the pages and how to render one.
_JOB: tuple[jinja2.Environment, Sequence[Page], Render] | None = None


def workers_for(pages: int) -> int:
    """Worker processes for ``pages`` stale pages: one per usable core, 0 for a serial build
    (few pages, one core, no ``fork`` on this platform, or other threads running: ``rsspage
    serve`` rebuilds beside its HTTP server)."""
    if (pages < MIN_PAGES or "fork" not in multiprocessing.get_all_start_methods()
            or threading.active_count() > 1):  # a fork copies no thread, but their locks
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return cores if cores and cores > 1 else 0


def render(env: jinja2.Environment, pages: Sequence[Page], render_one: Render,
           load: LoadContent | None, workers: int) -> Iterator[tuple[Page, bytes]]:
    """Each of ``pages`` with its rendered bytes, in order, rendered by ``workers`` forked
    processes; ``load`` gives the content of the articles whose pages show it."""
    global _JOB
    _JOB = (env, pages, render_one)
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            pending: deque[tuple[int, AsyncResult[list[bytes]]]] = deque()
            starts = iter(range(0, len(pages), BATCH))
            for start in starts:
                pending.append((start, _submit(pool, pages, start, load)))
                if len(pending) < workers * _AHEAD:
                    continue
                yield from _finished(pages, *pending.popleft())
            while pending:
                yield from _finished(pages, *pending.popleft())
    finally:
        _JOB = None


def _submit(pool: multiprocessing.pool.Pool, pages: Sequence[Page], start: int,
            load: LoadContent | None) -> AsyncResult[list[bytes]]:
    ids = [p.article.article.id for p in pages[start:start + BATCH] if p.article is not None]
    contents = dict(load(ids)) if load is not None and ids else {}
    if load is not None and (missing := [i for i in ids if i not in contents]):
        # Rendered empty, the page would be recorded as up to date.
        raise PublishError(f"{len(missing)} articles left the store during the build "
                           f"(first: {missing[0]})")
    return pool.apply_async(_render_batch, (start, contents))


def _finished(pages: Sequence[Page], start: int, result: AsyncResult[list[bytes]]
              ) -> Iterator[tuple[Page, bytes]]:
    yield from zip(pages[start:start + BATCH], result.get(), strict=True)


def _render_batch(start: int, contents: Mapping[str, str]) -> list[bytes]:
    """In a worker: the pages of one batch (the worker's copies of the views get their
    content; the parent's never do)."""
    assert _JOB is not None
    env, pages, render_one = _JOB
    out = []
    for page in pages[start:start + BATCH]:
        view = page.article
        if view is not None and view.article.id in contents:
            view.article = replace(view.article, content_html=contents[view.article.id])
        out.append(render_one(env, page).encode("utf-8"))
    return out
