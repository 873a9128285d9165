"""Tests of the fetch stage against real local servers that misbehave on purpose."""

from __future__ import annotations

import codecs
import time
import tracemalloc
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path

import pytest

from rsspage import __version__
from rsspage.fetch import FetchOptions, fetch_feeds
from rsspage.types import FeedSpec, FeedState, FetchResult, FetchStatus
from servers import (
    HTML_ERROR_PAGE,
    RSS,
    LocalServer,
    closed_port_url,
    conditional,
    drip,
    encoded,
    feed,
    gzip_bomb,
    hang,
    huge,
    redirect,
    reset_mid_body,
    respond,
    self_signed_cert,
    sequence,
    slow,
    too_many_requests,
    wrong_length,
)

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"
FAST = FetchOptions(timeout=1.0, retries=2, backoff=0.05)


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as s:
        yield s


def spec(*urls: str, key: str = "/test/feed") -> FeedSpec:
    return FeedSpec(key, tuple(urls), "新媒体", "测试源", "最新新闻")


def fetch_one(url: str | FeedSpec, options: FetchOptions = FAST,
              state: FeedState | None = None) -> FetchResult:
    feed_spec = url if isinstance(url, FeedSpec) else spec(url)
    states = {feed_spec.key: state} if state else {}
    [result] = fetch_feeds([feed_spec], states, options)
    return result


def timed(url: str, options: FetchOptions = FAST) -> tuple[FetchResult, float]:
    started = time.monotonic()
    result = fetch_one(url, options)
    return result, time.monotonic() - started


# --- success and conditional GET ---------------------------------------------------------------


def test_200_returns_body_headers_and_validators(server: LocalServer) -> None:
    url = server.route("/feed", conditional(RSS, etag='"abc"', last_modified="Wed, 21 Oct 2015"))
    result = fetch_one(url)
    assert result.status is FetchStatus.OK
    assert (result.content, result.http_status, result.url) == (RSS, 200, url)
    assert (result.etag, result.last_modified) == ('"abc"', "Wed, 21 Oct 2015")
    assert result.headers["content-type"] == "application/rss+xml"
    assert result.error is None
    sent = server.requests("/feed")[0].headers
    assert sent["user-agent"].startswith(f"rsspage/{__version__} ")
    assert "gzip" in sent["accept-encoding"]
    assert "if-none-match" not in sent


def test_304_is_not_modified_and_the_server_saw_the_validators(server: LocalServer) -> None:
    url = server.route("/feed", conditional(RSS, etag='"v1"', last_modified="Mon, 01 Jan 2024"))
    state = FeedState(etag='"v1"', last_modified="Mon, 01 Jan 2024")
    result = fetch_one(url, state=state)
    assert result.status is FetchStatus.NOT_MODIFIED
    assert (result.content, result.http_status) == (b"", 304)
    sent = server.requests("/feed")[0].headers
    assert sent["if-none-match"] == '"v1"'
    assert sent["if-modified-since"] == "Mon, 01 Jan 2024"


def test_304_without_validators_keeps_the_old_ones(server: LocalServer) -> None:
    url = server.route("/feed", respond(304))
    result = fetch_one(url, state=FeedState(etag='"old"', last_modified="Tue, 02 Jan 2024"))
    assert result.status is FetchStatus.NOT_MODIFIED
    assert (result.etag, result.last_modified) == ('"old"', "Tue, 02 Jan 2024")


def test_304_with_new_validators_replaces_them(server: LocalServer) -> None:
    url = server.route("/feed", respond(304, headers={"ETag": '"new"'}))
    result = fetch_one(url, state=FeedState(etag='"old"'))
    assert result.etag == '"new"'


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "raw-deflate"])
def test_compressed_bodies_are_decoded(server: LocalServer, encoding: str) -> None:
    result = fetch_one(server.route("/feed", encoded(RSS, encoding)))
    assert result.status is FetchStatus.OK
    assert result.content == RSS
    assert "content-encoding" not in result.headers  # the content is handed on decoded


