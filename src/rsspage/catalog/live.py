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
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rsspage.catalog.routes_json import parse_routes_json
from rsspage.errors import CatalogError
from rsspage.fetch import FetchOptions, fetch_feeds
from rsspage.fileio import replace_file
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
    state: Path, urls: Sequence[str], options: FetchOptions, language: str,
    *, refresh: bool | None = None, now: datetime | None = None,
) -> LiveCatalog:
    """The cached catalog, refreshed first from ``urls`` (``/api/namespace`` on each instance,
    signed) when ``refresh`` is True, or when None and the copy is older than :data:`MAX_AGE`.
    """
    now = now or datetime.now(UTC)
    meta = _read_meta(state)
    data = _read_cache(state)
    if refresh is None:
        old = data is None or _older_than(meta.checked_at, now - MAX_AGE)
        refresh = old and _older_than(meta.failed_at, now - RETRY_AFTER)
    if not refresh:
        tried = f"the last try, at {_minute(meta.failed_at)} UTC, failed" if meta.failed_at else ""
        return _live(data, meta, "cached", language, tried)
    state_name, problem, data, meta = _refresh(state, urls, options, data, meta, now, language)
    return _live(data, meta, state_name, language, problem)


def _refresh(
    state: Path, urls: Sequence[str], options: FetchOptions, data: Any, meta: CatalogMeta,
    now: datetime, language: str,
) -> tuple[str, str, Any, CatalogMeta]:
    cached = data is not None
    validators = FeedState(meta.etag, meta.last_modified) if cached else FeedState()
    spec = FeedSpec(key=_KEY, urls=tuple(urls), category="", source="", channel="")
    result = fetch_feeds([spec], {_KEY: validators}, _catalog_options(options))[0]
    if result.status is FetchStatus.NOT_MODIFIED and cached:
        meta = replace(meta, checked_at=now.isoformat(timespec="seconds"), failed_at="")
        _write_meta(state, meta)
        return "unchanged", "", data, meta
    problem = _problem(result)
    if result.status is FetchStatus.OK:
        try:
            fresh = json.loads(result.content)
            count = len(parse_routes_json(fresh, origin=API_PATH, language=language))
        except (json.JSONDecodeError, UnicodeDecodeError, CatalogError) as e:
            problem = f"{_instance(result.url, urls)} sent no catalog: {_short(str(e))}"
        else:
            if count >= MIN_ROUTES:
                return _keep(state, result, fresh, count, urls, now)
            problem = f"{_instance(result.url, urls)} sent a catalog of {count} routes"
    meta = replace(meta, failed_at=now.isoformat(timespec="seconds"))
    _write_meta(state, meta)
    return ("stale" if cached else "missing"), problem, data, meta


def _keep(state: Path, result: FetchResult, data: Any, count: int, urls: Sequence[str],
          now: datetime) -> tuple[str, str, Any, CatalogMeta]:
    stamp = now.isoformat(timespec="seconds")
    meta = CatalogMeta(_instance(result.url, urls), stamp, stamp, result.etag,
                       result.last_modified, count)
    changed = _write_cache(state, result.content)
    _write_meta(state, meta)
    return ("fetched" if changed else "unchanged"), "", data, meta


def _catalog_options(options: FetchOptions) -> FetchOptions:
    # The catalog is ~4 MB today: never less room than 64 MB, whatever the feed cap says.
    cap = max(options.max_bytes, 64 * 1024 * 1024)
    return FetchOptions(concurrency=1, per_host=1, timeout=max(options.timeout, 60.0),
                        retries=options.retries, max_bytes=cap, user_agent=options.user_agent,
                        expect="json")


def _live(data: Any, meta: CatalogMeta, state_name: str, language: str,
          problem: str = "") -> LiveCatalog:
    if data is None:
        return LiveCatalog((), meta, "missing", problem or "never fetched")
    routes = tuple(parse_routes_json(data, origin=API_PATH, language=language))
    return LiveCatalog(routes, meta, state_name, problem)


def _problem(result: FetchResult) -> str:
    if result.status is FetchStatus.NOT_MODIFIED:  # a 304 with nothing cached: ask again later
        return "the instance answered 304 Not Modified but no copy is cached"
    return result.error or f"HTTP {result.http_status}"


def _instance(url: str, urls: Sequence[str]) -> str:
    """The base URL of the instance that answered (``url`` without the API path and query)."""
    base = url.split("?", 1)[0]
    if base.endswith(API_PATH):
        return base[: -len(API_PATH)]
    return next((u.split(API_PATH)[0] for u in urls), base)


def _minute(stamp: str) -> str:
    return stamp[:16].replace("T", " ")


def _short(text: str) -> str:
    return text if len(text) <= 120 else text[:117] + "..."


def _older_than(stamp: str, limit: datetime) -> bool:
    """Whether the ISO time ``stamp`` is before ``limit`` (an empty or bad one is: long ago)."""
    try:
        return datetime.fromisoformat(stamp) < limit
    except ValueError:
        return True


# --------------------------------------------------------------------------- the cache files


def _read_cache(state: Path) -> Any:
    """The cached document, or None when there is none or it cannot be read (then refetched)."""
    try:
        return json.loads(gzip.decompress((state / CACHE_NAME).read_bytes()))
    except (OSError, EOFError, json.JSONDecodeError, UnicodeDecodeError):
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
    state.mkdir(parents=True, exist_ok=True)
    _save(path, data)
    return True


def _read_meta(state: Path) -> CatalogMeta:
    try:
        raw = json.loads((state / META_NAME).read_text(encoding="utf-8"))
        return CatalogMeta(**{f.name: raw[f.name] for f in fields(CatalogMeta) if f.name in raw})
    except (OSError, ValueError, TypeError):
        return CatalogMeta()


def _write_meta(state: Path, meta: CatalogMeta) -> None:
    text = json.dumps(asdict(meta), ensure_ascii=False, indent=1) + "\n"
    state.mkdir(parents=True, exist_ok=True)
    _save(state / META_NAME, text.encode("utf-8"))


def _save(path: Path, data: bytes) -> None:
    try:
        replace_file(path, data)
    except OSError as e:
        raise CatalogError(f"cannot save the catalog cache {path}: {e.strerror or e}") from e
