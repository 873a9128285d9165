"""What a user is told when an RSSHub instance will not serve a route, and fail-over (issue 9).

An instance refuses in telling ways: RSSHub's own error page (503; 404 for a route it does not
have), a refused or missing access key (403), a CDN bot check instead of the feed (403, 503,
even 200), a public instance's notice to feed readers (200), rate limiting (429), or it is down.
Each is served here first by a local server with a body like the real one, then by the real
RSSHub (tests/rsshub_harness.py). Each must be told per feed as what that instance did, move on
to the next instance, and never show an access key.
"""

from __future__ import annotations

import hashlib
import html
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from rsshub_harness import RealRSSHub
from rsspage.fetch import FetchOptions, fetch_feeds
from rsspage.fetch_failures import rsshub_message
from rsspage.types import FeedSpec, FetchResult, FetchStatus
from servers import RSS, Handler, LocalServer, closed_port_url, feed, respond, sequence

ONCE = FetchOptions(timeout=2.0, retries=0)
ROUTE = "/test/1"
CODE = hashlib.md5(f"{ROUTE}wrong-key".encode()).hexdigest()


# --- what instances answer, as the real ones do -------------------------------------------------


def rsshub_error_page(message: str, route: str, full_route: str) -> bytes:
    """RSSHub's error page as RSSHub 1.0 renders it: the message ~3 KB in, HTML-escaped."""
    fonts = "".join(
        f"@font-face {{ font-family: SN Pro; font-style: normal; font-display: swap; "
        f"font-weight: {w}; src: url(https://cdn.jsdelivr.net/fontsource/fonts/sn-pro@latest/"
        f"latin-{w}-normal.woff2) format(woff2); }} " for w in (400, 500, 700))
    code = '<code class="ml-2 bg-zinc-100 dark:bg-zinc-800">'
    page = (
        '<html><head><title>Welcome to RSSHub!</title><meta name="color-scheme" '
        'content="light dark"/><script src="https://cdn.tailwindcss.com"></script><style>'
        "details::-webkit-scrollbar { width: 0.25rem; } details::-webkit-scrollbar-thumb { "
        "border-radius: 0.125rem; background-color: #e4e4e7; } " + fonts * 3
        + "body { font-family: SN Pro, sans-serif; }</style></head><body class=\"antialiased "
        'min-h-screen text-zinc-700 dark:bg-zinc-900 dark:text-zinc-200 flex flex-col"><div '
        'class="w-full grow shrink-0 py-8 flex items-center justify-center flex-col space-y-4">'
        '<img class="grayscale" src="/logo.png" alt="RSSHub" width="100" loading="lazy"/>'
        '<h1 class="text-4xl font-bold">Looks like something went wrong</h1><div class="text-left'
        ' w-[800px] space-y-6 !mt-10"><div class="space-y-2"><p class="mb-2 font-bold">Helpful '
        'Information</p><p class="message">Error Message:<br/><code class="mt-2 block max-h-28 '
        'overflow-auto bg-zinc-100 dark:bg-zinc-800 align-bottom w-fit details '
        f'whitespace-pre-line">{html.escape(message)}</code></p><p class="message">Route: '
        f'{code}{route}</code></p><p class="message">Full Route: {code}{full_route}</code></p>'
        f'<p class="message">Node Version: {code}v22.23.5</code></p><p class="message">Git Hash:'
        f' {code}f99e982</code></p></div><div><p class="mb-2 font-bold">Report</p><p>After '
        'carefully reading the <a class="text-[#F5712C]" href="https://docs.rsshub.app/" '
        'target="_blank">document</a>, if you think this is a bug of RSSHub, please submit an '
        "issue on GitHub.</p></div></div></div></body></html>"
    )
    return page.encode()


RSSHUB_503 = rsshub_error_page("ConfigNotFoundError: Test config not found error",
                               "/test/:id/:params?", "/test/config-not-found-error")
RSSHUB_FETCH_ERROR = rsshub_error_page(
    'FetchError: [GET] "https://api.example.com/list?id=1&page=2": <no response> fetch failed '
    "(getaddrinfo ENOTFOUND api.example.com)\n    at async ofetch (node_modules/ofetch.mjs:1:1)",
    "/example/list", "/example/list")
