"""The archive on PostgreSQL, through the CLI as users run it (issue 14): `store: {url_env}` in
rsspage.yml, a real server from Debian's packages (tests/pg_harness.py), feeds on 127.0.0.1.

The URL carries a password (the test server trusts its socket and ignores it): it must never
appear in any output, log, error or file. The site built from PostgreSQL has the same pages as
the one built from SQLite from the same feeds; the archive outlives the state folder (another
machine builds the site from it); one run at a time holds the store, across machines.
"""

from __future__ import annotations

import re
import tempfile
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest
import yaml

import pg_harness
from conftest import run_cli
from rsspage.store import Store, pg
from servers import LocalServer, feed

NOW = datetime.now(UTC)
SECRET = "pw-s3cret-4711"
STORIES = [
    ("小米发布第{n}款自研芯片", "小米今天发布了第{n}款自研手机芯片，采用三纳米工艺，性能提升三成。"),
    ("华为公布第{n}季度财报", "华为公布第{n}季度财报，营收同比增长，终端业务回暖，云业务放缓。"),
    ("Apple ships macOS {n}", "Apple shipped macOS {n} today with a new window manager."),
]


def rss(first: int, count: int) -> bytes:
    items = []
    for n in range(first, first + count):
        title, text = STORIES[n % len(STORIES)]
        items.append(
            f"<item><title>{escape(title.format(n=n))}</title>"
            f"<link>https://news.example.com/{n}.html</link><guid>n{n}</guid>"
            f"<description>{escape(f'<p>{text.format(n=n)}</p>')}</description>"
            f"<pubDate>{format_datetime(NOW - timedelta(hours=n))}</pubDate></item>")
    return ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>T'
            f'</title><link>https://news.example.com/</link>{"".join(items)}</channel></rss>'
            ).encode()


def with_password(url: str) -> str:
    """The server's URL with a password in it (trust auth: ignored, but it is a secret)."""
    return url.replace("postgresql://", "postgresql://", 1).replace("@/", f":{SECRET}@/", 1)


def write_config(folder: Path, base: str, *, store: dict[str, Any] | None) -> Path:
    config: dict[str, Any] = {
        "feeds": [{"url": f"{base}/a", "category": "科技", "source": "新闻网", "channel": "最新"},
                  {"url": f"{base}/b", "category": "科技", "source": "新闻网", "channel": "数码"}],
        "fetch": {"timeout": 10, "retries": 0},
        "output": {"state": "state", "hexo": "hexo", "site": "public"},
    }
    if store is not None:
        config["store"] = store
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "rsspage.yml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def files(folder: Path) -> set[str]:
    """The files in ``folder``, Pagefind's content-hashed names without their hash (its index
    holds when each article was first seen, which differs between two runs)."""
    return {re.sub(r"\.(\w+_)?[0-9a-f]{10}\.", ".*.", str(p.relative_to(folder)))
            for p in folder.rglob("*") if p.is_file()}


def secret_in_files(folder: Path) -> list[str]:
    return [str(p) for p in folder.rglob("*")
            if p.is_file() and SECRET.encode() in p.read_bytes()]


@pytest.fixture
def feeds() -> Any:
    with LocalServer() as server:
        server.route("/a", feed(rss(0, 12)))
        server.route("/b", feed(rss(20, 6)))
        yield server


def test_update_build_status_and_search_on_postgresql_as_on_sqlite(
        tmp_path: Path, postgres: pg_harness.Server, feeds: LocalServer) -> None:
    url = with_password(postgres.database())
    env = {"RSSPAGE_STORE": url}
    on_pg = write_config(tmp_path / "pg", feeds.url(""), store={"url_env": "RSSPAGE_STORE"})
    on_sqlite = write_config(tmp_path / "sqlite", feeds.url(""), store=None)
    outputs = []
    for config in (on_pg, on_sqlite):
        run = run_cli("update", "-c", str(config), env=env)
        assert run.code == 0, run.err
        outputs += [run.out, run.err]
    assert not (tmp_path / "pg" / "state" / "rsspage.sqlite3").exists()  # the archive is there
    assert files(tmp_path / "pg" / "public") == files(tmp_path / "sqlite" / "public")
    assert files(tmp_path / "pg" / "hexo") == files(tmp_path / "sqlite" / "hexo")
    assert len([f for f in files(tmp_path / "pg" / "hexo") if f.endswith(".md")]) == 18
    with Store.open(tmp_path / "unused", url) as store:
        assert store.article_count() == 18
        assert store.integrity_ok()
    said = {}
    for command in (["status"], ["search", "芯片"], ["search", "财报 华为"], ["search", "macOS"],
                    ["build"], ["export", str(tmp_path / "all.jsonl.gz")]):
        run = run_cli(*command, "-c", str(on_pg), env=env)
        assert run.code == 0, (command, run.err)
        said[" ".join(command[:2])] = run.out
        outputs += [run.out, run.err]
    assert "第0款自研芯片" in said["search 芯片"] and "第9款自研芯片" in said["search 芯片"]
    assert "第1季度财报" in said["search 财报 华为"]
    assert "macOS 2" in said["search macOS"]
    assert not [text for text in outputs if SECRET in text]
    assert not secret_in_files(tmp_path)


