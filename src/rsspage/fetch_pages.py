"""Web pages of articles (full text), fetched through the fetch stage's machinery.

The same clients, global and per-host slots, timeouts, size cap, decompression and redirect
handling as feeds (:mod:`rsspage.fetch`): a page is fetched as a one-URL feed expecting a
``page``. On top of that:

Public addresses only. A feed names the pages fetched, and what they give is published: a
hostile feed must not make rsspage read 127.0.0.1, the LAN or a cloud's metadata address
(169.254.169.254). A page of a feed whose own host is public is fetched only from public
addresses (``ipaddress``'s ``is_global``), which :func:`page_refusal` decides. It is checked
before the page (and its robots.txt) is asked for, for each redirect's target, and again when a
connection is opened: those clients connect through :class:`_PublicOnly`, which resolves the
host, checks every address, and connects to the checked one (a name that resolves to a public
address when checked and to a private one when connected cannot slip through; TLS still names
the host). A feed on a host that is itself not public (a test server, the demo, a LAN service)
may have its pages there too; its pages are fetched over clients of their own.

robots.txt: fetched once per origin per run (the first page of an origin waits for it, the
others share that answer) and obeyed for the user agent the page would be fetched with, for the
page and for each origin it redirects to. Its rules are read as RFC 9309 says (Protego: the
longest match wins, ``*`` and ``$``), from its first 500 KiB. What an answer means (RFC 9309,
section 2.3.1):

    2xx        its rules (an empty file: everything allowed); one the fetch rejects (too
               large, a bot check, undecodable): everything disallowed
    4xx        no rules: everything allowed ("unavailable")
    otherwise  5xx, timeout, connection failure: everything disallowed ("unreachable")

A page refused by robots.txt, or not on a public address, is never requested. Every page ends as
a :class:`PageResult`; nothing raises out of :func:`fetch_pages`.

Pages are fetched once, when their article is new, so there are no validators to send: a
conditional GET has nothing to ask. robots.txt is asked afresh on each run (and then held for the
run), which is what its own caching rules (24 hours at most) allow without keeping its text.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
from collections.abc import Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

import httpcore
from protego import Protego

from rsspage.fetch import (  # one HTTP stack for all fetching
    Clients,
    Fetcher,
    FetchOptions,
    HostGate,
)
from rsspage.fetch_failures import Failure
from rsspage.types import FeedSpec, FeedState, FetchResult, FetchStatus

__all__ = ["PAGE_MAX_BYTES", "PageRequest", "PageResult", "fetch_pages", "is_public",
           "page_options", "page_refusal"]

log = logging.getLogger("rsspage")

#: Largest article page read (when ``fetch.max_bytes`` is larger): a news page is ~100 KB to
#: 2 MB of HTML, and extraction time grows with the page.
PAGE_MAX_BYTES = 5 * 1024 * 1024
#: Retries of a page at most: the page is an extra, the summary is kept without it.
_PAGE_RETRIES = 1
#: The whole pass takes at most this many times what one page may take (its attempts): pages
#: queued behind a slow host's few slots are given up, not waited for without end.
_PASS_PAGES = 4
#: How much of a robots.txt is read (RFC 9309 section 2.5: at least 500 KiB).
ROBOTS_MAX_BYTES = 500 * 1024
#: Seconds a host name may take to resolve when deciding whether it is public.
_RESOLVE_SECONDS = 5.0
_ALLOW_ALL = ""
_DISALLOW_ALL = "User-agent: *\nDisallow: /\n"


@dataclass(frozen=True, slots=True)
class PageRequest:
    """One page to fetch, with what its feed sends (its own host only: see fulltext.py)."""

    url: str
    user_agent: str | None = None
    #: Request headers (name, value); may hold cookies: never shown.
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    #: The URL of the feed that links to the page: on a public host, the page must be too.
    feed_url: str = ""


@dataclass(frozen=True, slots=True)
class PageResult:
    """A fetched page (``error`` None) or why there is none."""

    url: str
    #: The URL that answered, after redirects (what relative links in the page are against).
    final_url: str
    content: bytes = field(default=b"", repr=False)
    #: Response headers, lower-case names.
    headers: Mapping[str, str] = field(default_factory=dict)
    error: str | None = None
    #: True when robots.txt disallows the page, or its address is not public (then it was not
    #: requested).
    refused: bool = False


def page_options(options: FetchOptions) -> FetchOptions:
    """The fetch options for pages: expecting a web page, fewer retries, a smaller cap."""
    return replace(options, expect="page", retries=min(options.retries, _PAGE_RETRIES),
                   max_bytes=min(options.max_bytes, PAGE_MAX_BYTES))


def fetch_pages(requests: Sequence[PageRequest], options: FetchOptions,
                gate: HostGate | None = None) -> list[PageResult]:
    """Fetch every page concurrently (robots.txt first, per origin); results in the order of
    ``requests``. ``options`` are used as given (see :func:`page_options`); ``gate``: the
    hosts' limits shared with other fetch workers. Not callable from a running loop."""
    if not requests:
        return []
    return asyncio.run(_fetch_all(requests, options, gate))