RSSHUB_404 = rsshub_error_page("NotFoundError: The route does not exist or has been deleted.",
                               "/nosuch/route", "/nosuch/route")
RSSHUB_REJECT = rsshub_error_page("RejectError: Authentication failed. Access denied.\n/test/1",
                                  ROUTE, ROUTE)
CLOUDFLARE_CHALLENGE = (
    b'<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title><meta '
    b'http-equiv="Content-Type" content="text/html; charset=UTF-8"><meta http-equiv="X-UA-'
    b'Compatible" content="IE=Edge"><meta name="robots" content="noindex,nofollow"><meta '
    b'name="viewport" content="width=device-width,initial-scale=1"><style>*{box-sizing:border-box;'
    b"margin:0;padding:0}html{line-height:1.15;-webkit-text-size-adjust:100%;color:#313131;"
    b"font-family:system-ui,-apple-system,BlinkMacSystemFont,Segoe UI,Roboto,Helvetica Neue,Arial,"
    b"Noto Sans,sans-serif}</style><meta http-equiv=\"refresh\" content=\"390\"></head><body "
    b'class="no-js"><div class="main-wrapper" role="main"><div class="main-content"><noscript>'
    b'<div class="h2"><span id="challenge-error-text">Enable JavaScript and cookies to continue'
    b"</span></div></noscript></div></div><script>(function(){window._cf_chl_opt={cvId: '3',"
    b"cZone: \"rsshub.app\",cType: 'managed',cRay: '8f9a1b2c3d4e5f60',cUPMDTk: \"\\/test\\/1?"
    b"__cf_chl_tk=Zx1\"};var cpo = document.createElement('script');cpo.src = '/cdn-cgi/challenge-"
    b"platform/h/b/orchestrate/chl_page/v1?ray=8f9a1b2c3d4e5f60';window._cf_chl_opt.cOgUHash = "
    b"location.hash;document.getElementsByTagName('head')[0].appendChild(cpo);}());</script>"
    b"</body></html>"
)
CLOUDFLARE_HEADERS = {"Server": "cloudflare", "CF-RAY": "8f9a1b2c3d4e5f60-HKG",
                      "Cache-Control": "private, max-age=0, no-store, no-cache, must-revalidate"}
CLOUDFLARE_BLOCK = (
    b'<!DOCTYPE html>\n<!--[if lt IE 7]> <html class="no-js ie6 oldie" lang="en-US"> <![endif]-->'
    b'\n<head>\n<title>Attention Required! | Cloudflare</title>\n<meta charset="UTF-8" />\n</head>'
    b'\n<body>\n<div id="cf-wrapper"><h1 data-translate="block_headline">Sorry, you have been '
    b'blocked</h1><h2 class="cf-subheadline">You are unable to access rsshub.app</h2></div>\n'
    b"</body>\n</html>\n"
)
# rsshub.app's answer to some feed readers (text/plain, 200), as the issue quotes it.
READER_NOTICE = (
    b"Due to cost considerations, we will gradually restrict access to rsshub.app for some feed "
    b"readers.\n\nPlease note that rsshub.app is intended for testing purposes only and should not "
    b"be used as a production RSS source.\n\nFor stable and long-term usage, we strongly recommend "
    b"self-hosting RSSHub.\nOfficial deployment guide: https://docs.rsshub.app/deploy/\n\n"
    b"Thank you for your understanding."
)
NGINX_502 = (b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>"
             b"502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")
HTML = "text/html; charset=UTF-8"

CDN = ("answered with a CDN bot check (Cloudflare) instead of the feed: public instances block "
       "feed readers; run your own (see README)")
NOTICE = ("restricts feed readers (a public instance's notice instead of the feed): run your own "
          "or choose another (see README)")


@dataclass(frozen=True)
class Case:
    """An instance that will not serve the route, and what the user is told of it."""

    name: str
    #: None: nothing listens (connection refused).
    handler: Handler | None
    #: The words after "instance HOST".
    told: str
    #: The URL's query: a signed route carries ``code=``.
    query: str = ""


