"""Access keys out of everything rsspage stores or shows.

A route on an RSSHub instance with an access key is fetched as ``…/route?code=<md5>`` (or
``?key=<key>``); the URL that answered and any error text go into the store, ``status``, the
site's health page, the OPML and the job summary, so the fetch stage hands them over with these
query values replaced by ``***``. (A ``code`` reveals no key, but it opens that route to anyone
who has it.)
"""

from __future__ import annotations

import re
from collections.abc import Iterable

#: Shorter header values (``1``, ``no``) are no secrets, and masking them would garble text.
_SHORTEST_SECRET = 6
_SECRET_PARAM = re.compile(r"([?&](?:code|key)=)[^&#\s'\"<>]*", re.IGNORECASE)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with the values of ``code=`` and ``key=`` query parameters masked, and any of
    ``secrets`` (a feed's request header values: cookies, tokens) wherever they appear, as a
    server may echo them in an error page."""
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= _SHORTEST_SECRET:
            text = text.replace(secret, "***")
    return _SECRET_PARAM.sub(r"\1***", text)


def carries_key(url: str) -> bool:
    """Whether ``url`` is signed with an access key (``code=`` or ``key=``)."""
    return _SECRET_PARAM.search(url) is not None


_URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)[^@/\s]*(@)")
_PASSWORD_PARAM = re.compile(r"([?&](?:ssl)?password=)[^&#\s]*", re.IGNORECASE)


def redact_url(url: str) -> str:
    """A database URL fit to show: its password (``user:secret@`` or ``password=``) masked."""
    return _PASSWORD_PARAM.sub(r"\1***", _URL_PASSWORD.sub(r"\1***\2", url))
