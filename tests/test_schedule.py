"""Per-feed schedules: due feeds only (`update`, `--all`), server hints within bounds, back-off,
gone feeds retried rarely, `status` showing when each feed is next due, deterministic jitter and
config errors. Through the real CLI against local servers; the times are read from the store.
"""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import run_cli, summary
from rsspage.config import ScheduleConfig, parse_config
from rsspage.errors import ConfigError
from rsspage.schedule import jitter_fraction, next_timing
from rsspage.types import FeedSpec, FeedTiming, FetchStatus, ServerHints
from servers import RSS, LocalServer, feed, respond, sequence, too_many_requests

HOUR = 3600.0


def write_config(folder: Path, feeds: list[Any], schedule: dict[str, Any]) -> Path:
    config = {
        "feeds": feeds,
        "schedule": schedule,
        "fetch": {"timeout": 2, "retries": 0},
        "output": {"state": "state", "site": None},
    }
    path = folder / "rsspage.yml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def timings(state: Path) -> dict[str, tuple[float, int, str]]:
    """Feed key → (seconds from its last attempt to its next check, failures, next_check)."""
    with sqlite3.connect(state / "rsspage.sqlite3") as conn:
        rows = conn.execute(
            "SELECT key, last_attempt, next_check, consecutive_failures FROM feeds").fetchall()
    return {
        key: ((datetime.fromisoformat(nxt) - datetime.fromisoformat(last)).total_seconds(),
              failures, nxt)
        for key, last, nxt, failures in rows
    }


def update(config: Path, *extra: str) -> dict[str, str]:
    run = run_cli("update", *extra, "-c", str(config))
    assert run.code in (0, 1) and "Traceback" not in run.err + run.out, run.err + run.out
    return summary(run.out)


def test_update_fetches_only_due_feeds_unless_all(tmp_path: Path) -> None:
    with LocalServer() as server:
        hourly = server.route("/hourly", feed())
        often = server.route("/often", feed(RSS.replace(b"<guid>1<", b"<guid>2<")))
        config = write_config(tmp_path, [hourly, {"url": often, "every": "1s"}],
                              {"jitter": 0, "min_interval": "0s"})
        first = update(config)
        assert first["feeds ok"] == "2" and first["feeds skipped (not due)"] == "0"

        time.sleep(1.1)  # /often is due again, /hourly is not
        second = update(config)
        assert second["feeds skipped (not due)"] == "1"
        assert (server.hits("/hourly"), server.hits("/often")) == (1, 2)

        everything = update(config, "--all")
        assert everything["feeds skipped (not due)"] == "0"
        assert (server.hits("/hourly"), server.hits("/often")) == (2, 3)

        status = run_cli("status", "-c", str(config))
        assert status.code == 0 and "next due" in status.out
        assert timings(tmp_path / "state")[hourly][2][:19] in status.out


def test_a_changed_every_makes_the_feed_due_at_once(tmp_path: Path) -> None:
    with LocalServer() as server:
        url = server.route("/feed", feed())
        config = write_config(tmp_path, [{"url": url, "every": "1d"}], {"jitter": 0})
        update(config)
        assert update(config)["feeds skipped (not due)"] == "1"
        write_config(tmp_path, [{"url": url, "every": "2h"}], {"jitter": 0})
        day_away = timings(tmp_path / "state")[url][2][:19]
        status = run_cli("status", "-c", str(config))  # says what `update` will do
        row = next(line for line in status.out.splitlines() if url in line)
        assert "due now" in row and day_away not in row, status.out
        assert update(config)["feeds skipped (not due)"] == "0"  # not a day's wait for 2h
        assert timings(tmp_path / "state")[url][0] == pytest.approx(2 * HOUR)
        assert update(config)["feeds skipped (not due)"] == "1"
        assert server.hits("/feed") == 2


