"""Reading composed YAML nodes with errors that name file, line and key, and the duration
syntax of the config (``30m``, ``1h30m``): the parts of :mod:`rsspage.config` every section
uses.

A config is read to its end, so that one run names every problem of the file: the
:class:`Reader` notes a problem and goes on wherever the rest does not depend on it (an unknown
key, a list entry, a section, a value of a flat section), and :meth:`Reader.check` raises them
all at once (:class:`ConfigProblems`, one ``file:line: key: problem`` line each).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any, TypeVar

import yaml

from rsspage.errors import ConfigError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"(?:\d+(?:\.\d+)?[smhdw])+")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_LONGEST = timedelta(days=366)
T = TypeVar("T")


def parse_duration(text: str) -> timedelta:
    """``30s``, ``30m``, ``2h``, ``1d``, ``1w`` or sums like ``1h30m``; ValueError otherwise."""
    compact = text.strip().lower().replace(" ", "")
    if not _DURATION.fullmatch(compact):
        raise ValueError(f"expected a duration such as 30m, 2h or 1d, got {text!r}")
    seconds = sum(float(n) * _UNITS[unit] for n, unit in _DURATION_PART.findall(compact))
    if seconds > _LONGEST.total_seconds():  # a schedule is no place for centuries
        raise ValueError(f"at most {_LONGEST.days}d, got {text!r}")
    return timedelta(seconds=seconds)


def format_duration(span: timedelta) -> str:
    """The inverse of :func:`parse_duration`, largest units first: ``1d12h``, ``30m``, ``0s``."""
    left = round(span.total_seconds())
    parts = []
    for unit, size in sorted(_UNITS.items(), key=lambda item: -item[1]):
        if unit != "w" and left >= size:
            parts.append(f"{left // size}{unit}")
            left %= size
    return "".join(parts) or "0s"


class ConfigProblems(ConfigError):
    """Several problems in one config file; the message has one line for each, in file order.
    The attributes ``line``, ``key`` and ``problem`` are the first one's."""

    def __init__(self, problems: Iterable[ConfigError]) -> None:
        self.problems = tuple(sorted(problems, key=lambda p: p.line or 0))
        first = self.problems[0]
        super().__init__(first.file, first.line, first.key, first.problem)
        self.args = ("\n".join(str(p) for p in self.problems),)


class Reader:
    """Validates composed YAML nodes, raising or noting ConfigError with file:line:key."""

    def __init__(self, file: str) -> None:
        self.file = file
        #: Problems noted so far, for :meth:`check`.
        self.problems: list[ConfigError] = []

    def fail(self, node: yaml.Node | None, key: str, problem: str) -> ConfigError:
        line = node.start_mark.line + 1 if node is not None else None
        return ConfigError(self.file, line, key, problem)

    def note(self, error: ConfigError) -> None:
        self.problems.append(error)

    def attempt(self, read: Callable[[], T], default: T) -> T:
        """``read()``, or ``default`` with its problem noted."""
        try:
            return read()
        except ConfigProblems as e:
            self.problems.extend(e.problems)
        except ConfigError as e:
            self.note(e)
        return default

    def each(self, nodes: Iterable[yaml.Node], read: Callable[[yaml.Node, int], T]) -> list[T]:
        """``read(node, index)`` of every node that reads; the others' problems noted."""
        out: list[T] = []
        for index, node in enumerate(nodes):
            try:
                out.append(read(node, index))
            except ConfigError as e:
                self.note(e)
        return out

    def values(self, items: dict[str, yaml.Node],
               read: Callable[[str, yaml.Node], T]) -> dict[str, T]:
        """``read(key, node)`` of every item that reads; the others' problems noted."""
        out: dict[str, T] = {}
        for key, node in items.items():
            try:
                out[key] = read(key, node)
            except ConfigError as e:
                self.note(e)
        return out

    def check(self) -> None:
        """Raise what was noted: the one problem itself, or all of them."""
        if len(self.problems) == 1:
            raise self.problems[0]
        if self.problems:
            raise ConfigProblems(self.problems)

    def mapping(
        self, node: yaml.Node, key: str, allowed: set[str], required: tuple[str, ...] = ()
    ) -> dict[str, yaml.Node]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, key or "(top level)", f"expected a mapping, got {kind_of(node)}")
        items: dict[str, yaml.Node] = {}
        for knode, vnode in node.value:
            name = str(knode.value)
            full = f"{key}.{name}" if key else name
            if name not in allowed:  # noted: the keys that are known can still be read
                self.note(self.fail(knode, full, _unknown_key(name, allowed)))
            elif name in items:
                self.note(self.fail(knode, full, "duplicate key"))
            else:
                items[name] = vnode
        for name in required:
            if name not in items:
                raise self.fail(node, f"{key}.{name}" if key else name, "missing required key")
        return items

    def sequence(self, node: yaml.Node, key: str) -> list[yaml.Node]:
        if is_null(node):
            return []
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, key, f"expected a list, got {kind_of(node)}")
        return list(node.value)

    def text(self, node: yaml.Node, key: str, *, allow_null: bool = False) -> str | None:
        if allow_null and is_null(node):
            return None
        if not isinstance(node, yaml.ScalarNode) or is_null(node) or node.tag.endswith(":bool"):
            raise self.fail(node, key, f"expected text, got {kind_of(node)}")
        value = str(node.value).strip()
        if not value:
            raise self.fail(node, key, "must not be empty")
        return value

    def duration(self, node: yaml.Node, key: str, low: timedelta = timedelta(0)) -> timedelta:
        try:
            if not isinstance(node, yaml.ScalarNode) or is_null(node):
                raise ValueError(f"expected a duration such as 30m, 2h or 1d, got {kind_of(node)}")
            value = parse_duration(str(node.value))
        except ValueError as e:
            raise self.fail(node, key, str(e)) from e
        if value < low:
            least = f"{low.total_seconds():g}s"
            raise self.fail(node, key, f"must be at least {least}, got {node.value}")
        return value

    def number(self, node: yaml.Node, key: str, kind: Callable[[str], Any], low: float) -> Any:
        if not isinstance(node, yaml.ScalarNode) or not node.tag.endswith((":int", ":float")):
            raise self.fail(node, key, f"expected a number, got {kind_of(node)}")
        if kind is int and node.tag.endswith(":float"):
            raise self.fail(node, key, f"expected a whole number, got {node.value!r}")
        value = kind(node.value)
        if value < low:
            raise self.fail(node, key, f"must be at least {low:g}, got {node.value}")
        return value


