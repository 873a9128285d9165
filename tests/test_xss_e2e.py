"""Malicious HTML end to end (issue 4): every XSS vector, served over HTTP, through `rsspage update`.

All 360 vectors of ``../shared/fixtures/xss/vectors.json`` are served by a LocalServer as RSS 2.0,
Atom and JSON Feed entries, each vector in the title, the body, the author and the category of
its entry; each entry also carries a hostile URL (taken from the vector's own ``href``/``src``…,
else from :data:`URL_VECTORS`) as its link, its enclosure, its media:thumbnail / image and an
``<img src>`` in the body. A few vectors are also the config's category/source/channel names and
feed titles (which become source names). One real CLI run writes the Hexo posts and the site.

Then:

- every site page, every Hexo post body (and its front matter, read with ``yaml.safe_load``) and
  every feed we publish (Atom/RSS/JSON HTML fields) is parsed with lxml.html and checked by
  :func:`active_content` (the rules are in its docstring);
- the posts are built by a real Hexo 8 (``slow``) and its pages checked the same way;
- every site page is opened in headless Chromium (``slow``, through ``tests/browser.py``) with
  hooks that record dialogs, ``print``, CSP violations and requests (the rule is in
  :class:`Guard`); none may happen. The site's search is run on vector words too.

A second, smaller run checks the other side: ordinary markup (tables, lists, links, pictures,
headings, code) and what DOMPurify keeps of its own fixtures survive into the article pages.

Time: ~110 s on 2 busy cores, of which ~90 s is the Chromium pass over ~420 pages.
"""

from __future__ import annotations

import functools
import html
import http.server
import json
import re
import shutil
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import lxml.html
import pytest
import yaml
from lxml import etree

import browser
from conftest import run_cli
from hexo_harness import HexoResult, hexo_generate
from rsspage.publish.hexo import hexo_text
from rsspage.publish.site_model import article_path
from rsspage.store import Store
from rsspage.types import Article
from servers import LocalServer, respond

ATOM = "http://www.w3.org/2005/Atom"
MEDIA = "http://search.yahoo.com/mrss/"
DC = "http://purl.org/dc/elements/1.1/"
CONTENT = "http://purl.org/rss/1.0/modules/content/"
SITE_URL = "https://news.example.com/"
ITEMS_PER_FEED = 45
BASE_DATE = datetime(2024, 3, 1, tzinfo=UTC)

