"""Crashes and concurrency (issue 4): SIGKILL at random moments, two runs at once, a full disk.

Everything runs the real CLI in a subprocess over feeds served on 127.0.0.1, with a real SQLite
state and real output folders (Hexo posts and the built-in site, whose search index is built by
the real Pagefind).

Kill moments are pure timing, seen from outside: the test watches what any observer could (the
server's request count, the articles readable in the database, the output folders appearing)
and kills the process a seeded random delay after one of those marks. The delays are drawn from
the phase lengths of an uninterrupted reference run, so every phase gets hit: fetch, the store
transactions, Hexo posts, site pages and the search index.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import random
import re
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

import rsspage
from records import has_manifest, read_manifest
from servers import Exchange, LocalServer, feed, slow

SEED = 20240611
BASE = 1_700_000_000  #: publication time of the first article (fixed dates: no run-time output)
#: Pages that legitimately depend on when the run happened: the feed health page shows the time
#: of each feed's last successful fetch.
RUN_TIME_PAGES = frozenset({"health.html"})
TEMP_MARKERS = (".rsspage-tmp",)  #: suffix of the writer's in-flight files
MANIFEST_TEMP = re.compile(r"\.(hexo|site)-manifest\.json\..+")
MANIFEST_NAME = ".rsspage-manifest.json"
HEXO_KEYS = ["title", "categories", "headimg", "author", "comments", "date", "thumbnail"]


# --------------------------------------------------------------------------- feeds and configs


def rss(feed_no: int, items: int, big: int = 0, body_bytes: int = 0) -> bytes:
    """A feed of ``items`` articles then ``big`` ones with ``body_bytes`` more text each, with
    fixed, distinct dates (so that no output depends on when it was built). Each article tells
    a story of its own, in words of its own: articles of one template look like one story to
    the story clusters, which are decided as articles arrive (a run interrupted between feeds
    may group borderline reports otherwise than an uninterrupted one)."""
    entries = []
    for j in range(items + big):
        n = feed_no * 1000 + j
        stamp = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(BASE + n * 97))
        words, more = (story_words(n, k) for k in (0, 1))
        text = f"{more} " * 40 + ("x" * body_bytes if j >= items else "")
        entries.append(
            f"<item><title>{words}（{n}）</title>"
            f"<link>http://example.com/{feed_no}/{j}</link><guid>g-{feed_no}-{j}</guid>"
            f"<pubDate>{stamp}</pubDate><description><![CDATA[<p>正文 {n} {words} {text}</p>"
            f"<img src='http://example.com/{n}.jpg'>]]></description></item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>源 {feed_no}</title><link>http://example.com/{feed_no}</link>"
        f"<description>d</description>{''.join(entries)}</channel></rss>"
    ).encode()


def story_words(n: int, k: int) -> str:
    """Eight CJK characters of article ``n``'s own (``k``: another eight)."""
    return "".join(chr(0x4E00 + (n * 7919 + (k * 8 + c) * 104729) % 20000) for c in range(8))


