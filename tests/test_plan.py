"""Plan: config + catalog → FeedSpecs, with catalog names, overrides and the 未分类 fallback."""

from __future__ import annotations

from pathlib import Path

from rsspage.catalog import load_catalog
from rsspage.config import load_config
from rsspage.plan import make_plan
from rsspage.types import UNCATEGORISED


def plan_for(tmp_path: Path, shared_fixtures: Path, body: str):  # type: ignore[no-untyped-def]
    docs = shared_fixtures / "rsshub-docs-2021"
    routes = shared_fixtures / "rsshub-routes-modern" / "routes.json"
    path = tmp_path / "rsspage.yml"
    path.write_text(
        f"rsshub:\n  instances: [http://127.0.0.1:1, http://127.0.0.1:2/]\n"
        f"  catalog: [{routes}, {docs}]\n{body}",
        encoding="utf-8",
    )
    config = load_config(path)
    return make_plan(config, load_catalog(list(config.catalog)))


def test_route_names_come_from_the_catalog(tmp_path: Path, shared_fixtures: Path) -> None:
    plan = plan_for(tmp_path, shared_fixtures, "routes: [/kkj/news, /mydrivers/rank/24h]\n")
    kkj, rank = plan.feeds
    assert (kkj.category, kkj.source, kkj.channel) == ("新媒体", "快科技（原驱动之家）", "最新新闻")
    assert kkj.urls == ("http://127.0.0.1:1/kkj/news", "http://127.0.0.1:2/kkj/news")
    assert not kkj.names_from_feed
    assert rank.category == "新媒体"
    assert rank.key == "/mydrivers/rank/24h"
    assert plan.warnings == {}


def test_overrides_win_and_duplicates_are_followed_once(tmp_path: Path, shared_fixtures: Path) -> None:
    body = (
        "routes:\n  - {path: /kkj/news, channel: 头条}\n  - /kkj/news\n"
        "feeds:\n  - {url: http://127.0.0.1:3/f.xml, category: 博客, source: Me, channel: 全部}\n"
        "limits: {items_per_feed: 7}\n"
    )
    plan = plan_for(tmp_path, shared_fixtures, body)
    assert len(plan.feeds) == 2
    kkj, feed = plan.feeds
    assert (kkj.category, kkj.source, kkj.channel) == ("新媒体", "快科技（原驱动之家）", "头条")
    assert (feed.key, feed.urls, feed.items_per_feed) == ("http://127.0.0.1:3/f.xml", ("http://127.0.0.1:3/f.xml",), 7)


def test_unknown_route_is_uncategorised_with_a_warning(tmp_path: Path, shared_fixtures: Path) -> None:
    plan = plan_for(tmp_path, shared_fixtures, "routes:\n  - /no/such/route\n")
    (spec,) = plan.feeds
    assert spec.category == UNCATEGORISED
    assert spec.names_from_feed
    assert "no catalog entry" in plan.warnings["/no/such/route"]
    assert "rsspage.yml:5" in plan.warnings["/no/such/route"]
