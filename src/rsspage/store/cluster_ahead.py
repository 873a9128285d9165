"""The clusters' pass decided ahead: in a second process, while the run's feeds are stored.

An update's pass (store/clusters.py) reads the archive and decides in Python, some 0.65 ms an
article, after the feeds are stored: on one core, while the second idles (parsing and storing
are one thread; Pagefind starts only with the site). What it decides is known before the feeds
are stored, though: which articles it files (the new visible ones, with their titles, texts,
dates and sources, as the store will queue them) and the archive it compares them with
(storing a feed changes no cluster or count, and a filed article only when its feed edited
it). So an update with a second core
starts ``python -m rsspage.store.cluster_ahead`` (:meth:`Ahead.spawn`), which opens the
archive read-only while the feeds are fetched; gives it each feed's new articles as the feed
is parsed (:meth:`Ahead.give`: it computes their features meanwhile); and once all are parsed
(:meth:`Ahead.seal`), the child decides the pass with the pass's own code
(:func:`clusters.decide_pass`) while the parent stores the feeds.

The pass takes those decisions (:meth:`Ahead.take`) only when they are for exactly the articles
queued: the same ids, titles, texts, dates and sources, in the same order, none filed before;
the new articles' rowids in the order the child assumed (ties between candidates go to the
newest); no other pass filed articles in between (the counts' total is the one the child
read, plus its articles); and no article whose row the decisions read changed while the feeds
were stored (a feed's edited item: the change log since the child started). Otherwise (a
story stored as another feed's copy, an edited item the child read, a child that died or
failed, fewer than :data:`FROM` new articles) the pass decides as it would without: the
clusters are the same either way (tests/test_cluster_ahead.py), only the time differs.
"""

from __future__ import annotations

import logging
import os
import pickle
import queue
import subprocess
import sys
import threading
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

from rsspage.clusters import HEAD_CHARS
from rsspage.store import changes, clusters, db
from rsspage.store.cluster_pass import Known
from rsspage.store.clusters import Filing, Row
from rsspage.store.db import Connection, Where, open_reader, utc_text
from rsspage.types import Article

log = logging.getLogger("rsspage")

#: The fewest new articles whose pass is decided ahead: under it, the pass costs about what
#: handing its articles over does.
FROM = 200
#: Seconds the pass waits for the child's decisions before deciding itself.
WAIT = 120.0
#: The rowid the child gives the first new article: above any real one, so that (as their
#: real rowids will) the new articles rank after the archive's in ties, in the order stored.
_BASE = 1 << 60
#: Rowids a feed's new articles may take (a feed's position in the run times this, plus the
#: article's in the feed: the order they are stored in).
_PER_FEED = 1 << 24
#: What the child runs (not ``-m``: this module is imported with the store's package first;
#: ``-P``: not from the current folder, from the parent's rsspage: :func:`_environment`).
_CHILD = "import sys; from rsspage.store.cluster_ahead import main; sys.exit(main())"
#: Ends the feeder thread (None, the end of the articles, is a message to the child).
_STOP = object()


