"""A listing's layout by what its feeds are, and a social post's text (publish/layouts.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from rsspage.publish.layouts import layout_of, post_text
from rsspage.publish.site_model import ArticleView, Node, view_of
from rsspage.types import Article, Enclosure

CHANNEL = Node("channel", "频道", "c/a/b/c/", None, feeds="feeds/a/b/")


def view(key: str, *, image: str = "", media: str = "", title: str = "标题",
         text: str = "正文的第一句话，很长很长。") -> ArticleView:
    enclosures = (Enclosure(f"https://e.com/{key}.bin", medium=media),) if media else ()
    article = Article(
        id=key, feed_key=f"feed-{key[0]}", title=title, link=f"https://e.com/{key}",
        published=datetime(2026, 11, 20, tzinfo=UTC), date_estimated=False,
        date_clamped=False, updated=None, author="", category="a", source="b", channel="c",
        content_html="", text=text, image=image, content_hash=key, enclosures=enclosures)
    return view_of(article, CHANNEL, ZoneInfo("Asia/Shanghai"))


@pytest.mark.parametrize(("items", "views", "layout"), [
    ([], {}, ""),
    # The catalog's view of the feeds, when they all have the same.
    ([view("a1", image="x"), view("a2")], {"feed-a": "pictures"}, "gallery"),
    ([view("a1")], {"feed-a": "social"}, "timeline"),
    ([view("a1")], {"feed-a": "articles"}, "list"),
    # Mixed views: the articles decide.
    ([view("a1", image="x"), view("b1", image="y")], {"feed-a": "pictures"}, ""),
    ([view("a1", media="audio"), view("b1", media="audio")], {}, "audio"),
    ([view("a1", media="video", image="p"), view("b1", media="video")], {}, "video"),
    ([view("a1", media="audio"), view("b1")], {}, "list"),
    ([view("a1", image="x"), view("b1")], {}, ""),
])
def test_layout_of_a_page(items: list[ArticleView], views: dict[str, str], layout: str) -> None:
    assert layout_of(items, views) == layout


def test_a_post_titled_by_its_first_words_is_shown_once() -> None:
    post = view("a1", title="今天地铁 2 号线早高峰又延误了…",
                text="今天地铁 2 号线早高峰又延误了二十分钟，车厢里有人在背单词。")
    assert post_text(post) == ("今天地铁 2 号线早高峰又延误了二十分钟，车厢里有人在背单词。", True)
    other = view("a2", title="通勤日记", text="车厢里有人在背单词，有人在补觉。")
    assert post_text(other) == ("车厢里有人在背单词，有人在补觉。", False)
    long = view("a3", title="长", text="字" * 1000)
    text, _ = post_text(long)
    assert len(text) == 401 and text.endswith("…")