def test_real_feeds_pass_the_sniff(server: LocalServer) -> None:
    """Feeds that open with a comment, JSON Feed, and a UTF-16 feed with its BOM."""
    rss = (FIXTURES / "feedparser" / "wellformed" / "rss" / "channel_author.xml").read_bytes()
    json_feed = (FIXTURES / "feedparser" / "json" / "example.json").read_bytes()
    utf16 = codecs.BOM_UTF16_LE + "\n <rss><channel><title>中文</title></channel></rss>".encode(
        "utf-16-le")
    bodies = {"/rss": rss, "/json": json_feed, "/utf16": utf16}
    specs = [spec(server.route(p, feed(b)), key=p) for p, b in bodies.items()]
    results = fetch_feeds(specs, {}, FAST)
    assert [r.status for r in results] == [FetchStatus.OK] * 3
    assert [r.content for r in results] == list(bodies.values())


WIDE_RSS = '\n<rss version="2.0"><channel><title>中文 Кириллица</title></channel></rss>'
XHTML_DOCTYPE = ('<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" '
                 '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">')


@pytest.mark.parametrize(
    ("body", "content_type"),
    [  # issue 11: refused as "not a feed" before
        (WIDE_RSS.encode("utf-16-le"), "application/rss+xml"),
        (WIDE_RSS.encode("utf-16-be"), "application/rss+xml; charset=utf-16be"),
        (codecs.BOM_UTF32_LE + WIDE_RSS.encode("utf-32-le"), "application/rss+xml"),
        (codecs.BOM_UTF32_BE + WIDE_RSS.encode("utf-32-be"), "text/xml"),
        (WIDE_RSS.encode("utf-32-le"), "application/xml"),
        (WIDE_RSS.encode("utf-32-be"), "application/xml"),
        (codecs.BOM_UTF16_LE + ('<?xml version="1.0" encoding="UTF-16"?>' + XHTML_DOCTYPE
                                + WIDE_RSS).encode("utf-16-le"), "text/html"),
        ((XHTML_DOCTYPE + WIDE_RSS).encode(), "text/html; charset=utf-8"),
        (("<!-- generator -->" + XHTML_DOCTYPE + "<feed xmlns='http://www.w3.org/2005/Atom'/>")
         .encode(), "application/atom+xml"),
    ],
)
def test_wide_encodings_and_xhtml_doctypes_pass_the_sniff(server: LocalServer, body: bytes,
                                                          content_type: str) -> None:
    url = server.route("/feed", respond(200, body, content_type=content_type))
    result = fetch_one(url)
    assert result.status is FetchStatus.OK, result.error
    assert result.content == body


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (HTML_ERROR_PAGE, "text/html", "HTML page (text/html)"),
        ((XHTML_DOCTYPE + "<html><body>502</body></html>").encode("utf-16-le"), "text/html",
         "HTML page (text/html)"),
        (codecs.BOM_UTF32_LE + "<!doctype html><title>Just a moment...</title>".encode(
            "utf-32-le"), "text/html", "HTML page"),
        (b'<?xml version="1.0"?>\n<!-- x --><html><body/></html>', "application/xml", "HTML"),
        (b"Welcome to RSSHub!", "text/plain", "starts with 'Welcome"),
        (b"  \n", "application/rss+xml", "empty"),
    ],
)
def test_answers_that_are_not_feeds_fail(server: LocalServer, body: bytes, content_type: str,
                                         message: str) -> None:
    url = server.route("/feed", respond(200, body, content_type=content_type))
    result = fetch_one(url)
    assert result.status is FetchStatus.FAILED
    assert result.error is not None and "not a feed" in result.error and message in result.error
    assert server.hits("/feed") == 1  # a wrong answer is not retried


# --- HTTP errors and retries -------------------------------------------------------------------


def test_500_is_retried_then_fails(server: LocalServer) -> None:
    result = fetch_one(server.route("/feed", respond(500)))
    assert result.status is FetchStatus.FAILED
    assert result.error == f"instance 127.0.0.1:{server.port} failed: HTTP 500 Internal Server Error"
    assert result.http_status == 500
    assert server.hits("/feed") == FAST.retries + 1


