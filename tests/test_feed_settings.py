"""Per-feed settings (issue 12): each one takes effect, through the CLI against a local server
that records what it was sent; the store is read to see what was kept."""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import run_cli
from rsspage.config import load_config
from rsspage.errors import ConfigError
from rsspage.redact import redact
from servers import Exchange, LocalServer, feed, respond

SECRET = "s3cret-cookie-value-4711"


def rss(site: str, *items: tuple[str, str]) -> bytes:
    """A feed of (guid, pubDate text) items; ``site`` keeps its articles apart from other
    feeds' (the same link or text in two feeds is one article)."""
    body = "".join(f"<item><title>{site} 条目 {guid}</title><link>http://{site}.example.com/"
                   f"{guid}</link><guid>{guid}</guid><pubDate>{date}</pubDate><description>"
                   f"{site} 的正文 {guid}</description></item>" for guid, date in items)
    return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>t</title>'
            f"<link>http://example.com/</link>{body}</channel></rss>").encode()


def write_config(folder: Path, feeds: list[dict[str, Any]], **sections: Any) -> Path:
    config = {"feeds": feeds, "output": {"state": "state", "site": "public"}, **sections}
    config.setdefault("fetch", {}).update(timeout=2, retries=0)
    path = folder / "rsspage.yml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def named(url: str, name: str, **settings: Any) -> dict[str, Any]:
    return {"url": url, "category": "测试", "source": name, "channel": "全部", **settings}


def stored(folder: Path) -> dict[str, list[str]]:
    """Feed URL → the published dates (ISO, UTC) of its articles."""
    with sqlite3.connect(folder / "state" / "rsspage.sqlite3") as conn:
        rows = conn.execute("SELECT feed_key, published FROM articles ORDER BY published")
        out: dict[str, list[str]] = {}
        for key, published in rows:
            out.setdefault(key, []).append(published)
    return out


def everything_written(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())


def echo_cookie(exchange: Exchange) -> None:
    """A server error page that shows the request's cookie, as some do."""
    exchange.respond(500, f"bad session {exchange.header('Cookie')}".encode(),
                     {"Content-Type": "text/plain"})


def test_header_values_are_masked_in_error_text() -> None:
    assert redact(f"HTTP 500: bad session {SECRET}", [SECRET, "1"]) == "HTTP 500: bad session ***"


def test_user_agent_and_headers_are_sent_and_the_cookie_never_shown(tmp_path: Path) -> None:
    with LocalServer() as server:
        own = server.route("/own.xml", feed(rss("own", ("1", "Wed, 01 May 2024 08:00:00 GMT"))))
        plain = server.route("/plain.xml", feed(rss("plain", ("2", "Wed, 01 May 2024 08:00:00 GMT"))))
        broken = server.route("/broken.xml", echo_cookie)
        cookie = {"Cookie": {"env": "TEST_COOKIE"}}
        config = write_config(tmp_path, [
            named(own, "甲", user_agent="own-agent/2", headers={
                "Referer": "https://example.com/", "Accept-Language": "en", **cookie}),
            named(plain, "乙"),
            named(broken, "丙", headers=cookie),
        ], fetch={"user_agent": "global-agent/1", "headers": {"Accept-Language": "zh-CN"}})
        env = {"TEST_COOKIE": SECRET}
        run = run_cli("update", "-c", str(config), env=env)
        status = run_cli("status", "-c", str(config), env=env)
        first, second = server.requests("/own.xml")[0], server.requests("/plain.xml")[0]
    assert run.code == 1, run.err  # the broken feed failed
    assert first.headers["user-agent"] == "own-agent/2"
    assert first.headers["referer"] == "https://example.com/"
    assert first.headers["accept-language"] == "en"  # the feed's own wins over fetch.headers
    assert first.headers["cookie"] == SECRET
    assert second.headers["user-agent"] == "global-agent/1"
    assert second.headers["accept-language"] == "zh-CN"
    assert "cookie" not in second.headers and "referer" not in second.headers
    for text in (run.out, run.err, status.out, status.err):
        assert SECRET not in text
    assert SECRET.encode() not in everything_written(tmp_path)


