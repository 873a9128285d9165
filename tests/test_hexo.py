"""Hexo posts: the exact DESIGN.md format, YAML that reads back exactly, safe unique names."""

from __future__ import annotations

import re
import tempfile
import unicodedata
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rsspage.errors import PublishError
from rsspage.publish.hexo import (
    hexo_text,
    hexo_url,
    post_inputs,
    post_path,
    publish_hexo,
    quote_yaml,
    render_post,
)
from rsspage.publish.hexo_dates import DateForm, blog_zone, date_form
from rsspage.publish.names import clash_key, safe_segment
from rsspage.publish.writer import OutputWriter
from rsspage.types import Article

DESIGN = Path(__file__).resolve().parents[1].parent / "shared" / "DESIGN.md"
KEYS = ["title", "categories", "headimg", "author", "comments", "date", "thumbnail"]
IMAGE = "https://img1.mydrivers.com/img/20220721/s_40a9de955cd54f308f8e2aa0b0eb17f1.jpg"
LINK = "https://news.mydrivers.com/1/844/844530.htm"
# Hexo's own front-matter split (hexo-front-matter 4, rFrontMatter).
HEXO_SPLIT = re.compile(r"^(-{3,}|;{3,})\n([\s\S]+?)\n\1\n?([\s\S]*)")

GOLDEN = f"""\
---
title: '赌上雷军全部声誉造车 小米再揽大将：原上汽通用五菱销售副总加盟'
categories:{' '}
 - 新媒体
 - 快科技（原驱动之家）
 - 最新新闻
headimg: '{IMAGE}'
author: 快科技（原驱动之家）
comments: false
date: Thu, 21 Jul 2022 17:22:55 GMT
thumbnail: '{IMAGE}'
---

<div>
<p>...</p>
</div>
<p class="rsspage-source"><a href="{LINK}" target="_blank" rel="noopener noreferrer">阅读原文</a></p>
"""