def test_503_then_200_succeeds(server: LocalServer) -> None:
    result = fetch_one(server.route("/feed", sequence(respond(503), feed())))
    assert result.status is FetchStatus.OK
    assert server.hits("/feed") == 2


def test_429_retry_after_seconds_is_honoured(server: LocalServer) -> None:
    url = server.route("/feed", sequence(too_many_requests("1"), feed()))
    result, elapsed = timed(url, FetchOptions(timeout=2.0, backoff=0.01))
    assert result.status is FetchStatus.OK
    assert 0.9 <= elapsed < 1.8
    assert server.hits("/feed") == 2


def test_retry_after_http_date_in_the_past_retries_at_once(server: LocalServer) -> None:
    past = formatdate(time.time() - 3600, usegmt=True)
    url = server.route("/feed", sequence(too_many_requests(past), feed()))
    result, elapsed = timed(url)
    assert result.status is FetchStatus.OK
    assert elapsed < 0.5


def test_retry_after_beyond_the_budget_fails_without_waiting(server: LocalServer) -> None:
    url = server.route("/feed", sequence(too_many_requests("120"), feed()))
    result, elapsed = timed(url)
    assert result.status is FetchStatus.FAILED
    assert result.error == (
        f"instance 127.0.0.1:{server.port} is rate limiting (HTTP 429, retry after 120 s)")
    assert elapsed < 0.5
    assert server.hits("/feed") == 1


def test_404_is_not_retried(server: LocalServer) -> None:
    result = fetch_one(server.route("/feed", respond(404, b"nope")))
    assert (result.status, result.error) == (
        FetchStatus.FAILED,
        f"instance 127.0.0.1:{server.port} does not have this route (HTTP 404 Not Found)")
    assert server.hits("/feed") == 1


def test_410_is_gone(server: LocalServer) -> None:
    result = fetch_one(server.route("/feed", respond(410)))
    assert (result.status, result.error, result.http_status) == (
        FetchStatus.GONE, f"instance 127.0.0.1:{server.port} says this route is gone (HTTP 410 Gone)",
        410)
    assert server.hits("/feed") == 1


# --- network misbehaviour ----------------------------------------------------------------------


def test_connection_refused() -> None:
    result = fetch_one(closed_port_url())
    assert (result.status, result.http_status) == (FetchStatus.FAILED, 0)
    assert result.error is not None and result.error.endswith(" is down: connection refused")


def test_hang_times_out_within_the_budget(server: LocalServer) -> None:
    options = FetchOptions(timeout=0.5, retries=2, backoff=0.05)
    result, elapsed = timed(server.route("/feed", hang()), options)
    assert result.status is FetchStatus.FAILED
    assert result.error is not None
    assert result.error.startswith(f"instance 127.0.0.1:{server.port} is too slow or down: timed out")
    assert elapsed < 0.5 * 3 + 0.5
    assert server.hits("/feed") == 3


def test_drip_cannot_stretch_the_timeout(server: LocalServer) -> None:
    options = FetchOptions(timeout=0.5, retries=0)
    result, elapsed = timed(server.route("/feed", drip(RSS, interval=0.1)), options)
    assert (result.status, result.error) == (
        FetchStatus.FAILED,
        f"instance 127.0.0.1:{server.port} is too slow or down: timed out after 0.5 s")
    assert elapsed < 1.0


def test_reset_mid_body(server: LocalServer) -> None:
    result = fetch_one(server.route("/feed", reset_mid_body()))
    assert result.status is FetchStatus.FAILED
    assert result.error is not None and "connection" in result.error
    assert server.hits("/feed") == FAST.retries + 1  # a network failure is worth retrying


