"""The demo site in a real browser (Debian's headless Chromium through Playwright).

The demo is built by the real CLI (``rsspage update``) from the demo feed server, run here in
the test process so that the pictures in the articles load while the browser looks at them;
a second build whose feed server has stopped shows how unreachable pictures degrade. Both sites
are served by ``rsspage.serve`` on 127.0.0.1. Every page visit asserts that the browser saw no
console error, page error, CSP violation, dialog, foreign request or failed load.

Screenshots go to the ``shots`` temp folder (its path is printed; ``pytest -s`` shows it).
About 25 s on 2 cores, most of it Chromium starting and the two demo builds.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote, unquote, urljoin

import feedparser
import lxml.html
import pytest
from playwright.sync_api import Page, Response

from browser import Browser, BrowserLog, Tab, chromium_or_skip, dump
from conftest import run_cli
from rsspage.build import build
from rsspage.config import load_config
from rsspage.demo.server import serve_demo, write_demo_config
from rsspage.publish import search_index, search_tiers
from rsspage.publish.outputs import write_site
from rsspage.publish.site_model import article_path
from rsspage.serve import serving
from rsspage.store import Store

pytestmark = pytest.mark.slow

#: CSS + JS budget of a page without search (issue 3).
ASSET_BUDGET = 50 * 1024
#: A title of the demo data and the words to find it by.
CHIP_TITLE = "芯片板块午后拉升 多股涨停"
AURORA_TITLE = "Review: the \"Aurora X2\" headphones are great, but the app isn't"


@dataclass(frozen=True)
class Site:
    #: Base URL of the served site (``http://127.0.0.1:N/``) and of the pictures' server.
    url: str
    images: str
    root: Path


def build_demo(folder: Path, base_url: str) -> Path:
    config = write_demo_config(folder, base_url)
    run = run_cli("update", "-c", str(config))
    assert run.code == 0, run.err
    return folder / "public"


@pytest.fixture(scope="module")
def live_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The demo site while its feed server (and so its pictures) is up."""
    with serve_demo(0) as feeds:
        root = build_demo(tmp_path_factory.mktemp("live"), feeds)
        with serving(root, 0, rebuild=None, watch=None) as url:
            yield Site(url, feeds, root)