def article(**changes: object) -> Article:
    base = Article(
        id="a1",
        feed_key="/kkj/news",
        title="赌上雷军全部声誉造车 小米再揽大将：原上汽通用五菱销售副总加盟",
        link=LINK,
        published=datetime(2022, 7, 21, 17, 22, 55, tzinfo=UTC),
        date_estimated=False,
        date_clamped=False,
        updated=None,
        author="",
        category="新媒体",
        source="快科技（原驱动之家）",
        channel="最新新闻",
        content_html="<p>...</p>",
        text="...",
        image=IMAGE,
        content_hash="h",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def split_post(text: str) -> tuple[dict[str, object], str]:
    match = HEXO_SPLIT.match(text)
    assert match, text
    data = yaml.safe_load(match.group(2))
    assert isinstance(data, dict)
    return data, match.group(3)


# -- format -------------------------------------------------------------------------------------


def test_golden_post_matches_design_example() -> None:
    assert render_post(article()) == GOLDEN


def test_golden_is_the_example_in_design_md() -> None:
    design = DESIGN.read_text("utf-8")
    section = design.split("## Hexo post format", 1)[1]
    example = section.split("```\n", 2)[1]
    example = example.replace("...sanitised article HTML...", "<p>...</p>")
    link_line = GOLDEN.splitlines(keepends=True)[-1]
    assert example + link_line == GOLDEN


def test_front_matter_reads_back_exactly() -> None:
    data, body = split_post(render_post(article()))
    assert list(data) == KEYS
    assert data == {
        "title": article().title,
        "categories": ["新媒体", "快科技（原驱动之家）", "最新新闻"],
        "headimg": IMAGE,
        "author": "快科技（原驱动之家）",
        "comments": False,
        "date": "Thu, 21 Jul 2022 17:22:55 GMT",
        "thumbnail": IMAGE,
    }
    assert body.startswith("\n<div>\n")


def test_date_is_converted_to_gmt_and_no_image_gives_empty_quotes() -> None:
    local = datetime(2022, 7, 22, 1, 22, 55, tzinfo=ZoneInfo("Asia/Shanghai"))
    text = render_post(article(published=local, image=""))
    assert "\ndate: Thu, 21 Jul 2022 17:22:55 GMT\n" in text
    assert "\nheadimg: ''\n" in text and "\nthumbnail: ''\n" in text


def test_braces_are_escaped_in_the_body_only() -> None:
    post = article(title="{{ title }} {% raw %}", content_html="<p>{{ x }} {% raw %}{#c#}</p>")
    text = render_post(post)
    data, body = split_post(text)
    assert data["title"] == "{{ title }} {% raw %}"
    assert "{" not in body and "}" not in body
    assert "<p>&#123;&#123; x &#125;&#125; &#123;% raw %&#125;&#123;#c#&#125;</p>" in body


def test_body_has_no_blank_line_and_pre_keeps_its_lines() -> None:
    html = "<p>a</p>\n\n   \n<p>b</p>\r\n\r\n<pre>x\n\n  \ny</pre>\n\n\t\n<p>c</p>\n"
    _, body = split_post(render_post(article(content_html=html)))
    lines = body.split("\n")[1:-1]  # the blank line after "---" and the final newline
    assert all(line.strip(" \t") for line in lines), lines
    assert "<pre>x&#10;&#10;  \ny</pre>" in body  # renders as "x\n\n  \ny"
    assert body.endswith("阅读原文</a></p>\n")


def test_code_fences_cannot_reach_hexo() -> None:
    html = "<p>```js</p>\n<pre>~~~\ncode\n~~~</pre>\n<p>`a` ~b~</p>"
    _, body = split_post(render_post(article(content_html=html)))
    assert "```" not in body and "~~~" not in body
    assert "<p>&#96;&#96;&#96;js</p>" in body and "<p>`a` ~b~</p>" in body


def test_source_link_is_escaped_and_only_http() -> None:
    text = render_post(article(link='https://x.example/a?b=1&c="2" <3>\n'))
    assert 'href="https://x.example/a?b=1&amp;c=&quot;2&quot;%20&lt;3&gt;%0A"' in text
    assert "阅读原文" not in render_post(article(link="javascript:alert(1)"))
    assert "阅读原文" not in render_post(article(link=""))


@pytest.mark.parametrize(
    "value",
    ["it's", "a\nb", "tab\there", "\x00\x07\x1b", "\x85\u2028\u2029\ufeff", "- [*&|", "#x: y",
     "  spaced  ", "", "\\back\\", '"', "😀👨\u200d👩\u200d👧", "\ud800", "\ufffe\uffff"],
)
def test_quoted_scalars_read_back_exactly(value: str) -> None:
    assert yaml.safe_load(f"k: {quote_yaml(value)}") == {"k": value}
    assert "\n" not in quote_yaml(value)


def test_odd_names_are_quoted_in_categories_and_author() -> None:
    names = {"category": "yes", "source": "- a: b #c", "channel": "1.5"}
    data, _ = split_post(render_post(article(**names)))
    assert data["categories"] == ["yes", "- a: b #c", "1.5"]
    assert data["author"] == "- a: b #c"


def test_quotes_and_angle_brackets_become_look_alikes_in_values_and_names() -> None:
    names = {"category": "it's", "source": 'say "hi"', "channel": "<b>"}
    post = article(title='y" onmouseover="alert(2) it\'s <i>', **names)
    data, _ = split_post(render_post(post))
    assert data["title"] == "y＂ onmouseover=＂alert(2) it＇s ＜i＞"
    assert data["categories"] == ["it＇s", "say ＂hi＂", "＜b＞"]
    assert data["author"] == "say ＂hi＂"
    relpath = post_path(replace(post, title="Brightline's plan & more"), lambda _: True)
    assert relpath == "it＇s/say ＂hi＂/＜b＞/Brightline＇s plan ＆ more.md"


# -- dates --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("zone", "when", "text"), [
    (None, datetime(2022, 7, 22, 1, 22, 55, tzinfo=ZoneInfo("Asia/Shanghai")),
     "Thu, 21 Jul 2022 17:22:55 GMT"),
    ("Asia/Shanghai", datetime(2022, 7, 21, 17, 22, 55, tzinfo=UTC), "2022-07-22 01:22:55"),
    ("America/New_York", datetime(2022, 7, 21, 17, 22, 55, tzinfo=UTC), "2022-07-21 13:22:55"),
    ("America/New_York", datetime(2023, 1, 15, 17, 0, 0, tzinfo=UTC), "2023-01-15 12:00:00"),
    ("UTC", datetime(2022, 7, 21, 17, 22, 55, 999, tzinfo=UTC), "2022-07-21 17:22:55"),
    ("UTC", datetime(5, 1, 2, 3, 4, 5), "0005-01-02 03:04:05"),  # naive: taken as UTC
])
def test_date_forms(zone: str | None, when: datetime, text: str) -> None:
    assert DateForm(zone).text(when) == text
    data, _ = split_post(render_post(article(published=when), DateForm(zone)))
    if zone is not None:  # an unquoted timestamp, which YAML reads as one (Hexo: a Date)
        assert data["date"] == datetime.fromisoformat(text)


def hexo_site(root: Path, config: str, posts: str = "source/_posts") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "_config.yml").write_text(config, "utf-8")
    (root / posts).mkdir(parents=True)
    return root / posts


