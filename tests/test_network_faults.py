"""Network faults through the real `rsspage update` CLI (issue 4, "Network faults").

tests/test_fetch.py proves each fault at the fetch-function level; here the same faults go
through the whole run as a user meets them: a subprocess `rsspage update` against local
misbehaving servers (127.0.0.1 only), then `rsspage status`. Each fault must end as a clear
per-feed error within ``fetch.timeout × (fetch.retries + 1)`` and in bounded memory, while the
healthy feeds of the same run are stored and published. The child's wall time and peak RSS are
measured with ``os.wait4`` (the rusage of exactly that child).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from conftest import CliRun, run_cli
from servers import (
    Exchange,
    Handler,
    LocalServer,
    closed_port_url,
    drip,
    endless_redirects,
    feed,
    gzip_bomb,
    hang,
    huge,
    redirect,
    reset_mid_body,
    respond,
    self_signed_cert,
    sequence,
    too_many_requests,
    wrong_length,
)

MB = 1024 * 1024
#: Parsing, storing and publishing a few feeds: what a run does besides waiting on the network,
#: as the run's own clock (the summary's "time") sees it. Measured 0.1-0.5 s on 2 busy cores.
MARGIN = 1.5
#: The same plus interpreter start-up, for the wall time of the process: 0.4-2 s on 2 cores
#: depending on their load (other test processes), so this is loose.
WALL_MARGIN = 5.0
#: Beyond budget + the cost of the same run without faults: noise (other processes, CPU load).
SLACK = 1.5
#: Peak RSS allowed for a whole run that meets a gzip bomb and 1 GB bodies (20 MB body cap).
MAX_RSS = 200 * MB


def rss(tag: str, items: int = 2) -> bytes:
    """A small valid RSS feed whose items are unique to ``tag``."""
    entries = "".join(
        f"<item><title>{tag} 新闻 {i}</title><link>http://example.com/{tag}/{i}</link>"
        f"<guid>{tag}-{i}</guid><pubDate>Thu, 21 Jul 2022 17:2{i}:55 GMT</pubDate></item>"
        for i in range(items)
    )
    return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            f"<title>{tag}</title><link>http://example.com/{tag}</link><description>d"
            f"</description>{entries}</channel></rss>").encode()


# --- running the CLI with a stopwatch and a memory gauge ---------------------------------------


@dataclass(frozen=True)
class Measured:
    run: CliRun
    seconds: float
    #: Peak resident set size of the `rsspage` process, in bytes.
    peak_rss: int


#: Forks the CLI from a small fresh process: a child forked straight from pytest would start
#: with pytest's own peak RSS (Linux carries the high-water mark across fork and exec).
_LAUNCHER = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.executable, [sys.executable, "-m", "rsspage.cli", *sys.argv[1:]])
_, status, usage = os.wait4(pid, 0)
with open(os.environ["RSSPAGE_TEST_MAXRSS"], "w") as f:
    f.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_measured(*args: str, timeout: float = 120) -> Measured:
    """Like conftest.run_cli, but also measures that one child's wall time and peak RSS."""
    with tempfile.TemporaryDirectory() as tmp:
        maxrss = Path(tmp) / "maxrss"
        env = {**os.environ, "PYTHONWARNINGS": "ignore", "RSSPAGE_TEST_MAXRSS": str(maxrss)}
        started = time.monotonic()
        try:
            proc = subprocess.run([sys.executable, "-c", _LAUNCHER, *args], env=env,
                                  capture_output=True, timeout=timeout, start_new_session=True)
        except subprocess.TimeoutExpired:
            pytest.fail(f"rsspage did not finish within {timeout:.0f} s")
        seconds = time.monotonic() - started
        run = CliRun(proc.returncode, proc.stdout.decode(), proc.stderr.decode())
        peak = int(maxrss.read_text()) * 1024  # Linux reports kilobytes
    return Measured(run, seconds, peak)


# --- reading what the CLI printed --------------------------------------------------------------


def fetched_lines(err: str) -> dict[str, str]:
    """The plain progress lines ``fetched KEY: STATE`` (full error text) as {key: state}."""
    lines = (re.fullmatch(r"fetched (\S+): (.*)", line) for line in err.splitlines())
    return {m[1]: m[2] for m in lines if m}


def table_rows(text: str, first_header: str) -> list[list[str]]:
    """Rows of the table whose header starts with ``first_header``, cells split on 2+ spaces."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(first_header))
    rows = []
    for line in lines[start + 2:]:  # skip the header and its rule
        if not line.strip():
            break
        rows.append(re.split(r" {2,}", line.strip()))
    return rows


def failed_table(out: str) -> dict[str, tuple[str, str]]:
    """The summary's "failed feeds" table as {key: (status, error)}."""
    failed = out.split("failed feeds:", 1)[1]
    return {row[0]: (row[1], row[2] if len(row) > 2 else "") for row in table_rows(failed, "feed")}