@pytest.fixture(scope="module")
def orphan_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The demo site after its feed server stopped: every picture points at a closed port."""
    with serve_demo(0) as feeds:
        root = build_demo(tmp_path_factory.mktemp("orphan"), feeds)
    with serving(root, 0, rebuild=None, watch=None) as url:
        yield Site(url, feeds, root)


@pytest.fixture(scope="module")
def browser(live_site: Site, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    shots = tmp_path_factory.mktemp("shots")
    print(f"\nscreenshots: {shots}")
    with Browser(chromium_or_skip(), shots=shots, allowed=[live_site.url, live_site.images]) as b:
        yield b


def clean(log: BrowserLog) -> None:
    assert log.problems() == [], dump(log)


def wait_for_images(page: Page, selector: str, *, broken: bool = False) -> None:
    """Until there are pictures matching ``selector`` and every one has loaded (or failed and
    been hidden). At least one must match: right after a click the old page may still be the
    document, and "every picture" of none is true at once."""
    check = "img.classList.contains('img-broken')" if broken else "img.complete"
    page.wait_for_function(
        f"(sel) => {{ const imgs = [...document.querySelectorAll(sel)];"
        f" return imgs.length > 0 && imgs.every((img) => {check}); }}", arg=selector)


def path_of(page: Page, site: Site) -> str:
    return unquote(page.url.removeprefix(site.url))


# --------------------------------------------------------------------------- pages and links


def test_cards_have_loaded_pictures_and_links_navigate_and_go_back(
    browser: Browser, live_site: Site
) -> None:
    tab = browser.open(live_site.url + "index.html", height=2400)
    page = tab.page
    cards = page.locator("ol.cards > li")
    # The default page size, 40, less the reports folded into their story's card (a story
    # cluster shows once per page: one pair of the demo on its home page).
    assert 36 <= cards.count() <= 40
    pictures = page.locator(".cards .thumb img")
    assert pictures.count() >= 30
    for attrs in pictures.evaluate_all(
            "(els) => els.map((e) => [e.getAttribute('referrerpolicy'), e.loading])"):
        assert attrs == ["no-referrer", "lazy"]
    assert page.locator('meta[name="referrer"]').get_attribute("content") == "no-referrer"
    wait_for_images(page, ".cards .thumb img")
    sizes = pictures.evaluate_all("(els) => els.slice(0, 12).map((e) => e.naturalWidth)")
    assert all(width > 0 for width in sizes), sizes
    print(tab.screenshot("home"))

    page.locator(".chips a", has_text="金融").click()
    assert path_of(page, live_site) == "c/金融/index.html"
    assert page.locator("h1.heading").inner_text().startswith("金融")
    page.locator(".chips a", has_text="Market Wire").click()
    assert path_of(page, live_site).startswith("c/金融/Market Wire/")
    assert page.locator(".crumbs").inner_text().split() == ["首页", "›", "金融", "›",
                                                            "Market", "Wire"]
    first = page.locator(".cards h2 a").first
    title = first.inner_text()
    first.click()
    assert re.fullmatch(r"a/[0-9a-z_-]{2}/[^/]+\.html", path_of(page, live_site))
    assert page.locator("h1.post-title").inner_text() == title
    original = page.locator(".original a")
    assert (original.get_attribute("href") or "").startswith("http")
    assert original.get_attribute("rel") == "noopener noreferrer nofollow"
    content_pictures = page.locator(".post img")
    assert content_pictures.count() >= 1
    wait_for_images(page, ".post img")
    for width, policy in content_pictures.evaluate_all(
            "(els) => els.map((e) => [e.naturalWidth, e.referrerPolicy])"):
        assert width > 0 and policy == "no-referrer"
    print(tab.screenshot("article"))

    page.go_back()
    assert path_of(page, live_site).startswith("c/金融/Market Wire/")
    page.go_back()
    assert path_of(page, live_site) == "c/金融/index.html"
    page.go_back()
    assert path_of(page, live_site) == "index.html"
    page.go_forward()
    assert page.locator("h1.heading").inner_text().startswith("金融")
    clean(tab.log)
    tab.close()


def test_feed_links_in_heads_and_subscribe_buttons(browser: Browser, live_site: Site) -> None:
    tab = browser.open()
    visits = {
        "index.html": ("feeds/", "rsspage 演示"),
        "c/金融/index.html": ("feeds/金融/", "金融 · rsspage 演示"),
        "c/金融/Market Wire/index.html": ("feeds/金融/Market Wire/",
                                          "Market Wire · 金融 · rsspage 演示"),
    }
    for path, (folder, title) in visits.items():
        tab.goto(live_site.url + quote(path))
        links = tab.page.locator('link[rel="alternate"]').evaluate_all(
            "(els) => els.map((e) => [e.type, e.title, e.href])")
        assert [link[0] for link in links] == [
            "application/atom+xml", "application/rss+xml", "application/feed+json"]
        for kind, link_title, href in links:
            assert unquote(href) == live_site.url + folder + href.rsplit("/", 1)[1]
            assert link_title.startswith(title + " (")
            answer = tab.page.request.get(href)
            assert answer.ok, href
            if kind != "application/feed+json":
                parsed = feedparser.parse(answer.body())
                assert not parsed.bozo and parsed.feed.title == title
        button = tab.page.locator(".subscribe a.feed")
        assert button.inner_text().strip() == "订阅"
        assert urljoin(tab.page.url, button.get_attribute("href") or "") == links[0][2]
    # An article offers its source's feeds (channels have none of their own).
    tab.goto(live_site.url + quote("c/金融/Market Wire/index.html"))
    with tab.page.expect_navigation():  # else the old page (or none) may be read: flaky
        tab.page.locator(".cards h2 a").first.click()
    hrefs = tab.page.locator('link[rel="alternate"]').evaluate_all("(els) => els.map(e => e.href)")
    assert unquote(hrefs[0]) == live_site.url + "feeds/金融/Market Wire/atom.xml"
    clean(tab.log)
    tab.close()


def test_feed_links_resolve_for_awkward_names(tmp_path: Path) -> None:
    """Names the feed folders must rename ("AC/DC: a|b", a source called "rss.xml"): every
    page's alternate links point at feeds the publish stage wrote (no browser needed)."""
    from test_site import ARTICLES, HEALTH, make_article, make_site

    articles = [*ARTICLES, make_article(40, source="rss.xml"), make_article(41, category="Feeds")]
    site = make_site(tmp_path)
    result, _ = write_site(site.config, articles, HEALTH, {})
    pages = sorted(p for p in result.page_hashes if p.endswith(".html"))
    folders = set()
    for page in pages:
        if page == "404.html":
            continue
        doc = lxml.html.fromstring((site.root / page).read_bytes())
        links = doc.xpath('//link[@rel="alternate"]/@href') + doc.xpath(
            '//p[@class="subscribe"]/a/@href')
        assert len(links) in (3, 6), page
        for link in links:
            target = (site.root / page).parent / unquote(str(link))
            assert target.resolve().is_file(), f"{page}: {link}"
            folders.add(target.resolve().parent.relative_to(site.root.resolve()).as_posix())
    # The site, every category and every source offer their feeds.
    assert len(folders) == 1 + len({a.category for a in articles}) + len(
        {(a.category, a.source) for a in articles})


