"""Per-route RSSHub parameters (``params:``: filter, filterout, filter_time, limit, mode,
format …) passed through to the instance, and the catalog's ``view`` kept on the feed."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from conftest import run_cli
from rsshub_harness import RealRSSHub
from rsspage.catalog import Catalog
from rsspage.config import parse_config
from rsspage.errors import ConfigError
from rsspage.plan import make_plan
from rsspage.types import Route

BASE = "rsshub:\n  instances: [https://a.example, {url: https://b.example, key: k}]\n"


def plan_urls(routes_yaml: str) -> tuple[str, ...]:
    config = parse_config(BASE + routes_yaml, Path("/tmp/rsspage.yml"))
    return make_plan(config, Catalog([])).feeds[0].urls


def test_params_are_added_to_every_instance_url_and_the_code_ignores_them() -> None:
    urls = plan_urls("routes:\n  - path: /36kr/newsflashes\n    params:\n"
                     "      filter: 苹果|华为\n      limit: 10\n      mode: fulltext\n"
                     "      filter_case_sensitive: false\n      format: atom\n")
    plain, signed = urls
    query = parse_qs(urlsplit(plain).query)
    assert query == {"filter": ["苹果|华为"], "limit": ["10"], "mode": ["fulltext"],
                     "filter_case_sensitive": ["false"], "format": ["atom"]}
    assert "|" in plain  # RSSHub's "or" stays readable; CJK is percent-encoded
    code = hashlib.md5(b"/36kr/newsflashesk").hexdigest()  # the path without its query
    assert signed.startswith("https://b.example/36kr/newsflashes?filter=")
    assert signed.endswith(f"&code={code}")


def test_params_after_a_query_in_the_path() -> None:
    (url, _) = plan_urls("routes:\n  - path: /test/1?sorted=false\n    params: {limit: 2}\n")
    assert url == "https://a.example/test/1?sorted=false&limit=2"


def test_the_feed_key_is_the_path_so_changing_params_keeps_the_archive() -> None:
    config = parse_config(BASE + "routes:\n  - path: /a/b\n    params: {limit: 3}\n",
                          Path("/tmp/rsspage.yml"))
    assert make_plan(config, Catalog([])).feeds[0].key == "/a/b"


@pytest.mark.parametrize(("params", "problem"), [
    ("{limit: 0}", "routes[0].params.limit: must be at least 1"),
    ("{limit: ten}", "routes[0].params.limit: expected a number"),
    ("{mode: full}", "routes[0].params.mode: expected one of fulltext"),
    ("{format: rss3}", "routes[0].params.format: expected one of rss, atom, json"),
    ("{sorted: 1}", "routes[0].params.sorted: expected true or false"),
    ("{filtre: x}", "routes[0].params.filtre: unknown key"),
    ("{filter: ''}", "routes[0].params.filter: must not be empty"),
    ("[limit]", "routes[0].params: expected a mapping"),
])
def test_bad_params_name_line_and_key(params: str, problem: str) -> None:
    text = BASE + f"routes:\n  - path: /a/b\n    params: {params}\n"
    with pytest.raises(ConfigError) as caught:
        parse_config(text, Path("/tmp/rsspage.yml"))
    assert problem in str(caught.value)
    assert "rsspage.yml:" in str(caught.value)


def test_the_catalogs_view_is_kept_on_the_feed() -> None:
    config = parse_config(BASE + "routes: [/pics/daily, /plain/news]\n", Path("/tmp/rsspage.yml"))
    catalog = Catalog([Route("/pics/daily", "", "图片", "Pics", "Daily", view="pictures"),
                       Route("/plain/news", "", "新媒体", "Plain", "News")])
    views = {f.key: f.view for f in make_plan(config, catalog).feeds}
    assert views == {"/pics/daily": "pictures", "/plain/news": None}


def test_real_rsshub_applies_the_params(tmp_path: Path, rsshub: RealRSSHub) -> None:
    (tmp_path / "rsspage.yml").write_text(
        f"rsshub:\n  instances: [{rsshub.url}]\n  catalog: []\nroutes:\n"
        "  - path: /test/1\n    params: {filterout: Title1, limit: 3, format: atom}\n"
        "  - path: /test/filter\n    params:\n      filter: Title2|Title4\n"
        "output: {site: null}\n", encoding="utf-8")
    run = run_cli("update", cwd=tmp_path)
    assert run.code == 0, run.out + run.err
    db = sqlite3.connect(tmp_path / ".rsspage" / "rsspage.sqlite3")
    titles = {key: sorted(t for (t,) in db.execute(
        "SELECT title FROM articles WHERE feed_key=?", (key,))) for key in ("/test/1", "/test/filter")}
    assert titles["/test/1"] == ["Title2", "Title3", "Title4"]  # limit 3 after filterout
    # RSSHub kept Filter Title2, Title2 and Title4; the last two are /test/1's items (same
    # links): the archive holds them once, under /test/1.
    assert titles["/test/filter"] == ["Filter Title2"]
    urls = dict(db.execute("SELECT key, url FROM feeds"))
    assert "format=atom" in urls["/test/1"]


def test_the_same_path_with_other_params_is_warned_about() -> None:
    config = parse_config(BASE + "routes:\n  - {path: /a/b, params: {limit: 3}}\n"
                          "  - {path: /a/b, params: {limit: 9}}\n", Path("/tmp/rsspage.yml"))
    plan = make_plan(config, Catalog([]))
    assert len(plan.feeds) == 1 and "limit=3" in plan.feeds[0].urls[0]
    assert "rsspage.yml:5: /a/b is listed before with other params" in plan.warnings["/a/b"]