def test_the_archive_outlives_the_state_folder(tmp_path: Path, postgres: pg_harness.Server,
                                                feeds: LocalServer) -> None:
    """A CI runner loses its folder: the next one builds the whole site from the store, and
    its update fetches only what is new (the feeds' validators are in the store too)."""
    env = {"RSSPAGE_STORE": postgres.database()}
    first = write_config(tmp_path / "one", feeds.url(""), store={"url_env": "RSSPAGE_STORE"})
    assert run_cli("update", "-c", str(first), env=env).code == 0
    second = write_config(tmp_path / "two", feeds.url(""), store={"url_env": "RSSPAGE_STORE"})
    run = run_cli("build", "-c", str(second), env=env)
    assert run.code == 0, run.err
    assert files(tmp_path / "two" / "public") == files(tmp_path / "one" / "public")
    assert files(tmp_path / "two" / "hexo") == files(tmp_path / "one" / "hexo")


def test_one_run_at_a_time_holds_the_store_across_machines(
        tmp_path: Path, postgres: pg_harness.Server, feeds: LocalServer) -> None:
    url = with_password(postgres.database())
    config = write_config(tmp_path / "b", feeds.url(""), store={"url_env": "RSSPAGE_STORE"})
    with pg.run_lock(url):  # a run on another machine (another state folder)
        run = run_cli("update", "-c", str(config), env={"RSSPAGE_STORE": url})
    assert run.code != 0
    assert "another rsspage run" in run.err and "Traceback" not in run.err
    assert SECRET not in run.err + run.out
    assert run_cli("update", "-c", str(config), env={"RSSPAGE_STORE": url}).code == 0


@pytest.mark.parametrize(("password", "said"), [
    (SECRET, "cannot connect to the store postgresql://someone:***@/nodb"),
    (f"{SECRET}%zz", "cannot be read as a PostgreSQL URL"),  # libpq would quote "…%zz"
])
def test_a_store_that_cannot_be_reached_is_a_clear_error_without_the_password(
        tmp_path: Path, feeds: LocalServer, password: str, said: str) -> None:
    url = f"postgresql://someone:{password}@/nodb?host={tmp_path}/nothing&port=5432"
    config = write_config(tmp_path, feeds.url(""), store={"url_env": "RSSPAGE_STORE"})
    for command in ("update", "build", "status"):
        run = run_cli(command, "-c", str(config), env={"RSSPAGE_STORE": url})
        assert run.code == 2 and "Traceback" not in run.err and "internal" not in run.err
        assert said in run.err, run.err
        assert SECRET not in run.err + run.out
    log = Path(tempfile.gettempdir()) / "rsspage-error.log"  # where a bug's traceback goes
    assert not secret_in_files(tmp_path) and SECRET not in (
        log.read_text("utf-8", "replace") if log.exists() else "")


@pytest.mark.parametrize(("store", "env", "problem"), [
    ({"url": "mysql://x/y"}, {}, "url: expected a postgresql:// URL"),
    ({"url_env": "RSSPAGE_UNSET_STORE"}, {}, "RSSPAGE_UNSET_STORE is not set"),
    ({"url_env": "RSSPAGE_STORE"}, {"RSSPAGE_STORE": f"sqlite://{SECRET}"},
     "url_env (RSSPAGE_STORE): expected a postgresql:// URL"),
    ({"url": "postgresql://h/d", "url_env": "X"}, {}, "give url, or url_env"),
])
def test_a_bad_store_section_names_file_line_and_key(
        tmp_path: Path, store: dict[str, str], env: dict[str, str], problem: str) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:1", store=store)
    run = run_cli("update", "-c", str(config), env=env)
    assert run.code == 2, run.err
    assert f"{config}:" in run.err and "store" in run.err and problem in run.err
    assert SECRET not in run.err


