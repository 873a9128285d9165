"""End to end: posts from publish_hexo, built by a real Hexo 8, come out exactly as written."""

from __future__ import annotations

import random
import shutil
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import lxml.etree
import lxml.html
import pytest

from hexo_harness import VOLANTIS, HexoResult, hexo_generate
from rsspage.publish.hexo import hexo_text, publish_hexo
from rsspage.publish.hexo_dates import date_form
from rsspage.publish.writer import OutputWriter
from rsspage.types import Article

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not on PATH: cannot install Hexo"),
]

RICH_HTML = """\
<p>Plain *bold* and _em_ and **strong** stay text; {{ x }} and {% raw %}y{% endraw %} too.</p>

    <p>indented four spaces: not code</p>

<pre>line1

WHITESPACE_LINE
line2</pre>
<p>```js</p>
<p>~~~</p>
<blockquote>
> quoted
- item
1. one
</blockquote>
""".replace("WHITESPACE_LINE", "  ")
# Pieces that break naive YAML, Markdown, Nunjucks or file naming.
PIECES = [
    "'", '"', ":", ": ", "#", " #", "- ", "[", "]", "{", "}", "*", "&", "|", ">", "!", "%", "@",
    "`", "\\", "\n", "\t", "\x07", "\x85", "\u2028", "\u200e", "\u202e", "\ufeff", "../", "..",
    " ", "_", "~", "yes", "null", "1.5", "2022-07-21", "e\u0301", "上涨3.27%", "{{ x }}",
    "{% raw %}", "😀", "👨\u200d👩\u200d👧", "新媒体", "快科技（原驱动之家）", "Ａ", "word",
]
CATEGORY_POOL = ["新媒体", "a: b", "- x", "yes", "1.5", "#tag", "it's", "C\\D", "空 格", "_under",
                 ".dot", "上涨%", "q?", "x\ty"]


def article(n: int, **changes: object) -> Article:
    base = Article(
        id=f"id-{n}", feed_key="/test", title=f"文章 {n}", link=f"https://example.com/{n}?a=1&b=2",
        published=datetime(2022, 7, 21, 17, 22, 55, tzinfo=UTC) + timedelta(minutes=n),
        date_estimated=False, date_clamped=False, updated=None, author="",
        category="新媒体", source="快科技（原驱动之家）", channel="最新新闻",
        content_html=f"<p>正文 {n}</p>", text="", image="", content_hash="",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def tricky_articles() -> list[Article]:
    named = [
        "赌上雷军全部声誉造车 小米再揽大将：原上汽通用五菱销售副总加盟",
        "上涨3.27%", "上涨3.27%", "100% 确定", "He said \"hi\" & it's: ok # not a comment",
        "- [x]: *y* | z", "{{ site.title }} {% raw %}x{% endraw %}", "🚀 发射 👨\u200d👩\u200d👧",
        "line1\nline2\tend", "_draft", ".hidden", "\x07bell", "yes", "C:\\temp\\a*b?.md", "CON",
        "# heading?", "",
    ]
    posts = [article(i, title=title) for i, title in enumerate(named)]
    posts.append(article(len(posts), title="富文本 rich", content_html=RICH_HTML,
                         image="https://img.example.com/a.jpg?x='1'"))
    rng = random.Random(20220721)
    for i in range(len(posts), len(posts) + 150):
        title = "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 8)))
        names = {key: rng.choice(CATEGORY_POOL) for key in ("category", "source", "channel")}
        posts.append(article(i, title=title, **names))
    return posts


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Article], dict[str, str],
                                                              HexoResult]:
    tmp = tmp_path_factory.mktemp("hexo")
    posts = tricky_articles()
    writer = OutputWriter(tmp / "posts")  # its manifest in the posts folder, as in use
    names = publish_hexo(posts, writer, {})
    writer.finish()
    return posts, names, hexo_generate(tmp / "posts", tmp / "work")


def test_hexo_generates_without_errors_or_warnings(built: tuple[list[Article], dict[str, str],
                                                               HexoResult]) -> None:
    _, _, result = built
    assert result.returncode == 0, result.output
    assert result.problem_lines() == [], result.output


def test_every_post_reads_back_exactly(built: tuple[list[Article], dict[str, str],
                                                    HexoResult]) -> None:
    posts, names, result = built
    assert set(result.posts) == set(names.values())
    for post in posts:
        seen = result.posts[names[post.id]]
        assert seen.title == hexo_text(post.title), names[post.id]
        assert seen.categories == tuple(
            hexo_text(n) for n in (post.category, post.source, post.channel)), names[post.id]
        assert seen.date == post.published.replace(microsecond=0)
        assert seen.html is not None, names[post.id]


