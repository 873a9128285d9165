"""The words of the site's own pages, in Chinese and in English (the templates' ``t``).

The site's language (``site.language``) picks one: ``zh…`` Chinese, anything else English.
"""

from __future__ import annotations

from collections.abc import Mapping

LABELS: Mapping[str, Mapping[str, str]] = {
    "zh": {
        "home": "首页", "latest": "最新文章", "categories": "分类", "archive": "归档",
        "search": "搜索", "health": "订阅状态", "read_original": "阅读原文",
        "older_article": "上一篇（较早）", "newer_article": "下一篇（较新）",
        "newer": "较新", "older": "较早", "newest": "最新", "oldest": "最早",
        "page": "第 {} 页", "articles": "篇", "source": "来源", "channels": "频道",
        "count": "文章数", "last_update": "最近更新", "not_found": "页面不存在",
        "not_found_text": "您要找的页面不存在，可能已被删除。", "feed": "订阅",
        "last_success": "上次成功", "last_error": "上次错误", "streak": "连续失败",
        "recent": "近 7 天", "total": "共", "search_placeholder": "搜索文章…",
        "searching": "正在搜索…", "no_results": "没有找到相关文章", "found": "找到 {} 篇文章",
        "search_unavailable": "搜索索引尚未生成", "more": "更多结果", "ok": "正常",
        "failing": "失败", "feeds": "个订阅", "by_day": "按日归档", "subscribe": "订阅",
        "retired": "已停止关注", "retired_since": "停止于",
        "retired_note": "这些订阅已从配置中移除；它们的文章仍保留在归档中。",
        "site_nav": "站点导航", "pages_nav": "分页", "article_nav": "相邻文章",
        "search_site": "站内搜索",
        "filter_category": "分类", "filter_source": "来源", "filter_all_categories": "全部分类",
        "filter_all_sources": "全部来源", "filter_need_query": "输入关键词，在所选分类和来源中搜索",
        "site_description": "{}：按分类、来源和频道整理的新闻，可搜索、可订阅",
        "back_to_top": "回到顶部", "density": "显示方式", "density_cards": "卡片",
        "density_list": "列表", "density_headlines": "仅标题", "date_assumed": "收录时间",
        "date_assumed_long": "订阅源未给出发布时间，这是首次收录的时间",
        "reading_time": "约 {} 分钟读完",
    },
    "en": {
        "home": "Home", "latest": "Latest", "categories": "Categories", "archive": "Archive",
        "search": "Search", "health": "Feed status", "read_original": "Read the original",
        "older_article": "Previous (older)", "newer_article": "Next (newer)",
        "newer": "Newer", "older": "Older", "newest": "Newest", "oldest": "Oldest",
        "page": "Page {}", "articles": "articles", "source": "Source", "channels": "Channels",
        "count": "Articles", "last_update": "Last update", "not_found": "Page not found",
        "not_found_text": "The page you are looking for does not exist.", "feed": "Feed",
        "last_success": "Last success", "last_error": "Last error", "streak": "Failures",
        "recent": "Last 7 days", "total": "Total", "search_placeholder": "Search articles…",
        "searching": "Searching…", "no_results": "No articles found", "found": "{} articles",
        "search_unavailable": "The search index has not been built yet", "more": "More",
        "ok": "OK", "failing": "failing", "feeds": "feeds", "by_day": "By day",
        "subscribe": "Subscribe", "retired": "No longer followed", "retired_since": "Retired",
        "retired_note": "These feeds left the config; their articles stay in the archive.",
        "site_nav": "Site", "pages_nav": "Pages", "article_nav": "Nearby articles",
        "search_site": "Search this site",
        "filter_category": "Category", "filter_source": "Source",
        "filter_all_categories": "All categories", "filter_all_sources": "All sources",
        "filter_need_query": "Type a word to search the chosen category and source",
        "site_description": "{}: news by category, source and channel, searchable, with feeds",
        "back_to_top": "Back to top", "density": "Layout", "density_cards": "Cards",
        "density_list": "List", "density_headlines": "Headlines", "date_assumed": "first seen",
        "date_assumed_long": "The feed gave no date: this is when rsspage first saw it",
        "reading_time": "{} min read",
    },
}