CASES = [
    Case("rsshub-503", respond(503, RSSHUB_503, content_type=HTML),
         "could not get this route: ConfigNotFoundError: Test config not found error (HTTP 503)"),
    Case("rsshub-fetch-error", respond(503, RSSHUB_FETCH_ERROR, content_type=HTML),
         'could not get this route: FetchError: [GET] "https://api.example.com/list?id=1&page=2":'
         " <no response> fetch failed (getaddrinfo ENOTFOUND api.example.com) (HTTP 503)"),
    Case("rsshub-404", respond(404, RSSHUB_404, content_type=HTML),
         "does not have this route (HTTP 404 NotFoundError): its RSSHub may be older or newer "
         "than the route"),
    Case("key-refused", respond(403, RSSHUB_REJECT, content_type=HTML),
         "refused the access key (HTTP 403)", query=f"?code={CODE}"),
    Case("key-missing", respond(403, RSSHUB_REJECT, content_type=HTML),
         "asks for an access key (HTTP 403): set key or key_env in rsshub.instances"),
    Case("cloudflare-403", respond(403, CLOUDFLARE_CHALLENGE, {
        **CLOUDFLARE_HEADERS, "cf-mitigated": "challenge"}, content_type=HTML), CDN),
    Case("cloudflare-503", respond(503, CLOUDFLARE_CHALLENGE, CLOUDFLARE_HEADERS,
                                   content_type=HTML), CDN),
    Case("cloudflare-200", respond(200, CLOUDFLARE_CHALLENGE, CLOUDFLARE_HEADERS,
                                   content_type=HTML), CDN),
    Case("cloudflare-block", respond(403, CLOUDFLARE_BLOCK, CLOUDFLARE_HEADERS,
                                     content_type=HTML), CDN),
    Case("notice-text", respond(200, READER_NOTICE, content_type="text/plain; charset=utf-8"),
         NOTICE),
    Case("notice-html", respond(200, b"<html><body><pre>" + READER_NOTICE + b"</pre></body></html>",
                                content_type=HTML), NOTICE),
    Case("rate-limited", respond(429, b"Too Many Requests", {"Retry-After": "1"},
                                 content_type="text/plain"),
         "is rate limiting (HTTP 429, retry after 1 s)"),
    Case("bad-gateway", respond(502, NGINX_502, content_type="text/html"),
         "is down: HTTP 502 Bad Gateway"),
    Case("refused", None, "is down: connection refused"),
]


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as s:
        yield s
        assert not s.errors


def instance_url(server: LocalServer, case: Case) -> str:
    """Where ``case`` answers the route, as an instance would be asked for it."""
    if case.handler is None:
        return closed_port_url(ROUTE)
    return server.route(f"/{case.name}{ROUTE}", case.handler) + case.query


def host(url: str) -> str:
    return url.split("/")[2]


def fetch_route(*urls: str, options: FetchOptions = ONCE) -> FetchResult:
    [result] = fetch_feeds([FeedSpec(ROUTE, urls, "测试", "RSSHub", "test")], {}, options)
    return result


# --- each refusal, told of its instance, and fail-over ------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_refusal_is_told_of_its_instance(server: LocalServer, case: Case) -> None:
    url = instance_url(server, case)
    result = fetch_route(url)
    assert result.status is FetchStatus.FAILED
    assert result.error == f"instance {host(url)} {case.told}"
    assert "code=" not in result.url or "code=***" in result.url  # the code is never shown
    assert CODE not in (result.error or "") + result.url


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_refusal_fails_over_to_the_next_instance(server: LocalServer, case: Case) -> None:
    good = server.route(f"/good{ROUTE}", feed())
    result = fetch_route(instance_url(server, case), good)
    assert (result.status, result.url, result.content, result.error) == (
        FetchStatus.OK, good, RSS, None)
    assert server.hits(f"/good{ROUTE}") == 1


def test_when_every_instance_refuses_each_reason_is_listed() -> None:
    with LocalServer() as a, LocalServer() as b:
        first = a.route(ROUTE, respond(403, RSSHUB_REJECT, content_type=HTML)) + f"?code={CODE}"
        second = b.route(ROUTE, respond(429, b"", {"Retry-After": "1"}))
        result = fetch_route(first, second)
    assert result.status is FetchStatus.FAILED
    assert result.error == (
        f"all 2 instances failed: instance 127.0.0.1:{a.port} refused the access key (HTTP 403); "
        f"instance 127.0.0.1:{b.port} is rate limiting (HTTP 429, retry after 1 s)")
    assert result.hints.retry_after == 1.0  # the schedule still hears the Retry-After


