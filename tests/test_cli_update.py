"""`rsspage update` end to end: real CLI subprocess, real local HTTP servers, real SQLite, real files.

The route `/kkj/news` is placed by the 2021 RSSHub docs under 新媒体 / 快科技（原驱动之家） / 最新新闻.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from conftest import run_cli, summary
from servers import LocalServer, conditional, respond

KKJ = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel>
<title><![CDATA[快科技-最新新闻]]></title><link>https://news.mydrivers.com/</link>
<description>快科技</description><generator>RSSHub</generator>
<item>
  <title><![CDATA[赌上雷军全部声誉造车 小米再揽大将：原上汽通用五菱销售副总加盟]]></title>
  <description><![CDATA[<p>小米汽车再添大将。<img src="https://img1.mydrivers.com/img/20220721/s_40a9de955cd54f308f8e2aa0b0eb17f1.jpg"></p><script>alert(1)</script><p>{{ 不会被执行 }}</p>]]></description>
  <pubDate>Thu, 21 Jul 2022 17:22:55 GMT</pubDate>
  <guid isPermaLink="false">https://news.mydrivers.com/1/843/843951.htm</guid>
  <link>https://news.mydrivers.com/1/843/843951.htm</link>
</item>
<item>
  <title><![CDATA[A股收盘：沪指上涨3.27% 创业板"大涨"]]></title>
  <description><![CDATA[<p>收盘播报</p>]]></description>
  <pubDate>Thu, 21 Jul 2022 15:01:00 GMT</pubDate>
  <link>https://news.mydrivers.com/1/843/843900.htm</link>
</item>
</channel></rss>
"""


def write_config(tmp: Path, base: str, shared_fixtures: Path) -> Path:
    config = {
        "rsshub": {"instances": [base], "catalog": [str(shared_fixtures / "rsshub-docs-2021")]},
        "routes": ["/kkj/news"],
        "feeds": [
            {"url": f"{base}/broken", "category": "测试", "source": "坏源", "channel": "500"},
            {"url": f"{base}/garbage", "category": "测试", "source": "坏源", "channel": "乱码"},
        ],
        "fetch": {"timeout": 2, "retries": 1},
        "output": {"state": "state", "hexo": "hexo", "site": None},
    }
    path = tmp / "rsspage.yml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def mtimes(root: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


def test_update_writes_hexo_posts_then_is_incremental(tmp_path: Path, shared_fixtures: Path) -> None:
    with LocalServer() as server:
        server.route("/kkj/news", conditional(KKJ.encode(), etag='"kkj-1"'))
        server.route("/broken", respond(500, b"oops", content_type="text/plain"))
        server.route("/garbage", respond(200, b"\x00\x01 this is no feed at all <<<", content_type="application/xml"))
        config = write_config(tmp_path, server.url(""), shared_fixtures)

        first = run_cli("update", "-c", str(config))
        assert first.code == 1, first.err + first.out  # two feeds failed, the rest published
        assert "Traceback" not in first.err + first.out
        assert "/broken" in first.out and "/garbage" in first.out
        assert "HTTP 500" in first.out

        folder = tmp_path / "hexo" / "新媒体" / "快科技（原驱动之家）" / "最新新闻"
        posts = sorted(folder.glob("*.md"))
        assert len(posts) == 2
        post = folder / "赌上雷军全部声誉造车 小米再揽大将：原上汽通用五菱销售副总加盟.md"
        text = post.read_text(encoding="utf-8")
        head, body = text.split("\n---\n", 1)
        assert head.splitlines()[:10] == [
            "---",
            "title: '赌上雷军全部声誉造车 小米再揽大将：原上汽通用五菱销售副总加盟'",
            "categories: ",
            " - 新媒体",
            " - 快科技（原驱动之家）",
            " - 最新新闻",
            "headimg: 'https://img1.mydrivers.com/img/20220721/s_40a9de955cd54f308f8e2aa0b0eb17f1.jpg'",
            "author: 快科技（原驱动之家）",
            "comments: false",
            "date: Thu, 21 Jul 2022 17:22:55 GMT",
        ]
        assert "<script" not in body and "alert(1)" not in body
        assert "&#123;&#123; 不会被执行 &#125;&#125;" in body
        assert "https://news.mydrivers.com/1/843/843951.htm" in body.strip().splitlines()[-1]
        percent = [p.name for p in posts if "上涨" in p.name]
        assert percent and "%" not in percent[0] and "％" in percent[0]
        meta = yaml.safe_load(head.removeprefix("---\n"))
        assert meta["categories"] == ["新媒体", "快科技（原驱动之家）", "最新新闻"]

        before = mtimes(tmp_path / "hexo")
        second = run_cli("update", "--all", "-c", str(config))
        assert second.code == 1
        assert server.requests("/kkj/news")[-1].headers.get("if-none-match") == '"kkj-1"'
        table = summary(second.out)
        assert table["feeds unchanged (304)"] == "1"
        assert table["new articles"] == "0"
        assert table["hexo files written / removed"] == "0 / 0"
        assert mtimes(tmp_path / "hexo") == before


def test_unchanged_feed_without_validators_rewrites_nothing(tmp_path: Path, shared_fixtures: Path) -> None:
    with LocalServer() as server:
        server.route("/kkj/news", respond(200, KKJ.encode()))
        server.route("/broken", respond(200, KKJ.replace("kkj", "b").encode()))
        server.route("/garbage", respond(200, KKJ.replace("kkj", "g").encode()))
        config = write_config(tmp_path, server.url(""), shared_fixtures)
        first = run_cli("update", "-c", str(config))
        assert first.code == 0, first.err + first.out
        before = mtimes(tmp_path / "hexo")
        second = run_cli("update", "--all", "-c", str(config))
        assert second.code == 0
        table = summary(second.out)
        assert (table["new articles"], table["updated articles"]) == ("0", "0")
        assert summary(first.out)["new articles"] == "2"  # the same links via three feeds: stored once
        assert mtimes(tmp_path / "hexo") == before
        status = run_cli("status", "-c", str(config))
        assert status.code == 0
        assert "最新新闻" in status.out
        found = run_cli("search", "-c", str(config), "小米")
        assert "赌上雷军" in found.out


def test_second_run_is_refused_while_one_holds_the_lock(tmp_path: Path, shared_fixtures: Path) -> None:
    from rsspage.store.db import run_lock

    with LocalServer() as server:
        server.route("/kkj/news", respond(200, KKJ.encode()))
        config = write_config(tmp_path, server.url(""), shared_fixtures)
        with run_lock(tmp_path / "state"):
            busy = run_cli("update", "-c", str(config))
        assert busy.code == 2
        assert "already running" in busy.err
        assert "Traceback" not in busy.err
