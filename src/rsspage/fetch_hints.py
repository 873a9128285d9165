"""What a server said about when to come back, read from its response headers.

``Cache-Control: max-age`` (else ``Expires`` minus ``Date``) says how long a feed stays fresh;
``Retry-After`` (seconds or an HTTP date) how long a busy server wants us away. The fetch stage
passes both on as :class:`~rsspage.types.ServerHints`; schedule.py decides what they are worth.
RSS ``<ttl>`` is in the body, so the parser reads that one.

Pure functions of the headers; ``now`` (a POSIX timestamp) defaults to the clock.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime

__all__ = ["fresh_for", "http_date", "retry_after"]


def fresh_for(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds the response stays fresh: ``Cache-Control: max-age``, else ``Expires - Date``.

    ``headers`` has lower-case names. ``no-cache`` / ``no-store`` promise nothing (None); a stale
    or unreadable Expires means 0; without a Date, Expires counts from ``now``.
    """
    directives = [d.strip().lower() for d in headers.get("cache-control", "").split(",")]
    if "no-cache" in directives or "no-store" in directives:
        return None
    for directive in directives:
        name, _, value = directive.partition("=")
        if name.strip() == "max-age" and value.strip().strip('"').isdigit():
            return float(value.strip().strip('"'))
    if "expires" not in headers:
        return None
    expires = http_date(headers["expires"])
    date = http_date(headers.get("date", "")) or (time.time() if now is None else now)
    return max(0.0, expires - date) if expires is not None else 0.0


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delay-seconds or HTTP-date); None if unusable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    when = http_date(value)
    if when is None:
        return None
    return max(0.0, when - (time.time() if now is None else now))


def http_date(value: str) -> float | None:
    """An HTTP date as a POSIX timestamp; None when unreadable or without a zone ("-0000")."""
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return when.timestamp() if when.tzinfo is not None else None
