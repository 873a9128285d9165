"""Rendering many pages in worker processes: full site builds without search (issue 10).

Jinja rendering is about 55 % of a full build without search and holds the GIL, so threads do
not help; processes do. Workers are *forked* after the site model and the templates are
ready, so each inherits them (nothing is pickled but the batch's article contents going in
and what comes back). The parent loads each batch's contents from the store (its SQLite
connection stays in the parent) and keeps a few batches in flight. Given the writer's staging
folder (staging.py), the workers also write the pages they render there and send back only
their names, sizes and digests, for the parent to adopt in order: creating the files is about a
third of the build, and done by the parent alone it made the workers wait. (Without one, the
rendered bytes come back and the parent writes them.) The pages are byte for byte those of a
serial build: the same environment renders the same contexts.

Only where nothing else runs beside it: with Pagefind indexing on the other core a pool
would only compete with it, and a fork with other threads running is unsafe.
"""

from __future__ import annotations

import gc
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace

import jinja2

from rsspage.errors import PublishError
from rsspage.publish.site_pages import Page
from rsspage.publish.staging import StagedFile, Stager

#: Fewer stale pages than this are rendered in the build's own process (a fork and the
#: pickling of the results cost more than they save).
MIN_PAGES = 2000
#: Pages per batch sent to a worker, and batches in flight per worker.
BATCH = 250
_AHEAD = 2
#: Batches in flight per worker while this process does other work (render(meanwhile=)): ~0.5 s
#: of rendering each at 20,000 articles.
_MEANWHILE_AHEAD = 6

#: A page's text (site._render).
Render = Callable[[jinja2.Environment, Page], str]
#: content_html of articles by id (Store.contents).
LoadContent = Callable[[Iterable[str]], Mapping[str, str]]

#: A page rendered: its bytes, or the temporary a worker wrote them to.
Rendered = bytes | StagedFile

#: What the workers inherit at the fork: the environment, the pages, how to render one, and
#: the staging folder's descriptor (or None).
_JOB: tuple[jinja2.Environment, Sequence[Page], Render, int | None] | None = None


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
           load: LoadContent | None, workers: int, staging_fd: int | None = None,
           meanwhile: Callable[[], None] | None = None,
           ) -> Iterator[tuple[Page, Rendered]]:
    """Each of ``pages``, in order, rendered by ``workers`` forked processes: its bytes, or
    with ``staging_fd`` (the writer's staging folder) the temporary they are in; ``load`` gives
    the content of the articles whose pages show it. ``meanwhile()`` runs once in this process
    while they render, with more batches handed out first so that they do not wait for it."""
    global _JOB
    _JOB = (env, pages, render_one, staging_fd)
    # The objects made so far are left out of garbage collection while the workers live:
    # a worker's collections would otherwise write to the header of every object it
    # inherited, and each page written to is copied into it (a worker's own memory at
    # 20,000 articles: 135 -> 122 MB; the rest is mostly pages it touched, reference counts).
    gc.freeze()
    # concurrent.futures, not multiprocessing.Pool: a worker that fails or dies ends the build
    # with an error (BrokenProcessPool), and shutting down waits for the batches in flight,
    # where Pool.terminate() could hang the build for good when a batch failed (it killed
    # workers that held the queues' locks; seen once in the test suite).
    try:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                                 initializer=_worker_started) as pool:
            pending: deque[tuple[int, Future[list[Rendered]]]] = deque()
            ahead = _MEANWHILE_AHEAD if meanwhile is not None else _AHEAD
            try:
                for start in range(0, len(pages), BATCH):
                    pending.append((start, _submit(pool, pages, start, load)))
                    if len(pending) < workers * ahead:
                        continue
                    if meanwhile is not None:
                        meanwhile()
                        meanwhile = None
                    yield from _finished(pages, *pending.popleft())
                if meanwhile is not None:
                    meanwhile()
                while pending:
                    yield from _finished(pages, *pending.popleft())
            except BaseException:
                for _, future in pending:
                    future.cancel()  # those not started; the others finish before shutdown
                raise
    except BrokenProcessPool as e:
        raise PublishError(f"a process rendering the pages ended unexpectedly: {e}") from e
    finally:
        _JOB = None
        gc.unfreeze()


def _worker_started() -> None:
    """In each worker, first. Ctrl+C is the build's to handle: a worker interrupted while it
    sent a batch back left the pool's lock taken, and the build waited for good (a review saw
    it in 4 of 23 double Ctrl+C). SIGTERM ends it, whatever the build's process set. And it
    ends with the build's process: killed alone (the OOM killer), it left the workers waiting
    on the pool's queue for good, rendering into the staging folder and holding its output."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with, args=(parent.sentinel,), daemon=True).start()


def _exit_with(sentinel: int) -> None:
    multiprocessing.connection.wait([sentinel])  # ready once the build's process is gone
    os._exit(1)


def _submit(pool: ProcessPoolExecutor, pages: Sequence[Page], start: int,
            load: LoadContent | None) -> Future[list[Rendered]]:
    ids = [p.article.article.id for p in pages[start:start + BATCH] if p.article is not None]
    contents = dict(load(ids)) if load is not None and ids else {}
    if load is not None and (missing := [i for i in ids if i not in contents]):
        # Rendered empty, the page would be recorded as up to date.
        raise PublishError(f"{len(missing)} articles left the store during the build "
                           f"(first: {missing[0]})")
    return pool.submit(_render_batch, start, contents)


def _finished(pages: Sequence[Page], start: int, result: Future[list[Rendered]]
              ) -> Iterator[tuple[Page, Rendered]]:
    yield from zip(pages[start:start + BATCH], result.result(), strict=True)


def _render_batch(start: int, contents: Mapping[str, str]) -> list[Rendered]:
    """In a worker: the pages of one batch (the worker's copies of the views get their
    content; the parent's never do), written into the staging folder if there is one."""
    global _STAGER
    assert _JOB is not None
    env, pages, render_one, staging_fd = _JOB
    if staging_fd is not None and _STAGER is None:
        _STAGER = Stager(staging_fd)  # in this process: its pid names the temporaries
    out: list[Rendered] = []
    for page in pages[start:start + BATCH]:
        view = page.article
        if view is not None and view.article.id in contents:
            view.article = replace(view.article, content_html=contents[view.article.id])
        data = render_one(env, page).encode("utf-8")
        out.append(data if _STAGER is None else _STAGER.write(page.path, data))
    return out


#: A worker's writer of temporaries (set in the worker, at its first batch).
_STAGER: Stager | None = None
