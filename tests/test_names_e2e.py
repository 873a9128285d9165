"""Nasty names end to end (issue 4 "Names, paths and YAML"): served over HTTP, through `rsspage update`.

Titles and category/source/channel names holding ``../``, absolute paths, ``\\``, NUL, control
characters, Windows device names, trailing dots and spaces, 1,000 characters, only punctuation,
empty strings, one title 50 times, NFC/NFD twins, bidi marks and emoji come from served feeds
(JSON Feed where XML cannot carry them), from the config, and from feed titles (which name the
source when the config does not). One real CLI run writes the Hexo posts and the site; then:

- every file lands inside its output root, and nothing is written anywhere else;
- every path segment is safe on Linux, macOS and Windows and in Hexo 8 (no ``%``);
- no two articles share a post (posts == articles in the store, distinct on case- and
  normalisation-insensitive disks), and a second run renames and rewrites nothing;
- each post's front matter reads back (PyYAML; and js-yaml in a real Hexo, ``slow``) as the
  article's exact title and [category, source, channel];
- every relative ``href``/``src`` of every site page, every site link of the published feeds
  and every sitemap URL is correctly percent-encoded and resolves to an existing file.

The module's fixture builds once (~10 s); the real Hexo test adds ~10 s.
"""

from __future__ import annotations

import json
import posixpath
import re
import shutil
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import lxml.html
import pytest
import yaml
from lxml import etree

from conftest import run_cli
from hexo_harness import HexoResult, hexo_generate
from rsspage.publish.hexo import hexo_text
from rsspage.publish.names import clash_key
from rsspage.store import Store
from rsspage.types import Article
from servers import LocalServer, respond

SITE_URL = "https://news.example.com/"
BASE_DATE = datetime(2024, 5, 1, tzinfo=UTC)
NFD_E, NFC_E = "e\u0301te", "\u00e9te"

#: Titles of the entries of one JSON Feed (JSON carries NUL and controls; XML could not).
TITLES = [
    "../../../../etc/passwd", "/etc/passwd", "..", ".", "...", " . ", "C:\\Windows\\win.ini",
    "\\\\server\\share\\x", "a\\b/c", "a\x00b", "\x01\x02\x1f\x7f ctrl", "tab\tand\nnewline",
    "CON", "con", "aux.md", "NUL.txt", "COM1", "LPT9.tar.gz", "trailing dots...",
    "trailing spaces   ", "..leading dots", "_draft", "~tilde", "-dash", "#hash", "%2e%2e%2f",
    "100%", "a?b", "what*ever", '"quoted"', "<angle>", "pipe|d", "colon: yes", "'single'",
    "!!!???...", "—…·", "", "   ", "x" * 1000, "中" * 1000, NFD_E, NFC_E,
    "\u202eRTL override\u202c", "\u200fmark\u200e", "😀👨\u200d👩\u200d👧 emoji", "Ａ full width",
    "yes", "null", "~", "- [ ] {x}", "index.html", "page", "Title", "title", "a\u2028b",
    "\ufeffBOM", "{{ x }} {% raw %}", "&amp; &lt;b&gt;", "\u3000全角空格\u3000", "🏳️‍🌈" * 60,
]
SAME_TITLE = "同一个标题"
#: Config names (category, source, channel); YAML carries every character here.
NAME_TRIPLES = [
    ("../", "../../x", "/abs/path"),
    ("C:\\x", "a\\b", "n\x00ul"),
    ("ctl\x01\x7f", "CON", "aux.md"),
    ("trail. . .", "trail   x   ", "!!!"),
    ("..", ".x", "..."),
    (NFD_E, NFC_E, NFD_E),
    (NFC_E, NFD_E, NFC_E),
    ("\u202eRTL", "\u200f", "😀"),
    ("y" * 200, "中" * 66, "z" * 200),  # the longest the config accepts (200 bytes)
    ("index.html", "page", "feeds"),
    ("News", "news", "NEWS"),
    ("%", "#", "?"),
    ("_x", "yes", "null"),
    ("a/b", "a／b", "a:b"),
]
#: Feed titles of feeds the config does not name: the source (and channel) come from them.
FEED_TITLES = ["", "   ", "../up", "CON", "\u202e", "😀", NFD_E, NFC_E, "&lt;/&gt;", "长" * 1000]


