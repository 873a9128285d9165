"""Dates as feeds write them → aware UTC datetimes.

The two everyday forms are read here directly; the forms feedparser misreads (Chinese dates,
dates without a zone, Unix times) by _wild_date; everything else by feedparser's own parser.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any

from feedparser.datetimes import _parse_date as _feedparser_parse_date

__all__ = ["naive_dates_in", "parse_date", "struct_to_datetime"]

#: The zone of dates that carry none, for the feed being parsed (its ``timezone`` setting).
#: A context variable rather than a parameter: every parser path (fast XML, JSON Feed,
#: feedparser) reads dates through parse_date, and the setting is the pipeline's, not theirs.
_NAIVE_ZONE: ContextVar[tzinfo | None] = ContextVar("naive_zone", default=None)


@contextmanager
def naive_dates_in(zone: tzinfo | None) -> Iterator[None]:
    """Dates parsed inside read as ``zone`` when they carry no zone (None: the defaults)."""
    token = _NAIVE_ZONE.set(zone)
    try:
        yield
    finally:
        _NAIVE_ZONE.reset(token)


#: The end of a date that names its zone: Z, GMT/UTC/UT, ±hh:mm or ±hhmm, or a zone word (EST).
_ENDS_WITH_ZONE = re.compile(r"(?:[zZ]|GMT|UTC?|[+-]\d{1,2}(?::?\d{2})?|[A-Z]{3,4})\s*$")

_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTHS = {m.lower(): i for i, m in enumerate(_MONTH_NAMES, 1)}
_RFC822 = re.compile(
    r"(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*,?\s+)?(\d{1,2})\s+([a-z]{3})\s+(\d{4})\s+"
    r"(\d{2}):(\d{2})(?::(\d{2}))?\s+(?:gmt|utc?|z|([+-])(\d{2})(\d{2}))",
    re.IGNORECASE,
)
_ISO8601 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?"
    r"(?:[Zz]|([+-])(\d{2}):(\d{2}))"
)


#: No date in any form is longer; longer text is no date (and costs feedparser's parsers time).
_LONGEST_DATE = 200


def parse_date(value: str | None) -> datetime | None:
    """An aware UTC datetime for a feed date, as feedparser's date parser reads it, and more.

    The two everyday forms (RFC 822 with a numeric or GMT zone, ISO 8601 with Z or ±hh:mm) are
    read here, ~30× faster; so are the forms feedparser misreads (see _wild_date). Everything
    else goes to feedparser's own parser, and what it cannot read either to _loose_rfc822.
    """
    if not value or len(value) > _LONGEST_DATE:
        return None
    match = _RFC822.fullmatch(value) or _ISO8601.fullmatch(value)
    if match is not None:
        try:
            return _date_from_match(match)
        except (ValueError, OverflowError):
            pass  # impossible dates: feedparser's other handlers may still read something
    value = value.strip()
    zone = _NAIVE_ZONE.get()
    wild = _wild_date(value, zone)
    if wild is not _NOT_WILD:
        return wild
    parsed = struct_to_datetime(_feedparser_parse_date(value))
    if parsed is None:
        return _loose_rfc822(value, zone or UTC)
    if zone is not None and _ENDS_WITH_ZONE.search(value) is None:
        # feedparser read the wall-clock time as UTC: it was that time in the feed's zone.
        return parsed.replace(tzinfo=zone).astimezone(UTC)
    return parsed


# Dates as Chinese sites and odd generators write them. feedparser reads none of these right:
# "2022年07月21日 17:22" and "2022/07/21" become the first of the *current* month of 2022, Unix
# times the year 1659, Chinese month names nothing. Without a zone, dates written with Chinese
# characters are China time (UTC+8: the sites that write them are there); others are UTC, as
# feedparser takes ISO 8601 dates without a zone.
_CHINA = timezone(timedelta(hours=8))
_NOT_WILD = datetime.min  # a sentinel: not one of the wild forms, ask feedparser
_CJK_DATE_CHARACTER = re.compile("[年月日时時分秒星期周]")
_CN_MONTH = re.compile(r"(十[一二]?|[一二三四五六七八九])月|(\d{1,2})月")
_CN_WEEKDAY = re.compile("(?:星期|周|週|禮拜|礼拜)[一二三四五六日天],?")
_CN_NUMERALS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_ZONE = r"\s*(?:([zZ]|GMT|UTC|UT)?\s*(?:([+-])(\d{1,2})(?::?(\d{2}))?)?)"
_NUMERIC_DATE = re.compile(
    r"(\d{4})\s*[./年]\s*(\d{1,2})\s*[./月]\s*(\d{1,2})\s*日?"
    r"(?:(?:\s*|[Tt])(\d{1,2})\s*[:：时時点點]\s*(\d{1,2})\s*分?"
    r"(?:\s*[:：]?\s*(\d{1,2})(?:\.\d+)?\s*秒?)?)?" + _ZONE
)
# A year followed by anything but ISO 8601's "-": feedparser would make up the rest.
_YEAR_THEN_OTHER = re.compile(r"\d{4}(?:\s*[./年]|\s+\d)")
_UNIX_TIME = re.compile(r"(\d{9,10})(?:\.\d+)?|(\d{12,13})")
_LOOSE_RFC822 = re.compile(
    r"(?:[a-z]+\.?,?\s*)?(\d{1,2})\s+([a-z]{3})[a-z]*\.?,?\s+(\d{4}),?\s+"
    r"(\d{1,2}):(\d{2})(?::(\d{2}))?" + _ZONE,
    re.IGNORECASE,
)


def _wild_date(value: str, zone: tzinfo | None = None) -> datetime | None:
    """The date of one of the forms feedparser misreads; _NOT_WILD for any other form."""
    unix = _UNIX_TIME.fullmatch(value)
    if unix is not None:
        seconds, millis = unix.groups()
        return datetime.fromtimestamp(int(seconds) if seconds else int(millis) / 1000, UTC)
    chinese = _CJK_DATE_CHARACTER.search(value) is not None
    if not chinese and not _YEAR_THEN_OTHER.match(value):
        return _NOT_WILD
    default = zone or (_CHINA if chinese else UTC)
    numeric = _NUMERIC_DATE.fullmatch(value)
    if numeric is not None:
        year, month, day, hour, minute, second = numeric.groups()[:6]
        return _aware(
            (year, month, day, hour or 0, minute or 0, second or 0), numeric.groups()[6:], default
        )
    if chinese:
        english = _CN_MONTH.sub(_english_month, _CN_WEEKDAY.sub("", value)).strip(" ,")
        return _loose_rfc822(english, default)
    return None


def _english_month(match: re.Match[str]) -> str:
    chinese, digits = match.groups()
    if digits:
        number = int(digits)
    elif chinese.startswith("十"):  # 十月, 十一月, 十二月
        number = 10 + _CN_NUMERALS.get(chinese[1:], 0)
    else:
        number = _CN_NUMERALS[chinese]
    return f" {_MONTH_NAMES[number - 1]} " if 1 <= number <= 12 else match.group(0)


def _loose_rfc822(value: str, default: tzinfo) -> datetime | None:
    """RFC 822 without a zone or with "GMT+8": forms feedparser gives up on."""
    match = _LOOSE_RFC822.fullmatch(value)
    if match is None:
        return None
    day, mon, year, hour, minute, second = match.groups()[:6]
    month = _MONTHS.get(mon.lower())
    if month is None:
        return None
    return _aware((year, month, day, hour, minute, second or 0), match.groups()[6:], default)


def _aware(
    fields: tuple[str | int, ...], zone: tuple[str | None, ...], default: tzinfo
) -> datetime | None:
    """A UTC datetime from (year … second) and a _ZONE match; None if impossible."""
    name, sign, hours, minutes = zone
    try:
        if sign is not None:
            offset = timedelta(hours=int(hours or 0), minutes=int(minutes or 0))
            tz: tzinfo = timezone(-offset if sign == "-" else offset)
        else:
            tz = UTC if name else default
        year, month, day, hour, minute, second = (int(f) for f in fields)
        return datetime(year, month, day, hour, minute, second, tzinfo=tz).astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _date_from_match(match: re.Match[str]) -> datetime:
    if match.re is _RFC822:
        day, mon, year, hour, minute, second, sign, tzh, tzm = match.groups()
        month = _MONTHS.get(mon.lower())
        if month is None:
            raise ValueError(mon)
    else:
        year, mon, day, hour, minute, second, sign, tzh, tzm = match.groups()
        month = int(mon)
    stamp = datetime(
        int(year), month, int(day), int(hour), int(minute), int(second or 0), tzinfo=UTC
    )
    if sign is None:  # GMT, UTC, Z
        return stamp
    offset = timedelta(hours=int(tzh), minutes=int(tzm))
    return stamp + offset if sign == "-" else stamp - offset



def struct_to_datetime(value: Any) -> datetime | None:
    """A UTC time.struct_time (what feedparser gives) as an aware datetime."""
    if value is None:
        return None
    try:
        year, month, day, hour, minute, second = value[:6]
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except (TypeError, ValueError):
        return None