class Ahead:
    """A child process deciding a pass (see the module docstring)."""

    def __init__(self, process: subprocess.Popen[bytes], where: Where, mark: int) -> None:
        self._process = process
        #: The change log's mark when the child started: what changed after, it may not see.
        self._mark = mark
        #: The articles given, by the rowid they were given (the order they are stored in).
        self._given: dict[int, Row] = {}
        # Messages go through a thread: the child reads them as it can, and the parent goes on
        # parsing and storing meanwhile. The pipe is the feeder's alone (communicate() reads).
        self._outbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        pipe, process.stdin = process.stdin, None
        self._feeder = threading.Thread(target=_send, args=(pipe, self._outbox), daemon=True)
        self._feeder.start()
        self._outbox.put(where)  # the URL of a PostgreSQL store: on the pipe only
        self._sealed = False

    @classmethod
    def spawn(cls, conn: Connection) -> Ahead | None:
        """A child process for the pass over the archive of ``conn``: it opens the archive and
        waits for the articles. None when clusters are off or there is no second core."""
        if not clusters.ENABLED or _cores() < 2:
            return None
        try:
            process = subprocess.Popen(
                [sys.executable, "-P", "-c", _CHILD], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_environment())
        except OSError as e:
            log.debug("clusters: no process to decide ahead (%s)", e)
            return None
        return cls(process, conn.where(), changes.mark(conn).seq)

    def give(self, position: int, new: Iterable[Article]) -> None:
        """The new visible articles of the feed stored ``position``-th in the run, in the
        order it stores them (their ids and stories unknown to the archive)."""
        base = _BASE + position * _PER_FEED
        rows: list[Row] = [(base + n, a.id, a.title, a.text[:HEAD_CHARS],
                            utc_text(a.published), a.source, None, False)
                           for n, a in enumerate(new)]
        self._given.update((row[0], row) for row in rows)
        if rows:
            self._outbox.put(rows)

    def seal(self) -> None:
        """Every article is given: the child decides (or ends, with too few for it to pay)."""
        if len(self._given) < FROM:
            self.close()
        else:
            self._outbox.put(None)
            self._outbox.put(_STOP)
            self._sealed = True

    def take(self, conn: Connection, rows: list[Row]) -> Filing | None:
        """The child's decisions for the queued ``rows`` (publication order), their rowids
        made the real ones; None when they are for other articles or the child failed."""
        filing = self._result() if self._sealed else None
        if filing is None or not self._matches(conn, rows, filing):
            return None
        real = dict(zip((k.rowid for k in filing.new), (row[0] for row in rows), strict=True))
        new = [replace(known, rowid=real[known.rowid]) for known in filing.new]
        joins = [(cluster, real.get(rowid, rowid)) for cluster, rowid in filing.joins]
        log.debug("clusters: the pass of %d articles was decided ahead", len(new))
        return Filing(new, joins, filing.counts)

    def close(self) -> None:
        """End the child if it still runs (not needed, or a run that failed before its pass)."""
        self._sealed = False
        if self._process.returncode is None:
            self._outbox.put(_STOP)
            self._process.kill()
            self._process.communicate()

    def _matches(self, conn: Connection, rows: list[Row], filing: Filing) -> bool:
        """Whether ``filing`` was decided for the queued ``rows`` and the archive as it is
        (see the module docstring); why not is logged."""
        why = self._refusal(conn, rows, filing)
        if why:
            log.debug("clusters: the pass decided ahead is not taken: %s", why)
        return not why

    def _refusal(self, conn: Connection, rows: list[Row], filing: Filing) -> str:
        """Why ``filing`` does not hold for the queued ``rows``; "" when it does."""
        given = sorted(self._given.values(), key=lambda row: (row[4], row[1]))
        if [row[1:] for row in given] != [row[1:] for row in rows]:
            return "other articles, texts or dates, or some filed before"
        if [k.rowid for k in filing.new] != [row[0] for row in given]:
            return "not its answer to them"
        stored = sorted(rows, key=lambda row: row[0])
        if [row[1] for row in stored] != [self._given[r][1] for r in sorted(self._given)]:
            return "stored in another order"
        (counted,) = conn.execute(
            "SELECT COALESCE(MAX(articles), 0) FROM cluster_counts").fetchone()
        if filing.counts is None or filing.counts.articles != counted + len(rows):
            return "another pass counted articles"
        if self._read_changed(conn, rows, filing):
            return "articles it read changed"
        return ""

    def _read_changed(self, conn: Connection, rows: list[Row], filing: Filing) -> bool:
        """Whether storing the feeds changed an article whose row the decisions read (a
        feed's edited item: its date, source, title or text), or one of a cluster whose
        members' sources they read."""
        queued = {row[1] for row in rows}  # new: their rows are those compared above
        changed = [ident for (ident,) in conn.execute(
            "SELECT DISTINCT id FROM changes WHERE seq > ?", (self._mark,))
            if ident not in queued]
        if not changed:
            return False
        if not filing.read.isdisjoint(changed):
            return True
        (in_changed, listed), (in_clusters, clusters) = (
            db.one_of(conn, changed), db.one_of(conn, sorted(filing.clusters)))
        return conn.execute(
            f"SELECT 1 FROM articles WHERE id {in_changed} AND cluster {in_clusters} LIMIT 1",
            (listed, clusters)).fetchone() is not None

    def _result(self) -> Filing | None:
        """What the child decided, once it is done; None if it failed."""
        try:
            out, err = self._process.communicate(timeout=WAIT)
        except subprocess.TimeoutExpired:
            self.close()
            log.debug("clusters: the pass decided ahead took too long")
            return None
        if self._process.returncode != 0 or not out:
            log.debug("clusters: the pass decided ahead failed: %s",
                      err.decode(errors="replace").strip()[-500:])
            return None
        filing = pickle.loads(out)  # our own child's output (the same code)
        return filing if isinstance(filing, Filing) else None


def _send(pipe: IO[bytes] | None, outbox: queue.SimpleQueue[Any]) -> None:
    """Write each message of ``outbox`` on the child's input, pickled, until :data:`_STOP`."""
    assert pipe is not None
    try:
        with pipe:
            while (message := outbox.get()) is not _STOP:
                pickle.dump(message, pipe, protocol=pickle.HIGHEST_PROTOCOL)
                pipe.flush()
    except OSError:  # the child died: take() finds it out
        pass


def _cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _environment() -> dict[str, str]:
    """The child's environment: this one, with the folder this rsspage was imported from
    first on its path (the same code decides, even when run from a source tree)."""
    here = str(Path(__file__).resolve().parents[2])
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": here + (os.pathsep + path if path else "")}


def _decide(stdin: IO[bytes]) -> Filing | None:
    """The child's work (see :func:`main`); None: not needed."""
    where: Where = pickle.load(stdin)
    conn = open_reader(where)
    try:
        reading = clusters.Reading(conn)  # the counts, while the parent fetches
        given: list[tuple[str, Known]] = []
        while (rows := pickle.load(stdin)) is not None:
            new = [clusters.new_known(row) for row in rows]
            reading.add(new)  # while the parent parses the next feeds
            given += zip((row[4] for row in rows), new, strict=True)
        # The pass's order (clusters.queued_rows): publication time as stored, then id.
        given.sort(key=lambda item: (item[0], item[1].id))
        return reading.decide([known for _, known in given])
    except EOFError:
        return None
    finally:
        conn.close()


def main() -> int:
    """The child: read where the archive is on standard input, open it and read the feature
    counts; then lists of new articles (:data:`Row`), until None; write the pickled
    :class:`Filing` of their pass out. An input that ends before None ends it."""
    try:
        filing = _decide(sys.stdin.buffer)
    except Exception as e:  # the parent decides itself; the error (no URL in it) is logged
        print(f"{type(e).__name__}: {e}", file=sys.stderr)
        return 1
    if filing is not None:
        sys.stdout.buffer.write(pickle.dumps(filing, protocol=pickle.HIGHEST_PROTOCOL))
    return 0