def test_the_manifest_beside_the_posts_is_not_published(
        built: tuple[list[Article], dict[str, str], HexoResult]) -> None:
    _, names, result = built
    assert set(result.posts) == set(names.values())  # no post made of the manifest
    public = result.site / "public"
    assert public.is_dir()
    assert not [p for p in public.rglob("*") if "rsspage-manifest" in p.name]


def test_rich_content_reaches_the_page_intact(built: tuple[list[Article], dict[str, str],
                                                          HexoResult]) -> None:
    posts, names, result = built
    (rich,) = [p for p in posts if p.title == "富文本 rich"]
    page = result.posts[names[rich.id]].html
    assert page is not None
    (entry,) = lxml.html.parse(str(page)).getroot().find_class("article-entry")
    text = entry.text_content()
    for literal in ("*bold*", "_em_", "**strong**", "{{ x }}", "{% raw %}y{% endraw %}", "```js",
                    "~~~", "> quoted", "- item", "1. one"):
        assert literal in text, literal
    assert entry.xpath(".//em | .//strong | .//code | .//ul | .//ol | .//h1") == []
    (pre,) = entry.xpath(".//pre")
    assert pre.text_content() == "line1\n\n  \nline2"
    indented = entry.xpath(".//p[contains(., 'indented four spaces')]")
    assert len(indented) == 1
    (link,) = entry.xpath(".//p[@class='rsspage-source']/a")
    assert link.get("href") == rich.link and link.text == "阅读原文"


def test_the_harness_catches_a_post_hexo_skips(tmp_path: Path) -> None:
    """The bug rsspage must avoid: Hexo 8 drops a post whose path holds "%" (URIError)."""
    posts = tmp_path / "posts"
    posts.mkdir()
    (posts / "上涨3.27%.md").write_text("---\ntitle: '上涨3.27%'\n---\n\n<div>x</div>\n", "utf-8")
    (posts / "ok.md").write_text("---\ntitle: ok\n---\n\n<div>x</div>\n", "utf-8")
    result = hexo_generate(posts, tmp_path / "work")
    assert set(result.posts) == {"ok.md"}
    assert any("上涨3.27%.md" in line for line in result.problem_lines()), result.output


# -- themes that print titles raw ---------------------------------------------------------------

#: Titles and names that volantis 6.8.3 turned into markup before look-alikes replaced quotes.
HOSTILE_TITLES = [
    'y" onmouseover="alert(2)', "Brightline's plan", "x' onmouseover='alert(3)' data-x='",
    "<img src=x onerror=alert(1)>", "a\"b'c<d>e&amp;f",
]
HOSTILE_NAMES = {"category": "it's", "source": 'say "hi"', "channel": "ch'an\"nel"}
CONTROL_TITLE = "plain title"


@pytest.fixture(scope="module")
def volantis(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Article], dict[str, str],
                                                                 HexoResult]:
    tmp = tmp_path_factory.mktemp("volantis")
    image = "https://img.example.com/a.jpg?x='1'\"2\""
    posts = [article(0, title=CONTROL_TITLE, image=image)]
    posts += [article(i, title=t, image=image) for i, t in enumerate(HOSTILE_TITLES, 1)]
    posts += [article(9, title="named 'n' \"q\"", **HOSTILE_NAMES)]
    writer = OutputWriter(tmp / "posts")
    names = publish_hexo(posts, writer, {})
    writer.finish()
    return posts, names, hexo_generate(tmp / "posts", tmp / "work", theme=VOLANTIS)


def test_volantis_builds_every_post(volantis: tuple[list[Article], dict[str, str],
                                                    HexoResult]) -> None:
    posts, names, result = volantis
    assert result.returncode == 0, result.output
    for post in posts:
        seen = result.posts[names[post.id]]
        assert seen.title == hexo_text(post.title)
        assert seen.html is not None, names[post.id]


def test_volantis_pages_get_no_attribute_from_a_title(
        volantis: tuple[list[Article], dict[str, str], HexoResult]) -> None:
    posts, names, result = volantis
    pages = {post.title: result.posts[names[post.id]].html for post in posts}
    control = _attribute_names(pages.pop(CONTROL_TITLE))
    for title, page in pages.items():
        assert page is not None
        assert _attribute_names(page) <= control, title
    for page in (result.site / "public").rglob("*.html"):
        for element in lxml.html.parse(str(page)).getroot().iter(lxml.etree.Element):
            handlers = [v for k, v in element.attrib.items() if k.startswith("on")]
            assert not any("alert" in v for v in handlers), (page, element.tag, handlers)