#: Hostile URLs for link/enclosure/thumbnail/img fields. Every host is 127.0.0.1 (the browser
#: refuses to resolve any other name, and the tests never leave the machine).
URL_VECTORS = (
    "javascript:alert('url')",
    " javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "java\tscript:alert(1)",
    "&#106;avascript:alert(1)",
    "vbscript:msgbox(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "data:image/svg+xml,<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>",
    'http://127.0.0.1:9/x.png" onerror="alert(1)',
    "https://127.0.0.1:9/a.png'><script>alert(1)</script>",
    'http://127.0.0.1:9/a.png?x="><svg/onload=alert(1)>',
    "https://127.0.0.1:9/{{7*7}}/a%0d%0a.png",
    "//127.0.0.1:9/x.js",
    "http://127.0.0.1:9/a.png\n---\ntitle: pwned",
)
#: Config names (category / source / channel) that are vectors themselves.
NAME_VECTORS = (
    ("<script>alert('cat')</script>", '"><img src=x onerror=alert(1)>', "javascript:alert(1)"),
    ("{{ 7*7 }}", "<svg onload=alert(1)>", "'-alert(1)-'"),
)
#: Feed titles (source names when the config names none), as the feed's text.
FEED_TITLE_VECTORS = (
    "&lt;img src=x onerror=alert('title')&gt;",
    "<script>alert('feed')</script>",
    "\"><iframe src=javascript:alert(1)>",
)
_URL_IN_VECTOR = re.compile(
    r"""\b(?:href|src|action|formaction|data|poster|background|xlink:href|to|values|lowsrc|"""
    r"""dynsrc)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.IGNORECASE)
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


# --------------------------------------------------------------------------- the served feeds


@dataclass(frozen=True)
class Vector:
    number: int
    source: str
    text: str
    url: str

    @property
    def marker(self) -> str:
        """A token that identifies the vector's article (in its title and body)."""
        return f"XSSV{self.number:03d}"

    @property
    def link(self) -> str:
        """The URL made unique (the store merges entries of different feeds by their canonical
        link, which has no fragment): a query parameter of its own, the fragment kept."""
        url, hashmark, fragment = self.url.partition("#")
        joined = f"{url}{'&' if '?' in url else '?'}xssv={self.marker}"
        return f"{joined}#{fragment if hashmark else self.marker}"


@functools.cache
def vectors(fixtures: Path) -> tuple[Vector, ...]:
    raw = json.loads((fixtures / "xss" / "vectors.json").read_text("utf-8"))
    return tuple(Vector(n, v["source"], v["vector"], _url_for(n, v["vector"]))
                 for n, v in enumerate(raw))


def _url_for(number: int, text: str) -> str:
    found = _URL_IN_VECTOR.search(text)
    if found:
        return next(g for g in found.groups() if g is not None)
    return URL_VECTORS[number % len(URL_VECTORS)]


@dataclass
class Feed:
    path: str
    format: str  # "rss", "atom" or "json"
    items: list[Vector] = field(default_factory=list)
    title: str = "XSS feed"
    names: tuple[str, str, str] | None = None

    def body(self) -> bytes:
        return {"rss": _rss, "atom": _atom, "json": _json}[self.format](self)

    @property
    def content_type(self) -> str:
        return {"rss": "application/rss+xml", "atom": "application/atom+xml",
                "json": "application/feed+json"}[self.format] + "; charset=utf-8"


def plan_feeds(all_vectors: tuple[Vector, ...]) -> list[Feed]:
    """Each vector in one entry; XML-illegal ones only in JSON Feeds (XML cannot carry them)."""
    by_format: dict[str, list[Vector]] = {"rss": [], "atom": [], "json": []}
    for v in all_vectors:
        fmt = "json" if _XML_ILLEGAL.search(v.text + v.url) else ("rss", "atom", "json")[v.number % 3]
        by_format[fmt].append(v)
    feeds: list[Feed] = []
    for fmt, items in by_format.items():
        for start in range(0, len(items), ITEMS_PER_FEED):
            feeds.append(Feed(f"/{fmt}/{start}", fmt, items[start:start + ITEMS_PER_FEED]))
    for i, feed in enumerate(feeds):
        if i < len(NAME_VECTORS):
            feed.names = NAME_VECTORS[i]
        elif i - len(NAME_VECTORS) < len(FEED_TITLE_VECTORS):
            feed.title = FEED_TITLE_VECTORS[i - len(NAME_VECTORS)]  # names come from it
        else:
            feed.names = ("XSS", f"source {i}", f"channel {i}")
    return feeds


def _date(v: Vector) -> datetime:
    return BASE_DATE + timedelta(minutes=v.number)


def _body_html(v: Vector) -> str:
    return f'<p>{v.marker}</p>{v.text}<p><img src="{html.escape(v.url)}" alt="u"></p>'


def _sub(parent: Any, tag: str, text: str | None = None, **attrs: str) -> Any:
    node = etree.SubElement(parent, tag, attrs)
    node.text = text
    return node


def _rss(feed: Feed) -> bytes:
    root = etree.Element("rss", version="2.0", nsmap={"media": MEDIA, "dc": DC, "content": CONTENT})
    channel = _sub(root, "channel")
    _sub(channel, "title", feed.title)
    _sub(channel, "link", "http://127.0.0.1:9/")
    for v in feed.items:
        item = _sub(channel, "item")
        _sub(item, "title", f"{v.marker} {v.text}")
        _sub(item, "link", v.link)
        _sub(item, "guid", v.marker, isPermaLink="false")
        _sub(item, "pubDate", format_datetime(_date(v), usegmt=True))
        _sub(item, f"{{{DC}}}creator", v.text)
        _sub(item, "category", v.text)
        _sub(item, "description", _body_html(v))
        _sub(item, "enclosure", url=v.url, type="image/jpeg", length="1")
        _sub(item, f"{{{MEDIA}}}thumbnail", url=URL_VECTORS[v.number % len(URL_VECTORS)])
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def _atom(feed: Feed) -> bytes:
    root = etree.Element(f"{{{ATOM}}}feed", nsmap={None: ATOM, "media": MEDIA})  # type: ignore[dict-item]
    _sub(root, f"{{{ATOM}}}title", feed.title)
    _sub(root, f"{{{ATOM}}}id", "urn:xss:" + feed.path)
    _sub(root, f"{{{ATOM}}}updated", BASE_DATE.isoformat())
    for v in feed.items:
        entry = _sub(root, f"{{{ATOM}}}entry")
        # Half the titles are declared HTML, half text: both paths must come out inert.
        _sub(entry, f"{{{ATOM}}}title", f"{v.marker} {v.text}",
             type="html" if v.number % 2 else "text")
        _sub(entry, f"{{{ATOM}}}id", v.marker)
        _sub(entry, f"{{{ATOM}}}link", rel="alternate", type="text/html", href=v.link)
        _sub(entry, f"{{{ATOM}}}link", rel="enclosure", type="image/png", href=v.url)
        _sub(entry, f"{{{ATOM}}}updated", _date(v).isoformat())
        _sub(_sub(entry, f"{{{ATOM}}}author"), f"{{{ATOM}}}name", v.text)
        _sub(entry, f"{{{ATOM}}}category", term=v.text, label=v.text)
        _sub(entry, f"{{{ATOM}}}content", _body_html(v), type="html")
        _sub(entry, f"{{{MEDIA}}}thumbnail", url=URL_VECTORS[v.number % len(URL_VECTORS)])
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def _json(feed: Feed) -> bytes:
    items = [{
        "id": v.marker, "url": v.link, "title": f"{v.marker} {v.text}",
        "content_html": _body_html(v), "summary": v.text,
        "image": v.url, "banner_image": URL_VECTORS[v.number % len(URL_VECTORS)],
        "date_published": _date(v).isoformat(), "authors": [{"name": v.text, "url": v.url}],
        "tags": [v.text], "attachments": [{"url": v.url, "mime_type": "image/png"}],
    } for v in feed.items]
    doc = {"version": "https://jsonfeed.org/version/1.1", "title": feed.title, "items": items}
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")


# --------------------------------------------------------------------------- one real run


@dataclass(frozen=True)
class Built:
    root: Path
    site: Path
    hexo: Path
    state: Path
    vectors: tuple[Vector, ...]
    articles: list[Article]
    names: dict[str, str]
    code: int
    output: str


def write_config(folder: Path, base: str, feeds: list[Feed]) -> Path:
    entries = []
    for feed in feeds:
        entry: dict[str, Any] = {"url": base + feed.path}
        if feed.names is not None:
            entry |= dict(zip(("category", "source", "channel"), feed.names, strict=True))
        entries.append(entry)
    config = {
        "site": {"title": "XSS 测试", "url": SITE_URL},
        "feeds": entries,
        "limits": {"items_per_feed": 500},
        "fetch": {"timeout": 10, "retries": 0},
        "output": {"state": "state", "hexo": "hexo", "site": "site", "page_size": 40},
    }
    path = folder / "rsspage.yml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def build(folder: Path, feeds: list[Feed], all_vectors: tuple[Vector, ...]) -> Built:
    """Serve ``feeds`` and run the real ``rsspage update`` on them once."""
    with LocalServer() as server:
        for feed in feeds:
            server.route(feed.path, respond(200, feed.body(), content_type=feed.content_type))
        config = write_config(folder, server.base_url, feeds)
        run = run_cli("update", "-c", str(config), timeout=300)
    with Store.open(folder / "state") as store:
        articles = list(store.articles())
        names = store.published_names("hexo")
    return Built(folder, folder / "site", folder / "hexo", folder / "state", all_vectors,
                 articles, names, run.code, run.out + run.err)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, shared_fixtures: Path) -> Built:
    all_vectors = vectors(shared_fixtures)
    return build(tmp_path_factory.mktemp("xss"), plan_feeds(all_vectors), all_vectors)


