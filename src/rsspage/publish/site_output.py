"""The built-in site as the publish stage writes it: pages, search, feeds, OPML, sitemap.

A build is skipped when nothing changed (rebuild.py), made from the articles changed since the
last one when it can be (site_delta.py: what they touch, read through indexes), or made whole:
every article of the site's window read once (site.py). Either way the files are staged and put
in place together, then the search shards; a failure before that leaves the site as it was.
The page hashes live in the site folder (they describe that copy of it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from itertools import chain
from zoneinfo import ZoneInfo

from rsspage.config import Config
from rsspage.errors import PublishError
from rsspage.publish import (
    build_record,
    feed_folders,
    feeds_out,
    hosts,
    manifest,
    precompress,
    rebuild,
    search_index,
    site_delta,
    site_size,
    table_map,
)
from rsspage.publish.build_record import BuildRecord
from rsspage.publish.rebuild import EXTRAS_FORMAT, write_unless_kept
from rsspage.publish.site import (
    ContentLoader,
    SiteLinks,
    SiteResult,
    build_site,
    build_site_delta,
    feed_views,
    site_version,
    with_content,
)
from rsspage.publish.site_pages import Lead, digest, health_page, window_lead
from rsspage.publish.sitemap import write_sitemap
from rsspage.publish.write_stats import WriteStats
from rsspage.publish.writer import OutputWriter
from rsspage.store import ArchiveMark, Change, FeedHealth, SiteQuery, Store
from rsspage.types import Article

log = logging.getLogger("rsspage")

#: In the state folder: the numbers of the site's folders at their last measure (site_size.py).
SIZES_NAME = "site-sizes.json"


def site_counts(config: Config, stats: WriteStats) -> site_size.SiteCounts:
    """What a site build did, with the size of the site folder now and the warnings for the
    user: the limits of ``site.host`` near or passed, an encoding that cannot be written."""
    assert config.output.site is not None
    size = site_size.measure(config.output.site, config.output.state / SIZES_NAME)
    _, unusable = precompress.usable(config.site.precompress)
    warnings = unusable + hosts.host_warnings(size, hosts.LIMITS.get(config.site.host))
    return site_size.SiteCounts(stats.written, stats.removed, stats.kept_unknown, size=size,
                                warnings=tuple(warnings))


def publish_site(config: Config, store: Store, now: datetime, *,
                 full: bool = False) -> WriteStats:
    root = config.output.site
    assert root is not None
    mark = store.mark()  # before the articles: a change made meanwhile is built next time
    health = store.health(now - timedelta(days=7))
    since = site_window(config, store, now)
    inputs, health_key = site_inputs(config), digest(*map(repr, health))
    window = since.isoformat() if since else ""
    record = None if full else build_record.load(root)
    if (skipped := rebuild.skipped(root, record, mark, inputs, health_key, window)) is not None:
        return skipped
    build_record.forget(root)  # until this build is wholly in place
    # Kept with the files they describe; the store held them before (read once, then dropped).
    previous = manifest.load_pages(root)
    try:
        try:
            result, stats = _build(config, store, previous, record, mark, inputs, since, health)
        except PublishError:
            if not manifest.pages_failed(previous):
                raise
            # Damaged page hashes (a power cut; they are not fsync'ed) only cost a full build.
            log.warning("the page hashes in %s are damaged: building every page", root)
            manifest.close_pages(previous)
            previous = None
            result, stats = _build(config, store, None, None, mark, inputs, since, health)
        manifest.save_pages(root, result.page_hashes)
    finally:
        manifest.close_pages(previous)
    if previous is None:
        store.save_page_hashes("site", {})
    stats.check()  # after the bookkeeping: the new files are in place all the same
    if not result.search_failed:
        # A search index Pagefind failed to update is mended by the next build, which must
        # not be skipped for want of a change in the archive.
        tree = site_delta.tree_key(result.links.categories)
        rebuild.record_build(root, mark, inputs, stats, tree, health_key, window)
    return stats


def _build(config: Config, store: Store, previous: Mapping[str, str] | None,
           record: BuildRecord | None, mark: ArchiveMark, inputs: str, since: datetime | None,
           health: Sequence[FeedHealth]) -> tuple[SiteResult, WriteStats]:
    """The site built from the changes since ``record`` when it can be, else whole."""
    query = store.site_query(since)
    changes = _changes(store, query, record, mark, inputs) if previous is not None else None
    if previous is not None and changes is not None and record is not None:
        return write_site_changes(config, query, changes, _window_of(record), health,
                                  previous, store.contents)
    # Without their content: only the pages and feeds rendered again load it
    # (store.contents). Only the site's window of the archive is read.
    articles = list(store.articles(content=False, since=since))
    return write_site(config, articles, health,
                      store.page_hashes("site") if previous is None else previous,
                      store.contents, store.is_unknown, query.clusters(),
                      window_lead(query, ZoneInfo(config.site.timezone)))


def _changes(store: Store, query: SiteQuery, record: BuildRecord | None, mark: ArchiveMark,
             inputs: str) -> list[Change] | None:
    """The articles a build from the changes must look at (``rebuild.changes_since``, and those
    that left or entered the window since the last build), when every listing's folder depends
    on its name alone; None for a full build."""
    changes = rebuild.changes_since(store, record, mark, inputs)
    if changes is None or record is None or record.tree == site_delta.UNSTABLE:
        return None
    names = site_delta.names_of(query)
    if site_delta.tree_key_of(names) != record.tree and not site_delta.stable_folders(names):
        return None
    # The window moved (a day's articles left it): they are removed like deleted ones.
    moved = store.window_moved(_window_of(record), query.since, rebuild.DELTA_LIMIT - len(changes))
    if moved is None:
        return None
    logged = {c.id for c in changes}
    return [*changes, *(c for c in moved if c.id not in logged)]


def _window_of(record: BuildRecord) -> datetime | None:
    """The start of the window the site was last built with."""
    return datetime.fromisoformat(record.window) if record.window else None


def write_site_changes(config: Config, query: SiteQuery, changes: Sequence[Change],
                       since: datetime | None, health: Sequence[FeedHealth],
                       previous: Mapping[str, str], load_content: ContentLoader,
                       ) -> tuple[SiteResult, WriteStats]:
    """The pages, feeds, sitemap and search shards ``changes`` touch (site_delta.py) in a site
    last built with the window ``since``; every other file is kept as it is. All or nothing,
    like :func:`write_site`. (The archive is the one the site was built from: every article it
    holds files for is known.)"""
    root = config.output.site
    assert root is not None
    zone = ZoneInfo(config.site.timezone)
    plan = site_delta.plan(query, changes, zone, config.output.page_size, previous,
                           search_index.find_binary() is not None, since)
    plan.pages = chain(plan.pages, [health_page(health)])
    source = site_delta.QuerySource(query, plan.categories, zone)
    # The last build's hashes as this build changes them: from SQLite, only the changes are
    # held (the others are read when asked for, and stay where they are).
    hashes = table_map.overlay(previous)
    search = [path for path, _ in table_map.under(previous, [search_index.FOLDER + "/"])]
    writer = rebuild.writer_for(config, "site", root)
    result = None

    def extras(pages: Mapping[str, str]) -> None:
        """The feeds, the sitemap and the OPML of the change (while Pagefind may index)."""
        for path in (*plan.remove, *search):  # the shards' hashes: result.search.hashes
            hashes.pop(path, None)
        hashes.update(pages)
        feeds = site_feeds(config, SiteLinks(plan.categories))
        groups = site_delta.feed_groups(plan.categories, plan.feeds, query, feeds)
        hashes.update(write_feeds(config, feeds, groups, writer, previous, load_content))
        touched = [p for p in pages if p.endswith(".html") and p not in previous]
        touched += [p for p in plan.remove if p.endswith(".html") and p in previous]
        sitemap = write_sitemap(config, table_map.ending(hashes, ".html"), writer, previous,
                                touched)
        plan.remove |= {p for p, _ in table_map.under(previous, ["sitemap"])
                        if p not in sitemap}
        hashes.update(sitemap)
        write_opml(config, health, writer)

    try:
        result = build_site_delta(plan, source, config, writer, previous, load_content,
                                  feed_views(health), then=extras)
        hashes.update(result.search.hashes)
        for path in plan.remove:
            hashes.pop(path, None)
        writer.keep_others(plan.remove)
        stats = writer.finish()
    except BaseException:
        _abort(writer, result)
        raise
    _put_search_in_place(config, writer, result)
    return replace(result, page_hashes=hashes), stats


def site_window(config: Config, store: Store, now: datetime) -> datetime | None:
    """The oldest publication time that gets pages (None: all do): the start of the oldest
    day, in the site's zone, that ``site.keep_days`` keeps and that holds one of the newest
    ``site.max_articles``. Whole days: the window moves once a day, not with each article, so
    the pages and the search shards of the oldest days are not rebuilt on every update (and a
    day's archive page is never cut in half)."""
    zone = ZoneInfo(config.site.timezone)
    starts = []
    if config.site.keep_days:
        starts.append(now - timedelta(days=config.site.keep_days))
    if config.site.max_articles and (
            oldest := store.published_at(config.site.max_articles)) is not None:
        starts.append(oldest)
    if not starts:
        return None
    day = max(starts).astimezone(zone).date()
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)


