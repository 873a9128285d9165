"""Config loading: the DESIGN.md example loads; every error names file:line: key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_cli
from rsspage.config import load_config
from rsspage.errors import ConfigError

EXAMPLE = """\
site: {title: 小冰 RSSHub, url: https://news.example.com/, language: zh-CN, timezone: Asia/Shanghai}
rsshub:
  instances: [https://rsshub.app]   # tried in order for every route
  catalog: []                       # extra catalog files/folders (routes.json, legacy docs)
routes:                             # the routes to follow ("slect" in the original)
  - /kkj/news
  - {path: /36kr/newsflashes, category: 新媒体, source: 36kr, channel: 快讯}
feeds:                              # any feed URL ("diy" in the original)
  - {url: https://example.com/feed.xml, category: 博客, source: Example, channel: 全部}
limits: {items_per_feed: 20, keep_days: 0}
fetch: {concurrency: 16, per_host: 4, timeout: 20, retries: 2}
output: {state: .rsspage, hexo: null, site: public}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rsspage.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_design_example_loads_with_paths_relative_to_the_config(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, EXAMPLE))
    assert config.site.title == "小冰 RSSHub"
    assert [i.url for i in config.instances] == ["https://rsshub.app"]
    assert [r.path for r in config.routes] == ["/kkj/news", "/36kr/newsflashes"]
    assert config.routes[1].channel == "快讯"
    assert config.feeds[0].source == "Example"
    assert config.fetch.timeout == 20.0
    assert config.output.state == tmp_path / ".rsspage"
    assert config.output.hexo is None
    assert config.output.site == tmp_path / "public"
    assert config.output.hexo_date == "auto"


@pytest.mark.parametrize("setting", ["auto", "gmt", "Asia/Tokyo"])
def test_hexo_date_setting(tmp_path: Path, setting: str) -> None:
    text = EXAMPLE.replace("hexo: null", f"hexo: null, hexo_date: {setting}")
    assert load_config(write(tmp_path, text)).output.hexo_date == setting


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("fetch: {concurrency: 16", "fetch: {concurency: 16"), ":11: fetch.concurency: unknown key"),
        (("timeout: 20", "timeout: soon"), ":11: fetch.timeout: expected a number, got 'soon'"),
        (("retries: 2", "retries: -1"), ":11: fetch.retries: must be at least 0"),
        (("items_per_feed: 20", "items_per_feed: 2.5"), ":10: limits.items_per_feed: expected a whole"),
        (("  - /kkj/news", "  - kkj/news"), ":6: routes[0]: a route is a path starting with '/'"),
        (("{path: /36kr/newsflashes,", "{pth: /36kr/newsflashes,"), ":7: routes[1].pth: unknown key"),
        (("{url: https://example.com/feed.xml,", "{"), ":9: feeds[0].url: missing required key"),
        (("url: https://example.com/feed.xml", "url: ftp://x"), ":9: feeds[0].url: expected an http(s) URL"),
        (("timezone: Asia/Shanghai", "timezone: Mars/Base"), ":1: site.timezone: unknown time zone"),
        (("catalog: []", "catalog: [nowhere.json]"), ":4: rsshub.catalog: no such file or folder"),
        (("output: {", "output: ["), ":12: invalid YAML"),
        (("channel: 快讯", "channel: " + "快" * 70), ":7: routes[1].channel: longer than 200 bytes"),
        (("site: {title", "sites: {title"), ":1: sites: unknown key"),
        (("hexo: null", "hexo: null, hexo_date: Mars/Base"),
         ":12: output.hexo_date: expected auto, gmt or a time zone such as Asia/Shanghai"),
    ],
)
def test_errors_name_file_line_and_key(tmp_path: Path, change: tuple[str, str], expected: str) -> None:
    old, new = change
    assert old in EXAMPLE
    path = write(tmp_path, EXAMPLE.replace(old, new, 1))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(str(path))
    assert expected in str(info.value)


def test_missing_and_empty_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yml")
    with pytest.raises(ConfigError, match="empty"):
        load_config(write(tmp_path, "# nothing\n"))


def test_cli_reports_config_error_without_traceback_and_exit_2(tmp_path: Path) -> None:
    path = write(tmp_path, EXAMPLE.replace("timeout: 20", "timeout: [1]"))
    run = subprocess.run(
        [sys.executable, "-m", "rsspage.cli", "update", "-c", str(path)],
        capture_output=True, text=True, timeout=60,
    )
    assert run.returncode == 2
    assert f"{path}:11: fetch.timeout: expected a number" in run.stderr
    assert "Traceback" not in run.stderr + run.stdout