def test_a_missing_cookie_variable_is_a_config_error_naming_the_line(tmp_path: Path) -> None:
    config = write_config(tmp_path, [named("https://example.com/f.xml", "甲",
                                           headers={"Cookie": {"env": "NO_SUCH_COOKIE_VAR"}})])
    run = run_cli("update", "-c", str(config))
    assert run.code == 2 and "Traceback" not in run.err
    assert re.search(r"rsspage\.yml:\d+: feeds\[0\]\.headers\.Cookie: the environment variable "
                     "NO_SUCH_COOKIE_VAR is not set", run.err), run.err


def test_a_disabled_feed_is_not_fetched_and_keeps_its_articles(tmp_path: Path) -> None:
    with LocalServer() as server:
        url = server.route("/f.xml", feed(rss("f", ("1", "Wed, 01 May 2024 08:00:00 GMT"))))
        other = server.route("/g.xml", feed(rss("g", ("2", "Wed, 01 May 2024 08:00:00 GMT"))))
        config = write_config(tmp_path, [named(url, "甲"), named(other, "乙")])
        assert run_cli("update", "-c", str(config)).code == 0
        pages = {p.relative_to(tmp_path) for p in (tmp_path / "public").rglob("*.html")}
        write_config(tmp_path, [named(url, "甲", enabled=False), named(other, "乙")])
        run = run_cli("update", "--all", "-c", str(config))
        hits = server.hits("/f.xml"), server.hits("/g.xml")
        status = run_cli("status", "-c", str(config))
    assert run.code == 0, run.err
    assert hits == (1, 2)  # the disabled feed: not fetched again, even with --all
    assert stored(tmp_path)[url]  # its article stays in the archive …
    after = {p.relative_to(tmp_path) for p in (tmp_path / "public").rglob("*.html")}
    assert pages <= after  # … and every page of the site stays
    with sqlite3.connect(tmp_path / "state" / "rsspage.sqlite3") as conn:
        retired = conn.execute("SELECT retired_at FROM feeds WHERE key=?", (url,)).fetchone()
    assert retired == (None,)  # followed, not retired
    assert re.search(r"f\.xml .* disabled", status.out), status.out  # not "due now"


def test_items_per_feed_per_feed(tmp_path: Path) -> None:
    items = [(str(i), f"Wed, 0{i} May 2024 08:00:00 GMT") for i in range(1, 5)]
    with LocalServer() as server:
        few = server.route("/few.xml", feed(rss("few", *items)))
        many = server.route("/many.xml", feed(rss("many", *items)))
        config = write_config(tmp_path, [named(few, "甲", items_per_feed=1), named(many, "乙")],
                              limits={"items_per_feed": 3})
        assert run_cli("update", "-c", str(config)).code == 0
    counts = {key: len(dates) for key, dates in stored(tmp_path).items()}
    assert counts == {few: 1, many: 3}


def test_timezone_of_dates_without_one(tmp_path: Path) -> None:
    naive = [("1", "2024-05-01 08:00:00")]
    zoned = [("2", "2024-05-01T08:00:00+02:00")]
    with LocalServer() as server:
        york = server.route("/york.xml", feed(rss("york", *naive)))
        tokyo = server.route("/tokyo.xml", feed(rss("tokyo", *naive)))
        keeps = server.route("/zoned.xml", feed(rss("zoned", *zoned)))
        config = write_config(tmp_path, [
            named(york, "甲", timezone="America/New_York"), named(tokyo, "乙"),
            named(keeps, "丙", timezone="America/New_York"),
        ], fetch={"timezone": "Asia/Tokyo"})
        assert run_cli("update", "-c", str(config)).code == 0
    dates = {key: datetime.fromisoformat(v[0]).astimezone(UTC) for key, v in stored(tmp_path).items()}
    assert dates[york] == datetime(2024, 5, 1, 12, tzinfo=UTC)  # 08:00 EDT
    assert dates[tokyo] == datetime(2024, 4, 30, 23, tzinfo=UTC)  # 08:00 JST (fetch.timezone)
    assert dates[keeps] == datetime(2024, 5, 1, 6, tzinfo=UTC)  # a date with a zone keeps it