def test_short_body_for_its_content_length_is_an_error_not_a_hang(server: LocalServer) -> None:
    result, elapsed = timed(server.route("/feed", wrong_length(RSS, extra=1000)))
    assert result.status is FetchStatus.FAILED
    expected = (f"instance 127.0.0.1:{server.port}: connection closed before the whole body arrived "
                f"({len(RSS)} of {len(RSS) + 1000}")
    assert result.error is not None and result.error.startswith(expected)
    assert elapsed < 0.5


def test_self_signed_tls_certificate_is_refused(tmp_path: Path) -> None:
    cert = self_signed_cert(tmp_path)
    if cert is None:
        pytest.skip("neither the cryptography package nor openssl is available")
    with LocalServer(tls=cert) as tls_server:
        result = fetch_one(tls_server.route("/feed", feed()))
    assert result.status is FetchStatus.FAILED
    assert result.error is not None and "certificate verify failed" in result.error


# --- redirects ---------------------------------------------------------------------------------


def test_redirects_are_followed_and_the_final_url_reported(server: LocalServer) -> None:
    server.route("/old", redirect("/middle", 301))
    server.route("/middle", redirect(server.url("/feed"), 307))
    final = server.route("/feed", feed())
    result = fetch_one(server.url("/old"))
    assert (result.status, result.url) == (FetchStatus.OK, final)


def test_redirect_loop_is_too_many_redirects(server: LocalServer) -> None:
    server.route("/a", redirect("/b"))
    server.route("/b", redirect("/a"))
    result = fetch_one(server.url("/a"))
    assert (result.status, result.error) == (
        FetchStatus.FAILED, f"instance 127.0.0.1:{server.port}: too many redirects")
    assert server.hits("/a") + server.hits("/b") == FAST.max_redirects + 1  # and not retried


def test_redirect_to_another_scheme_is_refused(server: LocalServer) -> None:
    result = fetch_one(server.route("/feed", redirect("ftp://127.0.0.1/feed.xml")))
    assert (result.status, result.error) == (
        FetchStatus.FAILED, f"instance 127.0.0.1:{server.port}: redirect to unsupported scheme ftp:")


def test_a_redirect_to_another_origin_takes_none_of_the_configured_headers() -> None:
    """An API key under any name (not only Cookie and Authorization) is for the feed's own
    origin: not sent on to another port of the host, nor to another host name of the same
    machine (localhost for 127.0.0.1); ours (User-Agent, Accept …) still are."""
    configured = (("X-Api-Key", "s3cret"), ("Cookie", "session=1"), ("Authorization", "Bearer t"))
    with LocalServer() as first, LocalServer() as second:
        final = first.route("/final", feed())
        second.route("/final", feed())
        first.route("/same", redirect(final))
        first.route("/port", redirect(second.url("/final")))
        first.route("/name", redirect(final.replace("127.0.0.1", "localhost")))
        for path in ("/same", "/port", "/name"):
            feed_spec = FeedSpec(path, (first.url(path),), "c", "s", "ch", user_agent="MyAgent/1",
                                 headers=configured)
            assert fetch_one(feed_spec).status is FetchStatus.OK, path
        [same, name] = first.requests("/final")
        [port] = second.requests("/final")
    assert all(same.headers.get(k.lower()) == v for k, v in configured)
    for moved in (port, name):
        assert not {k.lower() for k, _ in configured} & set(moved.headers), moved.headers
        assert moved.headers["user-agent"] == "MyAgent/1" and moved.headers["accept"]


# --- size caps ---------------------------------------------------------------------------------


def test_gzip_bomb_stops_at_the_cap_quickly_and_in_bounded_memory(server: LocalServer) -> None:
    url = server.route("/feed", gzip_bomb(1 << 30))  # 1 GB of zeros, ~1 MB on the wire
    options = FetchOptions(timeout=5.0, max_bytes=2 * 1024 * 1024)
    tracemalloc.start()
    try:
        result, elapsed = timed(url, options)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (result.status, result.error) == (
        FetchStatus.FAILED, f"instance 127.0.0.1:{server.port}: response larger than 2 MB")
    assert elapsed < 2.0
    assert peak < 16 * 1024 * 1024  # a few times the cap, never the bomb's size
    assert server.hits("/feed") == 1


