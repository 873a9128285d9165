"""Pagefind at work: its processes, the records sent to them, the bundles they give back.

We talk to ``pagefind --service`` directly (base64 JSON messages, each followed by a comma: the
protocol of Pagefind's Node and Python APIs). The Python API waits 0.1 s between two answers,
which would make 20,000 records take half an hour. Independent shards are indexed by one
Pagefind process per core the build may use, each started once per build (starting one costs
most of a second); the articles are loaded in the caller's thread, one shard ahead of each.

The files of a bundle are asked for with ``GetFiles`` and written by rsspage, not by Pagefind's
``WriteFiles``: that answers before its background writes are done, and a shard could be left
with empty files when the service exited (about one build in 30), or on a full disk without any
error. So a bundle is checked (entry readable, every language's metadata there, no empty file)
before it is written, and a failed write is a real error.

A shard's bundle is written without Pagefind's script, worker and WebAssembly: the search page
merges it into the *runtime* bundle, and a merged bundle never loads its own (Pagefind 1.x's
``mergeIndex`` creates its instances with ``load_wasm: false``). The runtime bundle keeps them,
with an index of one record no query can find (Pagefind writes no language, so no usable entry,
for an index of none).

Each article's record (:func:`record`) carries Pagefind filters ``category``, ``source``,
``feed`` (both, as a JSON pair: the sources of each category) and ``bundle`` (the folder of the
bundle it is in), and a sort key ``t`` (its publication time): the search page filters by the
first two, and lists the newest articles of a filter bundle by bundle (Pagefind sorts within
one bundle only). A kept shard keeps its folder, so its records stay right; a rebuilt one gets
a new folder and new records.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import math
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from rsspage.errors import PublishError
from rsspage.fileio import write_all
from rsspage.publish.relpaths import is_plain_relpath
from rsspage.publish.search_tiers import Piece, aware
from rsspage.publish.site_model import ArticleView, href
from rsspage.publish.site_pages import digest

#: Characters of an article's text that are indexed (beyond this, mostly boilerplate).
TEXT_CHARS = 10_000
#: Bump when the records or bundles change shape, to re-index every shard.
SEARCH_FORMAT = "search-5"
ENTRY = "pagefind-entry.json"
#: Longest wait for one answer of Pagefind's (a shard of 4,000 records takes ~10 s).
CALL_TIMEOUT = 600
#: Pagefind's ready-made search interfaces: the search page has its own (static/search.js).
_UNUSED_FILES = ("pagefind-ui.", "pagefind-modular-ui.", "pagefind-component-ui.",
                 "pagefind-highlight.js")
#: Pagefind's script, worker and WebAssembly: only the runtime bundle keeps them.
_RUNTIME_FILES = ("pagefind.js", "pagefind-worker.js", "wasm.")


class SearchIndexError(PublishError):
    """Pagefind failed or gave an incomplete bundle (the pages can still be published)."""


@dataclass(frozen=True, slots=True)
class Job:
    folder: int
    #: The shard to index; None: the runtime bundle.
    piece: Piece | None


@dataclass(frozen=True, slots=True)
class Built:
    count: int
    digest: str
    runtime: bool = False


def records_digest(views: Sequence[ArticleView], language: str) -> str:
    """Of what a shard's records hold: URL, title and text (the content hash covers them),
    times, category, source and channel. Not of what only a card shows (a story cluster)."""
    return digest(SEARCH_FORMAT, language, *(
        "\x1f".join((v.path, v.article.content_hash, v.when,
                      published_seconds(v.article.published), v.article.category,
                      v.article.source, v.article.channel)) for v in views))


class _Services:
    """One Pagefind process per worker thread, started when first needed (starting one costs
    most of a second), all closed at the end."""

    def __init__(self, binary: str) -> None:
        self._binary = binary
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[PagefindService] = []

    def mine(self) -> PagefindService:
        service: PagefindService | None = getattr(self._local, "service", None)
        if service is None:
            service = self._local.service = PagefindService(self._binary)
            with self._lock:
                self._all.append(service)
        return service

    def close(self) -> None:
        for service in self._all:
            service.close()


def build_all(binary: str, folder: Path, jobs: Sequence[Job],
              load: Callable[[Piece], Sequence[ArticleView]], language: str,
              stop: threading.Event) -> dict[int, Built]:
    """Each job's bundle built in ``pagefind/.tmp-<folder>``, by one Pagefind process per core
    the build may use; the views are loaded here, in the caller's thread, one shard ahead of
    each process. On any failure no bundle is left behind."""
    _check_folder(folder, folder.parent)
    built: dict[int, Built] = {}
    services = _Services(binary)
    halt = threading.Event()  # set when a worker fails, so the others stop at their next record
    workers = max(1, min(len(jobs), _cores()))
    try:
        with ThreadPoolExecutor(workers, thread_name_prefix="rsspage-pagefind") as pool:
            running: set[Future[None]] = set()
            try:
                for job in jobs:
                    _check_not_stopped(stop)
                    views = load(job.piece) if job.piece is not None else ()
                    if job.piece is not None and not views:
                        continue  # gone since its keys were read: no bundle, no records
                    built[job.folder] = Built(len(views), records_digest(views, language),
                                              job.piece is None)
                    running.add(pool.submit(_index, services, folder, job, views, language,
                                            stop, halt))
                    if len(running) >= workers:
                        done, running = wait(running, return_when=FIRST_COMPLETED)
                        _raise_first(done)
                _raise_first(wait(running).done)
            except BaseException:
                halt.set()
                raise
    except OSError as e:
        _discard_numbers(folder, built)
        raise PublishError(f"cannot write the search index: {e.strerror or e}") from e
    except BaseException:
        _discard_numbers(folder, built)
        raise
    finally:
        services.close()
    return built


def _raise_first(done: Iterable[Future[None]]) -> None:
    for job in done:
        job.result()


def _check_folder(folder: Path, root: Path) -> None:
    folder.mkdir(exist_ok=True)
    # The bundles are not written through the output writer: check the folder here.
    if folder.is_symlink() or not folder.resolve().is_relative_to(root.resolve()):
        raise PublishError(f"{folder} leads outside the output folder {root}")


def _index(services: _Services, folder: Path, job: Job, views: Sequence[ArticleView],
           language: str, stop: threading.Event, halt: threading.Event) -> None:
    if halt.is_set():
        return
    service = services.mine()
    lang = pagefind_language(language)
    index_id = service.call({"type": "NewIndex", "config": {"force_language": lang}}).get(
        "index_id")
    if not isinstance(index_id, int):
        raise SearchIndexError(f"search index: pagefind gave no index ({index_id!r})")
    if job.piece is None:  # the runtime's index: one record no query can find ("_" alone)
        service.send({"type": "AddRecord", "index_id": index_id, "url": "/", "content": "_",
                      "language": lang, "meta": {"title": ""}, "filters": None, "sort": None})
    for view in views:
        if stop.is_set() or halt.is_set():
            _check_not_stopped(stop)
            return
        service.send(record(index_id, view, lang, job.folder))
    files = _files(service, index_id, runtime=job.piece is None)
    _write_bundle(folder / f".tmp-{job.folder}", files)


def _cores() -> int:
    """Cores this process may run on (``taskset`` and cgroup CPU sets count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _check_not_stopped(stop: threading.Event) -> None:
    if stop.is_set():
        raise SearchIndexError("search index: stopped, the pages failed")


def _files(service: PagefindService, index_id: int, *, runtime: bool) -> dict[str, bytes]:
    """The files of one bundle (path → content), checked to be whole; Pagefind's script,
    worker and WebAssembly only in the runtime's."""
    answer = service.call({"type": "GetFiles", "index_id": index_id})
    service.call({"type": "DeleteIndex", "index_id": index_id})
    dropped = _UNUSED_FILES if runtime else _UNUSED_FILES + _RUNTIME_FILES
    files: dict[str, bytes] = {}
    try:
        for entry in answer["files"]:
            path = str(entry["path"])
            content = entry.pop("content", None)  # each base64 text goes as it is decoded
            if not path.startswith(dropped):
                files[path] = base64.b64decode(content)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise SearchIndexError(f"search index: unreadable files from pagefind ({e})") from e
    _check_bundle(files, runtime=runtime)
    return files


def _check_bundle(files: Mapping[str, bytes], *, runtime: bool) -> None:
    """Refuse a bundle a browser could not load: no entry, a missing metadata file (or, in the
    runtime, script or WebAssembly), an empty file, or a path that is not a plain relative one."""
    try:
        entry = json.loads(files[ENTRY])
        languages = entry["languages"].values()
        needed = [f"pagefind.{lang['hash']}.pf_meta" for lang in languages]
        if runtime:
            needed += ["pagefind.js", "pagefind-worker.js",
                       *(f"wasm.{lang.get('wasm') or 'unknown'}.pagefind" for lang in languages)]
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise SearchIndexError(f"search index: pagefind gave no readable entry ({e})") from e
    empty = [path for path, data in files.items() if not data]
    missing = [name for name in needed if name not in files]
    odd = [path for path in files if not is_plain_relpath(path)]
    if empty or missing or odd or (runtime and not languages):
        raise SearchIndexError(f"search index: incomplete bundle from pagefind (empty: "
                               f"{empty[:3]}, missing: {missing[:3]}, odd paths: {odd[:3]})")


def _write_bundle(built: Path, files: Mapping[str, bytes]) -> None:
    shutil.rmtree(built, ignore_errors=True)
    built.mkdir()
    for path, data in files.items():
        target = built / path
        if target.parent != built:
            target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        try:
            write_all(fd, data)
        finally:
            os.close(fd)


def discard(staged: Sequence[tuple[Path, Path]]) -> None:
    for built, _final in staged:
        shutil.rmtree(built, ignore_errors=True)


def _discard_numbers(folder: Path, numbers: Iterable[int]) -> None:
    discard([(folder / f".tmp-{n}", folder / str(n)) for n in numbers])


def record(index_id: int, view: ArticleView, language: str, bundle: int = 0) -> dict[str, Any]:
    """An article's record for ``AddRecord``, in the bundle of folder ``bundle``."""
    a = view.article
    t = published_seconds(a.published)
    return {
        "type": "AddRecord", "index_id": index_id, "url": href(view.path),
        "content": f"{a.title}\n{a.text[:TEXT_CHARS]}", "language": language,
        "meta": {"title": a.title, "source": f"{a.source} › {a.channel}", "date": view.when,
                 "t": t},
        # What the search page filters by (pagefind.filters(), search(q, {filters})); "feed"
        # counts the sources of each category. Searched by filters alone, the page lists the
        # newest first: Pagefind sorts by "t" within a bundle, not across merged ones, so the
        # page asks each bundle by its "bundle" filter and merges their lists (search.js).
        "filters": {"category": [a.category], "source": [a.source],
                    "feed": [json.dumps([a.category, a.source], ensure_ascii=False)],
                    "bundle": [str(bundle)]},
        "sort": {"t": t},
    }


def published_seconds(published: datetime) -> str:
    """A record's publication time as whole Unix seconds (rounded down), which the search page
    compares with the layout's floor (search_tiers.Layout.floor)."""
    return str(math.floor(aware(published).timestamp()))


def pagefind_language(language: str) -> str:
    # Pagefind keys its stemmers and segmenters by the primary subtag (zh, ja, en).
    return (language.split("-")[0] or "en").lower()


class PagefindService:
    """One ``pagefind --service`` process.

    Requests are written as they come; a reader thread collects the answers, so the two pipes
    never fill up against each other. :meth:`call` waits for every request sent so far and
    raises the first error any of them got.
    """

    def __init__(self, binary: str) -> None:
        # Pagefind's own messages, for error reports; closed in close().
        self._log: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115
        try:
            self._proc = subprocess.Popen(
                [binary, "--service"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=self._log,
            )
        except OSError as e:
            self._log.close()
            raise SearchIndexError(f"cannot start pagefind ({binary}): {e.strerror}") from e
        self._cond = threading.Condition()
        self._sent = self._answered = 0
        self._answers: dict[int, dict[str, Any]] = {}
        self._errors: list[str] = []
        self._eof = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self._proc.pid

    def __enter__(self) -> PagefindService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, payload: Mapping[str, Any]) -> int:
        self._sent += 1
        message = json.dumps({"message_id": self._sent, "payload": payload}).encode("utf-8")
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.write(base64.b64encode(message) + b",")
        except OSError as e:
            raise self._failure(f"pagefind stopped reading ({e.strerror})") from e
        return self._sent

    def call(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        message_id = self.send(payload)
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.flush()
        except OSError as e:
            raise self._failure(f"pagefind stopped reading ({e.strerror})") from e
        with self._cond:
            # An error ends the wait: an unreadable answer is never counted as one.
            if not self._cond.wait_for(
                    lambda: self._answered >= self._sent or self._eof or bool(self._errors),
                    timeout=CALL_TIMEOUT):
                raise self._failure(f"pagefind did not answer within {CALL_TIMEOUT} s")
            if self._errors:
                raise self._failure(self._errors[0])
            if message_id not in self._answers:
                raise self._failure("pagefind stopped before answering")
            return self._answers.pop(message_id)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            if self._proc.stdin is not None:
                self._proc.stdin.close()
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._reader.join(timeout=5)
        self._log.close()

    def _read(self) -> None:
        """The reader thread: whatever ends it, :meth:`call` stops waiting."""
        try:
            self._read_answers()
        finally:
            with self._cond:
                self._eof = True
                self._cond.notify_all()

    def _read_answers(self) -> None:
        assert self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        # A GetFiles answer is tens of megabytes (a top-level shard's bundle, base64 twice):
        # appended in place and decoded through a view, never copied (three copies of it were
        # made before).
        pending = bytearray()
        while chunk := os.read(fd, 1 << 16):
            end = chunk.rfind(b",")
            if end < 0:
                pending += chunk
                continue
            pending += chunk[:end]
            complete, pending = pending, bytearray(chunk[end + 1:])
            with self._cond, memoryview(complete) as view:
                start = 0
                while start <= len(complete):
                    stop = complete.find(b",", start)
                    stop = len(complete) if stop < 0 else stop
                    self._answer(view[start:stop])
                    start = stop + 1
                self._cond.notify_all()

    def _answer(self, message: memoryview) -> None:
        try:
            answer = json.loads(binascii.a2b_base64(message))  # b64decode would copy the view
            payload = answer["payload"]
            kind = payload.get("type")
            message_id = int(answer.get("message_id") or 0)
        except (ValueError, KeyError, TypeError, AttributeError):
            self._errors.append(f"unreadable answer from pagefind: {bytes(message[:80])!r}")
            return
        self._answered += 1
        if kind == "Error":
            self._errors.append(str(payload.get("message")))
        elif kind != "IndexedFile":  # 20,000 of those need not be kept
            self._answers[message_id] = payload

    def _failure(self, message: str) -> SearchIndexError:
        self._log.seek(0)
        detail = self._log.read()[-500:].decode("utf-8", "replace").strip()
        return SearchIndexError(f"search index: {message}" + (f" ({detail})" if detail else ""))