def test_keep_days_per_feed_prunes_only_that_feed(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    items = [("old", format_datetime(now - timedelta(days=20), usegmt=True)),
             ("new", format_datetime(now - timedelta(days=1), usegmt=True))]
    with LocalServer() as server:
        own = server.route("/own.xml", feed(rss("own", *items)))
        forever = server.route("/forever.xml", feed(rss("forever", *items)))
        common = server.route("/common.xml", feed(rss("common", *items)))
        config = write_config(tmp_path, [
            named(own, "甲", keep_days=10),    # its own, shorter than the global 30
            named(forever, "乙", keep_days=0),  # 0: keep all, whatever the global says
            named(common, "丙"),
        ], limits={"keep_days": 30})
        assert run_cli("update", "-c", str(config)).code == 0
        write_config(tmp_path, [named(own, "甲", keep_days=10), named(forever, "乙", keep_days=0),
                                named(common, "丙")], limits={"keep_days": 5})
        assert run_cli("update", "--all", "-c", str(config)).code == 0
    counts = {key: len(dates) for key, dates in stored(tmp_path).items()}
    # own: 10 days → the 20-day-old one goes; forever: both; common: global 5 days → one.
    assert counts == {own: 1, forever: 2, common: 1}


def test_a_redirect_to_another_host_does_not_take_the_cookie(tmp_path: Path) -> None:
    with LocalServer() as server:
        landing = server.route("/landing.xml", feed(rss("landing", ("1", "Wed, 01 May 2024 08:00:00 GMT"))))
        same_host = server.url("/landing.xml")
        other_host = landing.replace("127.0.0.1", "localhost")
        server.route("/hop.xml", respond(302, headers={"Location": other_host}))
        server.route("/stay.xml", respond(302, headers={"Location": same_host}))
        headers = {"Referer": "https://example.com/", "Cookie": {"env": "TEST_COOKIE"}}
        config = write_config(tmp_path, [named(server.url("/hop.xml"), "甲", headers=headers),
                                         named(server.url("/stay.xml"), "乙", headers=headers)])
        run = run_cli("update", "-c", str(config), env={"TEST_COOKIE": SECRET})
        sent = [r.headers for r in server.requests("/landing.xml")]
    assert run.code == 0, run.err
    assert sorted(h.get("cookie", "") for h in sent) == ["", SECRET]  # only on the same host
    assert all(h["referer"] == "https://example.com/" for h in sent)


FEED_LINE = "feeds:\n  - url: https://a.example/feed.xml\n"


@pytest.mark.parametrize(("setting", "expected"), [
    ("    enabled: maybe\n", ":3: feeds[0].enabled: expected true or false, got 'maybe'"),
    ("    keep_days: -1\n", ":3: feeds[0].keep_days: must be at least 0, got -1"),
    ("    items_per_feed: 0\n", ":3: feeds[0].items_per_feed: must be at least 1, got 0"),
    ("    timezone: Mars/Base\n", ":3: feeds[0].timezone: unknown time zone 'Mars/Base'"),
    ("    user_agent: ''\n", ":3: feeds[0].user_agent: must not be empty"),
    ("    headers: {Cookie: {env: X, value: y}}\n",
     ":3: feeds[0].headers.Cookie: give the value, or {env: NAME}"),
    ("    headers: {Cookie: {envv: X}}\n",
     ":3: feeds[0].headers.Cookie.envv: unknown key, did you mean env?"),
    ("    full_text: 1\n", ":3: feeds[0].full_text: expected true or false, got '1'"),
    ("    enabeld: false\n", ":3: feeds[0].enabeld: unknown key, did you mean enabled?"),
])
def test_bad_settings_name_line_and_key(tmp_path: Path, setting: str, expected: str) -> None:
    path = tmp_path / "rsspage.yml"
    path.write_text(FEED_LINE + setting, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert f"{path}{expected}" in str(info.value)
