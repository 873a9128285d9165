"""`rsspage watch` as a user runs it: a real subprocess against local servers, stopped with real
signals. It fetches feeds as they fall due and rebuilds the site; while it runs, a second `watch`
and an `update` are refused and `status` and `search` work; SIGTERM or SIGINT end it cleanly,
after the pass in progress; `--serve` serves the site on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from conftest import run_cli
from rsspage.config import load_config
from rsspage.store import Store
from rsspage.store.db import run_lock
from rsspage.watch import WatchHooks, watch
from servers import Exchange, LocalServer, feed, slow

#: Generous: a loaded machine may start Python slowly. The tests wait for events, not times.
PATIENCE = 60.0


def rss(*titles: str) -> bytes:
    items = "".join(f"<item><title>{t}</title><link>http://example.com/{t}</link>"
                    f"<guid>{t}</guid></item>" for t in titles)
    return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>监视'
            f"</title><link>http://example.com/</link>{items}</channel></rss>").encode()


class Changing:
    """A feed whose items the test changes while `watch` runs."""

    def __init__(self, *titles: str) -> None:
        self.body = rss(*titles)

    def __call__(self, exchange: Exchange) -> None:
        exchange.respond(200, self.body, {"Content-Type": "application/rss+xml"})


#: A small RSSHub routes.json, as `rsspage catalog --catalog FILE` reads it.
CATALOG = {"kkj": {"name": "快科技", "routes": {
    "/news": {"name": "最新新闻", "example": "/kkj/news", "categories": ["new-media"]}}}}


def write_config(folder: Path, url: str, every: str = "1s", **more: Any) -> Path:
    config = {
        "feeds": [{"url": url, "category": "测试", "source": "监视", "channel": "全部",
                   "every": every}],
        "schedule": {"jitter": 0, "min_interval": "0s"},
        "fetch": {"timeout": 5, "retries": 0},
        "output": {"state": "state", "site": "site"},
        **more,
    }
    path = folder / "rsspage.yml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


class Watch:
    """A running `rsspage watch`, its stderr read line by line as it comes."""

    def __init__(self, config: Path, *extra: str) -> None:
        env = {**os.environ, "PYTHONWARNINGS": "ignore"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rsspage.cli", "watch", "-c", str(config), *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.err: list[str] = []
        self.out: list[str] = []
        self.readers = [threading.Thread(target=self._read_err, daemon=True),
                        threading.Thread(target=self._read_out, daemon=True)]
        for reader in self.readers:
            reader.start()

    def _read_err(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.put(line)

    def _read_out(self) -> None:  # read as it comes, so a full pipe never blocks the watch
        assert self.proc.stdout is not None
        self.out.extend(self.proc.stdout)

    def wait_for_line(self, pattern: str) -> re.Match[str]:
        deadline = time.monotonic() + PATIENCE
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                assert self.proc.poll() is None, f"watch ended: {''.join(self.err)}"
                continue
            self.err.append(line)
            found = re.search(pattern, line)
            if found:
                return found
        raise AssertionError(f"no line matching {pattern!r} in: {''.join(self.err)}")

    def stop(self, signum: int) -> tuple[int, str, str]:
        self.proc.send_signal(signum)
        self.proc.wait(timeout=PATIENCE)
        for reader in self.readers:
            reader.join(timeout=PATIENCE)
        while not self.lines.empty():
            self.err.append(self.lines.get())
        return self.proc.returncode, "".join(self.out), "".join(self.err)


@contextmanager
def watching(config: Path, *extra: str) -> Iterator[Watch]:
    run = Watch(config, *extra)
    try:
        yield run
    finally:
        if run.proc.poll() is None:
            run.proc.kill()
            run.proc.wait()


def until(condition: Callable[[], Any], what: str) -> None:
    deadline = time.monotonic() + PATIENCE
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def assert_stopped_cleanly(code: int, out: str, err: str, name: str, state: Path) -> None:
    assert code == 0, out + err
    assert "Traceback" not in out + err
    assert f"{name} received: stopped cleanly" in err, err
    with run_lock(state):  # released: this would raise if the watch still held it
        pass
    with Store.open(state) as store:
        assert store.integrity_ok()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
def test_watch_updates_due_feeds_and_holds_the_lock_until_stopped(
        tmp_path: Path, signum: signal.Signals) -> None:
    changing = Changing("第一条")
    with LocalServer() as server:
        config = write_config(tmp_path, server.route("/feed", changing))
        with watching(config) as run:
            run.wait_for_line(r"watching ")
            until(lambda: server.hits("/feed") >= 1, "the first fetch")
            changing.body = rss("第一条", "第二条")  # the feed is due again every second
            until(lambda: "第二条" in _read(tmp_path / "site" / "index.html"), "a rebuild")

            for command in ("update", "watch"):
                busy = run_cli(command, "-c", str(config))
                assert busy.code == 2, busy.out + busy.err
                assert "already running" in busy.err and "Traceback" not in busy.err
            status = run_cli("status", "-c", str(config))
            assert status.code == 0 and str(server.url("/feed")) in status.out, status.err
            found = run_cli("search", "-c", str(config), "第二条")
            assert found.code == 0 and "第二条" in found.out, found.err
            catalog = tmp_path / "routes.json"
            catalog.write_text(json.dumps(CATALOG, ensure_ascii=False), encoding="utf-8")
            routes = run_cli("catalog", "-c", str(config), "--catalog", str(catalog),
                             "search", "快科技")
            assert routes.code == 0 and "最新新闻" in routes.out, routes.err

            code, out, err = run.stop(signum)
    assert_stopped_cleanly(code, out, err, signum.name, tmp_path / "state")
    assert "feeds skipped (not due)" in out  # each pass's summary
    assert run_cli("update", "-c", str(config)).code in (0, 1)  # the state is free again


def test_a_stop_during_a_pass_lets_it_finish(tmp_path: Path) -> None:
    with LocalServer() as server:
        config = write_config(tmp_path, server.route("/slow", slow(1.5, Changing("慢慢来"))))
        with watching(config) as run:
            until(lambda: server.hits("/slow") >= 1, "the fetch to start")
            code, out, err = run.stop(signal.SIGTERM)  # while the server is still answering
    assert_stopped_cleanly(code, out, err, "SIGTERM", tmp_path / "state")
    with Store.open(tmp_path / "state") as store:
        assert [a.title for a in store.articles()] == ["慢慢来"]
    assert "慢慢来" in _read(tmp_path / "site" / "index.html")


def test_a_second_signal_during_a_pass_interrupts_it_at_once(tmp_path: Path) -> None:
    # The server would answer only after the fetch timeout: the pass is still fetching when
    # both signals come (two different ones: the same signal twice may arrive as one).
    with LocalServer() as server:
        config = write_config(tmp_path, server.route("/slow", slow(PATIENCE, Changing("等不及"))))
        with watching(config) as run:
            until(lambda: server.hits("/slow") >= 1, "the fetch to start")
            run.proc.send_signal(signal.SIGTERM)
            code, out, err = run.stop(signal.SIGINT)
    assert code == 130, out + err
    assert "Traceback" not in out + err and "stopped cleanly" not in err
    assert re.search(r"SIG(INT|TERM) and SIG(INT|TERM) received: interrupted the pass", err), err
    with run_lock(tmp_path / "state"):  # released
        pass
    with Store.open(tmp_path / "state") as store:  # nothing half-written
        assert store.integrity_ok()
        assert list(store.articles()) == []
    assert run_cli("update", "-c", str(config), "--all").code in (0, 1)  # usable at once


class Steps(threading.Event):
    """A stop event for :func:`watch` in this process: each wait returns at once, records how
    long the loop meant to sleep and runs the test's next step; after the last one, stop."""

    def __init__(self, *steps: Callable[[], None]) -> None:
        super().__init__()
        self.steps = list(steps)
        self.waits: list[float | None] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout)
        if self.steps:
            self.steps.pop(0)()
        else:
            self.set()
        return self.is_set()