# --------------------------------------------------------------------------- the static rules

_URL_ATTRS = frozenset({
    "href", "src", "action", "formaction", "poster", "data", "background", "cite", "longdesc",
    "lowsrc", "dynsrc", "srcset", "ping", "manifest", "codebase", "classid", "icon", "profile",
    "usemap", "archive", "xlink:href", "xml:base", "to", "from", "values", "by",
})
_FORBIDDEN_TAGS = frozenset({
    "iframe", "frame", "frameset", "object", "embed", "applet", "base", "style", "param",
    "portal", "math", "xml", "import", "basefont", "bgsound", "isindex", "listing",
})
#: Inline SVG icons of the site's own templates draw with these only (no links, no scripts).
_SVG_SHAPES = frozenset({"svg", "path", "circle", "rect", "g", "line", "polyline", "polygon",
                         "ellipse", "title"})
_EXECUTABLE_SCHEME = re.compile(r"(?:java|vb|live)script:|mocha:|data:", re.IGNORECASE)
_URL_NOISE = re.compile(r"[\x00-\x20\x7f]+")
_STYLE_ACTIVE = re.compile(r"url\s*\(|expression|@import|behavior|binding|javascript", re.I)
#: The site's own scripts: static/ assets (with a cache-busting version) under the site root.
_OWN_SCRIPT = re.compile(r"(?:/|(?:\.\./)*)static/[\w.-]+\.js\?v=[0-9a-f]+")
_OWN_LINK = re.compile(r"(?:/|(?:\.\./)*)static/[\w.-]+\.(?:css|svg)\?v=[0-9a-f]+")
_OWN_FEED = re.compile(r"(?:/|(?:\.\./)*)feeds/(?:[^/?#]+/)*(?:atom\.xml|rss\.xml|feed\.json)")
_OWN_FORM = re.compile(r"(?:/|(?:\.\./)*)search\.html")
_CSP_REQUIRED = ("default-src 'none'", "script-src 'self'", "object-src 'none'", "base-uri 'none'")


def active_content(doc: Any, *, page: bool) -> list[str]:
    """Everything in ``doc`` (an lxml.html tree) that could run code or load active content.

    - ``<script>``: none, except on a site page (``page``) the site's own: in ``<head>``, no
      inline text, ``src`` = ``static/<name>.js?v=<hash>`` under the site root;
    - no ``on*`` attribute anywhere;
    - no ``javascript:``/``vbscript:``/``livescript:``/``mocha:``/``data:`` URL (control
      characters and spaces removed first, as browsers do) in any URL attribute, except
      ``data:image/*`` in ``<img src>``;
    - no ``iframe object embed applet form base style param math …`` elements, except the
      site's own search forms (``action`` = the site's ``search.html``); ``<svg>`` only on a
      site page and only made of plain shapes (the site's icons);
    - ``<meta http-equiv>`` only in ``<head>`` of a site page and only the site's CSP, which must
      forbid inline scripts and objects; ``<link>`` only in ``<head>``: icon and stylesheet from
      the site's static/, alternate to the site's feeds/;
    - no ``style`` attribute that can load or execute (``url()``, ``expression``, ``@import``,
      ``behavior``, ``-moz-binding``, ``javascript``).
    """
    problems: list[str] = []
    for el in doc.iter():
        if not isinstance(el.tag, str):
            continue  # comments and processing instructions are inert
        tag = el.tag.lower().rpartition("}")[2]
        where = f"<{tag}> {_describe(el)}"
        in_head = any(a.tag == "head" for a in el.iterancestors())
        problems += _element_problem(el, tag, where, page=page, in_head=in_head)
        for name, value in el.attrib.items():
            problems += _attribute_problem(tag, str(name).lower(), value, where)
    return problems