def test_cli_unreadable_config_exit_2(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "rsspage.cli", "status", "-c", str(tmp_path / "missing.yml")],
        capture_output=True, text=True, timeout=60,
    )
    assert run.returncode == 2
    assert "missing.yml: config file not found" in run.stderr
    assert "Traceback" not in run.stderr


# -- every problem at once, and list items that swallowed their neighbour (issue 11) ----------

SWALLOWED_ROUTE = """\
routes:
  - /kkj/news
     - /36kr/newsflashes
  - /ithome/ranking/24h
"""


def test_an_over_indented_route_is_an_error_with_a_hint(tmp_path: Path) -> None:
    path = write(tmp_path, SWALLOWED_ROUTE)
    run = run_cli("update", "-c", str(path))
    assert run.code == 2
    assert (f"{path}:2: routes[0]: '/kkj/news - /36kr/newsflashes' reads as one entry: a '- ' "
            "item indented deeper than the one above joins it (lines 2-3); give every '- ' of "
            "the list the same indentation") in run.err
    assert "Traceback" not in run.err + run.out


@pytest.mark.parametrize(("entry", "where"), [
    ("feeds:\n  - https://a.example/feed\n    - https://b.example/feed\n", ":2: feeds[0]: "),
    ("feeds:\n  - url: https://a.example/feed\n     - http://b.example/feed\n",
     ":2: feeds[0].url: "),
    ("routes:\n  - {path: /a - /b}\n", ":2: routes[0]: "),
    ("routes:\n  - path: /a\n      - /b\n", ":2: routes[0]: "),
])
def test_swallowed_routes_and_feeds(tmp_path: Path, entry: str, where: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, entry))
    assert where in str(info.value) and "same indentation" in str(info.value)


def test_a_dash_in_a_value_that_is_no_second_entry_is_kept(tmp_path: Path) -> None:
    text = "routes:\n  - /twitter/keyword/rust - lang\nfeeds:\n  - https://a.example/x-y - z\n"
    config = load_config(write(tmp_path, text))
    assert config.routes[0].path == "/twitter/keyword/rust - lang"
    assert config.feeds[0].url == "https://a.example/x-y - z"


BROKEN = """\
site: {title: x, timezone: Mars/Base}
rsshub:
  instances: [https://rsshub.app, ftp://nope]
routes:
  - /kkj/news
     - /36kr/newsflashes
  - {path: /a, categroy: x}
  - kkj
feeds:
  - {url: https://a.example/feed.xml, chanel: y}
fetch: {concurency: 3, timeout: soon}
limits: {items_per_feed: 0}
output: {hexo_date: Mars/Base, sitee: x}
schedule: {every: never}
colour: red
"""
#: Every problem of BROKEN, in file order.
BROKEN_PROBLEMS = [
    ":1: site.timezone: unknown time zone 'Mars/Base'",
    ":3: rsshub.instances[1]: expected an http(s) URL, got 'ftp://nope'",
    ":5: routes[0]: '/kkj/news - /36kr/newsflashes' reads as one entry",
    ":7: routes[1].categroy: unknown key, did you mean category? (allowed: category, channel, ",
    ":8: routes[2]: a route is a path starting with '/', got 'kkj'",
    ":10: feeds[0].chanel: unknown key, did you mean channel?",
    ":11: fetch.concurency: unknown key, did you mean concurrency?",
    ":11: fetch.timeout: expected a number, got 'soon'",
    ":12: limits.items_per_feed: must be at least 1, got 0",
    ":13: output.sitee: unknown key, did you mean site?",
    ":13: output.hexo_date: expected auto, gmt or a time zone",
    ":14: schedule.every: expected a duration such as 30m",
    ":15: colour: unknown key (allowed: ",
]


def test_every_problem_of_the_file_is_listed(tmp_path: Path) -> None:
    path = write(tmp_path, BROKEN)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    lines = str(info.value).splitlines()
    assert len(lines) == len(BROKEN_PROBLEMS), lines
    for line, expected in zip(lines, BROKEN_PROBLEMS, strict=True):
        assert line.startswith(f"{path}{expected}"), (line, expected)
    assert (info.value.line, info.value.key) == (1, "site.timezone")  # the first one's


def test_the_cli_lists_every_problem_and_exits_2(tmp_path: Path) -> None:
    path = write(tmp_path, BROKEN)
    run = run_cli("build", "-c", str(path))
    assert run.code == 2
    for expected in BROKEN_PROBLEMS:
        assert f"{path}{expected}" in run.err, expected
    assert "Traceback" not in run.err + run.out