# --------------------------------------------------------------------------- the served feeds


@dataclass(frozen=True)
class Served:
    path: str
    body: bytes
    content_type: str
    #: Config names, or None to take them from the feed.
    names: tuple[str, str, str] | None


def _json_feed(titles: list[str], prefix: str) -> bytes:
    items = [{
        "id": f"{prefix}-{n}", "url": f"https://example.org/{prefix}/{n}", "title": title,
        "content_html": f"<p>{prefix} {n}</p>",
        "date_published": (BASE_DATE + timedelta(minutes=n)).isoformat(),
    } for n, title in enumerate(titles)]
    doc = {"version": "https://jsonfeed.org/version/1.1", "title": prefix, "items": items}
    return json.dumps(doc, ensure_ascii=True).encode()


def _rss(title: str, titles: list[str], prefix: str, link: bool = True) -> bytes:
    root = etree.Element("rss", version="2.0")
    channel = etree.SubElement(root, "channel")
    etree.SubElement(channel, "title").text = title
    if link:
        etree.SubElement(channel, "link").text = "http://127.0.0.1:9/"
    for n, item_title in enumerate(titles):
        item = etree.SubElement(channel, "item")
        etree.SubElement(item, "title").text = item_title
        etree.SubElement(item, "guid", isPermaLink="false").text = f"{prefix}-{n}"
        etree.SubElement(item, "link").text = f"https://example.org/{prefix}/{n}"
        etree.SubElement(item, "description").text = f"<p>{prefix} {n}</p>"
        date = BASE_DATE + timedelta(hours=1, minutes=n)
        etree.SubElement(item, "pubDate").text = format_datetime(date, usegmt=True)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def served_feeds() -> list[Served]:
    rss, js = "application/rss+xml", "application/feed+json"
    feeds = [
        Served("/titles", _json_feed(TITLES, "t"), js, ("名字测试", "标题", "全部")),
        Served("/same", _rss("same", [SAME_TITLE] * 50, "s"), rss, ("同名", "同名", "同名")),
    ]
    for n, names in enumerate(NAME_TRIPLES):
        titles = [TITLES[(3 * n + k) % len(TITLES)] for k in range(3)]
        feeds.append(Served(f"/names/{n}", _json_feed(titles, f"n{n}"), js, names))
    for n, title in enumerate(FEED_TITLES):
        # The first has no link either: the source has no name at all.
        second = TITLES[n] if n < 9 else "from a feed with a 1,000-character title"
        body = _rss(title, [f"from feed {n}", second], f"f{n}", link=n > 0)
        feeds.append(Served(f"/untitled/{n}", body, rss, None))
    return feeds


# --------------------------------------------------------------------------- one real run


@dataclass(frozen=True)
class Run:
    outer: Path
    root: Path
    code: int
    output: str
    articles: list[Article]
    names: dict[str, str]
    second_code: int
    second_output: str
    hexo_mtimes_changed: list[str]
    names_after_second: dict[str, str]

    @property
    def hexo(self) -> Path:
        return self.root / "hexo"

    @property
    def site(self) -> Path:
        return self.root / "site"