def _element_problem(el: Any, tag: str, where: str, *, page: bool, in_head: bool) -> list[str]:
    if tag in _FORBIDDEN_TAGS:
        return [f"forbidden element {where}"]
    if tag == "svg":
        shapes = all(isinstance(d.tag, str) and d.tag.lower() in _SVG_SHAPES for d in el.iter())
        return [] if page and shapes else [f"svg {where}"]
    if tag == "script":
        own = (page and in_head and not (el.text or "").strip()
               and _OWN_SCRIPT.fullmatch(el.get("src", "")) is not None
               and el.get("type") in (None, "module"))
        return [] if own else [f"script {where}"]
    if tag == "form":
        own = page and _OWN_FORM.fullmatch(el.get("action", "")) is not None
        return [] if own else [f"form {where}"]
    if tag == "link":
        own = page and in_head and _own_link(el.get("rel", ""), el.get("href", ""))
        return [] if own else [f"link {where}"]
    if tag == "meta" and el.get("http-equiv") is not None:
        csp = el.get("content", "")
        own = (page and in_head and el.get("http-equiv", "").lower() == "content-security-policy"
               and all(part in csp for part in _CSP_REQUIRED) and "unsafe-inline" not in csp)
        return [] if own else [f"meta http-equiv {where}"]
    return []


def _own_link(rel: str, href: str) -> bool:
    if rel == "alternate":
        return _OWN_FEED.fullmatch(href) is not None
    return rel in ("icon", "stylesheet") and _OWN_LINK.fullmatch(href) is not None


def _attribute_problem(tag: str, name: str, value: str, where: str) -> list[str]:
    if name.startswith("on"):
        return [f"event handler {name} on {where}"]
    if name == "style" and _STYLE_ACTIVE.search(value):
        return [f"active style on {where}"]
    if name.rpartition("}")[2] not in _URL_ATTRS and ":href" not in name:
        return []
    urls = [c.strip().split(" ")[0] for c in value.split(",")] if name == "srcset" else [value]
    for url in urls:
        squeezed = _URL_NOISE.sub("", url).lower()
        if not _EXECUTABLE_SCHEME.match(squeezed):
            continue
        if tag == "img" and name == "src" and squeezed.startswith("data:image/"):
            continue
        return [f"executable URL {name}={value[:80]!r} on {where}"]
    return []


def _describe(el: Any) -> str:
    text = lxml.html.tostring(el, encoding="unicode", with_tail=False)
    return text[:160].replace("\n", " ")


def site_pages(site: Path) -> list[Path]:
    return sorted(p for p in site.rglob("*.html") if "pagefind" not in p.parts)


def parse_page(path: Path) -> Any:
    return lxml.html.document_fromstring(path.read_bytes())


def parse_fragment(markup: str) -> Any:
    # lxml cannot hold control characters; dropping them only makes the checks stricter
    # ("java\x01script:" becomes "javascript:").
    return lxml.html.fragment_fromstring(_XML_ILLEGAL.sub("", markup), create_parent="div")


def split_post(text: str) -> tuple[dict[str, Any], str]:
    """(front matter as PyYAML reads it, body) of a Hexo post."""
    assert text.startswith("---\n"), text[:80]
    head, sep, body = text[4:].partition("\n---\n")
    assert sep, "no closing --- in the post"
    meta = yaml.safe_load(head)
    assert isinstance(meta, dict)
    return meta, body


# --------------------------------------------------------------------------- static tests


def test_every_vector_reached_the_store(built: Built) -> None:
    assert built.code == 0, built.output
    assert "Traceback" not in built.output
    markers = {v.marker for v in built.vectors}
    found = {m for a in built.articles for m in re.findall(r"XSSV\d{3}", a.title + a.text)}
    assert found == markers  # every entry was parsed, none lost to a feed-level failure
    assert len(built.articles) == len(built.vectors)
    # The hostile payloads reached publishing as data (so the tests below test something).
    assert any("<script>" in a.title for a in built.articles)
    assert any("onerror" in a.author for a in built.articles)


def test_site_pages_hold_no_active_content(built: Built) -> None:
    pages = site_pages(built.site)
    article_pages = [p for p in pages if p.parts[-3] == "a"]
    assert len(article_pages) == len(built.vectors)
    problems = [f"{p.relative_to(built.site)}: {problem}"
                for p in pages for problem in active_content(parse_page(p), page=True)]
    assert problems == []
    # Each page has exactly one CSP meta, first in <head> after the charset.
    for page in pages:
        head = parse_page(page).find("head")
        metas = [m for m in head.iter("meta") if m.get("http-equiv")]
        assert len(metas) == 1 and head.index(metas[0]) <= 1, page


def test_vector_text_is_shown_as_text(built: Built) -> None:
    """Escaping, not deletion: a title holding markup is shown as those characters."""
    by_title = {a.title: a for a in built.articles}
    title = next(t for t in by_title if "<script>" in t)
    page = built.site / article_path(by_title[title].id)
    shown = parse_page(page).find_class("post-title")[0].text_content()
    assert shown == title


