"""The static site's data, computed once per build: article views, the category tree, URLs.

Everything a page shows is prepared here, before any page is rendered, so that rendering is
only template work and a page's input hash can be taken from plain strings.

URL layout (paths relative to the site root; every folder name made by
:func:`~rsspage.publish.names.safe_segment`)::

    index.html, page/<period>.html     home: newest articles, then a page per month
                                       (2026-11, 2026-11.2 …; per day in crowded months)
    c/index.html                       category index
    c/<cat>/[<source>/[<channel>/]]    listing folders: index.html + page/<period>.html
    a/<id[:2]>/<id>.html               one page per article (few hundred folders, not 20,000)
    archive/index.html, archive/<day>.html
    search.html, health.html, 404.html, static/*

Feeds (written by :mod:`~rsspage.publish.feeds_out`, folders named by its ``folder_names``):
``feeds/`` for the site, ``feeds/<cat>/`` per category and ``feeds/<cat>/<source>/`` per source;
a channel's pages offer its source's feeds.

Listing pages are cut by the month (or, in a crowded month, the day) the articles are dated,
each cut from its oldest article, so a new article changes only the newest page and the
listing's ``index.html``, and one dated in the past only its own period's pages.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import quote
from zoneinfo import ZoneInfo

from rsspage.publish.feed_folders import folder_names
from rsspage.publish.names import clash_key, safe_segment
from rsspage.publish.players import Player, players
from rsspage.publish.reading import card_summary
from rsspage.types import Article

#: Bytes of UTF-8 for one category, source or channel folder name.
SEGMENT_BYTES = 96
#: Names a listing folder already uses for itself; a child folder must not take them.
RESERVED = frozenset({"index.html", "page"})
#: Characters of ``Article.text`` shown as a card's summary. CSS clamps it to two lines, which
#: show at most 75 Chinese or 88 Latin characters at any width from 360 to 1,400 px (measured
#: in Chromium): 140 cost 12 % more bytes per listing page for text nobody sees.
SUMMARY_CHARS = 90
_PLAIN_ID = re.compile(r"[0-9A-Za-z_-]{4,64}")
_IMG_TAG = re.compile(r"<img\b([^>]*?)(/?)>", re.IGNORECASE)


def href(path: str) -> str:
    """A site-relative path as a percent-encoded URL path (CJK and all)."""
    return quote(path, safe="/")


def article_path(article_id: str) -> str:
    """``a/<id[:2]>/<id>.html``; an id that is not a plain token is hashed first."""
    token = article_id if _PLAIN_ID.fullmatch(article_id) else _digest(article_id)[:20]
    return f"a/{token[:2].lower()}/{token}.html"


def child_segments(names: Iterable[str]) -> dict[str, str]:
    """A distinct, safe, stable folder name for each name, never one of :data:`RESERVED`.

    A name that is safe as it stands keeps itself; one that had to change (or clashes with a
    reserved name) gets ``-`` and a short hash of the original, so its folder does not depend
    on which other names exist. Names equal but for case share a disk folder on macOS and
    Windows: the first in sorted order keeps the plain name.
    """
    taken = {clash_key(n) for n in RESERVED}
    result: dict[str, str] = {}
    for name in sorted(set(names)):
        segment = safe_segment(name, SEGMENT_BYTES)
        if segment != name or clash_key(segment) in taken:
            segment = safe_segment(name, SEGMENT_BYTES - 9) + "-" + _digest(name)[:8]
        taken.add(clash_key(segment))
        result[name] = segment
    return result


def with_image_attributes(html: str) -> str:
    """Make sure every ``<img>`` has ``referrerpolicy`` and ``loading`` (normalise adds them;
    this keeps a page correct even for content stored by an older rsspage)."""
    if html.count("<img") == html.count('referrerpolicy="no-referrer"'):
        return html
    return _IMG_TAG.sub(_fix_img, html)


def _fix_img(match: re.Match[str]) -> str:
    attrs, slash = match.group(1), match.group(2)
    if "referrerpolicy=" not in attrs.lower():
        attrs += ' referrerpolicy="no-referrer"'
    if "loading=" not in attrs.lower():
        attrs += ' loading="lazy"'
    return f"<img{attrs}{slash}>"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(eq=False, slots=True)
class Node:
    """A category, source or channel: a listing folder and the articles under it."""

    #: "category", "source" or "channel".
    kind: str
    name: str
    #: Folder relative to the site root, with a trailing slash (``c/新媒体/``), not encoded.
    folder: str
    parent: Node | None
    #: Oldest first.
    articles: list[ArticleView] = field(default_factory=list)
    children: dict[str, Node] = field(default_factory=dict)
    #: Percent-encoded URL path of the listing's first view (every card links to it).
    index: str = ""
    #: Folder of the feeds that cover this node (a channel: its source's), not encoded.
    feeds: str = ""
    #: How many articles it lists, and when the newest was published (ISO 8601 in the site's
    #: zone, "" when none): what the category index shows, known also to a build that has
    #: not loaded :attr:`articles`.
    count: int = 0
    latest: str = ""

    def __post_init__(self) -> None:
        self.index = href(self.folder + "index.html")

    @property
    def trail(self) -> list[Node]:
        """This node and its ancestors, outermost first (for breadcrumbs)."""
        nodes: list[Node] = []
        node: Node | None = self
        while node is not None:
            nodes.append(node)
            node = node.parent
        return nodes[::-1]

    @property
    def feeds_url(self) -> str:
        """Percent-encoded URL of :attr:`feeds` (``feeds/%E6%96%B0/``)."""
        return href(self.feeds)

    @property
    def feeds_name(self) -> str:
        """Whose feeds they are, innermost first, as feeds_out titles them (``源 · 分类``)."""
        owner = self.parent if self.kind == "channel" and self.parent else self
        return " · ".join(n.name for n in reversed(owner.trail))

    @property
    def latest_when(self) -> str:
        """:attr:`latest` as ``2022-07-21 17:22``."""
        return f"{self.latest[:10]} {self.latest[11:16]}" if self.latest else ""

    def nodes(self) -> Iterator[Node]:
        """This node and every node below it."""
        yield self
        for child in self.children.values():
            yield from child.nodes()


@dataclass(eq=False, slots=True)
class ArticleView:
    """An article as the pages show it (times in the site's zone, URLs ready to use)."""

    article: Article
    #: Output path of its page (``a/3f/3f9c….html``), not encoded (ids are plain ASCII).
    path: str
    #: Published time in the site's zone: ``2022-07-21 17:22`` and ISO 8601 for ``<time>``.
    when: str
    iso: str
    #: Day in the site's zone (``2022-07-21``).
    day: str
    summary: str
    channel: Node
    #: What a card of this article shows, as one string for page hashes.
    card_key: str = ""
    #: Its story cluster's id ("" when alone) and the cluster's other articles that have pages,
    #: oldest first: "also reported by" (store/clusters.py).
    cluster: str = ""
    related: tuple[Related, ...] = ()

    @property
    def also(self) -> int:
        """How many other sources reported its story (what its card says)."""
        return len({r.source for r in self.related} - {self.article.source})

    def players(self) -> list[Player]:
        """The article's enclosures as its page plays them (:mod:`.players`)."""
        return players(self.article)

    def head_image(self) -> str:
        """The head image, unless the content already shows it (then it would appear twice)."""
        image, content = self.article.image, self.article.content_html
        if not image or image in content or image.replace("&", "&amp;") in content:
            return ""
        return image

    @property
    def source(self) -> Node:
        assert self.channel.parent is not None
        return self.channel.parent

    @property
    def category(self) -> Node:
        assert self.source.parent is not None
        return self.source.parent


@dataclass(frozen=True, slots=True)
class Related:
    """Another article of the same story (another source's report), as an article page lists
    it."""

    title: str
    source: str
    #: Output path of its page, not encoded.
    path: str


def related_of(article: Article, members: Sequence[Article]) -> tuple[Related, ...]:
    """The other ``members`` of ``article``'s cluster (in the site's order) as its page lists
    them."""
    return tuple(Related(m.title, m.source, article_path(m.id)) for m in members
                 if m.id != article.id)


@dataclass(slots=True)
class SiteLinks:
    """Percent-encoded URLs (relative to the site root) of the site's pages, for feeds_out
    (``SiteFeeds.article_page`` / ``category_page`` / ``source_page``) and the sitemap."""

    #: Categories by name, in name order.
    categories: dict[str, Node]

    def article_page(self, article: Article) -> str:
        return href(article_path(article.id))

    def category_page(self, category: str) -> str:
        return self.categories[category].index

    def source_page(self, category: str, source: str) -> str:
        return self.categories[category].children[source].index


@dataclass(slots=True)
class SiteModel(SiteLinks):
    """All shared data of one build."""

    #: Every article, oldest first (by published time, then id: a stable total order).
    views: list[ArticleView]
    #: Day → that day's articles, oldest first; days in ascending order.
    days: dict[str, list[ArticleView]]


def build_model(articles: Sequence[Article], zone: ZoneInfo,
                clusters: Mapping[str, str] | None = None) -> SiteModel:
    """Sort, group and prepare every article once. ``clusters``: the story cluster of each
    clustered article, by id (``SiteQuery.clusters``)."""
    unique = {a.id: a for a in articles}  # the store never repeats an id; be safe anyway
    ordered = sorted(unique.values(), key=lambda a: (a.published, a.id))
    clusters = clusters or {}
    members: dict[str, list[Article]] = {}
    for article in ordered:
        if article.id in clusters:
            members.setdefault(clusters[article.id], []).append(article)
    categories = tree(tree_names((a.category, a.source, a.channel) for a in ordered))
    views: list[ArticleView] = []
    days: dict[str, list[ArticleView]] = {}
    for article in ordered:
        channel = categories[article.category].children[article.source].children[article.channel]
        cluster = clusters.get(article.id, "")
        view = view_of(article, channel, zone, cluster, members.get(cluster, ()))
        views.append(view)
        days.setdefault(view.day, []).append(view)
        for node in channel.trail:
            node.articles.append(view)
    for category in categories.values():
        for node in category.nodes():
            node.count = len(node.articles)
            node.latest = node.articles[-1].iso if node.articles else ""
    return SiteModel(categories, views, dict(sorted(days.items())))


#: Category → source → channels.
TreeNames = dict[str, dict[str, set[str]]]


def tree_names(triples: Iterable[tuple[str, str, str]]) -> TreeNames:
    names: TreeNames = {}
    for category, source, channel in triples:
        names.setdefault(category, {}).setdefault(source, set()).add(channel)
    return names


def tree(names: TreeNames) -> dict[str, Node]:
    """The category tree, every node with its folders, empty (no articles, counts 0)."""
    categories: dict[str, Node] = {}
    cat_feeds = folder_names(names)
    for cat_name, cat_seg in sorted(child_segments(names).items()):
        cat_feed = f"feeds/{cat_feeds[cat_name]}/"
        cat = Node("category", cat_name, f"c/{cat_seg}/", None, feeds=cat_feed)
        categories[cat_name] = cat
        src_feeds = folder_names(names[cat_name])
        for src_name, src_seg in sorted(child_segments(names[cat_name]).items()):
            feeds = f"{cat.feeds}{src_feeds[src_name]}/"
            src = Node("source", src_name, f"{cat.folder}{src_seg}/", cat, feeds=feeds)
            cat.children[src_name] = src
            for ch_name, ch_seg in sorted(child_segments(names[cat_name][src_name]).items()):
                src.children[ch_name] = Node("channel", ch_name, f"{src.folder}{ch_seg}/", src,
                                             feeds=feeds)
    return categories


def view_of(article: Article, channel: Node, zone: ZoneInfo, cluster: str = "",
            members: Sequence[Article] = (), summary: str | None = None) -> ArticleView:
    """The view of ``article``; ``cluster`` its story cluster, ``members`` that cluster's
    articles with pages (``article`` among them), in the site's order; ``summary`` its
    :func:`card_summary` when known already."""
    iso = article.published.astimezone(zone).isoformat()  # 2022-07-21T17:22:55+08:00
    if summary is None:
        summary = card_summary(article.title, article.text, SUMMARY_CHARS)
    view = ArticleView(
        article=article, path=article_path(article.id), when=f"{iso[:10]} {iso[11:16]}",
        iso=iso, day=iso[:10], summary=summary, channel=channel,
    )
    # content_hash covers title, text and image; the time and the channel folder it links to
    # are added because they can change without it (estimated dates, renamed folders).
    view.card_key = f"{article.id}:{article.content_hash}:{view.iso}:{channel.folder}"
    if cluster:
        view.cluster, view.related = cluster, related_of(article, members)
        view.card_key += f":{cluster}:{view.also}"  # the card says "also reported by N"
    return view


def local_time(stamp: str | None, zone: ZoneInfo) -> str:
    """An ISO 8601 timestamp from the store as ``YYYY-MM-DD HH:MM`` in ``zone`` (or ``""``)."""
    if not stamp:
        return ""
    try:
        when = datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    return when.astimezone(zone).strftime("%Y-%m-%d %H:%M") if when.tzinfo else stamp