def site_inputs(config: Config) -> str:
    """Digest of everything the site is built from but the articles, the window of them that
    gets pages and the feeds' health (those three are built from what changed): the pages'
    version, the formats of the feeds and the search index, whether Pagefind is there, the
    compressed copies asked for."""
    encodings, _ = precompress.usable(config.site.precompress)
    return digest(site_version(config), EXTRAS_FORMAT, search_index.SEARCH_FORMAT,
                  search_index.find_binary() or "", *encodings)


def write_site(
    config: Config,
    articles: Sequence[Article],
    health: Sequence[FeedHealth],
    page_hashes: Mapping[str, str],
    load_content: ContentLoader | None = None,
    keep_article: Callable[[str], bool] | None = None,
    clusters: Mapping[str, str] | None = None,
    lead: Lead | None = None,
) -> tuple[SiteResult, WriteStats]:
    """The whole site, all or nothing: pages and feeds are staged and put in place together,
    then the search shards; a failure before that leaves the previous site as it was.

    ``load_content``: see :func:`~rsspage.publish.site.build_site`; ``keep_article``: see
    :meth:`~rsspage.publish.writer.OutputWriter.finish`; ``clusters``: the story cluster of
    each clustered article, by id (``SiteQuery.clusters``); ``lead``: the articles of the
    window's first month before its start (site_pages.Lead)."""
    assert config.output.site is not None
    writer = rebuild.writer_for(config, "site", config.output.site, whole=True)
    result = None
    extras: dict[str, str] = {}

    def write_them(links: SiteLinks, pages: Mapping[str, str]) -> None:
        """The feeds and the sitemap, once the pages are known (while they render)."""
        html = [path for path in pages if path.endswith(".html")]
        extras.update(write_extras(config, articles, links, health, html, writer, page_hashes,
                                   load_content))

    try:
        result = build_site(articles, health, config, writer, page_hashes, load_content,
                            clusters, lead, then=write_them)
        result.page_hashes.update(extras)
        stats = writer.finish(keep_article=keep_article)
    except BaseException:
        _abort(writer, result)
        raise
    _put_search_in_place(config, writer, result)
    return result, stats