def test_hexo_posts_hold_no_active_content(built: Built) -> None:
    posts = sorted(built.hexo.rglob("*.md"))
    assert len(posts) == len(built.articles) == len(built.names)
    by_path = {rel: aid for aid, rel in built.names.items()}
    articles = {a.id: a for a in built.articles}
    problems: list[str] = []
    for post in posts:
        rel = post.relative_to(built.hexo).as_posix()
        meta, body = split_post(post.read_text("utf-8"))
        article = articles[by_path[rel]]
        assert meta["title"] == hexo_text(article.title), rel
        names = (article.category, article.source, article.channel)
        assert meta["categories"] == [hexo_text(n) for n in names], rel
        for key in ("headimg", "thumbnail"):
            assert meta[key] == "" or urlsplit(meta[key]).scheme in ("http", "https"), rel
        problems += [f"{rel}: {p}" for p in active_content(parse_fragment(body), page=False)]
    assert problems == []


def test_published_feeds_hold_no_active_content(built: Built) -> None:
    feeds = sorted((built.site / "feeds").rglob("*"))
    problems: list[str] = []
    checked = 0
    for path in (p for p in feeds if p.is_file()):
        for where, markup in _feed_html_fields(path):
            checked += 1
            problems += [f"{path.name} {where}: {p}"
                         for p in active_content(parse_fragment(markup), page=False)]
    assert checked > 3 * len(built.vectors)
    assert problems == []


def _feed_html_fields(path: Path) -> Iterator[tuple[str, str]]:
    """(where, HTML) of every field a reader may render as HTML; links as ``<a href>``."""
    if path.suffix == ".json":
        doc = json.loads(path.read_text("utf-8"))
        for item in doc["items"]:
            yield item["id"], item["content_html"]
            for key in ("url", "image"):
                if key in item:
                    yield f"{item['id']} {key}", f'<a href="{html.escape(item[key])}">x</a>'
        return
    root = etree.parse(str(path)).getroot()
    if root.tag == f"{{{ATOM}}}feed":
        yield from _atom_fields(root)
    elif root.tag == "rss":
        yield from _rss_fields(root)


def _atom_fields(root: Any) -> Iterator[tuple[str, str]]:
    for node in root.iter(f"{{{ATOM}}}content", f"{{{ATOM}}}summary", f"{{{ATOM}}}title"):
        text = node.text or ""
        # A type="text" field is shown as text; only type="html" may hold markup.
        yield node.tag, text if node.get("type") == "html" else html.escape(text)
    for node in root.iter(f"{{{ATOM}}}link"):
        yield "link", f'<a href="{html.escape(node.get("href", ""))}">x</a>'
    for node in root.iter(f"{{{MEDIA}}}thumbnail"):
        yield "thumbnail", f'<img src="{html.escape(node.get("url", ""))}">'


def _rss_fields(root: Any) -> Iterator[tuple[str, str]]:
    # RSS cannot say whether title and description are text or HTML: readers may take either
    # as HTML, so both are parsed as HTML.
    for node in root.iter("title", "description", f"{{{CONTENT}}}encoded"):
        yield node.tag, node.text or ""
    for node in root.iter("link"):
        yield "link", f'<a href="{html.escape(node.text or "")}">x</a>'
    for node in root.iter(f"{{{MEDIA}}}thumbnail"):
        yield "thumbnail", f'<img src="{html.escape(node.get("url", ""))}">'


def test_the_checker_catches_what_it_should() -> None:
    """The rules are only as good as their detection: each bad case must be reported."""
    bad = [
        "<script>alert(1)</script>", '<img src=x onerror="alert(1)">',
        '<a href=" java&#x09;script:alert(1)">x</a>', '<a href="data:text/html,x">x</a>',
        '<img src="data:text/html,x">', '<iframe src="x"></iframe>', "<object></object>",
        "<embed src=x>", '<form action="x"></form>', '<base href="http://x/">',
        '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">', "<style>*{}</style>",
        '<p style="background:url(x)">x</p>', '<svg><a xlink:href="javascript:alert(1)">x</a></svg>',
        '<video poster="javascript:alert(1)"></video>', '<img srcset="x 1x, javascript:alert(1) 2x">',
    ]
    for markup in bad:
        assert active_content(parse_fragment(markup), page=False), markup
    good = ('<p><a href="https://x/">x</a><img src="data:image/png;base64,AAAA" alt="">'
            '<img src="http://x/a.png"></p><p title="javascript:alert(1)">text</p>')
    assert active_content(parse_fragment(good), page=False) == []


_TAG_OPEN = re.compile(r"<[A-Za-z!/?]")
def test_hexo_front_matter_cannot_open_a_tag(built: Built) -> None:
    """Values Hexo themes print unescaped must hold no tag opener (and no quote in URLs)."""
    problems: list[str] = []
    for post in sorted(built.hexo.rglob("*.md")):
        meta, _ = split_post(post.read_text("utf-8"))
        texts = [meta["title"], meta["author"], *meta["categories"]]
        problems += [f"{post.name}: {t!r}" for t in texts if _TAG_OPEN.search(str(t))]
        problems += [f"{post.name}: {meta['headimg']!r}" for q in "'\"<>"
                     if q in meta["headimg"]]
    assert problems == []


@pytest.fixture(scope="module")
def hexo_site(built: Built, tmp_path_factory: pytest.TempPathFactory) -> HexoResult:
    if shutil.which("npm") is None:
        pytest.skip("npm is not on PATH: cannot install Hexo")
    return hexo_generate(built.hexo, tmp_path_factory.mktemp("hexo-xss"))


