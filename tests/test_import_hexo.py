"""`rsspage import-hexo`: a tree of posts of the system rsspage replaces, in all the forms real
files take, into the archive; matched to the feeds, so that a later update adds no duplicate."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import yaml

from conftest import run_cli, summary
from rsspage.store import Store
from servers import LocalServer, feed

HEAD = "categories: \n - 新媒体\n - 快科技\n - 最新新闻\n"


def post(root: Path, relpath: str, text: str) -> None:
    path = root / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def body(link: str) -> str:
    return (f"\n<div>\n<p>正文 &#123;&#123; 不会被执行 &#125;&#125;</p>\n</div>\n"
            f'<p class="rsspage-source"><a href="{link}" target="_blank">阅读原文</a></p>\n')


FORMS = {
    # relpath: text — every form of the issue that must import
    "新媒体/快科技/最新新闻/标准.md":
        f"---\ntitle: '标准格式'\n{HEAD}headimg: 'https://img.example.com/a.jpg'\n"
        "author: 快科技\ncomments: false\ndate: Thu, 21 Jul 2022 17:22:55 GMT\n"
        "thumbnail: 'https://img.example.com/a.jpg'\n---\n" + body("https://news.example.com/1"),
    "新媒体/快科技/最新新闻/空行.md":
        f"\n---\ntitle: '前面有空行'\n{HEAD}date: Thu, 21 Jul 2022 18:00:00 GMT\n---\n"
        + body("https://news.example.com/2"),
    "新媒体/快科技/最新新闻/尾空格.md":
        "---   \ntitle: '尾部空格'   \ncategories:\n    - 新媒体\n    - 快科技\n    - 最新新闻\n"
        "date: Thu, 21 Jul 2022 19:00:00 GMT  \n---  \n<div>没有换行结尾</div>",
    "新媒体/快科技/最新新闻/双引号.md":
        f'---\ntitle: "双引号\n  跨行的标题"\n{HEAD}headimg: https://picsum.photos/400/300\n'
        "date: 2022-07-21 20:00:00\n---\n" + body("https://news.example.com/4"),
    "新媒体/快科技/最新新闻/单引号.md":
        f"---\ntitle: '单引号 ''引用''\n  第二行'\n{HEAD}date: '2022-07-21 21:00:00'\n---\n<p>x</p>",
    "新媒体/快科技/最新新闻/替换_字符_.md":
        f"---\ntitle: 旧工具把_冒号_换成了下划线\n{HEAD}date: Thu, 21 Jul 2022 22:00:00 GMT\n"
        "---\n<p>y</p>",
    "post/新媒体/快科技/两级目录.md":
        "---\ntitle: '两级的旧文章'\ncategories:\n - 新媒体\n - 快科技\n"
        "date: Wed, 20 Jul 2022 08:00:00 GMT\n---\n<p>old</p>",
}
BROKEN = {
    "新媒体/快科技/最新新闻/坏YAML.md": "---\ntitle: 'unclosed\n" + HEAD + "---\n<p>x</p>",
    "新媒体/快科技/最新新闻/引号.md":
        "---\ntitle: '\"\"\"\"\"\"\"''SP''\"\"\"\"\"\"\"'\n" + HEAD
        + "date: Thu, 21 Jul 2022 17:22:55 GMT\n---\n<p>x</p>",
    "新媒体/快科技/最新新闻/无日期.md": "---\ntitle: '没有日期'\n" + HEAD + "---\n<p>x</p>",
    "新媒体/快科技/最新新闻/无标题.md": "---\n" + HEAD + "date: 2022-07-21 20:00:00\n---\n",
    "README.md": "# not a post\n",
}


def rss(items: list[tuple[str, str]]) -> bytes:
    entries = "".join(
        f"<item><title>{title}</title><link>{link}</link><guid>{link or title}</guid>"
        "<pubDate>Fri, 22 Jul 2022 08:00:00 GMT</pubDate><description>新</description></item>"
        for title, link in items)
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>快科技</title><link>'
            f"http://e/</link><description>d</description>{entries}</channel></rss>").encode()


def write_config(folder: Path, server: LocalServer) -> Path:
    config = folder / "rsspage.yml"
    config.write_text(yaml.safe_dump({
        "site": {"timezone": "Asia/Shanghai"},
        "feeds": [{"url": server.url("/kkj"), "category": "新媒体", "source": "快科技",
                   "channel": "最新新闻"}],
        "output": {"state": "state", "site": None},
    }, allow_unicode=True), encoding="utf-8")
    return config


def test_every_real_form_imports_broken_files_are_reported_and_again_adds_nothing(
        tmp_path: Path) -> None:
    posts = tmp_path / "blog" / "source" / "_posts"
    for relpath, text in {**FORMS, **BROKEN}.items():
        post(posts, relpath, text)
    with LocalServer() as server:
        config = write_config(tmp_path, server)
        followed = server.url("/kkj")
        run = run_cli("import-hexo", "-c", str(config), str(posts))
        assert run.code == 0, run.out + run.err
        assert f"{len(FORMS)} new articles" in run.out
        assert f"{len(BROKEN)} files skipped" in run.out
        assert "README.md: no front matter" in run.out
        for name, reason in (("坏YAML.md", "bad YAML"), ("引号.md", "a title wrapped in quotes"),
                             ("无日期.md", "no date it can read"), ("无标题.md", "no title")):
            assert f"{name}: {reason}" in run.out, run.out
        assert "Traceback" not in run.out + run.err

        again = run_cli("import-hexo", "-c", str(config), str(posts))
        assert "0 new articles" in again.out and f"{len(FORMS)} already" in again.out

    with Store.open(tmp_path / "state") as store:
        articles = {a.title: a for a in store.articles()}
    assert set(articles) == {"标准格式", "前面有空行", "尾部空格", "双引号 跨行的标题",
                             "单引号 '引用' 第二行", "旧工具把_冒号_换成了下划线", "两级的旧文章"}
    standard = articles["标准格式"]
    assert standard.link == "https://news.example.com/1"
    assert standard.published == datetime(2022, 7, 21, 17, 22, 55, tzinfo=UTC)
    assert standard.image == "https://img.example.com/a.jpg"
    assert "{{ 不会被执行 }}" in standard.content_html and "阅读原文" not in standard.content_html
    # A local date is taken in the site's time zone (Asia/Shanghai, UTC+8).
    assert articles["双引号 跨行的标题"].published == datetime(2022, 7, 21, 12, tzinfo=UTC)
    assert articles["双引号 跨行的标题"].image == ""  # a placeholder picture is no head image
    assert articles["两级的旧文章"].channel == "最新新闻"  # filed under the one matching feed
    # Matched to the followed feed with the same names (the two-level post too: one feed has
    # its category and source).
    assert {a.feed_key for a in articles.values()} == {followed}


def test_the_feed_bringing_an_imported_item_again_adds_no_second_copy(tmp_path: Path) -> None:
    posts = tmp_path / "posts"
    post(posts, "新媒体/快科技/最新新闻/a.md", FORMS["新媒体/快科技/最新新闻/标准.md"])
    post(posts, "新媒体/快科技/最新新闻/b.md", FORMS["新媒体/快科技/最新新闻/替换_字符_.md"])
    with LocalServer() as server:
        config = write_config(tmp_path, server)
        assert run_cli("import-hexo", "-c", str(config), str(posts)).code == 0
        # The feed now lists the first post's item (same link), the second one (no link, same
        # title) and one new item.
        server.route("/kkj", feed(rss([("标准格式（更新）", "https://news.example.com/1"),
                                       ("旧工具把_冒号_换成了下划线", ""),
                                       ("新的一条", "https://news.example.com/9")])))
        run = run_cli("update", "-c", str(config))
        assert run.code == 0, run.out + run.err
        assert summary(run.out)["new articles"] == "1"
        assert summary(run.out)["updated articles"] == "2"  # the imported ones, by the feed
        with Store.open(tmp_path / "state") as store:
            titles = [a.title for a in store.articles()]
        assert sorted(titles) == sorted(["旧工具把_冒号_换成了下划线", "新的一条", "标准格式（更新）"])
        again = run_cli("import-hexo", "-c", str(config), str(posts))
        assert "0 new articles" in again.out


def test_posts_rsspage_wrote_itself_are_not_imported(tmp_path: Path) -> None:
    with LocalServer() as server:
        server.route("/kkj", feed(rss([("一条", "https://news.example.com/77")])))
        config = write_config(tmp_path, server)
        text = config.read_text("utf-8").replace("site: null", "site: null\n  hexo: hexo")
        config.write_text(text, "utf-8")
        assert run_cli("update", "-c", str(config)).code == 0
        post(tmp_path / "hexo", "新媒体/快科技/最新新闻/旧.md", FORMS["新媒体/快科技/最新新闻/标准.md"])
        run = run_cli("import-hexo", "-c", str(config), str(tmp_path / "hexo"))
        assert "1 new articles" in run.out and "1 posts rsspage wrote itself" in run.out


def test_posts_of_no_followed_feed_are_kept_under_a_feed_of_their_own(tmp_path: Path) -> None:
    posts = tmp_path / "posts"
    post(posts, "博客/某人/全部/x.md",
         "---\ntitle: 'x'\ncategories:\n - 博客\n - 某人\n - 全部\ndate: 2022-07-21 20:00:00\n"
         "---\n<p>x</p>")
    with LocalServer() as server:
        config = write_config(tmp_path, server)
        run = run_cli("import-hexo", "-c", str(config), str(posts))
        assert "1 posts match no followed feed" in run.out
        status = run_cli("status", "-c", str(config))
        retired = status.out.split("retired (no longer in the config")[1]
        assert "hexo-import:博客/某人/全部" in retired  # not followed: listed apart


def test_date_rules_do_not_hide_an_imported_history(tmp_path: Path) -> None:
    """``max_age`` judges an article by when it arrived; an import brings years of history on
    purpose, so ``filter test --apply`` keeps every imported post (review of issue 12)."""
    posts = tmp_path / "posts"
    post(posts, "新媒体/快科技/最新新闻/a.md", FORMS["新媒体/快科技/最新新闻/标准.md"])
    with LocalServer() as server:
        config = write_config(tmp_path, server)
        assert run_cli("import-hexo", "-c", str(config), str(posts)).code == 0
        body = yaml.safe_load(config.read_text("utf-8"))
        config.write_text(yaml.safe_dump({**body, "filters": {"max_age": "30d"}},
                                         allow_unicode=True), encoding="utf-8")
        run = run_cli("filter", "test", "--apply", "-c", str(config))
        assert run.code == 0, run.out + run.err
    with Store.open(tmp_path / "state") as store:
        assert [a.title for a in store.articles()] == ["标准格式"]