def _abort(writer: OutputWriter, result: SiteResult | None) -> None:
    """Leave the site as it was: the staged files and the search shards built beside it go."""
    writer.abort()
    if result is not None:
        result.search.discard()


def _put_search_in_place(config: Config, writer: OutputWriter, result: SiteResult) -> None:
    """After the pages: the new search shards, then their compressed copies (Pagefind's bundles
    are not the writer's: their copies are made, or removed, here)."""
    result.search.put_in_place()
    precompress.sync_search(writer.root, precompress.usable(config.site.precompress)[0])


def write_extras(
    config: Config,
    articles: Sequence[Article],
    links: SiteLinks,
    health: Sequence[FeedHealth],
    pages: Sequence[str],
    writer: OutputWriter,
    previous: Mapping[str, str],
    load_content: ContentLoader | None = None,
) -> dict[str, str]:
    """The site's machine-readable files: feeds, OPML, sitemap, robots.txt; returns their input
    hashes. A feed folder or sitemap whose inputs did not change (``previous``) is not rendered
    again: a few new articles touch a few of the feed folders."""
    site = config.site
    feeds = site_feeds(config, links)
    newest_first = sorted(articles, key=lambda a: (a.published, a.id), reverse=True)
    hashes = write_feeds(config, feeds, feed_folders.feed_groups(newest_first, feeds), writer,
                         previous, load_content)
    hashes |= write_sitemap(config, pages, writer, previous)
    write_opml(config, health, writer)
    writer.write("robots.txt", feeds_out.robots(site.url))
    return hashes


def write_opml(config: Config, health: Sequence[FeedHealth], writer: OutputWriter) -> None:
    """``feeds/subscriptions.opml``: the feeds followed now."""
    followed = [feeds_out.OpmlFeed(h.channel or h.title or h.key, h.url or h.key, "",
                                   h.category, h.source or h.title)
                for h in health if h.retired_at is None]
    writer.write("feeds/subscriptions.opml", feeds_out.opml(config.site.title, followed))


def site_feeds(config: Config, links: SiteLinks) -> feed_folders.SiteFeeds:
    site = config.site
    return feed_folders.SiteFeeds(
        title=site.title, url=site.url, language=site.language,
        article_page=links.article_page, category_page=links.category_page,
        source_page=links.source_page,
    )


def write_feeds(config: Config, feeds: feed_folders.SiteFeeds,
                groups: Iterable[feed_folders.FeedGroup], writer: OutputWriter,
                previous: Mapping[str, str], load_content: ContentLoader | None,
                ) -> dict[str, str]:
    """The feed folders of ``groups`` whose inputs changed; their input hashes."""
    site = config.site
    hashes: dict[str, str] = {}
    for group in groups:
        key = digest(EXTRAS_FORMAT, site.title, site.url, site.language, group.folder,
                     group.title, group.page, *map(_feed_entry_key, group.articles))
        hashes |= write_unless_kept(writer, previous, key, group.files,
                                     partial(_render_group, feeds, group, load_content))
    return hashes


def _render_group(feeds: feed_folders.SiteFeeds, group: feed_folders.FeedGroup,
                  load_content: ContentLoader | None) -> dict[str, bytes]:
    if load_content is not None:
        group = replace(group, articles=with_content(group.articles, load_content))
    return feed_folders.render_group(feeds, group)


def _feed_entry_key(article: Article) -> str:
    """Everything of an article that its feed entries show (content_hash covers the title, text,
    content and image)."""
    return "\x1e".join((article.id, article.content_hash, article.link, article.author,
                        article.category, article.source, article.channel,
                        article.published.isoformat(),
                        article.updated.isoformat() if article.updated else ""))
