"""Reader for RSSHub's machine-readable route registry, in both published shapes.

Shape: ``{namespace: {name, zh?: {name}, categories?, lang?, routes: {KEY: {path, name, zh?,
example, categories?, features?, view?, radar?, ...}}}}``, where KEY is

- (a) the path relative to the namespace (``"/rank/:range?"``): RSSHub's ``/api/namespace`` and
  its ``build/routes.json``;
- (b) the full path (``"/81/81rc/:category{.+}?"``): the documentation site's ``routes.json``,
  which adds fields such as ``heat`` and ``topFeeds``.

In both, a route's own ``path`` field is relative to its namespace (a string, or a list when one
route answers on several paths, each then with its own KEY), so the shape is told per route: KEY
equal to one of the ``path`` values is relative, KEY equal to ``"/" + namespace`` + one of them is
full. A route without a usable ``path`` field is placed by its ``example`` (always a full path),
else a KEY already starting with ``/namespace/`` is taken as full. Namespaces may be nested
(``gov/beijing``). A route's category is the label of its first category key, else of the
namespace's first one, else ``未分类``.

A route's ``radar`` rules (RSSHub Radar: which web pages lead to it) are kept on
``Route.radar`` with their targets made full paths.

Names: with a Chinese ``language`` (``zh``, ``zh-CN``, ``zh-TW`` …), the source is the
namespace's ``zh.name`` and the channel the route's ``zh.name`` where the catalog has them; else
the plain ``name`` fields (route names are mostly Chinese already).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rsspage.catalog.labels import label_for
from rsspage.catalog.match import compile_pattern, normalise_path, normalise_pattern
from rsspage.errors import CatalogError
from rsspage.types import UNCATEGORISED, RadarRule, Route

#: rsspage's default ``site.language``; the catalog's names follow it.
DEFAULT_LANGUAGE = "zh-CN"

#: RSSHub's ``view`` numbers (its ``ViewType``) → the names rsspage keeps on a Route.
VIEWS: Mapping[int, str] = {
    0: "articles",
    1: "social",
    2: "pictures",
    3: "videos",
    4: "audio",
    5: "notifications",
}


def is_chinese(language: str) -> bool:
    """Whether a site language (``zh-CN``, ``zh_TW``, ``zh``) is a Chinese one."""
    return language.strip().lower().replace("_", "-").split("-")[0] == "zh"


def load_routes_json(path: Path, language: str = DEFAULT_LANGUAGE) -> list[Route]:
    """Read one routes.json file; CatalogError names the file when it is unreadable or invalid."""
    try:
        data = json.loads(path.read_bytes())
    except OSError as e:
        raise CatalogError(f"{path}: cannot read: {e.strerror or e}") from e
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CatalogError(f"{path}: not valid JSON: {e}") from e
    return parse_routes_json(data, origin=path.name, where=str(path), language=language)


def parse_routes_json(
    data: object, origin: str, where: str = "", language: str = DEFAULT_LANGUAGE
) -> list[Route]:
    """Routes of an already decoded routes.json document (either shape), in document order."""
    where = where or origin
    if not isinstance(data, Mapping):
        raise CatalogError(f"{where}: not an RSSHub routes.json: the top level is not an object")
    chinese = is_chinese(language)
    routes: list[Route] = []
    for namespace, entry in data.items():
        if not isinstance(entry, Mapping) or not isinstance(entry.get("routes"), Mapping):
            raise CatalogError(
                f"{where}: not an RSSHub routes.json: namespace {namespace!r} has no routes object"
            )
        routes.extend(_namespace_routes(str(namespace).strip("/"), entry, origin, chinese))
    return routes


def _namespace_routes(
    namespace: str, entry: Mapping[str, Any], origin: str, chinese: bool
) -> list[Route]:
    source = (_zh_name(entry) if chinese else "") or _text(entry.get("name")) or namespace
    fallback = _first_category(entry.get("categories"))
    routes: list[Route] = []
    for key, route in entry["routes"].items():
        if not isinstance(route, Mapping):
            continue
        key = str(key)
        example = _text(route.get("example"))
        example = ("/" + example.lstrip("/")) if example else ""
        category = _first_category(route.get("categories")) or fallback
        features = route.get("features")
        features = features if isinstance(features, Mapping) else {}
        config_keys = _required_config(features.get("requireConfig"))
        channel = (_zh_name(route) if chinese else "") or _text(route.get("name")) or key
        path = full_pattern(namespace, key, route.get("path"), example)
        routes.append(
            Route(
                path=path,
                example=example,
                category=label_for(category) if category else UNCATEGORISED,
                source=source,
                channel=channel,
                origin=origin,
                require_config=config_keys is not None,
                config_keys=config_keys or (),
                require_puppeteer=features.get("requirePuppeteer") is True,
                nsfw=features.get("nsfw") is True,
                view=_view(route.get("view")),
                radar=_radar_rules(namespace, route.get("radar"), path, channel),
            )
        )
    return routes


def _radar_rules(namespace: str, value: object, own_path: str, name: str) -> tuple[RadarRule, ...]:
    """RSSHub Radar's rules of one route: ``[{source: [...], target?, title?}]``.

    ``target`` is relative to the namespace, as RSSHub's build reads it (``"/" + namespace +
    target``); a missing or empty one is the route's own path. Sources are kept as written
    (``github.com/:user/:repo``): :mod:`rsspage.catalog.radar` reads them when a URL is matched.
    """
    if not isinstance(value, list):
        return ()
    rules: list[RadarRule] = []
    for item in value:
        if not isinstance(item, Mapping):
            continue
        sources = tuple(s.strip() for s in _strings(item.get("source")))
        if not sources:
            continue
        target = _text(item.get("target"))
        rules.append(RadarRule(
            source=sources,
            target=_joined("/" + namespace, target) if target else own_path,
            title=_text(item.get("title")) or name,
        ))
    return tuple(rules)


def full_pattern(namespace: str, key: str, path_field: object, example: str = "") -> str:
    """The full pattern (``/namespace/relative``) of a route listed under ``key``.

    ``path_field`` is the route's own ``path`` (relative to the namespace; a string or a list);
    ``example`` a full example path, used only when ``path_field`` does not settle it.
    """
    prefix = "/" + namespace.strip("/")
    key = normalise_pattern(key)
    relative_paths = {normalise_pattern(p) for p in _strings(path_field)}
    if key in relative_paths:  # (a): the key is the relative path
        return _joined(prefix, key)
    stripped = _without_prefix(key, prefix)
    if stripped is not None and stripped in relative_paths:  # (b): the key is the full path
        return key
    if stripped is None:  # cannot be a full path of this namespace
        return _joined(prefix, key)
    # No path field to go by and a key that starts with the namespace: relative keys that
    # repeat their namespace exist (``/cell/:category`` of namespace ``cell``), so ask the
    # example which reading it matches; without an example, the full path is the likely one.
    if example:
        as_full, as_relative = key, _joined(prefix, key)
        full_ok = _matches(as_full, example)
        relative_ok = _matches(as_relative, example)
        if relative_ok and not full_ok:
            return as_relative
    return key


def _without_prefix(key: str, prefix: str) -> str | None:
    """``key`` relative to ``prefix`` when it starts with it as whole segments, else None."""
    if key == prefix:
        return "/"
    if key.startswith(prefix + "/"):
        return key[len(prefix) :]
    return None


def _joined(prefix: str, relative: str) -> str:
    return normalise_pattern(prefix + "/" + relative.lstrip("/"))


def _matches(pattern: str, example: str) -> bool:
    return compile_pattern(pattern).matches(normalise_path(example))


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str) and v.strip()]
    return []


def _required_config(value: object) -> tuple[str, ...] | None:
    """Names of the instance settings a route needs (``()``: unnamed); None when it needs none.

    ``requireConfig`` is a boolean or a list of ``{name, optional?, description}``; settings
    marked optional do not make a route need configuration.
    """
    if value is True:
        return ()
    if not isinstance(value, list):
        return None
    names = tuple(
        _text(item.get("name"))
        for item in value
        if isinstance(item, Mapping) and item.get("optional") is not True
    )
    return tuple(n for n in names if n) if names else None


def _view(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return VIEWS.get(value)


def _zh_name(entry: Mapping[str, Any]) -> str:
    zh = entry.get("zh")
    return _text(zh.get("name")) if isinstance(zh, Mapping) else ""


def _first_category(value: object) -> str | None:
    if isinstance(value, list) and value and isinstance(value[0], str) and value[0]:
        return value[0]
    return None


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""