def _unknown_key(name: str, allowed: set[str]) -> str:
    close = difflib.get_close_matches(name, sorted(allowed), n=1, cutoff=0.6)
    guess = f", did you mean {close[0]}?" if close else ""
    return f"unknown key{guess} (allowed: {', '.join(sorted(allowed))})"


def is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null")


def kind_of(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    if is_null(node):
        return "nothing (null)"
    return repr(node.value)


Loc = tuple[str | int, ...]


class Plain:
    """A composed document as plain values (what the validator reads), with where each value
    and each mapping key is in the file, by location (``("routes", 1, "path")``)."""

    def __init__(self, reader: Reader, root: yaml.Node) -> None:
        self._reader = reader
        #: Line of each value, and of each mapping key (1-based).
        self.lines: dict[Loc, int] = {}
        self.key_lines: dict[Loc, int] = {}
        #: First and last line of each scalar (a plain scalar may go on over several lines).
        self.spans: dict[Loc, tuple[int, int]] = {}
        self.value = self._read(root, ())

    def _read(self, node: yaml.Node, loc: Loc) -> Any:
        self.lines[loc] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, loc)
        if isinstance(node, yaml.SequenceNode):
            return [self._read(item, (*loc, i)) for i, item in enumerate(node.value)]
        assert isinstance(node, yaml.ScalarNode)  # yaml composes nothing else
        self.spans[loc] = (node.start_mark.line + 1, node.end_mark.line + 1)
        return _scalar(node)

    def _mapping(self, node: yaml.MappingNode, loc: Loc) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for knode, vnode in node.value:
            name = str(knode.value)
            where = key_of((*loc, name))
            if name in out:  # YAML would keep the last one silently
                self._reader.note(self._reader.fail(knode, where, "duplicate key"))
                continue
            self.key_lines[(*loc, name)] = knode.start_mark.line + 1
            out[name] = self._read(vnode, (*loc, name))
        return out


_CONSTRUCTOR = yaml.SafeLoader("")


def _scalar(node: yaml.ScalarNode) -> Any:
    """The scalar as YAML types it (int, float, bool, null), else its text: a date stays text."""
    if node.tag.endswith((":int", ":float", ":bool", ":null")):
        return _CONSTRUCTOR.construct_object(node, deep=True)
    return str(node.value)


def key_of(loc: Loc) -> str:
    """``("routes", 1, "path")`` → ``routes[1].path``, as messages name keys."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}" if out else part
    return out