def test_server_hints_are_honoured_within_bounds(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    ttl_feed = RSS.replace(b"<description>d</description>", b"<ttl>240</ttl>")
    # Expires counts from the response's Date (the server sends one): 3 h give or take the
    # seconds between building this header and the request.
    dated = {"Expires": format_datetime(now + timedelta(hours=3), usegmt=True)}
    with LocalServer() as server:
        urls = {
            "max-age": server.route("/max-age", feed(headers={"Cache-Control": "max-age=7200"})),
            "expires": server.route("/expires", feed(headers=dated)),
            "ttl": server.route("/ttl", feed(ttl_feed)),
            "too long": server.route("/long", feed(headers={"Cache-Control": "max-age=999999"})),
            "shorter than every": server.route(
                "/short", feed(headers={"Cache-Control": "public, max-age=60"})),
            "no-cache": server.route(
                "/no-cache", feed(headers={"Cache-Control": "no-cache", **dated})),
            "retry-after": server.route("/busy", too_many_requests("36000")),
            "retry-after short": server.route("/busy-short", too_many_requests("120")),
        }
        config = write_config(tmp_path, list(urls.values()),
                              {"every": "1h", "jitter": 0, "max_interval": "5h"})
        update(config)
    got = {name: timings(tmp_path / "state")[url][0] / HOUR for name, url in urls.items()}
    assert got == pytest.approx({
        "max-age": 2, "expires": 3, "ttl": 4, "too long": 5, "shorter than every": 1,
        "no-cache": 1,
        "retry-after": 5,  # 10 h asked, 5 h allowed (more than the 2 h of a first back-off)
        "retry-after short": 2,  # the back-off is longer than the 2 minutes asked
    }, abs=0.01)


def test_a_failing_feed_backs_off_up_to_the_ceiling_then_recovers(tmp_path: Path) -> None:
    with LocalServer() as server:
        url = server.route("/flaky", sequence(*[respond(500)] * 5, feed()))
        config = write_config(tmp_path, [url], {"every": "1m", "jitter": 0, "min_interval": "0s",
                                                "max_backoff": "10m"})
        waits = []
        for _ in range(6):
            update(config, "--all")
            seconds, failures, _ = timings(tmp_path / "state")[url]
            waits.append((seconds / 60, failures))
    assert waits == [(2, 1), (4, 2), (8, 3), (10, 4), (10, 5), (1, 0)]


def test_a_gone_feed_is_retried_rarely_and_status_says_so(tmp_path: Path) -> None:
    with LocalServer() as server:
        gone = server.route("/gone", respond(410, b"gone", content_type="text/plain"))
        fine = server.route("/fine", feed())
        config = write_config(tmp_path, [gone, fine], {"jitter": 0, "retry_gone": "3d"})
        update(config)
        assert timings(tmp_path / "state")[gone][0] == pytest.approx(3 * 24 * HOUR)
        status = run_cli("status", "-c", str(config))
    assert status.code == 0
    notes = [line for line in status.out.splitlines() if "retrying rarely" in line]
    assert len(notes) == 1 and notes[0].startswith(f"{gone}: retrying rarely (every 3d): gone "
                                                   "since ")
    assert timings(tmp_path / "state")[gone][2][:19] in notes[0]


def test_a_long_failing_feed_is_retried_rarely(tmp_path: Path) -> None:
    with LocalServer() as server:
        url = server.route("/down", respond(503, b"down", content_type="text/plain"))
        config = write_config(tmp_path, [url], {"jitter": 0, "retry_gone": "1s"})
        update(config, "--all")
        assert timings(tmp_path / "state")[url][0] == pytest.approx(2 * HOUR)  # backing off
        time.sleep(1.1)  # failing for longer than retry_gone now
        update(config, "--all")
        assert timings(tmp_path / "state")[url][0] == pytest.approx(60)  # min_interval
        status = run_cli("status", "-c", str(config))
    assert f"{url}: retrying rarely (every 1s): failing since " in status.out


def test_jitter_is_the_same_in_every_run_and_bounded(tmp_path: Path) -> None:
    with LocalServer() as server:
        urls = [server.route(f"/f{i}", feed()) for i in range(6)]
        spreads = []
        for run in ("one", "two"):
            (tmp_path / run).mkdir()
            config = write_config(tmp_path / run, urls, {"every": "1h", "jitter": 0.5})
            update(config)
            spreads.append({k: v[0] for k, v in timings(tmp_path / run / "state").items()})
    assert spreads[0] == pytest.approx(spreads[1])
    assert all(0.5 * HOUR <= s <= HOUR for s in spreads[0].values())
    assert len({round(s) for s in spreads[0].values()}) > 1  # spread out, not all at once


def test_next_timing_jitter_bounds_and_backoff_ceiling() -> None:
    policy = ScheduleConfig(every=timedelta(hours=1), jitter=0.2, max_backoff=timedelta(hours=5))
    now = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(200):
        spec = FeedSpec(key=f"/feed/{i}", urls=(), category="", source="", channel="")
        fine = next_timing(spec, FetchStatus.OK, ServerHints(), FeedTiming(), policy, now)
        assert fine.next_check is not None
        assert timedelta(minutes=48) <= fine.next_check - now <= timedelta(hours=1)
        assert 0 <= jitter_fraction(spec.key) < 1
        failing = FeedTiming(failures=30, failing_since=now)
        worst = next_timing(spec, FetchStatus.FAILED, ServerHints(), failing, policy, now)
        assert worst.next_check is not None and worst.next_check - now <= timedelta(hours=5)
        assert worst.failures == 31 and worst.failing_since == now


@pytest.mark.parametrize(("schedule", "key", "problem"), [
    ("schedule: {every: soon}", "schedule.every", "expected a duration such as 30m"),
    ("schedule: {every: 0s}", "schedule.every", "must be at least 1s"),
    ("schedule: {max_backoff: 90}", "schedule.max_backoff", "expected a duration"),
    ("schedule: {retry_gone: 5y}", "schedule.retry_gone", "expected a duration"),
    ("schedule: {max_interval: 400d}", "schedule.max_interval", "at most 366d"),
    ("schedule: {jitter: 2}", "schedule.jitter", "at most 1"),
    ("schedule: {min_interval: 2h, max_interval: 1h}", "schedule.max_interval",
     "at least schedule.min_interval"),
    ("schedule: {often: 1h}", "schedule.often", "unknown key"),
])
def test_bad_schedule_settings_name_file_line_and_key(
        tmp_path: Path, schedule: str, key: str, problem: str) -> None:
    text = f"feeds: [http://127.0.0.1:9/feed]\n{schedule}\n"
    with pytest.raises(ConfigError) as error:
        parse_config(text, tmp_path / "rsspage.yml")
    assert str(error.value).startswith(f"{tmp_path / 'rsspage.yml'}:2: {key}: "), error.value
    assert problem in str(error.value)


def test_bad_every_of_a_feed_is_reported_by_the_cli(tmp_path: Path) -> None:
    config = tmp_path / "rsspage.yml"
    config.write_text("feeds:\n  - url: http://127.0.0.1:9/feed\n    every: hourly\n",
                      encoding="utf-8")
    run = run_cli("update", "-c", str(config))
    assert run.code == 2
    assert f"{config}:3: feeds[0].every: expected a duration such as 30m, 2h or 1d, " \
           "got 'hourly'" in run.err
    good = parse_config("routes:\n  - {path: /a, every: 1h30m}\nschedule: {every: 2d}\n", config)
    assert good.routes[0].every == timedelta(minutes=90)
    assert good.schedule.every == timedelta(days=2)
