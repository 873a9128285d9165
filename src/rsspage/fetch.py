"""The fetch stage: FeedSpec → FetchResult, over HTTP, concurrently.

Only this stage is concurrent (asyncio + httpx clients); everything after it is
sequential. Per feed, each URL of ``spec.urls`` (one per RSSHub instance) is tried in order and
the first one that answers with a feed wins. Per URL::

    attempt ─► 2xx feed body ─► OK         attempt = one request (+ redirects) under a global and
            ├► 304 ─────────► NOT_MODIFIED            a per-host slot, within ``timeout``
            ├► 410 ─────────► GONE
            ├► timeout, connection error, 5xx, 429 ─► wait (backoff or Retry-After) ─► attempt
            └► other failure (a key refused, a bot check, RSSHub's error page …) ─► next URL

A URL never takes longer than ``timeout × (retries + 1)``: attempts and waits share that budget,
so a slow or hanging server costs a bounded time however it misbehaves. Bodies are decoded here
(not by httpx) so the size cap applies to decompressed bytes as they arrive. Every failure ends
as a FAILED/GONE result with a short message (worded by :mod:`rsspage.fetch_failures`: of the
instance for a route); nothing raises out of :func:`fetch_feeds`.
What the server says about coming back (max-age, Expires, Retry-After) is read by
:mod:`rsspage.fetch_hints` and passed on in ``FetchResult.hints``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, replace
from typing import Literal, Protocol
from urllib.parse import urlsplit

import certifi
import httpcore
import httpx

from rsspage import __version__
from rsspage import fetch_hints as _hints
from rsspage.fetch_body import ACCEPT_ENCODING as _ACCEPT_ENCODING
from rsspage.fetch_body import error_body, read_capped
from rsspage.fetch_failures import (
    Failure,
    feed_error,
    http_status,
    status_failure,
    timed_out,
    translate,
    unexpected_body,
)
from rsspage.redact import redact
from rsspage.types import FeedSpec, FeedState, FetchResult, FetchStatus, ServerHints

__all__ = ["Clients", "FetchOptions", "Fetcher", "fetch_all", "fetch_feeds"]

_MB = 1024 * 1024
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
#: What a fetch expects: a feed, a web page (to find its feeds) or a JSON document (the catalog).
Expect = Literal["feed", "page", "json"]
_ACCEPT: Mapping[str, str] = {
    "feed": "application/rss+xml, application/atom+xml, application/feed+json, "
            "application/rdf+xml, application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, "
            "*/*;q=0.5",
    "page": "text/html, application/xhtml+xml, application/xml;q=0.9, */*;q=0.8",
    "json": "application/json, */*;q=0.5",
}


@dataclass(frozen=True, slots=True)
class FetchOptions:
    """How hard and how politely to fetch."""

    #: Requests in flight at once, over all hosts.
    concurrency: int = 16
    #: Requests in flight at once to one host name.
    per_host: int = 4
    #: Seconds one attempt may take, connect to last body byte (redirects included).
    timeout: float = 20.0
    #: Further attempts after a timeout, connection error, 5xx or 429.
    retries: int = 2
    #: Largest decoded body accepted, in bytes.
    max_bytes: int = 20 * _MB
    max_redirects: int = 5
    #: Seconds before the first retry; doubles for each further one.
    backoff: float = 0.5
    #: Longest wait a server's Retry-After may impose.
    max_retry_after: float = 60.0
    user_agent: str = f"rsspage/{__version__} (+https://github.com/rsspage/rsspage)"
    #: What the bodies must be: a ``feed`` (an HTML page is then a failure), a web ``page``
    #: (``rsspage add`` reads its feed links) or a ``json`` document (RSSHub's catalog).
    expect: Expect = "feed"

    def __post_init__(self) -> None:
        if self.concurrency < 1 or self.per_host < 1:
            raise ValueError("concurrency and per_host must be at least 1")
        if self.timeout <= 0 or self.max_bytes <= 0:
            raise ValueError("timeout and max_bytes must be positive")
        if min(self.retries, self.max_redirects, self.backoff, self.max_retry_after) < 0:
            raise ValueError("retries, max_redirects, backoff and max_retry_after must be >= 0")


class HostGate(Protocol):
    """The per-host limit shared with other processes (fetch workers on other machines): entered
    once in the fetching loop, then ``slot(host)`` around each request, inside this process's
    own limit for the host."""

    async def __aenter__(self) -> HostGate: ...

    async def __aexit__(self, *exc: object) -> None: ...

    def slot(self, host: str) -> AbstractAsyncContextManager[None]: ...


def fetch_feeds(
    specs: Sequence[FeedSpec],
    states: Mapping[str, FeedState],
    options: FetchOptions,
    on_result: Callable[[FetchResult], None] | None = None,
    gate: HostGate | None = None,
) -> list[FetchResult]:
    """Fetch every feed; results in the order of ``specs``. Not callable from a running loop."""
    return asyncio.run(fetch_all(specs, states, options, on_result, gate))


async def fetch_all(
    specs: Sequence[FeedSpec],
    states: Mapping[str, FeedState],
    options: FetchOptions,
    on_result: Callable[[FetchResult], None] | None = None,
    gate: HostGate | None = None,
) -> list[FetchResult]:
    """Fetch every feed concurrently; ``on_result`` sees each result as its feed completes.

    ``states`` maps feed keys to their validators for conditional GET (missing: none). An
    exception raised by ``on_result`` cancels the remaining fetches and propagates. ``gate``:
    the hosts' limits shared with other workers.
    """
    async with Clients(options) as clients, contextlib.AsyncExitStack() as stack:
        shared = await stack.enter_async_context(gate) if gate is not None else None
        fetcher = Fetcher(clients, options, shared)
        tasks = [
            asyncio.create_task(fetcher.feed(i, spec, states.get(spec.key, FeedState())))
            for i, spec in enumerate(specs)
        ]
        results: dict[int, FetchResult] = {}
        try:
            for next_done in asyncio.as_completed(tasks):
                index, result = await next_done
                results[index] = result
                if on_result is not None:
                    on_result(result)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    return [results[i] for i in range(len(specs))]


class Clients:
    """The global concurrency limit: up to ``concurrency`` clients of one connection each.

    Not one client with a big pool: httpcore scans every connection of its pool whenever a
    request starts or ends, so each request costs O(pool size). At concurrency 128 that made 500
    healthy local feeds take 9 s and some of them time out. With one connection per client the
    scan is O(1), and keep-alive still serves a client's next request to the same host.
    """

    def __init__(self, options: FetchOptions,
                 network: httpcore.AsyncNetworkBackend | None = None) -> None:
        self._options = options
        #: How connections are opened (None: httpcore's own way): a backend that refuses some
        #: addresses when it connects (fetch_pages.py).
        self._network = network
        self._free = asyncio.Semaphore(options.concurrency)
        self._idle: list[httpx.AsyncClient] = []  # a stack: the warmest connection first
        self._all: list[httpx.AsyncClient] = []
        # Shared: building a context (loading the CA bundle) takes ~50 ms each time.
        self._tls = ssl.create_default_context(cafile=certifi.where())

    async def __aenter__(self) -> Clients:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.gather(*(client.aclose() for client in self._all),
                             return_exceptions=True)

    @asynccontextmanager
    async def client(self) -> AsyncIterator[httpx.AsyncClient]:
        """A client nobody else is using, for as long as the caller holds it."""
        async with self._free:  # fewer than ``concurrency`` in use: idle or creatable
            client = self._idle.pop() if self._idle else self._new()
            yield client
            # Reused only after a success: a failure (a timeout above all) may have left its
            # connection half-read. A fresh client costs ~60 µs; it is closed at the end.
            self._idle.append(client)

    def _new(self) -> httpx.AsyncClient:
        client = httpx.AsyncClient(
            verify=self._tls,
            http1=True,
            http2=False,
            trust_env=False,  # an environment proxy must never see (or redirect) our traffic
            follow_redirects=False,  # followed by hand: count them and refuse non-http schemes
            timeout=httpx.Timeout(self._options.timeout),
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
            transport=self._transport() if self._network is not None else None,
        )
        self._all.append(client)
        return client

    def _transport(self) -> httpx.AsyncHTTPTransport:
        """httpx's transport over a pool that opens its connections through ``_network``.
        httpx takes no network backend, so its pool is replaced by an equal one that does
        (the same settings as :meth:`_new`'s; TLS still names the URL's host: SNI and
        certificate checks are unchanged)."""
        transport = httpx.AsyncHTTPTransport(verify=self._tls, http1=True, http2=False,
                                             trust_env=False)
        transport._pool = httpcore.AsyncConnectionPool(
            ssl_context=self._tls, max_connections=1, max_keepalive_connections=1,
            http1=True, http2=False, network_backend=self._network)
        return transport


@dataclass(frozen=True, slots=True)
class _Answer:
    """A final response: a feed body (2xx) or a 304."""

    url: str
    status: int
    headers: dict[str, str]
    content: bytes


class _Budget:
    """Seconds left for one URL: attempts and retry waits both spend from it."""

    def __init__(self, seconds: float) -> None:
        self.left = seconds

    def spend(self, seconds: float) -> None:
        self.left -= seconds


#: A check of each redirect's target before it is followed: why not (then the fetch fails
#: with that message), or None.
HopCheck = Callable[[str], Awaitable[str | None]]


class Fetcher:
    """Fetches feeds over a pool of clients, within the global and per-host limits. Public for
    the page fetcher (fetch_pages.py), which fetches article pages through the same stack:
    :meth:`feed` with a ``hop`` check on each redirect."""

    def __init__(self, clients: Clients, options: FetchOptions,
                 gate: HostGate | None = None) -> None:
        self._clients = clients
        self._options = options
        self._hosts: dict[str, asyncio.Semaphore] = {}
        self._gate = gate

    async def feed(self, index: int, spec: FeedSpec, state: FeedState,
                   hop: HopCheck | None = None) -> tuple[int, FetchResult]:
        """Fetch one feed; never raises, so one feed's bug cannot cost the others. The result
        names no access key or code: it is stored and shown. ``hop`` checks each redirect's
        target before it is followed."""
        try:
            result = await self._feed(spec, state, hop)
        except Exception as e:  # a bug becomes a value too, as the design requires
            url = str(spec.urls[-1]) if spec.urls else ""
            message = f"unexpected {type(e).__name__}: {e}"
            result = FetchResult(spec.key, FetchStatus.FAILED, url, error=message)
        secrets = [value for _, value in spec.headers]
        return index, replace(result, url=redact(result.url),
                              error=redact(result.error, secrets) if result.error else None)

    async def _feed(self, spec: FeedSpec, state: FeedState, hop: HopCheck | None) -> FetchResult:
        if not spec.urls:
            return FetchResult(spec.key, FetchStatus.FAILED, "", error="no URL to fetch")
        headers = _request_headers(self._options, state, spec)
        failures: list[tuple[str, Failure]] = []
        for url in spec.urls:  # RSSHub instances, in order of preference
            try:
                answer = await self._with_retries(url, headers, hop)
            except Failure as failure:
                failures.append((url, failure))
                continue
            return _success(spec.key, answer, state)
        return _failed(spec.key, failures)

    async def _with_retries(self, url: str, headers: dict[str, str],
                            hop: HopCheck | None = None) -> _Answer:
        options = self._options
        budget = _Budget(options.timeout * (options.retries + 1))
        attempt = 0
        while True:
            try:
                return await self._attempt(url, headers, budget, hop)
            except Failure as failure:
                if not failure.retryable or attempt >= options.retries:
                    raise
                delay = self._delay(failure, attempt)
                if delay >= budget.left:  # waiting would leave no time to try again
                    raise
            await asyncio.sleep(delay)
            budget.spend(delay)
            attempt += 1

    def _delay(self, failure: Failure, attempt: int) -> float:
        if failure.retry_after is not None:
            return min(failure.retry_after, self._options.max_retry_after)
        return float(self._options.backoff * 2**attempt)

    async def _attempt(self, url: str, headers: dict[str, str], budget: _Budget,
                       hop: HopCheck | None = None) -> _Answer:
        """One request and its redirects, holding a slot of the first URL's host throughout."""
        async with self._slot(url) as client:
            # The clock starts once we hold a slot: queueing behind other feeds is not slowness.
            limit = min(self._options.timeout, budget.left)
            started = time.monotonic()
            try:
                async with asyncio.timeout(limit):  # total deadline: a drip cannot stretch it
                    return await self._follow(client, url, headers, hop)
            except (TimeoutError, httpx.TimeoutException) as e:
                options = self._options
                raise timed_out(limit, options.timeout,
                                options.timeout * (options.retries + 1)) from e
            except (httpx.HTTPError, httpx.InvalidURL) as e:
                raise translate(e) from e
            finally:
                budget.spend(time.monotonic() - started)

    @asynccontextmanager
    async def _slot(self, url: str) -> AsyncIterator[httpx.AsyncClient]:
        name = _host(url)
        host = self._hosts.setdefault(name, asyncio.Semaphore(self._options.per_host))
        # Host first: a feed queued behind a busy host must not hold a global slot meanwhile.
        async with host, contextlib.AsyncExitStack() as shared:
            if self._gate is not None:
                await shared.enter_async_context(self._gate.slot(name))
            async with self._clients.client() as client:
                yield client

    async def _follow(self, client: httpx.AsyncClient, url: str, headers: dict[str, str],
                      hop: HopCheck | None = None) -> _Answer:
        # One request at a time: each response is closed before its redirect is followed, so
        # the client's single connection is always free for the next one.
        current = url
        for _ in range(self._options.max_redirects + 1):
            async with client.stream("GET", current, headers=headers) as response:
                target = _redirect_target(response)
                if target is None:
                    return await self._answer(current, response)
            if hop is not None and (refusal := await hop(target)) is not None:
                raise Failure(f"redirect to {redact(target)[:200]} refused: {refusal}",
                              http_status=response.status_code)
            if _origin(target) != _origin(current):  # the config's headers are for its origin
                headers = {k: v for k, v in headers.items() if k.lower() in _EVERYWHERE}
            current = target
        raise Failure("too many redirects", http_status=response.status_code)

    async def _answer(self, url: str, response: httpx.Response) -> _Answer:
        status = response.status_code
        headers = _response_headers(response)
        if status == 304:
            return _Answer(url, status, headers, b"")
        if not 200 <= status < 300:
            body = await error_body(response)
            raise status_failure(url, status, response.reason_phrase, headers, body)
        content = await read_capped(response, self._options.max_bytes)
        failure = unexpected_body(self._options.expect, status, headers, content)
        if failure is not None:
            raise failure
        return _Answer(url, status, headers, content)


