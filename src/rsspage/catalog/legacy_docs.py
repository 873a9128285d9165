"""Reader for RSSHub's 2021 (VuePress) route docs: ``docs/<category>.md``.

A page reads ``# category``, ``## source``, ``### channel``, then one or more
``<Route author=".." example="/x/y" path="/x/:p?" :paramsDesc="[...]" />`` tags (or
``<Route ...> body </Route>``). What the real pages contain, and how it is read:

- tags spanning several lines; ``>`` inside quoted attribute values; any attribute order;
- a tag that never reaches ``>`` ends at a blank line or at what is not an attribute;
- a body that is never closed with ``</Route>`` is harmless: bodies are not read at all;
- ``path``/``example`` without a leading ``/`` get one; a tag without ``path`` uses ``example``;
- fenced code blocks, HTML comments and the front matter are ignored;
- heading text loses markdown links, code and emphasis marks and a trailing ``{#anchor}``;
- ``####`` and deeper headings are sub-sections of a channel's description and are ignored.

The channel is the tag's ``name`` attribute, else the current ``###`` heading, else (for the
routes that sit right under a ``## source``, e.g. "## WordPress") the ``##`` heading itself, so
that every route keeps a non-empty category → source → channel triple. A page without a ``#``
heading takes the label of its file name (``new-media.md`` → 新媒体). Pages without tags
(README.md, api.md, faq.md …) yield nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

from rsspage.catalog.labels import CATEGORY_LABELS, label_for
from rsspage.catalog.match import first_segment, normalise_pattern
from rsspage.errors import CatalogError
from rsspage.types import UNCATEGORISED, Route

_FENCE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n.*?\n---[ \t]*(?:\n|\Z)", re.S)
_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.S)
_TOKEN = re.compile(r"^(?P<hashes>#{1,6})[ \t]+(?P<title>[^\n]*)$|<Route(?=[\s/>])", re.M)
# Whitespace between attributes may hold one line break: a blank line ends an unclosed tag.
_GAP = r"[ \t]*(?:\r?\n[ \t]*)?"
# Quoted values may hold ">" and line breaks, but never run on into the next tag.
_DOUBLE = r'"(?P<dq>(?:(?!<Route)[^"])*)"'
_SINGLE = r"'(?P<sq>(?:(?!<Route)[^'])*)'"
_VALUE = rf"(?:{_DOUBLE}|{_SINGLE}|(?P<bare>[^\s\"'=<>`]+))"
_ATTR = re.compile(rf"{_GAP}(?P<name>[:@A-Za-z_][A-Za-z0-9_:.@-]*)(?:[ \t]*={_GAP}{_VALUE})?")
_TAG_END = re.compile(rf"{_GAP}/?>")


@dataclass(frozen=True, slots=True)
class _Place:
    """Where the scan is in the heading outline."""

    category: str
    source: str = ""
    channel: str = ""


def load_legacy_docs(path: Path) -> list[Route]:
    """Read one docs page; CatalogError names the file when it cannot be read as UTF-8 text."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as e:
        raise CatalogError(f"{path}: cannot read: {e.strerror or e}") from e
    except UnicodeDecodeError as e:
        raise CatalogError(f"{path}: not UTF-8 text: {e}") from e
    return parse_legacy_docs(text, origin=path.name)


def parse_legacy_docs(text: str, origin: str) -> list[Route]:
    """Routes of one docs page in document order; ``origin`` is the file name used in records."""
    text = _blank_ignored(text.replace("\r\n", "\n"))
    stem = origin.rsplit(".", 1)[0]
    place = _Place(label_for(stem) if stem in CATEGORY_LABELS else UNCATEGORISED)
    routes: list[Route] = []
    pos = 0
    while (m := _TOKEN.search(text, pos)) is not None:
        if m.group("hashes"):
            place = _enter_heading(place, len(m.group("hashes")), clean_heading(m.group("title")))
            pos = m.end()
            continue
        attrs, pos = _read_attributes(text, m.end())
        line = text.count("\n", 0, m.start()) + 1
        route = _make_route(attrs, place, f"{origin}:{line}")
        if route is not None:
            routes.append(route)
    return routes


def _enter_heading(place: _Place, level: int, title: str) -> _Place:
    if level == 1:
        return _Place(title or place.category)
    if level == 2:
        return replace(place, source=title, channel="")
    if level == 3:
        return replace(place, channel=title)
    return place


def _read_attributes(text: str, pos: int) -> tuple[dict[str, str], int]:
    """Attributes of a tag whose name ends at ``pos``, and where the tag ends."""
    attrs: dict[str, str] = {}
    while (end := _TAG_END.match(text, pos)) is None:
        m = _ATTR.match(text, pos)
        if m is None:  # an unclosed tag: stop at the first thing that is not an attribute
            return attrs, pos
        value = m.group("dq") if m.group("dq") is not None else m.group("sq")
        attrs[m.group("name")] = value if value is not None else (m.group("bare") or "")
        pos = m.end()
    return attrs, end.end()


def _make_route(attrs: dict[str, str], place: _Place, origin: str) -> Route | None:
    path = attrs.get("path", "").strip() or attrs.get("example", "").strip()
    if not path:
        return None
    example = attrs.get("example", "").strip()
    pattern = normalise_pattern(path)
    source = place.source or first_segment(pattern) or pattern
    return Route(
        path=pattern,
        example=("/" + example.lstrip("/")) if example else "",
        category=place.category,
        source=source,
        channel=attrs.get("name", "").strip() or place.channel or source,
        origin=origin,
    )


def _blank_ignored(text: str) -> str:
    """Blank out front matter, comments and fenced code, keeping line numbers."""
    text = _FRONT_MATTER.sub(_keep_newlines, text, count=1)
    text = _blank_fences(text)
    return _COMMENT.sub(_keep_newlines, text)


def _keep_newlines(m: re.Match[str]) -> str:
    return "\n" * m.group(0).count("\n")


def _blank_fences(text: str) -> str:
    lines = text.split("\n")
    fence: str | None = None
    for i, line in enumerate(lines):
        m = _FENCE.match(line)
        if fence is None:
            if m is None:
                continue
            fence = m.group(1)
        elif m is not None and _closes(fence, m.group(1), line):
            fence = None
        lines[i] = ""
    return "\n".join(lines)


def _closes(fence: str, marker: str, line: str) -> bool:
    """A fence closes with the same character, at least as long, and nothing after it."""
    return marker[0] == fence[0] and len(marker) >= len(fence) and line.strip() == marker


_LINK = re.compile(r"!?\[([^\]]*)\](?:\([^)]*\)|\[[^\]]*\])")
_AUTOLINK = re.compile(r"<((?:https?|mailto):[^>]*)>")
_TAG = re.compile(r"</?[A-Za-z][^>]*>")
_EMPHASIS = re.compile(r"(\*\*|__|\*)(\S(?:.*?\S)?)\1")
_ANCHOR = re.compile(r"\s*\{#[^}]*\}\s*$")
_CLOSING_HASHES = re.compile(r"\s+#+\s*$")


def clean_heading(text: str) -> str:
    """Heading text without markdown: links → their text, no code ticks, emphasis or anchor."""
    text = _ANCHOR.sub("", text)
    text = _CLOSING_HASHES.sub("", text)
    text = _LINK.sub(r"\1", text)
    text = _AUTOLINK.sub(r"\1", text)
    text = _TAG.sub("", text)
    text = _EMPHASIS.sub(r"\2", text).replace("`", "")
    return " ".join(text.split())
