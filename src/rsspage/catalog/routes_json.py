"""Reader for RSSHub's machine-readable route registry (``assets/build/routes.json``).

Shape: ``{namespace: {name, categories?, routes: {"/rank/:range?": {name, example,
categories?, ...}}}}``. A route's full pattern is ``"/" + namespace + route key``; its category is
the label of its first category key, else of the namespace's first one, else ``未分类``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rsspage.catalog.labels import label_for
from rsspage.catalog.match import normalise_pattern
from rsspage.errors import CatalogError
from rsspage.types import UNCATEGORISED, Route


def load_routes_json(path: Path) -> list[Route]:
    """Read one routes.json file; CatalogError names the file when it is unreadable or invalid."""
    try:
        data = json.loads(path.read_bytes())
    except OSError as e:
        raise CatalogError(f"{path}: cannot read: {e.strerror or e}") from e
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CatalogError(f"{path}: not valid JSON: {e}") from e
    return parse_routes_json(data, origin=path.name, where=str(path))


def parse_routes_json(data: object, origin: str, where: str = "") -> list[Route]:
    """Routes of an already decoded routes.json document, in document order."""
    where = where or origin
    if not isinstance(data, Mapping):
        raise CatalogError(f"{where}: not an RSSHub routes.json: the top level is not an object")
    routes: list[Route] = []
    for namespace, entry in data.items():
        if not isinstance(entry, Mapping) or not isinstance(entry.get("routes"), Mapping):
            raise CatalogError(
                f"{where}: not an RSSHub routes.json: namespace {namespace!r} has no routes object"
            )
        routes.extend(_namespace_routes(str(namespace), entry, origin))
    return routes


def _namespace_routes(namespace: str, entry: Mapping[str, Any], origin: str) -> list[Route]:
    source = _text(entry.get("name")) or namespace
    fallback = _first_category(entry.get("categories"))
    routes: list[Route] = []
    for key, route in entry["routes"].items():
        if not isinstance(route, Mapping):
            continue
        key = str(key)
        pattern = normalise_pattern(f"/{namespace}/{key.lstrip('/')}")
        category = _first_category(route.get("categories")) or fallback
        example = _text(route.get("example"))
        routes.append(
            Route(
                path=pattern,
                example=("/" + example.lstrip("/")) if example else "",
                category=label_for(category) if category else UNCATEGORISED,
                source=source,
                channel=_text(route.get("name")) or key,
                origin=origin,
            )
        )
    return routes


def _first_category(value: object) -> str | None:
    if isinstance(value, list) and value and isinstance(value[0], str) and value[0]:
        return value[0]
    return None


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""
