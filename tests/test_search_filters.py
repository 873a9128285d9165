"""Search filtered by category and source (Pagefind filters), in headless Chromium.

A site of 60 articles in five feeds, a backlog (four old articles that entered the archive
last, so they sit in the newest bundle) and one hostile article (markup in its title, text,
category and source) is indexed by the real Pagefind in tiers of 8 and 16 records: several
bundles, merged by the search page. What the page shows is compared with the set (and, for
filters alone, the order) expected from the articles themselves. Every tab's log must stay
clean: no CSP violation, dialog, foreign request, failed or 404 load (an ``<img src=x>`` made
from feed text would ask for ``/x``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from html import escape
from pathlib import Path
from urllib.parse import urlencode

import pytest

from browser import Browser, Tab, chromium_or_skip, dump
from rsspage.publish import search_index, search_pagefind, search_tiers
from rsspage.publish.site_model import article_path
from rsspage.serve import serving
from rsspage.types import Article
from test_site import NOW, make_article, make_site

pytestmark = pytest.mark.slow

HOSTILE = "<img src=x onerror=alert(1)>"
#: Results the search page shows at a time (search.js, PAGE).
PAGE_SIZE = 20
#: (category, source, channel) of the hostile article.
HOSTILE_FEED = (HOSTILE, "<b>bold</b> & co", "<i>ch</i>")


def articles() -> list[Article]:
    """60 articles in entry order (``first_seen``) = publication order, then a backlog of old
    ones seen last, then the hostile one."""
    regular = [make_article(n, first_seen=NOW + timedelta(minutes=n)) for n in range(60)]
    backlog = [make_article(n, feed=2, first_seen=NOW + timedelta(minutes=n),
                            published=NOW - timedelta(days=30, hours=n))
               for n in range(60, 64)]
    category, source, channel = HOSTILE_FEED
    hostile = make_article(
        64, first_seen=NOW + timedelta(minutes=64), category=category, source=source,
        channel=channel, title=f"{HOSTILE} 芯片 <script>alert(2)</script>",
        text="<b>芯片</b> hostile <script>alert(3)</script> &lt;img src=x&gt; qubits")
    # No pictures: the article pages a test opens load nothing from outside.
    return [replace(a, image="", content_html=f"<p>{escape(a.text)}</p>")
            for a in (*regular, *backlog, hostile)]


ARTICLES = articles()


@dataclass(frozen=True)
class Site:
    url: str
    root: Path


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("filters")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(search_tiers, "TIERS", search_tiers.Tiers(level0=8, fanout=2, top=1))
        make_site(folder).build(ARTICLES)
    root = folder / "public"
    assert len(bundles(root)) >= 4
    with serving(root, 0, rebuild=None, watch=None) as url:
        yield Site(url, root)


@pytest.fixture(scope="module")
def browser(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    shots = tmp_path_factory.mktemp("shots")
    print(f"\nscreenshots: {shots}")
    with Browser(chromium_or_skip(), shots=shots, allowed=[site.url]) as b:
        yield b


def bundles(root: Path) -> list[dict[str, object]]:
    layout = json.loads((root / "pagefind" / search_tiers.LAYOUT_NAME).read_bytes())
    return [s for s in layout["shards"] if s["folder"] is not None]


def newest_first(chosen: list[Article]) -> list[str]:
    return [article_path(a.id) for a in sorted(chosen, key=lambda a: a.published, reverse=True)]


def of(category: str | None = None, source: str | None = None) -> list[Article]:
    return [a for a in ARTICLES if category in (None, a.category) and source in (None, a.source)]


def chinese(chosen: list[Article]) -> list[Article]:
    return [a for a in chosen if "芯片" in a.title]


def english(chosen: list[Article]) -> list[Article]:
    return [a for a in chosen if "qubits" in a.text]


# --------------------------------------------------------------------------- driving the page


def settled(tab: Tab, act: object = None) -> None:
    """Until the search the page runs (after ``act``, a callable, when given) has shown its
    first results or said it found none."""
    page = tab.page
    page.evaluate("() => { document.getElementById('search-status').textContent = ''; }")
    if callable(act):
        act()
    answered(tab)


def answered(tab: Tab) -> None:
    """Until the search the page started has shown its first results or said why not."""
    tab.page.wait_for_function(
        """() => {
          const s = document.getElementById("search-status");
          return s.textContent && s.textContent !== s.dataset.searching;
        }""")


def open_search(browser: Browser, site: Site, **params: str) -> Tab:
    tab = browser.open()
    query = f"?{urlencode(params)}" if params else ""
    tab.goto(f"{site.url}search.html{query}")
    if params:
        answered(tab)
    return tab


def shown(tab: Tab) -> list[tuple[str, str, str]]:
    """(path, title, excerpt HTML) of every result, after "more" until there is no more."""
    page = tab.page
    while page.locator("#search-more").is_visible():
        count = page.locator("#search-results li").count()
        page.click("#search-more")
        page.wait_for_function(
            """(n) => document.querySelectorAll('#search-results li').length > n
               || document.getElementById('search-more').hidden""", arg=count)
        page.wait_for_function("() => !document.getElementById('search-more').disabled")
    return [tuple(row) for row in page.locator("#search-results li").evaluate_all(
        """(items) => items.map((li) => [
             new URL(li.querySelector('h2 a').href).pathname.slice(1),
             li.querySelector('h2').textContent, li.querySelector('p').innerHTML])""")]


def paths(tab: Tab) -> list[str]:
    return [path for path, _, _ in shown(tab)]


def params(tab: Tab) -> dict[str, str]:
    return dict(tab.page.evaluate("() => [...new URLSearchParams(location.search)]"))


def options(tab: Tab, select: str) -> list[str]:
    return [str(t) for t in tab.page.locator(f"{select} option").all_inner_texts()]


def clean(tab: Tab) -> None:
    assert tab.log.problems() == [], dump(tab.log)


# --------------------------------------------------------------------------- the tests


def test_choices_come_with_counts_and_sources_follow_the_category(
    browser: Browser, site: Site
) -> None:
    tab = open_search(browser, site)
    page = tab.page
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.wait_for_timeout(300)
    assert not [u for u in requests if "/pagefind/" in u]  # a page only loaded loads no index
    # Pagefind starts at the first sign of a reader; its filters fill the lists.
    page.mouse.move(20, 20)
    page.wait_for_function("() => document.getElementById('search-category').length > 1")
    counts = {c: len(of(category=c)) for c in {a.category for a in ARTICLES}}
    assert options(tab, "#search-category")[0] == "全部分类"
    assert sorted(options(tab, "#search-category")[1:]) == sorted(
        f"{c} ({n})" for c, n in counts.items())
    sources = {s: len(of(source=s)) for s in {a.source for a in ARTICLES}}
    assert options(tab, "#search-source")[0] == "全部来源"
    assert sorted(options(tab, "#search-source")[1:]) == sorted(
        f"{s} ({n})" for s, n in sources.items())
    # The lists have visible labels and are reached by keyboard.
    assert page.get_by_label("分类").evaluate("(e) => e.id") == "search-category"
    assert page.get_by_label("来源").evaluate("(e) => e.id") == "search-source"
    page.focus("#search-input")
    page.keyboard.press("Tab")  # the search button
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") == "search-category"
    settled(tab, lambda: page.keyboard.press("ArrowDown"))  # the first category, searched
    first = page.input_value("#search-category")
    assert first and params(tab) == {"category": first}
    assert paths(tab) == newest_first(of(first))
    settled(tab, lambda: page.select_option("#search-category", "新媒体"))
    page.wait_for_function(
        "() => [...document.getElementById('search-source').options].length === 3")
    in_category = {s: len(of("新媒体", s)) for s in {a.source for a in of("新媒体")}}
    assert sorted(options(tab, "#search-source")[1:]) == sorted(
        f"{s} ({n})" for s, n in in_category.items())
    print(tab.screenshot("filters-category"))
    clean(tab)
    tab.close()


def test_filters_alone_list_the_newest_articles_across_bundles(
    browser: Browser, site: Site
) -> None:
    """Every bundle's matches, merged newest first: the backlog (old articles in the newest
    bundle) comes last, as on the category's own pages."""
    tab = open_search(browser, site, category="新媒体")
    assert paths(tab) == newest_first(of("新媒体"))
    assert tab.page.locator("#search-status").inner_text() == f"找到 {len(of('新媒体'))} 篇文章"
    settled(tab, lambda: tab.page.select_option("#search-source", "36氪"))
    assert params(tab) == {"category": "新媒体", "source": "36氪"}
    assert paths(tab) == newest_first(of("新媒体", "36氪"))
    settled(tab, lambda: tab.page.select_option("#search-category", "Tech"))
    assert params(tab) == {"category": "Tech"}  # a new category: any of its sources
    assert paths(tab) == newest_first(of("Tech"))
    clean(tab)
    tab.close()
    # A source alone, without its category.
    tab = open_search(browser, site, source="Hacker News")
    assert paths(tab) == newest_first(of(source="Hacker News"))
    clean(tab)
    tab.close()


