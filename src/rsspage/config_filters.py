"""``filters:`` of the config (the global one and each route's or feed's) → :class:`Rules`.

Every pattern is compiled here, so that a pattern RE2 does not accept is a config error with
its line (``rsspage.yml:12: filters.block.title[1]: …``), and every bad pattern of the file is
named in one run. What the rules mean is in :mod:`rsspage.filters`.
"""

from __future__ import annotations

from datetime import timedelta

import yaml

from rsspage.config_nodes import Reader, kind_of
from rsspage.errors import ConfigError
from rsspage.filters import FIELDS, Pattern, Rules, compile_pattern

_LISTS = ("block", "keep")
_GLOBAL_KEYS = {*_LISTS, "max_age", "future"}
#: A feed may also turn the global rules off for itself.
_FEED_KEYS = _GLOBAL_KEYS | {"inherit"}


def read_filters(r: Reader, node: yaml.Node, key: str, *, feed: bool) -> Rules:
    """The ``filters:`` mapping at ``node`` (``key``: where it is, for messages); every
    problem in it is noted on ``r`` and the parts that read are returned."""
    items = r.mapping(node, key, _FEED_KEYS if feed else _GLOBAL_KEYS)
    lists = {name: _patterns(r, items[name], f"{key}.{name}") if name in items else ()
             for name in _LISTS}
    max_age: timedelta | None = None
    if "max_age" in items:  # 0 (a feed's ``max_age: 0s``) lifts the global limit
        max_age = r.attempt(lambda: r.duration(items["max_age"], f"{key}.max_age"), None)
    future = _switch(r, items, "future", key)
    inherit = _switch(r, items, "inherit", key)
    return Rules(block=lists["block"], keep=lists["keep"], max_age=max_age, future=future,
                 inherit=True if inherit is None else inherit)


def _patterns(r: Reader, node: yaml.Node, key: str) -> tuple[Pattern, ...]:
    """``{field: pattern or [patterns]}``; each bad pattern noted, the others kept."""
    out: list[Pattern] = []
    empty: dict[str, yaml.Node] = {}
    for field, value in r.attempt(lambda: r.mapping(node, key, set(FIELDS)), empty).items():
        where = f"{key}.{field}"
        places: list[tuple[yaml.Node, str]]
        if isinstance(value, yaml.ScalarNode):
            places = [(value, where)]
        else:
            try:
                nodes = r.sequence(value, where)
            except ConfigError as e:
                r.note(e)
                nodes = []
            places = [(item, f"{where}[{i}]") for i, item in enumerate(nodes)]
        for item, at in places:
            try:
                out.append(_pattern(r, item, at, field))
            except ConfigError as e:
                r.note(e)
    return tuple(out)


def _pattern(r: Reader, node: yaml.Node, key: str, field: str) -> Pattern:
    text = r.text(node, key) or ""
    try:
        return compile_pattern(field, text)
    except ValueError as e:
        raise r.fail(node, key, str(e)) from e


def _switch(r: Reader, items: dict[str, yaml.Node], name: str, key: str) -> bool | None:
    """``true`` or ``false`` at ``items[name]``; None when it is not there (or is noted bad)."""
    if name not in items:
        return None
    node = items[name]
    if not (isinstance(node, yaml.ScalarNode) and node.tag.endswith(":bool")):
        r.note(r.fail(node, f"{key}.{name}", f"expected true or false, got {kind_of(node)}"))
        return None
    return bool(yaml.safe_load(node.value))
