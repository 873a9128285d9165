"""Issue 11, the parsing half: classes of feeds that were refused or garbled, end to end.

Every document here is written by this test and served over HTTP from 127.0.0.1, with and
without a charset in the Content-Type, with and without a byte-order mark and an XML
declaration; one real ``rsspage update`` reads them all, and the store and the published Hexo
posts are checked. The classes:

1. UTF-16 and UTF-32, with and without a BOM (the fetch stage refused them as "not a feed").
2. RSS and Atom that start with an XHTML doctype (refused as HTML pages).
3. Windows-1252 in numeric references (``&#146;``) and in text declared ISO-8859-1; control
   characters; double-encoded UTF-8 (``â€¦``).
4. Legacy encodings with no declaration at all (stored as mojibake), the RFC 7303 rules for
   ``text/xml``, and a BOM against a contradicting declaration or charset.
5. Empty items: counted, skipped, shown by ``rsspage status``.
6. A date in the future: clamped once, then left alone (no rewrite on every run).
"""

from __future__ import annotations

import codecs
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import CliRun, run_cli
from servers import Exchange, LocalServer, respond

BASE = "https://enc.example.org"
#: language → (title, body): real sentences, long enough for a detector to know the language.
TEXTS = {
    "zh": ("小米再揽大将：原上汽通用五菱销售副总加盟", "赌上雷军全部声誉造车，小米再揽大将，销售体系迎来新的负责人。"),
    "ru": ("Учёные открыли новый способ хранения энергии",
           "Новости науки: учёные из Москвы открыли новый способ хранения энергии в батареях."),
    "he": ("ראש הממשלה נפגש עם נשיא ארצות הברית",
           "ראש הממשלה נפגש היום עם נשיא ארצות הברית בוושינגטון ודנו במצב הביטחוני באזור."),
    "th": ("นายกรัฐมนตรีประกาศมาตรการใหม่",
           "นายกรัฐมนตรีประกาศมาตรการใหม่เพื่อกระตุ้นเศรษฐกิจของประเทศไทยในปีนี้อย่างเร่งด่วน"),
    "el": ("Ο πρωθυπουργός ανακοίνωσε νέα μέτρα",
           "Ο πρωθυπουργός ανακοίνωσε σήμερα νέα μέτρα για την οικονομία και την ανάπτυξη της χώρας."),
    "pl": ("Rząd przyjął nową ustawę o ochronie środowiska",
           "Rząd przyjął dziś nową ustawę o ochronie środowiska naturalnego i zieleni w miastach."),
}
XHTML_DOCTYPE = ('<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" '
                 '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">')
CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class Case:
    body: bytes
    content_type: str
    title: str
    text: str


def declaration(encoding: str | None) -> str:
    return f'<?xml version="1.0" encoding="{encoding}"?>' if encoding else ""


def rss(name: str, title: str, body: str, prolog: str = "", extra: str = "") -> str:
    return (f'{prolog}<rss version="2.0"><channel><title>{title}</title><link>{BASE}/</link>'
            f"<item><title>{title} [{name}]</title><link>{BASE}/{name}</link>"
            f"<description>{body}</description><guid>{name}</guid>{extra}</item></channel></rss>")


def atom(name: str, title: str, body: str, prolog: str = "") -> str:
    return (f'{prolog}<feed xmlns="http://www.w3.org/2005/Atom"><title>{title}</title>'
            f'<id>urn:{name}</id><updated>2026-12-01T08:00:00Z</updated><entry><title>{title}'
            f' [{name}]</title><link href="{BASE}/{name}"/><id>urn:{name}:1</id>'
            f"<updated>2026-12-01T08:00:00Z</updated><summary>{body}</summary></entry></feed>")


def wide_cases() -> dict[str, Case]:
    """UTF-16/32 LE/BE, each with and without a BOM, a declaration and a charset."""
    cases = {}
    title, body = TEXTS["zh"][0] + " " + TEXTS["ru"][0], TEXTS["zh"][1]
    boms = {"utf-16-le": codecs.BOM_UTF16_LE, "utf-16-be": codecs.BOM_UTF16_BE,
            "utf-32-le": codecs.BOM_UTF32_LE, "utf-32-be": codecs.BOM_UTF32_BE}
    for codec, bom in boms.items():
        family = codec[:6].upper()  # UTF-16 / UTF-32: what documents declare
        for with_bom in (True, False):
            for declared in (True, False):
                for charset in (True, False):
                    name = f"{codec}-{'bom' if with_bom else 'nobom'}-" \
                           f"{'decl' if declared else 'nodecl'}-{'cs' if charset else 'nocs'}"
                    label = family if with_bom else codec.replace("-le", "le").replace("-be", "be")
                    document = rss(name, title, body, declaration(label if declared else None))
                    ctype = "application/rss+xml" + (f"; charset={label}" if charset else "")
                    raw = (bom if with_bom else b"") + document.encode(codec)
                    cases[name] = Case(raw, ctype, title, body)
    return cases


