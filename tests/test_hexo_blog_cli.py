"""`rsspage update` into a Hexo blog, built by a real Hexo 8 on a UTC machine (issue 11).

The blog's `_config.yml` says `timezone: Asia/Shanghai`; GitHub Actions runs Hexo in UTC. Each
post must come out at its feed's instant, on its day, and titles with quotes must neither add
attributes nor cut links (that part is checked with volantis in test_hexo_real.py).
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from conftest import run_cli
from hexo_harness import hexo_generate
from servers import LocalServer, respond

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not on PATH: cannot install Hexo"),
]

FEED = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Rail</title><link>https://rail.example/</link>
<description>d</description>
<item><title>Brightline's plan</title><link>https://rail.example/1</link>
  <pubDate>Thu, 21 Jul 2022 17:22:55 GMT</pubDate><description>&lt;p&gt;a&lt;/p&gt;</description></item>
<item><title>y" onmouseover="alert(2)</title><link>https://rail.example/2</link>
  <pubDate>Thu, 21 Jul 2022 16:30:00 GMT</pubDate><description>&lt;p&gt;b&lt;/p&gt;</description></item>
</channel></rss>
"""
#: The items' instants; the second is already the next day in Shanghai (00:30).
INSTANTS = {datetime(2022, 7, 21, 17, 22, 55, tzinfo=UTC), datetime(2022, 7, 21, 16, 30, tzinfo=UTC)}


def test_update_into_a_shanghai_blog_gives_hexo_the_right_instants(tmp_path: Path) -> None:
    blog = tmp_path / "blog"
    (blog / "source" / "_posts").mkdir(parents=True)
    (blog / "_config.yml").write_text("title: blog\ntimezone: Asia/Shanghai\n", "utf-8")
    with LocalServer() as server:
        server.route("/rail.xml", respond(200, FEED.encode()))
        config = tmp_path / "rsspage.yml"
        config.write_text(yaml.safe_dump({
            "feeds": [{"url": server.url("/rail.xml"), "category": "交通", "source": "Rail",
                       "channel": "News"}],
            "output": {"hexo": "blog/source/_posts", "site": None},
        }), "utf-8")
        run = run_cli("update", "-c", str(config))
    assert run.code == 0, run.err + run.out
    posts = blog / "source" / "_posts"
    folder = posts / "交通" / "Rail" / "News"
    assert sorted(p.name for p in folder.glob("*.md")) == [
        "Brightline＇s plan.md", "y＂ onmouseover=＂alert(2).md"]
    text = (folder / "Brightline＇s plan.md").read_text("utf-8")
    assert "\ntitle: 'Brightline＇s plan'\n" in text
    assert "\ndate: 2022-07-22 01:22:55\n" in text  # the wall-clock time in Shanghai

    result = hexo_generate(posts, tmp_path / "work", timezone="Asia/Shanghai")
    assert result.returncode == 0, result.output
    assert {post.date for post in result.posts.values()} == INSTANTS
    assert all(post.html is not None for post in result.posts.values())


def test_hexo_date_setting_and_a_switch_rewrites_the_posts(tmp_path: Path) -> None:
    """``output.hexo_date: gmt`` keeps the seed's text; back to ``auto``, a build rewrites every
    post with the blog's wall-clock time (the build record knows the date form)."""
    blog = tmp_path / "blog"
    (blog / "source" / "_posts").mkdir(parents=True)
    (blog / "_config.yml").write_text("title: blog\ntimezone: Asia/Shanghai\n", "utf-8")
    config = tmp_path / "rsspage.yml"
    post = blog / "source" / "_posts" / "交通" / "Rail" / "News" / "Brightline＇s plan.md"
    with LocalServer() as server:
        server.route("/rail.xml", respond(200, FEED.encode()))

        def configure(setting: str) -> None:
            config.write_text(yaml.safe_dump({
                "feeds": [{"url": server.url("/rail.xml"), "category": "交通", "source": "Rail",
                           "channel": "News"}],
                "output": {"hexo": "blog/source/_posts", "site": None, "hexo_date": setting},
            }), "utf-8")

        configure("gmt")
        assert run_cli("update", "-c", str(config)).code == 0
        assert "\ndate: Thu, 21 Jul 2022 17:22:55 GMT\n" in post.read_text("utf-8")
        configure("auto")
        assert run_cli("build", "-c", str(config)).code == 0
        assert "\ndate: 2022-07-22 01:22:55\n" in post.read_text("utf-8")
        configure("America/New_York")
        assert run_cli("build", "-c", str(config)).code == 0
        assert "\ndate: 2022-07-21 13:22:55\n" in post.read_text("utf-8")