@dataclass(frozen=True)
class Health:
    state: str
    failures: int
    articles: int
    last_error: str


def status_table(out: str) -> dict[str, Health]:
    rows = table_rows(out, "feed")
    # feed, names, state, last success, next due, failures, articles, 7 days, last error
    return {r[0]: Health(r[2], int(r[5]), int(r[6]), r[8] if len(r) > 8 else "") for r in rows}


def summary_counts(out: str) -> dict[str, str]:
    return {row[0]: row[1] for row in table_rows(out, "summary") if len(row) == 2}


def run_seconds(run: CliRun) -> float:
    """The run's own duration (config loaded → output published), from the summary."""
    return float(summary_counts(run.out)["time"].removesuffix(" s"))


# --- the faults ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    """A misbehaving endpoint and what the user must be told about it."""

    name: str
    #: "failed" or "gone", as the summary and `status` show it.
    status: str
    #: The per-feed error starts with this.
    error: str


FAULTS = [
    Fault("refused", "failed", "connection refused"),
    Fault("reset", "failed", "connection"),  # reset, or closed before the whole body arrived
    Fault("hang", "failed", "timed out"),
    Fault("drip", "failed", "timed out"),
    Fault("endless-redirects", "failed", "too many redirects"),
    Fault("redirect-ftp", "failed", "redirect to unsupported scheme ftp:"),
    Fault("redirect-file", "failed", "redirect to unsupported scheme file:"),
    Fault("404", "failed", "HTTP 404 Not Found"),
    Fault("410", "gone", "HTTP 410 Gone"),
    Fault("500", "failed", "HTTP 500 Internal Server Error"),
    Fault("503", "failed", "HTTP 503 Service Unavailable"),
    Fault("429", "failed", "HTTP 429 Too Many Requests (retry after 1 s)"),
    Fault("429-too-long", "failed", "HTTP 429 Too Many Requests (retry after 3600 s)"),
    Fault("gzip-bomb", "failed", "response larger than 20 MB"),
    Fault("1gb-streamed", "failed", "response larger than 20 MB"),
    Fault("1gb-declared", "failed", "response larger than 20 MB"),
    Fault("wrong-length", "failed", "connection closed before the whole body arrived"),
    Fault("bad-tls", "failed", "TLS certificate verify failed"),
]


def fault_handler(name: str) -> Handler:
    handlers: dict[str, Handler] = {
        "reset": reset_mid_body(rss("reset", 20)),
        "hang": hang(),
        "drip": drip(rss("drip"), interval=1.0),  # one byte per second
        "endless-redirects": endless_redirects(),
        "redirect-ftp": redirect("ftp://127.0.0.1/feed.xml"),
        "redirect-file": redirect("file:///etc/passwd", 301),
        "404": respond(404, b"not found", content_type="text/plain"),
        "410": respond(410, b"gone", content_type="text/plain"),
        "500": respond(500, b"oops", content_type="text/plain"),
        "503": respond(503, b"down", content_type="text/plain"),
        "429": too_many_requests("1"),
        "429-too-long": too_many_requests("3600"),
        "gzip-bomb": gzip_bomb(1 << 30),
        "1gb-streamed": huge(1 << 30),
        "1gb-declared": huge(1 << 30, declare_length=True),
        "wrong-length": wrong_length(rss("short"), extra=1000),
    }
    return handlers[name]


@dataclass
class Servers:
    plain: LocalServer
    tls: LocalServer

    def fault_url(self, name: str, query: str = "") -> str:
        """Where ``name`` misbehaves; ``query`` makes the URL (the feed key) unique."""
        path = f"/{name}{query}"
        if name == "refused":
            return closed_port_url(path)
        if name == "bad-tls":
            return self.tls.route(f"/{name}", feed(rss("tls"))) + query
        return self.plain.route(f"/{name}", fault_handler(name)) + query


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Servers]:
    cert = self_signed_cert(tmp_path)
    if cert is None:
        pytest.skip("neither the cryptography package nor openssl is available")
    with LocalServer() as plain, LocalServer(tls=cert) as tls:
        yield Servers(plain, tls)
        assert not plain.errors and not tls.errors  # a crashing handler would void the test