def xhtml_doctype_cases() -> dict[str, Case]:
    title, body = TEXTS["zh"]
    return {
        "xhtml-rss-utf8": Case(rss("xhtml-rss-utf8", title, body, declaration("UTF-8") + XHTML_DOCTYPE)
                               .encode(), "application/rss+xml; charset=utf-8", title, body),
        "xhtml-rss-as-html": Case(rss("xhtml-rss-as-html", title, body, XHTML_DOCTYPE).encode(),
                                  "text/html; charset=utf-8", title, body),
        "xhtml-atom-utf16": Case(codecs.BOM_UTF16_LE + atom("xhtml-atom-utf16", title, body,
                                 XHTML_DOCTYPE).encode("utf-16-le"), "application/atom+xml", title, body),
        "xhtml-rss-gbk": Case(rss("xhtml-rss-gbk", title, body, declaration("GBK") + "\n<!-- x -->"
                              + XHTML_DOCTYPE).encode("gbk"), "text/html", title, body),
    }


def windows_1252_cases() -> dict[str, Case]:
    title, text = "Don’t stop… now", "It’s here… “quoted” — dash"
    refs = ("Don&#146;t stop&#133; now", "It&#146;s here&#133; &#147;quoted&#148; &#151; dash")
    raw_title, raw_body = "Don\x92t stop\x85 now", "It\x92s here\x85 \x93quoted\x94 \x97 dash"
    mojibake = ("Café au lait… naïve".encode().decode("cp1252"), "Crème brûlée — déjà vu".encode()
                .decode("cp1252"))
    cases = {
        "cp1252-references": Case(rss("cp1252-references", *refs, declaration("UTF-8")).encode(),
                                  "application/rss+xml; charset=utf-8", title, text),
        "cp1252-references-cdata": Case(rss("cp1252-references-cdata", refs[0], f"<![CDATA[<p>{refs[1]}"
                                            "</p>]]>").encode(), "application/rss+xml", title, text),
        "double-encoded-utf8": Case(rss("double-encoded-utf8", *mojibake).encode(),
                                    "application/rss+xml; charset=utf-8", "Café au lait… naïve",
                                    "Crème brûlée — déjà vu"),
        "control-characters": Case(rss("control-characters", "Bell&#7;s and&#1; whistles",
                                       "Vertical&#11;tab and &#x1b;[31m escape").encode(),
                                   "application/rss+xml", "Bells and whistles",
                                   "Verticaltab and [31m escape"),
    }
    ways = {"header": (None, "application/rss+xml; charset=ISO-8859-1"),
            "declaration": ("ISO-8859-1", "application/rss+xml"),
            "both": ("iso-8859-1", "text/xml; charset=iso-8859-1"),
            "latin1-label": ("latin1", "text/xml")}
    for way, (declared, ctype) in ways.items():
        name = f"latin1-raw-{way}"
        document = rss(name, raw_title, raw_body, declaration(declared))
        cases[name] = Case(document.encode("latin-1"), ctype, title, text)
    return cases


LEGACY = [("ru", "koi8-r"), ("ru", "windows-1251"), ("he", "windows-1255"), ("th", "tis-620"),
          ("el", "iso-8859-7"), ("pl", "iso-8859-2")]


def legacy_cases() -> dict[str, Case]:
    """Each legacy encoding every way: undeclared (detected), by charset, by declaration, by
    declaration under text/xml without a charset (RFC 7303: no US-ASCII default any more)."""
    cases = {}
    for language, encoding in LEGACY:
        title, body = TEXTS[language]
        ways = {"undeclared": (None, "application/rss+xml"),
                "undeclared-text-xml": (None, "text/xml"),
                "charset": (None, f"application/rss+xml; charset={encoding}"),
                "declaration": (encoding, "application/xml"),
                "declaration-text-xml": (encoding, "text/xml")}
        for way, (declared, ctype) in ways.items():
            name = f"{encoding}-{way}"
            document = rss(name, title, body, declaration(declared))
            cases[name] = Case(document.encode(encoding), ctype, title, body)
    return cases