@pytest.mark.slow
def test_hexo_renders_every_post_inert(built: Built, hexo_site: HexoResult) -> None:
    """Real Hexo 8 (marked, landscape) over the posts: the article bodies stay inert."""
    assert hexo_site.returncode == 0, hexo_site.output[-3000:]
    assert len(hexo_site.posts) == len(built.articles)
    titles = sorted(p.title for p in hexo_site.posts.values())
    # js-yaml read them back exactly (as hexo_text wrote them: < > made full-width)
    assert titles == sorted(hexo_text(a.title) for a in built.articles)
    problems: list[str] = []
    for post in hexo_site.posts.values():
        assert post.html is not None, post.source
        doc = parse_page(post.html)
        for node in doc.xpath(_HEXO_BODY):
            problems += [f"{post.source}: {p}" for p in active_content(node, page=False)]
    assert problems == []


@pytest.mark.slow
def test_hexo_category_lists_are_inert(built: Built, hexo_site: HexoResult) -> None:
    problems: list[str] = []
    for post in hexo_site.posts.values():
        assert post.html is not None
        for node in parse_page(post.html).xpath(_HEXO_CATEGORIES):
            problems += [f"{post.source}: {p}" for p in active_content(node, page=False)]
    assert problems == []


#: The parts of a landscape post page made from the post: its title and body; its categories.
_HEXO_BODY = ("//*[contains(@class, 'article-entry')] | //*[contains(@class, 'article-title')]")
_HEXO_CATEGORIES = ("//*[contains(@class, 'article-category')] | "
                    "//*[contains(@class, 'widget-wrap')]")


# --------------------------------------------------------------------------- no false positives

#: Ordinary article markup that must survive sanitising (with its text, links and pictures).
HARMLESS = """<h2>小标题</h2><h3>Sub &amp; more</h3>
<p>Text with <a href="https://example.org/page?a=1&amp;b=2">a link</a>, <em>em</em>,
<strong>strong</strong>, <code>x &lt; y</code> and {{ braces }}.</p>
<ul><li>one</li><li>two<ol><li>nested</li></ol></li></ul>
<table><thead><tr><th>列</th><th>Col</th></tr></thead>
<tbody><tr><td>1</td><td colspan="1">二</td></tr></tbody></table>
<pre><code>if (a &lt; b) {
  return "&lt;script&gt;";
}</code></pre>
<blockquote><p>quoted</p></blockquote>
<p><img src="https://img.example.org/a.jpg" alt="pic"><img src="data:image/png;base64,iVBORw0KGgo=" alt="inline"></p>
"""
_KEPT = ("table", "thead", "tbody", "tfoot", "tr", "td", "th", "caption", "ul", "ol", "li", "dl",
         "dt", "dd", "a", "img", "h1", "h2", "h3", "h4", "h5", "h6", "code", "pre", "p",
         "blockquote", "em", "strong", "b", "i")
#: What sanitising drops with its content on purpose (rsspage.sanitise._DROP_WITH_CONTENT).
_DROPPED = frozenset({"script", "style", "noscript", "template", "iframe", "object", "embed",
                      "frameset", "noembed", "noframes", "title", "textarea", "select", "form",
                      "svg", "math", "head"})


def harmless_feed(expectations: list[dict[str, Any]]) -> bytes:
    root = etree.Element("rss", version="2.0")
    channel = _sub(root, "channel")
    _sub(channel, "title", "harmless")
    items = [("DP-HARMLESS", HARMLESS)] + [
        (f"DP{n:03d}", case["payload"]) for n, case in enumerate(expectations)]
    for n, (title, payload) in enumerate(items):
        item = _sub(channel, "item")
        _sub(item, "title", title)
        _sub(item, "guid", title, isPermaLink="false")
        _sub(item, "link", f"https://example.org/{title}")
        _sub(item, "pubDate", format_datetime(BASE_DATE + timedelta(minutes=n), usegmt=True))
        _sub(item, "description", _XML_ILLEGAL.sub("", payload))
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


@dataclass(frozen=True)
class HarmlessRun:
    site: Path
    hexo: Path
    #: Title → (article, its sanitised content as the site shows it, parsed).
    pages: dict[str, tuple[Article, Any]]
    expectations: list[dict[str, Any]]


@pytest.fixture(scope="module")
def harmless(tmp_path_factory: pytest.TempPathFactory, shared_fixtures: Path) -> HarmlessRun:
    expectations = json.loads((shared_fixtures / "xss" / "dompurify-expect.json").read_text())
    folder = tmp_path_factory.mktemp("harmless")
    feed = Feed("/harmless", "rss", names=("测试", "无害", "标记"))
    with LocalServer() as server:
        server.route(feed.path, respond(200, harmless_feed(expectations)))
        config = write_config(folder, server.base_url, [feed])
        run = run_cli("update", "-c", str(config), timeout=300)
    assert run.code == 0, run.out + run.err
    with Store.open(folder / "state") as store:
        articles = list(store.articles())
    pages = {}
    for article in articles:
        doc = parse_page(folder / "site" / article_path(article.id))
        pages[article.title] = (article, doc.xpath("//div[@class='content']")[0])
    return HarmlessRun(folder / "site", folder / "hexo", pages, expectations)