def test_rate_limiting_is_waited_out_when_the_budget_allows(server: LocalServer) -> None:
    url = server.route(ROUTE, sequence(respond(429, b"", {"Retry-After": "1"}), feed()))
    result = fetch_route(url, options=FetchOptions(timeout=2.0, retries=1))
    assert result.status is FetchStatus.OK and server.hits(ROUTE) == 2


def test_a_refusal_is_not_retried_at_the_same_instance_but_being_down_is(
        server: LocalServer) -> None:
    options = FetchOptions(timeout=2.0, retries=2, backoff=0.01)
    # Rate limiting is waited out too (see above), here it would only cost time.
    cases = [c for c in CASES if c.handler is not None and c.name != "rate-limited"]
    for case in cases:
        fetch_route(instance_url(server, case), options=options)
    hits = {c.name: server.hits(f"/{c.name}{ROUTE}") for c in cases}
    # RSSHub already retried upstream; a bot check or a key refused does not change in a second.
    assert hits == dict.fromkeys(hits, 1) | {"bad-gateway": 3}


def test_a_plain_feed_is_told_of_the_server(server: LocalServer) -> None:
    told = {}
    for case in CASES:
        if case.handler is not None and not case.query:
            url = instance_url(server, case)
            [result] = fetch_feeds([FeedSpec(url, (url,), "测试", "s", "c")], {}, ONCE)
            told[case.name] = result.error
    assert told == {
        "rsshub-503": "the server (RSSHub) could not get this feed: ConfigNotFoundError: Test "
                      "config not found error (HTTP 503)",
        "rsshub-fetch-error": 'the server (RSSHub) could not get this feed: FetchError: [GET] '
                              '"https://api.example.com/list?id=1&page=2": <no response> fetch '
                              "failed (getaddrinfo ENOTFOUND api.example.com) (HTTP 503)",
        "rsshub-404": "the server (RSSHub) does not have this route (HTTP 404 Not Found: "
                      "NotFoundError: The route does not exist or has been deleted.)",
        "key-missing": "HTTP 403 Forbidden",
        **dict.fromkeys(["cloudflare-403", "cloudflare-503", "cloudflare-200", "cloudflare-block"],
                        "the server answered with a CDN bot check (Cloudflare) instead of the feed"),
        **dict.fromkeys(["notice-text", "notice-html"],
                        "the server restricts feed readers (a public RSSHub's notice instead of "
                        "the feed): follow it as a route of your own instance (see README)"),
        "rate-limited": "HTTP 429 Too Many Requests (retry after 1 s)",
        "bad-gateway": "HTTP 502 Bad Gateway",
    }


def test_a_feed_that_merely_mentions_a_bot_check_is_a_feed(server: LocalServer) -> None:
    body = RSS.replace(b"<title>\xe7\xac\xac", b"<title>Just a moment... cf-chl \xe7\xac\xac")
    assert body != RSS
    result = fetch_route(server.route(ROUTE, feed(body)))
    assert (result.status, result.content) == (FetchStatus.OK, body)


def test_rsshub_messages_are_one_short_clean_line() -> None:
    assert rsshub_message(RSSHUB_REJECT.decode()) == (
        "RejectError: Authentication failed. Access denied.")  # not the path on the next line
    empty = rsshub_error_page("Error: this route is empty, please check the original site or "
                              '<a href="https://github.com/DIYgod/RSSHub/issues/new/choose">'
                              "create an issue</a>", "/test/:id", "/test/empty")
    assert rsshub_message(empty.decode()) == (
        "Error: this route is empty, please check the original site or create an issue")
    long = rsshub_message(rsshub_error_page("Error: " + "x" * 500, "/a", "/a").decode())
    assert long is not None and len(long) == 160 and long.endswith("…")
    assert rsshub_message(NGINX_502.decode()) is None


# --- through the CLI ----------------------------------------------------------------------------


