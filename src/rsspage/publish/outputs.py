"""The publish stage as the pipeline sees it: every configured output, written from the store.

Hexo posts (``output.hexo``) and the built-in site (``output.site``: pages, search index, the
site's feeds, OPML, sitemap, robots.txt) each go through their own :class:`OutputWriter`, whose
manifest lives in the output folder itself: with a lost or younger state, a Hexo post keeps the
name the manifest says it was written under, and the files of articles the store does not know
are kept (counted as ``unknown``) until it knows them again. Only articles removed on purpose
(pruned, forgotten) lose their files. Each output is staged and put in place at the end: a
failure before that leaves the previous files as they were. Names assigned to Hexo posts are
saved before their files are put in place (a post never loses the name it was written under);
the hashes of site pages after (in the site folder: they describe that copy of it), so an
interrupted build is completed by the next one.
"""

from __future__ import annotations

from datetime import datetime

from rsspage.config import Config
from rsspage.publish import build_record, hexo_dates, rebuild
from rsspage.publish import hexo as hexo_posts
from rsspage.publish.hexo import DiskCheck, publish_hexo
from rsspage.publish.rebuild import EXTRAS_FORMAT
from rsspage.publish.site_output import (
    SIZES_NAME,
    publish_site,
    site_counts,
    site_window,
    write_extras,
    write_site,
)
from rsspage.publish.site_pages import digest
from rsspage.publish.write_stats import WriteStats
from rsspage.store import Store
from rsspage.types import Article, OutputCounts

__all__ = ["EXTRAS_FORMAT", "SIZES_NAME", "PublishStats", "publish_all", "publish_hexo_posts",
           "publish_site", "site_counts", "site_window", "write_extras", "write_site"]

#: What publishing did, per output name.
PublishStats = dict[str, OutputCounts]


#: The store's name for what the Hexo posts looked like on disk after the last build
#: (hexo.DiskCheck). It describes this machine's copy of the files, so it lives in the state
#: (not exported), not beside the posts, where a fresh checkout would change it every run.
_HEXO_ON_DISK = "hexo-on-disk"


def publish_all(config: Config, store: Store, now: datetime, *,
                full: bool = False) -> PublishStats:
    """Publish every configured output; ``full``: check every file even when the archive and
    the other inputs are as the output's last build found them (see build_record.py)."""
    mark = store.mark()
    published: PublishStats = {}
    if config.output.hexo is not None:
        published["hexo"] = _counts(publish_hexo_posts(config, store, full=full))
    if config.output.site is not None:
        published["site"] = site_counts(config, publish_site(config, store, now, full=full))
    # Every output is built at this mark now (or later): the log before it is of no more use.
    store.trim_changes(mark.seq)
    return published


def _counts(stats: WriteStats) -> OutputCounts:
    return OutputCounts(stats.written, stats.removed, stats.kept_unknown)


def publish_hexo_posts(config: Config, store: Store, *, full: bool = False) -> WriteStats:
    assert config.output.hexo is not None
    # Posts are rendered again when the date form changes (the setting, the blog's timezone).
    dates = hexo_dates.date_form(config.output.hexo_date, config.output.hexo)
    mark, inputs = store.mark(), digest(hexo_posts.post_format(dates))
    record = None if full else build_record.load(config.output.hexo)
    if (skipped := rebuild.skipped(config.output.hexo, record, mark, inputs)) is not None:
        return skipped
    build_record.forget(config.output.hexo)  # until this build is wholly in place
    changes = rebuild.changes_since(store, record, mark, inputs)
    writer = rebuild.writer_for(config, "hexo", config.output.hexo)
    removed: set[str] = set()
    try:
        stored = store.published_names("hexo")
        # An article the state lost its name for gets the name its post was written under.
        names = {**writer.article_paths(), **stored}
        seen = store.page_hashes(_HEXO_ON_DISK)
        check = DiskCheck(writer.root, seen)
        if changes is None:
            # Without their content: only the posts rendered again load it.
            used = publish_hexo(store.articles(content=False), writer, names,
                                load=store.articles_by_id, check=check, dates=dates)
        else:
            # Only the posts of the articles changed since the last build: the others are
            # kept unread (``build --full`` checks them all).
            found = store.articles_by_id(c.id for c in changes)
            used = publish_hexo(sorted(found.values(), key=_archive_order), writer, names,
                                check=check, dates=dates)
            removed = {names[c.id] for c in changes if c.id not in found and c.id in names}
            writer.keep_others(removed)
        # Names first: a post put in place must never lose the name it was written under.
        store.save_names("hexo", {i: rel for i, rel in used.items() if stored.get(i) != rel})
        stats = writer.finish(keep_article=store.is_unknown)
    except BaseException:
        writer.abort()
        raise
    # Once the files are in place. After a crash before this, the posts written since differ
    # from what was recorded, so the next build checks them by their sha256.
    on_disk = check.seen_after(writer)
    if changes is not None:
        on_disk = {p: r for p, r in (seen | on_disk).items() if p not in removed}
    if on_disk != seen:
        store.save_page_hashes(_HEXO_ON_DISK, on_disk)
    stats.check()
    rebuild.record_build(writer.root, mark, inputs, stats)
    return stats


def _archive_order(article: Article) -> tuple[datetime, datetime, str]:
    """The order of ``Store.articles``: it decides which of two new posts of one title gets
    the plain name."""
    return article.published, article.first_seen or article.published, article.id
