"""`rsspage add URL`: RSSHub Radar rules of the real catalog, a page's feed links, the CLI.

Nothing here reaches past 127.0.0.1: addresses of real sites are only matched against the
catalog's rules (``--no-fetch`` in the CLI), and the pages that are fetched are served locally.
"""

from __future__ import annotations

import io
import socket
import sys
from pathlib import Path

import pytest

from conftest import run_cli
from rsspage.catalog import Catalog, load_catalog, parse_routes_json, radar
from rsspage.catalog.radar import fill_target, match_source, match_url, site_of
from rsspage.cli import main
from rsspage.config import load_config
from rsspage.discover import PageFeed, discover, page_feeds
from rsspage.fetch import FetchOptions
from rsspage.types import RadarRule, Route
from servers import RSS, LocalServer, redirect, respond

ROUTES_JSON = "rsshub-routes-modern/routes.json"
OPTIONS = FetchOptions(timeout=5, retries=0)

CONFIG = """\
# my feeds: keep this comment
site: {title: 新闻, language: zh-CN}   # the site

rsshub:
  instances: [http://127.0.0.1:9]   # never asked: the tests name the catalog
  catalog: []

routes:                  # RSSHub routes
  - /kkj/news            # followed already

# feeds come next
feeds:
  - https://sspai.com/feed   # a feed
"""


@pytest.fixture(scope="module")
def catalog(shared_fixtures: Path) -> Catalog:
    return load_catalog([shared_fixtures / ROUTES_JSON])


def offered(catalog: Catalog, url: str) -> list[str]:
    return [m.path for m in match_url(url, catalog.routes)]


# ------------------------------------------------------------------ the catalog's radar rules


def test_radar_rules_are_read_with_full_targets(catalog: Catalog) -> None:
    routes = {r.path: r for r in catalog.routes}
    assert routes["/github/activity/:user"].radar == (
        RadarRule(("github.com/:user",), "/github/activity/:user", "User Activities"),)
    # no target: the route's own path; no title: the route's name
    assert routes["/github/branches/:user/:repo"].radar == (
        RadarRule(("github.com/:user/:repo/branches", "github.com/:user/:repo"),
                  "/github/branches/:user/:repo", "Repo Branches"),)
    assert routes["/mydrivers/rank/:range?"].radar[0].target == "/mydrivers/rank"
    assert routes["/bilibili/app/:id?"].radar == ()


def test_radar_parsing_tolerates_odd_entries() -> None:
    data = {"x": {"name": "X", "routes": {"/a/:id": {"path": "/a/:id", "name": "A", "radar": [
        "not a rule", {"source": []}, {"source": "x.com/a/:id"},
        {"source": ["x.com/b/:id"], "target": "b/:id", "title": "B"}, {"source": [1]}]}}}}
    [route] = parse_routes_json(data, origin="t")
    assert route.radar == (RadarRule(("x.com/a/:id",), "/x/a/:id", "A"),
                           RadarRule(("x.com/b/:id",), "/x/b/:id", "B"))


def test_github_repository(catalog: Catalog) -> None:
    assert offered(catalog, "https://github.com/DIYgod/RSSHub") == [
        "/github/branches/DIYgod/RSSHub",
        "/github/comments/DIYgod/RSSHub",       # /:user/:repo/:type, its last parameter missing
        "/github/contributors/DIYgod/RSSHub",
        "/github/discussion/DIYgod/RSSHub",
        "/github/issue/DIYgod/RSSHub",
        "/github/pull/DIYgod/RSSHub",
        "/github/repo_event/DIYgod/RSSHub",
        "/github/stars/DIYgod/RSSHub",
    ]
    # a trailing slash, a query and a fragment change nothing
    assert offered(catalog, "https://github.com/DIYgod/RSSHub/?tab=readme#top") == \
        offered(catalog, "https://github.com/DIYgod/RSSHub")


def test_github_user_drops_missing_optional_parameters(catalog: Catalog) -> None:
    paths = offered(catalog, "https://github.com/DIYgod")
    # target /repos/:user/:type?/:sort? without type and sort
    assert "/github/repos/DIYgod" in paths
    assert "/github/activity/DIYgod" in paths
    # /branches/:user/:repo needs a repository the address does not name
    assert not any(p.startswith("/github/branches") for p in paths)