#: Request headers still sent after a redirect to another origin (scheme, host, port): ours,
#: the validators and a Referer (which browsers send to any origin). Every other header the
#: config gives (a cookie, an API key, a token under any name) is for the feed's origin only.
_EVERYWHERE = frozenset({"user-agent", "accept", "accept-encoding", "if-none-match",
                         "if-modified-since", "referer"})


def _request_headers(options: FetchOptions, state: FeedState,
                     spec: FeedSpec | None = None) -> dict[str, str]:
    """What every request sends, then the feed's own ``user_agent`` and ``headers`` (config),
    then the conditional GET's validators, which no setting may override."""
    headers = {
        "User-Agent": options.user_agent,
        "Accept": _ACCEPT[options.expect],
        "Accept-Encoding": _ACCEPT_ENCODING,
    }
    if spec is not None:
        if spec.user_agent:
            headers["User-Agent"] = spec.user_agent
        for name, value in spec.headers:  # a header named twice (any case): the last wins
            for same in [k for k in headers if k.lower() == name.lower()]:
                del headers[same]
            headers[name] = value
    if state.etag:
        headers["If-None-Match"] = state.etag
    if state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    return headers


def _response_headers(response: httpx.Response) -> dict[str, str]:
    # The content is handed on decoded, so its transfer headers would only mislead the parser.
    hidden = {"content-encoding", "content-length", "transfer-encoding"}
    return {k: v for k, v in response.headers.items() if k not in hidden}


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:  # malformed (e.g. an unclosed IPv6 bracket); httpx will say why
        return ""


