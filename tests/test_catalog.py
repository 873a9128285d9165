"""Tests for rsspage.catalog: routes.json, the 2021 docs markdown, labels and path matching."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from rsspage.catalog import Catalog, load_catalog, parse_legacy_docs
from rsspage.catalog.labels import CATEGORY_LABELS, label_for
from rsspage.catalog.match import compile_pattern, normalise_path
from rsspage.errors import CatalogError
from rsspage.types import UNCATEGORISED, Route

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"
DOCS = FIXTURES / "rsshub-docs-2021"
ROUTES_JSON = FIXTURES / "rsshub-routes-modern" / "routes.json"


@pytest.fixture(scope="module")
def legacy() -> Catalog:
    return load_catalog([DOCS])


@pytest.fixture(scope="module")
def modern() -> Catalog:
    started = time.perf_counter()
    catalog = load_catalog([ROUTES_JSON])
    print(f"loaded {len(catalog)} routes from routes.json in {time.perf_counter() - started:.3f}s")
    return catalog


def route(path: str, example: str = "", channel: str = "c") -> Route:
    return Route(path=path, example=example, category="新媒体", source="s", channel=channel)


# --- the real 2021 docs --------------------------------------------------------------------


def test_kkj_news_from_real_docs(legacy: Catalog) -> None:
    found = legacy.match("/kkj/news")
    assert found is not None
    assert (found.category, found.source, found.channel) == (
        "新媒体",
        "快科技（原驱动之家）",
        "最新新闻",
    )
    assert found.path == "/kkj/news"
    assert found.origin.startswith("new-media.md:")


def test_whole_docs_folder_has_1972_route_tags() -> None:
    total = sum(len(parse_legacy_docs(p.read_text("utf-8"), p.name)) for p in DOCS.glob("*.md"))
    assert total == 1972  # SOURCE.txt: <Route> tags outside ``` fences


def test_non_route_pages_yield_nothing() -> None:
    for name in ("README.md", "api.md", "faq.md", "parameter.md", "usage.md"):
        assert parse_legacy_docs((DOCS / name).read_text("utf-8"), name) == []


def test_real_quirks(legacy: Catalog) -> None:
    # new-media.md:2833: spans two lines and its path lacks the leading slash.
    mpaypass = legacy.match("/mpaypass/main/policy")
    assert mpaypass is not None and mpaypass.path == "/mpaypass/main/:type?"
    assert (mpaypass.source, mpaypass.channel) == ("移动支付网", "分类")
    # study.md:44: attributes on three lines.
    ctf = legacy.match("/ctfhub/search/10/0")
    assert ctf is not None and ctf.path == "/ctfhub/search/:limit?/:form?/:class?/:title?"
    # picture.md:111: name attribute first, and no ### heading.
    dilbert = legacy.match("/dilbert/strip")
    assert dilbert is not None and dilbert.channel == "Daily Strip"
    # blog.md "## WordPress": no ### heading, so the channel is the source heading.
    wordpress = [r for r in legacy.list("博客") if r.source == "WordPress"]
    assert wordpress and all(r.channel == "WordPress" for r in wordpress)
    # university.md:1095 uses the :paramDesc typo.
    assert legacy.match("/jlbtc/kyc") is not None


def test_heading_markup_is_stripped_in_real_docs(legacy: Catalog) -> None:
    zyshow = legacy.match("/zyshow/chongchongchong")
    assert zyshow is not None and zyshow.source == "综艺秀（www.zyshow.net）"


def test_legacy_category_labels_match_the_label_table() -> None:
    for key, label in CATEGORY_LABELS.items():
        page = DOCS / f"{key}.md"
        if page.exists():
            assert f"\n# {label}\n" in page.read_text("utf-8"), key


# --- synthetic docs edge cases ---------------------------------------------------------------


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def docs_routes(tmp_path: Path, text: str, name: str = "new-media.md") -> list[Route]:
    return load_catalog([write(tmp_path, name, text)]).list()


def test_multi_line_tag_and_gt_inside_quotes(tmp_path: Path) -> None:
    text = (
        "# 新媒体\n\n## 站点\n\n### 频道\n\n"
        "<Route author=\"a\"\n    :paramsDesc=\"['a > b', '<c>']\"\n"
        '    example="/site/x" path="/site/:id"\n/>\n'
    )
    [found] = docs_routes(tmp_path, text)
    assert (found.path, found.example, found.channel) == ("/site/:id", "/site/x", "频道")


def test_tag_without_channel_heading_uses_source_heading(tmp_path: Path) -> None:
    text = '# 博客\n\n## WordPress\n\n<Route author="a" example="/wp/x" path="/wp/:site"/>\n'
    [found] = docs_routes(tmp_path, text)
    assert (found.category, found.source, found.channel) == ("博客", "WordPress", "WordPress")


def test_channel_heading_is_reset_by_a_new_source(tmp_path: Path) -> None:
    text = (
        '## A\n\n### old channel\n\n<Route path="/a/x"/>\n\n'
        '## B\n\n<Route path="/b/y"/>\n\n#### 子节\n\n<Route path="/b/z"/>\n'
    )
    routes = {r.path: r for r in docs_routes(tmp_path, text)}
    assert routes["/a/x"].channel == "old channel"
    assert routes["/b/y"].channel == "B"
    assert routes["/b/z"].channel == "B"  # #### headings are sub-sections, not channels


def test_path_and_example_without_leading_slash(tmp_path: Path) -> None:
    [found] = docs_routes(tmp_path, '## S\n\n<Route example="s/x" path="s/:p?" :paramDesc="[]"/>\n')
    assert (found.path, found.example) == ("/s/:p?", "/s/x")


def test_unclosed_tags_do_not_swallow_what_follows(tmp_path: Path) -> None:
    text = (
        "# 新媒体\n\n## One\n\n### first\n\n"
        '<Route author="a" example="/one/1" path="/one/:id"\n\n'  # the tag never reaches ">"
        "Some prose about this route.\n\n"
        "## Two\n\n### second\n\n"
        '<Route author="b" example="/two" path="/two">\n\n'  # the body is never closed
        "| table |\n\n"
        "### third\n\n"
        '<Route author="c" example="/two/3" path="/two/3"/>\n'
    )
    routes = {r.path: r for r in docs_routes(tmp_path, text)}
    assert set(routes) == {"/one/:id", "/two", "/two/3"}
    assert (routes["/one/:id"].source, routes["/one/:id"].channel) == ("One", "first")
    assert (routes["/two/3"].source, routes["/two/3"].channel) == ("Two", "third")


def test_fenced_code_and_comments_are_ignored(tmp_path: Path) -> None:
    text = (
        "---\npageClass: routes\n---\n\n# 编程\n\n## Real\n\n"
        '```md\n# 假分类\n## Fake\n<Route path="/fake/a"/>\n```\n\n'
        '~~~~\n<Route path="/fake/b"/>\n```\n<Route path="/fake/c"/>\n~~~~\n\n'
        '<!-- <Route path="/fake/d"/> -->\n\n'
        '### 频道\n\n<Route example="/real" path="/real"/>\n'
    )
    [found] = docs_routes(tmp_path, text)
    assert (found.path, found.category, found.source, found.channel) == (
        "/real",
        "编程",
        "Real",
        "频道",
    )
    assert found.origin == "new-media.md:25"


def test_heading_markup_anchor_and_crlf(tmp_path: Path) -> None:
    text = (
        "# 社交媒体 {#social}\r\n\r\n## [微博](https://weibo.com) `weibo` {#weibo}\r\n\r\n"
        '### **热搜** ##\r\n\r\n<Route path="/weibo/search/hot"/>\r\n'
    )
    [found] = docs_routes(tmp_path, text)
    assert (found.category, found.source, found.channel) == ("社交媒体", "微博 weibo", "热搜")


def test_page_without_category_heading_uses_file_name(tmp_path: Path) -> None:
    [found] = docs_routes(tmp_path, '## S\n\n<Route path="/s"/>\n', name="university.md")
    assert found.category == "大学通知"
    [other] = docs_routes(tmp_path, '<Route path="/t/x"/>\n', name="misc.md")
    assert (other.category, other.source, other.channel) == (UNCATEGORISED, "t", "t")


# --- routes.json -----------------------------------------------------------------------------


def test_modern_mydrivers_route_resolves_with_label(modern: Catalog) -> None:
    found = modern.match("/mydrivers/rank")
    assert found is not None
    assert (found.path, found.category, found.source, found.channel) == (
        "/mydrivers/rank/:range?",
        "新媒体",
        "快科技",
        "排行",
    )
    assert found.origin == "routes.json"


def test_most_specific_pattern_wins(modern: Catalog) -> None:
    rank = modern.match("/mydrivers/rank/24h")
    assert rank is not None and rank.path == "/mydrivers/rank/:range?"
    other = modern.match("/mydrivers/zhibo/2")
    assert other is not None and other.path == "/mydrivers/:category{.+}?"
    assert other.category == UNCATEGORISED  # neither the route nor mydrivers has a category


def test_namespace_category_fallback(modern: Catalog) -> None:
    # 12371's route /:category? has no categories of its own; the namespace says government.
    found = modern.match("/12371/zxfb")
    assert found is not None
    assert (found.category, found.source, found.channel) == ("政务消息", "共产党员网", "最新发布")


def test_every_category_key_in_routes_json_has_a_label() -> None:
    data = json.loads(ROUTES_JSON.read_bytes())
    keys = {
        c for ns in data.values() for r in ns["routes"].values() for c in r.get("categories") or []
    }
    assert len(keys) == 24
    assert all(label_for(k) != k for k in keys)
    assert label_for("no-such-key") == "no-such-key"


def test_examples_resolve_to_their_own_route(modern: Catalog) -> None:
    routes = modern.list()
    by_example: dict[str, int] = {}
    for r in routes:
        by_example[normalise_path(r.example)] = by_example.get(normalise_path(r.example), 0) + 1
    unique = [r for r in routes if r.example and by_example[normalise_path(r.example)] == 1]
    assert len(unique) > 3500
    assert all((m := modern.match(r.example)) is not None and m.path == r.path for r in unique)


def test_search_chinese_and_english(modern: Catalog) -> None:
    kkj = modern.search("快科技")
    assert {r.path for r in kkj} == {
        "/mydrivers/rank/:range?",
        "/mydrivers/:category{.+}?",
        "/mydrivers/cid/:id?",
    }
    assert [r.category for r in kkj] == ["新媒体", UNCATEGORISED, UNCATEGORISED]  # label order
    assert [r.channel for r in kkj[1:]] == ["分类", "更多分类"]
    npm = modern.search("NPM  package")
    assert any(r.path.startswith("/npm/package/") for r in npm)
    assert all("npm" in f"{r.source}{r.path}".lower() for r in npm)
    assert modern.search("快科技 排行") == [r for r in kkj if r.channel == "排行"]
    assert modern.search("no-such-thing-anywhere") == []


def test_list_by_label_or_key(modern: Catalog) -> None:
    by_label = modern.list("新媒体")
    assert len(by_label) > 500 and all(r.category == "新媒体" for r in by_label)
    assert modern.list("new-media") == by_label
    assert len(modern.list()) == len(modern) == 3905
    assert modern.categories()[:3] == ["二次元", "论坛", "博客"]
    assert UNCATEGORISED in modern.categories()


def test_invalid_json_names_the_file(tmp_path: Path) -> None:
    bad = write(tmp_path, "broken.json", '{"x": ')
    with pytest.raises(CatalogError, match=r"broken\.json: not valid JSON: "):
        load_catalog([bad])
    odd = write(tmp_path, "odd.json", '{"ns": {"name": "x"}}')
    with pytest.raises(CatalogError, match=r"odd\.json: not an RSSHub routes\.json"):
        load_catalog([odd])
    with pytest.raises(CatalogError, match=r"missing\.md: no such file"):
        load_catalog([tmp_path / "missing.md"])
    with pytest.raises(CatalogError, match=r"notes\.txt: not a catalog file"):
        load_catalog([write(tmp_path, "notes.txt", "")])


def test_later_paths_win_and_folders_mix_formats(tmp_path: Path) -> None:
    data = {
        "kkj": {"name": "快科技", "categories": ["new-media"], "routes": {"/news": {"name": "新"}}}
    }
    write(tmp_path, "routes.json", json.dumps(data, ensure_ascii=False))
    write(tmp_path, "extra.md", '# 其他\n\n## Extra\n\n<Route path="/extra/:id"/>\n')
    both = load_catalog([DOCS, tmp_path])
    found = both.match("/kkj/news")
    assert found is not None and (found.source, found.channel) == ("快科技", "新")
    assert both.match("/extra/1") is not None
    legacy_wins = load_catalog([tmp_path, DOCS]).match("/kkj/news")
    assert legacy_wins is not None and legacy_wins.source == "快科技（原驱动之家）"


# --- pattern matching ------------------------------------------------------------------------


def test_match_ignores_query_and_trailing_slash_and_prefers_examples() -> None:
    by_pattern, by_example = route("/a/:x"), route("/b/:x", "/a/special")
    catalog = Catalog([by_pattern, by_example])
    assert catalog.match("/a/special?limit=5#top") == by_example
    assert catalog.match("a/1/") == by_pattern
    assert catalog.match("/A/1") is None  # literal segments are case-sensitive
    assert catalog.match("/a") is None


@pytest.mark.parametrize(
    ("pattern", "yes", "no"),
    [
        ("/ns/:a?", ["/ns", "/ns/1"], ["/ns/1/2"]),
        ("/ns/:a{.+}?", ["/ns", "/ns/1/2/3"], ["/nsx"]),
        ("/ns/:v{[7x]}/:id", ["/ns/7/1", "/ns/x/1"], ["/ns/y/1", "/ns/7"]),
        ("/ns/:p{(@[a-z]+/)?[a-z]+}", ["/ns/pkg", "/ns/@s/pkg"], ["/ns/@s/p/q"]),
        ("/ns/cn/*", ["/ns/cn", "/ns/cn/a/b"], ["/ns/c"]),
        ("/ns/:p+", ["/ns/a", "/ns/a/b"], ["/ns"]),
        ("/ns/:p*", ["/ns", "/ns/a/b"], ["/nsa"]),
        ("/ns/index:type?", ["/ns/index", "/ns/index2"], ["/ns/other"]),
        ("/ns/:bad{(}", ["/ns/x"], ["/ns/x/y"]),  # JS-only regex falls back to one segment
        ("/:lang/news", ["/en/news"], ["/en/old"]),
        ("/中文/:name?", ["/中文", "/中文/值"], ["/中"]),
    ],
)
def test_pattern_syntax(pattern: str, yes: list[str], no: list[str]) -> None:
    compiled = compile_pattern(pattern)
    assert all(compiled.matches(p) for p in yes)
    assert not any(compiled.matches(p) for p in no)
    assert Catalog([route(pattern)]).match(yes[0]) is not None


def test_specificity_order() -> None:
    catch_all = route("/d/:link{.+}")
    structured = route("/d/:ver{[7x]}/:cid{[0-9]{2}}/:link{.+}")
    optional = route("/d/x/:a?/:b?")
    literal = route("/d/x/:a")
    catalog = Catalog([catch_all, structured, optional, literal])
    assert catalog.match("/d/7/12/http://x") == structured
    assert catalog.match("/d/anything/else") == catch_all
    assert catalog.match("/d/x/1") == literal  # fewer optional parameters
    assert catalog.match("/d/x/1/2") == optional
    assert catalog.match("/d/x") == optional  # more literal segments beat the catch-all
