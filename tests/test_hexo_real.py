"""End to end: posts from publish_hexo, built by a real Hexo 8, come out exactly as written."""

from __future__ import annotations

import random
import shutil
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import lxml.html
import pytest

from hexo_harness import HexoResult, hexo_generate
from rsspage.publish.hexo import hexo_text, publish_hexo
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
