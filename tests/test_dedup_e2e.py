"""The same story once (issue 12), end to end: `rsspage update` against feeds on 127.0.0.1.

Three feeds carry one story: a source's latest news, its tech channel (the same link with
tracking parameters, over http, with a trailing slash) and a mirror site (its own link, the
same title and text written a little differently). The store keeps one article, the site and
the Hexo posts show it once, and every feed that brought it is recorded. Links that differ in
a real parameter, and stories told the same way with other numbers, stay apart.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import yaml

from conftest import run_cli, summary
from rsspage.store import Store
from rsspage.store.db import DB_NAME
from servers import LocalServer, feed, slow

NOW = datetime.now(UTC)
CHIP = ("小米今天发布了第{n}款自研手机芯片，采用第二代三纳米工艺，十核心设计，多核性能较上一代"
        "提升百分之三十，功耗下降百分之二十，首发机型将于下个月上市，售价尚未公布。")


def rss(*items: tuple[str, str, str]) -> bytes:
    """An RSS document of (title, link, text) items, an hour old, each link its own guid."""
    parts = [
        f"<item><title>{escape(title)}</title><link>{escape(link)}</link>"
        f"<guid>{escape(link)}</guid><description>{escape(f'<p>{text}</p>')}</description>"
        f"<pubDate>{format_datetime(NOW - timedelta(hours=1))}</pubDate></item>"
        for title, link, text in items
    ]
    return ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>T'
            f'</title><link>https://news.example.com/</link>{"".join(parts)}</channel></rss>'
            ).encode()


LATEST = rss(
    ("小米发布第3款芯片", "https://news.example.com/a/1.html", CHIP.format(n=3)),
    ("论坛帖子一", "https://news.example.com/thread?id=1", "第一个帖子的正文。"),
)
TECH = rss(
    ("小米发布第3款芯片",
     "http://news.example.com/a/1.html/?utm_source=rss&utm_medium=feed&from=rss#comments",
     CHIP.format(n=3)),
    ("论坛帖子二", "https://news.example.com/thread?id=2", "第二个帖子的正文。"),
)
MIRROR = rss(
    ("小米 发布 第3款芯片！", "https://mirror.example.net/p/99",
     " ".join(CHIP.format(n=3).replace("，", ", "))),
    ("小米发布第4款芯片", "https://mirror.example.net/p/100", CHIP.format(n=4)),
)


def write_config(tmp: Path, base: str) -> Path:
    def entry(path: str, source: str, channel: str) -> dict[str, Any]:
        return {"url": f"{base}{path}", "category": "科技", "source": source, "channel": channel}

    config = {
        "feeds": [entry("/latest", "新闻网", "最新"), entry("/tech", "新闻网", "科技"),
                  entry("/mirror", "镜像站", "全部")],
        "fetch": {"timeout": 10, "retries": 0},
        "output": {"state": "state", "hexo": "hexo", "site": "public"},
    }
    path = tmp / "rsspage.yml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def posts(tmp: Path) -> dict[str, set[str]]:
    """Hexo post titles by source/channel folder."""
    found: dict[str, set[str]] = {}
    for post in (tmp / "hexo" / "科技").rglob("*.md"):
        found.setdefault(f"{post.parent.parent.name}/{post.parent.name}", set()).add(post.stem)
    return found


def site_pages_with(tmp: Path, text: str) -> list[str]:
    """The site's article pages (those with the story's own heading) that show ``text``."""
    return sorted(str(p.relative_to(tmp / "public")) for p in (tmp / "public").rglob("*.html")
                  if f">{text}</h1>" in p.read_text(encoding="utf-8"))


def test_one_story_through_three_feeds_is_one_article(tmp_path: Path) -> None:
    with LocalServer() as server:
        # The copies arrive after the first feed's (in one run, the first stored wins).
        server.route("/latest", feed(LATEST))
        server.route("/tech", slow(1.0, feed(TECH)))
        server.route("/mirror", slow(1.5, feed(MIRROR)))
        base = server.url("")
        config = write_config(tmp_path, base)
        run = run_cli("update", "-c", str(config))
        assert run.code == 0, run.err + run.out
        assert summary(run.out)["new articles"] == "4"
        assert summary(run.out)["stories another feed brought first"] == "2"

        assert posts(tmp_path) == {
            "新闻网/最新": {"小米发布第3款芯片", "论坛帖子一"},
            "新闻网/科技": {"论坛帖子二"},  # ?id=2 is another page than ?id=1
            "镜像站/全部": {"小米发布第4款芯片"},  # another chip, told the same way
        }
        assert len(site_pages_with(tmp_path, "小米发布第3款芯片")) == 1
        assert len(site_pages_with(tmp_path, "小米发布第4款芯片")) == 1
        shown = [p for p in (tmp_path / "public").rglob("*") if p.suffix in (".html", ".xml")
                 and "小米 发布 第3款芯片" in p.read_text(encoding="utf-8")]
        assert not shown, f"the mirror's copy is published too: {shown}"

        conn = sqlite3.connect(tmp_path / "state" / DB_NAME)
        (kept,) = conn.execute("SELECT id, feed_key, link FROM articles "
                               "WHERE title = '小米发布第3款芯片'").fetchall()
        assert kept[1:] == (f"{base}/latest", "https://news.example.com/a/1.html")
        assert sorted(conn.execute("SELECT feed_key, article_id, matched FROM aliases")) == [
            (f"{base}/mirror", kept[0], "fingerprint"), (f"{base}/tech", kept[0], "link")]
        conn.close()
        with Store.open(tmp_path / "state") as store:
            merged = {h.key: h.merged for h in store.health(NOW - timedelta(days=7))}
        assert merged == {f"{base}/latest": 0, f"{base}/tech": 1, f"{base}/mirror": 1}
        status = run_cli("status", "-c", str(config))
        assert f"{base}/tech: 1 story another feed brought first" in status.out, status.out
        assert f"{base}/latest: " not in status.out.split("another feed")[0].splitlines()[-1]

        again = run_cli("update", "--all", "-c", str(config))
        assert again.code == 0, again.err + again.out
        table = summary(again.out)
        assert (table["new articles"], table["updated articles"]) == ("0", "0")
        # The copies are the same as last time: nothing new was merged in this run.
        assert "stories another feed brought first" not in table
        assert table["hexo files written / removed"] == "0 / 0"


def test_the_feed_listed_first_keeps_the_story_whichever_answers_first(tmp_path: Path) -> None:
    """Within one run the winner does not depend on the network: feeds are stored in the
    config's order, so the first feed listed keeps the story even when it answers last."""
    with LocalServer() as server:
        server.route("/latest", slow(1.5, feed(LATEST)))
        server.route("/tech", feed(TECH))
        server.route("/mirror", slow(0.5, feed(MIRROR)))
        base = server.url("")
        run = run_cli("update", "-c", str(write_config(tmp_path, base)))
        assert run.code == 0, run.err + run.out
        conn = sqlite3.connect(tmp_path / "state" / DB_NAME)
        (kept,) = conn.execute("SELECT feed_key, link FROM articles "
                               "WHERE title = '小米发布第3款芯片'").fetchall()
        conn.close()
        assert kept == (f"{base}/latest", "https://news.example.com/a/1.html")