def test_harmless_markup_survives_into_the_article_page(harmless: HarmlessRun) -> None:
    _, content = harmless.pages["DP-HARMLESS"]
    assert Counter(_facts(content)) == Counter(_facts(parse_fragment(HARMLESS)))
    links = [a.get("href") for a in content.iter("a")]
    assert links == ["https://example.org/page?a=1&b=2"]
    pictures = [(i.get("src"), i.get("alt")) for i in content.iter("img")]
    assert pictures == [("https://img.example.org/a.jpg", "pic"),
                        ("data:image/png;base64,iVBORw0KGgo=", "inline")]
    assert all(i.get("referrerpolicy") == "no-referrer" for i in content.iter("img"))
    code = content.xpath(".//pre/code")[0].text_content()
    assert code == 'if (a < b) {\n  return "<script>";\n}'
    assert "{{ braces }}" in content.text_content()


def test_harmless_markup_survives_into_the_hexo_post(harmless: HarmlessRun) -> None:
    posts = {split_post(p.read_text("utf-8"))[0]["title"]: p for p in harmless.hexo.rglob("*.md")}
    _, body = split_post(posts["DP-HARMLESS"].read_text("utf-8"))
    content = parse_fragment(body).find("div")  # the post's <div>, before the source link
    assert Counter(_facts(content)) == Counter(_facts(parse_fragment(HARMLESS)))
    assert [i.get("src") for i in content.iter("img")][1].startswith("data:image/png;base64,")


def test_dompurify_safe_markup_survives(harmless: HarmlessRun) -> None:
    """What DOMPurify keeps of each payload (its ``expected``, or one of its accepted outputs),
    as far as it is ordinary article markup (:data:`_KEPT` with its text), rsspage keeps too.
    Text inside elements rsspage drops on purpose with their content (:data:`_DROPPED`: SVG,
    MathML, forms …) is left out."""
    lost: list[str] = []
    checked = 0
    for n, case in enumerate(harmless.expectations):
        if n in _ROOT_CASES:
            continue  # test_an_unknown_root_element_keeps_its_content
        ours = Counter(_facts(harmless.pages[f"DP{n:03d}"][1]))
        missing = [Counter(_facts(parse_fragment(e))) - ours for e in _accepted(case)]
        checked += len(_facts(parse_fragment(_accepted(case)[0])))
        if all(missing):
            lost.append(f"DP{n:03d} {case.get('title', '')!r}: lost {sorted(missing[0])}")
    assert lost == []
    assert checked >= 80  # the fixtures do hold ordinary markup (89 elements)


#: Payloads with a ``<root>`` element, which html5ever drops with its content.
_ROOT_CASES = (125,)


def test_an_unknown_root_element_keeps_its_content(harmless: HarmlessRun) -> None:
    for n in _ROOT_CASES:
        case = harmless.expectations[n]
        ours = Counter(_facts(harmless.pages[f"DP{n:03d}"][1]))
        assert not Counter(_facts(parse_fragment(_accepted(case)[0]))) - ours
        assert "//[" in harmless.pages[f"DP{n:03d}"][1].text_content()


def _accepted(case: dict[str, Any]) -> list[str]:
    expected = case["expected"]
    return [expected] if isinstance(expected, str) else list(expected)


def _facts(root: Any) -> list[tuple[str, str]]:
    """(tag, whitespace-normalised text) of every kept element outside dropped ones."""
    facts = []
    for el in root.iter(*_KEPT):
        if any(a.tag in _DROPPED for a in el.iterancestors()):
            continue
        facts.append((el.tag, " ".join(_text_outside_dropped(el).split())))
    return facts


def _text_outside_dropped(el: Any) -> str:
    parts = [el.text or ""]
    for child in el:
        if isinstance(child.tag, str) and child.tag not in _DROPPED:
            parts.append(_text_outside_dropped(child))
        parts.append(child.tail or "")
    return "".join(parts)


# --------------------------------------------------------------------------- in Chromium



#: Chromium resolves no host name at all (only 127.0.0.1 literals work), so no link prefetch,
#: preconnect or stray request can leave the machine.
_HOST_RULES = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"
_SETTLE = "() => new Promise(r => requestAnimationFrame(() => setTimeout(r, 30)))"
_SEARCH_DONE = """() => {
  const s = document.getElementById("search-status");
  return s.textContent !== "" && s.textContent !== s.dataset.searching;
}"""
SEARCHES = ("alert", "script", "onerror", "javascript", "XSSV007", "img src")