def write_config(folder: Path, server: LocalServer, feeds: int, *, hexo: str | None = "hexo",
                 site: str | None = "site", state: str = "state", concurrency: int = 16,
                 name: str = "rsspage.yml") -> Path:
    config = {
        "site": {"title": "崩溃测试", "url": "https://news.example.com/"},
        "rsshub": {"instances": [server.url("")]},
        "feeds": [
            {"url": server.url(f"/f/{i}"), "category": f"分类{i % 4}", "source": f"来源{i % 40}",
             "channel": f"频道{i}"}
            for i in range(feeds)
        ],
        "fetch": {"timeout": 20, "retries": 0, "concurrency": concurrency,
                  "per_host": concurrency},
        "output": {"state": state, "hexo": hexo, "site": site},
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- processes


#: PYTHONPATH for the CLI processes; set to a frozen copy of the package by ``frozen_code``.
_PYTHONPATH: dict[str, str] = {}


@pytest.fixture
def frozen_code(tmp_path: Path) -> Iterator[None]:
    """Run the CLI from a copy of the package taken now, so that every run of a test compares
    the same code (a multi-minute test must not see an edit of a template halfway through)."""
    copy = tmp_path / "code"
    shutil.copytree(Path(rsspage.__file__).parent, copy / "rsspage",
                    ignore=shutil.ignore_patterns("__pycache__"))
    _PYTHONPATH["PYTHONPATH"] = str(copy)
    yield
    _PYTHONPATH.clear()


@dataclass
class Run:
    """One `rsspage` process, in its own session so that its children can be found."""

    proc: subprocess.Popen[bytes]
    out: Path
    err: Path
    started: float = field(default_factory=time.monotonic)

    @classmethod
    def start(cls, *args: str, folder: Path,
              preexec: Callable[[], None] | None = None) -> Run:
        stamp = time.monotonic_ns()
        out, err = folder / f"out-{stamp}.txt", folder / f"err-{stamp}.txt"
        env = {**os.environ, "PYTHONWARNINGS": "ignore", **_PYTHONPATH}
        with out.open("wb") as o, err.open("wb") as e:
            proc = subprocess.Popen([sys.executable, "-m", "rsspage.cli", *args], stdout=o,
                                    stderr=e, env=env, start_new_session=True,
                                    preexec_fn=preexec)
        return cls(proc, out, err)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait(self, timeout: float = 120) -> tuple[int, str, str]:
        code = self.proc.wait(timeout)
        return code, self.out.read_text("utf-8"), self.err.read_text("utf-8")

    def kill(self) -> bool:
        """SIGKILL the rsspage process only (as `kill -9` would); True if it was still running.

        Its children (Pagefind) lose their pipe and must go away by themselves: we wait for them,
        and a stray one fails the test.
        """
        hit = self.alive()
        if hit:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)
        stray = wait_for_group_exit(self.proc.pid, within=15)
        assert not stray, f"processes left running after the kill: {stray}"
        return hit