def test_translated_statements() -> None:
    """The store's SQLite statements as PostgreSQL runs them (store/pg.py)."""
    assert pg.translate("SELECT a FROM t WHERE b = ? AND c LIKE '50%?' AND +hidden = 0") == (
        "SELECT a FROM t WHERE b = %s AND c LIKE '50%%?' AND +hidden = 0")
    assert pg.translate("INSERT OR IGNORE INTO t (a) VALUES (?)") == (
        "INSERT INTO t (a) VALUES (%s) ON CONFLICT DO NOTHING")
    assert pg.translate("SELECT instr(a, ?) % 2, a + b, x+1, (+a.hidden), +published") == (
        "SELECT strpos(a, %s) %% 2, a + b, x+1, (+a.hidden), published")
    for sql in ("INSERT OR REPLACE INTO t (a) VALUES (?)", "SELECT a +b FROM t"):
        with pytest.raises(ValueError, match="not portable"):
            pg.translate(sql)


def test_percent_signs_and_question_marks_reach_postgresql_as_written(
        tmp_path: Path, postgres: pg_harness.Server) -> None:
    with Store.open(tmp_path, postgres.database()) as store:
        conn = store._conn
        assert conn.execute("SELECT 7 % 4, '50%', '?'").fetchone() == (3, "50%", "?")
        assert conn.execute("SELECT 7 % ?, '%s?', ? || '%'", (4, "x")).fetchone() == (
            3, "%s?", "x%")


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_migrate_into_postgresql_and_back_verified(tmp_path: Path, postgres: pg_harness.Server,
                                                   feeds: LocalServer) -> None:
    url = with_password(postgres.database())
    env = {"RSSPAGE_TARGET": url, "RSSPAGE_STORE": url}
    config = write_config(tmp_path / "site", feeds.url(""), store=None)
    assert run_cli("update", "-c", str(config)).code == 0
    built = snapshot(tmp_path / "site" / "public")

    run = run_cli("migrate", "-c", str(config), "--to-env", "RSSPAGE_TARGET", env=env)
    assert run.code == 0, run.err
    assert "verified: the copy holds the same records" in run.out
    assert re.search(r"articles\s+18\s+18", run.out) and re.search(r"feeds\s+2\s+2", run.out)
    assert "postgresql://" in run.out and SECRET not in run.out + run.err
    again = run_cli("migrate", "-c", str(config), "--to-env", "RSSPAGE_TARGET", env=env)
    assert again.code != 0 and "not empty" in again.err and "Traceback" not in again.err

    # The site goes on from the copy: its archive and mark are the same, nothing is rebuilt.
    config = write_config(tmp_path / "site", feeds.url(""), store={"url_env": "RSSPAGE_STORE"})
    run = run_cli("build", "-c", str(config), env=env)
    assert run.code == 0, run.err
    assert snapshot(tmp_path / "site" / "public") == built

    back = tmp_path / "back"
    run = run_cli("migrate", "-c", str(config), "--to", str(back), env=env)
    assert run.code == 0, run.err
    assert "verified" in run.out and f"SQLite in {back}" in run.out
    with Store.open(back) as store:
        assert store.article_count() == 18 and store.integrity_ok()


def test_serve_rebuilds_when_the_postgresql_store_changes(
        tmp_path: Path, postgres: pg_harness.Server) -> None:
    """No file changes on a database server: `rsspage serve` polls where the store stands
    (its change log's mark, the feeds' last fetch)."""
    from rsspage.serve import serving
    from rsspage.types import FeedSpec, FetchResult, FetchStatus

    url = postgres.database()
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<p>x</p>", encoding="utf-8")
    calls: list[int] = []

    from rsspage.cli.core import _watched  # what `rsspage serve` polls
    from rsspage.config import parse_config

    text = f"feeds: [http://127.0.0.1:1/a]\noutput: {{state: state}}\nstore: {{url: '{url}'}}\n"
    activity = _watched(parse_config(text, tmp_path / "rsspage.yml"))
    assert callable(activity) and activity() == activity()  # one connection, polled
    spec = FeedSpec(key="/a", urls=("http://127.0.0.1:1/a",), category="c", source="s",
                    channel="h")
    with serving(site, rebuild=lambda: calls.append(1), watch=activity, interval=0.1):
        time.sleep(0.5)
        assert calls == []
        with Store.open(tmp_path / "state", url) as store:
            store.save_feed(spec, FetchResult(key="/a", status=FetchStatus.NOT_MODIFIED,
                                              url=spec.urls[0]), (), None, NOW)
        deadline = time.monotonic() + 10
        while not calls and time.monotonic() < deadline:
            time.sleep(0.1)
    assert calls == [1]
