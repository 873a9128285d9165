"""pydantic's validation errors → ``file:line: key: problem``, in the words rsspage always used.

An error's location (``("routes", 1, "path")``) is looked up in the plain values the YAML was
read into (:class:`rsspage.config_nodes.Plain`), which know each value's line. Two kinds of
location parts are not keys of the file and are left out of the key shown: the parts pydantic
adds for union members and dictionary keys, and the key a shorthand stands for (a route written
as its path is named ``routes[1]``, not ``routes[1].path``).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Any, get_args

import pydantic
from pydantic import BaseModel

from rsspage.config_model import ConfigModel
from rsspage.config_nodes import Loc, Plain, key_of
from rsspage.errors import ConfigError


def problems_of(error: pydantic.ValidationError, plain: Plain,
                file: str) -> Iterator[ConfigError]:
    """One ConfigError per problem; on one line, unknown keys first (a misspelt key is the
    likelier cause of whatever else that line says)."""
    found = []
    for detail in error.errors(include_url=False):
        loc, data_loc = _file_loc(detail["loc"], plain.value)
        unknown = detail["type"] == "extra_forbidden"
        lines = plain.key_lines if unknown else plain.lines
        line = _line(lines, plain.lines, loc)
        found.append((line or 0, not unknown,
                      ConfigError(file, line, key_of(loc) or "(top level)",
                                  _problem(detail, data_loc))))
    for _, _, problem in sorted(found, key=lambda item: item[:2]):
        yield problem


def _file_loc(loc: tuple[int | str, ...], data: Any) -> tuple[Loc, Loc]:
    """(the location as the file names it, the location in the model) of an error."""
    shown: list[int | str] = []
    model: list[int | str] = []
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if _has(data, part):
            data = data[part]
        elif isinstance(data, dict) and last and isinstance(part, str) and part != "[key]":
            pass  # a missing key: named, though not in the file
        elif isinstance(data, str) and isinstance(part, str) and part.isidentifier():
            model.append(part)  # the key a shorthand stands for: the entry is named instead
            continue
        else:
            continue  # a union member's or a dict key's tag
        shown.append(part)
        model.append(part)
    return tuple(shown), tuple(model)


def _has(data: Any, part: int | str) -> bool:
    if isinstance(data, dict):
        return part in data
    return isinstance(data, list) and isinstance(part, int) and part < len(data)


def _line(lines: dict[Loc, int], values: dict[Loc, int], loc: Loc) -> int | None:
    """The line of ``loc``, else of the nearest enclosing value (a missing key: its mapping)."""
    if loc in lines:
        return lines[loc]
    for end in range(len(loc), -1, -1):
        if loc[:end] in values:
            return values[loc[:end]]
    return None


def _problem(detail: Any, data_loc: Loc) -> str:
    kind, value, ctx = detail["type"], detail.get("input"), detail.get("ctx") or {}
    if kind == "value_error":
        return str(ctx.get("error", detail["msg"]))
    if kind == "extra_forbidden":
        return _unknown_key(str(data_loc[-1]), _allowed(data_loc[:-1]))
    if kind == "missing":
        return "missing required key"
    if kind in ("int_type", "int_parsing", "int_from_float", "float_type", "float_parsing"):
        if isinstance(value, float) and kind.startswith("int"):
            return f"expected a whole number, got {value!r}"
        return f"expected a number, got {_kind_of(value)}"
    if kind in ("greater_than_equal", "greater_than"):
        return f"must be at least {ctx.get('ge', ctx.get('gt')):g}, got {value}"
    if kind in ("less_than_equal", "less_than"):
        return f"must be at most {ctx.get('le', ctx.get('lt')):g}, got {value}"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "literal_error":
        words = str(ctx.get("expected", "")).replace("'", "").replace(" or ", ", ").split(", ")
        choice = " or ".join(words) if len(words) == 2 else f"one of {', '.join(words)}"
        return f"expected {choice}, got {value!r}"
    return _type_problem(kind, value, detail)


_EXPECTED = {"string_type": "text", "bool_type": "true or false", "list_type": "a list",
             "dict_type": "a mapping", "model_type": "a mapping", "model_attributes_type":
             "a mapping", "timedelta_type": "a duration such as 30m, 2h or 1d"}


def _type_problem(kind: str, value: object, detail: Any) -> str:
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {_kind_of(value)}"
    if kind == "string_pattern_mismatch":
        return f"not a valid header name: {value!r}"
    return str(detail["msg"])  # pydantic's own words, for what the config cannot often do


def _kind_of(value: object) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    return repr(str(value)) if not isinstance(value, bool) else repr(str(value).lower())


def _allowed(loc: Loc) -> set[str]:
    """The keys the model allows at ``loc`` (a location in the model, without tags): list
    indexes and dictionary keys (header names) lead to the model of their values."""
    kind: Any = ConfigModel
    for part in loc:
        model = _model_in(kind)
        if isinstance(part, str) and model is not None and part in model.model_fields:
            kind = model.model_fields[part].annotation
    model = _model_in(kind)
    return set(model.model_fields) if model is not None else set()


def _model_in(kind: Any) -> type[BaseModel] | None:
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        return kind
    for arg in get_args(kind):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _unknown_key(name: str, allowed: set[str]) -> str:
    close = difflib.get_close_matches(name, sorted(allowed), n=1, cutoff=0.6)
    guess = f", did you mean {close[0]}?" if close else ""
    return f"unknown key{guess} (allowed: {', '.join(sorted(allowed))})"
