"""The state database's schema: DDL as numbered migrations, applied in order.

``PRAGMA user_version`` holds the number of the last migration applied. Migrations only ever get
appended; an applied one is never edited.
"""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    # 1: feeds, articles, aliases, published names, FTS5 trigram index kept in sync by triggers.
    """
    CREATE TABLE feeds (
        key TEXT PRIMARY KEY,
        url TEXT NOT NULL DEFAULT '',
        title TEXT NOT NULL DEFAULT '',
        category TEXT NOT NULL DEFAULT '',
        source TEXT NOT NULL DEFAULT '',
        channel TEXT NOT NULL DEFAULT '',
        etag TEXT,
        last_modified TEXT,
        last_attempt TEXT,
        last_success TEXT,
        last_error TEXT,
        last_status TEXT,
        consecutive_failures INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE articles (
        id TEXT PRIMARY KEY,
        feed_key TEXT NOT NULL,
        title TEXT NOT NULL,
        link TEXT NOT NULL,
        published TEXT NOT NULL,
        date_estimated INTEGER NOT NULL,
        date_clamped INTEGER NOT NULL,
        updated TEXT,
        author TEXT NOT NULL,
        category TEXT NOT NULL,
        source TEXT NOT NULL,
        channel TEXT NOT NULL,
        content_html TEXT NOT NULL,
        text TEXT NOT NULL,
        image TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        first_seen TEXT NOT NULL,
        last_changed TEXT NOT NULL
    );
    CREATE INDEX articles_link ON articles(link) WHERE link != '';
    CREATE INDEX articles_published ON articles(published);
    CREATE INDEX articles_feed ON articles(feed_key);
    CREATE TABLE aliases (
        feed_key TEXT NOT NULL,
        article_id TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
        PRIMARY KEY (feed_key, article_id)
    );
    CREATE TABLE published_names (
        output TEXT NOT NULL,
        article_id TEXT NOT NULL,
        path TEXT NOT NULL,
        PRIMARY KEY (output, article_id)
    );
    CREATE UNIQUE INDEX published_paths ON published_names(output, path);
    CREATE VIRTUAL TABLE articles_fts USING fts5(
        title, text, content='articles', content_rowid='rowid', tokenize='trigram'
    );
    CREATE TRIGGER articles_ai AFTER INSERT ON articles BEGIN
        INSERT INTO articles_fts(rowid, title, text) VALUES (new.rowid, new.title, new.text);
    END;
    CREATE TRIGGER articles_ad AFTER DELETE ON articles BEGIN
        INSERT INTO articles_fts(articles_fts, rowid, title, text)
            VALUES ('delete', old.rowid, old.title, old.text);
    END;
    CREATE TRIGGER articles_au AFTER UPDATE OF title, text ON articles BEGIN
        INSERT INTO articles_fts(articles_fts, rowid, title, text)
            VALUES ('delete', old.rowid, old.title, old.text);
        INSERT INTO articles_fts(rowid, title, text) VALUES (new.rowid, new.title, new.text);
    END;
    """,
    # 2: what each generated page was built from, so a rebuild skips unchanged pages.
    """
    CREATE TABLE pages (
        output TEXT NOT NULL,
        path TEXT NOT NULL,
        hash TEXT NOT NULL,
        PRIMARY KEY (output, path)
    );
    """,
    # 3: feeds that left the config are retired, not deleted; each feed's next due time; the ids
    # of articles removed on purpose (pruned, forgotten), whose published files then go too
    # (files of articles the store merely does not know, after a lost state, are kept).
    """
    ALTER TABLE feeds ADD COLUMN retired_at TEXT;
    ALTER TABLE feeds ADD COLUMN next_check TEXT;
    CREATE TABLE gone_articles (
        id TEXT PRIMARY KEY,
        at TEXT NOT NULL
    );
    """,
    # 4: the schedule's memory: the `every` (seconds) next_check was computed with, so a changed
    # one makes the feed due at once; when the current failure streak began (status says
    # "failing since", and a long streak is retried only rarely).
    """
    ALTER TABLE feeds ADD COLUMN every_seconds REAL;
    ALTER TABLE feeds ADD COLUMN failing_since TEXT;
    """,
    # 5: articles brought by `rsspage import-hexo`: the feed bringing the same item later (by
    # link, else title) updates them instead of adding a second copy.
    """
    ALTER TABLE articles ADD COLUMN imported INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX articles_feed_title ON articles(feed_key, title) WHERE imported = 1;
    """,
    # 6: what a route's items are (RSSHub's ``view`` in the catalog: articles, social,
    # pictures, videos, audio, notifications), so the site can show each kind as it suits.
    """
    ALTER TABLE feeds ADD COLUMN view TEXT;
    """,
    # 7: the change log. Every article inserted, updated or deleted adds a row (with where it
    # was before a change: its names, date and first sight), so a publish can tell from one
    # number, the high-water mark, whether anything changed since its last build, and (from the
    # rows after it) what. ``meta`` holds this archive's identity: a mark means nothing in
    # another archive (a lost state folder, a restore elsewhere), and the mark up to which the
    # log was trimmed.
    """
    CREATE TABLE changes (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL,
        category TEXT,
        source TEXT,
        channel TEXT,
        published TEXT,
        first_seen TEXT
    );
    CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    INSERT INTO meta (key, value) VALUES ('archive', lower(hex(randomblob(16))));
    CREATE TRIGGER changes_ai AFTER INSERT ON articles BEGIN
        INSERT INTO changes (id) VALUES (new.id);
    END;
    CREATE TRIGGER changes_au AFTER UPDATE ON articles BEGIN
        INSERT INTO changes (id, category, source, channel, published, first_seen)
            VALUES (old.id, old.category, old.source, old.channel, old.published,
                    old.first_seen);
    END;
    CREATE TRIGGER changes_ad AFTER DELETE ON articles BEGIN
        INSERT INTO changes (id, category, source, channel, published, first_seen)
            VALUES (old.id, old.category, old.source, old.channel, old.published,
                    old.first_seen);
    END;
    """,
    # 8: the feeds' health (every build's input, also of one skipped for want of a change)
    # counts each feed's articles and those of the last 7 days: from this index alone, without
    # reading a row (300,000 articles: 0.3 s -> 0.03 s). It serves every feed_key lookup too.
    """
    CREATE INDEX articles_feed_published ON articles(feed_key, published);
    DROP INDEX articles_feed;
    """,
    # 9: what an incremental site build reads (store/site_query.py): a listing's articles of
    # one month or day, its newest, its counts, an article's neighbours in its channel, in the
    # order of an index of each level of listing (the site, a category, a source, a channel);
    # the search shards' ranges of entry keys from the entry index. Without them each of those
    # reads and sorts every article of the listing (7-12 ms a read for a source of 3,000).
    """
    CREATE INDEX articles_tree ON articles(category, source, channel, published, id);
    CREATE INDEX articles_source_published ON articles(category, source, published, id);
    CREATE INDEX articles_category_published ON articles(category, published, id);
    CREATE INDEX articles_entry ON articles(first_seen, id);
    CREATE INDEX articles_published_id ON articles(published, id);
    DROP INDEX articles_published;
    """,
    # 10: issue 11. The feed's own date of an article whose date was in the future and clamped
    # to the time it was first seen, so that later runs keep that first clamped date (instead
    # of clamping anew, which rewrote its outputs on every run) until the feed's date changes;
    # and per feed, how many empty items (no title, link, text or picture) its last document
    # held, skipped rather than published (`rsspage status` shows them).
    """
    ALTER TABLE articles ADD COLUMN clamped_from TEXT;
    ALTER TABLE feeds ADD COLUMN empty_items INTEGER NOT NULL DEFAULT 0;
    """,
    # 11: issue 12's filter rules. An article a rule hides stays in the archive, hidden: it
    # leaves the site and the Hexo posts (every read of what is published skips it; flipping
    # the flag is an update, so the change log tells an incremental build to remove or bring
    # back its pages), and comes back when the rule goes (`rsspage filter test --apply`). The
    # entry's own categories (tags, a JSON list) are kept for rules on them. The indexes the
    # site's reads use lead with ``hidden``, so that those reads stay index-only; the one on
    # (published, id) stays for reads of the whole archive (export, prune).
    """
    ALTER TABLE articles ADD COLUMN hidden INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE articles ADD COLUMN tags TEXT NOT NULL DEFAULT '';
    DROP INDEX articles_tree;
    CREATE INDEX articles_tree ON articles(hidden, category, source, channel, published, id);
    DROP INDEX articles_source_published;
    CREATE INDEX articles_source_published ON articles(hidden, category, source, published, id);
    DROP INDEX articles_category_published;
    CREATE INDEX articles_category_published ON articles(hidden, category, published, id);
    DROP INDEX articles_entry;
    CREATE INDEX articles_entry ON articles(hidden, first_seen, id);
    CREATE INDEX articles_visible ON articles(hidden, published, id);
    DROP INDEX articles_feed_published;
    CREATE INDEX articles_feed_published ON articles(feed_key, published, hidden);
    """,
    # 12: issue 12's "the same story once". Each article's comparison keys (rsspage.canonical):
    # its canonical link and a hash of its normalised title, NULL until computed in Python (the
    # store fills them when it opens, from the articles_unkeyed index: after this migration and
    # after a restore), '' when there is none. A new article of another feed with an equal
    # canonical link, or the same title key within a few days and near-identical text, is not
    # stored again: its feed becomes an alias, which now records how it matched, the copy's own
    # link and when it was first seen (aliases made before were all by an equal link). A much
    # richer copy gives the article its content: ``content_from`` names the feed it came from,
    # so that the first feed's shorter copy does not take it back on the next run.
    """
    ALTER TABLE articles ADD COLUMN canonical_link TEXT;
    ALTER TABLE articles ADD COLUMN content_from TEXT;
    ALTER TABLE articles ADD COLUMN title_key TEXT;
    CREATE INDEX articles_canonical ON articles(canonical_link) WHERE canonical_link != '';
    CREATE INDEX articles_title_key ON articles(title_key, published) WHERE title_key != '';
    CREATE INDEX articles_unkeyed ON articles(id) WHERE title_key IS NULL;
    ALTER TABLE aliases ADD COLUMN matched TEXT NOT NULL DEFAULT 'link';
    ALTER TABLE aliases ADD COLUMN link TEXT NOT NULL DEFAULT '';
    ALTER TABLE aliases ADD COLUMN first_seen TEXT;
    """,
    # 13: issue 12's podcasts and video. Each article's enclosures (audio, video, other files;
    # pictures are its head image), which the site plays and our feeds carry: a JSON list of
    # objects with ``url`` and, when known, ``type``, ``length`` (bytes), ``duration``
    # (seconds), ``medium``; '' when it has none, as every article stored before has.
    """
    ALTER TABLE articles ADD COLUMN enclosures TEXT NOT NULL DEFAULT '';
    """,
    # 14: issue 12's story clusters (store/clusters.py). ``cluster`` is the id of the cluster an
    # article is in (the article the others joined; NULL: alone), indexed to read a cluster's
    # members. ``cluster_keys`` files articles under the keys of their sketch (rsspage.clusters)
    # by day, so that a new article's candidates are a few index lookups within the window
    # (``article`` is the articles rowid; the keys go with the article); ``cluster_features``
    # keeps the compared features (4 bytes each) of the articles of the last week, which
    # computing again from the text costs six times the comparison. A member that joins,
    # leaves (deleted), is hidden or shown, renamed or moves to another source changes what the
    # other members' pages show: the triggers log each of them as changed where it is, so an
    # incremental build renders that cluster's pages (the WHEN keeps a rewrite of an
    # article's content from touching them).
    """
    ALTER TABLE articles ADD COLUMN cluster TEXT;
    CREATE INDEX articles_cluster ON articles(cluster) WHERE cluster IS NOT NULL;
    CREATE TABLE cluster_keys (
        key INTEGER NOT NULL,
        day INTEGER NOT NULL,
        article INTEGER NOT NULL,
        PRIMARY KEY (key, day, article)
    ) WITHOUT ROWID;
    CREATE INDEX cluster_keys_article ON cluster_keys(article);
    CREATE TABLE cluster_features (
        article INTEGER PRIMARY KEY,
        day INTEGER NOT NULL,
        features BLOB NOT NULL
    );
    CREATE INDEX cluster_features_day ON cluster_features(day);
    CREATE TRIGGER clusters_au AFTER UPDATE OF cluster, hidden, title, source ON articles
    WHEN coalesce(new.cluster, old.cluster) IS NOT NULL AND (
        new.cluster IS NOT old.cluster OR new.hidden != old.hidden OR new.title != old.title
        OR new.source != old.source)
    BEGIN
        INSERT INTO changes (id, category, source, channel, published, first_seen)
            SELECT id, category, source, channel, published, first_seen FROM articles
            WHERE cluster IN (old.cluster, new.cluster) AND id != new.id;
    END;
    CREATE TRIGGER clusters_ad AFTER DELETE ON articles BEGIN
        DELETE FROM cluster_keys WHERE article = old.rowid;
        DELETE FROM cluster_features WHERE article = old.rowid;
        INSERT INTO changes (id, category, source, channel, published, first_seen)
            SELECT id, category, source, channel, published, first_seen FROM articles
            WHERE old.cluster IS NOT NULL AND cluster = old.cluster;
    END;
    """,
    # 15: full text (rsspage.fulltext). A feed's copy recorded as an alias is found again by
    # its feed and link (``aliases_link``): a copy that joined by fingerprint (a link of its
    # own) is a story the archive has, whose page is not fetched again on every run.
    # ``page_retries`` holds the articles whose page gave no text, to be tried once more on the
    # feed's next run.
    """
    CREATE INDEX aliases_link ON aliases(feed_key, link) WHERE link != '';
    CREATE TABLE page_retries (
        feed_key TEXT NOT NULL,
        article_id TEXT NOT NULL,
        PRIMARY KEY (feed_key, article_id)
    ) WITHOUT ROWID;
    """,
    # 16: story clusters weigh features by their rarity (rsspage.clusters.idf): how many filed
    # articles have each feature, and (feature -1) how many were filed. Without it common words
    # made a quarter of unrelated reports "the same story" and chained them into clusters of
    # twenty. Filled as articles are filed: the backfill of the recent ones runs again, and
    # counts them (their kept features go, so that each is counted once).
    """
    CREATE TABLE cluster_df (
        feature INTEGER PRIMARY KEY,
        articles INTEGER NOT NULL
    ) WITHOUT ROWID;
    DELETE FROM cluster_features;
    DELETE FROM meta WHERE key = 'clusters_filled';
    """,
    # 17: story clusters are filed in one pass per run (store/clusters.py). ``cluster_pending``
    # queues the new articles in their feed's transaction, for the pass once the run's feeds
    # are stored (or the next open, after a crash). ``changes.kind`` 1 marks a row logged only
    # because the article's story cluster changed (another member joined, left, was hidden,
    # renamed or moved): its article page and the cards that show it are rendered again, and
    # nothing else (no neighbour, no shifted listing page, no search shard). An article that
    # joins a cluster is logged so too: ``cluster`` is only ever updated alone.
    """
    CREATE TABLE cluster_pending (
        article INTEGER PRIMARY KEY
    );
    ALTER TABLE changes ADD COLUMN kind INTEGER NOT NULL DEFAULT 0;
    DROP TRIGGER changes_au;
    CREATE TRIGGER changes_au AFTER UPDATE ON articles WHEN new.cluster IS old.cluster BEGIN
        INSERT INTO changes (id, category, source, channel, published, first_seen)
            VALUES (old.id, old.category, old.source, old.channel, old.published,
                    old.first_seen);
    END;
    CREATE TRIGGER changes_au_cluster AFTER UPDATE OF cluster ON articles
    WHEN new.cluster IS NOT old.cluster BEGIN
        INSERT INTO changes (id, category, source, channel, published, first_seen, kind)
            VALUES (old.id, old.category, old.source, old.channel, old.published,
                    old.first_seen, 1);
    END;
    DROP TRIGGER clusters_au;
    DROP TRIGGER clusters_ad;
    CREATE TRIGGER clusters_au AFTER UPDATE OF cluster, hidden, title, source ON articles
    WHEN coalesce(new.cluster, old.cluster) IS NOT NULL AND (
        new.cluster IS NOT old.cluster OR new.hidden != old.hidden OR new.title != old.title
        OR new.source != old.source)
    BEGIN
        INSERT INTO changes (id, category, source, channel, published, first_seen, kind)
            SELECT id, category, source, channel, published, first_seen, 1 FROM articles
            WHERE cluster IN (old.cluster, new.cluster) AND id != new.id;
    END;
    CREATE TRIGGER clusters_ad AFTER DELETE ON articles BEGIN
        DELETE FROM cluster_keys WHERE article = old.rowid;
        DELETE FROM cluster_features WHERE article = old.rowid;
        DELETE FROM cluster_pending WHERE article = old.rowid;
        INSERT INTO changes (id, category, source, channel, published, first_seen, kind)
            SELECT id, category, source, channel, published, first_seen, 1 FROM articles
            WHERE old.cluster IS NOT NULL AND cluster = old.cluster;
    END;
    """,
    # 18: the feature counts of story clusters as a count-min sketch of a fixed size in one row
    # (store/cluster_counts.py) instead of a row per feature, which grew with the archive and
    # was read and written at some 70,000 scattered places per run. Counted again from the
    # recent articles (the backfill runs again, as after migration 16).
    """
    DROP TABLE cluster_df;
    CREATE TABLE cluster_counts (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        articles INTEGER NOT NULL,
        counters BLOB NOT NULL
    );
    DELETE FROM cluster_features;
    DELETE FROM meta WHERE key = 'clusters_filled';
    """,
    # 19: story clusters' keys filed by week first (``week``: the day's week, floor(day / 7)),
    # so that a run's new keys (~14,000 for 1,000 articles) fall in the newest week's part of
    # the table, a few MB, instead of in every page of it: keyed by the feature first, the
    # whole table (25 MB at 100,000 articles) was dirtied and written again by every run. A
    # lookup reads the one or two weeks of its window, as fast (benchmarks/README.md).
    """
    DROP TRIGGER clusters_ad;
    CREATE TABLE cluster_keys_by_week (
        week INTEGER NOT NULL,
        key INTEGER NOT NULL,
        day INTEGER NOT NULL,
        article INTEGER NOT NULL,
        PRIMARY KEY (week, key, day, article)
    ) WITHOUT ROWID;
    INSERT INTO cluster_keys_by_week (week, key, day, article)
        SELECT CASE WHEN day >= 0 THEN day / 7 ELSE (day - 6) / 7 END, key, day, article
        FROM cluster_keys ORDER BY 1, 2, 3, 4;
    DROP TABLE cluster_keys;
    ALTER TABLE cluster_keys_by_week RENAME TO cluster_keys;
    CREATE INDEX cluster_keys_article ON cluster_keys(article);
    CREATE TRIGGER clusters_ad AFTER DELETE ON articles BEGIN
        DELETE FROM cluster_keys WHERE article = old.rowid;
        DELETE FROM cluster_features WHERE article = old.rowid;
        DELETE FROM cluster_pending WHERE article = old.rowid;
        INSERT INTO changes (id, category, source, channel, published, first_seen, kind)
            SELECT id, category, source, channel, published, first_seen, 1 FROM articles
            WHERE old.cluster IS NOT NULL AND cluster = old.cluster;
    END;
    """,
    # 20: each feed's counts, kept by triggers: its visible and hidden articles, and the copies
    # of stories recorded with it (aliases). The feeds' health, every build's input (also of
    # one skipped for want of a change), counted them from every article's index entry: 58 ms
    # a build at 300,000 articles, growing with the archive. Its articles of the last 7 days
    # are still counted from the index (articles_feed_published): they slide with time.
    """
    CREATE TABLE feed_counts (
        feed_key TEXT PRIMARY KEY,
        visible INTEGER NOT NULL DEFAULT 0,
        hidden INTEGER NOT NULL DEFAULT 0,
        merged INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID;
    INSERT INTO feed_counts (feed_key, visible, hidden)
        SELECT feed_key, SUM(hidden = 0), SUM(hidden != 0) FROM articles GROUP BY feed_key;
    INSERT OR IGNORE INTO feed_counts (feed_key) SELECT DISTINCT feed_key FROM aliases;
    UPDATE feed_counts SET merged = (SELECT COUNT(*) FROM aliases l
                                     WHERE l.feed_key = feed_counts.feed_key);
    CREATE TRIGGER feed_counts_ai AFTER INSERT ON articles BEGIN
        INSERT OR IGNORE INTO feed_counts (feed_key) VALUES (new.feed_key);
        UPDATE feed_counts SET visible = visible + (new.hidden = 0),
                               hidden = hidden + (new.hidden != 0)
            WHERE feed_key = new.feed_key;
    END;
    CREATE TRIGGER feed_counts_ad AFTER DELETE ON articles BEGIN
        UPDATE feed_counts SET visible = visible - (old.hidden = 0),
                               hidden = hidden - (old.hidden != 0)
            WHERE feed_key = old.feed_key;
    END;
    CREATE TRIGGER feed_counts_au AFTER UPDATE OF feed_key, hidden ON articles
        WHEN new.feed_key IS NOT old.feed_key OR (new.hidden = 0) IS NOT (old.hidden = 0) BEGIN
        UPDATE feed_counts SET visible = visible - (old.hidden = 0),
                               hidden = hidden - (old.hidden != 0)
            WHERE feed_key = old.feed_key;
        INSERT OR IGNORE INTO feed_counts (feed_key) VALUES (new.feed_key);
        UPDATE feed_counts SET visible = visible + (new.hidden = 0),
                               hidden = hidden + (new.hidden != 0)
            WHERE feed_key = new.feed_key;
    END;
    CREATE TRIGGER feed_counts_alias_ai AFTER INSERT ON aliases BEGIN
        INSERT OR IGNORE INTO feed_counts (feed_key) VALUES (new.feed_key);
        UPDATE feed_counts SET merged = merged + 1 WHERE feed_key = new.feed_key;
    END;
    CREATE TRIGGER feed_counts_alias_ad AFTER DELETE ON aliases BEGIN
        UPDATE feed_counts SET merged = merged - 1 WHERE feed_key = old.feed_key;
    END;
    CREATE TRIGGER feed_counts_alias_au AFTER UPDATE OF feed_key ON aliases
        WHEN new.feed_key IS NOT old.feed_key BEGIN
        UPDATE feed_counts SET merged = merged - 1 WHERE feed_key = old.feed_key;
        INSERT OR IGNORE INTO feed_counts (feed_key) VALUES (new.feed_key);
        UPDATE feed_counts SET merged = merged + 1 WHERE feed_key = new.feed_key;
    END;
    """,
    # 21: nothing to change: a restore or an import into an empty archive may now leave the
    # search index out (db.detach_search_index), which an older release would take for an
    # archive without articles (its search finds nothing). This version makes it refuse the
    # store ("upgrade rsspage") instead.
    """
    SELECT 1;
    """,
)