# --------------------------------------------------------------------------- search


def search_for(tab: Tab, query: str) -> list[tuple[str, str]]:
    """Type ``query`` into the search page; (title, excerpt HTML) of each result."""
    page = tab.page
    page.fill("#search-input", query)
    page.wait_for_function(
        """(q) => {
          const status = document.getElementById("search-status");
          // The first page is complete when the status gives the count.
          const done = (document.querySelector("#search-results li")
                        && status.textContent !== status.dataset.searching)
            || status.textContent === status.dataset.none;
          return new URLSearchParams(location.search).get("q") === q && done;
        }""", arg=query)
    return [tuple(pair) for pair in page.locator("#search-results li").evaluate_all(
        "(els) => els.map((e) => [e.querySelector('h2').textContent,"
        " e.querySelector('p').innerHTML])")]


def test_search_finds_chinese_and_english_with_highlights(
    browser: Browser, live_site: Site
) -> None:
    tab = browser.open(live_site.url + "search.html")
    results = search_for(tab, "芯片")
    assert results and results[0][0] == CHIP_TITLE
    assert "<mark>芯片</mark>" in results[0][1]
    print(tab.screenshot("search"))
    # Words the browser's own segmenter splits apart (涨|停), and runs of several words.
    assert search_for(tab, "涨停")[0][0] == CHIP_TITLE
    chips = search_for(tab, "芯片板块")
    assert chips[0][0] == CHIP_TITLE and "<mark>板块</mark>" in chips[0][1]

    english = search_for(tab, "Aurora")
    assert [title for title, _ in english] == [AURORA_TITLE]
    assert "<mark>Aurora" in english[0][1]
    # Pagefind answers an unknown word with its longest indexed prefix ("q"): not a result.
    assert search_for(tab, "qwertyuiop") == []
    assert tab.page.locator("#search-status").inner_text() == "没有找到相关文章"

    # A result opens its article; the query is in the page's URL, so back shows it again.
    search_for(tab, "Aurora")
    tab.page.locator("#search-results a").first.click()
    assert tab.page.locator("h1.post-title").inner_text() == AURORA_TITLE
    tab.page.go_back()
    tab.page.wait_for_selector("#search-results li")
    assert tab.page.input_value("#search-input") == "Aurora"
    clean(tab.log)
    tab.close()


def rebuilt_in_shards(live_site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                      wave: int) -> Path:
    """A copy of the demo rebuilt in tiers of 20 and 40 articles (its one shard split and
    merged), the search page merging ``wave`` articles at a time; its site folder."""
    folder = tmp_path / "sharded"
    shutil.copytree(live_site.root.parent, folder)
    monkeypatch.setattr(search_tiers, "TIERS", search_tiers.Tiers(level0=20, fanout=2, top=1))
    monkeypatch.setattr(search_index, "WAVE", wave)
    build(load_config(folder / "rsspage.yml"), full=True)
    return folder / "public"


