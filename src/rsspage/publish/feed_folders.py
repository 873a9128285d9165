"""The site's feed folders: which articles each holds, how each is named and rendered.

``feeds/`` for the whole site, ``feeds/<category>/`` per category and
``feeds/<category>/<source>/`` per source, each with the newest :data:`~rsspage.publish.
feeds_out.FEED_LIMIT` articles in every format of :data:`~rsspage.publish.feeds_out.FORMATS`
(the formats themselves, OPML and the sitemap are feeds_out's).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from rsspage.publish.feeds_out import FEED_LIMIT, FORMATS, UUID_NAMESPACE, FeedMeta, newest
from rsspage.publish.names import clash_key, safe_segment
from rsspage.types import Article

#: Bytes of UTF-8 for one category or source folder name.
SEGMENT_BYTES = 100
#: Names a feed folder's child must not take: its own files, and ``index.html`` (a folder of
#: that name would stop static hosts from serving the folder's URL).
_RESERVED_IN_FEED_FOLDER = (*FORMATS, "index.html")


@dataclass(frozen=True, slots=True)
class SiteFeeds:
    """What :func:`feed_groups` needs to know of the site."""

    title: str
    #: Absolute base URL, ``""`` when unknown.
    url: str
    language: str
    article_page: Callable[[Article], str] | None = None
    #: Relative URL of a category's page / a (category, source) page; home when None.
    category_page: Callable[[str], str] | None = None
    source_page: Callable[[str, str], str] | None = None


@dataclass(frozen=True, slots=True)
class FeedGroup:
    """One feed folder: the same articles in every format of :data:`FORMATS`."""

    #: ``feeds/…/``, not encoded.
    folder: str
    title: str
    #: Relative URL of the page the feeds stand for (``""``: the home page).
    page: str
    #: Newest first.
    articles: Sequence[Article]

    @property
    def files(self) -> list[str]:
        return [self.folder + name for name in FORMATS]


def feed_groups(
    articles_newest_first: Iterable[Article], site: SiteFeeds, *, limit: int = FEED_LIMIT
) -> list[FeedGroup]:
    """Every feed folder of the site, each with the ``limit`` newest articles.

    Layout (three files per folder: ``atom.xml``, ``rss.xml``, ``feed.json``)::

        feeds/                       the whole site
        feeds/<category>/            one category
        feeds/<category>/<source>/   one source of that category
    """
    whole, by_cat, by_src = _latest(articles_newest_first, limit)
    cat_dirs = folder_names(by_cat)
    groups = [feed_group(site, "feeds/", (), whole)]
    for category, items in by_cat.items():
        folder = f"feeds/{cat_dirs[category]}/"
        groups.append(feed_group(site, folder, (category,), items))
        sources = by_src[category]
        for source, src_dir in folder_names(sources).items():
            groups.append(feed_group(site, f"{folder}{src_dir}/", (category, source),
                                     sources[source]))
    return groups


def feed_group(site: SiteFeeds, folder: str, place: tuple[str, ...],
               articles: Sequence[Article]) -> FeedGroup:
    """The feed folder of the site (``place`` ``()``), a category or a (category, source),
    titled and linked to its page."""
    if not place:
        return FeedGroup(folder, site.title, "", articles)
    if len(place) == 1:
        page = site.category_page(place[0]) if site.category_page else ""
        return FeedGroup(folder, f"{place[0]} · {site.title}", page, articles)
    category, source = place[:2]
    page = site.source_page(category, source) if site.source_page else ""
    return FeedGroup(folder, f"{source} · {category} · {site.title}", page, articles)


def render_group(site: SiteFeeds, group: FeedGroup) -> dict[str, bytes]:
    """The files of one feed folder, ``{relpath: bytes}``."""
    return _formats(site, group.folder, group.title, group.page, group.articles)


def _latest(
    articles: Iterable[Article], limit: int
) -> tuple[list[Article], dict[str, list[Article]], dict[str, dict[str, list[Article]]]]:
    """The newest ``limit`` articles overall, per category and per (category, source)."""
    whole: list[Article] = []
    by_cat: dict[str, list[Article]] = {}
    by_src: dict[str, dict[str, list[Article]]] = {}
    for article in articles:
        if len(whole) < limit:
            whole.append(article)
        cat = by_cat.setdefault(article.category, [])
        if len(cat) < limit:
            cat.append(article)
        src = by_src.setdefault(article.category, {}).setdefault(article.source, [])
        if len(src) < limit:
            src.append(article)
    return whole, by_cat, by_src


def _formats(
    site: SiteFeeds, folder: str, title: str, page: str, articles: Sequence[Article]
) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for name, render in FORMATS.items():
        meta = FeedMeta(title, site.url, folder + name, page, site.language, newest(articles),
                        site.article_page)
        out[folder + name] = render(meta, articles)
    return out


def folder_names(names: Iterable[str]) -> dict[str, str]:
    """A distinct, safe, stable folder name for each name.

    A name that is already safe keeps itself; one that had to change gets ``-`` and a short
    hash of the original, so two names never share a folder (nor with a feed file name or
    ``index.html``) and no name's folder depends on which other names exist. Names differing
    only in case (which a case-insensitive disk cannot tell apart) are the one remaining clash:
    the first in sorted order keeps the plain name.
    """
    taken = {clash_key(n) for n in _RESERVED_IN_FEED_FOLDER}
    result: dict[str, str] = {}
    for name in sorted(set(names)):
        segment = safe_segment(name, SEGMENT_BYTES)
        if segment != name or clash_key(segment) in taken:
            digest = uuid.uuid5(UUID_NAMESPACE, "name:" + name).hex[:8]
            segment = safe_segment(name, SEGMENT_BYTES - 9) + "-" + digest
        taken.add(clash_key(segment))
        result[name] = segment
    return result