class _StaticSite(http.server.ThreadingHTTPServer):
    """The built site from a plain static server on 127.0.0.1, as any static host serves it."""

    def __init__(self, root: Path) -> None:
        handler = functools.partial(_QuietHandler, directory=str(root))
        super().__init__(("127.0.0.1", 0), handler)
        self.origin = f"http://127.0.0.1:{self.server_address[1]}"
        self._thread = threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> _StaticSite:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: test output is for failures."""


@dataclass
class Guard:
    """The request rule, on top of what :class:`browser.BrowserLog` records.

    Allowed: the page's own document; scripts, styles, fonts and the icon from the site's
    ``static/``; on ``search.html`` only, scripts and fetches of the site's ``pagefind/``; images
    and media from any origin (the site's CSP says ``img-src *``, so a picture in an article may
    come from anywhere). Everything else is a problem: any other ``fetch``/XHR/beacon/ping/
    WebSocket, any other request type, any navigation but the page being opened, any request
    made by a sub-frame. Requests to other origins are answered here with an abort, so nothing
    leaves the machine.
    """

    origin: str
    page_url: str = ""
    problems: list[str] = field(default_factory=list)
    aborted: set[str] = field(default_factory=set)

    def __call__(self, route: Any, request: Any) -> None:
        url = request.url
        same = url.startswith(self.origin + "/")
        if problem := self._problem(url, request.resource_type, same, request.frame):
            self.problems.append(f"{self.page_url}: {problem}")
        if same:
            route.continue_()
        else:
            self.aborted.add(_bare(url))
            route.abort()

    def _problem(self, url: str, kind: str, same: bool, frame: Any) -> str:
        if frame.parent_frame is not None:
            return f"request from a frame: {kind} {url}"
        if kind == "document":
            return "" if _bare(url) == _bare(self.page_url) else f"navigation to {url}"
        if kind in ("image", "media"):
            return ""
        path = unquote(urlsplit(url).path) if same else ""
        searching = urlsplit(self.page_url).path.endswith("/search.html")
        if searching and path.startswith("/pagefind/") and kind in ("fetch", "xhr", "script"):
            return ""
        if path.startswith("/static/") and kind in ("script", "stylesheet", "font", "other"):
            return ""  # "other": the favicon
        return f"{kind} to {url}"

    def tolerated(self, line: str) -> bool:
        """BrowserLog lines that this rule allows: foreign pictures, and our aborts of them."""
        kind, _, detail = line.partition(": ")
        if kind == "foreign_requests":
            return detail.split(" ", 1)[0] in ("image", "media")
        if kind == "failed_requests":
            return _bare(detail.rsplit(" (", 1)[0]) in self.aborted
        if kind == "console_errors" and detail.startswith("Failed to load resource"):
            return _bare(detail.rsplit(" (", 1)[-1].removesuffix(")")) in self.aborted
        return False


def _bare(url: str) -> str:
    """``url`` without its fragment, which never reaches the network."""
    return url.split("#", 1)[0]


@pytest.mark.slow
def test_no_vector_runs_in_chromium(
    built: Built, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(browser, "ARGS", [*browser.ARGS, _HOST_RULES])
    executable = browser.chromium_or_skip()
    problems: list[str] = []
    with _StaticSite(built.site) as server, browser.Browser(
        executable, shots=tmp_path, allowed=[server.origin]
    ) as chromium:
        tab = chromium.open()
        guard = Guard(server.origin)
        tab.context.route("**/*", guard)
        for path in site_pages(built.site):
            guard.page_url = f"{server.origin}/{quote(path.relative_to(built.site).as_posix())}"
            tab.goto(guard.page_url)
            problems += _settled_log(tab, guard)
        shown = sum(_search(tab, guard, term, problems) for term in SEARCHES)
        tab.close()
    assert problems + guard.problems == []
    assert shown >= len(SEARCHES)  # results made from vector text were rendered


_HOOK_CHECK = {
    "bad.html": "<script>alert(1); print(); fetch('http://127.0.0.1:9/x').catch(() => 0);</script>"
                "<img src='http://127.0.0.1:9/p.png'>",
    "csp.html": "<meta http-equiv='Content-Security-Policy' content=\"script-src 'self'\">"
                "<img src=x onerror='document.title=1'>",
}


@pytest.mark.slow
def test_the_browser_hooks_catch_what_they_should(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without this, "nothing was recorded" could mean "nothing was watched"."""
    monkeypatch.setattr(browser, "ARGS", [*browser.ARGS, _HOST_RULES])
    for name, markup in _HOOK_CHECK.items():
        (tmp_path / name).write_text(f"<!doctype html><html><head>{markup}</head></html>")
    found: dict[str, list[str]] = {}
    with _StaticSite(tmp_path) as server, browser.Browser(
        browser.chromium_or_skip(), shots=tmp_path, allowed=[server.origin]
    ) as chromium:
        tab = chromium.open()
        guard = Guard(server.origin)
        tab.context.route("**/*", guard)
        for name in _HOOK_CHECK:
            guard.page_url = f"{server.origin}/{name}"
            tab.goto(guard.page_url)
            found[name] = _settled_log(tab, guard)
        tab.close()
    assert any("dialogs: alert" in line for line in found["bad.html"])
    assert any("prints:" in line for line in found["bad.html"])
    assert [p for p in guard.problems if "fetch to http://127.0.0.1:9/x" in p]
    assert not any("p.png" in line for line in found["bad.html"])  # a picture is allowed
    assert any("csp_violations" in line for line in found["csp.html"])


def _search(tab: browser.Tab, guard: Guard, term: str, problems: list[str]) -> int:
    """Search the site for ``term``; the rendered results must be inert too."""
    guard.page_url = f"{guard.origin}/search.html?q={quote(term)}"
    tab.goto(guard.page_url)
    tab.page.wait_for_function(_SEARCH_DONE)
    results = tab.page.inner_html("#search-results")
    problems += [f"search {term!r}: {p}" for p in active_content(parse_fragment(results),
                                                                  page=False)]
    problems += _settled_log(tab, guard)
    return int(tab.page.locator("#search-results li").count())


def _settled_log(tab: browser.Tab, guard: Guard) -> list[str]:
    """The page's problems once load-time handlers have run and CSP reports have arrived."""
    tab.page.evaluate(_SETTLE)
    found = [f"{guard.page_url}: {line}" for line in tab.log.problems(guard.tolerated)]
    tab.log.clear()
    return found
