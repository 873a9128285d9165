"""What every part of the config reader shares: the plain values of a composed YAML document
with the line of each (:class:`Plain`), the problems noted on the way (:class:`Reader`, raised
all at once as :class:`ConfigProblems`, one ``file:line: key: problem`` line each) and the
duration syntax of the config (``30m``, ``1h30m``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
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
    """The problems of one config file, noted as they are found and raised together."""

    def __init__(self, file: str) -> None:
        self.file = file
        #: Problems noted so far, for :meth:`check`.
        self.problems: list[ConfigError] = []

    def fail(self, node: yaml.Node | None, key: str, problem: str) -> ConfigError:
        line = node.start_mark.line + 1 if node is not None else None
        return ConfigError(self.file, line, key, problem)

    def note(self, error: ConfigError) -> None:
        self.problems.append(error)

    def check(self) -> None:
        """Raise what was noted: the one problem itself, or all of them."""
        if len(self.problems) == 1:
            raise self.problems[0]
        if self.problems:
            raise ConfigProblems(self.problems)


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