def test_blog_zone_is_the_timezone_of_the_hexo_site_above_the_posts(tmp_path: Path) -> None:
    assert blog_zone(hexo_site(tmp_path / "a", "timezone: Asia/Shanghai\n")) == "Asia/Shanghai"
    assert blog_zone(hexo_site(tmp_path / "b", "timezone: Asia/Tokyo\n") / "x" / "y") == \
        "Asia/Tokyo"
    assert blog_zone(hexo_site(tmp_path / "c", "source_dir: src\ntimezone: UTC\n",
                               "src/_posts")) == "UTC"
    assert blog_zone(hexo_site(tmp_path / "d", "timezone: ''\n")) is None  # the machine's
    assert blog_zone(hexo_site(tmp_path / "e", "timezone: Mars/Base\n")) is None
    assert blog_zone(hexo_site(tmp_path / "f", "[not a mapping\n")) is None
    # A Jekyll site's _config.yml above a folder that is not its posts: not a Hexo blog's.
    assert blog_zone(hexo_site(tmp_path / "g", "timezone: Asia/Tokyo\n", "posts")) is None
    assert blog_zone(tmp_path / "nowhere") is None


def test_date_form_settings(tmp_path: Path) -> None:
    posts = hexo_site(tmp_path, "timezone: Asia/Shanghai\n")
    assert date_form("auto", posts) == DateForm("Asia/Shanghai")
    assert date_form("gmt", posts) == DateForm(None)
    assert date_form("Europe/Paris", posts) == DateForm("Europe/Paris")
    assert post_inputs(article(), DateForm("UTC")) != post_inputs(article(), DateForm(None))


def test_posts_in_a_hexo_site_get_its_wall_clock_by_default(tmp_path: Path) -> None:
    posts = hexo_site(tmp_path, "timezone: Asia/Shanghai\n")
    writer = OutputWriter(posts)
    (relpath,) = publish_hexo([article()], writer, {}).values()
    writer.finish()
    assert "\ndate: 2022-07-22 01:22:55\n" in (posts / relpath).read_text("utf-8")


# -- names --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("上涨3.27%", "上涨3.27％"),
        ("../../etc/passwd", "／..／etc／passwd"),  # one harmless segment
        ('a: b * c ? "d" <e> | f \\ g # h', "a： b ＊ c ？ ＂d＂ ＜e＞ ｜ f ＼ g ＃ h"),
        ("  .hidden. ", "hidden"),
        ("_draft", "＿draft"),
        ("..", "untitled"),
        ("\u202e\u200e\u200b\x00\x1f", "untitled"),
        ("a\n\tb\u3000c", "a b c"),
        ("CON", "CON_"),
        ("nul.txt", "nul_.txt"),
        ("com1", "com1_"),
        ("CONSOLE", "CONSOLE"),
        ("e\u0301", "\u00e9"),
    ],
)
def test_safe_segment(text: str, expected: str) -> None:
    assert safe_segment(text, 200) == expected


def test_safe_segment_cuts_at_character_boundaries() -> None:
    name = safe_segment("中" * 500, 200)
    assert name == "中" * 66 and len(name.encode()) == 198
    assert safe_segment("😀" * 100, 30) == "😀" * 7


def test_post_path_adds_a_stable_suffix_when_taken() -> None:
    taken = {"新媒体/快科技（原驱动之家）/最新新闻/t.md"}
    first = post_path(article(title="t"), lambda p: p not in taken)
    assert first.startswith("新媒体/快科技（原驱动之家）/最新新闻/t -") and first.endswith(".md")
    assert post_path(article(title="t"), lambda p: p not in taken) == first
    assert post_path(article(title="t", id="other"), lambda p: p not in taken) != first
    long = post_path(article(title="长" * 300), lambda p: p.count("-") > 0)
    assert len(long.rsplit("/", 1)[1].encode()) <= 200


def test_names_are_kept_even_when_the_title_changes(tmp_path: Path) -> None:
    writer = OutputWriter(tmp_path / "out", tmp_path / "m.json")
    assigned = publish_hexo([article()], writer, {})
    writer.finish()
    writer = OutputWriter(tmp_path / "out", tmp_path / "m.json")
    assert publish_hexo([article(title="新标题")], writer, assigned) == assigned  # the old name
    assert writer.finish().written == 1
    (path,) = assigned.values()
    assert "新标题" in (tmp_path / "out" / path).read_text()


def test_a_rerun_after_a_crash_picks_the_same_names(tmp_path: Path) -> None:
    posts = [article(id=f"id{i}", title="同名") for i in range(3)]
    crashed = publish_hexo(posts, OutputWriter(tmp_path / "out", tmp_path / "m.json"), {})
    # Killed before finish() and before the store saved the names.
    writer = OutputWriter(tmp_path / "out", tmp_path / "m.json")
    assert publish_hexo(posts, writer, {}) == crashed
    assert writer.finish().removed == 0


