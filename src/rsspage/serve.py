"""`rsspage serve`: a local preview server for the built site that rebuilds when the store changes.

Static files are served by the standard library (``ThreadingHTTPServer`` with a
``SimpleHTTPRequestHandler`` rooted at the site folder) on 127.0.0.1 by default, with content
types a static host would send (``application/wasm`` for Pagefind's engine, UTF-8 text types),
the site's own ``404.html`` for missing paths, no directory listings, and ``no-cache`` so that a
rebuilt page shows on reload.

Requests are untrusted, even on 127.0.0.1 (any web page the browser opens can send some). A path
that is not valid percent-encoded UTF-8 or holds a control character (``/index.html%00.png``) is
a 400. The path is resolved with symbolic links followed and served only when it stays inside the
site folder (``Path.resolve`` + ``is_relative_to``), as a regular file: a link to ``/etc/passwd``,
``..``, dot files (rsspage's records of its files) and FIFOs are "not found". An error while
answering is one line on the log, never a traceback, and log lines escape control characters.

A watcher thread polls the state database file and its ``-wal`` (mtime and size, about once a
second). When they changed and then stayed still for one poll — an ``update`` run writes for a
while — it calls ``rebuild()``. Rebuilds run one at a time on that thread; an error is printed
and the server carries on. The signature is taken again after each rebuild, so writes the
rebuild itself makes to the store (page hashes) do not trigger another one.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from rsspage.errors import RsspageError

#: Seconds between two looks at the watched files.
POLL_SECONDS = 1.0

_UTF8 = "; charset=utf-8"
#: Content types by suffix; the rest come from :mod:`mimetypes`.
CONTENT_TYPES = {
    ".html": "text/html" + _UTF8,
    ".htm": "text/html" + _UTF8,
    ".css": "text/css" + _UTF8,
    ".js": "text/javascript" + _UTF8,
    ".mjs": "text/javascript" + _UTF8,
    ".json": "application/json" + _UTF8,
    ".xml": "application/xml" + _UTF8,
    ".txt": "text/plain" + _UTF8,
    ".svg": "image/svg+xml",
    ".wasm": "application/wasm",
    ".webp": "image/webp",
    # Pagefind's index files: gzip data that its own script inflates.
    ".pf_meta": "application/octet-stream",
    ".pf_index": "application/octet-stream",
    ".pf_fragment": "application/octet-stream",
    ".pf_filter": "application/octet-stream",
}

Log = Callable[[str], None]


class _Refused(Exception):
    """A request path that is answered with ``status`` and nothing from the disk."""

    def __init__(self, status: HTTPStatus) -> None:
        super().__init__(status)
        self.status = status


#: Control characters have no place in a path; NUL would even reach the file system's calls.
_CONTROL = frozenset(map(chr, [*range(0x20), *range(0x7F, 0xA0)]))
#: How log lines show them (as the standard library's own log does): no terminal escapes.
_LOG_ESCAPES = str.maketrans({ch: f"\\x{ord(ch):02x}" for ch in _CONTROL} | {"\\": "\\\\"})


class SiteHandler(SimpleHTTPRequestHandler):
    """Serves one built site folder; set up through :func:`_handler_class`."""

    #: Where lines about requests go; None keeps the server quiet.
    log: Log | None = None
    #: An answer to a request line that does not parse has a status line too (the standard
    #: library answers it as HTTP/0.9: the bare page, which no client reads as a 400).
    default_request_version = "HTTP/1.0"

    def guess_type(self, path: str | os.PathLike[str]) -> str:
        suffix = Path(str(path)).suffix.lower()
        return CONTENT_TYPES.get(suffix) or super().guess_type(path)

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def send_head(self) -> Any:
        try:
            return super().send_head()  # which asks translate_path for the file
        except _Refused as refused:
            self.send_error(refused.status)
            return None

    def translate_path(self, path: str) -> str:
        """The file or folder ``path`` names, resolved inside the site; else raises _Refused.

        For a folder asked with its final ``/``, its ``index.html`` (the standard library would
        also take an ``index.htm`` it has not checked)."""
        text = _url_path(path)
        # Dot files (rsspage's records of its files, a journal) are not part of the site.
        parts = [part for part in text.split("/") if part]
        if any(part.startswith(".") for part in parts):
            raise _Refused(HTTPStatus.NOT_FOUND)
        target = self._inside(Path(self.directory).joinpath(*parts))
        if target.is_dir() and text.endswith("/"):
            target = self._inside(target / "index.html")
        elif not target.is_dir() and not target.is_file():
            raise _Refused(HTTPStatus.NOT_FOUND)
        return str(target)

    def _inside(self, path: Path) -> Path:
        """``path`` resolved, when it exists inside the site folder as a folder or a file."""
        root = Path(self.directory).resolve()
        try:
            resolved = path.resolve()
            usable = resolved.is_relative_to(root) and (resolved.is_dir() or resolved.is_file())
        except (OSError, ValueError, RuntimeError):  # a name too long; a loop of links
            usable = False
        if not usable:
            raise _Refused(HTTPStatus.NOT_FOUND)
        return resolved

    def list_directory(self, path: str | os.PathLike[str]) -> None:
        # A folder without index.html is "not found" on a static host too.
        self.send_error(HTTPStatus.NOT_FOUND)
        return None

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        body = self._not_found_page() if code == HTTPStatus.NOT_FOUND else None
        if body is None:
            super().send_error(code, message, explain)
            return
        self.send_response(code, message)
        self.send_header("Content-Type", CONTENT_TYPES[".html"])
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _not_found_page(self) -> bytes | None:
        """The site's own 404.html (checked as any file served), None when it has none."""
        try:
            return self._inside(Path(self.directory) / "404.html").read_bytes()
        except (_Refused, OSError):
            return None

    def log_message(self, format: str, *args: Any) -> None:
        if self.log is not None:  # escaped as the standard library does: no terminal codes
            message = (format % args).translate(_LOG_ESCAPES)
            self.log(f"{self.address_string()} {message}")


