"""RSSHub Radar's rules: from the address of a web page to the RSSHub routes for it.

A rule (``Route.radar``) says that pages at ``source`` (``github.com/:user/:repo``) have the
feed ``target`` (``/github/repos/:user``). Matching follows RSSHub Radar, the browser extension:

- **Site.** The page and the source must be on the same site: the same registrable domain (by
  the Public Suffix List's ICANN section, as RSSHub's build groups its rules with tldts) and the
  same subdomain, ``www`` and none being one (``www.bilibili.com`` is ``bilibili.com``;
  ``space.bilibili.com`` is another site). The real rules have no ``*`` subdomain wildcard.
- **Path.** ``:name`` matches one segment, ``:name?`` an optional one, ``*name`` the rest of
  the path; a trailing slash is ignored. Trailing ``:params`` may be missing (``/:user/:repo``
  also matches ``/DIYgod``), as Radar allows, because rule authors rarely mark them optional.
- **Target.** Each ``:param`` of the target is filled from the captured ones; a missing
  optional one (``:type?``) drops it and everything after it; a missing required one means the
  rule offers nothing for this page.

Beyond Radar, which reads only the path: a source's query (``details?id=:id``) must be in the
page's query and its fragment (``m.21jingji.com/#/channel/x``) must match the page's, since
some sites are told apart only there; parameters inside a segment (``:id.html``, ``pa-:pa``)
are captured too; literal text is compared percent-decoded; ``https://`` before a source and a
host-less source (``/legal-updates``, on the rule's first host) are tolerated.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import string
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qs, quote, unquote, urlsplit

from publicsuffixlist import PublicSuffixList

from rsspage.catalog.match import normalise_pattern, split_segments
from rsspage.types import RadarRule, Route

__all__ = ["RadarMatch", "fill_target", "match_source", "match_url", "site_of"]

#: ASCII a filled parameter keeps as it is: RFC 3986's ``pchar`` and ``/``. Letters of other
#: scripts are kept too (``/aibase/topic/人工智能``: readable in rsspage.yml, and the HTTP
#: client encodes them on the way out); everything else is percent-encoded.
_PCHAR = frozenset(string.ascii_letters + string.digits + "-._~!$&'()*+,;=:@/")
#: A segment that is one parameter: ``:name``, ``:name{re}?``, ``*name``, ``*``.
_WHOLE = re.compile(r"([:*])([A-Za-z0-9_]*)(\{.*\}|\(.*\))?([?*+]?)")
#: A parameter or wildcard inside a segment (``index_:id.html``, ``*.html``).
_INLINE = re.compile(r":([A-Za-z0-9_]+)(\{[^{}]*\}|\([^()]*\))?([?*+]?)|\*")
#: A last segment that Radar also tries without (``/:user/:repo`` → ``/:user`` → ``""``).
_TRAILING_PARAM = re.compile(r"/:\w+\??$")
#: The ``?`` that starts a query, not one that marks a parameter optional (``:type?``).
_QUERY_START = re.compile(r"\?(?=[^/]*=)")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class RadarMatch:
    """A route a rule offers for a page."""

    #: The route's path for this page, parameters filled (``/github/repos/DIYgod``).
    path: str
    #: The rule that offered it.
    rule: RadarRule
    #: The catalog route that carries the rule (its names describe the offer).
    route: Route


@dataclass(frozen=True, slots=True)
class _Page:
    """The parts of a page's URL that rules look at, decoded."""

    site: tuple[str, str]
    path: str
    query: Mapping[str, list[str]]
    fragment: str


@dataclass(frozen=True, slots=True)
class _Source:
    """One source of a rule, split: ``host/path?query#fragment``."""

    host: str
    path: str
    query: tuple[tuple[str, str], ...]
    fragment: str | None


def match_url(url: str, routes: Iterable[Route]) -> list[RadarMatch]:
    """Every route the rules of ``routes`` offer for the page at ``url``, one per path, in
    catalog order."""
    page = _page(url)
    if page is None:
        return []
    found: dict[str, RadarMatch] = {}
    for route in routes:
        for rule in route.radar:
            for params in _rule_captures(rule, page):
                path = fill_target(rule.target, params)
                # One route, whether a rule wrote it encoded or not (%E4%BA%BA or 人).
                if path is not None and unquote(path) not in found:
                    found[unquote(path)] = RadarMatch(path, rule, route)
    return list(found.values())


