"""How a Hexo post's ``date`` is written, and the blog's zone it is written in.

Hexo 8 reads no front-matter date as the instant it names. hexo-front-matter takes a
YAML timestamp's UTC fields as a wall-clock time (its offset, ``Z`` or ``+08:00``, is dropped);
a string (the seed's ``Thu, 21 Jul 2022 17:22:55 GMT``) is read as an instant; then, when the
site's ``_config.yml`` sets a ``timezone``, Hexo moves either by the difference between the
machine's zone and that one. So the seed's text is right only on a machine in the blog's zone
(or for a blog without ``timezone``): on a UTC runner a ``timezone: Asia/Shanghai`` blog got
every post 8 hours early. The one form Hexo reads right on any machine is the wall-clock time in
the blog's zone, unquoted (``2022-07-22 01:22:55``, what ``hexo new`` writes). :class:`DateForm`
writes that; ``output.hexo_date`` chooses the zone: ``auto`` (the ``timezone`` of the Hexo site
whose ``source/_posts`` holds the posts, the seed's text when it sets none or there is no such
site), an IANA zone, or ``gmt`` for the seed's text always (byte-identical posts).
Hexo takes the zone's offset at the wall-clock time read as UTC, so in a zone with summer time
the few hours after a change (as many as the zone is off UTC) read one hour off (New York: a
post at 03:30 EDT on the day summer time starts shows at 04:30), as any date typed by hand.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import yaml

#: ``output.hexo_date`` values besides an IANA zone: the zone of the Hexo site's _config.yml, or
#: the seed's RFC 1123 text whatever the blog.
AUTO_DATES, SEED_DATES_SETTING = "auto", "gmt"


@dataclass(frozen=True, slots=True)
class DateForm:
    """How a post's ``date`` is written (see "Dates" in the module docstring)."""

    #: The blog's IANA zone: the date is written as the wall-clock time there
    #: (``2022-07-22 01:22:55``); None: the seed's ``Thu, 21 Jul 2022 17:22:55 GMT``.
    zone: str | None = None

    def text(self, when: datetime) -> str:
        if when.tzinfo is None:  # Article promises aware UTC; never guess another zone
            when = when.replace(tzinfo=UTC)
        if self.zone is None:
            return format_datetime(when.astimezone(UTC), usegmt=True)
        wall = when.astimezone(zoneinfo.ZoneInfo(self.zone)).replace(tzinfo=None)
        return wall.isoformat(sep=" ", timespec="seconds")  # Hexo's own form (`hexo new`)


SEED_DATES = DateForm()


def date_form(setting: str, posts: Path) -> DateForm:
    """The form of ``output.hexo_date`` (``auto``, ``gmt`` or a zone) for posts in ``posts``."""
    if setting == SEED_DATES_SETTING:
        return SEED_DATES
    if setting != AUTO_DATES:
        return DateForm(setting)
    return DateForm(blog_zone(posts))


def blog_zone(posts: Path) -> str | None:
    """The ``timezone`` of the Hexo site whose posts folder holds ``posts``; None when it sets
    none (Hexo then takes the machine's), names one Hexo cannot use, or no site is found."""
    posts = posts.absolute()
    for folder in posts.parents:
        config = _site_config(folder / "_config.yml")
        if config is None:
            continue
        source = config.get("source_dir") or "source"
        # Another tool's _config.yml (Jekyll's) above a folder that is no Hexo site's: go on.
        if isinstance(source, str) and posts.is_relative_to(folder / source / "_posts"):
            return _known_zone(config.get("timezone"))
    return None


def _site_config(path: Path) -> dict[object, object] | None:
    try:
        loaded: object = yaml.safe_load(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    return loaded if isinstance(loaded, dict) else None


def _known_zone(value: object) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        zoneinfo.ZoneInfo(value.strip())
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None
    return value.strip()