def test_a_query_with_filters_finds_only_the_filtered_matches_highlighted(
    browser: Browser, site: Site
) -> None:
    tab = open_search(browser, site, q="芯片", category="新媒体")
    found = shown(tab)
    assert sorted(p for p, _, _ in found) == sorted(
        article_path(a.id) for a in chinese(of("新媒体")))
    assert all("<mark>芯片</mark>" in excerpt for _, _, excerpt in found), found
    settled(tab, lambda: tab.page.select_option("#search-source", "快科技"))
    assert sorted(paths(tab)) == sorted(article_path(a.id) for a in chinese(of("新媒体", "快科技")))
    assert params(tab) == {"q": "芯片", "category": "新媒体", "source": "快科技"}

    # English, a source of another category.
    settled(tab, lambda: tab.page.select_option("#search-category", "Tech"))
    settled(tab, lambda: tab.page.select_option("#search-source", "Hacker News"))
    settled(tab, lambda: tab.page.fill("#search-input", "qubits"))
    found = shown(tab)
    assert sorted(p for p, _, _ in found) == sorted(
        article_path(a.id) for a in english(of("Tech", "Hacker News")))
    assert all("<mark>qubits</mark>" in excerpt for _, _, excerpt in found), found
    assert params(tab) == {"q": "qubits", "category": "Tech", "source": "Hacker News"}
    clean(tab)
    tab.close()
    # Filters that leave nothing (a link can name a source of another category).
    tab = open_search(browser, site, q="芯片", category="Tech", source="快科技")
    assert shown(tab) == []
    assert tab.page.locator("#search-status").inner_text() == "没有找到相关文章"
    clean(tab)
    tab.close()