async def _fetch_all(requests: Sequence[PageRequest], options: FetchOptions,
                     gate: HostGate | None) -> list[PageResult]:
    budget = _PASS_PAGES * options.timeout * (options.retries + 1)
    deadline = asyncio.get_running_loop().time() + budget
    # Two sets of clients: those of pages that must be on public addresses connect through
    # _PublicOnly; a kept-alive connection of the others (to 127.0.0.1, say) is never theirs.
    async with Clients(options, _PublicOnly()) as public, Clients(options) as local, \
            contextlib.AsyncExitStack() as stack:
        shared = await stack.enter_async_context(gate) if gate is not None else None
        ways = {public_only: _Way(Fetcher(clients, options, shared), options.user_agent,
                                  public_only)
                for public_only, clients in ((True, public), (False, local))}
        hosts = _FeedHosts()
        pages = (_in_time(_safe(ways, hosts, r), r.url, deadline, budget) for r in requests)
        return list(await asyncio.gather(*pages))


class _Way:
    """How the pages of feeds on public hosts (or of the others) are fetched: their clients,
    their origins' robots.txt and whether every address must be public."""

    def __init__(self, fetcher: Fetcher, agent: str, public_only: bool) -> None:
        self.fetcher = fetcher
        self.robots = _Robots(fetcher, agent)
        self.public_only = public_only

    async def refusal(self, url: str, agent: str) -> str | None:
        """Why ``url`` (a page, or where a page redirects) is not fetched, or None."""
        if self.public_only and (why := await _address_refusal(url)) is not None:
            return why
        if not await self.robots.allows(url, agent):
            return "disallowed by robots.txt"
        return None


async def _in_time(page: Coroutine[Any, Any, PageResult], url: str, deadline: float,
                   budget: float) -> PageResult:
    try:
        async with asyncio.timeout_at(deadline):
            return await page
    except TimeoutError:
        return PageResult(url, url, error=f"not fetched within the run's {budget:g} s for pages")


async def _safe(ways: Mapping[bool, _Way], hosts: _FeedHosts,
                request: PageRequest) -> PageResult:
    """The page, or why there is none: an unforeseen error (a link no parser takes, a bug)
    costs this page only, not the pass."""
    try:
        return await _page(ways, hosts, request)
    except Exception as e:
        log.exception("full text: fetching %s", request.url)
        return PageResult(request.url, request.url, error=f"unexpected {type(e).__name__}")


async def _page(ways: Mapping[bool, _Way], hosts: _FeedHosts,
                request: PageRequest) -> PageResult:
    way = ways[await hosts.public(request.feed_url)]
    agent = request.user_agent or way.robots.agent
    refusal = await way.refusal(request.url, agent)
    if refusal is not None:
        return PageResult(request.url, request.url, error=refusal, refused=True)

    async def hop(target: str) -> str | None:
        return await way.refusal(target, agent)

    spec = FeedSpec(key=request.url, urls=(request.url,), category="", source="", channel="",
                    user_agent=request.user_agent, headers=request.headers)
    _, result = await way.fetcher.feed(0, spec, FeedState(), hop)
    if result.status is not FetchStatus.OK:
        return PageResult(request.url, result.url, error=_error(result))
    return PageResult(request.url, result.url, result.content, result.headers)


def _error(result: FetchResult) -> str:
    # fetch_failures words a feed's error with its key; the first line is the reason.
    return (result.error or f"HTTP {result.http_status}").splitlines()[0]


class _Robots:
    """Each origin's robots.txt, fetched once per run, when its first page is asked for."""

    def __init__(self, fetcher: Fetcher, agent: str) -> None:
        self._fetcher = fetcher
        self.agent = agent
        self._origins: dict[str, asyncio.Task[Protego]] = {}

    async def allows(self, url: str, agent: str) -> bool:
        try:
            parts = urlsplit(url)
            origin = f"{parts.scheme}://{parts.netloc}"
        except ValueError:
            return False  # no origin to ask: nothing that may be fetched
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return False
        task = self._origins.get(origin)
        if task is None:  # the first page of this origin fetches; the others wait for it
            task = asyncio.ensure_future(self._rules(origin))
            self._origins[origin] = task
        # Shielded: a page given up (the pass's deadline) must not cancel its origin's fetch
        # for the pages that wait on it too.
        rules = await asyncio.shield(task)
        try:
            return bool(rules.can_fetch(url, agent))
        except Exception:  # a URL the parser cannot take: not fetched
            return False

    async def _rules(self, origin: str) -> Protego:
        url = origin + "/robots.txt"
        spec = FeedSpec(key=url, urls=(url,), category="", source="", channel="",
                        user_agent=self.agent)
        _, result = await self._fetcher.feed(0, spec, FeedState())
        return Protego.parse(robots_text(result))