def write_config(folder: Path, base: str, feeds: list[Served]) -> Path:
    entries: list[dict[str, Any]] = []
    for feed in feeds:
        entry: dict[str, Any] = {"url": base + feed.path}
        if feed.names is not None:
            entry |= dict(zip(("category", "source", "channel"), feed.names, strict=True))
        entries.append(entry)
    config = {
        "site": {"title": "名字", "url": SITE_URL},
        "feeds": entries,
        "limits": {"items_per_feed": 200},
        "fetch": {"timeout": 10, "retries": 0},
        "output": {"state": "state", "hexo": "hexo", "site": "site", "page_size": 20},
    }
    path = folder / "rsspage.yml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def _mtimes(root: Path) -> dict[str, int]:
    return {p.relative_to(root).as_posix(): p.stat().st_mtime_ns
            for p in root.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    outer = tmp_path_factory.mktemp("names")
    root = outer / "deep" / "run"  # room for ../../ to land somewhere visible if it escaped
    root.mkdir(parents=True)
    feeds = served_feeds()
    with LocalServer() as server:
        for feed in feeds:
            server.route(feed.path, respond(200, feed.body, content_type=feed.content_type))
        config = write_config(root, server.base_url, feeds)
        first = run_cli("update", "-c", str(config), timeout=300)
        with Store.open(root / "state") as store:
            articles, names = list(store.articles()), store.published_names("hexo")
        before = _mtimes(root / "hexo")
        second = run_cli("update", "--all", "-c", str(config), timeout=300)
    after = _mtimes(root / "hexo")
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    with Store.open(root / "state") as store:
        names_after = store.published_names("hexo")
    return Run(outer, root, first.code, first.out + first.err, articles, names, second.code,
               second.out + second.err, changed, names_after)


# --------------------------------------------------------------------------- files and paths

_WINDOWS_DEVICES = {"CON", "PRN", "AUX", "NUL", *(f"COM{n}" for n in range(1, 10)),
                    *(f"LPT{n}" for n in range(1, 10))}
_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"|?*\\]')


def segment_problems(relpath: str, max_bytes: int) -> list[str]:
    """Why a relative path could not be written as is on Linux, macOS, Windows or by Hexo."""
    problems = []
    for segment in relpath.split("/"):
        if not segment or segment in (".", ".."):
            problems.append(f"{relpath!r}: empty or dot segment")
        elif _UNSAFE.search(segment):
            problems.append(f"{relpath!r}: unsafe character in {segment!r}")
        elif segment[-1] in ". ":
            problems.append(f"{relpath!r}: trailing dot or space in {segment!r}")
        elif segment.split(".")[0].rstrip(" ").upper() in _WINDOWS_DEVICES:
            problems.append(f"{relpath!r}: Windows device name {segment!r}")
        elif len(segment.encode()) > max_bytes:
            problems.append(f"{relpath!r}: segment of {len(segment.encode())} bytes")
        elif any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in segment):
            problems.append(f"{relpath!r}: invisible or unassigned character in {segment!r}")
    return problems


def files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                  if p.is_file() and not p.name.startswith(".rsspage-"))


def test_the_run_succeeds_and_keeps_every_entry(run: Run) -> None:
    assert run.code == 0, run.output
    assert "Traceback" not in run.output + run.second_output
    expected = (len(TITLES) + 50 + 3 * len(NAME_TRIPLES) + 2 * len(FEED_TITLES))
    assert len(run.articles) == expected
    assert sum(a.title == SAME_TITLE for a in run.articles) == 50


def test_every_file_lands_inside_its_output_root(run: Run) -> None:
    everything = files(run.outer)
    outside = [f for f in everything
               if not f.startswith(("deep/run/hexo/", "deep/run/site/", "deep/run/state/"))
               and f != "deep/run/rsspage.yml"]
    assert outside == []
    for root in (run.hexo, run.site):
        for path in root.rglob("*"):
            assert not path.is_symlink(), path
            assert path.resolve().is_relative_to(root.resolve()), path


def test_every_path_segment_is_safe_everywhere(run: Run) -> None:
    hexo_files = files(run.hexo)
    problems = [p for f in hexo_files for p in segment_problems(f, 200)]
    problems += [f"{f!r}: % (Hexo 8 skips it)" for f in hexo_files if "%" in f]
    problems += [f"{f!r}: not NFC" for f in hexo_files if unicodedata.normalize("NFC", f) != f]
    site_files = [f for f in files(run.site) if not f.startswith("pagefind/")]
    problems += [p for f in site_files for p in segment_problems(f, 255)]
    # A folder named like a page would stop a static host from serving its parent folder.
    problems += [f"folder {p}" for p in run.site.rglob("index.html") if p.is_dir()]
    assert problems == []


