"""Site search: Pagefind indexes of the articles, in shards so a rebuild re-indexes little.

Pagefind (the PyPI package ``pagefind[extended]``; the extended binary segments Chinese and
Japanese) cannot update an index, only build one, and building costs about 1.5 ms per article.
So the articles, in the order they entered the archive (``first_seen``, not their dates), are
cut into shards of :data:`SHARD_SIZE`, and the newest ones that do not fill a shard yet into
shards of :data:`TAIL_SIZE`; each shard is its own Pagefind bundle in ``pagefind/<k>/``; the
search page loads shard 1 and merges the others (``mergeIndex``). New articles land in the newest
shard whatever their dates (a feed added with last week's items, one catching up after an
outage), so a rebuild re-indexes only that one, and never more than :data:`TAIL_SIZE` articles
but when the tail fills a whole shard. An article changed in place re-indexes its own shard;
only removing articles (prune, forget) shifts the shards after them.

Articles go in as *records* (URL, title + plain text, meta), not as HTML pages: nothing is read
back from disk, and the index holds exactly the current articles even before the writer has
removed the pages of deleted ones.

We talk to ``pagefind --service`` directly (base64 JSON messages, each followed by a comma: the
protocol of Pagefind's Node and Python APIs). The Python API waits 0.1 s between two answers,
which would make 20,000 records take half an hour.

The files of a shard are asked for with ``GetFiles`` and written by rsspage, not by Pagefind's
``WriteFiles``: that answers before its background writes are done, and a shard could be left
with empty files when the service exited (about one build in 30), or on a full disk without any
error. So a bundle is checked (entry readable, every language's metadata there, no empty file)
before it is written, and a failed write is a real error.

The ``pagefind/`` folder is not managed by the output writer: a shard is built in
``pagefind/.tmp-<k>`` and swapped in whole by :meth:`IndexResult.put_in_place`, which the
publish stage calls only after the pages are in place; shard folders past the last one are
removed then. Only folders that hold a ``pagefind-entry.json`` (Pagefind's own) are ever
replaced or deleted.

Failures: a Pagefind failure (:class:`SearchIndexError`) is logged and the site is built without
a fresh index; a file that cannot be written is a :class:`~rsspage.errors.PublishError` that fails
the build, like any other output file.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from rsspage.errors import PublishError
from rsspage.fileio import write_all
from rsspage.publish.site_model import ArticleView, href
from rsspage.publish.site_pages import digest
from rsspage.publish.writer import is_plain_relpath

log = logging.getLogger("rsspage")

#: Folder of the search bundles, relative to the site root.
FOLDER = "pagefind"
#: Articles per shard: about 1.5 s to index, so a rebuild that touches one shard stays short,
#: and Pagefind's peak memory (~70 MB + 0.12 MB per record held) stays near 200 MB.
SHARD_SIZE = 1000
#: Articles per shard among the newest (fewer than SHARD_SIZE) ones: a rebuild after a few new
#: articles re-indexes at most this many (~0.4 s, beside the pages), at the cost of at most
#: SHARD_SIZE / TAIL_SIZE - 1 more bundles for the search page to merge.
TAIL_SIZE = 250
#: Characters of an article's text that are indexed (beyond this, mostly boilerplate).
TEXT_CHARS = 10_000
#: Bump when the records change shape, to re-index every shard.
SEARCH_FORMAT = "search-1"
_ENTRY = "pagefind-entry.json"
#: Longest wait for one answer of Pagefind's (a shard of 1,000 records takes ~1.5 s).
CALL_TIMEOUT = 600
#: Pagefind's ready-made search interfaces: the search page has its own (static/search.js).
_UNUSED_FILES = ("pagefind-ui.", "pagefind-modular-ui.", "pagefind-component-ui.")


class SearchIndexError(PublishError):
    """Pagefind failed or gave an incomplete bundle (the pages can still be published)."""


@dataclass(frozen=True, slots=True)
class Shard:
    number: int
    digest: str
    views: Sequence[ArticleView]

    @property
    def key(self) -> str:
        """Its key among the page hashes (a folder, so it never names a page)."""
        return f"{FOLDER}/{self.number}/"


@dataclass(frozen=True, slots=True)
class IndexResult:
    #: Shard key → digest, for the shards now on disk.
    hashes: dict[str, str] = field(default_factory=dict)
    rebuilt: int = 0
    records: int = 0
    seconds: float = 0.0
    #: False when no Pagefind binary is installed (the site is built without search).
    available: bool = True
    #: (built folder, final folder) of each rebuilt shard, for :meth:`put_in_place`.
    staged: tuple[tuple[Path, Path], ...] = ()
    #: The ``pagefind/`` folder and the number of shards, or None to leave it as it is.
    folder: Path | None = None
    shards: int = 0

    def put_in_place(self) -> None:
        """Swap the rebuilt shards in, remove shards past the last one (after the pages)."""
        for built, final in self.staged:
            _swap(built, final)
        if self.folder is not None:
            _remove_leftovers(self.folder, self.shards)

    def discard(self) -> None:
        """Delete the rebuilt shards (the build failed): the live ones stay as they are."""
        _discard(self.staged)


def plan_shards(views: Sequence[ArticleView], language: str) -> list[Shard]:
    """Cut ``views`` into shards in the order the articles entered the archive (first seen,
    then id; the published time for one not stored yet); each digest covers what its records
    hold. A new article, whatever its date, lands in the newest shard."""
    views = sorted(views, key=_entry_order)
    full = len(views) // SHARD_SIZE * SHARD_SIZE
    starts = [*range(0, full, SHARD_SIZE), *range(full, len(views), TAIL_SIZE)]
    ends = [*starts[1:], len(views)] if starts else []
    shards = []
    for number, (start, end) in enumerate(zip(starts, ends, strict=True), 1):
        part = views[start:end]
        keys = (v.card_key for v in part)
        shards.append(Shard(number, digest(SEARCH_FORMAT, language, *keys), part))
    return shards


def _entry_order(view: ArticleView) -> tuple[datetime, str]:
    article = view.article
    return article.first_seen or article.published, article.id


def update_index(root: Path, shards: Sequence[Shard], previous: Mapping[str, str],
                 language: str, binary: str | None,
                 stop: threading.Event | None = None) -> IndexResult:
    """Build the shards whose digest changed (or whose folder is missing) beside the live ones;
    :meth:`IndexResult.put_in_place` swaps them in and drops shards no longer needed.

    ``binary`` is :func:`find_binary`'s answer (None: no search). ``stop``, when set (the pages
    failed), ends the work at the next shard."""
    started = time.monotonic()
    folder = root / FOLDER
    stale = [s for s in shards
             if previous.get(s.key) != s.digest or not (folder / str(s.number) / _ENTRY).is_file()]
    staged: list[tuple[Path, Path]] = []
    if stale:
        if binary is None:
            log.warning("pagefind is not installed: the site is built without search "
                        "(pip install 'pagefind[extended]')")
            return IndexResult(available=False)
        try:
            staged = _build_shards(binary, root, stale, _pagefind_language(language),
                                   stop or threading.Event())
        except SearchIndexError as e:
            # A search index that could not be refreshed must not cost the pages (rendered
            # meanwhile). Stale shards keep no hash, so the next build tries them again.
            if not (stop and stop.is_set()):  # stopped: the pages' error is the one to report
                log.error("the search index was not updated: %s", e)
            retry = {s.key for s in stale}
            kept = {s.key: s.digest for s in shards if s.key not in retry}
            return IndexResult(hashes=kept, seconds=time.monotonic() - started,
                               available=False)
    return IndexResult(
        hashes={s.key: s.digest for s in shards}, rebuilt=len(stale),
        records=sum(len(s.views) for s in stale), seconds=time.monotonic() - started,
        staged=tuple(staged), folder=folder, shards=len(shards),
    )


def find_binary() -> str | None:
    """The Pagefind binary: ``$PAGEFIND_BINARY_PATH``, the extended PyPI build, or PATH."""
    try:
        from pagefind.service import get_executable
    except ImportError:
        return shutil.which("pagefind_extended") or shutil.which("pagefind")
    try:
        path = get_executable()
    except (OSError, FileNotFoundError):
        return None
    if path is None or not os.access(path, os.X_OK):
        return None
    if "extended" not in path.name:
        log.warning("pagefind without the extended build: Chinese text is not segmented "
                    "(pip install 'pagefind[extended]')")
    return str(path)


def _pagefind_language(language: str) -> str:
    # Pagefind keys its stemmers and segmenters by the primary subtag (zh, ja, en).
    return (language.split("-")[0] or "en").lower()


def _build_shards(binary: str, root: Path, shards: Sequence[Shard], language: str,
                  stop: threading.Event) -> list[tuple[Path, Path]]:
    """Each shard built in ``pagefind/.tmp-<k>``, by one Pagefind process per core the build
    may use (shards are independent); on any failure none is left behind."""
    folder = root / FOLDER
    staged = [(folder / f".tmp-{s.number}", folder / str(s.number)) for s in shards]
    halt = threading.Event()  # set when a worker fails, so the others stop at their next shard
    try:
        folder.mkdir(exist_ok=True)
        # The bundles are not written through the output writer: check the folder here.
        if folder.is_symlink() or not folder.resolve().is_relative_to(root):
            raise PublishError(f"{folder} leads outside the output folder {root}")
        workers = max(1, min(len(shards), _cores()))
        with ThreadPoolExecutor(workers, thread_name_prefix="rsspage-pagefind") as pool:
            jobs = [pool.submit(_build_group, binary, folder, shards[k::workers], language,
                                stop, halt) for k in range(workers)]
            wait(jobs, return_when=FIRST_EXCEPTION)
            if any(job.done() and job.exception() for job in jobs):
                halt.set()  # the others stop at their next shard
        errors = [error for job in jobs if (error := job.exception()) is not None]
        if errors:
            raise errors[0]
        _check_not_stopped(stop)
    except OSError as e:
        _discard(staged)
        raise PublishError(f"cannot write the search index: {e.strerror or e}") from e
    except BaseException:
        _discard(staged)
        raise
    return staged


def _build_group(binary: str, folder: Path, shards: Sequence[Shard], language: str,
                 stop: threading.Event, halt: threading.Event) -> None:
    # One process, one shard after another: starting Pagefind costs most of a second.
    with PagefindService(binary) as service:
        for shard in shards:
            _check_not_stopped(stop)
            if halt.is_set():
                return
            _write_bundle(folder / f".tmp-{shard.number}", _bundle(service, shard, language))


def _cores() -> int:
    """Cores this process may run on (``taskset`` and cgroup CPU sets count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _check_not_stopped(stop: threading.Event) -> None:
    if stop.is_set():
        raise SearchIndexError("search index: stopped, the pages failed")


def _bundle(service: PagefindService, shard: Shard, language: str) -> dict[str, bytes]:
    """The files of one shard's Pagefind bundle (path → content), checked to be whole."""
    index_id = service.call({"type": "NewIndex", "config": {"force_language": language}}).get(
        "index_id")
    if not isinstance(index_id, int):
        raise SearchIndexError(f"search index: pagefind gave no index ({index_id!r})")
    for view in shard.views:
        service.send(_record(index_id, view, language))
    answer = service.call({"type": "GetFiles", "index_id": index_id})
    service.call({"type": "DeleteIndex", "index_id": index_id})
    try:
        files = {str(f["path"]): base64.b64decode(f["content"]) for f in answer["files"]
                 if not str(f["path"]).startswith(_UNUSED_FILES)}
    except (KeyError, TypeError, ValueError) as e:
        raise SearchIndexError(f"search index: unreadable files from pagefind ({e})") from e
    _check_bundle(files)
    return files


def _check_bundle(files: Mapping[str, bytes]) -> None:
    """Refuse a bundle a browser could not load: no entry, a missing metadata file, an empty
    file, or a path that is not a plain relative one."""
    try:
        entry = json.loads(files[_ENTRY])
        metas = [f"pagefind.{lang['hash']}.pf_meta" for lang in entry["languages"].values()]
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise SearchIndexError(f"search index: pagefind gave no readable entry ({e})") from e
    empty = [path for path, data in files.items() if not data]
    missing = [meta for meta in metas if meta not in files]
    odd = [path for path in files if not is_plain_relpath(path)]
    if empty or missing or odd:
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


def _discard(staged: Sequence[tuple[Path, Path]]) -> None:
    for built, _final in staged:
        shutil.rmtree(built, ignore_errors=True)


def _record(index_id: int, view: ArticleView, language: str) -> dict[str, Any]:
    a = view.article
    return {
        "type": "AddRecord", "index_id": index_id, "url": href(view.path),
        "content": f"{a.title}\n{a.text[:TEXT_CHARS]}", "language": language,
        "meta": {"title": a.title, "source": f"{a.source} › {a.channel}", "date": view.when},
        "filters": None, "sort": None,
    }


def _swap(tmp: Path, final: Path) -> None:
    """Put the new shard in place; the old one is renamed away first, then deleted."""
    old = final.with_name(f".old-{final.name}")
    try:
        if final.exists():
            if not (final / _ENTRY).is_file():
                raise PublishError(f"{final} is not a Pagefind index; refusing to replace it")
            shutil.rmtree(old, ignore_errors=True)
            final.rename(old)
        tmp.rename(final)
    except OSError as e:
        raise PublishError(f"cannot put search index {final} in place: {e.strerror}") from e
    shutil.rmtree(old, ignore_errors=True)


def _leftovers(folder: Path, count: int) -> list[Path]:
    """Shard folders past ``count`` and temporaries of an interrupted build."""
    if not folder.is_dir():
        return []
    found = []
    for entry in folder.iterdir():
        name = entry.name
        numbered = name.isdigit() and int(name) > count and (entry / _ENTRY).is_file()
        if numbered or name.startswith((".tmp-", ".old-")):
            found.append(entry)
    return found


def _remove_leftovers(folder: Path, count: int) -> None:
    for entry in _leftovers(folder, count):
        shutil.rmtree(entry, ignore_errors=True)


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
            if not self._cond.wait_for(lambda: self._answered >= self._sent or self._eof,
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
        assert self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        pending = bytearray()  # a GetFiles answer is megabytes: append, never re-concatenate
        while chunk := os.read(fd, 1 << 16):
            end = chunk.rfind(b",")
            if end < 0:
                pending += chunk
                continue
            messages = bytes(pending + chunk[:end]).split(b",")
            pending = bytearray(chunk[end + 1:])
            with self._cond:
                for message in messages:
                    self._answer(message)
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def _answer(self, message: bytes) -> None:
        try:
            answer = json.loads(base64.b64decode(message))
            payload = answer["payload"]
        except (ValueError, KeyError, TypeError):
            self._errors.append(f"unreadable answer from pagefind: {message[:80]!r}")
            return
        self._answered += 1
        if payload.get("type") == "Error":
            self._errors.append(str(payload.get("message")))
        elif payload.get("type") != "IndexedFile":  # 20,000 of those need not be kept
            self._answers[int(answer.get("message_id") or 0)] = payload

    def _failure(self, message: str) -> SearchIndexError:
        self._log.seek(0)
        detail = self._log.read()[-500:].decode("utf-8", "replace").strip()
        return SearchIndexError(f"search index: {message}" + (f" ({detail})" if detail else ""))
