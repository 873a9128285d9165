"""How a listing page lays out its cards: by what its feeds are (issue 13).

RSSHub's catalog says what a route's items are (its ``view``): pictures, a social timeline,
videos, audio. A listing whose articles all come from feeds of one such kind takes that kind's
layout; without a catalog view, the articles themselves decide (all podcasts' episodes, all
videos, or no pictures at all: a dense list). Anything mixed (the home page, most categories)
stays a grid of cards. The reader's density switch (site.js) overrides all of it but cards.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rsspage.publish.reading import strip_title
from rsspage.publish.site_model import ArticleView

#: Catalog views and the layout of a listing of only such feeds.
VIEW_LAYOUTS: Mapping[str, str] = {
    "pictures": "gallery", "social": "timeline", "videos": "video", "audio": "audio",
}
#: Characters of a post a timeline shows (a social post is short: it is shown whole).
TIMELINE_CHARS = 400


def layout_of(items: Sequence[ArticleView], views: Mapping[str, str]) -> str:
    """``gallery``, ``timeline``, ``video``, ``audio``, ``list`` or ``""`` (cards) for a page
    of ``items``; ``views``: the catalog view of each feed that has one, by feed key."""
    if not items:
        return ""
    kinds = {views.get(v.article.feed_key) for v in items}
    if len(kinds) == 1 and (layout := VIEW_LAYOUTS.get(kinds.pop() or "")):
        return layout
    media = [{e.medium for e in v.article.enclosures} for v in items]
    if all("audio" in m for m in media):
        return "audio"
    if all("video" in m for m in media):
        return "video"
    if not any(v.article.image for v in items):
        return "list"
    return ""


def post_text(view: ArticleView) -> tuple[str, bool]:
    """What a timeline shows of a post: its text (at most :data:`TIMELINE_CHARS`), and whether
    the title is only its first words (social feeds title a post so: "今天地铁又延误了…"),
    which the card then does not show twice (the title stays for screen readers and the link)."""
    article = view.article
    text = article.text.strip()
    title = article.title.rstrip("…. ").strip()
    repeats = bool(title) and strip_title(title, text) != text
    if len(text) > TIMELINE_CHARS:
        text = text[:TIMELINE_CHARS].rstrip() + "…"
    return text, repeats