def test_github_file_takes_the_rest_of_the_path(catalog: Catalog) -> None:
    assert offered(catalog, "https://github.com/DIYgod/RSSHub/blob/master/lib/index.ts") == [
        "/github/file/DIYgod/RSSHub/master/lib/index.ts"]


def test_bilibili_www_and_no_subdomain_are_one_site(catalog: Catalog) -> None:
    assert offered(catalog, "https://www.bilibili.com/") == ["/bilibili/hot-search"]
    assert offered(catalog, "https://bilibili.com") == ["/bilibili/hot-search"]
    assert offered(catalog, "https://www.bilibili.com/v/popular/rank/all") == \
        ["/bilibili/ranking/all"]
    assert offered(catalog, "https://www.bilibili.com/video/BV1GJ411x7h7") == []


def test_bilibili_space_is_another_subdomain(catalog: Catalog) -> None:
    paths = offered(catalog, "https://space.bilibili.com/2267573")
    assert paths[0] == "/bilibili/user/article/2267573"
    assert {"/bilibili/user/video/2267573", "/bilibili/user/dynamic/2267573",
            "/bilibili/user/fav/2267573"} <= set(paths)
    assert "/bilibili/hot-search" not in paths


def test_mydrivers_subdomains(catalog: Catalog) -> None:
    assert offered(catalog, "https://m.mydrivers.com/") == ["/mydrivers/zhibo"]
    assert offered(catalog, "https://m.mydrivers.com/newsclass.aspx") == ["/mydrivers/rank"]
    # the rules are for m.mydrivers.com only
    assert offered(catalog, "https://news.mydrivers.com/") == []
    assert offered(catalog, "https://mydrivers.com/") == []


def test_query_and_percent_encoding(catalog: Catalog) -> None:
    assert offered(catalog, "https://play.google.com/store/apps/details?id=com.x.y&hl=en") == \
        ["/google/play/com.x.y"]
    # the rule's source is percent-encoded, the address is not: one route, written readably
    assert offered(catalog, "https://top.aibase.com/topic/人工智能") == ["/aibase/topic/人工智能"]
    assert offered(catalog, "https://top.aibase.com/topic/%E4%BA%BA%E5%B7%A5%E6%99%BA%E8%83%BD") \
        == ["/aibase/topic/人工智能"]


def test_addresses_no_rule_can_name(catalog: Catalog) -> None:
    for url in ("http://127.0.0.1:8000/x", "http://localhost/", "https://[::1]/", "not a url",
                "https://example.invalid/"):
        assert offered(catalog, url) == [], url


# ------------------------------------------------------------------------------ the matcher


def test_site_of() -> None:
    assert site_of("www.bilibili.com") == site_of("bilibili.com") == ("bilibili.com", "")
    assert site_of("space.bilibili.com") == ("bilibili.com", "space")
    assert site_of("news.bbc.co.uk") == ("bbc.co.uk", "news")
    assert site_of("WWW.Example.COM.") == ("example.com", "")
    # the ICANN section only, as RSSHub's tldts reads it: a user's pages are a subdomain
    assert site_of("someone.github.io") == ("github.io", "someone")
    assert site_of("127.0.0.1") is None and site_of("localhost") is None and site_of("") is None


