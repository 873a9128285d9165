"""Config loading: the DESIGN.md example loads; every error names file:line: key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

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
