"""SiteQuery's tree and leads (the channels of the site's window, and the articles of its
first month before it) equal a count of every article, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta
from pathlib import Path

from rsspage.store import Store
from rsspage.types import FetchResult, FetchStatus
from test_site_delta import FEEDS, NOW, make_article, spec


def test_tree_and_leads_count_each_channel_in_its_range(tmp_path: Path,
                                                       store_url: str | None) -> None:
    # FEEDS: two channels of one source, a channel name in two sources, two categories;
    # a channel whose articles are all hidden or all before the window has no row.
    rng = random.Random(7)
    feeds = [*FEEDS, ("财经", "36氪", "早报"), ("财经", "财新", "快讯")]
    made = [make_article(n, rng.choice(feeds[:-1]), NOW - timedelta(hours=rng.randrange(2000)))
            for n in range(300)]
    made += [make_article(900, feeds[-1], NOW - timedelta(days=200))]
    hidden = {a.id for a in made if a.channel == "早报"} | {made[0].id, made[1].id}
    with Store.open(tmp_path / "state", store_url) as store:
        for names in feeds:
            ok = FetchResult(key=spec(names).key, status=FetchStatus.OK, url=spec(names).key,
                             http_status=200)
            store.save_feed(spec(names), ok, [a for a in made if a.feed_key == spec(names).key],
                            None, NOW)
        store.set_hidden(hidden, True, NOW)
        shown = [a for a in made if a.id not in hidden]
        for since in (None, NOW - timedelta(days=40), NOW - timedelta(days=400)):
            query = store.site_query(since)
            window = [a for a in shown if since is None or a.published >= since]
            names = Counter((a.category, a.source, a.channel) for a in window)
            newest = {place: max(a.published for a in window
                                 if (a.category, a.source, a.channel) == place)
                      for place in names}
            assert query.tree() == [(*place, names[place], newest[place])
                                    for place in sorted(names)]
            if since is None:
                continue
            start = since - timedelta(days=25)
            leads: Counter[tuple[str, ...]] = Counter()
            for a in shown:
                if start <= a.published < since:
                    for depth in range(4):
                        leads[(a.category, a.source, a.channel)[:depth]] += 1
            assert query.leads(start) == dict(leads)