def group_members(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                members.append(int(entry.name))
    return members


def wait_for_group_exit(pgid: int, within: float) -> list[int]:
    deadline = time.monotonic() + within
    while (members := group_members(pgid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in members:  # only processes this test started (its session); do not leak them
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    return members


# --------------------------------------------------------------------------- state and outputs


def db_path(state: Path) -> Path:
    return state / "rsspage.sqlite3"


def article_count(state: Path) -> int:
    """Articles readable right now (0 when the database or its schema is not there yet)."""
    db = db_path(state)
    if not db.exists():
        return 0
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            return int(conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def committed_ids(state: Path) -> set[str]:
    """With a fresh connection: check integrity, return every article id (never creates a db)."""
    db = db_path(state)
    if not db.exists():
        return set()
    conn = sqlite3.connect(f"file:{db}?mode=rw", uri=True, timeout=10)
    try:
        check = [row[0] for row in conn.execute("PRAGMA integrity_check")]
        assert check == ["ok"], f"integrity_check: {check}"
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "articles" not in tables:
            return set()
        return {row[0] for row in conn.execute("SELECT id FROM articles")}
    finally:
        conn.close()


def tree(root: Path, skip: frozenset[str] = frozenset()) -> dict[str, str]:
    """Relative path → sha256 of every file under ``root``."""
    if not root.is_dir():
        return {}
    return {
        rel: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*") if p.is_file() and (rel := p.relative_to(root).as_posix())
        not in skip and not p.name.startswith(".rsspage-")  # rsspage's records
    }


def site_tree(site: Path) -> dict[str, str]:
    """:func:`tree` of the site, with the search index as what it holds (the pages each shard
    indexes, a shard's bytes aside): the shards follow the order articles entered the archive,
    and a run killed half-way stores some of them later than an uninterrupted run would."""
    files = {rel: h for rel, h in tree(site, RUN_TIME_PAGES).items()
             if not rel.startswith("pagefind/")}
    urls = sorted(json.loads(gzip.decompress(f.read_bytes()).removeprefix(b"pagefind_dcd"))["url"]
                  for f in site.glob("pagefind/[0-9]*/fragment/*.pf_fragment"))
    files["pagefind: indexed pages"] = hashlib.sha256("\n".join(urls).encode()).hexdigest()
    files["pagefind: shards"] = str(len(list(site.glob("pagefind/[0-9]*"))))
    return files


def state_files(state: Path) -> list[str]:
    """The state folder's files, less a manifest temporary left by a kill while the manifest
    was saved: a known bug, see test_manifest_temporary_left_by_a_kill_is_swept."""
    return sorted(p.name for p in state.iterdir() if not MANIFEST_TEMP.fullmatch(p.name))


def leftovers(*roots: Path) -> list[str]:
    """Temporary files and folders an interrupted build may leave (none may survive a run)."""
    found = []
    for root in roots:
        if not root.is_dir():
            continue
        for p in root.rglob("*"):
            name = p.name
            if name.endswith(TEMP_MARKERS) or (p.parent.name == "pagefind"
                                               and name.startswith((".tmp-", ".old-"))):
                found.append(p.relative_to(root).as_posix())
    return found


class BrokenSearchIndex(AssertionError):
    """A Pagefind bundle in place is incomplete (empty or unreadable files)."""


def check_search_index(site: Path) -> None:
    """Each shard in place is a whole Pagefind bundle: its entry parses, no file is empty."""
    for shard in (site / "pagefind").glob("[0-9]*"):
        empty = sorted(p.name for p in shard.rglob("*") if p.is_file() and not p.stat().st_size)
        try:
            entry = json.loads((shard / "pagefind-entry.json").read_bytes())
            metas = [shard / f"pagefind.{lang['hash']}.pf_meta"
                     for lang in entry["languages"].values()]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise BrokenSearchIndex(f"{shard}: unreadable entry ({e}); empty: {empty[:5]}") from e
        if empty or not all(meta.is_file() for meta in metas):
            raise BrokenSearchIndex(f"{shard}: empty files {empty[:5]} or missing {metas}")


def check_whole_files(hexo: Path, site: Path) -> None:
    """Every published file is complete: posts parse, pages end with </html>, feeds parse, the
    search index is whole."""
    for post in hexo.rglob("*.md") if hexo.is_dir() else []:
        text = post.read_text("utf-8")
        assert text.startswith("---\n"), post
        head, body = text[4:].split("\n---\n", 1)
        meta = yaml.safe_load(head)
        assert list(meta) == HEXO_KEYS, post
        assert body.rstrip().endswith("阅读原文</a></p>"), f"{post}: cut off"
    for page in site.rglob("*") if site.is_dir() else []:
        if not page.is_file() or "pagefind" in page.relative_to(site).parts:
            continue
        if page.suffix == ".html":
            assert page.read_bytes().rstrip().endswith(b"</html>"), f"{page}: cut off"
        elif page.suffix in (".xml", ".opml", ".atom", ".rss"):
            ET.fromstring(page.read_bytes())
        elif page.suffix == ".json":
            json.loads(page.read_bytes())
    check_search_index(site)


def check_outputs(hexo: Path, site: Path) -> None:
    """:func:`check_whole_files`; a broken search index fails too (rsspage writes the bundle
    itself from Pagefind's GetFiles and checks it before swapping it in); each output's
    manifest lists exactly the files there (outside the search index, which is not the
    writer's), with the article id of every post and article page."""
    check_whole_files(hexo, site)
    for root in (hexo, site):
        if not has_manifest(root):
            continue
        body = read_manifest(root)
        on_disk = {rel for rel in tree(root) if not rel.startswith("pagefind/")}
        assert set(body["files"]) == on_disk, root
        articles = {rel for rel in on_disk if rel.endswith(".md") or rel.startswith("a/")}
        assert set(body["articles"]) == articles, root


# --------------------------------------------------------------------------- the reference run


@dataclass(frozen=True)
class Phases:
    """Seconds from the start of an uninterrupted run to each mark."""

    first_request: float
    fetched: float  #: every feed requested
    first_article: float
    stored: float  #: every article readable
    hexo: float  #: Hexo output folder created
    posts: float  #: every Hexo post written
    site: float  #: site output folder created
    search: float  #: pagefind folder created
    end: float


class Watcher:
    """Observes a running update from outside: requests served, articles stored, folders made."""

    def __init__(self, server: LocalServer, feeds: int, state: Path, hexo: Path,
                 site: Path) -> None:
        self.server, self.feeds, self.state, self.hexo, self.site = server, feeds, state, hexo, site
        self.total = feeds * ITEMS
        self.base_hits = self.hits()

    def hits(self) -> int:
        return sum(self.server.hits(f"/f/{i}") for i in range(self.feeds))

    def mark(self, name: str) -> bool:
        if name == "fetch":
            return self.hits() > self.base_hits
        if name == "fetched":
            return self.hits() - self.base_hits >= self.feeds
        if name == "store":
            return article_count(self.state) > 0
        if name == "hexo":
            return self.hexo.is_dir()
        if name == "posts":
            return self.hexo.is_dir() and sum(1 for _ in self.hexo.rglob("*.md")) >= self.total
        if name == "site":
            return self.site.is_dir()
        if name == "search":
            return (self.site / "pagefind").is_dir()
        raise ValueError(name)


def measure(run: Run, watcher: Watcher, total: int) -> Phases:
    """Marks of an uninterrupted run, polled lightly (each mark is checked only until seen)."""
    marks: dict[str, float] = {}
    pending = ["fetch", "fetched", "store", "stored", "hexo", "posts", "site", "search"]
    while run.alive() and pending:
        name = pending[0]
        seen = (article_count(watcher.state) >= total) if name == "stored" else watcher.mark(name)
        if seen:
            marks[name] = time.monotonic() - run.started
            pending.pop(0)
            continue
        time.sleep(0.01)
    code, out, err = run.wait()
    end = time.monotonic() - run.started
    assert code == 0 and not pending, f"{pending}: {out}{err}"
    return Phases(marks["fetch"], marks["fetched"], marks["store"], marks["stored"],
                  marks["hexo"], marks["posts"], marks["site"], marks["search"], end)


# --------------------------------------------------------------------------- the kill test

FEEDS, ITEMS = 200, 2
#: Phase → (mark to wait for, window of delays after it, from the reference run).
PHASES: dict[str, tuple[str, Callable[[Phases], tuple[float, float]]]] = {
    "fetch": ("fetch", lambda p: (0, p.fetched - p.first_request)),
    "store": ("store", lambda p: (0, p.stored - p.first_article)),
    "hexo": ("hexo", lambda p: (0, p.posts - p.hexo)),
    # Hexo's names and manifest are saved, the site's articles loaded, its writer set up.
    "handover": ("hexo", lambda p: (p.posts - p.hexo, p.site - p.hexo)),
    "site": ("site", lambda p: (0, p.search - p.site)),
    "search": ("search", lambda p: (0, p.end - p.search)),
    # A crash while recovering from a crash: the next runs of a trial, from their first request.
    # (A recovery run is shorter: it fetches and publishes again but stores little new.)
    "recovery": ("fetch", lambda p: (0, 0.5 * (p.end - p.first_request))),
}
#: Each trial kills a fresh update in one phase, then kills its recovery runs, then completes.
KILLS_PER_PHASE, RECOVERY_KILLS = 3, 1
MIN_KILLS, MAX_TRIALS = 30, 30


@dataclass
class Kill:
    phase: str
    delay: float
    landed: bool = False
    #: Exit code when the run ended before the kill came.
    code: int | None = None
    articles: int = 0  #: articles committed at the moment of the kill
    posts: int = 0  #: Hexo posts on disk at the moment of the kill
    pages: int = 0  #: site pages on disk at the moment of the kill


def kill_at(run: Run, watcher: Watcher, mark: str, delay: float) -> bool:
    """Wait for ``mark``, then ``delay`` seconds; then SIGKILL. True if the kill landed."""
    while run.alive() and not watcher.mark(mark):
        time.sleep(0.005)
    deadline = time.monotonic() + delay
    while run.alive() and time.monotonic() < deadline:
        time.sleep(0.002)
    return run.kill()


@dataclass
class Trial:
    folder: Path
    config: Path

    @property
    def state(self) -> Path:
        return self.folder / "state"

    @property
    def hexo(self) -> Path:
        return self.folder / "hexo"

    @property
    def site(self) -> Path:
        return self.folder / "site"


def written(root: Path, pattern: str) -> int:
    """Files matching ``pattern`` under ``root``, in place or staged by the writer (a build
    puts its files in place only when it finishes)."""
    if not root.is_dir():
        return 0
    return sum(1 for p in root.rglob("*") if p.match(pattern) or p.name.endswith(TEMP_MARKERS))


def killed_update(trial: Trial, server: LocalServer, kill: Kill, seen: set[str]) -> set[str]:
    """One update killed as planned; checks the state it leaves; returns the committed ids."""
    watcher = Watcher(server, FEEDS, trial.state, trial.hexo, trial.site)
    run = Run.start("update", "--all", "-c", str(trial.config), folder=trial.folder)
    kill.landed = kill_at(run, watcher, PHASES[kill.phase][0], kill.delay)
    if not kill.landed:
        kill.code = run.proc.returncode
    ids = committed_ids(trial.state)  # a fresh connection, right after the kill
    assert seen <= ids, f"committed articles lost by a kill in {kill.phase}: {len(seen - ids)}"
    kill.articles = len(ids)
    kill.posts = written(trial.hexo, "*.md")
    kill.pages = written(trial.site, "*.html")
    check_outputs(trial.hexo, trial.site)
    return ids


@dataclass(frozen=True)
class Reference:
    trial: Trial
    phases: Phases
    ids: set[str]
    hexo: dict[str, str]
    site: dict[str, str]


def crash_trial(trial: Trial, server: LocalServer, ref: Reference, kills: list[Kill]) -> None:
    """Kill an update on a fresh state, kill its recovery runs too, then run to completion and
    compare everything with the uninterrupted reference run. (A kill that comes after its run
    ended leaves a completed run: that one is the completion.)"""
    seen: set[str] = set()
    what = f"{trial.folder.name} ({', '.join(f'{k.phase} +{k.delay:.2f}s' for k in kills)})"
    for kill in kills:
        seen = killed_update(trial, server, kill, seen)
        if kill.code is not None:
            break  # the kill came too late: this run went to completion, no more to kill
    else:
        code, out, err = Run.start("update", "--all", "-c", str(trial.config), folder=trial.folder).wait()
        assert code == 0 and "Traceback" not in out + err, f"{what}: {out}{err}"
    assert all(k.code in (None, 0) for k in kills), f"{what}: a run that was not killed failed"
    final = committed_ids(trial.state)
    assert seen <= final, f"{what}: committed articles lost"
    assert final == ref.ids, what
    assert not leftovers(trial.hexo, trial.site), f"{what}: temporary files left"
    assert state_files(trial.state) == state_files(ref.trial.state), f"{what}: state leftovers"
    check_outputs(trial.hexo, trial.site)  # first: a broken index would show as a difference
    assert tree(trial.hexo) == ref.hexo, f"{what}: Hexo posts differ"
    assert site_tree(trial.site) == ref.site, f"{what}: site differs"


def reference_run(folder: Path, server: LocalServer) -> Reference:
    trial = Trial(folder, write_config(folder, server, FEEDS))
    run = Run.start("update", "--all", "-c", str(trial.config), folder=folder)
    phases = measure(run, Watcher(server, FEEDS, trial.state, trial.hexo, trial.site),
                     FEEDS * ITEMS)
    ref = Reference(trial, phases, committed_ids(trial.state), tree(trial.hexo),
                    site_tree(trial.site))
    assert len(ref.ids) == len(ref.hexo) == FEEDS * ITEMS
    assert not leftovers(trial.hexo, trial.site)
    check_outputs(trial.hexo, trial.site)
    return ref


@pytest.mark.slow
@pytest.mark.usefixtures("frozen_code")
def test_sigkill_at_random_moments_then_rerun_equals_uninterrupted(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    total = FEEDS * ITEMS
    with LocalServer() as server:
        for i in range(FEEDS):
            server.route(f"/f/{i}", slow(0.02, feed(rss(i, ITEMS))))
        ref = reference_run(tmp_path / "reference", server)

        def plan(phase: str) -> Kill:
            low, high = PHASES[phase][1](ref.phases)
            # (0.8: a kill planned near the end of a phase would often come too late)
            return Kill(phase, rng.uniform(low, low + (high - low) * 0.8))

        first = [phase for phase in PHASES if phase != "recovery"] * KILLS_PER_PHASE
        rng.shuffle(first)
        kills: list[Kill] = []
        for number in range(MAX_TRIALS):
            if number >= len(first) and sum(k.landed for k in kills) >= MIN_KILLS:
                break
            phase = first[number] if number < len(first) else rng.choice(list(PHASES)[:-1])
            planned = [plan(phase)] + [plan("recovery") for _ in range(RECOVERY_KILLS)]
            kills += planned
            folder = tmp_path / f"trial-{number}"
            crash_trial(Trial(folder, write_config(folder, server, FEEDS)), server, ref, planned)

    landed = [k for k in kills if k.landed]
    summary = (f"{len(landed)} kills landed ({len(kills)} planned): "
               f"{dict(Counter(k.phase for k in landed))}; reference {ref.phases}")
    print(summary, *(f"{k.phase:8} +{k.delay:.2f}s {'hit' if k.landed else k.code} "
                     f"{k.articles} articles, {k.posts} posts, {k.pages} pages" for k in kills),
          sep="\n")
    assert len(landed) >= MIN_KILLS, summary
    # The kills really fell inside each phase, as the state they left shows:
    assert sum(1 for k in landed if k.articles == 0) >= 3, summary  # before any commit
    assert sum(1 for k in landed if 0 < k.articles < total) >= 2, summary  # between commits
    assert sum(1 for k in landed if k.articles == total and 0 < k.posts < total) >= 2, summary
    assert sum(1 for k in landed if k.posts == total and k.pages) >= 4, summary  # in the site


# --------------------------------------------------------------------------- a manifest temporary


def test_manifest_temporary_left_by_a_kill_is_swept(tmp_path: Path) -> None:
    with LocalServer() as server:
        for i in range(3):
            server.route(f"/f/{i}", feed(rss(i, 2)))
        config = write_config(tmp_path, server, 3)
        assert Run.start("update", "--all", "-c", str(config), folder=tmp_path).wait()[0] == 0
        # What SIGKILL between mkstemp and os.replace in _save_manifest leaves (seen in the
        # random-kill test): a cut-off copy of the manifest under a temporary name.
        left = tmp_path / "hexo" / f".{MANIFEST_NAME}.k1ll3d_x"
        left.write_text('{"version": 1, "files": {"a', encoding="utf-8")
        assert Run.start("update", "--all", "-c", str(config), folder=tmp_path).wait()[0] == 0
        assert not left.exists()


# --------------------------------------------------------------------------- two runs at once


class Feeds:
    """Feeds whose content and speed the test changes between runs."""

    def __init__(self, server: LocalServer, count: int, items: int, delay: float = 0) -> None:
        self.bodies = {i: rss(i, items) for i in range(count)}
        self.delay = delay
        for i in range(count):
            server.route(f"/f/{i}", self.handler(i))

    def handler(self, i: int) -> Callable[[Exchange], None]:
        def answer(exchange: Exchange) -> None:
            exchange.wait(self.delay)
            feed(self.bodies[i])(exchange)
        return answer


def wait_for_lock(state: Path, pid: int, run: Run, within: float = 30) -> None:
    """Until the run holding the lock has written its pid into the lock file."""
    lock = state / "update.lock"
    deadline = time.monotonic() + within
    while time.monotonic() < deadline and run.alive():
        with contextlib.suppress(OSError):
            if lock.read_text().strip() == str(pid):
                return
        time.sleep(0.01)
    raise AssertionError("the update never took the lock")


def test_second_update_and_build_during_an_update_exit_at_once(tmp_path: Path) -> None:
    feeds, items = 40, 3
    with LocalServer() as server:
        # 40 feeds, 4 at a time, 0.4 s each: the first run fetches for about 4 s.
        served = Feeds(server, feeds, items, delay=0.4)
        config = write_config(tmp_path, server, feeds, concurrency=4)
        state = tmp_path / "state"
        first = Run.start("update", "--all", "-c", str(config), folder=tmp_path)
        wait_for_lock(state, first.proc.pid, first)
        for command in ("update", "build"):
            started = time.monotonic()
            code, out, err = Run.start(command, "-c", str(config), folder=tmp_path).wait(60)
            took = time.monotonic() - started
            assert first.alive(), "the first run ended too early for this test to mean anything"
            assert code == 2, out + err
            assert f"another rsspage run (pid {first.proc.pid}) is already running" in err, err
            assert str(state) in err and "update.lock" in err and "Traceback" not in out + err
            assert took < 10, f"{command} waited {took:.1f} s instead of exiting at once"
            assert (state / "update.lock").read_text().strip() == str(first.proc.pid)
        code, out, err = first.wait()
        assert code == 0, out + err

        ids = committed_ids(state)
        assert len(ids) == feeds * items
        hexo, site = tmp_path / "hexo", tmp_path / "site"
        assert len(list(hexo.rglob("*.md"))) == feeds * items
        assert len(list((site / "a").rglob("*.html"))) == feeds * items
        check_outputs(hexo, site)
        assert not leftovers(hexo, site)
        # Nothing was half done: the next run finds the outputs complete and changes nothing.
        served.delay = 0
        before = tree(hexo)
        code, out, err = Run.start("update", "--all", "-c", str(config), folder=tmp_path).wait()
        assert code == 0, out + err
        assert "hexo files written / removed  0 / 0" in out, out
        assert tree(hexo) == before and committed_ids(state) == ids


# --------------------------------------------------------------------------- a full disk


class SmallDisk:
    """A tmpfs mounted at ``path`` (we are root in CI); ``resize`` changes its size in place."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def mount(self) -> bool:
        self.path.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m,mode=0755", "tmpfs",
                               str(self.path)], capture_output=True, check=False)
        return done.returncode == 0

    def resize(self, size: int) -> None:
        subprocess.run(["mount", "-o", f"remount,size={size}", str(self.path)], check=True,
                       capture_output=True)

    def used(self) -> int:
        st = os.statvfs(self.path)
        return (st.f_blocks - st.f_bfree) * st.f_frsize

    def unmount(self) -> None:
        subprocess.run(["umount", str(self.path)], check=False, capture_output=True)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[SmallDisk | None]:
    """A tmpfs for the outputs, or None where mounting is not permitted."""
    disk = SmallDisk(tmp_path / "out")
    if not (shutil.which("mount") and disk.mount()):
        yield None
        return
    try:
        yield disk
    finally:
        disk.unmount()


def limit_file_size() -> None:
    """In the child: files may not grow past 50 KB (writes beyond fail with EFBIG)."""
    resource.setrlimit(resource.RLIMIT_FSIZE, (50_000, 50_000))


class PreviousOutputChanged(AssertionError):
    """A file of the previous output was replaced by a failed run."""


@pytest.mark.parametrize(("free", "posts_done"), [
    pytest.param(1_000_000, False, id="in-hexo"),
    pytest.param(3_500_000, True, id="in-site"),
])
def test_full_disk_while_publishing_keeps_the_previous_output(
        tmp_path: Path, small_disk: SmallDisk | None, free: int, posts_done: bool) -> None:
    """``free``: room left for the new articles. 1 MB fills up while Hexo posts are written;
    3.5 MB lets the posts through (``posts_done``) and fills up in the site."""
    if small_disk is None and posts_done:
        pytest.skip("cannot mount a tmpfs: a file size cap fails at the first big Hexo post")
    count, items, big = 12, 3, 2
    with LocalServer() as server:
        feeds = Feeds(server, count, items)
        config = write_config(tmp_path, server, count, hexo="out/hexo", site="out/site")
        hexo, site = tmp_path / "out" / "hexo", tmp_path / "out" / "site"
        code, out, err = Run.start("update", "--all", "-c", str(config), folder=tmp_path).wait()
        assert code == 0, out + err
        check_outputs(hexo, site)
        previous = {"hexo": read_tree(hexo), "site": read_tree(site)}

        # Each feed now brings two articles of 60 KB: many MB more to write (the articles, and
        # the feeds of the site, its categories and sources).
        for i in range(count):
            feeds.bodies[i] = rss(i, items, big, body_bytes=60_000)
        if small_disk is not None:
            small_disk.resize(small_disk.used() + free)
            failed = Run.start("update", "--all", "-c", str(config), folder=tmp_path)
        else:  # store first (the database may grow), then publish with files capped at 50 KB
            store_only = write_config(tmp_path, server, count, hexo=None, site=None,
                                      name="store-only.yml")
            assert Run.start("update", "--all", "-c", str(store_only), folder=tmp_path).wait()[0] == 0
            failed = Run.start("build", "-c", str(config), folder=tmp_path,
                               preexec=limit_file_size)
        code, out, err = failed.wait()
        assert code == 1, out + err
        assert "could not write the output" in err and "Traceback" not in out + err, err
        reason = "No space left on device" if small_disk is not None else "File too large"
        assert reason in err, err
        assert not leftovers(hexo, site), "temporary files left after the failed run"
        check_whole_files(hexo, site)
        after_failure = {"hexo": read_tree(hexo), "site": read_tree(site)}
        assert_nothing_lost(previous, after_failure)
        total = count * (items + big)
        assert len(committed_ids(tmp_path / "state")) == total
        if small_disk is not None:
            posts = len(list(hexo.rglob("*.md")))
            assert posts == total if posts_done else posts < total, posts

        if small_disk is not None:
            small_disk.resize(256 << 20)  # tmpfs takes only the memory its files use
        code, out, err = Run.start("update", "--all", "-c", str(config), folder=tmp_path).wait()
        assert code == 0, out + err
        assert len(list(hexo.rglob("*.md"))) == total
        assert len(list((site / "a").rglob("*.html"))) == total
        check_outputs(hexo, site)
        assert not leftovers(hexo, site)
        assert_unchanged(previous, after_failure)


def read_tree(root: Path) -> dict[str, bytes]:
    """The output's files, less rsspage's records of them (a manifest changes legitimately when
    the Hexo posts were written before the site failed)."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*")
            if p.is_file() and not p.name.startswith(".rsspage-")}


def assert_nothing_lost(before: dict[str, dict[str, bytes]],
                        after: dict[str, dict[str, bytes]]) -> None:
    """Every file of the previous output is still there (whole: checked by the caller), but
    for the search index, whose shards are replaced whole (file names change with content)."""
    for output, files in before.items():
        missing = sorted(p for p in set(files) - set(after[output])
                         if not p.startswith("pagefind/"))
        assert not missing, f"{output}: files of the previous output lost: {missing[:5]}"


def assert_unchanged(before: dict[str, dict[str, bytes]],
                     after: dict[str, dict[str, bytes]]) -> None:
    for output, files in before.items():
        changed = sorted(p for p in files if after[output].get(p) != files[p])
        if changed:
            raise PreviousOutputChanged(
                f"{output}: {len(changed)} of {len(files)} previous files replaced by the failed "
                f"run: {changed[:5]}")