def test_failed_passes_back_off_exponentially_until_one_succeeds(tmp_path: Path) -> None:
    catalog = tmp_path / "routes.json"
    catalog.write_text("{not json", encoding="utf-8")  # every pass fails on it (CatalogError)

    def configure(every: str) -> None:
        write_config(tmp_path, url, every, rsshub={"catalog": ["routes.json"]})

    def repair() -> None:
        catalog.write_text(json.dumps(CATALOG), encoding="utf-8")

    def break_again() -> None:
        catalog.write_text("{not json", encoding="utf-8")
        configure("2s")  # a changed every: the feed is due again at once

    nothing = lambda: None  # noqa: E731
    log: list[str] = []
    with LocalServer() as server:
        url = server.route("/feed", feed())
        configure("1s")
        stop = Steps(nothing, nothing, repair, break_again, nothing)
        passes = watch(load_config(tmp_path / "rsspage.yml"), stop,
                       WatchHooks(log=log.append, on_report=lambda report: None), max_sleep=6)
        hits = server.hits("/feed")
    # 2 s, doubled per failed pass, at most max_sleep; a good pass resets the streak.
    assert stop.waits == [2, 4, 6, 1, 2, 4]
    assert passes == 6 and hits == 1  # the failed passes fail before fetching
    failed = [line for line in log if "failed" in line]
    assert len(failed) == 5 and "not valid JSON" in failed[0]
    assert failed[0].startswith("this pass failed (1st failed pass in a row): ")
    assert failed[0].endswith("trying again in 2 s")
    assert failed[2].startswith("this pass failed (3rd failed pass in a row): ")
    assert failed[3].startswith("this pass failed (1st failed pass in a row): ")


def test_watch_serve_serves_the_site_on_localhost(tmp_path: Path) -> None:
    with LocalServer() as server:
        config = write_config(tmp_path, server.route("/feed", Changing("看得见")))
        with watching(config, "--serve", "--port", "0") as run:
            url = run.wait_for_line(r"serving .* at (http://127\.0\.0\.1:\d+/)")[1]
            until(lambda: "看得见" in httpx.get(url).text, "the article on the served site")
            page = httpx.get(url + "no-such-page.html")
            assert page.status_code == 404
            code, out, err = run.stop(signal.SIGTERM)
    assert_stopped_cleanly(code, out, err, "SIGTERM", tmp_path / "state")
    with pytest.raises(httpx.ConnectError):
        httpx.get(url)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""