def test_no_two_articles_share_a_post(run: Run) -> None:
    posts = files(run.hexo)
    assert len(posts) == len(run.articles) == len(run.names)
    assert sorted(run.names.values()) == posts
    assert len({clash_key(p) for p in posts}) == len(posts)  # also on macOS and Windows
    # The twins and the repeated title are separate posts.
    nfd = [a for a in run.articles if a.title == NFD_E]
    nfc = [a for a in run.articles if a.title == NFC_E]
    assert nfd and nfc and {run.names[a.id] for a in nfd}.isdisjoint(run.names[a.id] for a in nfc)


def test_a_second_run_renames_and_rewrites_nothing(run: Run) -> None:
    assert run.second_code == 0, run.second_output
    assert run.names_after_second == run.names
    assert run.hexo_mtimes_changed == []


def _front_matter(path: Path) -> dict[str, Any]:
    text = path.read_text("utf-8")
    head, sep, _ = text.removeprefix("---\n").partition("\n---\n")
    assert text.startswith("---\n") and sep, path
    meta = yaml.safe_load(head)
    assert isinstance(meta, dict)
    return meta


def test_front_matter_reads_back_exactly(run: Run) -> None:
    by_id = {a.id: a for a in run.articles}
    wrong = []
    for article_id, relpath in run.names.items():
        article, meta = by_id[article_id], _front_matter(run.hexo / relpath)
        names = [hexo_text(n) for n in (article.category, article.source, article.channel)]
        expected = (hexo_text(article.title), names, hexo_text(article.source))
        if (meta["title"], meta["categories"], meta["author"]) != expected:
            wrong.append((relpath, meta["title"], meta["categories"], article.title, names))
    assert wrong == []


def test_titles_and_names_are_stored_as_the_feeds_gave_them(run: Run) -> None:
    """The checks above compare with the store: make sure it still holds the nasty text."""
    titles = {a.title for a in run.articles}
    # Control characters are never stored (issue 11): "a\x00b" is kept as "ab".
    assert {"../../../../etc/passwd", "ab", "CON", NFD_E, NFC_E, "x" * 1000} <= titles
    assert not any(re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]", t) for t in titles)
    categories = {a.category for a in run.articles}
    assert {"../", "C:\\x", NFD_E, NFC_E, "y" * 200, "News"} <= categories
    sources = {a.source for a in run.articles}
    assert {"CON", "../up", "\u202e", "</>"} <= sources


def test_every_article_has_three_names(run: Run) -> None:
    nameless = [a.feed_key for a in run.articles if "" in (a.category, a.source, a.channel)]
    assert nameless == []


# --------------------------------------------------------------------------- site URLs

#: A URL path as RFC 3986 allows it: unreserved, sub-delims, ":" "@" "/" and %XX escapes.
_URL_PATH = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-Fa-f]{2})*")
_URL_ATTRS = ("href", "src", "action")


def url_problem(site: Path, page: str, url: str) -> str | None:
    """Why ``url`` (found on site page ``page``) is not a valid link to a file of the site."""
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or not parts.path:
        return None  # absolute (the original articles) or same-page
    if not _URL_PATH.fullmatch(parts.path):
        return f"{page}: {url!r} is not percent-encoded"
    try:
        decoded = unquote(parts.path, errors="strict")
    except UnicodeDecodeError:
        return f"{page}: {url!r} decodes to invalid UTF-8"
    if decoded.startswith("/"):  # root-relative (404.html): the site URL's path is "/"
        target = posixpath.normpath(decoded.lstrip("/"))
    else:
        target = posixpath.normpath(posixpath.join(posixpath.dirname(page), decoded))
    if target == ".." or target.startswith("../"):
        return f"{page}: {url!r} leaves the site"
    file = site / target / "index.html" if decoded.endswith("/") else site / target
    return None if file.is_file() else f"{page}: {url!r} → missing {target}"