def bom_cases() -> dict[str, Case]:
    """A BOM wins over a contradicting declaration or charset."""
    title, body = TEXTS["ru"]

    def document(name: str, declared: str | None) -> str:
        return rss(name, title, body, declaration(declared))

    return {
        "bom-utf8-declares-koi8": Case(codecs.BOM_UTF8 + document("bom-utf8-declares-koi8", "KOI8-R")
                                       .encode(), "application/rss+xml", title, body),
        "bom-utf16-declares-1251": Case(codecs.BOM_UTF16_LE + document("bom-utf16-declares-1251",
                                        "windows-1251").encode("utf-16-le"), "application/xml",
                                        title, body),
        "bom-utf32-charset-koi8": Case(codecs.BOM_UTF32_LE + document("bom-utf32-charset-koi8", None)
                                       .encode("utf-32-le"), "text/xml; charset=koi8-r", title, body),
    }


# Each item's title ends with its case's name: the same story from many feeds would otherwise
# be stored once (issue 12's duplicates), and each case is checked in its own article and post.
ALL_CASES = {name: replace(case, title=f"{case.title} [{name}]") for name, case in {
    **wide_cases(), **xhtml_doctype_cases(), **windows_1252_cases(), **legacy_cases(),
    **bom_cases()}.items()}

EMPTY_ITEMS = (
    '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
    'xmlns:georss="http://www.georss.org/georss" xmlns:media="http://search.yahoo.com/mrss/">'
    f"<channel><title>Empty items</title><link>{BASE}/</link>"
    f"<item><title>A real one</title><link>{BASE}/real</link><description>text</description></item>"
    "<item><georss:point>45.256 -71.92</georss:point></item>"
    '<item><media:content medium="image"/><pubDate>Thu, 21 Jul 2022 09:22:55 GMT</pubDate></item>'
    f"<item><link>{BASE}/only-link</link></item>"
    f'<item><enclosure url="{BASE}/only-picture.jpg" type="image/jpeg" length="1"/></item>'
    "<item>"  # truncated: the document ends here
).encode()


@dataclass
class Run:
    run: CliRun
    urls: dict[str, str]
    rows: dict[str, sqlite3.Row]  # feed URL → its one article (the first if several)
    feeds: dict[str, sqlite3.Row]
    articles: dict[str, list[sqlite3.Row]]
    posts: dict[str, dict[str, Any]]  # article link → the post's front matter + body
    config: Path


def write_config(folder: Path, feeds: list[dict[str, Any]]) -> Path:
    config = {"feeds": feeds, "limits": {"items_per_feed": 20},
              "fetch": {"timeout": 20, "retries": 0, "concurrency": 16, "per_host": 16},
              "output": {"state": "state", "hexo": "hexo", "site": None}}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "rsspage.yml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def read_posts(hexo: Path) -> dict[str, dict[str, Any]]:
    posts = {}
    for path in hexo.rglob("*.md"):
        text = path.read_text("utf-8")
        _, front, body = text.split("---\n", 2)
        meta = yaml.safe_load(front)
        link = re.findall(r'href="([^"]+)"', body)
        if link:
            posts[link[-1]] = {**meta, "body": body, "raw": text}
    return posts


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    tmp = tmp_path_factory.mktemp("encodings")
    with LocalServer() as server:
        urls = {name: server.route(f"/enc/{name}", respond(200, case.body,
                                                           content_type=case.content_type))
                for name, case in ALL_CASES.items()}
        urls["empty-items"] = server.route("/enc/empty-items", respond(
            200, EMPTY_ITEMS, content_type="application/rss+xml"))
        urls["xhtml-page"] = server.route("/enc/xhtml-page", respond(200, (
            f'<?xml version="1.0" encoding="UTF-8"?>{XHTML_DOCTYPE}<html xmlns="http://www.w3.org/'
            '1999/xhtml"><head><title>Not a feed</title></head><body><p>Hi</p></body></html>')
            .encode(), content_type="application/xhtml+xml"))
        feeds = [{"url": url, "category": "编码", "source": "编码", "channel": name}
                 for name, url in urls.items()]
        config = write_config(tmp, feeds)
        result = run_cli("update", "-c", str(config), timeout=300)
    with sqlite3.connect(tmp / "state" / "rsspage.sqlite3") as conn:
        conn.row_factory = sqlite3.Row
        feed_rows = {r["key"]: r for r in conn.execute("SELECT * FROM feeds")}
        articles: dict[str, list[sqlite3.Row]] = {}
        for row in conn.execute("SELECT * FROM articles ORDER BY link"):
            articles.setdefault(row["feed_key"], []).append(row)
    rows = {key: found[0] for key, found in articles.items()}
    yield Run(result, urls, rows, feed_rows, articles, read_posts(tmp / "hexo"), config)


