"""Accessibility of the built-in site, checked by axe-core in headless Chromium (issue 13).

axe-core (Deque's rules engine, the one Lighthouse's accessibility score runs) is installed from
the npm registry into the test cache once and evaluated in each page through the DevTools
protocol, so the site's Content Security Policy (scripts from 'self' only) stays on. Every page
kind of the demo site is checked in light and dark mode, at desktop and phone width, against
WCAG 2.0/2.1/2.2 A and AA and axe's best practices: no violation at all.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest

from browser import Browser, Tab, chromium_or_skip, dump
from conftest import run_cli
from hexo_harness import NPM_TIMEOUT, cache_dir, file_lock
from rsspage.demo.server import serve_demo, write_demo_config
from rsspage.serve import serving

pytestmark = pytest.mark.slow

AXE_VERSION = "^4.10.0"
#: The rule sets checked: WCAG 2.x A and AA, and axe's best practices (landmarks, headings).
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
#: Pages of every kind; "article" is the first article of the home page.
PAGES = ["index.html", "c/index.html", "c/金融/index.html", "c/金融/Market Wire/index.html",
         "archive/index.html", "health.html", "search.html?q=芯片", "404.html", "article",
         # a listing of each view (layouts.py): text-only, gallery, timeline, audio, video
         "c/新媒体/创投快报/快讯/index.html", "c/图片/光影图集/每日图集/index.html",
         "c/社交媒体/微光社区/本站时间线/index.html", "c/音视频/声波漫谈/节目更新/index.html",
         "c/音视频/影像工坊/最新投稿/index.html"]


def axe_source() -> str:
    """axe.min.js, installed from npm into the test cache once (locked against parallel runs);
    skips when npm is missing or the registry cannot be reached."""
    folder = cache_dir("axe-core")
    script = folder / "node_modules" / "axe-core" / "axe.min.js"
    manifest = json.dumps({"private": True, "dependencies": {"axe-core": AXE_VERSION}})
    folder.mkdir(parents=True, exist_ok=True)
    with file_lock(folder / ".lock"):
        stamp = folder / "installed.json"
        if not (script.exists() and stamp.exists() and stamp.read_text() == manifest):
            if shutil.which("npm") is None:
                pytest.skip("npm is missing: cannot install axe-core")
            (folder / "package.json").write_text(manifest)
            proc = subprocess.run(["npm", "install", "--no-audit", "--no-fund",
                                   "--loglevel=error"], cwd=folder, timeout=NPM_TIMEOUT,
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                pytest.skip(f"npm install axe-core failed: {proc.stderr[-2000:]}")
            stamp.write_text(manifest)
    return script.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(the served demo site's URL, its pictures' server URL)."""
    with serve_demo(0) as feeds:
        folder = tmp_path_factory.mktemp("a11y")
        run = run_cli("update", "-c", str(write_demo_config(folder, feeds)))
        assert run.code == 0, run.err
        with serving(folder / "public", 0, rebuild=None, watch=None) as url:
            yield url, feeds


def violations(tab: Tab, axe: str) -> list[dict[str, Any]]:
    """axe's violations on the tab's page, each with up to three offending nodes."""
    tab.page.wait_for_load_state("networkidle")
    tab.page.evaluate(axe)  # through the DevTools protocol: the page's CSP does not apply
    found: list[dict[str, Any]] = tab.page.evaluate(
        """(tags) => axe.run(document, {runOnly: {type: "tag", values: tags}}).then(
             (r) => r.violations.map((v) => ({id: v.id, impact: v.impact, help: v.help,
               nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" "))})))""", AXE_TAGS)
    return found


@pytest.fixture(scope="module")
def browser(site: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    with Browser(chromium_or_skip(), shots=tmp_path_factory.mktemp("a11y-shots"),
                 allowed=list(site)) as b:
        yield b


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_axe_finds_no_violation_on_any_page(site: tuple[str, str], browser: Browser,
                                            dark: bool, phone: bool) -> None:
    url = site[0]
    axe = axe_source()
    size = {"width": 390, "height": 844} if phone else {"width": 1280, "height": 900}
    tab = browser.open(url + "index.html", dark=dark, mobile=phone, **size)
    article = tab.page.locator(".cards h2 a").first.get_attribute("href")
    assert article
    found = {}
    for path in PAGES:
        tab.goto(url + (article if path == "article" else quote(path, safe="/?=")))
        problems = violations(tab, axe)
        if problems:
            found[path] = problems
    assert found == {}, json.dumps(found, ensure_ascii=False, indent=1)
    assert tab.log.problems() == [], dump(tab.log)
    tab.close()