def test_a_retired_name_is_never_given_to_another_article(tmp_path: Path) -> None:
    writer = OutputWriter(tmp_path / "out", tmp_path / "m.json")
    names = publish_hexo([article(id="old", title="x")], writer, {})
    writer.finish()
    writer = OutputWriter(tmp_path / "out", tmp_path / "m.json")
    new = publish_hexo([article(id="new", title="x")], writer, names)  # "old" not in this batch
    assert new["new"] != names["old"]


def test_the_same_article_twice_is_refused(tmp_path: Path) -> None:
    writer = OutputWriter(tmp_path / "out", tmp_path / "m.json")
    with pytest.raises(PublishError, match="a1 given twice"):
        publish_hexo([article(), article(title="other")], writer, {})
    with pytest.raises(PublishError, match="written twice"):  # a damaged store: shared name
        publish_hexo([article(id="k"), article(id="j")], writer, {"k": "a.md", "j": "a.md"})


# -- properties ---------------------------------------------------------------------------------

TRICKY = [
    "'", '"', ":", ": ", "#", " #", "-", "- ", "[", "]", "{", "}", "*", "&", "|", ">", "!", "%",
    "\\", "\n", "\r\n", "\t", "\x00", "\x7f", "\x85", "\u2028", "\u200e", "\u202e", "\u200b",
    "\ufeff", "../", "..", ".", " ", "CON", "_", "~", "yes", "null", "e\u0301", "上涨3.27%",
    "{{ x }}", "{% raw %}", "😀", "👨\u200d👩\u200d👧", "新媒体", "Ａ", "a", "A",
]
texts = st.one_of(
    st.lists(st.one_of(st.sampled_from(TRICKY), st.text(max_size=4)), max_size=10).map("".join),
    st.integers(1, 500).map(lambda n: "中" * n),
    st.text(max_size=30),
)


@st.composite
def article_batches(draw: st.DrawFn) -> list[Article]:
    # Small pools make colliding titles and names common.
    titles = draw(st.lists(texts, min_size=1, max_size=4))
    names = draw(st.lists(texts, min_size=1, max_size=3))
    count = draw(st.integers(1, 8))
    return [
        article(
            id=f"id-{i}",
            title=draw(st.sampled_from(titles)),
            category=draw(st.sampled_from(names)),
            source=draw(st.sampled_from(names)),
            channel=draw(st.sampled_from(names)),
            image=draw(st.sampled_from(["", IMAGE, "https://x/it's\n"])),
        )
        for i in range(count)
    ]


def check_path(root: Path, relpath: str) -> None:
    assert "%" not in relpath
    assert relpath == unicodedata.normalize("NFC", relpath)
    assert (root / relpath).resolve().is_relative_to(root.resolve())
    segments = relpath.split("/")
    assert len(segments) == 4 and segments[-1].endswith(".md")
    for segment in segments:
        assert 0 < len(segment.encode()) <= 200
        assert segment.isprintable() and segment[0] not in "._ " and segment[-1] not in ". "
        assert not any(ch in segment for ch in ':*?"<>|\\#\'&')


def check_post(text: str, source: Article) -> None:
    data, body = split_post(text)
    assert list(data) == KEYS
    assert data["title"] == hexo_text(source.title)
    assert data["categories"] == [hexo_text(n) for n in (source.category, source.source, source.channel)]
    assert data["author"] == hexo_text(source.source)
    assert data["headimg"] == data["thumbnail"] == hexo_url(source.image)
    assert not any(ch in data["title"] + data["author"] for ch in "<>\"'")
    assert "{" not in body and "}" not in body and "\n\n" not in body.strip("\n")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(article_batches())
def test_any_titles_give_distinct_safe_files_that_read_back(batch: list[Article]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root, manifest = Path(tmp) / "out", Path(tmp) / "state" / "m.json"
        writer = OutputWriter(root, manifest)
        assigned = publish_hexo(batch, writer, {})
        assert writer.finish().written == len(batch)
        assert set(assigned) == {a.id for a in batch}
        assert len({clash_key(p) for p in assigned.values()}) == len(batch)
        assert len([p for p in root.rglob("*.md") if p.is_file()]) == len(batch)
        for post in batch:
            check_path(root, assigned[post.id])
            check_post((root / assigned[post.id]).read_text("utf-8"), post)
        again = OutputWriter(root, manifest)
        assert publish_hexo(batch, again, assigned) == assigned
        stats = again.finish()
        assert (stats.written, stats.unchanged, stats.removed) == (0, len(batch), 0)