def site_of(host: str) -> tuple[str, str] | None:
    """``(registrable domain, subdomain)`` of a host name, ``www`` counting as no subdomain;
    None for an IP address or a name without a registrable domain (``localhost``)."""
    host = host.strip().rstrip(".").lower()
    if not host or _is_ip(host):
        return None
    domain = _suffixes().privatesuffix(host)
    if domain is None:
        return None
    subdomain = host[: -len(domain)].rstrip(".")
    return domain, "" if subdomain == "www" else subdomain


def match_source(source: str, url: str) -> dict[str, str] | None:
    """The parameters one source (``github.com/:user/:repo``) captures from ``url``, or None
    when it does not match that page."""
    page = _page(url)
    split = _split_source(source, "")
    if page is None or split is None or site_of(split.host) != page.site:
        return None
    return _captures(split, page)


def fill_target(target: str, params: Mapping[str, str]) -> str | None:
    """``target`` with its ``:params`` filled, or None when a required one was not captured."""
    out: list[str] = []
    for segment in split_segments(normalise_pattern(target)):
        whole = _WHOLE.fullmatch(segment)
        if whole is None:
            filled = _fill_inline(segment, params)
            if filled is None:
                return None
            out.append(filled)
            continue
        kind, name, _, modifier = whole.groups()
        if params.get(name):
            out.append(_quote(params[name]))
        elif modifier in ("?", "*") or (kind == "*" and not name):
            break  # a missing optional parameter: the ones after it cannot be given either
        else:
            return None
    return "/" + "/".join(out)


def _fill_inline(segment: str, params: Mapping[str, str]) -> str | None:
    missing = False

    def value(m: re.Match[str]) -> str:
        nonlocal missing
        got = params.get(m.group(1) or "")
        missing = missing or not got
        return _quote(got or "")

    filled = _INLINE.sub(value, segment)
    return None if missing else filled


def _quote(value: str) -> str:
    return "".join(c if _keeps(c) else quote(c, safe="") for c in value)


def _keeps(c: str) -> bool:
    # Not controls, format characters (bidi overrides) or spaces: they would hide in a table.
    return c in _PCHAR or (ord(c) > 127 and unicodedata.category(c)[0] not in "CZ")


@functools.cache
def _suffixes() -> PublicSuffixList:
    # The list bundled with the package (it never fetches one). ICANN section only, as tldts
    # reads it by default: on github.io, user.github.io is a subdomain of github.io for Radar.
    return PublicSuffixList(only_icann=True)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _page(url: str) -> _Page | None:
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
    except ValueError:  # a malformed port or IPv6 address
        return None
    site = site_of(host)
    if site is None:
        return None
    return _Page(site, _tidy(unquote(parts.path)), parse_qs(parts.query, keep_blank_values=True),
                 _tidy(unquote(parts.fragment)))


def _rule_captures(rule: RadarRule, page: _Page) -> Iterator[dict[str, str]]:
    """What each source of ``rule`` on the page's site captures from it."""
    domain = page.site[0]
    default_host = ""
    for text in rule.source:
        source = _split_source(text, default_host)
        if source is None:
            continue
        default_host = default_host or source.host
        # Most rules are for other sites: a suffix test is enough to pass them by.
        if not (source.host == domain or source.host.endswith("." + domain)):
            continue
        if site_of(source.host) != page.site:
            continue
        params = _captures(source, page)
        if params is not None:
            yield params


def _split_source(text: str, default_host: str) -> _Source | None:
    text = _SCHEME.sub("", text.strip())  # a few rules are written as full URLs
    if text.startswith("/"):
        host, rest = default_host, text
    else:
        host, slash, rest = text.partition("/")
        rest = slash + rest
    host = host.split(":", 1)[0].lower()  # a port does not make another site
    if host.endswith("*"):  # ``mrdx.cn*``: anything on the site
        host, rest = host.rstrip("*"), rest or "/*"
    if not host:
        return None
    rest, hash_mark, fragment = rest.partition("#")
    start = _QUERY_START.search(rest)
    path, query = (rest[: start.start()], rest[start.end() :]) if start else (rest, "")
    pairs = tuple((key, value) for key, _, value in (p.partition("=") for p in query.split("&"))
                  if key)
    return _Source(host, path, pairs, fragment if hash_mark else None)


