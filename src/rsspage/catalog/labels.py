"""RSSHub category keys and their Chinese display labels (``new-media`` → ``新媒体``).

The labels of the 23 category pages are the ``# `` headings of RSSHub's 2021 docs
(``docs/<key>.md``); ``popular`` and ``sport`` only exist in the modern route registry and are
given labels in the same style.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

#: Category key → display label, in RSSHub's alphabetical key order (also the display order).
CATEGORY_LABELS: Mapping[str, str] = MappingProxyType(
    {
        "anime": "二次元",
        "bbs": "论坛",
        "blog": "博客",
        "design": "设计",
        "finance": "金融",
        "forecast": "预报预警",
        "game": "游戏",
        "government": "政务消息",
        "journal": "科学期刊",
        "live": "直播",
        "multimedia": "音视频",
        "new-media": "新媒体",
        "other": "其他",
        "picture": "图片",
        "popular": "热门",
        "program-update": "程序更新",
        "programming": "编程",
        "reading": "阅读",
        "shopping": "购物",
        "social-media": "社交媒体",
        "sport": "体育",
        "study": "学习",
        "traditional-media": "传统媒体",
        "travel": "出行旅游",
        "university": "大学通知",
    }
)

_KEYS_BY_LABEL: Mapping[str, str] = MappingProxyType({v: k for k, v in CATEGORY_LABELS.items()})


def label_for(key: str) -> str:
    """The display label of a category key; an unknown key is its own label."""
    return CATEGORY_LABELS.get(key, key)


def key_for(label: str) -> str | None:
    """The category key whose label is ``label``, or None when the label is not a known one."""
    return _KEYS_BY_LABEL.get(label)


def label_order(label: str) -> tuple[int, str]:
    """Sort key putting known labels in table order, then any others alphabetically."""
    key = key_for(label)
    index = list(CATEGORY_LABELS).index(key) if key is not None else len(CATEGORY_LABELS)
    return (index, label)