def site_urls(site: Path) -> Iterator[tuple[str, str]]:
    for path in sorted(site.rglob("*.html")):
        page = path.relative_to(site).as_posix()
        if page.startswith("pagefind/") or not path.is_file():
            continue
        for el in lxml.html.document_fromstring(path.read_bytes()).iter():
            for attr in _URL_ATTRS:
                if isinstance(el.tag, str) and el.get(attr):
                    yield page, el.get(attr)


def test_every_site_link_resolves_to_a_file(run: Run) -> None:
    links = list(site_urls(run.site))
    problems = [p for page, url in links if (p := url_problem(run.site, page, url))]
    assert problems == []
    assert len(links) > 20 * len(run.articles)  # the pages were really crawled
    # Every article has its page, and the pages link to every listing folder.
    article_pages = [p for p in files(run.site) if p.startswith("a/")]
    assert len(article_pages) == len(run.articles)


def test_feed_and_sitemap_links_resolve_to_files(run: Run) -> None:
    urls: list[str] = []
    for path in sorted((run.site / "feeds").rglob("*")):
        if path.suffix == ".json":
            doc = json.loads(path.read_text("utf-8"))
            urls += [doc.get("home_page_url", ""), doc.get("feed_url", "")]
            urls += [i.get("_rsspage", {}).get("page_url", "") for i in doc["items"]]
        elif path.suffix == ".xml":
            tree = etree.parse(str(path))
            urls += [str(h) for h in tree.xpath("//@href")]
            urls += [str(t) for t in tree.xpath("/rss/channel/link/text()")]
    urls += [str(t) for t in etree.parse(str(run.site / "sitemap.xml")).xpath("//*[local-name()"
                                                                             "='loc']/text()")]
    ours = [u for u in urls if u.startswith(SITE_URL)]
    assert len(ours) > 3 * len(run.articles)
    problems = [p for u in ours if (p := url_problem(run.site, "", u.removeprefix(SITE_URL)))]
    assert problems == []


# --------------------------------------------------------------------------- real Hexo


#: Longest name Hexo can take as a category: it makes a folder of it (public/categories/…),
#: and Linux allows 255 bytes per name.
HEXO_NAME_BYTES = 255


def _hexo(run: Run, tmp: pytest.TempPathFactory) -> HexoResult:
    if shutil.which("npm") is None:
        pytest.skip("npm is not on PATH: cannot install Hexo")
    return hexo_generate(run.hexo, tmp.mktemp("names-hexo"))


def test_no_name_is_too_long_for_a_folder(run: Run) -> None:
    """Hexo makes a folder of every category name (``public/categories/<name>/``)."""
    too_long = []
    for relpath in run.names.values():
        names = _front_matter(run.hexo / relpath)["categories"]
        too_long += [n for n in names if len(str(n).encode()) > HEXO_NAME_BYTES]
    assert too_long == []


@pytest.mark.slow
def test_hexo_reads_every_post_back_exactly(
    run: Run, tmp_path_factory: pytest.TempPathFactory
) -> None:
    hexo = _hexo(run, tmp_path_factory)
    assert hexo.returncode == 0, hexo.output[-3000:]
    assert hexo.problem_lines() == []
    by_path = {run.names[a.id]: a for a in run.articles}
    sources = sorted(p.relative_to(hexo.site / "source" / "_posts").as_posix()
                     for p in (hexo.site / "source" / "_posts").rglob("*.md") if p.is_file())
    assert len(sources) > len(run.articles) - 10
    assert sorted(hexo.posts) == sources  # Hexo skipped none
    wrong = []
    for source, post in hexo.posts.items():
        article = by_path[source]
        names = (article.category, article.source, article.channel)
        expected = (hexo_text(article.title), tuple(hexo_text(n) for n in names))
        if (post.title, post.categories) != expected:
            wrong.append((source, post.title, post.categories, expected))
        if post.html is None:
            wrong.append((source, "no page"))
    assert wrong == []
