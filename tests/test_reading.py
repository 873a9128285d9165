"""Card summaries that never repeat the title, and reading times for CJK and Latin text."""

from __future__ import annotations

import pytest

from rsspage.publish.reading import card_summary, reading_minutes, strip_title, tight_end


@pytest.mark.parametrize(("title", "text", "summary"), [
    # 快讯: the text is the title again, then the news.
    ("小米发布第3款自研芯片", "小米发布第3款自研芯片。小米今天在北京发布了新芯片，采用三纳米工艺。",
     "小米今天在北京发布了新芯片，采用三纳米工艺。"),
    # Other spacing, full-width punctuation and brackets around the copy.
    ("小米 发布 第3款 自研芯片！", "【小米发布第３款自研芯片】 小米今天在北京发布了新芯片。",
     "小米今天在北京发布了新芯片。"),
    ("Apple ships the M5 MacBook Air", "Apple Ships The M5 MacBook-Air — the new laptop "
     "starts at $999 and ships next week.", "the new laptop starts at $999 and ships next week."),
    # Nothing but the title, or the title and a mark: no summary at all.
    ("央行宣布降准0.5个百分点", "央行宣布降准0.5个百分点", ""),
    ("央行宣布降准0.5个百分点", "央行宣布降准 0.5 个百分点（图）", ""),
    ("Breaking: markets close higher", "BREAKING — Markets close higher.", ""),
    # The text does not start with the title: shown as it is.
    ("小米发布新芯片", "今天上午，小米在北京发布了新芯片。", "今天上午，小米在北京发布了新芯片。"),
    # A short title that only begins the first word is not cut out of it.
    ("苹果", "苹果公司今天发布了新款手机和平板电脑。", "苹果公司今天发布了新款手机和平板电脑。"),
    ("", "正文的第一句话。", "正文的第一句话。"),
])
def test_the_summary_never_repeats_the_title(title: str, text: str, summary: str) -> None:
    assert card_summary(title, text, 200) == summary


def test_a_long_summary_is_cut_with_an_ellipsis() -> None:
    text = "标题。" + "这是一段很长的正文。" * 30
    got = card_summary("标题", text, 50)
    assert got.endswith("…") and len(got) == 51 and not got.startswith("标题")


def test_strip_title_keeps_an_opening_quote_of_what_follows() -> None:
    assert strip_title("发布会", "发布会：「我们会继续」，他说。") == "「我们会继续」，他说。"


@pytest.mark.parametrize(("text", "minutes"), [
    ("", 1),
    ("字" * 400, 1),
    ("字" * 401, 2),
    ("字" * 2000, 5),
    ("word " * 460, 2),
    ("字" * 200 + " word" * 115, 1),  # half a minute of each
    ("字" * 400 + " word" * 230, 2),
])
def test_reading_time_counts_cjk_characters_and_words(text: str, minutes: int) -> None:
    assert reading_minutes(text) == minutes


def test_a_name_ending_in_a_full_width_bracket_ends_half_width() -> None:
    assert tight_end("快科技（原驱动之家）") == ('快科技（原驱动之家<span class="halt">）'
                                                 "</span>")
    assert tight_end("<b>「x」") == '&lt;b&gt;「x<span class="halt">」</span>'
    assert tight_end("IT之家") == "IT之家" and tight_end("") == ""


def test_the_character_keys_kept_are_bounded_and_change_no_result(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Feed text may hold any code point; ``watch`` keeps the table for good, so it stops
    growing at its limit, and a character beyond it is keyed all the same."""
    from rsspage.publish import reading

    monkeypatch.setattr(reading, "_KEYS", reading._KeyTable())
    monkeypatch.setattr(reading, "_KEYS_HELD", 3)
    assert strip_title("标题ＡＢ", "标题ＡＢ：正文在此。") == "正文在此。"
    assert len(reading._KEYS) == 3
    assert strip_title("标题ＡＢ", "标题ＡＢ：正文在此。") == "正文在此。"