def shard_counts(site: Path) -> list[int]:
    """Articles per search shard, oldest first."""
    layout = json.loads((site / "pagefind" / search_tiers.LAYOUT_NAME).read_bytes())
    return [s["count"] for s in layout["shards"] if s["folder"] is not None]


def test_search_across_shards(
    browser: Browser, live_site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every shard merged at once into the runtime bundle."""
    site = rebuilt_in_shards(live_site, tmp_path, monkeypatch, wave=60_000)
    assert len(shard_counts(site)) >= 4
    with serving(site, 0, rebuild=None, watch=None) as url:
        tab = browser.open(url + "search.html", allow=[url])
        assert search_for(tab, "芯片")[0][0] == CHIP_TITLE
        # Shards without the word add their stand-ins for it ("a"); none is shown.
        assert [title for title, _ in search_for(tab, "Aurora")] == [AURORA_TITLE]
        assert search_for(tab, "qwertyuiop") == []
        # 180 articles from every shard say they are demo data: 20 at a time.
        found = search_for(tab, "演示数据")
        assert len(found) == 20
        assert all(re.search("<mark>(演示|数据)</mark>", html) for _, html in found), found
        assert tab.page.locator("#search-status").inner_text() == "找到 180 篇文章"
        for shown in (40, 60, 80, 100, 120, 140, 160, 180):
            tab.page.click("#search-more")
            tab.page.wait_for_function(
                "(n) => document.querySelectorAll('#search-results li').length === n", arg=shown)
        assert tab.page.locator("#search-more").is_hidden()
        clean(tab.log)
        tab.close()


def every_result(site: Path, browser: Browser, query: str) -> list[str]:
    """The paths of every result the search page shows for ``query`` ("more" until the end)."""
    with serving(site, 0, rebuild=None, watch=None) as url:
        tab = browser.open(url + "search.html", allow=[url])
        search_for(tab, query)
        shown = tab.page.locator("#search-results li").count()
        while tab.page.locator("#search-more").is_visible():
            tab.page.click("#search-more")
            tab.page.wait_for_function("() => !document.getElementById('search-more').disabled")
            assert tab.page.locator("#search-results li").count() > shown
            shown = tab.page.locator("#search-results li").count()
        hrefs = tab.page.locator("#search-results h2 a").evaluate_all(
            "(links) => links.map((a) => new URL(a.href).pathname.slice(1))")
        assert tab.page.locator("#search-status").inner_text() == f"找到 {len(hrefs)} 篇文章"
        clean(tab.log)
        tab.close()
    return [str(h) for h in hrefs]


def test_search_hides_records_published_before_the_layouts_floor(
    browser: Browser, live_site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the site's window moves, the records of the articles that left it stay in their
    shards (search_tiers.plan) and the layout's floor says when the site starts: the search
    page shows none of them, whichever shard they are in."""
    site = rebuilt_in_shards(live_site, tmp_path, monkeypatch, wave=60_000)
    with Store.open(load_config(site.parent / "rsspage.yml").output.state) as store:
        published = {article_path(a.id): a.published for a in store.articles(content=False)}
    before = every_result(site, browser, "演示数据")
    assert len(before) >= 180
    dates = sorted(published[path] for path in before)
    floor = dates[50].replace(microsecond=0) + timedelta(seconds=1)
    path = site / "pagefind" / search_tiers.LAYOUT_NAME
    layout = json.loads(path.read_bytes())
    path.write_text(json.dumps({**layout, "floor": floor.isoformat()}), encoding="utf-8")
    after = every_result(site, browser, "演示数据")
    assert sorted(after) == sorted(p for p in before if published[p] >= floor)
    assert len(before) - len(after) == 51


def test_search_reaches_older_shards_a_wave_at_a_time(
    browser: Browser, live_site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With waves of 40 articles, a first query loads the runtime and the newest bundles only;
    "more" merges older ones until every result is shown, and the count becomes exact."""
    site = rebuilt_in_shards(live_site, tmp_path, monkeypatch, wave=40)
    counts = shard_counts(site)
    with serving(site, 0, rebuild=None, watch=None) as url:
        tab = browser.open(url + "search.html", allow=[url])
        entries: list[str] = []
        tab.page.on("request", lambda r: entries.append(r.url)
                    if r.url.endswith("pagefind-entry.json") or "pagefind-entry.json?" in r.url
                    else None)
        found = search_for(tab, "演示数据")
        assert len(found) == 20
        first_wave = 1 + next(n for n in range(1, len(counts) + 1) if sum(counts[-n:]) >= 40)
        assert len(entries) == first_wave < 1 + len(counts)  # the runtime's and the newest
        tab.page.wait_for_function("() => /篇/.test(document.getElementById('search-status')"
                                   ".textContent)")
        assert tab.page.locator("#search-status").inner_text().endswith("+ 篇文章")
        shown = 20
        while tab.page.locator("#search-more").is_visible():
            tab.page.click("#search-more")
            tab.page.wait_for_function(
                """(n) => document.querySelectorAll('#search-results li').length > n
                   || document.getElementById('search-more').hidden""", arg=shown)
            shown = tab.page.locator("#search-results li").count()
        assert shown == 180 and len(entries) == 1 + len(counts)
        assert tab.page.locator("#search-status").inner_text() == "找到 180 篇文章"
        titles = tab.page.locator("#search-results h2").all_inner_texts()
        assert len(set(titles)) == len(titles)  # no result shown twice across waves
        clean(tab.log)
        tab.close()


def test_search_from_the_header_form(browser: Browser, live_site: Site) -> None:
    tab = browser.open(live_site.url + "index.html")
    tab.page.fill("header form[role=search] input", "星河")
    tab.page.press("header form[role=search] input", "Enter")
    tab.page.wait_for_selector("#search-results li")
    assert "星河一号" in tab.page.locator("#search-results h2").first.inner_text()
    clean(tab.log)
    tab.close()


# --------------------------------------------------------------------------- broken pictures


def port_is_closed(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((host, int(port))) != 0


def test_unreachable_pictures_show_the_placeholder(browser: Browser, orphan_site: Site) -> None:
    if not port_is_closed(orphan_site.images):
        pytest.skip("another process took the stopped demo server's port")
    tab = browser.open(orphan_site.url + "index.html", height=6000,
                       allow=[orphan_site.url, orphan_site.images])
    page = tab.page
    wait_for_images(page, ".cards .thumb img", broken=True)
    states = page.locator(".cards .thumb img").evaluate_all(
        "(els) => els.map((e) => [e.naturalWidth, getComputedStyle(e).display,"
        " getComputedStyle(e.parentElement).backgroundImage,"
        " e.parentElement.getBoundingClientRect().height])")
    assert len(states) >= 30
    for width, display, background, height in states:
        # No broken-image icon: the picture is hidden and its frame shows the placeholder.
        assert width == 0 and display == "none"
        assert "placeholder.svg" in background and height > 50
    placeholder = page.request.get(orphan_site.url + "static/placeholder.svg")
    assert placeholder.ok and placeholder.headers["content-type"] == "image/svg+xml"
    print(tab.screenshot("home-placeholders", full_page=False))

    page.locator(".cards h2 a").first.click()
    page.wait_for_url(re.compile(r".*/a/.*\.html$"))
    wait_for_images(page, ".post img", broken=True)
    shown = page.locator(".post img").evaluate_all(
        "(els) => els.filter((e) => getComputedStyle(e).display !== 'none').length")
    assert shown == 0
    print(tab.screenshot("article-placeholders"))
    dead = orphan_site.images + "/images/"
    assert tab.log.failed_requests and all(dead in line for line in tab.log.failed_requests)
    # The pictures' failed loads are the only thing the browser complained about.
    assert tab.log.problems(tolerate=lambda line: dead in line) == [], dump(tab.log)
    tab.close()


# --------------------------------------------------------------------------- phone, dark, size

PHONE_PAGES = ["index.html", "c/index.html", "c/金融/index.html", "c/金融/Market Wire/index.html",
               "archive/index.html", "health.html", "search.html?q=芯片", "404.html"]


def test_phone_width_has_no_horizontal_overflow(browser: Browser, live_site: Site) -> None:
    tab = browser.open(width=390, height=844, mobile=True)
    pages = [*PHONE_PAGES, "article"]
    for path in pages:
        if path == "article":
            tab.goto(live_site.url + "index.html")
            tab.page.locator(".cards h2 a").nth(2).click()
        else:
            tab.goto(live_site.url + quote(path, safe="/?="))
        overflow = tab.page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{path} is {overflow}px wider than the phone"
    print(tab.screenshot("article-phone"))
    clean(tab.log)
    tab.close()


def background(tab: Tab) -> tuple[int, ...]:
    color = tab.page.evaluate("() => getComputedStyle(document.body).backgroundColor")
    return tuple(int(n) for n in re.findall(r"\d+", color)[:3])


def test_dark_mode_darkens_the_page(browser: Browser, live_site: Site) -> None:
    light = browser.open(live_site.url + "index.html")
    dark = browser.open(live_site.url + "index.html", dark=True, width=390, height=844,
                        mobile=True)
    assert sum(background(light)) > 600 and sum(background(dark)) < 120
    text = dark.page.evaluate("() => getComputedStyle(document.body).color")
    assert sum(int(n) for n in re.findall(r"\d+", text)[:3]) > 600  # light text on dark
    print(dark.screenshot("home-dark-phone", full_page=False))
    dark.page.locator(".cards h2 a").first.click()
    print(dark.screenshot("article-dark-phone"))
    for tab in (light, dark):
        clean(tab.log)
        tab.close()


def collect_responses(tab: Tab) -> list[Response]:
    responses: list[Response] = []

    def keep(response: Response) -> None:
        responses.append(response)

    tab.context.on("response", keep)
    return responses


def test_css_and_js_of_a_page_without_search_stay_under_50_kb(
    browser: Browser, live_site: Site
) -> None:
    for path in ("index.html", "c/金融/index.html"):
        tab = browser.open()
        responses = collect_responses(tab)
        tab.goto(live_site.url + quote(path))
        own = [r for r in responses if r.url.startswith(live_site.url)
               and r.request.resource_type in ("script", "stylesheet")]
        assert {r.request.resource_type for r in own} == {"script", "stylesheet"}
        total = sum(len(r.body()) for r in own)
        print(f"{path}: CSS+JS {total} bytes in {len(own)} files")
        assert total < ASSET_BUDGET
        # Nothing inline that the budget would miss (the CSP would block it anyway).
        assert tab.page.locator("script:not([src]), style").count() == 0
        clean(tab.log)
        tab.close()


# --------------------------------------------------------------------------- the helper itself


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_browser_log_catches_what_feed_content_must_never_do(
    browser: Browser, live_site: Site
) -> None:
    """Proof that a clean log means something: each kind of misbehaviour is recorded."""
    tab = browser.open(live_site.url + "index.html")
    foreign = f"http://127.0.0.1:{closed_port()}/x.png"
    tab.page.evaluate(
        """(foreign) => {
          const s = document.createElement("script");
          s.textContent = "window.ran = 1";             // inline: the CSP must block it
          document.body.append(s);
          const img = document.createElement("img");
          img.src = foreign;
          document.body.append(img);
          setTimeout(() => { throw new Error("boom"); }, 0);
          console.error("said out loud");
          window.print();
        }""", foreign)
    tab.page.evaluate("() => alert('hi')")
    tab.page.wait_for_timeout(300)
    log = tab.log
    assert tab.page.evaluate("() => window.ran") is None
    assert any("script-src" in v for v in log.csp_violations), dump(log)
    assert any(foreign in r for r in log.foreign_requests), dump(log)
    assert any("boom" in e for e in log.page_errors), dump(log)
    assert "said out loud" in log.console_errors
    assert log.dialogs == ["alert: hi"] and len(log.prints) == 1
    tab.close()