def write_config(tmp: Path, feeds: list[dict[str, str]], timeout: float, retries: int,
                 concurrency: int = 64, max_bytes: int = 20 * MB) -> Path:
    config = {
        "rsshub": {"instances": ["http://127.0.0.1:9"]},  # no routes: never contacted
        "feeds": feeds,
        "fetch": {"timeout": timeout, "retries": retries, "concurrency": concurrency,
                  "per_host": concurrency, "max_bytes": max_bytes},
        "output": {"state": "state", "hexo": "hexo", "site": None},
    }
    path = tmp / "rsspage.yml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def feed_entry(url: str, channel: str) -> dict[str, str]:
    return {"url": url, "category": "测试", "source": "网络", "channel": channel}


def assert_each_fault_reported(run: CliRun, faults: dict[str, Fault], cap: str = "20 MB") -> None:
    """Each faulty URL, and only those, is a failed feed with its own clear message."""
    progress, failed = fetched_lines(run.err), failed_table(run.out)
    assert set(failed) == set(faults)
    for url, fault in faults.items():
        error = fault.error.replace("20 MB", cap)
        assert progress[url].startswith(f"failed: {error}"), (fault.name, progress[url])
        status, shown = failed[url]  # the summary clips long messages
        assert status == fault.status, fault.name
        assert progress[url].startswith(f"failed: {shown.rstrip('…')}"), fault.name


class HitClock:
    """Wraps a handler and records when each request arrived."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.times: list[float] = []
        self._lock = threading.Lock()

    def __call__(self, exchange: Exchange) -> None:
        with self._lock:
            self.times.append(time.monotonic())
        self.handler(exchange)


# --- every fault in one run, next to healthy feeds ---------------------------------------------


def test_every_fault_in_one_run_is_a_clear_bounded_per_feed_error(
    tmp_path: Path, servers: Servers
) -> None:
    timeout, retries = 2.0, 1
    faults = {servers.fault_url(f.name): f for f in FAULTS}
    healthy = {name: servers.plain.route(f"/{name}", feed(rss(name))) for name in ("ok-a", "ok-b")}
    retry_clock = HitClock(sequence(too_many_requests("1"), feed(rss("after-429"))))
    healthy["after-429"] = servers.plain.route("/after-429", retry_clock)
    servers.plain.route("/moved-here", feed(rss("moved")))
    healthy["moved"] = servers.plain.route("/moved", redirect("/moved-here", 301))
    entries = [feed_entry(url, name) for name, url in healthy.items()]
    entries += [feed_entry(url, fault.name) for url, fault in faults.items()]
    config = write_config(tmp_path, entries, timeout, retries)

    measured = run_measured("update", "-c", str(config))
    run = measured.run
    print(f"all faults in one run: {run_seconds(run):.1f} s ({measured.seconds:.2f} s with "
          f"start-up), peak RSS {measured.peak_rss / MB:.0f} MB")

    assert run.code == 1, run.err + run.out  # output written, some feeds failed
    assert "Traceback" not in run.out + run.err
    assert run_seconds(run) < timeout * (retries + 1) + MARGIN
    assert measured.seconds < timeout * (retries + 1) + WALL_MARGIN
    assert measured.peak_rss < MAX_RSS  # a gzip bomb and two 1 GB bodies in the same run
    assert summary_counts(run.out)["feeds ok"] == str(len(healthy))
    assert summary_counts(run.out)["feeds failed"] == str(len(faults))
    assert_each_fault_reported(run, faults)

    # The 429 was honoured: the retry came only after the second the server asked for.
    assert len(retry_clock.times) == 2
    assert retry_clock.times[1] - retry_clock.times[0] >= 0.95

    status = run_cli("status", "-c", str(config))
    assert status.code == 0 and "Traceback" not in status.out + status.err
    health = status_table(status.out)
    progress = fetched_lines(run.err)
    for url, fault in faults.items():
        row = health[url]
        assert (row.state, row.failures, row.articles) == (fault.status, 1, 0), fault.name
        assert progress[url].startswith(f"failed: {row.last_error.rstrip('…')}"), fault.name
    for url in healthy.values():
        assert (health[url].state, health[url].failures, health[url].articles) == ("ok", 0, 2)
    assert [health[url].state for url, f in faults.items() if f.name == "410"] == ["gone"]

    posts = sorted(p.stem for p in (tmp_path / "hexo").rglob("*.md"))
    assert posts == sorted(f"{tag} 新闻 {i}" for tag in ("ok-a", "ok-b", "after-429", "moved")
                           for i in range(2))


def test_a_gone_feed_stays_gone_and_counts_its_failures(tmp_path: Path, servers: Servers) -> None:
    gone = servers.plain.route("/gone", respond(410))
    good = servers.plain.route("/good", feed(rss("good")))
    config = write_config(tmp_path, [feed_entry(gone, "gone"), feed_entry(good, "good")], 1, 1)
    for _ in range(2):  # --all: a gone feed is not due again for retry_gone (7 days)
        run = run_cli("update", "--all", "-c", str(config))
        assert run.code == 1 and failed_table(run.out)[gone] == ("gone", "HTTP 410 Gone")
    assert servers.plain.hits("/gone") == 2  # once per run: a 410 is never retried
    health = status_table(run_cli("status", "-c", str(config)).out)
    assert (health[gone].state, health[gone].failures) == ("gone", 2)
    assert (health[good].state, health[good].articles) == ("ok", 2)


# --- each fault alone, against its own configured bound ----------------------------------------


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
def test_each_fault_alone_ends_within_its_configured_bound(
    tmp_path: Path, servers: Servers, fault: Fault
) -> None:
    timeout, retries = 1.0, 2  # another bound than the combined run: the budget follows config
    url = servers.fault_url(fault.name)
    good = servers.plain.route("/good", feed(rss("good")))
    config = write_config(tmp_path, [feed_entry(url, "bad"), feed_entry(good, "good")],
                          timeout, retries)
    measured = run_measured("update", "-c", str(config))
    assert measured.run.code == 1, measured.run.err + measured.run.out
    assert "Traceback" not in measured.run.out + measured.run.err
    assert run_seconds(measured.run) < timeout * (retries + 1) + MARGIN
    assert measured.seconds < timeout * (retries + 1) + WALL_MARGIN
    assert measured.peak_rss < MAX_RSS
    assert fetched_lines(measured.run.err)[url].startswith(f"failed: {fault.error}")
    assert failed_table(measured.run.out)[url][0] == fault.status
    assert fetched_lines(measured.run.err)[good] == "ok"


# --- 500 feeds, a fifth of them misbehaving ----------------------------------------------------


def numbered_feed() -> Handler:
    """A feed whose single item is unique to the request's ``?n=`` query."""

    def handler(exchange: Exchange) -> None:
        n = parse_qs(urlsplit(exchange.path).query)["n"][0]
        exchange.respond(200, rss(f"n{n}", 1), {"Content-Type": "application/rss+xml"})

    return handler


