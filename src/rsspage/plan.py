"""Config + catalog → the list of feeds to follow (``FeedSpec``), decided without any I/O.

For a route the names come from, in order of precedence: the route's overrides in the config,
the catalog entry the route matches, and (when there is neither) the feed's own title, with the
category ``未分类`` and a warning.

:func:`split_due` then picks the feeds whose time has come, from the schedule the store keeps;
:func:`due_times` says when each one is due.
:class:`FeedsByName` finds the followed feed an imported post belongs to, by its names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from rsspage.catalog import Catalog
from rsspage.config import Config, FeedConfig, FeedSettings, RouteConfig
from rsspage.filters import FeedRules
from rsspage.instances import route_urls, with_params
from rsspage.schedule import due_at, is_due
from rsspage.types import UNCATEGORISED, FeedNames, FeedSpec, FeedTiming, Route


@dataclass(frozen=True, slots=True)
class Plan:
    feeds: tuple[FeedSpec, ...]
    #: Feed key → message for the user about a route that could not be placed in the catalog,
    #: or whose catalog entry needs instance settings or Puppeteer, or is marked nsfw.
    warnings: Mapping[str, str]
    #: Feed key → the filter rules of that feed (its own, then the global ones).
    filters: Mapping[str, FeedRules] = field(default_factory=dict)

    def rules(self, key: str) -> FeedRules:
        """The rules of the feed ``key``; the global ones alone for a feed not followed."""
        return self.filters.get(key) or self._common

    @property
    def _common(self) -> FeedRules:
        return self.filters.get("", FeedRules())


def _route_spec(
    route: RouteConfig, config: Config, catalog: Catalog, known: Mapping[str, FeedNames]
) -> tuple[FeedSpec, str | None]:
    entry: Route | None = catalog.match(route.path) or _last_names(route.path, known)
    category = route.category or (entry.category if entry else None)
    source = route.source or (entry.source if entry else None)
    channel = route.channel or (entry.channel if entry else None)
    names_from_feed = source is None or channel is None
    warning = None
    if entry is None and names_from_feed:
        warning = (
            f"{config.path.name}:{route.line}: {route.path}: no catalog entry and no names in "
            f"the config; category '{category or UNCATEGORISED}', source and channel from the "
            "feed's title"
        )
    elif entry is not None and entry.flags:
        warning = f"{config.path.name}:{route.line}: {route.path}: {needs(entry)}"
    spec = FeedSpec(
        key=route.path,
        urls=route_urls(config.instances, with_params(route.path, _params(route))),
        category=category or UNCATEGORISED,
        source=source or "",
        channel=channel or "",
        items_per_feed=route.items_per_feed or config.limits.items_per_feed,
        names_from_feed=names_from_feed,
        every=route.every or config.schedule.every,
        view=entry.view if entry else None,
        **_settings(route.settings, config),
    )
    return spec, warning


def _params(route: RouteConfig) -> tuple[tuple[str, str], ...]:
    """The route's RSSHub parameters; ``full_text: rsshub`` asks for ``mode=fulltext`` (unless
    ``params`` name a mode of their own)."""
    if route.settings.full_text != "rsshub" or any(k == "mode" for k, _ in route.params):
        return route.params
    return (*route.params, ("mode", "fulltext"))


def needs(route: Route) -> str:
    """What the catalog says a route needs, in words (for a route with ``flags``)."""
    parts = []
    if route.require_config:
        keys = f" ({', '.join(route.config_keys)})" if route.config_keys else ""
        parts.append(f"needs settings on the RSSHub instance{keys}")
    if route.require_puppeteer:
        parts.append("needs a headless browser (Puppeteer) on the RSSHub instance")
    if route.nsfw:
        parts.append("is marked not safe for work (nsfw)")
    text = "the catalog says this route " + ", ".join(parts)
    if route.require_config or route.require_puppeteer:
        text += "; many public instances do not serve it"
    return text


def _feed_spec(feed: FeedConfig, config: Config) -> FeedSpec:
    return FeedSpec(
        key=feed.url,
        urls=(feed.url,),
        category=feed.category or UNCATEGORISED,
        source=feed.source or "",
        channel=feed.channel or "",
        items_per_feed=feed.items_per_feed or config.limits.items_per_feed,
        names_from_feed=feed.source is None or feed.channel is None,
        every=feed.every or config.schedule.every,
        **_settings(feed.settings, config),
    )


def _settings(own: FeedSettings, config: Config) -> dict[str, Any]:
    """The FeedSpec fields of a feed's own settings over the global ones (items_per_feed and
    every are set by the callers, which name them for both kinds of feed)."""
    return {
        "enabled": own.enabled,
        "keep_days": own.keep_days,
        "user_agent": own.user_agent or config.fetch.user_agent,
        "headers": (*config.fetch.headers, *own.headers),  # the feed's own win (fetch.py)
        "timezone": own.timezone or config.fetch.timezone,
        "full_text": own.full_text is True,  # "rsshub": RSSHub's to do, in the URL
    }


def _last_names(key: str, known: Mapping[str, FeedNames]) -> Route | None:
    """The names a route was filed under last time, as a catalog entry (when the catalog is
    missing); None when it had none from a catalog (未分类, or names from the feed)."""
    names = known.get(key)
    if names is None or names.category == UNCATEGORISED or not (names.source and names.channel):
        return None
    return Route(key, key, names.category, names.source, names.channel, origin="the archive",
                 view=names.view)


def make_plan(config: Config, catalog: Catalog,
              known: Mapping[str, FeedNames] | None = None) -> Plan:
    """The feeds to follow. ``known``: the names each feed had last time, used for a route the
    catalog does not place (given when the catalog is missing)."""
    specs: dict[str, FeedSpec] = {}
    warnings: dict[str, str] = {}
    # "": the rules of a feed the config no longer follows (the global ones alone).
    rules = {"": FeedRules(common=config.filters)}
    for route in config.routes:
        spec, warning = _route_spec(route, config, catalog, known or {})
        rules.setdefault(spec.key, FeedRules(route.filters, config.filters))
        first = specs.setdefault(spec.key, spec)  # a route listed twice is followed once
        if first.urls != spec.urls:  # the same path with other params: one archive per path
            warning = (f"{config.path.name}:{route.line}: {route.path} is listed before with "
                       "other params; only the first entry is followed")
        if warning:
            warnings[spec.key] = warning
    for feed in config.feeds:
        spec = _feed_spec(feed, config)
        specs.setdefault(spec.key, spec)
        rules.setdefault(spec.key, FeedRules(feed.filters, config.filters))
    return Plan(feeds=tuple(specs.values()), warnings=warnings, filters=rules)


def split_due(
    feeds: Sequence[FeedSpec], timings: Mapping[str, FeedTiming], now: datetime,
    *, everything: bool = False,
) -> tuple[tuple[FeedSpec, ...], tuple[FeedSpec, ...]]:
    """(feeds to fetch now, feeds not due yet); ``everything`` (``update --all``): all due.
    Disabled feeds are in neither: they are never fetched, whatever their due time."""
    feeds = [f for f in feeds if f.enabled]
    if everything:
        return tuple(feeds), ()
    due = {f.key for f in feeds if is_due(f, timings.get(f.key, FeedTiming()), now)}
    return tuple(f for f in feeds if f.key in due), tuple(f for f in feeds if f.key not in due)


def due_times(feeds: Sequence[FeedSpec], timings: Mapping[str, FeedTiming]) -> dict[str, datetime]:
    """Feed key → when the feed is due, as :func:`split_due` decides it (long ago: due now).

    What `status` shows, so that it never shows a later time for a feed `update` would fetch.
    """
    return {f.key: due_at(f, timings.get(f.key, FeedTiming())) for f in feeds}


def earliest_due(feeds: Sequence[FeedSpec], timings: Mapping[str, FeedTiming]) -> datetime | None:
    """When the first enabled one of ``feeds`` is due (long ago when one was never fetched);
    None: no such feeds (a disabled feed, never fetched, would otherwise be due for ever)."""
    enabled = [f for f in feeds if f.enabled]
    return min(due_times(enabled, timings).values(), default=None)


#: Key prefix of the feed of its own that posts of no followed feed go under.
UNMATCHED = "hexo-import:"


class FeedsByName:
    """The followed feed for a post's category / source / channel (a two-level post of the
    older layout matches on category and source when only one feed has them)."""

    def __init__(self, feeds: tuple[FeedSpec, ...]) -> None:
        self._exact = {(f.category, f.source, f.channel): f for f in feeds}
        self._two: dict[tuple[str, str], list[FeedSpec]] = {}
        for f in feeds:
            self._two.setdefault((f.category, f.source), []).append(f)

    def find(self, category: str, source: str, channel: str) -> FeedSpec:
        spec = self._exact.get((category, source, channel))
        if spec is None and channel == source and len(self._two.get((category, source), [])) == 1:
            spec = self._two[(category, source)][0]
        if spec is not None:
            return replace(spec, items_per_feed=0)  # every post, not the newest 20
        key = f"{UNMATCHED}{category}/{source}/{channel}"
        return FeedSpec(key=key, urls=(), category=category, source=source, channel=channel,
                        items_per_feed=0)
