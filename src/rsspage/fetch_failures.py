"""Why a fetch failed, in words a user understands.

The fetch stage (:mod:`rsspage.fetch`) meets failures as HTTP statuses, bodies that are not what
it expected and httpx errors; this module names each as a :class:`Failure` (one failed try at one
URL) and words a feed's final error from them. A failure is told two ways:

- of a feed URL, in the server's own short words: ``HTTP 404 Not Found``, ``connection refused``;
- of an RSSHub instance serving a route, as what that instance did, so that the user knows which
  instance to fix or drop: ``instance rsshub.example.org refused the access key (HTTP 403)``.

What an instance answers when it will not serve a route, and how it is recognised here:

- RSSHub's own error page (503; 404 for a route it does not have): the message in
  ``Error Message:<br/><code>Name: text</code>``, about 4 KB into the page;
- 401/403 (RSSHub's ``ACCESS_KEY``): the status, and whether our URL carried a key;
- a CDN bot check (403, 503, even 200): ``cf-mitigated: challenge``, ``Just a moment...``;
- a public instance's notice to feed readers (200): "restrict access to rsshub.app for some
  feed readers";
- 429: the status and its Retry-After.

Every one of them sends the fetch on to the next instance; only 5xx, 429 and network errors are
first retried at the same URL (see :mod:`rsspage.fetch`).
"""

from __future__ import annotations

import html
import re
import ssl
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import TypeVar
from urllib.parse import urlsplit

import httpx

from rsspage import fetch_hints
from rsspage.errors import FetchError
from rsspage.parse.encoding import head_text
from rsspage.parse.sniff import is_html_page
from rsspage.redact import carries_key

__all__ = [
    "Failure", "feed_error", "http_status", "instance_name", "rsshub_message",
    "status_failure", "timed_out", "too_large", "translate", "unexpected_body",
]

