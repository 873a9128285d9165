"""RSSHub instances: a route's URL on each one, with RSSHub's parameters and signed with the
instance's access key the way RSSHub checks it. Shared by the plan (routes) and the live
catalog (``/api/namespace``, which a keyed instance guards like any route)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from rsspage.config import InstanceConfig


def route_urls(instances: tuple[InstanceConfig, ...], path: str) -> tuple[str, ...]:
    """The route's URL on each instance, signed for those that have an access key."""
    return tuple(instance.url.rstrip("/") + _signed(path, instance) for instance in instances)


def with_params(path: str, params: Sequence[tuple[str, str]]) -> str:
    """``path`` with RSSHub's query parameters added (after any query it has already)."""
    if not params:
        return path
    query = urlencode(params, quote_via=quote, safe="|")  # RSSHub reads | in filters as "or"
    return path + ("&" if "?" in path else "?") + query


def _signed(path: str, instance: InstanceConfig) -> str:
    """``path`` with ``code=md5(path + key)`` (or ``key=``) added; RSSHub hashes the path
    without its query string."""
    if instance.key is None:
        return path
    if instance.sign == "key":
        param = "key=" + quote(instance.key, safe="")
    else:
        bare = path.split("?", 1)[0]
        param = "code=" + hashlib.md5((bare + instance.key).encode("utf-8")).hexdigest()
    return path + ("&" if "?" in path else "?") + param


def without_credentials(url: str) -> str:
    """``url`` without a ``user:password@`` part (an instance URL may carry one): for what
    rsspage prints or keeps."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