@pytest.mark.parametrize("declare_length", [False, True])
def test_huge_body_stops_at_the_cap(server: LocalServer, declare_length: bool) -> None:
    url = server.route("/feed", huge(1 << 30, declare_length=declare_length))
    result, elapsed = timed(url, FetchOptions(timeout=5.0, max_bytes=1024 * 1024))
    assert (result.status, result.error) == (
        FetchStatus.FAILED, f"instance 127.0.0.1:{server.port}: response larger than 1 MB")
    assert elapsed < 2.0


# --- RSSHub instance fail-over -----------------------------------------------------------------


@pytest.mark.parametrize("first", ["503", "html", "refused"])
def test_fail_over_to_the_next_instance(server: LocalServer, first: str) -> None:
    if first == "refused":
        bad = closed_port_url()
    else:
        html = respond(200, HTML_ERROR_PAGE, content_type="text/html")
        bad = server.route("/one/feed", respond(503) if first == "503" else html)
    good = server.route("/two/feed", feed())
    result = fetch_one(spec(bad, good))
    assert (result.status, result.url, result.content) == (FetchStatus.OK, good, RSS)
    assert server.hits("/two/feed") == 1


def test_total_failure_names_every_instance(server: LocalServer) -> None:
    refused = closed_port_url()
    result = fetch_one(spec(refused, server.route("/feed", respond(404))))
    assert result.status is FetchStatus.FAILED
    assert result.error is not None
    assert result.error.startswith("all 2 instances failed: ")
    assert f"instance {refused.split('/')[2]} is down: connection refused; " in result.error
    assert result.error.endswith(
        f"instance 127.0.0.1:{server.port} does not have this route (HTTP 404 Not Found)")
    assert result.url == server.url("/feed")


def test_gone_only_when_every_instance_says_gone(server: LocalServer) -> None:
    gone = server.route("/gone", respond(410))
    assert fetch_one(spec(gone, gone)).status is FetchStatus.GONE
    assert fetch_one(spec(gone, server.route("/err", respond(500)))).status is FetchStatus.FAILED


# --- many feeds at once ------------------------------------------------------------------------


def test_per_host_limit_is_respected(server: LocalServer) -> None:
    server.route("/feed", slow(0.15, feed()))
    specs = [spec(server.url(f"/feed?n={i}"), key=str(i)) for i in range(12)]
    results = fetch_feeds(specs, {}, FetchOptions(concurrency=16, per_host=3))
    assert all(r.status is FetchStatus.OK for r in results)
    assert server.max_concurrent("/feed") == 3


def test_global_concurrency_limit_is_respected(server: LocalServer) -> None:
    server.route("/feed", slow(0.15, feed()))
    specs = [spec(server.url(f"/feed?n={i}"), key=str(i)) for i in range(12)]
    results = fetch_feeds(specs, {}, FetchOptions(concurrency=2, per_host=10))
    assert all(r.status is FetchStatus.OK for r in results)
    assert server.max_concurrent() == 2


def test_results_in_spec_order_and_one_bad_feed_spares_the_others(server: LocalServer) -> None:
    good = server.route("/good", feed())
    specs = [spec(good, key="a"), spec(server.route("/bad", respond(500)), key="b"),
             spec(good, key="c")]
    seen: list[str] = []
    results = fetch_feeds(specs, {}, FAST, on_result=lambda r: seen.append(r.key))
    assert [r.key for r in results] == ["a", "b", "c"]
    assert [r.status for r in results] == [FetchStatus.OK, FetchStatus.FAILED, FetchStatus.OK]
    assert sorted(seen) == ["a", "b", "c"]
    assert seen[-1] == "b"  # reported as it completed, after its retries


def test_a_bug_becomes_a_failed_result_naming_the_exception(server: LocalServer) -> None:
    broken = FeedSpec("broken", (42,), "c", "s", "ch")  # type: ignore[arg-type]
    good = spec(server.route("/feed", feed()), key="good")
    results = fetch_feeds([broken, good], {}, FAST)
    assert results[0].status is FetchStatus.FAILED
    assert results[0].error is not None and "unexpected" in results[0].error
    assert results[1].status is FetchStatus.OK