def test_500_feeds_with_20_percent_misbehaving_finish_within_the_budget(
    tmp_path: Path, servers: Servers
) -> None:
    timeout, retries = 3.0, 1
    good = servers.plain.route("/good", numbered_feed())
    entries, bad = [], {}
    for i in range(500):
        url = f"{good}?n={i}"
        if i % 5 == 0:  # every fifth feed misbehaves, cycling through every fault
            fault = FAULTS[(i // 5) % len(FAULTS)]
            url = servers.fault_url(fault.name, f"?n={i}")
            bad[url] = fault
        entries.append(feed_entry(url, f"c{i % 7}"))
    # The margin is what the same run costs when nothing misbehaves (interpreter, 500 fetches,
    # parsing, storing, writing the posts: 2.3-6 s on 2 cores, depending on their load).
    baseline = run_in(tmp_path / "baseline",
                      [feed_entry(f"{good}?n={i}", f"c{i % 7}") for i in range(500)],
                      timeout, retries)
    assert baseline.run.code == 0, baseline.run.err[-2000:]

    measured = run_in(tmp_path / "faulty", entries, timeout, retries)
    run = measured.run
    print(f"500 feeds, 100 misbehaving: {measured.seconds:.2f} s (run's own clock "
          f"{run_seconds(run):.1f} s); with none misbehaving "
          f"{baseline.seconds:.2f} s; budget {timeout * (retries + 1):g} s; "
          f"peak RSS {measured.peak_rss / MB:.0f} MB")

    assert run.code == 1 and "Traceback" not in run.out + run.err
    assert measured.seconds < timeout * (retries + 1) + baseline.seconds + SLACK
    assert measured.peak_rss < MAX_RSS
    counts = summary_counts(run.out)
    assert (counts["feeds ok"], counts["feeds failed"], counts["new articles"]) == (
        "400", "100", "400")
    assert counts["hexo files written / removed"] == "400 / 0"
    assert_each_fault_reported(run, bad, cap="2 MB")


def run_in(folder: Path, entries: list[dict[str, str]], timeout: float,
           retries: int) -> Measured:
    folder.mkdir()
    # A slot for every feed, as 500 feeds spread over many hosts would have: a slow feed that
    # waits for a slot would start its budget late, and no bound could hold. A small body cap
    # keeps the ~6 gzip bombs and ~12 huge bodies in flight together light.
    config = write_config(folder, entries, timeout, retries, concurrency=500, max_bytes=2 * MB)
    return run_measured("update", "-c", str(config))
