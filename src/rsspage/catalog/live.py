"""The live catalog: RSSHub's ``/api/namespace``, fetched from an instance and cached.

The catalog is fetched through the fetch stage like a feed (timeouts, size cap, fail-over over
the instances, each URL signed with its instance's key) and kept in the state folder:
``catalog.json.gz`` (the document as received, gzip with a fixed header so an unchanged catalog
keeps its bytes) and ``catalog.meta.json`` (where and when it came from, its ETag and
Last-Modified for a conditional GET). A download replaces the cache only when it is a catalog:
valid JSON of the routes.json shape with at least :data:`MIN_ROUTES` routes (an empty, truncated
or error answer never replaces the last good copy). When no instance answers, the cached copy is
used and the caller is told so.

``update`` refreshes a copy older than :data:`MAX_AGE`; ``rsspage catalog update`` always does.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rsspage.catalog.routes_json import parse_routes_json
from rsspage.config import InstanceConfig
from rsspage.errors import CatalogError
from rsspage.fetch import FetchOptions, fetch_feeds
from rsspage.fileio import replace_file
from rsspage.instances import route_urls, without_credentials
from rsspage.types import FeedSpec, FeedState, FetchResult, FetchStatus, Route

#: The route of RSSHub's catalog API (signed like a route when the instance has a key).
API_PATH = "/api/namespace"
CACHE_NAME = "catalog.json.gz"
META_NAME = "catalog.meta.json"
#: A cached catalog younger than this is used without asking the instance again.
MAX_AGE = timedelta(days=1)
#: After a failed refresh, ``update`` waits this long before asking again (a down instance
#: must not cost every run a timeout).
RETRY_AFTER = timedelta(hours=1)
#: Fewer routes than this is not RSSHub's catalog (it has thousands): a truncated or stub answer.
MIN_ROUTES = 10
#: The key of this pseudo-feed in the fetch stage: a route's, so failures are worded per instance.
_KEY = API_PATH


@dataclass(frozen=True, slots=True)
class CatalogMeta:
    """Where the cached catalog came from (``catalog.meta.json``)."""

    #: The instance's base URL (never a key: the signed URL is not kept).
    instance: str = ""
    fetched_at: str = ""
    #: When an instance last confirmed it (200 or 304), ISO 8601 UTC.
    checked_at: str = ""
    etag: str | None = None
    last_modified: str | None = None
    routes: int = 0
    #: When a refresh last failed (no instance gave a good copy), ISO 8601 UTC; "" if none since.
    failed_at: str = ""


_META_TYPES = {"instance": str, "fetched_at": str, "checked_at": str, "etag": str,
               "last_modified": str, "routes": int, "failed_at": str}


@dataclass(frozen=True, slots=True)
class LiveCatalog:
    """The routes of the cached catalog after a refresh (or without one), and what happened."""

    routes: tuple[Route, ...]
    meta: CatalogMeta
    #: ``fetched`` (a new copy), ``unchanged`` (304 or same content), ``cached`` (fresh
    #: enough, not asked), ``stale`` (no instance gave a good copy: the cached one is used),
    #: ``missing`` (nothing cached and nothing fetched).
    state: str
    #: Why the instances did not give a good copy (for ``stale`` and ``missing``).
    problem: str = ""

    def note(self) -> str | None:
        """A line for the user when the catalog is not a fresh one, else None."""
        if self.state == "stale":
            return (f"warning: the RSSHub catalog could not be refreshed ({self.problem}); "
                    f"using the copy from {_minute(self.meta.fetched_at)} UTC "
                    f"({self.meta.routes} routes)")
        if self.state == "missing":
            return (f"warning: no RSSHub catalog ({self.problem}); routes are named from their "
                    "feeds until one is fetched (rsspage catalog update)")
        return None


def load_live(
    state: Path, instances: Sequence[InstanceConfig], options: FetchOptions, language: str,
    *, refresh: bool | None = None, now: datetime | None = None,
) -> LiveCatalog:
    """The cached catalog, refreshed first from ``instances`` (their ``/api/namespace``,
    signed) when ``refresh`` is True, or when None and the copy is older than :data:`MAX_AGE`
    or came from an instance no longer listed (a failed refresh is retried after
    :data:`RETRY_AFTER`). A cache that cannot be read counts as none.

    No run lock is taken (``catalog`` commands read and refresh it while ``update`` or
    ``watch`` may run): each file is replaced whole, so the worst a race can do is pair one
    writer's meta with another's copy of the same catalog.
    """
    now = now or datetime.now(UTC)
    meta = _read_meta(state)
    routes = _parse(_read_cache(state), language)
    if refresh is None:
        bases = [without_credentials(i.url) for i in instances]
        old = _older_than(meta.checked_at, now - MAX_AGE) or meta.instance not in bases
        refresh = (routes is None or old) and _older_than(meta.failed_at, now - RETRY_AFTER)
    if not refresh:
        tried = f"the last try, at {_minute(meta.failed_at)} UTC, failed" if meta.failed_at else ""
        return _live(routes, meta, "cached", tried)
    return _refresh(state, instances, options, routes, meta, now, language)


def _refresh(
    state: Path, instances: Sequence[InstanceConfig], options: FetchOptions,
    routes: tuple[Route, ...] | None, meta: CatalogMeta, now: datetime, language: str,
) -> LiveCatalog:
    stamp = now.isoformat(timespec="seconds")
    validators = FeedState(meta.etag, meta.last_modified) if routes is not None else FeedState()
    urls = route_urls(tuple(instances), API_PATH)
    spec = FeedSpec(key=_KEY, urls=urls, category="", source="", channel="")
    result = fetch_feeds([spec], {_KEY: validators}, replace(options, concurrency=1,
                                                            expect="json"))[0]
    if result.status is FetchStatus.NOT_MODIFIED and routes is not None:
        meta = replace(meta, checked_at=stamp, failed_at="")
        _write_meta(state, meta)
        return _live(routes, meta, "unchanged")
    problem = _problem(result)
    source = _instance(result.url)
    if result.status is FetchStatus.OK:
        fresh = _parse(result.content, language)
        if fresh is None:
            problem = f"{source} sent no catalog (not RSSHub's /api/namespace JSON)"
        elif len(fresh) < MIN_ROUTES:
            problem = f"{source} sent a catalog of {len(fresh)} routes"
        else:
            meta = CatalogMeta(source, stamp, stamp, result.etag, result.last_modified,
                               len(fresh))
            changed = _write_cache(state, result.content)
            _write_meta(state, meta)
            return _live(fresh, meta, "fetched" if changed else "unchanged")
    meta = replace(meta, failed_at=stamp)
    _write_meta(state, meta)
    return _live(routes, meta, "stale" if routes is not None else "missing", problem)


def _parse(content: bytes | None, language: str) -> tuple[Route, ...] | None:
    """The routes of a catalog document; None when it is not one (so it is never kept)."""
    if content is None:
        return None
    try:
        return tuple(parse_routes_json(json.loads(content), origin=API_PATH, language=language))
    except (ValueError, CatalogError, RecursionError):  # ValueError: bad JSON or UTF-8
        return None


def _live(routes: tuple[Route, ...] | None, meta: CatalogMeta, state_name: str,
          problem: str = "") -> LiveCatalog:
    if routes is None:
        return LiveCatalog((), meta, "missing", problem or "never fetched")
    return LiveCatalog(routes, meta, state_name, problem)


def _problem(result: FetchResult) -> str:
    if result.status is FetchStatus.NOT_MODIFIED:  # a 304 with nothing cached: ask again later
        return "the instance answered 304 Not Modified but no copy is cached"
    return result.error or f"HTTP {result.http_status}"


def _instance(url: str) -> str:
    """The base URL of the instance that answered: ``url`` without the API path, query and
    any user:password."""
    base = url.split("?", 1)[0]
    return without_credentials(base.removesuffix(API_PATH))


def _minute(stamp: str) -> str:
    return stamp[:16].replace("T", " ")


def _older_than(stamp: str, limit: datetime) -> bool:
    """Whether the ISO time ``stamp`` is before ``limit`` (an empty or bad one is: long ago)."""
    try:
        when = datetime.fromisoformat(stamp)
        return when.tzinfo is None or when < limit
    except (TypeError, ValueError):
        return True


# --------------------------------------------------------------------------- the cache files


def _read_cache(state: Path) -> bytes | None:
    """The cached document, or None when there is none or it cannot be read (then refetched)."""
    try:
        return gzip.decompress((state / CACHE_NAME).read_bytes())
    except (OSError, EOFError, zlib.error):  # missing, truncated, damaged
        return None


def _write_cache(state: Path, content: bytes) -> bool:
    """Store the document; False when the cache held these bytes already (not rewritten)."""
    data = gzip.compress(content, mtime=0)  # a fixed header: the same catalog, the same bytes
    path = state / CACHE_NAME
    try:
        if path.read_bytes() == data:
            return False
    except OSError:
        pass
    _save(path, data)
    return True


def _read_meta(state: Path) -> CatalogMeta:
    """The meta file's fields that have the right type; the defaults for the rest."""
    try:
        raw = json.loads((state / META_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return CatalogMeta()
    if not isinstance(raw, dict):
        return CatalogMeta()
    kept = {name: raw[name] for name, kind in _META_TYPES.items()
            if isinstance(raw.get(name), kind) and not isinstance(raw.get(name), bool)}
    return CatalogMeta(**kept)


def _write_meta(state: Path, meta: CatalogMeta) -> None:
    text = json.dumps(asdict(meta), ensure_ascii=False, indent=1) + "\n"
    _save(state / META_NAME, text.encode("utf-8"))


def _save(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        replace_file(path, data)
    except OSError as e:
        raise CatalogError(f"cannot save the catalog cache {path}: {e.strerror or e}") from e


def carry_cache(source: Path, target: Path) -> bool:
    """Copy the cached catalog from folder ``source`` to ``target`` when it is newer there
    (or ``target`` has none); True when copied. ``export --parts`` and ``restore`` use it so
    that the copy travels with the archive (a CI runner that restores the archive then need not
    download the catalog again)."""
    data = _read_cache(source)
    theirs, ours = _read_meta(source), _read_meta(target)
    if data is None or not theirs.checked_at:
        return False
    if _read_cache(target) is not None and not _older_than(ours.checked_at,
                                                           _when(theirs.checked_at)):
        return False
    _write_cache(target, data)
    _write_meta(target, theirs)
    return True


def _when(stamp: str) -> datetime:
    try:
        when = datetime.fromisoformat(stamp)
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
    return when if when.tzinfo else when.replace(tzinfo=UTC)