def test_bad_urls_fail_readably() -> None:
    results = fetch_feeds([spec("notaurl", key="a"), spec("ftp://example.com/f", key="b"),
                           FeedSpec("c", (), "c", "s", "ch")], {}, FAST)
    assert all(r.status is FetchStatus.FAILED for r in results)
    assert [r.error.split(":")[0] for r in results if r.error] == [
        "unsupported URL", "unsupported URL", "no URL to fetch"]


def test_an_error_in_on_result_propagates(server: LocalServer) -> None:
    def explode(result: FetchResult) -> None:
        raise RuntimeError(f"progress bar broke on {result.key}")

    specs = [spec(server.route("/feed", feed()), key="a"), spec(server.url("/hang"), key="b")]
    server.route("/hang", hang())
    with pytest.raises(RuntimeError, match="progress bar broke on a"):
        fetch_feeds(specs, {}, FetchOptions(timeout=5.0), on_result=explode)


def test_no_feeds_no_results() -> None:
    assert fetch_feeds([], {}, FAST) == []


def test_200_feeds_with_20_percent_misbehaving_finish_within_the_budget() -> None:
    options = FetchOptions(concurrency=64, per_host=64, timeout=1.0, retries=1, backoff=0.05)
    with LocalServer() as server:
        good = server.route("/good", feed())
        bad = [server.route("/hang", hang()), server.route("/500", respond(500)),
               closed_port_url(), server.route("/drip", drip(RSS, interval=0.3)),
               server.route("/404", respond(404)), server.route("/html", respond(
                   200, HTML_ERROR_PAGE, content_type="text/html"))]
        specs = [spec(f"{bad[i % len(bad)] if i % 5 == 0 else good}?n={i}", key=str(i))
                 for i in range(200)]
        started = time.monotonic()
        results = fetch_feeds(specs, {}, options)
        elapsed = time.monotonic() - started
    statuses = [r.status for r in results]
    assert statuses.count(FetchStatus.OK) == 160
    assert statuses.count(FetchStatus.FAILED) == 40
    assert elapsed < options.timeout * (options.retries + 1) + 2.0


def test_high_concurrency_costs_no_time_per_request() -> None:
    """500 healthy feeds at concurrency 128 on one host: all fetched, well within the budget.

    With one shared httpx pool of 128 connections, httpcore scanned the whole pool on every
    request and release: this took ~13 s and half of the feeds timed out.
    """
    options = FetchOptions(concurrency=128, per_host=128, timeout=2.0, retries=1, backoff=0.05)
    with LocalServer() as server:
        good = server.route("/good", feed())
        specs = [spec(f"{good}?n={i}", key=str(i)) for i in range(500)]
        started = time.monotonic()
        results = fetch_feeds(specs, {}, options)
        elapsed = time.monotonic() - started
    assert [r.error for r in results if r.error] == []
    assert elapsed < options.timeout * (options.retries + 1) + 2.0  # ~1.5 s on 2 idle cores


def test_a_slot_keeps_its_connection_alive_but_not_after_a_timeout(server: LocalServer) -> None:
    options = FetchOptions(concurrency=1, timeout=0.5, retries=0)
    good, stuck = server.route("/feed", feed()), server.route("/hang", hang())
    specs = [spec(f"{good}?n=1", key="1"), spec(stuck, key="hang"),
             spec(f"{good}?n=2", key="2"), spec(f"{good}?n=3", key="3")]
    statuses = [r.status for r in fetch_feeds(specs, {}, options)]
    assert statuses == [FetchStatus.OK, FetchStatus.FAILED, FetchStatus.OK, FetchStatus.OK]
    first, second, third = (r.peer for r in server.requests("/feed"))
    assert server.requests("/hang")[0].peer == first  # the warm connection was reused...
    assert second != first and third == second  # ...but dropped once it timed out