_MB = 1024 * 1024
_E = TypeVar("_E", bound=BaseException)
# h11's words for a body shorter than its Content-Length.
_BODY_COUNTS = re.compile(r"received (\d+) bytes, expected (\d+)")
# RSSHub's error page puts the message of the error its route threw here (4 KB into the page).
_RSSHUB_ERROR = re.compile(r"Error Message:\s*<br\s*/?>\s*<code[^>]*>(.*?)</code>",
                           re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>")
# Markup RSSHub escaped into a message (a link to its issues); not "<no response>" of a FetchError.
_ESCAPED_TAG = re.compile(r"</?(?:a|b|i|em|strong|code|br|span|p|div)\b[^<>]*>", re.IGNORECASE)
# Cloudflare's challenge ("Just a moment...") and block ("Attention Required!") pages. The title
# alone is trusted only in a body that is no feed: an article may well be called that.
_CHALLENGE_PAGE = re.compile(
    r"<title>\s*(?:Just a moment\.\.\.|Attention Required! \| Cloudflare)\s*</title>"
    r"|/cdn-cgi/challenge-platform/|\bcf-chl|_cf_chl_opt", re.IGNORECASE)
# rsshub.app's answer to feed readers since 2025: "Due to cost considerations, we will gradually
# restrict access to rsshub.app for some feed readers. [...] we strongly recommend self-hosting".
_READER_NOTICE = re.compile(r"restrict\w* access to \S+ for (?:some )?feed readers",
                            re.IGNORECASE)
#: Longest RSSHub error message quoted (its FetchError quotes whole upstream URLs).
_MESSAGE_CHARS = 160


class Failure(FetchError):
    """One failed try at one URL, and whether trying the same URL again could help."""

    def __init__(self, message: str, *, on_instance: str | None = None,
                 retryable: bool = False, http_status: int = 0,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        #: The failure told of an RSSHub instance: the words after "instance HOST" (None: the
        #: message, after a colon).
        self.on_instance = on_instance
        self.retryable = retryable
        self.http_status = http_status
        #: Seconds the server asked us to wait (Retry-After), if it did.
        self.retry_after = retry_after

    def told(self, instance: str | None) -> str:
        """The message of a feed URL (``instance`` None) or of the RSSHub ``instance``."""
        if instance is None:
            return str(self)
        if self.on_instance is None:
            return f"instance {instance}: {self}"
        return f"instance {instance} {self.on_instance}"


def feed_error(key: str, failures: Sequence[tuple[str, Failure]]) -> str:
    """A feed's error once each of its URLs failed (``failures``: URL and failure, in order).

    A route (key ``/path``) is served by RSSHub instances, and only instances give a feed
    several URLs: their failures are told of the instance, one reason per instance.
    """
    if not key.startswith("/") and len(failures) == 1:
        return str(failures[0][1])
    told = [failure.told(instance_name(url)) for url, failure in failures]
    if len(told) == 1:
        return told[0]
    return f"all {len(told)} instances failed: " + "; ".join(told)


def instance_name(url: str) -> str:
    """How an instance is named to the user: its host and port (never a user or password)."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:  # an unclosed IPv6 bracket, a port out of range
        return url
    if not host:
        return url
    host = f"[{host}]" if ":" in host else host
    return f"{host}:{port}" if port is not None else host


# --- HTTP answers ------------------------------------------------------------------------------


def status_failure(url: str, status: int, reason: str, headers: Mapping[str, str],
                   body: bytes) -> Failure:
    """Why a non-2xx answer to ``url`` is no feed. ``headers``: lower-case names; ``body``: its
    start (RSSHub's error message sits ~4 KB in), possibly empty."""
    code = http_status(status, reason)
    text = _text(body)
    refusal = _refusal(headers, text, status, page=True)
    if refusal is not None:
        return refusal
    if status in (401, 403):  # RSSHub's answer to a missing or wrong ACCESS_KEY
        return _key_failure(code, status, carries_key(url))
    message = rsshub_message(text)
    if message is not None:
        return _route_failure(message, code, status)
    retry_after = None
    if status in (429, 503):
        retry_after = fetch_hints.retry_after(headers.get("retry-after"))
    wait = f"retry after {_seconds(retry_after)}" if retry_after is not None else ""
    plain = f"{code} ({wait})" if wait else code
    retryable = status >= 500 or status == 429
    return Failure(plain, on_instance=_status_words(status, code, wait), retryable=retryable,
                   http_status=status, retry_after=retry_after)


def _status_words(status: int, code: str, wait: str) -> str | None:
    """What an instance did, by the status alone."""
    if status == 429:
        return f"is rate limiting (HTTP 429{', ' + wait if wait else ''})"
    with_wait = f"{code} ({wait})" if wait else code
    if status in (502, 503, 504):
        return f"is down: {with_wait}"
    if status >= 500:
        return f"failed: {with_wait}"
    if status == 404:
        return f"does not have this route ({code})"
    if status == 410:
        return f"says this route is gone ({code})"
    return None


def _key_failure(code: str, status: int, keyed: bool) -> Failure:
    short = f"HTTP {status}"
    if keyed:
        return Failure(f"the server refused the access key ({short})",
                       on_instance=f"refused the access key ({short})", http_status=status)
    return Failure(code, http_status=status,
                   on_instance=f"asks for an access key ({short}): set key or key_env in "
                               "rsshub.instances")


def _route_failure(message: str, code: str, status: int) -> Failure:
    """RSSHub's own error page. Not retried: RSSHub already retried upstream (REQUEST_RETRY),
    so its error is the route's answer, not a hiccup of the instance."""
    short = f"HTTP {status}"
    if status == 404 and message.startswith("NotFoundError"):
        return Failure(f"the server (RSSHub) does not have this route ({code}: {message})",
                       on_instance="does not have this route (HTTP 404 NotFoundError): its "
                                   "RSSHub may be older or newer than the route",
                       http_status=status)
    return Failure(f"the server (RSSHub) could not get this feed: {message} ({short})",
                   on_instance=f"could not get this route: {message} ({short})",
                   http_status=status)


def rsshub_message(text: str) -> str | None:
    """The error message on RSSHub's error page, as one short line; None for any other text."""
    found = _RSSHUB_ERROR.search(text)
    if found is None:
        return None
    message = _ESCAPED_TAG.sub("", html.unescape(_TAG.sub("", found[1])))
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if not lines:  # an empty message: still RSSHub's page, worth saying so
        return "no error message"
    first = " ".join(lines[0].split())  # later lines: the route path, a stack
    return first if len(first) <= _MESSAGE_CHARS else first[:_MESSAGE_CHARS - 1] + "…"


def _refusal(headers: Mapping[str, str], text: str, status: int, *, page: bool) -> Failure | None:
    """A CDN bot check or a public instance's notice instead of the feed, else None. ``page``:
    whether the body may be searched for a challenge page too (not in a body that is a feed)."""
    challenged = headers.get("cf-mitigated", "").strip().lower() == "challenge"
    if challenged or (page and _CHALLENGE_PAGE.search(text)):
        return Failure(
            "the server answered with a CDN bot check (Cloudflare) instead of the feed",
            on_instance="answered with a CDN bot check (Cloudflare) instead of the feed: public "
                        "instances block feed readers; run your own (see README)",
            http_status=status)
    if page and _READER_NOTICE.search(text):
        return Failure(
            "the server restricts feed readers (a public RSSHub's notice instead of the feed): "
            "follow it as a route of your own instance (see README)",
            on_instance="restricts feed readers (a public instance's notice instead of the "
                        "feed): run your own or choose another (see README)",
            http_status=status)
    return None


def http_status(status: int, reason: str = "") -> str:
    """``HTTP 404 Not Found``: the status with its reason (the standard one when none came)."""
    if not reason:
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = ""
    return f"HTTP {status} {reason}".rstrip()


# --- bodies ------------------------------------------------------------------------------------


def unexpected_body(expect: str, status: int, headers: Mapping[str, str],
                    body: bytes) -> Failure | None:
    """Why a 2xx ``body`` is not what the fetch expects (``feed``, ``page`` or ``json``), or
    None when it may be. A bot check or a notice served with 200 is named as such."""
    problem = _problem(expect, headers.get("content-type", ""), body)
    # A web page is expected to be HTML, so only its own words can show it is a bot check.
    page = problem is not None or expect == "page"
    refusal = _refusal(headers, _text(body), status, page=page)
    if refusal is not None:
        return refusal
    return Failure(problem, http_status=status) if problem is not None else None


def _problem(expect: str, content_type: str, body: bytes) -> str | None:
    if expect == "feed":
        return _not_a_feed(content_type, body)
    head = head_text(body)
    if not head:
        return "empty response"
    if expect == "json" and not head.startswith(("{", "[")):
        return f"not JSON: body starts with {head[:20]!r}"
    return None


def _not_a_feed(content_type: str, body: bytes) -> str | None:
    """Why ``body`` cannot be a feed (an HTML page, say), or None if it may be one.

    A cheap sniff, not a parse: feeds are XML (``<``) or JSON (``{``), in any encoding the
    parser reads (UTF-16 and UTF-32 with or without a BOM too); an HTML page is told by its
    root element, as the parser tells it (:mod:`rsspage.parse.sniff`).
    """
    text = head_text(body)
    if not text:
        return "not a feed: empty response"
    if text[0] not in "<{":
        return f"not a feed: body starts with {text[:20]!r}"
    if is_html_page(text, {"content-type": content_type}):
        mime = content_type.split(";")[0].strip().lower() or "no content type"
        return f"not a feed: an HTML page ({mime})"
    return None


def _text(body: bytes) -> str:
    # Error pages are UTF-8 in practice; a wrong guess only garbles the quoted message.
    return body.decode("utf-8", "replace")


def too_large(limit: int, http_status: int) -> Failure:
    return Failure(f"response larger than {_size(limit)}", http_status=http_status)


# --- network errors ----------------------------------------------------------------------------


def timed_out(limit: float, timeout: float, budget: float) -> Failure:
    """An attempt that had ``limit`` seconds ran out (``timeout`` per attempt, ``budget`` per
    URL: the last attempt may only have had what the budget left)."""
    if limit < timeout:
        message = f"timed out: the {_seconds(budget)} allowed for this URL ran out"
    else:
        message = f"timed out after {_seconds(limit)}"
    return Failure(message, on_instance=f"is too slow or down: {message}", retryable=True)


def translate(e: httpx.HTTPError | httpx.InvalidURL) -> Failure:
    """A short readable failure for an httpx error; retryable when the network may recover."""
    cert = _cause(e, ssl.SSLCertVerificationError)
    if cert is not None:
        return Failure(f"TLS certificate verify failed: {cert.verify_message}")
    tls = _cause(e, ssl.SSLError)
    if tls is not None:
        return Failure(f"TLS error: {tls.reason or tls}")
    if isinstance(e, httpx.InvalidURL):
        return Failure(f"invalid URL: {e}")
    if isinstance(e, httpx.UnsupportedProtocol):
        return Failure(f"unsupported URL: {e}")
    text = str(e) or type(e).__name__
    if isinstance(e, httpx.ConnectError):
        return _connect_problem(e, text)
    if isinstance(e, httpx.RemoteProtocolError):
        if "complete message body" in text:
            counts = _BODY_COUNTS.search(text)
            detail = f" ({counts[1]} of {counts[2]} bytes)" if counts else ""
            text = f"connection closed before the whole body arrived{detail}"
        return Failure(text, retryable=True)
    if _cause(e, ConnectionResetError) is not None:
        return Failure("connection reset by the server", retryable=True)
    return Failure(f"network error: {text}", retryable=isinstance(e, httpx.TransportError))


def _connect_problem(e: httpx.ConnectError, text: str) -> Failure:
    lowered = text.lower()
    if _cause(e, ConnectionRefusedError) is not None or "refused" in lowered:
        return Failure("connection refused", on_instance="is down: connection refused",
                       retryable=True)
    if "name or service not known" in lowered or "nodename nor servname" in lowered:
        message = "host name not found"
    else:
        message = f"cannot connect: {text}"
    return Failure(message, on_instance=f"cannot be reached: {message}", retryable=True)


def _cause(e: BaseException, kind: type[_E]) -> _E | None:
    """The first exception of ``kind`` in the chain of causes of ``e`` (``e`` included)."""
    seen: set[int] = set()
    current: BaseException | None = e
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _seconds(value: float) -> str:
    return f"{round(value, 1):g} s"


def _size(n: int) -> str:
    if n >= _MB:
        return f"{n / _MB:.4g} MB"
    if n >= 1024:
        return f"{n / 1024:.4g} KB"
    return f"{n} bytes"
