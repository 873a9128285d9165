"""Filter rules: which articles are hidden, decided without I/O (the *decide* stage).

Rules come from the config: the global ``filters:`` and each route's or feed's own. Like
Miniflux's block and keep rules, and in this order:

1. **block**: an article that any block pattern matches is hidden (the feed's patterns and the
   global ones add up; block wins over keep: nothing un-blocks it);
2. **dates**: ``max_age`` hides articles that were older than that when they arrived, ``future``
   those dated after their arrival (or whose date normalise clamped because it was ahead). On
   arrival is when the rules decide in an update; judging by it again on the archive (``filter
   test``) gives the same answer months later, instead of hiding the whole history;
3. **keep**: when keep patterns apply, an article that matches none of them is hidden.

Feed rules come before global ones: a feed's keep patterns, ``max_age`` and ``future`` replace
the global ones (a feed may keep more, or other things, than the rest); ``inherit: false`` makes
a feed ignore the global rules altogether. The verdict names the rule that decided, the feed's
first.

A pattern is a plain word or a regular expression between slashes (``/^\\[广告\\]/i``; ``i``:
ignore case). Every pattern runs on RE2 (google-re2), whose matching time is linear in the text:
a user's pattern such as ``(a+)+$`` cannot hang a run, where Python's ``re`` backtracks for
hours. RE2 has no look-around or backreferences; such a pattern is a config error.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

import re2  # type: ignore[import-untyped]

from rsspage.config_nodes import format_duration
from rsspage.types import Article

#: What a pattern looks at; ``any`` is every one of the others.
FIELDS = ("any", "title", "link", "author", "category", "content")

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # RE2 would print its own copy of the error on stderr
#: A Latin letter, digit or underscore: what a plain word must not touch at its ends.
_WORDISH = "0-9A-Za-z_"
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Pattern:
    """One block or keep pattern, on one field."""

    #: One of :data:`FIELDS`.
    field: str
    #: As the config wrote it (messages, ``filter test``).
    text: str
    #: The compiled RE2 expression (google-re2 has no type hints).
    regex: Any

    def matches(self, article: Article) -> bool:
        return any(self.regex.search(value) for value in field_values(article, self.field))

    def describe(self) -> str:
        return f"{self.field} {self.text}"


def field_values(article: Article, field: str) -> Iterator[str]:
    """The texts of ``article`` a pattern on ``field`` is tried on."""
    if field in ("any", "title"):
        yield article.title
    if field in ("any", "link"):
        yield article.link
    if field in ("any", "author"):
        yield article.author
    if field in ("any", "category"):
        yield from article.tags
    if field in ("any", "content"):
        yield article.text


def compile_pattern(field: str, text: str) -> Pattern:
    """``text`` (a plain word, or ``/regex/`` with an optional ``i`` after it) as a Pattern on
    ``field``; ValueError saying what is wrong with it."""
    if field not in FIELDS:
        raise ValueError(f"unknown field {field!r} (fields: {', '.join(FIELDS)})")
    source = _regex_source(text)
    try:
        return Pattern(field, text, re2.compile(source, _OPTIONS))
    except re2.error as e:
        problem = e.args[0].decode() if e.args and isinstance(e.args[0], bytes) else str(e)
        raise ValueError(f"'{text}' is not a regular expression RE2 accepts: {problem} "
                         "(RE2 has no look-around and no backreferences)") from e


def _regex_source(text: str) -> str:
    if len(text) >= 2 and text.startswith("/") and text.endswith(("/", "/i")):
        flags = "i" if text.endswith("/i") and len(text) > 2 else ""
        body = text[1:-1] if not flags else text[1:-2]
        if not body:
            raise ValueError(f"'{text}' is an empty regular expression")
        return f"(?i){body}" if flags else body
    # A plain word ignores case and matches inside CJK text (no word breaks there), but a
    # Latin word must not match inside another one: "AI" is not in "said".
    lead = f"(?:^|[^{_WORDISH}])" if _is_wordish(text[0]) else ""
    trail = f"(?:$|[^{_WORDISH}])" if _is_wordish(text[-1]) else ""
    return f"(?i){lead}{re2.escape(text)}{trail}"


def _is_wordish(char: str) -> bool:
    return char.isascii() and (char.isalnum() or char == "_")


@dataclass(frozen=True, slots=True)
class Rules:
    """The filter settings of one level: the global ``filters:``, or a feed's own."""

    block: tuple[Pattern, ...] = ()
    keep: tuple[Pattern, ...] = ()
    #: Hide articles older than this when they arrive; None: not set at this level; 0: no limit.
    max_age: timedelta | None = None
    #: Hide articles dated after their arrival; None: not set at this level.
    future: bool | None = None
    #: False: a feed ignores the global rules.
    inherit: bool = True


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether an article is hidden, and which rule said so."""

    hidden: bool
    #: The deciding rule in words ("block title 广告 (feed)"); "" when no rule hid it.
    reason: str = ""


KEPT = Verdict(False)


@dataclass(frozen=True, slots=True)
class FeedRules:
    """The rules that apply to one feed: its own, then the global ones."""

    own: Rules = Rules()
    common: Rules = Rules()

    @property
    def active(self) -> bool:
        """Whether any rule can hide anything (else decide is not worth calling)."""
        levels = self._levels()
        return any(r.block or r.keep or r.max_age or r.future for r, _ in levels)

    def _levels(self) -> list[tuple[Rules, str]]:
        return [(self.own, "feed"), *([(self.common, "global")] if self.own.inherit else [])]

    def decide(self, article: Article, now: datetime) -> Verdict:
        """The verdict on ``article`` at ``now`` (see the module docstring for the order)."""
        levels = self._levels()
        for rules, level in levels:
            if (found := _first_match(rules.block, article)) is not None:
                return Verdict(True, f"block {found.describe()} ({level})")
        date = self._date_verdict(article, now)
        if date.hidden:
            return date
        for rules, level in levels:
            if rules.keep:  # the first level with keep patterns decides alone
                if _first_match(rules.keep, article) is None:
                    return Verdict(True, f"keep ({level}): matches none of "
                                         f"{', '.join(p.describe() for p in rules.keep)}")
                return KEPT
        return KEPT

    def _date_verdict(self, article: Article, now: datetime) -> Verdict:
        arrived = article.first_seen or now  # a stored article: when it arrived (docstring)
        max_age = _first_set(r.max_age for r, _ in self._levels())
        if max_age and article.published < arrived - max_age:
            return Verdict(True, f"max_age {format_duration(max_age)}")
        future = _first_set(r.future for r, _ in self._levels())
        if future and (article.date_clamped or article.published > arrived):
            return Verdict(True, "future")
        return KEPT


def _first_match(patterns: Iterable[Pattern], article: Article) -> Pattern | None:
    return next((p for p in patterns if p.matches(article)), None)


def _first_set(values: Iterable[T | None]) -> T | None:
    return next((v for v in values if v is not None), None)


def hidden_ids(rules: FeedRules, articles: Iterable[Article], now: datetime) -> frozenset[str]:
    """The ids of ``articles`` the rules hide at ``now``."""
    if not rules.active:
        return frozenset()
    return frozenset(a.id for a in articles if rules.decide(a, now).hidden)