def test_the_url_keeps_query_and_filters_and_back_restores_them(
    browser: Browser, site: Site
) -> None:
    tab = open_search(browser, site, q="芯片", category="新媒体", source="36氪")
    page = tab.page
    assert page.input_value("#search-input") == "芯片"
    assert page.input_value("#search-category") == "新媒体"
    assert page.input_value("#search-source") == "36氪"
    first = sorted(paths(tab))
    assert first == sorted(article_path(a.id) for a in chinese(of("新媒体", "36氪")))
    url = page.url
    assert "q=%E8%8A%AF%E7%89%87&category=%E6%96%B0%E5%AA%92%E4%BD%93&source=36%E6%B0%AA" in url

    # Another filter is a step of the history: back shows the first one again.
    page.wait_for_timeout(1100)  # choices a second apart or less are one step
    settled(tab, lambda: page.select_option("#search-category", "Tech"))
    assert params(tab) == {"q": "芯片", "category": "Tech"}
    settled(tab, page.go_back)
    assert page.url == url
    assert page.input_value("#search-category") == "新媒体"
    assert page.input_value("#search-source") == "36氪"
    assert sorted(paths(tab)) == first

    # A result opens its article; back comes to the same results.
    page.locator("#search-results a").first.click()
    page.wait_for_selector("h1.post-title")
    page.go_back()
    page.wait_for_function("() => document.querySelector('#search-results li')")
    assert page.input_value("#search-category") == "新媒体"
    assert sorted(paths(tab)) == first
    clean(tab)
    tab.close()


