"""An existing tree of Hexo posts (the system rsspage replaces) → Articles for the archive.

The old tool wrote ``source/_posts/<category>/<source>/<channel>/<title>.md`` (older posts:
``post/<category>/<source>/<title>.md``) with the front matter of DESIGN.md and the feed's
description HTML as body. Each post becomes a :class:`~rsspage.types.RawEntry` of the feed it
belongs to and goes through :func:`~rsspage.normalise.normalise_feed` like any feed entry, so it
is sanitised, dated and hashed the same way. The archive then recognises the same item when the
feed brings it again (:func:`rsspage.store.articles.save`: by link, else by title, within the
feed), so an import neither duplicates nor loses anything.

Real files vary; all of these read: a blank line before the opening ``---``, trailing spaces,
no final newline, categories indented by one or by four spaces, no ``headimg`` or a placeholder
picture service as head image, titles quoted either way with line breaks inside, dates as RFC
1123 (``Thu, 21 Jul 2022 17:22:55 GMT``) or local ``2022-07-21 17:22:55`` (taken in the site's
time zone). A file that does not read (bad YAML, no title, no date, no categories) is a
:class:`Broken` with its reason, never an exception.
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from rsspage.types import RawEntry

#: The C loader where PyYAML was built with libyaml (15,000 posts in seconds), else Python's.
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: Head images that are placeholders, not pictures of the article.
_PLACEHOLDERS = ("picsum.photos", "source.unsplash.com", "placehold", "dummyimage.com")
#: The link to the original that rsspage (and the tool it replaces) put at the end of a body.
_SOURCE_LINK = re.compile(
    r'(?:<p[^>]*>\s*)?<a\s[^>]*href="(https?://[^"]+)"[^>]*>\s*阅读原文\s*</a>\s*(?:</p>)?\s*$',
    re.IGNORECASE)
_LOCAL_DATE = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True, slots=True)
class Post:
    """One post read from the tree."""

    relpath: str
    category: str
    source: str
    channel: str
    entry: RawEntry


@dataclass(frozen=True, slots=True)
class Broken:
    """A file that could not be read as a post, and why."""

    relpath: str
    reason: str


def read_tree(root: Path, zone: ZoneInfo, skip: frozenset[str] = frozenset()
              ) -> Iterator[Post | Broken]:
    """Every ``*.md`` under ``root`` (in a stable order) but those in ``skip`` (relpaths)."""
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            if not name.endswith(".md"):
                continue
            path = Path(folder) / name
            relpath = path.relative_to(root).as_posix()
            if relpath not in skip:
                yield read_post(path, relpath, zone)


def read_post(path: Path, relpath: str, zone: ZoneInfo) -> Post | Broken:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        return Broken(relpath, f"cannot read: {e}")
    split = _split(text)
    if split is None:
        return Broken(relpath, "no front matter (--- … ---)")
    head, body = split
    try:
        meta = yaml.load(head, Loader=_Loader)
    except yaml.YAMLError as e:
        return Broken(relpath, f"bad YAML: {_first_line(e)}")
    if not isinstance(meta, dict):
        return Broken(relpath, "the front matter is not a mapping")
    return _post(relpath, meta, body, zone)


def _split(text: str) -> tuple[str, str] | None:
    """(front matter, body); a blank line before the opening ``---`` is allowed."""
    lines = text.lstrip("\r\n\t ").splitlines(keepends=True)
    if not lines or lines[0].rstrip() != "---":
        return None
    for i, line in enumerate(lines[1:], 1):
        if line.rstrip() == "---":
            return "".join(lines[1:i]), "".join(lines[i + 1:])
    return None


def _post(relpath: str, meta: dict[Any, Any], body: str, zone: ZoneInfo) -> Post | Broken:
    title = meta.get("title")
    if not isinstance(title, str) or not title.strip():
        return Broken(relpath, "no title")
    if title.strip().startswith(('"', "'")):
        return Broken(relpath, f"a title wrapped in quotes: {title[:40]!r}")
    names = _names(meta.get("categories"), relpath)
    if names is None:
        return Broken(relpath, "no categories (category, source, channel)")
    published = _date(meta.get("date"), zone)
    if published is None:
        return Broken(relpath, f"no date it can read: {meta.get('date')!r}")
    content, link = _body(body)
    image = meta.get("headimg") or meta.get("thumbnail") or ""
    images = (image,) if isinstance(image, str) and _real_picture(image) else ()
    entry = RawEntry(guid=None, link=link, title=" ".join(title.split()), title_is_html=False,
                     published=published, updated=None, author=None, content_html=content,
                     summary_html=None, images=images)
    return Post(relpath, *names, entry)


def _names(categories: object, relpath: str) -> tuple[str, str, str] | None:
    """(category, source, channel) from the front matter, else from the folders."""
    if isinstance(categories, list) and categories and all(
            isinstance(c, str | int) for c in categories):
        names = [str(c).strip() for c in categories]
    else:
        names = relpath.split("/")[:-1]
        if names and names[0] == "post":  # the older layout: post/<category>/<source>/
            names = names[1:]
    names = [n for n in names if n]
    if len(names) < 2:
        return None
    category, source = names[0], names[1]
    return category, source, names[2] if len(names) > 2 else source


def _date(value: object, zone: ZoneInfo) -> datetime | None:
    """RFC 1123 (``… GMT``: UTC), ISO, or local ``YYYY-MM-DD HH:MM:SS`` in ``zone``."""
    when: datetime | None = None
    if isinstance(value, datetime):  # YAML reads an unquoted timestamp itself
        when = value
    elif isinstance(value, str):
        text = value.strip()
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            try:
                when = datetime.fromisoformat(text)
            except ValueError:
                try:
                    when = datetime.strptime(text, _LOCAL_DATE)
                except ValueError:
                    return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=zone)
    return when.astimezone(UTC)


def _body(body: str) -> tuple[str, str | None]:
    """The article HTML (Hexo's escapes undone, the link to the original taken off) and that
    link."""
    content = body.replace("&#123;", "{").replace("&#125;", "}").strip()
    label = content.rfind("阅读原文")
    anchor = content.rfind("<a", 0, label) if label >= 0 else -1
    if anchor < 0:
        return content, None
    # Matched at the link's own <p> or <a> only: a search from every position costs 20x more.
    for start in (content.rfind("<p", 0, anchor), anchor):
        match = _SOURCE_LINK.match(content, start) if start >= 0 else None
        if match is not None:
            return content[:start].rstrip(), html.unescape(match.group(1))
    return content, None


def _real_picture(url: str) -> bool:
    return url.startswith(("http://", "https://", "//")) and not any(
        p in url for p in _PLACEHOLDERS)


def _first_line(error: yaml.YAMLError) -> str:
    return " ".join(str(error).split("\n")[:2])