def _url_path(path: str) -> str:
    """The decoded path of a request target; _Refused (400) when it is malformed."""
    raw = path.split("?", 1)[0].split("#", 1)[0]
    try:
        text = unquote(raw, errors="strict")
    except UnicodeDecodeError as e:  # not UTF-8, or an encoded surrogate
        raise _Refused(HTTPStatus.BAD_REQUEST) from e
    if not _CONTROL.isdisjoint(text):
        raise _Refused(HTTPStatus.BAD_REQUEST)
    return text


def _handler_class(site_dir: Path, log: Log | None) -> Callable[..., SiteHandler]:
    handler = type("BoundSiteHandler", (SiteHandler,), {"log": staticmethod(log) if log else None})
    return functools.partial(handler, directory=str(site_dir))


# --------------------------------------------------------------------------- watching


Signature = tuple[tuple[int, int] | None, ...]


def signature(paths: tuple[Path, ...]) -> Signature:
    """(mtime_ns, size) of each path, None for a missing one."""
    marks: list[tuple[int, int] | None] = []
    for path in paths:
        try:
            stat = path.stat()
        except OSError:
            marks.append(None)
        else:
            marks.append((stat.st_mtime_ns, stat.st_size))
    return tuple(marks)


#: What is watched: the SQLite file (and its ``-wal``), or a function saying where a database
#: server's store stands (PostgreSQL: its change log's mark and the feeds' last fetch).
Watched = Path | Callable[[], object]


class Watcher(threading.Thread):
    """Calls ``rebuild`` when the watched store changed and then settled for one poll."""

    def __init__(self, db: Watched, rebuild: Callable[[], None], interval: float,
                 log: Log) -> None:
        super().__init__(name="rsspage-watch", daemon=True)
        if isinstance(db, Path):
            paths = (db, db.with_name(db.name + "-wal"))
            self._probe: Callable[[], object] = lambda: signature(paths)
        else:
            self._probe = db
        self._rebuild, self._interval, self._log = rebuild, interval, log
        self._halt = threading.Event()

    def run(self) -> None:
        built = last = self._look()
        while not self._halt.wait(self._interval):
            now = self._look()
            if now != built and now == last:
                self._run_rebuild()
                # Whatever the rebuild wrote to the store is not a change to react to.
                now = self._look()
                built = now
            last = now

    def _look(self) -> object:
        try:
            return self._probe()
        except RsspageError as e:  # a database server away for a moment: look again later
            self._log(f"cannot look at the store: {e}")
            return None

    def stop(self) -> None:
        self._halt.set()

    def _run_rebuild(self) -> None:
        try:
            self._rebuild()
        except RsspageError as e:
            self._log(f"rebuild failed: {e}")
        except Exception:  # a bug in a rebuild must not take the preview down
            self._log("rebuild failed (internal error):\n" + traceback.format_exc())


# --------------------------------------------------------------------------- serving


class QuietServer(ThreadingHTTPServer):
    """A browser that leaves a page mid-load resets its connections: that is no error. Any
    other error while answering is one line on stderr: requests are the client's to choose,
    and a traceback for each would bury the log."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError):
            return
        _stderr(f"error answering {client_address[0]}: {type(error).__name__}: {error}")


@contextlib.contextmanager
def serving(
    site_dir: Path,
    port: int = 0,
    *,
    rebuild: Callable[[], None] | None = None,
    watch: Watched | None = None,
    host: str = "127.0.0.1",
    interval: float = POLL_SECONDS,
    log: Log | None = None,
) -> Iterator[str]:
    """Serve ``site_dir`` in background threads; yields the base URL (``http://127.0.0.1:N/``).

    ``port=0`` picks a free port. With ``rebuild`` and ``watch``, changes to the ``watch`` file
    (or its ``-wal``) call ``rebuild()``. Request lines go to ``log`` (none when None); rebuild
    errors go to ``log`` or, without one, to stderr.
    """
    try:
        server = QuietServer((host, port), _handler_class(site_dir, log))
    except OSError as e:
        raise RsspageError(f"cannot serve on {host}:{port}: {e.strerror or e}") from e
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="rsspage-serve",
        daemon=True,
    )
    watcher = None
    if rebuild is not None and watch is not None:
        watcher = Watcher(watch, rebuild, interval, log or _stderr)
        watcher.start()
    thread.start()
    try:
        yield f"http://{_url_host(host)}:{server.server_address[1]}/"
    finally:
        if watcher is not None:
            watcher.stop()
        server.shutdown()
        server.server_close()
        thread.join()
        if watcher is not None:
            watcher.join()


def serve(
    site_dir: Path,
    port: int,
    rebuild: Callable[[], None] | None,
    watch: Watched | None,
    host: str = "127.0.0.1",
) -> None:
    """Serve until Ctrl+C, one line per request on stderr."""
    with serving(site_dir, port, rebuild=rebuild, watch=watch, host=host, log=_stderr) as url:
        print(f"Serving {site_dir} at {url}  (Ctrl+C to stop)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
