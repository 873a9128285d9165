"""Both published shapes of RSSHub's routes.json, the catalog's Chinese names, route flags and
views, and the `catalog` command's options (any position, no config file needed).

(a) ``/api/namespace`` and ``build/routes.json`` key routes by their path relative to the
namespace; (b) the documentation site's ``routes.json`` keys them by full path and adds ``heat``
and ``topFeeds``. A route's own ``path`` field is relative in both.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import run_cli
from rsspage.catalog import load_catalog, parse_routes_json
from rsspage.catalog.routes_json import full_pattern, is_chinese
from rsspage.config import parse_config
from rsspage.plan import make_plan, needs
from rsspage.types import Route
from servers import RSS, LocalServer, respond


@pytest.fixture(scope="module")
def modern_data(shared_fixtures: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (shared_fixtures / "rsshub-routes-modern" / "routes.json").read_bytes()
    )
    return data


def as_docs_site_shape(data: dict[str, Any]) -> dict[str, Any]:
    """The same catalog as the documentation site publishes it: full-path keys, extra fields."""
    out: dict[str, Any] = {}
    for namespace, entry in data.items():
        routes = {
            f"/{namespace}/{key.lstrip('/')}": {**route, "heat": 3, "topFeeds": [{"url": "rsshub://x/y"}]}
            for key, route in entry["routes"].items()
        }
        out[namespace] = {**entry, "routes": routes}
    return out


def write_json(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


# --- the two shapes --------------------------------------------------------------------------


def test_docs_site_shape_reads_like_the_namespace_shape(modern_data: dict[str, Any]) -> None:
    relative = parse_routes_json(modern_data, "a.json")
    full = parse_routes_json(as_docs_site_shape(modern_data), "a.json")
    assert len(relative) == len(full) == 3905
    assert relative == full
    paths = {r.path for r in full}
    assert "/81/81rc/:category{.+}?" in paths and not any(p.startswith("/81/81/") for p in paths)
    assert "/gov/beijing/jw/tzgg" in paths  # a nested namespace
    assert "/cell/cell/:category" in paths  # a relative key that repeats its namespace
    # One route with two paths (konachan): each key is its own pattern, in both shapes.
    assert {"/konachan/post/popular_recent/:period?",
            "/konachan/sfw/post/popular_recent/:period?"} <= paths


def test_docs_site_shape_matches_examples(tmp_path: Path, modern_data: dict[str, Any]) -> None:
    catalog = load_catalog([write_json(tmp_path / "routes.json", as_docs_site_shape(modern_data))])
    for path, pattern in [
        ("/81/81rc/sy", "/81/81rc/:category{.+}?"),
        ("/gov/beijing/jw/tzgg", "/gov/beijing/jw/tzgg"),
        ("/mydrivers/rank/24h", "/mydrivers/rank/:range?"),
    ]:
        found = catalog.match(path)
        assert found is not None and found.path == pattern, path


NAMESPACE_SHAPE = {
    "81": {
        "name": "中国军网", "url": "81.cn", "lang": "zh-CN", "categories": ["traditional-media"],
        "routes": {"/81rc/:category{.+}?": {
            "path": "/81rc/:category{.+}?", "name": "人才网", "example": "/81/81rc/sy"}},
    },
    "gov/beijing": {
        "name": "北京市人民政府", "categories": ["government"],
        "routes": {"/jw/tzgg": {"path": "/jw/tzgg", "name": "通知公告",
                                "example": "/gov/beijing/jw/tzgg"}},
    },
    "cell": {"name": "Cell", "routes": {"/cell/:category": {
        "path": "/cell/:category", "name": "Cell", "example": "/cell/cell/current"}}},
}

DOCS_SITE_SHAPE = {
    "81": {
        "name": "中国军网", "url": "81.cn", "lang": "zh-CN", "categories": ["traditional-media"],
        "routes": {"/81/81rc/:category{.+}?": {
            "path": "/81rc/:category{.+}?", "name": "人才网", "example": "/81/81rc/sy",
            "heat": 12, "topFeeds": [], "test": {"code": 0}}},
    },
    "gov/beijing": {
        "name": "北京市人民政府", "categories": ["government"],
        "routes": {"/gov/beijing/jw/tzgg": {"path": "/jw/tzgg", "name": "通知公告",
                                            "example": "/gov/beijing/jw/tzgg", "heat": 0}},
    },
    "cell": {"name": "Cell", "routes": {"/cell/cell/:category": {
        "path": "/cell/:category", "name": "Cell", "example": "/cell/cell/current",
        "topFeeds": []}}},
}


@pytest.mark.parametrize("data", [NAMESPACE_SHAPE, DOCS_SITE_SHAPE], ids=["namespace", "docs"])
def test_small_documents_of_each_shape(tmp_path: Path, data: dict[str, Any]) -> None:
    catalog = load_catalog([write_json(tmp_path / "routes.json", data)])
    assert sorted(r.path for r in catalog.list()) == [
        "/81/81rc/:category{.+}?", "/cell/cell/:category", "/gov/beijing/jw/tzgg"]
    rc = catalog.match("/81/81rc/sy")
    assert rc is not None
    assert (rc.category, rc.source, rc.channel) == ("传统媒体", "中国军网", "人才网")
    gov = catalog.match("/gov/beijing/jw/tzgg")
    assert gov is not None and (gov.category, gov.source) == ("政务消息", "北京市人民政府")
    assert catalog.match("/cell/cell/current") is not None


def test_keys_without_a_path_field() -> None:
    # The example tells a relative key that repeats its namespace from a full one ...
    assert full_pattern("cell", "/cell/:c", None, "/cell/cell/x") == "/cell/cell/:c"
    assert full_pattern("cell", "/cell/:c", None, "/cell/x") == "/cell/:c"
    # ... without one, a key starting with the namespace is taken as the full path.
    assert full_pattern("81", "/81/81rc/:c?", None) == "/81/81rc/:c?"
    assert full_pattern("gov/beijing", "/gov/beijing/jw", None) == "/gov/beijing/jw"
    assert full_pattern("gov/beijing", "/jw", None) == "/gov/beijing/jw"
    assert full_pattern("ns", "/", "/", "/ns") == "/ns"
    assert full_pattern("ns", "/ns", "/", "/ns") == "/ns"
    # A path field that names neither reading: the key is relative unless it starts with /ns.
    assert full_pattern("ns", "/a", "/other") == "/ns/a"


# --- names, flags and views ------------------------------------------------------------------


def test_chinese_names_follow_the_site_language(tmp_path: Path, shared_fixtures: Path) -> None:
    routes = shared_fixtures / "rsshub-routes-modern" / "routes.json"
    chinese = load_catalog([routes])  # rsspage's default language is zh-CN
    english = load_catalog([routes], language="en")
    nio_zh, nio_en = chinese.match("/nio/nioradio/5"), english.match("/nio/nioradio/5")
    assert nio_zh is not None and nio_zh.source == "蔚来"
    assert nio_en is not None and nio_en.source == "NIO"
    weather = chinese.match("/soweather/warn")
    assert weather is not None and (weather.source, weather.channel) == ("上海天气预警",) * 2
    mc = chinese.match("/minecraft/version")
    assert mc is not None and (mc.source, mc.channel) == ("Minecraft", "Java版游戏更新")
    mc_en = english.match("/minecraft/version")
    assert mc_en is not None and mc_en.channel == "Java Game Update"
    assert all(is_chinese(x) for x in ("zh", "zh-CN", "zh_TW", "ZH-hk"))
    assert not any(is_chinese(x) for x in ("en", "ja", "zhx", ""))


def test_flags_and_views_from_the_real_catalog(shared_fixtures: Path) -> None:
    catalog = load_catalog([shared_fixtures / "rsshub-routes-modern" / "routes.json"])
    twitter = catalog.match("/twitter/user/x")
    assert twitter is not None and twitter.flags == ("config",) and twitter.view == "social"
    assert "TWITTER_AUTH_TOKEN" in twitter.config_keys
    iwara = catalog.match("/iwara/subscriptions")
    assert iwara is not None and iwara.flags == ("config", "puppeteer", "nsfw")
    hpoi = catalog.match("/hpoi/items/all")
    assert hpoi is not None and (hpoi.flags, hpoi.view) == ((), "pictures")
    # A setting marked optional (NCM_COOKIES) does not make the route need configuration.
    playlist = catalog.match("/163/music/playlist/1")
    assert playlist is not None and playlist.flags == () and playlist.view is None
    routes = catalog.list()
    assert sum(r.require_config for r in routes) == 135
    assert sum(r.require_puppeteer for r in routes) == 112
    assert sum(r.nsfw for r in routes) == 221
    views = {r.view for r in routes}
    assert views == {None, "articles", "social", "pictures", "videos", "audio", "notifications"}


def test_odd_feature_values_are_no_flags() -> None:
    data = {"ns": {"name": "N", "routes": {
        "/a": {"path": "/a", "name": "A", "view": 9, "features": {
            "requireConfig": [{"name": "X", "optional": True}], "requirePuppeteer": "yes"}},
        "/b": {"path": "/b", "name": "B", "view": True, "features": [1]},
        "/c": {"path": "/c", "name": "C", "view": 4, "features": {"requireConfig": True}},
    }}}
    a, b, c = parse_routes_json(data, "x.json")
    assert (a.flags, a.view, b.flags, b.view) == ((), None, (), None)
    assert (c.flags, c.config_keys, c.view) == (("config",), (), "audio")


# --- the catalog command ---------------------------------------------------------------------


def small_catalog(tmp_path: Path) -> Path:
    data = {
        "mydrivers": {"name": "快科技", "categories": ["new-media"], "routes": {
            "/rank/:range?": {"path": "/rank/:range?", "name": "排行",
                              "example": "/mydrivers/rank"}}},
        "nio": {"name": "NIO", "zh": {"name": "蔚来"}, "routes": {
            "/nio/nioradio/:albumid": {"path": "/nioradio/:albumid", "name": "NIO Radio",
                                       "example": "/nio/nioradio/5", "heat": 1}}},
        "paid": {"name": "Paid", "routes": {"/paid/feed": {
            "path": "/feed", "name": "付费", "example": "/paid/feed", "features": {
                "requireConfig": [{"name": "PAID_TOKEN", "description": "d"}],
                "requirePuppeteer": True, "nsfw": True}}}},
    }
    return write_json(tmp_path / "routes.json", data)


def table_rows(out: str) -> list[list[str]]:
    return [line.split() for line in out.splitlines()[2:]]


def test_catalog_options_after_the_action_and_no_config(tmp_path: Path) -> None:
    catalog = str(small_catalog(tmp_path))
    empty = tmp_path / "empty"
    empty.mkdir()  # no rsspage.yml here
    for args in (["search", "快科技", "--catalog", catalog],
                 ["--catalog", catalog, "search", "快科技"]):
        run = run_cli("catalog", *args, cwd=empty)
        assert run.code == 0, run.err
        assert table_rows(run.out) == [["新媒体", "快科技", "排行", "/mydrivers/rank"]]
    listed = run_cli("catalog", "list", "--catalog", catalog, cwd=empty)
    assert listed.code == 0, listed.err
    assert listed.out.splitlines()[0].split() == [
        "category", "source", "channel", "example", "flags"]
    assert ["未分类", "Paid", "付费", "/paid/feed", "config,puppeteer,nsfw"] in table_rows(listed.out)
    assert ["未分类", "蔚来", "NIO", "Radio", "/nio/nioradio/5"] in table_rows(listed.out)
    # Paths given before and after the action add up; -c works after the action too.
    other = write_json(tmp_path / "other.json", {"x": {"name": "X", "routes": {
        "/y": {"path": "/y", "name": "Y", "example": "/x/y"}}}})
    both = run_cli("catalog", "--catalog", catalog, "list", "--catalog", str(other), cwd=empty)
    assert both.code == 0 and len(table_rows(both.out)) == 4, both.err


def test_catalog_language_comes_from_the_config(tmp_path: Path) -> None:
    catalog = small_catalog(tmp_path)
    config = tmp_path / "rsspage.yml"
    config.write_text(f"site: {{language: en}}\nrsshub: {{catalog: [{catalog.name}]}}\n"
                      "routes: [/nio/nioradio/5]\n", encoding="utf-8")
    for args in (["-c", str(config), "search", "nio"], ["search", "nio", "-c", str(config)],
                 ["search", "nio", "-c", str(config), "--catalog", str(catalog)]):
        run = run_cli("catalog", *args, cwd=tmp_path / "..")
        assert run.code == 0, run.err
        assert table_rows(run.out) == [["未分类", "NIO", "NIO", "Radio", "/nio/nioradio/5"]]
    # A config that cannot be read does not stop a search given its catalog: a warning.
    config.write_text("site: [\n", encoding="utf-8")
    run = run_cli("catalog", "search", "nio", "--catalog", str(catalog), cwd=tmp_path)
    assert run.code == 0 and "warning:" in run.err and "蔚来" in run.out


# --- following a flagged route ---------------------------------------------------------------


def test_plan_warns_about_flagged_routes(tmp_path: Path) -> None:
    catalog = small_catalog(tmp_path)
    text = (f"rsshub: {{instances: [http://127.0.0.1:9], catalog: [{catalog.name}]}}\n"
            "routes: [/paid/feed, /mydrivers/rank]\n")
    config = parse_config(text, tmp_path / "rsspage.yml")
    plan = make_plan(config, load_catalog(list(config.catalog)))
    assert set(plan.warnings) == {"/paid/feed"}
    assert plan.warnings["/paid/feed"] == (
        "rsspage.yml:2: /paid/feed: the catalog says this route needs settings on the RSSHub "
        "instance (PAID_TOKEN), needs a headless browser (Puppeteer) on the RSSHub instance, "
        "is marked not safe for work (nsfw); many public instances do not serve it")
    nsfw_only = Route("/n", "", "c", "s", "c", nsfw=True)
    assert needs(nsfw_only) == "the catalog says this route is marked not safe for work (nsfw)"


def test_update_prints_the_warning(tmp_path: Path) -> None:
    catalog = small_catalog(tmp_path)
    with LocalServer() as server:
        server.route("/paid/feed", respond(200, RSS, {"Content-Type": "application/rss+xml"}))
        server.route("/mydrivers/rank", respond(200, RSS, {"Content-Type": "application/rss+xml"}))
        config = tmp_path / "rsspage.yml"
        config.write_text(yaml.safe_dump({
            "rsshub": {"instances": [server.url("")], "catalog": [catalog.name]},
            "routes": ["/paid/feed", "/mydrivers/rank"],
            "output": {"state": "state", "hexo": "hexo", "site": None},
        }), encoding="utf-8")
        run = run_cli("update", "-c", str(config))
    assert run.code == 0, run.err + run.out
    warnings = [line for line in run.err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "/paid/feed" in warnings[0]
    assert "PAID_TOKEN" in warnings[0] and "nsfw" in warnings[0]
    assert (tmp_path / "hexo" / "未分类" / "Paid" / "付费").is_dir()