def write_config(folder: Path, instances: Sequence[object]) -> Path:
    config = folder / "rsspage.yml"
    config.write_text(yaml.safe_dump({
        "rsshub": {"instances": instances, "catalog": []},
        "routes": [{"path": ROUTE, "category": "测试", "source": "RSSHub", "channel": "test"}],
        "fetch": {"timeout": 5, "retries": 0},
        "output": {"state": "state", "hexo": None, "site": "site"},
    }), encoding="utf-8")
    return config


@dataclass(frozen=True)
class Shown:
    """What one `rsspage update --all` then `rsspage status` showed of the route."""

    code: int
    #: The progress line's full error ("fetched KEY: failed: ERROR"), "" when it was fetched.
    error: str
    #: The run's failed-feeds list (clipped to its column) and `status`'s last error.
    listed: str
    status: str
    printed: bytes


def update(config: Path, env: dict[str, str] | None = None) -> Shown:
    runs = [subprocess.run([sys.executable, "-m", "rsspage.cli", *command, "-c", str(config)],
                           capture_output=True, timeout=120,
                           env={**os.environ, "PYTHONWARNINGS": "ignore", **(env or {})})
            for command in (["update", "--all"], ["status"])]
    out, err = runs[0].stdout.decode(), runs[0].stderr.decode()
    failed = re.search(rf"^fetched {re.escape(ROUTE)}: failed: (.*)$", err, re.MULTILINE)
    return Shown(runs[0].returncode, failed[1] if failed else "",
                 _cell(out.partition("failed feeds:")[2]), _cell(runs[1].stdout.decode()),
                 b"".join(r.stdout + r.stderr for r in runs))


def _cell(table: str) -> str:
    """The last cell of the route's row in a table (its error), "" when there is none."""
    row = next((line for line in table.splitlines() if line.startswith(ROUTE + " ")), "")
    cells = re.split(r" {2,}", row.strip())
    return cells[-1] if len(cells) > 2 and "instance" in cells[-1] else ""


def assert_shown(shown: Shown, error: str) -> None:
    """The run failed with ``error``: in full in its log and on the site's health page,
    clipped to their columns in the failed-feeds list and in `status`, and then whole below
    each of those tables (the end of an error says what to do)."""
    assert shown.code == 1 and shown.error == error, shown.printed.decode()[-2000:]
    for clipped in (shown.listed, shown.status):
        assert clipped and error.startswith(clipped.rstrip("…")), (clipped, error)
        if clipped.endswith("…"):
            whole = f"errors in full:\n  {ROUTE}: {error}\n".encode()
            assert whole in shown.printed, shown.printed.decode()[-2000:]


def health_page(config: Path) -> str:
    return html.unescape((config.parent / "site" / "health.html").read_text(encoding="utf-8"))


def test_the_user_sees_what_each_instance_did_then_fail_over_fetches_the_feed(
        tmp_path: Path) -> None:
    with LocalServer() as cdn, LocalServer() as hub, LocalServer() as good:
        cdn.route(ROUTE, respond(403, CLOUDFLARE_CHALLENGE, {"cf-mitigated": "challenge"},
                                 content_type=HTML))
        hub.route(ROUTE, respond(503, RSSHUB_503, content_type=HTML))
        good.route(ROUTE, feed())
        config = write_config(tmp_path, [cdn.url(""), hub.url("")])
        error = (f"all 2 instances failed: instance 127.0.0.1:{cdn.port} {CDN}; instance "
                 f"127.0.0.1:{hub.port} could not get this route: ConfigNotFoundError: Test "
                 "config not found error (HTTP 503)")
        shown = update(config)
        assert_shown(shown, error)
        assert error in health_page(config)

        write_config(tmp_path, [cdn.url(""), good.url("")])
        shown = update(config)
        assert (shown.code, shown.error, shown.listed, shown.status) == (0, "", "", "")
        assert good.hits(ROUTE) == 1


# --- against the real RSSHub --------------------------------------------------------------------


