"""The current filter rules on the whole archive: ``rsspage filter test [--apply]``.

Rules decide when an article first arrives (pipeline.py); this tries them on every article
already stored, hidden or not, so that a rule can be trusted on months of history before it
is applied. Applying changes only the hidden flag (nothing is deleted): an article hidden now
leaves the site and the Hexo posts at the build that follows, one a removed rule no longer
hides comes back (the flag's change is in the change log, which builds read).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from rsspage.catalog import Catalog
from rsspage.config import Config
from rsspage.plan import Plan, make_plan
from rsspage.store import Store
from rsspage.types import Article


@dataclass(frozen=True, slots=True)
class Example:
    """One article whose flag the rules would change."""

    id: str
    published: datetime
    title: str
    #: The rule that hides it; "" for one shown again.
    reason: str = ""


@dataclass(slots=True)
class FeedFilterReport:
    """What the rules make of one feed's archive."""

    key: str
    articles: int = 0
    #: Hidden now and hidden still.
    still_hidden: int = 0
    #: Shown now, hidden by the rules.
    hide: list[Example] = field(default_factory=list)
    #: Hidden now, no rule hides it any more.
    show: list[Example] = field(default_factory=list)

    @property
    def kept(self) -> int:
        return self.articles - self.still_hidden - len(self.hide)


@dataclass(frozen=True, slots=True)
class FilterReport:
    """What the rules make of the whole archive, by feed key (feeds in archive order)."""

    feeds: tuple[FeedFilterReport, ...]
    #: Whether the archive was changed (``--apply``).
    applied: bool = False

    @property
    def hide(self) -> int:
        return sum(len(f.hide) for f in self.feeds)

    @property
    def show(self) -> int:
        return sum(len(f.show) for f in self.feeds)


def try_rules(config: Config, store: Store, now: datetime | None = None) -> FilterReport:
    """Try the config's rules on every stored article (a dry run: nothing changes)."""
    now = now or datetime.now(UTC)
    plan = make_plan(config, Catalog([]))  # keys and rules need no catalog
    reports: dict[str, FeedFilterReport] = {}
    for article, hidden in store.archive():
        report = reports.setdefault(article.feed_key, FeedFilterReport(article.feed_key))
        _count(report, plan, article, hidden, now)
    return FilterReport(tuple(reports.values()))


def _count(report: FeedFilterReport, plan: Plan, article: Article, hidden: bool,
           now: datetime) -> None:
    report.articles += 1
    verdict = plan.rules(article.feed_key).decide(article, now)
    if verdict.hidden and hidden:
        report.still_hidden += 1
    elif verdict.hidden:
        report.hide.append(Example(article.id, article.published, article.title, verdict.reason))
    elif hidden:
        report.show.append(Example(article.id, article.published, article.title))


def apply_rules(config: Config, store: Store, now: datetime | None = None) -> FilterReport:
    """:func:`try_rules`, then hide and show the articles as it says (one transaction each);
    the caller publishes."""
    now = now or datetime.now(UTC)
    report = try_rules(config, store, now)
    store.set_hidden((e.id for f in report.feeds for e in f.hide), True, now)
    store.set_hidden((e.id for f in report.feeds for e in f.show), False, now)
    return FilterReport(report.feeds, applied=True)
