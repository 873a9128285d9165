"""`rsspage import FILE.opml`: subscriptions from five readers into rsspage.yml, comments kept."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from conftest import run_cli, summary
from rsspage.config import load_config
from rsspage.config_edit import insert_entries
from rsspage.importers.opml import plan_import, read_opml
from servers import RSS, LocalServer, respond

DATA = Path(__file__).parent / "data" / "opml"

CONFIG = """\
# my feeds — hand-written, keep these comments
site: {title: 我的新闻, language: zh-CN}   # the site

rsshub:
  instances:                    # tried in order
    - https://rsshub.app
    - https://rsshub.example.org/sub/   # a second one, under a path
  catalog: []

routes:                         # RSSHub routes
  - /kkj/news                   # already followed
  - {path: /36kr/newsflashes, category: 新媒体,
     source: 36氪}              # spread over two lines

# feeds come next
feeds:
  - https://sspai.com/feed      # already followed too
  # - https://example.com/disabled.xml

limits: {items_per_feed: 5}     # keep it small
output: {site: public}
"""


def write_config(tmp_path: Path, text: str = CONFIG) -> Path:
    path = tmp_path / "rsspage.yml"
    path.write_text(text, encoding="utf-8")
    return path


def only_insertions(before: str, after: str) -> list[str]:
    """The lines added; fails when any original line changed, moved or went away."""
    added = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(
            None, before.splitlines(keepends=True), after.splitlines(keepends=True)).get_opcodes():
        assert tag in ("equal", "insert"), f"{tag}: {before.splitlines()[i1:i2]}"
        if tag == "insert":
            added += after.splitlines()[j1:j2]
    return added


# ----------------------------------------------------------------------------- the readers


@pytest.mark.parametrize(("name", "expected"), [
    ("miniflux.opml", [
        ("https://github.blog/feed/", "GitHub Blog", "All"),
        ("https://rsshub.app/kkj/news", "快科技 - 最新新闻", "新媒体"),
        ("https://rsshub.app/36kr/newsflashes", "36氪 - 快讯", "新媒体"),
        ("https://sspai.com/feed", "少数派", "新媒体"),
    ]),
    ("freshrss.opml", [
        ("https://lwn.net/headlines/rss", "LWN.net", "Uncategorized"),
        ("https://www.ruanyifeng.com/blog/atom.xml", "阮一峰的网络日志", "博客"),
        ("https://rsshub.app/bilibili/user/video/2267573?key=SECRET", "B站 UP 主 - 2267573", "博客"),
        ("https://news.ycombinator.com/", "Hacker News", "博客"),
    ]),
    ("inoreader.xml", [  # nested folders: the outermost one is the category
        ("https://www.ifanr.com/feed", "爱范儿", "科技"),
        ("https://blog.python.org/feeds/posts/default", "Python Insider", "科技"),
        ("https://feeds.arstechnica.com/arstechnica/index", "Ars Technica", None),
    ]),
    ("feedly.opml", [
        ("https://www.theverge.com/rss/index.xml", "The Verge", "Tech"),
        ("https://hnrss.org/frontpage", "Hacker News: Front Page", "Tech"),
        ("https://www.theverge.com/rss/index.xml", "The Verge", "News"),
        ("http://feeds.bbci.co.uk/news/world/rss.xml", "BBC News - World", "News"),
    ]),
    ("netnewswire.opml", [
        ("https://daringfireball.net/feeds/main", "Daring Fireball", None),
        ("https://feedpress.me/sixcolors", "Six Colors", "Apple"),
        ("https://sspai.com/feed", "少数派", "Apple"),
    ]),
])
def test_each_reader_export_is_read(name: str, expected: list[tuple[str, str, str | None]]) -> None:
    feeds = read_opml(DATA / name)
    assert [(f.url, f.title, f.category) for f in feeds] == expected
    assert all(f.line for f in feeds)


def test_routes_of_configured_instances_become_routes() -> None:
    feeds = read_opml(DATA / "miniflux.opml") + read_opml(DATA / "freshrss.opml")
    plan = plan_import(feeds, ["https://rsshub.app:443", "https://rsshub.example.org/sub"],
                       [], [])
    kinds = {a.key: (a.kind, a.category, a.source) for a in plan.added}
    assert kinds["/kkj/news"] == ("route", "新媒体", None)  # names from the catalog
    assert kinds["/bilibili/user/video/2267573"][0] == "route"  # the access key is dropped
    assert kinds["https://sspai.com/feed"] == ("feed", "新媒体", "少数派")
    assert [s.reason for s in plan.skipped] == [
        "not a feed (type HTML+XPath: the reader scraped a web page)"]
    # another host, another port, another scheme or outside the path prefix: an ordinary feed
    for url in ("https://rsshub.app.evil.example/kkj/news", "https://rsshub.app:8443/kkj/news",
                "http://rsshub.app/kkj/news", "https://rsshub.example.org/other/kkj/news"):
        from rsspage.importers.opml import OpmlFeed
        (added,) = plan_import([OpmlFeed(url, "t", None, 1)],
                               ["https://rsshub.app", "https://rsshub.example.org/sub"], [], []).added
        assert added.kind == "feed", url
    (sub,) = plan_import([OpmlFeed("https://rsshub.example.org/sub/a/b?limit=5", "t", None, 1)],
                         ["https://rsshub.example.org/sub"], [], []).added
    assert (sub.kind, sub.key) == ("route", "/a/b?limit=5")


# ----------------------------------------------------------------------------- through the CLI


def test_import_adds_routes_and_feeds_keeping_the_config_byte_for_byte(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    done = run_cli("import", "-c", str(config), str(DATA / "miniflux.opml"), "--yes")
    assert done.code == 0, done.err + done.out
    after = config.read_text(encoding="utf-8")
    assert only_insertions(CONFIG, after) == [
        "  - {url: https://github.blog/feed/, category: All, source: GitHub Blog}"]
    # /kkj/news and /36kr/newsflashes are followed already (as routes), sspai as a feed
    assert "already followed as a route" in done.out and "already followed as a feed" in done.out
    loaded = load_config(config)
    assert [f.url for f in loaded.feeds] == ["https://sspai.com/feed", "https://github.blog/feed/"]
    assert (loaded.feeds[1].category, loaded.feeds[1].source, loaded.feeds[1].channel) == \
        ("All", "GitHub Blog", None)

    again = run_cli("import", "-c", str(config), str(DATA / "miniflux.opml"), "--yes")
    assert again.code == 0, again.err
    assert "nothing to add" in again.out
    assert config.read_text(encoding="utf-8") == after


def test_import_of_every_reader_then_again_adds_nothing(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    for name in ("miniflux.opml", "freshrss.opml", "inoreader.xml", "feedly.opml",
                 "netnewswire.opml"):
        done = run_cli("import", "-c", str(config), str(DATA / name), "--yes")
        assert done.code == 0, name + done.err + done.out
    text = config.read_text(encoding="utf-8")
    added = only_insertions(CONFIG, text)
    assert "SECRET" not in text
    loaded = load_config(config)
    routes = {r.path: r.category for r in loaded.routes}
    assert routes == {"/kkj/news": None, "/36kr/newsflashes": "新媒体",
                      "/bilibili/user/video/2267573": "博客"}
    feeds = {f.url: (f.category, f.source) for f in loaded.feeds}
    assert feeds["https://www.ifanr.com/feed"] == ("科技", "爱范儿")
    assert feeds["https://blog.python.org/feeds/posts/default"] == ("科技", "Python Insider")
    assert feeds["https://feeds.arstechnica.com/arstechnica/index"] == (None, "Ars Technica")
    assert feeds["https://www.theverge.com/rss/index.xml"] == ("Tech", "The Verge")  # first wins
    assert feeds["https://lwn.net/headlines/rss"] == ("Uncategorized", "LWN.net")
    assert feeds["https://sspai.com/feed"] == (None, None)  # was there before: untouched
    assert "https://news.ycombinator.com/" not in feeds  # FreshRSS web scraping, not a feed
    assert len(added) == len(loaded.routes) + len(loaded.feeds) - 3
    # each added line sits in its list: routes right after the last route, feeds after sspai
    lines = text.splitlines()
    assert lines[lines.index("     source: 36氪}              # spread over two lines") + 1] == \
        "  - {path: /bilibili/user/video/2267573, category: 博客}"
    assert lines[lines.index("  - https://sspai.com/feed      # already followed too") + 1] \
        .startswith("  - {url: https://github.blog/feed/")

    for name in ("miniflux.opml", "freshrss.opml", "inoreader.xml", "feedly.opml",
                 "netnewswire.opml"):
        again = run_cli("import", "-c", str(config), str(DATA / name), "--yes")
        assert again.code == 0 and "nothing to add" in again.out, name
    assert config.read_text(encoding="utf-8") == text


def test_duplicates_in_the_file_are_reported(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    done = run_cli("import", "-c", str(config), str(DATA / "feedly.opml"), "--yes")
    assert done.code == 0
    assert "given twice in the file (line 9)" in done.out
    assert load_config(config).feeds[-1].url == "http://feeds.bbci.co.uk/news/world/rss.xml"


def test_without_yes_nothing_is_written(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    before = config.read_bytes()
    shown = run_cli("import", "-c", str(config), str(DATA / "inoreader.xml"))
    assert shown.code == 0, shown.err
    assert "to add (3)" in shown.out and "https://www.ifanr.com/feed" in shown.out
    assert "run again with --yes" in shown.out
    assert config.read_bytes() == before


@pytest.mark.parametrize(("name", "message"), [
    ("malformed.opml", "malformed.opml:6: not well-formed XML"),
    ("xxe.opml", "has a DOCTYPE"),
    ("billion-laughs.opml", "has a DOCTYPE"),
])
def test_bad_opml_is_refused_and_the_config_untouched(tmp_path: Path, name: str, message: str) -> None:
    config = write_config(tmp_path)
    before = config.read_bytes()
    done = run_cli("import", "-c", str(config), str(DATA / name), "--yes", timeout=60)
    assert done.code == 2, done.out + done.err
    assert message in done.err
    assert "Traceback" not in done.err
    assert config.read_bytes() == before
    assert "root:" not in done.out + done.err  # nothing of /etc/passwd


def test_the_parser_alone_reads_no_file_and_expands_no_entity() -> None:
    """Behind the DOCTYPE check, the parser is safe by itself."""
    from lxml import etree

    from rsspage.importers.opml import _parser
    text_xxe = (b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
                b"<opml><head><title>&xxe;</title></head><body/></opml>")
    assert b"root:" not in etree.tostring(etree.fromstring(text_xxe, _parser()))
    with pytest.raises(etree.XMLSyntaxError):  # entity bombs stop at libxml2's limits
        etree.fromstring((DATA / "billion-laughs.opml").read_bytes().replace(
            b'"https://a/&lol9;"', b'"x"'), etree.XMLParser(resolve_entities=True, huge_tree=False))


def test_not_opml_and_missing_file(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    rss = tmp_path / "feed.xml"
    rss.write_bytes(RSS)
    done = run_cli("import", "-c", str(config), str(rss), "--yes")
    assert done.code == 2 and "the root element is <rss>, not <opml>" in done.err
    missing = run_cli("import", "-c", str(config), str(tmp_path / "nope.opml"))
    assert missing.code == 2 and "cannot read" in missing.err


def test_missing_lists_are_created_and_crlf_kept(tmp_path: Path) -> None:
    text = "# only a route\r\nroutes:\r\n  - /kkj/news\r\n"
    config = tmp_path / "rsspage.yml"
    config.write_bytes(text.encode())
    done = run_cli("import", "-c", str(config), str(DATA / "netnewswire.opml"), "--yes")
    assert done.code == 0, done.err
    after = config.read_bytes().decode()
    assert after.startswith(text)
    assert "\nfeeds:\r\n  - {url: https://daringfireball.net/feeds/main, source: Daring Fireball}\r\n" in after
    assert len(load_config(config).feeds) == 3


def test_awkward_names_are_quoted() -> None:
    text = "routes:\n  - /a\n"
    new = insert_entries(text, {"feeds": [
        {"url": "https://x.example/a,b", "category": "a: b, {c} #d", "source": "'quoted' [x] & *y"},
    ]})
    config = load_config_text(new)
    assert (config.feeds[0].url, config.feeds[0].category, config.feeds[0].source) == \
        ("https://x.example/a,b", "a: b, {c} #d", "'quoted' [x] & *y")


def load_config_text(text: str):  # type: ignore[no-untyped-def]
    from rsspage.config import parse_config
    return parse_config(text, Path("/tmp/rsspage.yml"))


def test_a_flow_list_is_refused_and_left_alone(tmp_path: Path) -> None:
    opml_file = tmp_path / "s.opml"
    opml_file.write_text('<opml version="2.0"><body><outline text="x" xmlUrl="https://b.example/f"/>'
                         "</body></opml>", encoding="utf-8")
    flow = write_config(tmp_path, "feeds: [https://a.example/feed]\n")
    done = run_cli("import", "-c", str(flow), str(opml_file), "--yes")
    assert done.code == 2 and "flow list" in done.err
    assert flow.read_text(encoding="utf-8") == "feeds: [https://a.example/feed]\n"


def test_a_written_config_that_fails_to_load_is_restored(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from rsspage import config_edit
    from rsspage.errors import ConfigError
    config = write_config(tmp_path)
    before = config.read_bytes()

    def broken(path: Path) -> None:
        assert path.read_bytes() != before  # it was written …
        raise ConfigError(str(path), 1, "", "simulated")

    monkeypatch.setattr(config_edit, "load_config", broken)
    with pytest.raises(ConfigError, match="simulated"):
        config_edit.append_entries(config, {"feeds": [{"url": "https://n.example/f"}]})
    assert config.read_bytes() == before  # … and put back
    assert [p.name for p in tmp_path.iterdir()] == ["rsspage.yml"]  # no temp file left


# ----------------------------------------------------------------------------- end to end


def test_imported_feeds_update_end_to_end(tmp_path: Path) -> None:
    with LocalServer() as server:
        server.route("/blog.xml", respond(200, RSS, {"Content-Type": "application/rss+xml"}))
        server.route("/rsshub/test/1", respond(200, RSS.replace(b"http://example.com/1", b"http://example.com/2"),
                                               {"Content-Type": "application/rss+xml"}))
        config = write_config(tmp_path, (
            "# local test\n"
            f"rsshub:\n  instances: [{server.url('/rsshub')}]\n"
            "feeds:\n  - https://unused.invalid/feed.xml  # keep\n"
            "output: {site: public}\n"
        ))
        opml_file = tmp_path / "subs.opml"
        opml_file.write_text(
            '<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0"><head><title>t</title></head><body>\n'
            '<outline text="本地">\n'
            f'  <outline text="本地博客" title="本地博客" type="rss" xmlUrl="{server.url("/blog.xml")}"/>\n'
            f'  <outline text="测试路由" title="测试路由" type="rss" xmlUrl="{server.url("/rsshub/test/1")}"/>\n'
            '</outline></body></opml>\n', encoding="utf-8")
        done = run_cli("import", "-c", str(config), str(opml_file), "--yes")
        assert done.code == 0, done.err + done.out
        loaded = load_config(config)
        assert [r.path for r in loaded.routes] == ["/test/1"]
        # the unreachable feed that was already there is dropped for this run by a second config
        config.write_text(config.read_text(encoding="utf-8").replace(
            "  - https://unused.invalid/feed.xml  # keep\n", ""), encoding="utf-8")
        update = run_cli("update", "-c", str(config))
        assert update.code == 0, update.err + update.out
        table = summary(update.out)
        assert table["new articles"] == "2"
        assert server.hits("/blog.xml") == 1 and server.hits("/rsshub/test/1") == 1
        pages = "".join(p.read_text(encoding="utf-8") for p in (tmp_path / "public").rglob("*.html"))
        assert "本地" in pages