def test_volantis_links_to_posts_are_whole(
        volantis: tuple[list[Article], dict[str, str], HexoResult]) -> None:
    _, _, result = volantis
    public = result.site / "public"
    checked = 0
    for page in public.rglob("*.html"):
        for href in lxml.html.parse(str(page)).getroot().xpath("//a/@href"):
            for target in _site_paths(str(href)):
                found = public / target.lstrip("/")
                assert found.is_file() or (found / "index.html").is_file(), (page, href)
                checked += 1
    assert checked > 50  # the index, archives, categories and share links were all seen


def _attribute_names(page: Path) -> set[tuple[str, str]]:
    root = lxml.html.parse(str(page)).getroot()
    return {(str(el.tag), name) for el in root.iter(lxml.etree.Element) for name in el.attrib}


def _site_paths(href: str) -> list[str]:
    """The paths on the test site an href leads to: itself, or the page a share link shares."""
    site = "http://example.com"
    urls = [href, *parse_qs(urlsplit(href).query).get("url", [])]
    return [unquote(urlsplit(url).path) for url in urls
            if url.startswith((site + "/", "/")) and not url.startswith("//")
            and "/20" in url]  # posts: the permalink :year/:month/:day/:title/


# -- dates: Hexo reads the instant whatever the blog's time zone -----------------------------------

#: Instants on both sides of midnight in Shanghai and New York, in summer and in winter.
INSTANTS = [datetime(2022, 7, 21, 17, 22, 55, tzinfo=UTC),
            datetime(2022, 7, 21, 15, 59, 59, tzinfo=UTC), datetime(2022, 7, 21, 16, 0, 1, tzinfo=UTC),
            datetime(2023, 1, 15, 3, 30, tzinfo=UTC), datetime(2023, 1, 15, 5, 30, tzinfo=UTC)]


def publish_into_blog(tmp: Path, timezone: str, setting: str = "auto") -> tuple[Path, str]:
    """Posts of :data:`INSTANTS` in the _posts folder of a blog whose _config.yml names
    ``timezone``; returns the folder and the text of the first post's date."""
    blog = tmp / "blog"
    posts = blog / "source" / "_posts"
    posts.mkdir(parents=True)
    (blog / "_config.yml").write_text(f"title: blog\ntimezone: '{timezone}'\n", "utf-8")
    writer = OutputWriter(posts)
    dated = [article(i, published=when) for i, when in enumerate(INSTANTS)]
    names = publish_hexo(dated, writer, {}, dates=date_form(setting, posts))
    writer.finish()
    first = (posts / names["id-0"]).read_text("utf-8")
    return posts, next(line for line in first.splitlines() if line.startswith("date: "))


@pytest.mark.parametrize(("timezone", "written"), [
    ("Asia/Shanghai", "date: 2022-07-22 01:22:55"),
    ("America/New_York", "date: 2022-07-21 13:22:55"),
    ("UTC", "date: 2022-07-21 17:22:55"),
    ("", "date: Thu, 21 Jul 2022 17:22:55 GMT"),  # no zone: Hexo takes the machine's
])
def test_hexo_reads_the_instant_on_a_utc_machine(tmp_path: Path, timezone: str,
                                                 written: str) -> None:
    posts, date_line = publish_into_blog(tmp_path, timezone)
    assert date_line == written
    result = hexo_generate(posts, tmp_path / "work", timezone=timezone)
    assert result.returncode == 0, result.output
    assert sorted(post.date for post in result.posts.values()) == sorted(INSTANTS)
    assert all(post.html is not None for post in result.posts.values())  # on the right day


def test_a_zone_setting_serves_posts_outside_the_blog(tmp_path: Path) -> None:
    posts = tmp_path / "elsewhere"
    writer = OutputWriter(posts)
    publish_hexo([article(0)], writer, {}, dates=date_form("Asia/Shanghai", posts))
    writer.finish()
    result = hexo_generate(posts, tmp_path / "work", timezone="Asia/Shanghai")
    assert [post.date for post in result.posts.values()] == [INSTANTS[0]]


def test_the_seed_form_is_what_moved_dates(tmp_path: Path) -> None:
    """``output.hexo_date: gmt`` keeps the seed's text, which Hexo reads 8 hours early when the
    blog is in Shanghai and the machine in UTC: the bug the default form fixes."""
    posts, date_line = publish_into_blog(tmp_path, "Asia/Shanghai", "gmt")
    assert date_line == "date: Thu, 21 Jul 2022 17:22:55 GMT"
    result = hexo_generate(posts, tmp_path / "work", timezone="Asia/Shanghai")
    assert sorted(post.date for post in result.posts.values()) == sorted(
        when - timedelta(hours=8) for when in INSTANTS)