def check_case(run: Run, name: str) -> None:
    case, url = ALL_CASES[name], run.urls[name]
    assert run.feeds[url]["last_error"] is None, (name, run.feeds[url]["last_error"])
    row = run.rows[url]
    assert (row["title"], row["text"]) == (case.title, case.text), name
    post = run.posts[f"{BASE}/{name}"]
    assert post["title"] == case.title, name
    assert case.text in post["body"], name
    for value in (row["title"], row["text"], row["content_html"], post["raw"]):
        assert not CONTROLS.search(value), (name, value)


def test_the_run_ends_cleanly(run: Run) -> None:
    assert run.run.code == 1, run.run.out[-2000:] + run.run.err[-2000:]  # the XHTML page fails
    assert "Traceback" not in run.run.out + run.run.err
    failed = [url for url, row in run.feeds.items() if row["last_error"]]
    assert failed == [run.urls["xhtml-page"]]


@pytest.mark.parametrize("name", sorted(wide_cases()))
def test_utf16_and_utf32_with_or_without_bom(run: Run, name: str) -> None:
    check_case(run, name)


@pytest.mark.parametrize("name", sorted(xhtml_doctype_cases()))
def test_an_xhtml_doctype_is_no_html_page(run: Run, name: str) -> None:
    check_case(run, name)


def test_an_xhtml_page_is_still_refused_as_one(run: Run) -> None:
    error = run.feeds[run.urls["xhtml-page"]]["last_error"]
    assert error == "not a feed: an HTML page (application/xhtml+xml)"


@pytest.mark.parametrize("name", sorted(windows_1252_cases()))
def test_windows_1252_references_bytes_controls_and_double_encoding(run: Run, name: str) -> None:
    check_case(run, name)


@pytest.mark.parametrize("name", sorted(legacy_cases()))
def test_legacy_encodings_declared_or_not(run: Run, name: str) -> None:
    check_case(run, name)


@pytest.mark.parametrize("name", sorted(bom_cases()))
def test_a_bom_beats_a_contradicting_declaration_or_charset(run: Run, name: str) -> None:
    check_case(run, name)


def test_empty_items_are_skipped_counted_and_shown_by_status(run: Run) -> None:
    url = run.urls["empty-items"]
    rows = run.articles[url]
    assert sorted(r["title"] for r in rows) == sorted(["A real one", f"{BASE}/only-link", "无标题"])
    picture = next(r for r in rows if r["title"] == "无标题")
    assert picture["image"] == f"{BASE}/only-picture.jpg"
    assert run.feeds[url]["empty_items"] == 3
    status = run_cli("status", "-c", str(run.config))
    assert status.code == 0, status.err
    assert f"{url}: 3 empty items skipped in its last document (no title, link, text or " \
           "picture)" in status.out
    assert status.out.count("empty item") == 1  # only the feed that had some


def test_a_clamped_future_date_is_kept_from_run_to_run(tmp_path: Path) -> None:
    documents = {"date": "Thu, 21 Jul 2122 09:22:55 GMT"}

    def feed(exchange: Exchange) -> None:
        body = rss("future", "From the future", "text",
                   extra=f"<pubDate>{documents['date']}</pubDate>").encode()
        exchange.respond(200, body, {"Content-Type": "application/rss+xml"})

    with LocalServer() as server:
        url = server.route("/future", feed)
        config = write_config(tmp_path, [{"url": url, "category": "c", "source": "s",
                                          "channel": "future"}])
        state = tmp_path / "state" / "rsspage.sqlite3"

        def update() -> tuple[sqlite3.Row, dict[Path, bytes]]:
            result = run_cli("update", "--all", "-c", str(config))
            assert result.code == 0, result.out + result.err
            with sqlite3.connect(state) as conn:
                conn.row_factory = sqlite3.Row
                (row,) = conn.execute("SELECT * FROM articles").fetchall()
            posts = {p: p.read_bytes() for p in (tmp_path / "hexo").rglob("*.md")}
            return row, posts

        first, posts = update()
        assert first["date_clamped"] and first["clamped_from"].startswith("2122-07-21")
        again, posts_again = update()
        assert again["published"] == first["published"]
        assert again["last_changed"] == first["last_changed"]  # not rewritten
        assert posts_again == posts
        documents["date"] = "Fri, 22 Jul 2122 09:22:55 GMT"  # the feed's own date changes
        moved, _ = update()
        assert moved["published"] > first["published"] and moved["date_clamped"]
        assert moved["clamped_from"].startswith("2122-07-22")


