"""Reading a server's hints from its headers: Cache-Control max-age, Expires minus Date,
Retry-After in seconds or as an HTTP date. Pure functions; ``now`` is given, never the clock.
"""

from __future__ import annotations

from email.utils import formatdate

import pytest

from rsspage.fetch_hints import fresh_for, http_date, retry_after

NOW = 1_800_000_000.0  # 2027-01-15


def date(offset: float) -> str:
    return formatdate(NOW + offset, usegmt=True)


@pytest.mark.parametrize(("headers", "seconds"), [
    ({"cache-control": "max-age=7200"}, 7200),
    ({"cache-control": 'public, Max-Age="600"'}, 600),
    ({"cache-control": "max-age=60", "expires": date(3600)}, 60),  # max-age wins
    ({"expires": date(3 * 3600), "date": date(0)}, 3 * 3600),
    ({"expires": date(3600)}, 3600),  # no Date: counted from now
    ({"expires": date(7200), "date": date(3600)}, 3600),  # from the server's Date, not ours
    ({"expires": date(-60), "date": date(0)}, 0),  # stale
    ({"expires": "0"}, 0),  # unreadable: already expired, as HTTP says
    ({"cache-control": "no-cache", "expires": date(3600)}, None),
    ({"cache-control": "no-store, max-age=600"}, None),
    ({"cache-control": "max-age=soon"}, None),
    ({}, None),
])
def test_fresh_for(headers: dict[str, str], seconds: float | None) -> None:
    assert fresh_for(headers, now=NOW) == seconds


@pytest.mark.parametrize(("value", "seconds"), [
    ("120", 120),
    (" 36000 ", 36000),
    (date(90), 90),
    (date(-90), 0),  # in the past: at once
    ("Thu, 01 Jan 2026 00:00:00 -0000", None),  # no zone: not an HTTP date
    ("-5", None),
    ("later", None),
    ("", None),
    (None, None),
])
def test_retry_after(value: str | None, seconds: float | None) -> None:
    found = retry_after(value, now=NOW)
    assert found == (pytest.approx(seconds) if seconds is not None else None)


def test_http_date() -> None:
    assert http_date(date(0)) == NOW
    assert http_date("not a date") is None