def test_the_suffix_list_is_the_bundled_one(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("the public suffix list must not be fetched")

    radar._suffixes.cache_clear()  # read the list afresh, with the network gone
    monkeypatch.setattr(socket, "socket", no_network)
    assert site_of("a.b.example.co.uk") == ("example.co.uk", "a.b")


@pytest.mark.parametrize(("source", "url", "params"), [
    ("github.com/:user/:repo", "https://github.com/a/b/", {"user": "a", "repo": "b"}),
    ("github.com/:user/:repo", "https://www.github.com/a/b", {"user": "a", "repo": "b"}),
    ("github.com/:user/:repo", "https://github.com/a", {"user": "a"}),   # Radar's partial match
    ("github.com/:user/:repo", "https://github.com/", {}),
    ("github.com/:user/:repo", "https://github.com/a/b/c", None),
    ("github.com/:user/:repo", "https://gist.github.com/a/b", None),
    ("x.com/list/:type?/:page", "https://x.com/list/news/2", {"type": "news", "page": "2"}),
    ("x.com/files/*path", "https://x.com/files/a/b.txt", {"path": "a/b.txt"}),
    ("x.com/files/*path", "https://x.com/files", None),
    ("x.com/news/:id.htm", "https://x.com/news/123.htm", {"id": "123"}),
    ("x.com/c/pa-:pa", "https://x.com/c/pa-7", {"pa": "7"}),
    ("x.com/n/:id{[0-9]+}", "https://x.com/n/42", {"id": "42"}),
    ("x.com/n/:id{[0-9]+}", "https://x.com/n/abc", None),
    ("x.com/list/:cat*", "https://x.com/list/a/b", {"cat": "a/b"}),
    ("x.com/search?q=:keyword", "https://x.com/search?q=rss&page=2", {"keyword": "rss"}),
    ("x.com/films?showType=1", "https://x.com/films?showType=1", {}),
    ("x.com/films?showType=1", "https://x.com/films?showType=2", None),
    ("x.com/films?showType=1", "https://x.com/films", None),
    ("m.x.com/#/channel/:name", "https://m.x.com/#/channel/money", {"name": "money"}),
    ("m.x.com/#/channel/:name", "https://m.x.com/", None),
    ("https://www.x.com/a", "https://x.com/a", {}),                       # written as a URL
    ("x.com:8080/a", "http://x.com/a", {}),                               # a port
    ("x.com/topic/%E4%BA%BA", "https://x.com/topic/人", {}),             # encoded literal
    ("x.com/wiki/Special:新闻", "https://x.com/wiki/Special:新闻", {}),  # not a parameter
    ("x.com/$:path(.*)\\.(:ext(html|htm))", "https://x.com/a.html", None),  # JavaScript-only
])
def test_match_source(source: str, url: str, params: dict[str, str] | None) -> None:
    assert match_source(source, url) == params


@pytest.mark.parametrize(("target", "params", "path"), [
    ("/github/repos/:user/:type?/:sort?", {"user": "a"}, "/github/repos/a"),
    ("/github/repos/:user/:type?/:sort?", {"user": "a", "sort": "x"}, "/github/repos/a"),
    ("/github/repos/:user/:type?/:sort?", {"user": "a", "type": "t"}, "/github/repos/a/t"),
    ("/github/branches/:user/:repo", {"user": "a"}, None),
    ("/mydrivers/zhibo", {"anything": "x"}, "/mydrivers/zhibo"),
    ("/f/:user/:path{.+}", {"user": "u", "path": "a/b.ts"}, "/f/u/a/b.ts"),
    ("/t/:id", {"id": "a b?#%"}, "/t/a%20b%3F%23%25"),
    ("/t/:id", {"id": "人工智能\u202e"}, "/t/人工智能%E2%80%AE"),     # a bidi override is encoded
    ("/n/node_:id", {"id": "7"}, "/n/node_7"),
    ("/n/node_:id", {}, None),
    ("/", {}, "/"),
])
def test_fill_target(target: str, params: dict[str, str], path: str | None) -> None:
    assert fill_target(target, params) == path


def test_a_source_without_host_is_on_the_rules_first_host() -> None:
    route = Route("/one/:category", "", "其他", "One", "Gallery", radar=(
        RadarRule(("1x.com/photos", "/gallery/:category"), "/one/:category", "Gallery"),))
    assert [m.path for m in match_url("https://1x.com/gallery/bw", [route])] == ["/one/bw"]
    assert match_url("https://2x.com/gallery/bw", [route]) == []


def test_one_route_once_and_catalog_order() -> None:
    rules = (RadarRule(("x.com/:id",), "/x/:id", "by id"), RadarRule(("x.com/a",), "/x/a", "A"))
    first = Route("/x/:id", "", "其他", "X", "One", radar=rules)
    second = Route("/x/b", "", "其他", "X", "Two", radar=(RadarRule(("x.com/:id",), "/x/b", ""),))
    found = match_url("https://x.com/a", [first, second])
    assert [(m.path, m.rule.title, m.route.channel) for m in found] == [
        ("/x/a", "by id", "One"), ("/x/b", "", "Two")]


# ------------------------------------------------------------------------------- page feeds

PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>博客</title>
<link rel="stylesheet" href="/style.css">
<link rel="alternate" type="application/rss+xml" title="全部 文章" href="feed.xml">
<link rel="Alternate" type="application/atom+xml; charset=utf-8" title="Atom" href="/atom.xml">
<link rel="alternate" type="application/json" href="/wp-json/wp/v2/pages/2">
<link rel="alternate" type="application/rss+xml" title="again" href="./feed.xml">
<link rel="alternate" type="application/rss+xml" href="javascript:alert(1)">
<link rel="alternate" hreflang="en" href="/en/">
</head><body><p>hi</p>
<link rel="alternate" type="application/feed+json" title="JSON\x1b[2J" href="//cdn.example.org/f.json">
</body></html>""".encode()


def test_page_feeds_resolves_links_against_the_final_url() -> None:
    with LocalServer() as server:
        server.route("/old", redirect("/blog/index.html", 301))
        server.route("/blog/index.html", respond(200, PAGE, content_type="text/html"))
        found = discover(server.url("/old"), OPTIONS)
    assert found.error is None
    assert [(f.url, f.title, f.kind) for f in found.feeds] == [
        (server.url("/blog/feed.xml"), "全部 文章", "application/rss+xml"),
        (server.url("/atom.xml"), "Atom", "application/atom+xml"),
        ("http://cdn.example.org/f.json", "JSON[2J", "application/feed+json"),  # no escape
    ]


def test_page_feeds_base_href_and_no_links() -> None:
    page = b'<html><head><base href="https://example.org/x/"><link rel="alternate" ' \
           b'type="application/rss+xml" href="rss"></head></html>'
    assert [f.url for f in page_feeds(page, {}, "https://site.example/")] == \
        ["https://example.org/x/rss"]
    assert page_feeds(b"<html><head><title>none</title></head></html>", {}, "https://a/") == []
    assert page_feeds(b"", {}, "https://a/") == []
    gbk = "<html><head><link rel=alternate type=application/rss+xml title=中文 href=/f>"
    assert page_feeds(gbk.encode("gbk"), {"content-type": "text/html; charset=gbk"},
                      "https://a.example/") == [
        PageFeed("https://a.example/f", "中文", "application/rss+xml")]


def test_a_page_without_feeds_a_missing_page_and_a_feed() -> None:
    with LocalServer() as server:
        server.route("/plain", respond(200, b"<html><body>no feeds</body></html>",
                                       content_type="text/html"))
        server.route("/feed.xml", respond(200, RSS))
        plain = discover(server.url("/plain"), OPTIONS)
        missing = discover(server.url("/gone"), OPTIONS)
        itself = discover(server.url("/feed.xml"), OPTIONS)
    assert plain.feeds == () and plain.error is None
    assert missing.feeds == () and missing.error is not None and "404" in missing.error
    assert [(f.url, f.title, f.kind) for f in itself.feeds] == [
        (server.url("/feed.xml"), "测试频道", "feed")]


# ----------------------------------------------------------------------------------- the CLI


def write_config(folder: Path) -> Path:
    path = folder / "rsspage.yml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def added_lines(before: str, after: str) -> list[str]:
    old = before.splitlines()
    new = after.splitlines()
    for line in old:  # every line of the original is still there, in order
        new.remove(line)
    return new


def test_cli_yes_adds_the_first_route_keeping_comments(tmp_path: Path,
                                                       shared_fixtures: Path) -> None:
    config = write_config(tmp_path)
    catalog = str(shared_fixtures / ROUTES_JSON)
    done = run_cli("add", "https://github.com/DIYgod/RSSHub", "-c", str(config),
                   "--catalog", catalog, "--no-fetch", "--yes")
    assert done.code == 0, done.err + done.out
    assert "1  route  /github/branches/DIYgod/RSSHub" in done.out
    after = config.read_text(encoding="utf-8")
    assert added_lines(CONFIG, after) == ["  - {path: /github/branches/DIYgod/RSSHub}"]
    assert after.index("/github/branches") < after.index("# feeds come next")  # under routes:
    loaded = load_config(config)
    assert [r.path for r in loaded.routes] == ["/kkj/news", "/github/branches/DIYgod/RSSHub"]

    picked = run_cli("add", "github.com/DIYgod/RSSHub", "-c", str(config), "--catalog", catalog,
                     "--no-fetch", "--pick", "5")
    assert picked.code == 0, picked.err
    assert [r.path for r in load_config(config).routes][-1] == "/github/issue/DIYgod/RSSHub"

    again = run_cli("add", "https://github.com/DIYgod/RSSHub", "-c", str(config),
                    "--catalog", catalog, "--no-fetch", "--yes")
    assert again.code == 0 and "already in" in again.out
    assert len(load_config(config).routes) == 3
    assert "Traceback" not in done.err + picked.err + again.err


def test_cli_adds_a_page_feed_under_feeds(tmp_path: Path, shared_fixtures: Path) -> None:
    config = write_config(tmp_path)
    with LocalServer() as server:
        server.route("/blog/", respond(200, PAGE, content_type="text/html"))
        done = run_cli("add", server.url("/blog/"), "-c", str(config), "--pick", "2",
                       "--catalog", str(shared_fixtures / ROUTES_JSON), timeout=60)
    assert done.code == 0, done.err + done.out
    assert "全部 文章" in done.out and "JSON[2J" in done.out and "\x1b" not in done.out
    after = config.read_text(encoding="utf-8")
    assert added_lines(CONFIG, after) == [f"  - {{url: {server.url('/atom.xml')}}}"]
    assert after.index("atom.xml") > after.index("# feeds come next")  # under feeds:
    assert [f.url for f in load_config(config).feeds] == ["https://sspai.com/feed",
                                                          server.url("/atom.xml")]


def test_cli_without_a_terminal_or_yes_changes_nothing(tmp_path: Path,
                                                       shared_fixtures: Path) -> None:
    config = write_config(tmp_path)
    done = run_cli("add", "https://space.bilibili.com/2267573", "-c", str(config),
                   "--catalog", str(shared_fixtures / ROUTES_JSON), "--no-fetch")
    assert done.code == 0, done.err
    assert "/bilibili/user/video/2267573" in done.out and "--pick N" in done.out
    assert config.read_text(encoding="utf-8") == CONFIG


def test_cli_missing_config_page_errors_and_bad_input(tmp_path: Path,
                                                      shared_fixtures: Path) -> None:
    catalog = str(shared_fixtures / ROUTES_JSON)
    missing = run_cli("add", "https://github.com/DIYgod", "--catalog", catalog, "--no-fetch",
                      "--yes", cwd=tmp_path)
    assert missing.code == 2
    assert "no config file to add to" in missing.err and "rsspage init" in missing.err
    assert "Traceback" not in missing.err and not (tmp_path / "rsspage.yml").exists()

    listed = run_cli("add", "https://github.com/DIYgod", "--catalog", catalog, "--no-fetch",
                     cwd=tmp_path)
    assert listed.code == 0 and "/github/repos/DIYgod" in listed.out
    assert "rsspage init" in listed.out

    config = write_config(tmp_path)
    with LocalServer() as server:
        gone = run_cli("add", server.url("/gone"), "-c", str(config), "--catalog", catalog,
                       "--yes", timeout=60)
    assert gone.code == 1 and "could not read" in gone.err and "404" in gone.err
    assert "no feeds found" in gone.out and config.read_text(encoding="utf-8") == CONFIG

    for bad in ("ftp://example.org/", "https://[::1", "   "):
        wrong = run_cli("add", bad, "-c", str(config), "--catalog", catalog, "--no-fetch")
        assert wrong.code == 2 and "not a web address" in wrong.err, bad
    too_far = run_cli("add", "https://www.bilibili.com/", "-c", str(config), "--catalog",
                      catalog, "--no-fetch", "--pick", "9")
    assert too_far.code == 2 and "--pick 9" in too_far.err
    assert config.read_text(encoding="utf-8") == CONFIG


def test_on_a_terminal_it_asks(tmp_path: Path, shared_fixtures: Path,
                               monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path)
    answers = iter(["x", "12", "2"])
    monkeypatch.setattr(sys, "stdin", io.StringIO())
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: next(answers))
    args = ["add", "https://github.com/DIYgod", "-c", str(config), "--catalog",
            str(shared_fixtures / ROUTES_JSON), "--no-fetch"]
    assert main(args) == 0
    second = offered(load_catalog([shared_fixtures / ROUTES_JSON]),
                     "https://github.com/DIYgod")[1]
    assert [r.path for r in load_config(config).routes] == ["/kkj/news", second]
    assert "a number from 1 to" in capsys.readouterr().err

    monkeypatch.setattr("builtins.input", lambda prompt: "")
    assert main(args) == 0
    assert "nothing added" in capsys.readouterr().out
    assert len(load_config(config).routes) == 2