def _origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of ``url``, the port given or the scheme's own."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return ("", "", None)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), port or {"http": 80, "https": 443}.get(scheme)


def _redirect_target(response: httpx.Response) -> str | None:
    """The absolute http(s) URL a redirect points to; None when the response is no redirect."""
    if response.status_code not in _REDIRECTS:
        return None
    location = response.headers.get("location")
    status = response.status_code
    if not location:
        raise Failure(f"{http_status(status, response.reason_phrase)} without a Location header",
                      http_status=status)
    try:
        target = response.url.join(location)
    except httpx.InvalidURL as e:
        raise Failure(f"redirect to an invalid URL {location[:80]!r}", http_status=status) from e
    if target.scheme not in ("http", "https"):
        raise Failure(f"redirect to unsupported scheme {target.scheme}:", http_status=status)
    return str(target)


def _success(key: str, answer: _Answer, state: FeedState) -> FetchResult:
    etag = answer.headers.get("etag")
    last_modified = answer.headers.get("last-modified")
    hints = ServerHints(fresh_for=_hints.fresh_for(answer.headers))
    if answer.status == 304:  # a 304 may omit validators; the old ones still hold then
        return FetchResult(key, FetchStatus.NOT_MODIFIED, answer.url, headers=answer.headers,
                           http_status=304, etag=etag or state.etag,
                           last_modified=last_modified or state.last_modified, hints=hints)
    return FetchResult(key, FetchStatus.OK, answer.url, content=answer.content,
                       headers=answer.headers, http_status=answer.status, etag=etag,
                       last_modified=last_modified, hints=hints)


def _failed(key: str, failures: list[tuple[str, Failure]]) -> FetchResult:
    """The result when every URL failed; GONE only if every one of them said 410."""
    url, last = failures[-1]
    gone = all(f.http_status == 410 for _, f in failures)
    status = FetchStatus.GONE if gone else FetchStatus.FAILED
    waits = [f.retry_after for _, f in failures if f.retry_after is not None]
    hints = ServerHints(retry_after=max(waits) if waits else None)
    return FetchResult(key, status, url, http_status=last.http_status,
                       error=feed_error(key, failures), hints=hints)