def test_hostile_names_and_text_are_shown_as_text(browser: Browser, site: Site) -> None:
    category, source, _ = HOSTILE_FEED
    hostile = ARTICLES[-1]
    tab = open_search(browser, site, category=category)
    page = tab.page
    page.wait_for_function(
        "(c) => [...document.getElementById('search-category').options]"
        ".some((o) => o.textContent === `${c} (1)`)", arg=category)
    assert page.input_value("#search-category") == category
    found = shown(tab)
    assert [(p, t) for p, t, _ in found] == [(article_path(hostile.id), hostile.title)]
    settled(tab, lambda: page.fill("#search-input", "芯片"))
    (path, title, excerpt), = shown(tab)
    assert title == hostile.title
    assert "<mark>芯片</mark>" in excerpt
    assert "&lt;script&gt;alert(3)&lt;/script&gt;" in excerpt  # text, not a script
    assert page.locator("#search-results img, #search-results script, #search-results b"
                        ).count() == 0
    assert page.locator("select option").evaluate_all(
        "(os) => os.every((o) => o.children.length === 0)")
    settled(tab, lambda: page.select_option("#search-source", source))
    assert params(tab) == {"q": "芯片", "category": category, "source": source}
    assert [p for p, _, _ in shown(tab)] == [path]
    page.wait_for_timeout(300)  # time for anything that would load or run
    clean(tab)
    tab.close()


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_the_filters_fit_a_phone(browser: Browser, site: Site, dark: bool) -> None:
    tab = browser.open(width=390, height=844, mobile=True, dark=dark)
    tab.goto(site.url + "search.html?" + urlencode({"q": "芯片", "category": "新媒体"}))
    page = tab.page
    page.wait_for_selector("#search-results li")
    page.wait_for_function("() => document.getElementById('search-source').length > 1")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    boxes = [page.locator(f"#search-{name}").bounding_box() for name in ("category", "source")]
    assert all(box and box["x"] + box["width"] <= 390 and box["height"] >= 24 for box in boxes)
    print(tab.screenshot(f"filters-phone-{'dark' if dark else 'light'}", full_page=False))
    clean(tab)
    tab.close()


def test_filters_across_waves(browser: Browser, site: Site, tmp_path: Path) -> None:
    """The search page merging 8 articles' bundles at a time: the counts say "+" while older
    bundles wait, "more" reaches them all, and the filters hold in every wave."""
    root = tmp_path / "public"
    shutil.copytree(site.root, root)
    path = root / "pagefind" / search_tiers.LAYOUT_NAME
    path.write_text(json.dumps({**json.loads(path.read_bytes()), "wave": 8}), encoding="utf-8")
    with serving(root, 0, rebuild=None, watch=None) as url:
        tab = browser.open(allow=[url])
        tab.goto(url + "search.html?" + urlencode({"q": "芯片", "category": "新媒体"}))
        page = tab.page
        answered(tab)
        page.wait_for_function("() => document.getElementById('search-category').length > 1")
        assert all(o.endswith("+)") for o in options(tab, "#search-category")[1:])
        assert sorted(paths(tab)) == sorted(article_path(a.id) for a in chinese(of("新媒体")))
        assert page.locator("#search-status").inner_text() == (
            f"找到 {len(chinese(of('新媒体')))} 篇文章")
        page.wait_for_function(
            "() => ![...document.getElementById('search-category').options]"
            ".some((o) => o.text.endsWith('+)'))")
        clean(tab)
        tab.close()
        # Filters alone: each wave's articles newest first, older waves after "more".
        tab = browser.open(allow=[url])
        tab.goto(url + "search.html?" + urlencode({"category": "新媒体"}))
        answered(tab)
        wanted = newest_first(of("新媒体"))
        # Until the first wave is listed: every result, or a "more" for the rest.
        tab.page.wait_for_function(
            """(n) => document.querySelectorAll('#search-results li').length >= n
               || !document.getElementById('search-more').hidden""", arg=len(wanted))
        listed = paths(tab)
        assert sorted(listed) == sorted(wanted)
        first = [a for a in of("新媒体") if article_path(a.id) in listed[:4]]
        assert listed[:4] == newest_first(first)
        clean(tab)
        tab.close()


