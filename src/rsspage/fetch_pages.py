"""Web pages of articles (full text), fetched through the fetch stage's machinery.

The same clients, global and per-host slots, timeouts, size cap, decompression and redirect
handling as feeds (:mod:`rsspage.fetch`): a page is fetched as a one-URL feed expecting a
``page``. On top of that, robots.txt: fetched once per origin per run (the first page of an
origin waits for it, the others share that answer) and obeyed for the user agent the page would
be fetched with. What a robots.txt answer means follows RFC 9309 (section 2.3.1):

    2xx        its rules (an empty file: everything allowed)
    4xx        no rules: everything allowed ("unavailable")
    otherwise  5xx, timeout, connection failure: everything disallowed ("unreachable")

A page refused by robots.txt is never requested. Every page ends as a :class:`PageResult`;
nothing raises out of :func:`fetch_pages`.

Pages are fetched once, when their article is new, so there are no validators to send: a
conditional GET has nothing to ask. robots.txt is asked afresh on each run (and then held for the
run), which is what its own caching rules (24 hours at most) allow without keeping its text.
"""

from __future__ import annotations

import asyncio
import urllib.robotparser
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from rsspage.fetch import FetchOptions, _Clients, _Fetcher  # one HTTP stack for all fetching
from rsspage.types import FeedSpec, FeedState, FetchResult, FetchStatus

__all__ = ["PAGE_MAX_BYTES", "PageRequest", "PageResult", "fetch_pages", "page_options"]

#: Largest article page read (when ``fetch.max_bytes`` is larger): a news page is ~100 KB to
#: 2 MB of HTML, and extraction time grows with the page.
PAGE_MAX_BYTES = 5 * 1024 * 1024
#: Retries of a page at most: the page is an extra, the summary is kept without it.
_PAGE_RETRIES = 1
#: The whole pass takes at most this many times what one page may take (its attempts): pages
#: queued behind a slow host's few slots are given up, not waited for without end.
_PASS_PAGES = 4


@dataclass(frozen=True, slots=True)
class PageRequest:
    """One page to fetch, with what its feed sends (its own host only: see fulltext.py)."""

    url: str
    user_agent: str | None = None
    #: Request headers (name, value); may hold cookies: never shown.
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)


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
    #: True when robots.txt disallows the page (then it was not requested).
    refused: bool = False


def page_options(options: FetchOptions) -> FetchOptions:
    """The fetch options for pages: expecting a web page, fewer retries, a smaller cap."""
    return replace(options, expect="page", retries=min(options.retries, _PAGE_RETRIES),
                   max_bytes=min(options.max_bytes, PAGE_MAX_BYTES))


def fetch_pages(requests: Sequence[PageRequest], options: FetchOptions) -> list[PageResult]:
    """Fetch every page concurrently (robots.txt first, per origin); results in the order of
    ``requests``. ``options`` are used as given (see :func:`page_options`). Not callable from a
    running loop."""
    if not requests:
        return []
    return asyncio.run(_fetch_all(requests, options))


async def _fetch_all(requests: Sequence[PageRequest], options: FetchOptions) -> list[PageResult]:
    budget = _PASS_PAGES * options.timeout * (options.retries + 1)
    deadline = asyncio.get_running_loop().time() + budget
    async with _Clients(options) as clients:
        fetcher = _Fetcher(clients, options)
        robots = _Robots(fetcher, options.user_agent)
        pages = (_in_time(_page(fetcher, robots, r), r.url, deadline, budget) for r in requests)
        return list(await asyncio.gather(*pages))


async def _in_time(page: Coroutine[Any, Any, PageResult], url: str, deadline: float,
                   budget: float) -> PageResult:
    try:
        async with asyncio.timeout_at(deadline):
            return await page
    except TimeoutError:
        return PageResult(url, url, error=f"not fetched within the run's {budget:g} s for pages")


async def _page(fetcher: _Fetcher, robots: _Robots, request: PageRequest) -> PageResult:
    agent = request.user_agent or robots.agent
    if not await robots.allows(request.url, agent):
        return PageResult(request.url, request.url, error="disallowed by robots.txt",
                          refused=True)
    spec = FeedSpec(key=request.url, urls=(request.url,), category="", source="", channel="",
                    user_agent=request.user_agent, headers=request.headers)
    _, result = await fetcher.feed(0, spec, FeedState())
    if result.status is not FetchStatus.OK:
        return PageResult(request.url, result.url, error=_error(result))
    return PageResult(request.url, result.url, result.content, result.headers)


def _error(result: FetchResult) -> str:
    # fetch_failures words a feed's error with its key; the first line is the reason.
    return (result.error or f"HTTP {result.http_status}").splitlines()[0]


class _Robots:
    """Each origin's robots.txt, fetched once per run, when its first page is asked for."""

    def __init__(self, fetcher: _Fetcher, agent: str) -> None:
        self._fetcher = fetcher
        self.agent = agent
        self._origins: dict[str, asyncio.Task[urllib.robotparser.RobotFileParser]] = {}

    async def allows(self, url: str, agent: str) -> bool:
        try:
            parts = urlsplit(url)
        except ValueError:
            return True  # the fetch says what is wrong with the URL
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return True
        origin = f"{parts.scheme}://{parts.netloc}"
        task = self._origins.get(origin)
        if task is None:  # the first page of this origin fetches; the others wait for it
            task = asyncio.ensure_future(self._rules(origin))
            self._origins[origin] = task
        # Shielded: a page given up (the pass's deadline) must not cancel its origin's fetch
        # for the pages that wait on it too.
        return (await asyncio.shield(task)).can_fetch(agent, url)

    async def _rules(self, origin: str) -> urllib.robotparser.RobotFileParser:
        url = origin + "/robots.txt"
        spec = FeedSpec(key=url, urls=(url,), category="", source="", channel="",
                        user_agent=self.agent)
        _, result = await self._fetcher.feed(0, spec, FeedState())
        rules = urllib.robotparser.RobotFileParser(url)
        if result.status is FetchStatus.OK:
            rules.parse(result.content.decode("utf-8", "replace").splitlines())
        elif result.http_status == 200 or 400 <= result.http_status < 500:
            rules.parse([])  # empty ("empty response"), or unavailable: no rules
        else:  # unreachable: assume the site wants no crawling
            rules.parse(["User-agent: *", "Disallow: /"])
        return rules