def robots_text(result: FetchResult) -> str:
    """The rules a robots.txt answer stands for (RFC 9309, section 2.3.1), as robots.txt."""
    if result.status is FetchStatus.OK:
        return _first_bytes(result.content, ROBOTS_MAX_BYTES).decode("utf-8", "replace")
    if result.http_status == 200:  # "empty response" is an empty file; else one rejected
        empty = (result.error or "").startswith("empty response")
        return _ALLOW_ALL if empty else _DISALLOW_ALL
    if 400 <= result.http_status < 500:
        return _ALLOW_ALL  # unavailable: no rules
    return _DISALLOW_ALL  # unreachable: assume the site wants no crawling


def _first_bytes(content: bytes, limit: int) -> bytes:
    """The first ``limit`` bytes of ``content``, cut after the last whole line among them."""
    if len(content) <= limit:
        return content
    cut = content.rfind(b"\n", 0, limit)
    return content[:cut + 1] if cut >= 0 else b""


def is_public(address: str) -> bool:
    """Whether an IP address is globally reachable (not loopback, private, link-local, shared,
    reserved …); an IPv4 address inside IPv6 (mapped, 6to4) is judged as itself."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        inner = ip.ipv4_mapped or ip.sixtofour
        if inner is not None:
            return inner.is_global
    return ip.is_global


def _allowed(host: str, addresses: Iterable[str]) -> bool:
    """Whether a page of a feed on a public host may be fetched from ``host`` at
    ``addresses``: all of them public."""
    return all(is_public(address) for address in addresses)


async def _resolve(host: str, port: int) -> list[str]:
    """The addresses of ``host`` (an IP literal: itself), for TCP; OSError when none."""
    async with asyncio.timeout(_RESOLVE_SECONDS):
        infos = await asyncio.get_running_loop().getaddrinfo(host, port,
                                                             type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _host_port(url: str) -> tuple[str, int]:
    """The host and port of an http(s) URL ("" when it has none); ValueError when malformed."""
    parts = urlsplit(url)
    return (parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))


async def _address_refusal(url: str) -> str | None:
    """Why ``url`` may not be fetched for a feed on a public host: its host resolves to an
    address that is not public. A name that does not resolve is left to the fetch to report."""
    try:
        host, port = _host_port(url)
    except ValueError:
        return "not a valid URL"
    if not host:
        return None
    try:
        addresses = await _resolve(host, port)
    except (OSError, TimeoutError):
        return None
    if _allowed(host, addresses):
        return None
    private = next((a for a in addresses if not is_public(a)), addresses[0])
    return f"refused: {host} is not a public address ({private})"


async def page_refusal(url: str, feed_url: str) -> str | None:
    """Why the page ``url`` (or a redirect's target) of the feed at ``feed_url`` must not be
    fetched because of where it is, or None: a feed on a public host may name pages on public
    addresses only; a feed on a host that is not public (a test server, the demo, a LAN)
    may name any."""
    if not await _FeedHosts().public(feed_url):
        return None
    return await _address_refusal(url)


class _FeedHosts:
    """Whether each feed's host is public, resolved once per run."""

    def __init__(self) -> None:
        self._known: dict[str, bool] = {}

    async def public(self, feed_url: str) -> bool:
        """False only when the feed's host resolves to addresses none of which is public; a
        name that does not resolve (or no feed URL) counts as public: the strict rule."""
        try:
            host, port = _host_port(feed_url)
        except ValueError:
            return True
        if not host:
            return True
        if host not in self._known:
            try:
                addresses = await _resolve(host, port)
            except (OSError, TimeoutError):
                addresses = []
            self._known[host] = not addresses or any(is_public(a) for a in addresses)
        return self._known[host]


class _PublicOnly(httpcore.AsyncNetworkBackend):
    """Opens connections to public addresses only: resolves the host, checks its addresses
    (:func:`_allowed`) and connects to a checked one. httpcore hands TLS the URL's host
    separately (SNI, certificate) and httpx sends it as Host, so both stay the name's."""

    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None,
                          ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await _resolve(host, port)
        except (OSError, TimeoutError) as e:
            raise httpcore.ConnectError(f"cannot resolve {host}: {e}") from e
        if not addresses:
            raise httpcore.ConnectError(f"cannot resolve {host}")
        if not _allowed(host, addresses):
            private = next((a for a in addresses if not is_public(a)), addresses[0])
            raise Failure(f"refused: {host} is not a public address ({private})")
        failure: Exception = httpcore.ConnectError(f"cannot connect to {host}")
        for address in addresses:  # in the resolver's order, as a connect by name would try
            try:
                return await self._inner.connect_tcp(address, port, timeout=timeout,
                                                     local_address=local_address,
                                                     socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as e:
                failure = e
        raise failure

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[Any] | None = None,
                                  ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("no Unix sockets for pages")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)
