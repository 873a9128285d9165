"""The publish stage as the pipeline sees it: every configured output, written from the store.

Hexo posts (``output.hexo``) and the built-in site (``output.site``: pages, search index, the
site's feeds, OPML, sitemap, robots.txt) each go through their own :class:`OutputWriter`, whose
manifest lives in the state folder. Names assigned to Hexo posts and the hashes of site pages
are saved in the store after the files are written, so an interrupted build is completed by
the next one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from rsspage.config import Config
from rsspage.publish import feeds_out
from rsspage.publish.hexo import publish_hexo
from rsspage.publish.site import SiteLinks, SiteResult, build_site, site_links
from rsspage.publish.writer import OutputWriter, WriteStats
from rsspage.store import FeedHealth, Store
from rsspage.types import Article

#: A (written, removed) pair per output name.
PublishStats = dict[str, tuple[int, int]]


def publish_all(config: Config, store: Store, now: datetime) -> PublishStats:
    published: PublishStats = {}
    if config.output.hexo is not None:
        published["hexo"] = _counts(publish_hexo_posts(config, store))
    if config.output.site is not None:
        published["site"] = _counts(publish_site(config, store, now))
    return published


def _counts(stats: WriteStats) -> tuple[int, int]:
    return stats.written, stats.removed


def publish_hexo_posts(config: Config, store: Store) -> WriteStats:
    assert config.output.hexo is not None
    writer = OutputWriter(config.output.hexo, config.output.state / "hexo-manifest.json")
    try:
        assigned = publish_hexo(store.articles(), writer, store.published_names("hexo"))
        # Names first: a post put in place must never lose the name it was written under.
        store.save_names("hexo", assigned)
        return writer.finish()
    except BaseException:
        writer.abort()
        raise


def publish_site(config: Config, store: Store, now: datetime) -> WriteStats:
    articles = list(store.articles())
    health = store.health(now - timedelta(days=7))
    result, stats = write_site(config, articles, health, store.page_hashes("site"))
    store.save_page_hashes("site", result.page_hashes)
    return stats


def write_site(
    config: Config,
    articles: Sequence[Article],
    health: Sequence[FeedHealth],
    page_hashes: Mapping[str, str],
) -> tuple[SiteResult, WriteStats]:
    """The whole site, all or nothing: pages and feeds are staged and put in place together,
    then the search shards; a failure before that leaves the previous site as it was."""
    assert config.output.site is not None
    writer = OutputWriter(config.output.site, config.output.state / "site-manifest.json")
    try:
        result = build_site(articles, health, config, writer, page_hashes)
        pages = [path for path in result.page_hashes if path.endswith(".html")]
        links = site_links(articles)
        for relpath, data in site_extras(config, articles, links, health, pages).items():
            writer.write(relpath, data)
        stats = writer.finish()
    except BaseException:
        writer.abort()
        raise
    result.search.put_in_place()
    return result, stats


def site_extras(
    config: Config,
    articles: Sequence[Article],
    links: SiteLinks,
    health: Sequence[FeedHealth],
    pages: Sequence[str],
) -> dict[str, bytes]:
    """The site's machine-readable files: feeds, OPML, sitemap, robots.txt."""
    site = config.site
    newest_first = sorted(articles, key=lambda a: (a.published, a.id), reverse=True)
    files = feeds_out.feed_set(newest_first, feeds_out.SiteFeeds(
        title=site.title, url=site.url, language=site.language,
        article_page=links.article_page, category_page=links.category_page,
        source_page=links.source_page,
    ))
    followed = [feeds_out.OpmlFeed(h.channel or h.title or h.key, h.url or h.key, "",
                                   h.category, h.source or h.title) for h in health]
    files["feeds/subscriptions.opml"] = feeds_out.opml(site.title, followed)
    files.update(feeds_out.sitemaps(site.url, [(p, None) for p in sorted(pages)]))
    files["robots.txt"] = feeds_out.robots(site.url)
    return files