def test_real_rsshub_error_pages_reach_the_user(rsshub: RealRSSHub) -> None:
    name = host(rsshub.url)
    routes = {"/test/config-not-found-error": "could not get this route: ConfigNotFoundError: "
                                              "Test config not found error (HTTP 503)",
              "/test/error": "could not get this route: Error: Error test (HTTP 503)",
              "/test/captcha-error": "could not get this route: CaptchaError: Test captcha error "
                                     "(HTTP 503)",
              "/nosuch/route": "does not have this route (HTTP 404 NotFoundError): its RSSHub "
                               "may be older or newer than the route"}
    specs = [FeedSpec(r, (rsshub.url + r,), "c", "s", "ch") for r in routes]
    results = fetch_feeds(specs, {}, FetchOptions(timeout=5.0, retries=1))
    assert {r.key: r.error for r in results} == {
        r: f"instance {name} {told}" for r, told in routes.items()}


def test_real_rsshub_error_page_through_the_cli(tmp_path: Path, rsshub: RealRSSHub) -> None:
    config = write_config(tmp_path, [rsshub.url])
    text = config.read_text(encoding="utf-8").replace(ROUTE, "/test/config-not-found-error")
    config.write_text(text, encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "rsspage.cli", "update", "-c", str(config)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 1
    assert (f"fetched /test/config-not-found-error: failed: instance {host(rsshub.url)} could not"
            " get this route: ConfigNotFoundError: Test config not found error (HTTP 503)"
            ) in run.stderr


WRONG_KEY = "wrong-key-7d0e"


def secrets(*keys: str) -> list[bytes]:
    """Each key, and the code it signs the route with."""
    return [s.encode() for k in keys for s in (k, hashlib.md5((ROUTE + k).encode()).hexdigest())]


def written(folder: Path) -> bytes:
    """Every byte of the state folder (the SQLite database and its journal) and the site."""
    return b"".join(p.read_bytes() for sub in ("state", "site") for p in (folder / sub).rglob("*")
                    if p.is_file())


def test_real_keyed_rsshub_refuses_a_wrong_key_and_serves_the_right_one(
        tmp_path: Path, rsshub_keyed: RealRSSHub) -> None:
    assert rsshub_keyed.key is not None
    name, env = host(rsshub_keyed.url), {"RSSHUB_KEY": rsshub_keyed.key}
    config = write_config(tmp_path, [{"url": rsshub_keyed.url, "key": WRONG_KEY}])
    wrong = update(config)
    assert_shown(wrong, f"instance {name} refused the access key (HTTP 403)")

    write_config(tmp_path, [rsshub_keyed.url])
    missing = update(config)
    assert_shown(missing, f"instance {name} asks for an access key (HTTP 403): set key or "
                          "key_env in rsshub.instances")

    write_config(tmp_path, [{"url": rsshub_keyed.url, "key_env": "RSSHUB_KEY"}])
    right = update(config, env)
    assert right.code == 0 and re.search(rf"^{re.escape(ROUTE)} .* ok .* 5 ", right.printed.decode(),
                                         re.MULTILINE), right.printed.decode()[-2000:]
    stored = written(tmp_path)
    for secret in secrets(WRONG_KEY, rsshub_keyed.key):
        for shown in (wrong, missing, right):
            assert secret not in shown.printed, secret
        assert secret not in stored, secret


def test_real_rsshub_fail_over(tmp_path: Path, rsshub: RealRSSHub,
                              rsshub_keyed: RealRSSHub) -> None:
    signed = rsshub_keyed.url + f"{ROUTE}?code={CODE}"  # signed with the wrong key
    dead = closed_port_url(ROUTE)
    for first in (signed, dead):
        result = fetch_route(first, rsshub.url + ROUTE, options=FetchOptions(timeout=5.0))
        assert (result.status, result.url) == (FetchStatus.OK, rsshub.url + ROUTE)
        assert result.content is not None and result.content.count(b"<item>") == 5

    for instances in ([{"url": rsshub_keyed.url, "key": WRONG_KEY}, rsshub.url],
                      [dead.removesuffix(ROUTE), rsshub.url]):
        shown = update(write_config(tmp_path, instances))
        assert (shown.code, shown.error, shown.listed, shown.status) == (0, "", "", ""), (
            shown.printed.decode()[-2000:])
        for secret in secrets(WRONG_KEY):
            assert secret not in shown.printed and secret not in written(tmp_path)