def test_filters_alone_on_a_larger_site_ask_for_a_query(
    browser: Browser, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above search_index.BROWSE articles, filters alone ask for a query instead of loading
    every index chunk (Pagefind's search by filters alone does); with one, they filter."""
    monkeypatch.setattr(search_index, "BROWSE", 10)
    built = make_site(tmp_path)
    built.build(ARTICLES[:30])
    with serving(built.root, 0, rebuild=None, watch=None) as url:
        tab = browser.open(allow=[url])
        chunks: list[str] = []
        tab.page.on("request", lambda r: chunks.append(r.url) if ".pf_index" in r.url else None)
        tab.goto(url + "search.html?" + urlencode({"category": "新媒体"}))
        tab.page.wait_for_function(
            "() => document.getElementById('search-status').textContent.includes('输入关键词')")
        tab.page.wait_for_function("() => document.getElementById('search-source').length > 1")
        assert tab.page.locator("#search-results li").count() == 0
        assert chunks == []
        settled(tab, lambda: tab.page.fill("#search-input", "芯片"))
        assert sorted(paths(tab)) == sorted(
            article_path(a.id) for a in chinese(of("新媒体")) if a in ARTICLES[:30])
        assert chunks
        clean(tab)
        tab.close()


def test_a_first_filtered_query_downloads(browser: Browser, site: Site) -> None:
    """What a first filtered query costs (printed), and nothing outside the site."""
    tab = browser.open()
    sizes: list[int] = []
    tab.page.on("response", lambda r: sizes.append(len(r.body())) if "/pagefind/" in r.url
                else None)
    tab.goto(site.url + "search.html?" + urlencode({"q": "芯片", "category": "新媒体"}))
    answered(tab)
    tab.page.wait_for_load_state("networkidle")
    print(f"\nfirst filtered query: {sum(sizes):,} bytes in {len(sizes)} files")
    assert sizes and tab.page.locator("#search-results li").count() == PAGE_SIZE
    clean(tab)
    tab.close()


# --------------------------------------------------------------------------- incremental builds


NODE_FILTERS = r"""
import { readFile } from "node:fs/promises";
import { pathToFileURL, fileURLToPath } from "node:url";
const realFetch = globalThis.fetch;
globalThis.fetch = async (input, init) => {
  const url = typeof input === "string" ? input : input.url;
  if (url.startsWith("file:")) return new Response(await readFile(fileURLToPath(url)));
  return realFetch(input, init);
};
const root = process.argv[2];
const layout = JSON.parse(await readFile(`${root}/pagefind/rsspage-shards.json`, "utf-8"));
const bundle = (k) => pathToFileURL(`${root}/pagefind/${k}/`).href;
const pf = await import(bundle(layout.runtime) + "pagefind.js");
await pf.options({ baseUrl: "/" });
for (const s of layout.shards) if (s.folder !== null) await pf.mergeIndex(bundle(s.folder));
console.log(JSON.stringify(await pf.filters()));
"""


def filters_of(root: Path) -> dict[str, dict[str, int]]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is needed to run pagefind.js outside a browser")
    script = root.parent / "filters.mjs"
    script.write_text(NODE_FILTERS, encoding="utf-8")
    out = subprocess.run([node, str(script), str(root)], capture_output=True, text=True,
                         timeout=60, check=True)
    result: dict[str, dict[str, int]] = json.loads(out.stdout)
    return result


def test_filters_hold_through_incremental_builds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each record names its bundle's folder; a kept bundle keeps its records and a rebuilt
    one gets its new folder, so each bundle's "bundle" count is its record count."""
    monkeypatch.setattr(search_tiers, "TIERS", search_tiers.Tiers(level0=8, fanout=2, top=1))
    site = make_site(tmp_path)
    site.build(ARTICLES[:41])  # bundles of 16, 16, 8 and 1
    before = {s["folder"] for s in bundles(site.root)}
    newer = make_article(90, feed=3, first_seen=NOW + timedelta(minutes=90))
    chosen = [*ARTICLES[:41], newer]
    again, _ = site.build(chosen)
    assert again.search_shards_rebuilt == 1 and again.search.records == 2
    after = bundles(site.root)
    assert len(before & {s["folder"] for s in after}) == len(after) - 1 == 3
    found = filters_of(site.root)
    assert found["bundle"] == {str(s["folder"]): s["count"] for s in after}
    assert found["category"] == {c: sum(a.category == c for a in chosen)
                                 for c in {a.category for a in chosen}}
    assert found["source"] == {s: sum(a.source == s for a in chosen)
                               for s in {a.source for a in chosen}}
    pairs = {(a.category, a.source) for a in chosen}
    assert found["feed"] == {json.dumps(p, ensure_ascii=False): sum(
        (a.category, a.source) == p for a in chosen) for p in pairs}
    # The records changed shape: a site built before is indexed again, once.
    layout = json.loads((site.root / "pagefind" / search_tiers.LAYOUT_NAME).read_bytes())
    assert layout["format"].startswith(search_pagefind.SEARCH_FORMAT + "/")
    assert search_pagefind.SEARCH_FORMAT not in ("search-3", "search-4")
