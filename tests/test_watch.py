"""`rsspage watch` as a user runs it: a real subprocess against local servers, stopped with real
signals. It fetches feeds as they fall due and rebuilds the site; while it runs, a second `watch`
and an `update` are refused and `status` and `search` work; SIGTERM or SIGINT end it cleanly,
after the pass in progress; `--serve` serves the site on 127.0.0.1.
"""

from __future__ import annotations

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
from rsspage.store import Store
from rsspage.store.db import run_lock
from servers import Exchange, LocalServer, slow

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


def write_config(folder: Path, url: str) -> Path:
    config = {
        "feeds": [{"url": url, "category": "测试", "source": "监视", "channel": "全部",
                   "every": "1s"}],
        "schedule": {"jitter": 0, "min_interval": "0s"},
        "fetch": {"timeout": 5, "retries": 0},
        "output": {"state": "state", "site": "site"},
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
