"""Canonical links and content fingerprints (rsspage.canonical), with a labelled set built from
the demo data: every pair of its different stories, near misses made from them, and mirror
copies of each; precision must be 1 (no two stories are ever merged)."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

import pytest

from rsspage.canonical import canonical_link, same_text, text_head, title_key
from rsspage.demo.sample import load_demo_data
from rsspage.sanitise import html_to_text

SAME_LINKS = [
    ("https://news.example.com/a/1.html",
     "http://news.example.com/a/1.html?utm_source=rss&utm_medium=feed&utm_campaign=x"),
    ("https://news.example.com/a/1.html", "https://NEWS.example.com:443/a/1.html#comments"),
    ("https://news.example.com/a/1/", "https://news.example.com/a/1"),
    ("https://news.example.com/a?id=1", "http://news.example.com:80/a?spm=a2c4g.1&id=1&from=rss"),
    ("https://news.example.com/a?id=1&p=2", "https://news.example.com/a?p=2&id=1&fbclid=IwAR0"),
    ("https://news.example.com/a?id=1", "https://news.example.com/a?id=1&gclid=x&mc_cid=y"),
    ("https://news.example.com/新闻/1", "https://news.example.com/%e6%96%b0%e9%97%bb/1"),
    ("https://news.example.com", "https://news.example.com/"),
    ("https://news.example.com./a", "https://news.example.com/a"),
    ("https://b.example.com/v?spm_id_from=333.1&vd_source=ab", "https://b.example.com/v/"),
]
DIFFERENT_LINKS = [
    ("https://news.example.com/a?id=1", "https://news.example.com/a?id=2"),
    ("https://news.example.com/a/1", "https://news.example.com/b/a/1"),
    ("https://news.example.com/A/1", "https://news.example.com/a/1"),  # paths are case-sensitive
    ("https://news.example.com/a/1", "https://mirror.example.net/a/1"),
    ("https://news.example.com/a/1", "https://news.example.com:8080/a/1"),
    ("https://news.example.com/a?from=home", "https://news.example.com/a"),  # not a feed's mark
    ("https://news.example.com/a?page=2", "https://news.example.com/a"),
    ("https://app.example.com/#!/post/1", "https://app.example.com/#!/post/2"),
]


@pytest.mark.parametrize(("first", "second"), SAME_LINKS)
def test_tracking_scheme_host_port_slash_and_fragment_do_not_matter(first: str,
                                                                     second: str) -> None:
    assert canonical_link(first) == canonical_link(second) != ""


@pytest.mark.parametrize(("first", "second"), DIFFERENT_LINKS)
def test_path_segments_and_real_parameters_do(first: str, second: str) -> None:
    assert canonical_link(first) != canonical_link(second)


@pytest.mark.parametrize("link", ["", "ftp://example.com/a", "mailto:a@example.com",
                                  "/relative/only", "https://example.com:99999/a", "https://"])
def test_a_link_that_is_not_absolute_http_has_no_key(link: str) -> None:
    assert canonical_link(link) == ""


def test_titles_match_through_spacing_punctuation_and_width_but_not_numbers() -> None:
    assert title_key("小米发布第3款芯片：玄戒 O1") == title_key("小米 发布 第３款芯片 — 玄戒O1！")
    assert title_key("Apple Ships M5") == title_key("apple ships m5.")
    assert title_key("小米发布第3款芯片") != title_key("小米发布第4款芯片")
    assert title_key("快讯") == ""  # too short to say which story


def test_a_text_too_short_is_never_the_same() -> None:
    assert not same_text(text_head("短讯。"), text_head("短讯。"))


@dataclass(frozen=True)
class Copy:
    title: str
    text: str


def _demo_stories() -> list[Copy]:
    data = load_demo_data()
    feeds = [*(v for r in data.routes for v in r.variants.values()), *data.feeds.values()]
    seen: dict[str, Copy] = {}
    for item in (i for f in feeds for i in f.items):
        seen.setdefault(item.link, Copy(item.title, html_to_text(item.html)))
    return list(seen.values())


def _bump_numbers(text: str) -> str:
    return re.sub(r"\d+", lambda m: str(int(m[0]) + 1), text)


def _mirror(story: Copy, how: int) -> Copy:
    """A mirror's copy: the same story, its spacing, punctuation or ends a little different,
    or only its start (a summary-only feed)."""
    if how == 0:
        return Copy(f" {story.title}！", story.text.replace("，", ", ").replace("。", ". "))
    if how == 1:
        return Copy(story.title.replace(" ", ""), f"{story.text}（来源：极客速递，转载请注明）")
    if how == 2:
        return Copy(story.title, "据报道，" + " ".join(story.text.split()))
    return Copy(story.title, story.text[:len(story.text) * 2 // 3] + "……")  # a summary


def _merged(first: Copy, second: Copy) -> bool:
    key = title_key(first.title)
    return bool(key) and key == title_key(second.title) and same_text(
        text_head(first.text), text_head(second.text))


def test_fingerprint_precision_and_recall_on_the_demo_stories() -> None:
    stories = _demo_stories()
    assert len(stories) >= 150
    different = list(itertools.combinations(stories, 2))
    # Near misses: the "第N款芯片" pattern (the numbers of title and text moved on: another
    # story told the same way), and a title reused over another text (a daily column).
    numbered = [s for s in stories if re.search(r"\d", s.title)]
    different += [(s, Copy(_bump_numbers(s.title), _bump_numbers(s.text))) for s in numbered]
    different += [(a, Copy(a.title, b.text)) for a, b in itertools.pairwise(stories)]
    copies = [(s, _mirror(s, how)) for s in stories for how in range(4)]
    # A copy with under 50 characters of text to compare (a 快讯, a post, a picture's caption,
    # or a summary of one) is never matched on its text, by design; recall counts the others.
    short = [pair for pair in copies if min(len(text_head(c.text)) for c in pair) < 50]
    assert not any(_merged(*pair) for pair in short)
    same = [pair for pair in copies if min(len(text_head(c.text)) for c in pair) >= 50]
    assert len(same) >= 600
    false_merges = [pair for pair in different if _merged(*pair)]
    found = sum(_merged(*pair) for pair in same)
    precision = found / (found + len(false_merges)) if found else 0.0
    recall = found / len(same)
    print(f"\nfingerprint on {len(same)} same-story and {len(different)} different-story "
          f"pairs: precision {precision:.3f}, recall {recall:.3f}")
    assert not false_merges[:3]
    assert recall >= 0.95
