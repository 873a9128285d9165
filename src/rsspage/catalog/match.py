"""RSSHub route patterns: normalising paths, compiling patterns, ranking by specificity.

Patterns come in two dialects that share most syntax: the koa/path-to-regexp style of the 2021
docs and the Hono style of the modern registry. Supported per segment:

- ``literal`` — matched exactly (case-sensitive);
- ``:name`` — one non-empty segment; ``:name?`` — optional segment;
- ``:name{re}`` / ``:name(re)`` — a regular expression, which may span segments (``{.+}``),
  optionally followed by ``?``;
- ``:name+`` / ``:name*`` — one or more / zero or more segments;
- ``*`` — anything, including nothing;
- mixed segments such as ``index:type?`` (literal text followed by a parameter).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PARAM = re.compile(r":([A-Za-z0-9_]+)")
_ONE_SEGMENT = "[^/]+"
_MANY_SEGMENTS = "[^/]+(?:/[^/]+)*"


def normalise_path(path: str) -> str:
    """A user's path as the catalog knows it: no query or fragment, leading slash, no trailing."""
    path = path.strip().split("?", 1)[0].split("#", 1)[0]
    return _tidy_slashes(path)


def normalise_pattern(pattern: str) -> str:
    """A pattern with a leading slash and no trailing slash (``?`` and ``{}`` are syntax here)."""
    return _tidy_slashes(pattern.strip())


def _tidy_slashes(path: str) -> str:
    path = "/" + path.lstrip("/")
    return path.rstrip("/") or "/"


@dataclass(frozen=True, slots=True)
class Specificity:
    """How specific a pattern is; a larger ``key()`` wins when several patterns match a path.

    Literal segments count first; then fewer optional parts (``?``, ``*``, wildcards); then
    more required segments, so ``/discuz/:ver{[7x]}/:cid/:link{.+}`` beats ``/discuz/:link{.+}``;
    then fewer regex parameters; then more literal characters.
    """

    literal_segments: int
    optional: int
    required_segments: int
    regex: int
    literal_chars: int

    def key(self) -> tuple[int, ...]:
        return (
            self.literal_segments,
            -self.optional,
            self.required_segments,
            -self.regex,
            self.literal_chars,
        )


@dataclass(frozen=True, slots=True)
class CompiledPattern:
    """A route pattern turned into an anchored regular expression."""

    pattern: str
    regex: re.Pattern[str]
    specificity: Specificity

    def matches(self, path: str) -> bool:
        return self.regex.fullmatch(path) is not None


def compile_pattern(pattern: str) -> CompiledPattern:
    """Compile a normalised pattern (``/mydrivers/rank/:range?``)."""
    segments = [_segment(text) for text in split_segments(pattern)]
    specificity = Specificity(
        literal_segments=sum(seg.literal for seg in segments),
        optional=sum(seg.optional for seg in segments),
        required_segments=sum(seg.required for seg in segments),
        regex=sum(seg.regex for seg in segments),
        literal_chars=sum(seg.chars for seg in segments),
    )
    regex = re.compile("".join(seg.regex_text for seg in segments))
    return CompiledPattern(pattern, regex, specificity)


def literal_head(pattern: str) -> str | None:
    """The first segment of a pattern when it is plain text (usually the namespace), else None."""
    first = split_segments(pattern)[0]
    return first if _mixed_segment(first).literal else None


def first_segment(path: str) -> str:
    """The first segment of a normalised path or pattern (``""`` for ``/``)."""
    return split_segments(path)[0]


def split_segments(pattern: str) -> list[str]:
    """Split on ``/`` outside brackets, so ``:name{a/b}`` stays one segment."""
    segments: list[str] = []
    depth, start = 0, 1
    for i, ch in enumerate(pattern):
        if ch in "{(":
            depth += 1
        elif ch in "})":
            depth = max(depth - 1, 0)
        elif ch == "/" and depth == 0 and i > 0:
            segments.append(pattern[start:i])
            start = i + 1
    segments.append(pattern[start:])
    return segments


@dataclass(frozen=True, slots=True)
class _Segment:
    """One compiled segment: the regex for ``/segment`` and what it adds to specificity."""

    regex_text: str
    literal: bool = False
    optional: int = 0
    required: bool = True
    regex: int = 0
    chars: int = 0


def _segment(text: str) -> _Segment:
    if text == "*":
        return _Segment("(?:/.*)?", optional=1, required=False)
    m = _PARAM.match(text)
    if m is not None:
        body, modifier, end = _param_tail(text, m.end())
        if end == len(text):
            return _param_segment(body, modifier)
    return _mixed_segment(text)


def _param_segment(body: str | None, modifier: str) -> _Segment:
    """A segment that is exactly one parameter, which may be optional as a whole."""
    if body is not None:
        inner = f"/(?:{body})"
    else:
        inner = "/" + (_MANY_SEGMENTS if modifier in ("+", "*") else _ONE_SEGMENT)
    optional = modifier in ("?", "*")
    return _Segment(
        f"(?:{inner})?" if optional else inner,
        optional=int(optional),
        required=not optional,
        regex=int(body is not None),
    )


def _mixed_segment(text: str) -> _Segment:
    """Literal text, possibly with parameters or ``*`` inside (``index:type?``)."""
    parts: list[str] = []
    optional = regex = chars = 0
    pos = 0
    while pos < len(text):
        if text[pos] == ":" and (m := _PARAM.match(text, pos)):
            body, modifier, pos = _param_tail(text, m.end())
            inner = f"(?:{body if body is not None else _ONE_SEGMENT})"
            optional += modifier in ("?", "*")
            regex += body is not None
            parts.append(f"{inner}?" if modifier in ("?", "*") else inner)
        elif text[pos] == "*":
            parts.append(".*")
            optional += 1
            pos += 1
        else:
            parts.append(re.escape(text[pos]))
            chars += 1
            pos += 1
    literal = chars == len(text) and text != ""
    return _Segment("/" + "".join(parts), literal, optional, True, regex, chars)


def _param_tail(segment: str, pos: int) -> tuple[str | None, str, int]:
    """After ``:name``: the bracketed regex (if any, checked), the modifier, the end position."""
    body: str | None = None
    if pos < len(segment) and segment[pos] in "{(":
        end = _closing_bracket(segment, pos)
        body = _checked_regex(segment[pos + 1 : end])
        pos = end + 1
    modifier = ""
    if pos < len(segment) and segment[pos] in "?*+":
        modifier = segment[pos]
        pos += 1
    return body, modifier, pos


def _closing_bracket(text: str, start: int) -> int:
    """Index of the bracket closing the one at ``start`` (or the end, if it never closes)."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] in "{(":
            depth += 1
        elif text[i] in "})":
            depth -= 1
            if depth == 0:
                return i
    return len(text)


def _checked_regex(body: str) -> str:
    # Patterns are written for JavaScript; one Python cannot compile still matches one segment
    # rather than making the whole catalog unusable.
    try:
        re.compile(body)
    except re.error:
        return _ONE_SEGMENT
    return body
