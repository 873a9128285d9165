"""RSSHub route catalogs: which category, source and channel a route path belongs to.

Catalogs come from RSSHub's ``routes.json`` (:mod:`.routes_json`) and from its 2021 docs
markdown (:mod:`.legacy_docs`); :func:`load_catalog` reads any mix of both and :class:`Catalog`
answers ``match`` (a user's path → its Route), ``search`` and ``list``.
"""

from __future__ import annotations

import builtins
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

from rsspage.catalog.labels import CATEGORY_LABELS, key_for, label_for, label_order
from rsspage.catalog.legacy_docs import load_legacy_docs, parse_legacy_docs
from rsspage.catalog.match import (
    CompiledPattern,
    compile_pattern,
    first_segment,
    literal_head,
    normalise_path,
)
from rsspage.catalog.routes_json import (
    DEFAULT_LANGUAGE,
    is_chinese,
    load_routes_json,
    parse_routes_json,
)
from rsspage.errors import CatalogError
from rsspage.types import Route

__all__ = [
    "CATEGORY_LABELS",
    "DEFAULT_LANGUAGE",
    "Catalog",
    "is_chinese",
    "label_for",
    "load_catalog",
    "load_legacy_docs",
    "load_routes_json",
    "parse_legacy_docs",
    "parse_routes_json",
]


class Catalog:
    """An immutable set of routes, one per path pattern (a later route replaces an earlier one)."""

    def __init__(self, routes: Iterable[Route]) -> None:
        by_path: dict[str, Route] = {}
        for route in routes:
            by_path.pop(route.path, None)  # re-insert so that order means "loaded later"
            by_path[route.path] = route
        self._routes = tuple(by_path.values())
        self._by_example = {normalise_path(r.example): r for r in self._routes if r.example}
        # Patterns are indexed by their literal first segment (usually the namespace) and
        # compiled on first use, so loading stays cheap and a match tries only a few dozen.
        self._buckets: dict[str | None, list[int]] = defaultdict(list)
        for index, route in enumerate(self._routes):
            self._buckets[literal_head(route.path)].append(index)
        self._compiled: dict[int, CompiledPattern] = {}
        self._haystacks = [_haystack(r) for r in self._routes]

    def __len__(self) -> int:
        return len(self._routes)

    @property
    def routes(self) -> tuple[Route, ...]:
        """Every route, in the order loaded."""
        return self._routes

    def match(self, path: str) -> Route | None:
        """The route for a user's path: an exact example first, else the most specific pattern."""
        path = normalise_path(path)
        if (route := self._by_example.get(path)) is not None:
            return route
        candidates = self._buckets.get(first_segment(path), []) + self._buckets.get(None, [])
        best: tuple[tuple[int, ...], int] | None = None
        for index in candidates:
            pattern = self._pattern(index)
            rank = (pattern.specificity.key(), index)  # ties: the route loaded later wins
            if (best is None or rank > best) and pattern.matches(path):
                best = rank
        return self._routes[best[1]] if best is not None else None

    def search(self, text: str) -> builtins.list[Route]:
        """Routes whose category/source/channel/path/example hold every term (any case)."""
        terms = text.casefold().split()
        found = (
            r
            for r, hay in zip(self._routes, self._haystacks, strict=True)
            if all(t in hay for t in terms)
        )
        return sorted(found, key=_display_order)

    def list(self, category: str | None = None) -> builtins.list[Route]:
        """All routes, or those of one category given by label (新媒体) or key (new-media)."""
        routes = self._routes
        if category is not None:
            label = label_for(category)
            routes = tuple(r for r in routes if r.category == label)
        return sorted(routes, key=_display_order)

    def categories(self) -> builtins.list[str]:
        """Category labels present, known ones in RSSHub's key order, then the rest."""
        return sorted({r.category for r in self._routes}, key=label_order)

    def _pattern(self, index: int) -> CompiledPattern:
        compiled = self._compiled.get(index)
        if compiled is None:
            compiled = self._compiled[index] = compile_pattern(self._routes[index].path)
        return compiled


def load_catalog(paths: Sequence[Path], language: str = DEFAULT_LANGUAGE) -> Catalog:
    """Read routes.json files, docs pages and folders of them; later paths win on conflicts.

    A folder contributes its ``*.json`` then ``*.md`` files (not recursively, by name).
    ``language`` is the site's (``site.language``): with a Chinese one, routes.json names are
    the catalog's Chinese names (``zh.name``) where it has them.
    """
    routes: builtins.list[Route] = []
    for path in paths:
        for file in _catalog_files(path):
            routes.extend(_load_file(file, language))
    return Catalog(routes)


def _catalog_files(path: Path) -> builtins.list[Path]:
    if path.is_dir():
        return sorted(path.glob("*.json")) + sorted(path.glob("*.md"))
    if not path.exists():
        raise CatalogError(f"{path}: no such file or folder")
    return [path]


def _load_file(path: Path, language: str) -> builtins.list[Route]:
    if path.suffix.lower() == ".json":
        return load_routes_json(path, language)
    if path.suffix.lower() == ".md":
        return load_legacy_docs(path)
    raise CatalogError(f"{path}: not a catalog file (expected a routes .json or a docs .md)")


def _haystack(route: Route) -> str:
    key = key_for(route.category) or ""
    fields = (route.category, key, route.source, route.channel, route.path, route.example)
    return "\n".join(fields).casefold()


def _display_order(route: Route) -> tuple[tuple[int, str], str, str, str]:
    return (label_order(route.category), route.source, route.channel, route.path)
