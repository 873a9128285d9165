"""Fetch workers on one PostgreSQL store (issue 14): `rsspage update --worker` processes side by
side, as on several machines, against feeds on 127.0.0.1 and a real PostgreSQL server.

Each due feed is fetched once per period, whichever worker takes it; a host's request limit
holds over all workers; workers killed with SIGKILL at random moments lose no stored article,
their feeds are fetched again once their leases run out, and the archive ends as an
uninterrupted run leaves it.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

import pg_harness
from conftest import run_cli, summary
from rsspage.store import Store, pg
from servers import LocalServer, feed, slow

NOW = datetime.now(UTC)


def rss(feed_number: int, items: int = 5) -> bytes:
    parts = [
        f"<item><title>源{feed_number}的第{n}条新闻</title>"
        f"<link>https://site{feed_number}.example.com/{n}.html</link><guid>f{feed_number}-{n}</guid>"
        f"<description>第{feed_number}号源的第{n}条新闻正文，讲述一件不同的事情。</description>"
        f"<pubDate>{format_datetime(NOW - timedelta(minutes=feed_number * 7 + n))}</pubDate>"
        "</item>" for n in range(items)]
    return ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>T'
            f'</title><link>https://example.com/</link>{"".join(parts)}</channel></rss>').encode()


def serve_feeds(server: LocalServer, count: int, seconds: float) -> list[str]:
    paths = [f"/f{i}" for i in range(count)]
    for i, path in enumerate(paths):
        server.route(path, slow(seconds, feed(rss(i))))
    return paths


def write_config(folder: Path, server: LocalServer, paths: list[str], **fetch: Any) -> Path:
    config = {
        "feeds": [{"url": server.url(p), "category": "测试", "source": f"源{p[2:]}",
                   "channel": "全部"} for p in paths],
        "fetch": {"timeout": 10, "retries": 0, **fetch},
        "output": {"state": "state", "site": "public"},
        "store": {"url_env": "RSSPAGE_STORE"},
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "rsspage.yml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def start_worker(config: Path, url: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "RSSPAGE_STORE": url}
    return subprocess.Popen([sys.executable, "-m", "rsspage.cli", "update", "--worker", "-c",
                             str(config), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def finish(worker: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = worker.communicate(timeout=120)
    return worker.returncode, out, err


def test_workers_share_the_due_feeds_and_fetch_each_once(
        tmp_path: Path, postgres: pg_harness.Server) -> None:
    url = postgres.database()
    with LocalServer() as server:
        paths = serve_feeds(server, 40, 0.1)
        config = write_config(tmp_path, server, paths, concurrency=4, per_host=8)
        workers = [start_worker(config, url, "--batch", "4") for _ in range(2)]
        done = [finish(w) for w in workers]
        assert [code for code, _, _ in done] == [0, 0], [err for _, _, err in done]
        fetched = [int(summary(out)["feeds ok"]) for _, out, _ in done]
        assert sum(fetched) == 40 and min(fetched) > 0  # both worked, no feed twice
        assert {p: server.hits(p) for p in paths} == dict.fromkeys(paths, 1)
        again = start_worker(config, url)  # nothing is due any more
        code, out, _ = finish(again)
        assert code == 0 and summary(out)["feeds ok"] == "0"
        assert sum(server.hits(p) for p in paths) == 40
    run = run_cli("build", "-c", str(config), env={"RSSPAGE_STORE": url})
    assert run.code == 0, run.err
    assert len(list((tmp_path / "public" / "a").rglob("*.html"))) == 200  # article pages
    with Store.open(tmp_path / "state", url) as store:
        assert store.article_count() == 200 and store.integrity_ok()


def test_a_hosts_request_limit_holds_over_all_workers(
        tmp_path: Path, postgres: pg_harness.Server) -> None:
    url = postgres.database()
    with LocalServer() as server:
        paths = serve_feeds(server, 24, 0.3)
        config = write_config(tmp_path, server, paths, concurrency=6, per_host=2)
        workers = [start_worker(config, url, "--batch", "6") for _ in range(3)]
        assert [finish(w)[0] for w in workers] == [0, 0, 0]
        assert sum(server.hits(p) for p in paths) == 24
        assert server.max_concurrent() == 2  # 127.0.0.1's two slots, over three workers


def test_a_batch_longer_than_its_lease_stays_its_workers(
        tmp_path: Path, postgres: pg_harness.Server) -> None:
    """A heartbeat renews the leases of the batch a worker works on: a batch that takes three
    leases is not claimed by the worker beside it."""
    url = postgres.database()
    with LocalServer() as server:
        paths = serve_feeds(server, 12, 0.5)
        config = write_config(tmp_path, server, paths, concurrency=1, per_host=4)
        first = start_worker(config, url, "--batch", "6", "--lease", "1")
        time.sleep(1.5)  # it holds its first six (3 s of fetching) when the second starts
        second = start_worker(config, url, "--batch", "6", "--lease", "1")
        assert [finish(w)[0] for w in (first, second)] == [0, 0]
        assert {p: server.hits(p) for p in paths} == dict.fromkeys(paths, 1)


def test_a_feed_whose_every_changed_is_due_again_and_update_waits_for_workers(
        tmp_path: Path, postgres: pg_harness.Server) -> None:
    url = postgres.database()
    with LocalServer() as server:
        paths = serve_feeds(server, 4, 0)
        config = write_config(tmp_path, server, paths)
        assert finish(start_worker(config, url))[0] == 0
        text = yaml.safe_load(config.read_text("utf-8"))
        text["feeds"][0]["every"] = "2h"  # due at once: it must not wait out the old hour
        config.write_text(yaml.safe_dump(text, allow_unicode=True), encoding="utf-8")
        code, out, _ = finish(start_worker(config, url))
        assert code == 0 and summary(out)["feeds ok"] == "1"
        assert [server.hits(p) for p in paths] == [2, 1, 1, 1]
        with pg.worker_lock(url):  # a worker is running: update (no leases) must not fetch
            run = run_cli("update", "--all", "-c", str(config), env={"RSSPAGE_STORE": url})
        assert run.code == 2 and "fetch workers are running" in run.err
        assert [server.hits(p) for p in paths] == [2, 1, 1, 1]
        with pg.run_lock(url, fetching=True):  # an update is running: workers wait for it
            code, _, err = finish(start_worker(config, url))
        assert code == 2 and "an rsspage update is fetching" in err


def test_a_worker_without_postgresql_says_so(tmp_path: Path) -> None:
    config = tmp_path / "rsspage.yml"
    config.write_text("feeds: [http://127.0.0.1:1/feed]\noutput: {state: state}\n",
                      encoding="utf-8")
    run = run_cli("update", "--worker", "-c", str(config))
    assert run.code != 0 and "Traceback" not in run.err
    assert "fetch workers share a PostgreSQL store" in run.err


def held_by(store: Store, pid: int) -> set[str]:
    """The feeds the killed worker ``pid`` held leases on and had not stored (every feed here
    is new: a stored one has its next check)."""
    name = f"{socket.gethostname()}:{pid}"
    rows = store._conn.execute(
        "SELECT l.key FROM feed_leases l JOIN feeds f ON f.key = l.key WHERE l.worker = ? "
        "AND f.next_check IS NULL", (name,))
    return {str(row[0]) for row in rows}


def test_workers_killed_at_random_lose_nothing_and_their_feeds_come_back(
        tmp_path: Path, postgres: pg_harness.Server) -> None:
    rng = random.Random(14)
    url, calm = postgres.database(), postgres.database()
    lease = 3.0
    with LocalServer() as server:
        paths = serve_feeds(server, 60, 0.4)
        config = write_config(tmp_path / "killed", server, paths, concurrency=3, per_host=16)
        workers = [start_worker(config, url, "--batch", "3", "--lease", str(lease))
                   for _ in range(3)]
        held: dict[str, int] = {}
        with Store.open(tmp_path / "unused", url) as store:
            for victim in rng.sample(workers, 2):
                _wait_until_it_claims(store, victim.pid)
                time.sleep(rng.uniform(0, 0.5))  # a random moment of its work
                os.kill(victim.pid, signal.SIGKILL)
                victim.wait()
                for key in held_by(store, victim.pid):
                    held[key] = held.get(key, 0) + 1
            survivors = [w for w in workers if w.returncode is None]
            assert [finish(w)[0] for w in survivors] == [0]
            assert held, "the workers were killed holding no feed: kill them earlier"
            print(f"killed workers held {len(held)} feeds")
            time.sleep(lease + 0.5)  # the killed workers' leases run out
            code, _, err = finish(start_worker(config, url, "--lease", str(lease)))
            assert code == 0, err
            hits = {server.url(p): server.hits(p) for p in paths}
            assert all(n >= 1 for n in hits.values())
            twice = {key: n - 1 for key, n in hits.items() if n > 1}
            assert all(n <= held.get(key, 0) for key, n in twice.items()), (twice, held)
            print(f"fetched twice: {len(twice)} (a killed worker had claimed, not stored)")
            assert store.article_count() == 300 and store.integrity_ok()
            killed_run = _per_feed(store)

        # The same feeds, one worker, nobody killed: the same archive.
        calm_config = write_config(tmp_path / "calm", server, paths, concurrency=8)
        assert finish(start_worker(calm_config, calm))[0] == 0
    with Store.open(tmp_path / "unused", calm) as store:
        assert _per_feed(store) == killed_run
    for config_path, store_url in ((config, url), (calm_config, calm)):
        run = run_cli("build", "-c", str(config_path), env={"RSSPAGE_STORE": store_url})
        assert run.code == 0, run.err
    assert _pages(tmp_path / "killed" / "public") == _pages(tmp_path / "calm" / "public")


def _wait_until_it_claims(store: Store, pid: int) -> None:
    name = f"{socket.gethostname()}:{pid}"
    deadline = time.monotonic() + 60
    while not store._conn.execute("SELECT 1 FROM feed_leases WHERE worker = ?",
                                  (name,)).fetchone():
        assert time.monotonic() < deadline, "the worker never claimed a feed"
        time.sleep(0.05)


def _per_feed(store: Store) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for article in store.articles(content=False):
        found.setdefault(article.feed_key, []).append(article.id)
    return {key: sorted(ids) for key, ids in found.items()}


def _pages(site: Path) -> set[str]:
    return {str(p.relative_to(site)) for p in site.rglob("*.html")}


@pytest.fixture(autouse=True)
def _needs_postgres(request: pytest.FixtureRequest) -> None:
    """Every test here but the one without PostgreSQL runs on the worker's server."""
    if "postgres" in request.fixturenames:
        request.getfixturevalue("postgres")