def _captures(source: _Source, page: _Page) -> dict[str, str] | None:
    params = _query_captures(source.query, page.query)
    if params is None:
        return None
    if source.fragment is not None:
        in_fragment = _path_captures(_tidy(source.fragment), page.fragment)
        if in_fragment is None:
            return None
        params.update(in_fragment)
    for variant in _variants(_tidy(source.path)):
        in_path = _path_captures(variant, page.path)
        if in_path is not None:
            return {**in_path, **params}
    return None


def _query_captures(wanted: Iterable[tuple[str, str]], given: Mapping[str, list[str]]
                    ) -> dict[str, str] | None:
    params: dict[str, str] = {}
    for key, value in wanted:
        values = given.get(unquote(key))
        if not values:
            return None
        if (param := re.fullmatch(r":([A-Za-z0-9_]+)\??", value)) is not None:
            params[param.group(1)] = values[0]
        elif value != "*" and unquote(value) not in values:
            return None
    return params


def _variants(path: str) -> Iterator[str]:
    """The path, then without each trailing ``/:param`` in turn (Radar's partial match)."""
    yield path
    while (tail := _TRAILING_PARAM.search(path)) is not None:
        path = path[: tail.start()]
        yield path


def _path_captures(pattern: str, path: str) -> dict[str, str] | None:
    regex, names = _compiled(pattern)
    m = regex.fullmatch(path)
    if m is None:
        return None
    return {names[int(group[1:])]: value for group, value in m.groupdict().items()
            if value and names[int(group[1:])]}


@functools.lru_cache(maxsize=4096)
def _compiled(pattern: str) -> tuple[re.Pattern[str], tuple[str, ...]]:
    """A source path as a regex whose group ``pN`` captures the parameter ``names[N]``."""
    names: list[str] = []
    text = "".join(_segment(seg, names) for seg in split_segments(pattern)) if pattern else ""
    try:
        return re.compile(text), tuple(names)
    except re.error:  # written for JavaScript; such a rule matches nothing here
        return re.compile(r"(?!)"), ()


def _segment(segment: str, names: list[str]) -> str:
    whole = _WHOLE.fullmatch(segment)
    if whole is None or (whole.group(1) == ":" and not whole.group(2)):
        return "/" + _inline(segment, names)
    kind, name, body, modifier = whole.groups()
    names.append(name)
    group = f"?P<p{len(names) - 1}>"
    if kind == "*":
        return f"/({group}.+)"  # the rest of the path, as route-recognizer's star
    if body is not None:
        inner = _checked(body[1:-1])
    else:
        inner = "[^/]+(?:/[^/]+)*" if modifier in ("+", "*") else "[^/]+"
    regex = f"/({group}{inner})"
    return f"(?:{regex})?" if modifier in ("?", "*") else regex


def _inline(segment: str, names: list[str]) -> str:
    parts: list[str] = []
    pos = 0
    for m in _INLINE.finditer(segment):
        parts.append(re.escape(unquote(segment[pos : m.start()])))
        pos = m.end()
        if m.group(0) == "*":
            parts.append(".*")
            continue
        names.append(m.group(1))
        inner = _checked(m.group(2)[1:-1]) if m.group(2) else "[^/]+?"
        optional = "?" if m.group(3) in ("?", "*") else ""
        parts.append(f"(?P<p{len(names) - 1}>{inner}){optional}")
    parts.append(re.escape(unquote(segment[pos:])))
    return "".join(parts)


def _checked(body: str) -> str:
    """A parameter's own regex, when Python reads it; else one segment."""
    try:
        re.compile(body)
    except re.error:
        return "[^/]+"
    return body


def _tidy(path: str) -> str:
    """``/a/b`` for ``a/b/``; ``""`` for the root, as Radar strips the trailing slash."""
    path = path.strip()
    return ("/" + path.strip("/")).rstrip("/") if path.strip("/") else ""
